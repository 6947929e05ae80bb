"""The spec side as text: what ``validate``, ``plan`` and ``diff`` print. Pure formatting."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

from sla_runner.plan import Plan, Timeline, connection_bounds
from sla_runner.redact import redact
from sla_runner.spec.diff import Change
from sla_runner.spec.document import LoadedSpec
from sla_runner.spec.format2 import Spec
from sla_runner.timeunits import NS_PER_S


def counted(n: int, noun: str) -> str:
    """``1 endpoint``, ``2 endpoints``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def validated(path: str, spec: Spec, version: int = 1) -> str:
    """``ok: checkout.yaml (2 endpoints, 1 channel, 4 thresholds)``; format 2 also counts its
    scenarios (``version 2: 7 endpoints, 1 channel, 2 scenarios, 8 thresholds``)."""
    parts = [counted(len(spec.endpoints), "endpoint"), counted(len(spec.channels), "channel")]
    if version != 1:
        parts.append(counted(len(spec.scenarios), "scenario"))
    parts.append(counted(len(spec.thresholds), "threshold"))
    head = f"version {version}: " if version != 1 else ""
    return f"ok: {path} ({head}{', '.join(parts)})"


def plan_lines(spec: Spec, plan: Plan) -> list[str]:
    """The plan: for each scenario, stage by stage, each stage's window and how its users
    (closed model) or arrival rate (open model) ramp, its peak or arrivals planned and what
    its users do (the endpoint mix, or the setup and flow, and its channels); then the
    connections the load needs. A plan of one scenario is shown as the run's."""
    head = f"{spec.name} {spec.sla_version}: "
    needed = connections_line(spec, plan)
    if len(plan.scenarios) == 1:
        timeline = plan.scenarios[0]
        load = _load_lines(timeline)
        work = _work_lines(spec, timeline, alone=True)
        return [f"{head}{plan.model} model, segment {plan.segment}", *load, needed, *work]
    lines = [f"{head}{len(plan.scenarios)} scenarios, segment {plan.segment}"]
    for timeline in plan.scenarios:
        start = timeline.start_ns / NS_PER_S
        lines.append(f"scenario {timeline.name}: {timeline.model} model, from {start:g}s")
        body = [*_load_lines(timeline), *_work_lines(spec, timeline, alone=False)]
        lines += ["  " + line for line in body]
    totals = f"run: {plan.duration_ns / NS_PER_S:g}s"
    if any(t.model == "closed" for t in plan.scenarios):
        totals += f", peak {plan.peak_users()} users"
    if any(t.model == "open" for t in plan.scenarios):
        totals += f", peak {float(plan.peak_rate()):g}/s, {plan.total_arrivals():,} arrivals"
    lines.append(totals)
    return [*lines, needed]


def connections_line(spec: Spec, plan: Plan) -> str:
    """``connections needed at most: 61 (buyers 20: 10 users × 2: HTTP + 1 channel; probes
    41: 20/s × its 2s timeout + 1)``: the figure, and how each scenario's share is counted."""
    bounds = connection_bounds(spec, plan)
    total = sum(b.count for b in bounds)
    if len(bounds) == 1:
        return f"connections needed at most: {total:,} ({bounds[0].why})"
    parts = "; ".join(f"{b.scenario} {b.count:,}: {b.why}" for b in bounds)
    return f"connections needed at most: {total:,} ({parts})"


def _load_lines(timeline: Timeline) -> list[str]:
    closed = timeline.model == "closed"
    count = timeline.segment.count
    lines = []
    for stage in timeline.stages:
        lo, hi = stage.from_level / count, stage.to_level / count
        if closed:
            lo = Fraction(timeline.users_at(stage.start_ns))
            hi = Fraction(timeline.users_at(stage.end_ns))
        window = f"{stage.start_ns / NS_PER_S:g}s – {stage.end_ns / NS_PER_S:g}s"
        lines.append(f"  {stage.name:<14} {window:<20} {_levels(lo, hi, closed=closed)}")
    if closed:
        lines.append(f"peak: {timeline.peak_users()} users{_unheld(timeline)}")
    else:
        lines.append(f"arrivals: {timeline.total_arrivals():,}")
    return lines


def _levels(lo: Fraction, hi: Fraction, *, closed: bool) -> str:
    """A stage's load: ``20 users`` held, ``0 → 20 users`` ramped; ``50/s``, ``0 → 50/s``.
    A version-1 stage ramps from the previous level, so it reads as a ramp unless it stays
    at the level the previous one reached, which is that level held."""
    levels = f"{float(hi):g}" if lo == hi else f"{float(lo):g} → {float(hi):g}"
    if closed:
        return f"{levels} {'user' if levels == '1' else 'users'}"
    return f"{levels}/s"


def _work_lines(spec: Spec, timeline: Timeline, *, alone: bool) -> list[str]:
    lines = []
    scenario = spec.scenarios[timeline.name]
    if timeline.mix:
        shares = ", ".join(
            f"{name} {100 * timeline.mix.count(i) / len(timeline.mix):.4g}%"
            for i, name in enumerate(timeline.endpoints)
        )
        lines.append(f"endpoint mix: {shares}")
    if scenario.setup:
        lines.append("setup: " + " → ".join(step.request for step in scenario.setup))
    if scenario.flow:
        lines.append("flow: " + " → ".join(step.request for step in scenario.flow))
    if scenario.channels and not alone:
        lines.append("channels: " + ", ".join(scenario.channels))
    return lines


def _unheld(timeline: Timeline) -> str:
    """Why the peak is below the level a stage ramps to, when it is."""
    unheld = timeline.unheld_top()
    if unheld is None:
        return ""
    top, at_ns = unheld
    when = ", as the run ends" if at_ns == timeline.end_ns else " and leaves it at once"
    return f" held (it reaches {top} only at {at_ns / NS_PER_S:g}s{when})"


def diff_lines(old: LoadedSpec, new: LoadedSpec, changes: Sequence[Change]) -> list[str]:
    """Which versions were compared, then each change (secrets of either file redacted)."""
    secrets = old.secrets | new.secrets
    a, b = old.spec, new.spec
    formats = (f", format {old.version}", f", format {new.version}")
    if old.version == new.version:  # said only when it changed (a migration)
        formats = ("", "")
    header = (
        f"{a.name} {a.sla_version} ({old.sha256[:12]}{formats[0]}) → {b.name} {b.sla_version} "
        f"({new.sha256[:12]}{formats[1]})"
    )
    return [header, *(redact(change.format(), secrets) for change in changes)]


def diff_tally(changes: Sequence[Change]) -> str:
    """``3 changes: 1 tightened, 1 loosened, 1 changed``."""
    loosened = sum(c.kind == "loosened" for c in changes)
    tightened = sum(c.kind == "tightened" for c in changes)
    neither = len(changes) - loosened - tightened
    return (
        f"{counted(len(changes), 'change')}: {tightened} tightened, {loosened} loosened, "
        f"{neither} changed"
    )
