"""A capacity search carried out: plan → steps measured through the run path → document."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from sla_runner import api
from sla_runner.capacity.document import CapacityDocument, SearchStop, Step
from sla_runner.capacity.measure import Interrupted, Measurer
from sla_runner.capacity.outcome import capacity_document
from sla_runner.capacity.search import SearchResult, search
from sla_runner.capacity.settings import CapacityPlan
from sla_runner.capacity.stepspec import judged_rules
from sla_runner.errors import RunError
from sla_runner.judge.verdicts import spec_identity
from sla_runner.plan import Segment
from sla_runner.redact import redact, redact_url
from sla_runner.verdict import RunFacts

__all__ = ["run_capacity"]


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def run_capacity(
    loaded: api.LoadedSpec,
    plan: CapacityPlan,
    *,
    engine: str | None = None,
    overrides: dict[str, str] | None = None,
    on_start: Callable[[int], None] | None = None,
    on_step: Callable[[Step], None] | None = None,
) -> CapacityDocument:
    """Search for the capacity of ``plan``'s scenario (see :mod:`sla_runner.capacity`).
    A first step that cannot be carried out gives an ``error`` document; an interrupted
    step an ``aborted`` one; both keep the steps measured before."""
    scenario = plan.settings.scenario
    measurer = Measurer(loaded, scenario, plan.timing, engine, overrides, on_start, on_step)
    info = api.run_info(loaded, Segment(), overrides, engine)
    started = time.time()
    result: SearchResult[Step] | None = None
    error: str | None = None
    try:
        result = search(
            measurer,
            plan.ladder,
            plan.resolution,
            decide=plan.promised.level if plan.promised else None,
        )
        stop: SearchStop = result.stop
    except Interrupted:
        stop = "aborted"
    except RunError as exc:
        stop, error = (
            "error",
            redact(f"the first step could not be carried out: {exc}", loaded.secrets),
        )
    finished = time.time()
    secrets = loaded.secrets
    run = RunFacts(
        started_at=_iso(started),
        finished_at=_iso(finished),
        duration_s=round(finished - started, 3),
        runner_version=info.runner_version,
        host=redact(info.host, secrets),
        base_url=redact(redact_url(info.base_url), secrets),
        segment=info.segment,
        engine=info.engine,
        warnings=[redact(w, secrets) for w in info.warnings],
        overrides={key: redact(value, secrets) for key, value in info.overrides},
    )
    _, not_judged = judged_rules(loaded.spec, scenario, plan.timing.judged)
    return capacity_document(
        result,
        measurer.steps,
        stop=stop,
        settings=plan.settings,
        ladder=plan.ladder,
        spec=spec_identity(loaded.spec, info),
        run=run,
        promised=plan.promised,
        not_judged=not_judged,
        error=error,
    )
