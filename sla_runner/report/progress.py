"""The live view of a run: a refreshing line on a terminal, periodic plain lines in CI logs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TextIO

from sla_runner import numbers
from sla_runner.engine.transports import resolve_engine
from sla_runner.metrics.recorder import LiveStats
from sla_runner.plan import Plan
from sla_runner.redact import redact, redact_url
from sla_runner.spec.format2 import Spec
from sla_runner.timeunits import NS_PER_S

PLAIN_EVERY_S = 5  # CI logs get a line every 5 seconds


def start_line(
    spec: Spec, plan: Plan, engine: str | None = None, secrets: frozenset[str] = frozenset()
) -> str:
    """What is about to run, before any load: ``running checkout-api 2.3.0 against
    http://127.0.0.1:8000: 1m30s planned, peak 100 users, segment 1/1, engine raw``; with
    closed and open scenarios, ``peak 20 users and peak 50/s``."""
    users = f"peak {numbers.count(plan.peak_users())} users"
    rate = f"peak {numbers.number(float(plan.peak_rate()))}/s"
    peak = {"closed": users, "open": rate}.get(plan.model, f"{users} and {rate}")
    target = redact_url(spec.target.base_url)
    line = (
        f"running {spec.name} {spec.sla_version} against {target}: "
        f"{_duration(plan.duration_ns)} planned, {peak}, segment {plan.segment}, "
        f"engine {resolve_engine(spec.target, engine)}"
    )
    return redact(line, secrets)


def scenario_models(plan: Plan) -> dict[str, str]:
    """Each scenario of ``plan`` → its model, ``closed`` or ``open``."""
    return {timeline.name: timeline.model for timeline in plan.scenarios}


def _duration(ns: int) -> str:
    """``90_000_000_000`` → ``1m30s``; ``2_500_000_000`` → ``2.5s``; an hour → ``1h``."""
    minutes, seconds = divmod(ns / NS_PER_S, 60)
    hours, minutes = divmod(int(minutes), 60)
    whole = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "")
    return whole + (f"{seconds:g}s" if seconds or not whole else "")


def held(model: str) -> str:
    """What a scenario holds, in a live line or a summary: ``users`` (closed model: users
    waiting on their own requests) or ``in flight`` (open model: requests started by
    arrivals and not yet answered)."""
    return "in flight" if model == "open" else "users"


def format_live(
    stats: LiveStats, duration_s: float, models: Mapping[str, str] | None = None
) -> str:
    """``[  5.0s  28%] steady  users 19  http 148/s p95 8.4 ms  ws 108/s  errors 3 of 4,169``;
    a run of several scenarios adds each one's: ``| visitors browse users 4 http 50/s``.
    ``models``: each scenario's model (closed when not given): an open one holds requests
    in flight, not users; a run of both gives no total of the two."""
    models = models or {}
    kinds = set(models.values()) or {"closed"}
    pct = min(stats.elapsed_s / duration_s * 100, 100) if duration_s else 100
    parts = [f"[{stats.elapsed_s:6.1f}s {pct:3.0f}%] {stats.stage}"]
    if len(kinds) == 1:
        parts.append(f"{held(kinds.pop())} {stats.users:,}")
    if stats.http_rps or stats.p95_ms is not None:
        p95 = f"{stats.p95_ms:.1f} ms" if stats.p95_ms is not None else "-"
        parts.append(f"http {stats.http_rps:,.0f}/s p95 {p95}")
    if stats.ws_rps:
        parts.append(f"ws {stats.ws_rps:,.0f}/s")
    parts.append(f"errors {stats.errors:,} of {stats.done:,}")
    for scenario in stats.scenarios:  # a run of several: each one's stage, users and pace
        parts.append(
            f"| {scenario.name} {scenario.stage} "
            f"{held(models.get(scenario.name, 'closed'))} {scenario.users:,} "
            f"http {scenario.http_rps:,.0f}/s"
        )
    return "  ".join(parts)


class ProgressPrinter:
    """Called once a second by the engine with the latest figures."""

    def __init__(
        self,
        stream: TextIO,
        duration_s: float,
        *,
        tty: bool | None = None,
        models: Mapping[str, str] | None = None,
    ) -> None:
        self._stream = stream
        self._duration_s = duration_s
        self._models = dict(models or {})
        self._tty = stream.isatty() if tty is None else tty
        self._calls = 0
        self._width = 0

    @classmethod
    def for_plan(cls, stream: TextIO, plan: Plan) -> ProgressPrinter:
        """A printer for a run of ``plan``: its percentages are of the planned duration, and
        it knows which scenarios are open."""
        return cls(stream, plan.duration_ns / NS_PER_S, models=scenario_models(plan))

    def __call__(self, stats: LiveStats) -> None:
        self._calls += 1
        line = format_live(stats, self._duration_s, self._models)
        if self._tty:
            pad = max(self._width - len(line), 0)
            self._width = len(line)
            self._stream.write("\r" + line + " " * pad)
            self._stream.flush()
        elif self._calls % PLAIN_EVERY_S == 0:
            self._stream.write(line + "\n")
            self._stream.flush()

    def finish(self) -> None:
        if self._tty and self._calls:
            self._stream.write("\n")
            self._stream.flush()
