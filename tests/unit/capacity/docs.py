"""Capacity documents built the way the search builds them, from steps as measured."""

from __future__ import annotations

from fractions import Fraction

from sla_runner.capacity.document import (
    CapacityDocument,
    SearchSettings,
    SearchStop,
    Step,
    StepThreshold,
)
from sla_runner.capacity.outcome import PromisedLevel, capacity_document
from sla_runner.capacity.search import (
    Ladder,
    Resolution,
    SearchResult,
    StepOutcome,
    StepResult,
    search,
)
from sla_runner.verdict import RunFacts, SpecIdentity

LADDER = Ladder(10, 160, factor=Fraction(2))
SETTINGS = SearchSettings(
    scenario="default",
    model="closed",
    unit="users",
    from_level=10,
    to_level=160,
    step="x2",
    resolution="5%",
    step_duration_s=3.0,
    warmup_s=1.0,
)
SPEC = SpecIdentity(name="shop", sla_version="1.2.0", path="shop.yaml", sha256="ab" * 32)
RUN = RunFacts(
    started_at="2026-01-01T00:00:00.000Z",
    finished_at="2026-01-01T00:00:30.000Z",
    duration_s=30.0,
    runner_version="0.1.0",
    host="ci",
    base_url="http://127.0.0.1:8000",
    segment="1/1",
)


def step(level: int, outcome: StepOutcome, p95: float = 50.0) -> Step:
    """A step with the figures of a service whose p95 is ``p95`` at that level."""
    broke = outcome == "broke"
    observed = 250.0 if broke else p95
    return Step(
        level=level,
        phase="ramp",
        outcome=outcome,
        window_s=2.0,
        p50_ms=p95 * 0.8,
        p95_ms=observed,
        p99_ms=observed * 1.1,
        success_rate_pct=100.0,
        throughput_per_s=level * 10.0,
        thresholds=[
            StepThreshold(
                expr="p95(http) < 200ms",
                severity="fail",
                status="fail" if broke else "pass",
                observed=observed,
                limit=200.0,
                unit="ms",
                margin_pct=round(100 * (200 - observed) / 200, 3),
                message=f"p95(http) = {observed:g} ms, limit < 200 ms",
            ),
            StepThreshold(
                expr="success_rate(http) > 99%",
                severity="fail",
                status="pass",
                observed=100.0,
                limit=99.0,
                unit="%",
                margin_pct=1.01,
                message="success_rate(http) = 100%, limit > 99%",
            ),
        ],
        reasons=["the generator's event loop lagged"] if outcome == "invalid" else [],
    )


def searched(
    outcome_at: dict[int, StepOutcome] | None = None,
    *,
    capacity: int = 100,
    promised: PromisedLevel | None = None,
) -> CapacityDocument:
    """The document of a search of a service that holds up to ``capacity`` (levels in
    ``outcome_at`` go as it says)."""
    table = outcome_at or {}

    def measure(level: int) -> StepResult[Step]:
        outcome = table.get(level, "held" if level <= capacity else "broke")
        return StepResult(level, outcome, step(level, outcome))

    result: SearchResult[Step] = search(
        measure, LADDER, Resolution(Fraction(5)), promised.level if promised else None
    )
    return capacity_document(
        result,
        [s.detail for s in result.steps],
        stop=result.stop,
        settings=SETTINGS,
        ladder=LADDER,
        spec=SPEC,
        run=RUN,
        promised=promised,
        not_judged=["users >= 20: judges the load's size, which the search sets"],
    )


def ended(stop: SearchStop, steps: list[Step], error: str | None = None) -> CapacityDocument:
    """The document of a search that ended by an exception (aborted, error)."""
    return capacity_document(
        None, steps, stop=stop, settings=SETTINGS, ladder=LADDER, spec=SPEC, run=RUN, error=error
    )
