"""The spec side as text: what ``validate``, ``plan`` and ``diff`` print. Pure formatting."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

from sla_runner.plan import Plan, connections_needed
from sla_runner.redact import redact
from sla_runner.spec.diff import Change
from sla_runner.spec.loader import LoadedSpec
from sla_runner.spec.models import Spec
from sla_runner.timeunits import NS_PER_S


def counted(n: int, noun: str) -> str:
    """``1 endpoint``, ``2 endpoints``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def validated(path: str, spec: Spec) -> str:
    """``ok: checkout.yaml (2 endpoints, 1 channel, 4 thresholds)``."""
    return (
        f"ok: {path} ({counted(len(spec.endpoints), 'endpoint')}, "
        f"{counted(len(spec.channels), 'channel')}, "
        f"{counted(len(spec.thresholds), 'threshold')})"
    )


def plan_lines(spec: Spec, plan: Plan) -> list[str]:
    """The plan stage by stage: each stage's window and how its users (closed model) or
    arrival rate (open model) ramp, the peak or the arrivals planned, the connections the
    load needs and the endpoint mix."""
    unit = "users" if plan.model == "closed" else "/s"
    lines = [f"{spec.name} {spec.sla_version}: {plan.model} model, segment {plan.segment}"]
    for stage in plan.stages:
        lo, hi = stage.from_level / plan.segment.count, stage.to_level / plan.segment.count
        if plan.model == "closed":
            lo, hi = Fraction(plan.users_at(stage.start_ns)), Fraction(plan.users_at(stage.end_ns))
        window = f"{stage.start_ns / NS_PER_S:g}s – {stage.end_ns / NS_PER_S:g}s"
        lines.append(f"  {stage.name:<14} {window:<20} {float(lo):g} → {float(hi):g} {unit}")
    if plan.model == "closed":
        lines.append(f"peak: {plan.peak_users()} users{_unheld(plan)}")
    else:
        lines.append(f"arrivals: {plan.total_arrivals():,}")
    lines.append(f"connections needed at most: {connections_needed(spec, plan):,}")
    if plan.mix:
        shares = ", ".join(
            f"{name} {100 * plan.mix.count(i) / len(plan.mix):.4g}%"
            for i, name in enumerate(plan.endpoints)
        )
        lines.append(f"endpoint mix: {shares}")
    return lines


def _unheld(plan: Plan) -> str:
    """Why the peak is below the level a stage ramps to, when it is."""
    unheld = plan.unheld_top()
    if unheld is None:
        return ""
    top, at_ns = unheld
    when = ", as the run ends" if at_ns == plan.duration_ns else " and leaves it at once"
    return f" held (it reaches {top} only at {at_ns / NS_PER_S:g}s{when})"


def diff_lines(old: LoadedSpec, new: LoadedSpec, changes: Sequence[Change]) -> list[str]:
    """Which versions were compared, then each change (secrets of either file redacted)."""
    secrets = old.secrets | new.secrets
    a, b = old.spec, new.spec
    header = (
        f"{a.name} {a.sla_version} ({old.sha256[:12]}) → {b.name} {b.sla_version} "
        f"({new.sha256[:12]})"
    )
    return [header, *(redact(change.format(), secrets) for change in changes)]


def diff_tally(changes: Sequence[Change]) -> str:
    """``3 changes: 1 tightened, 1 loosened``."""
    loosened = sum(c.kind == "loosened" for c in changes)
    tightened = sum(c.kind == "tightened" for c in changes)
    return f"{counted(len(changes), 'change')}: {tightened} tightened, {loosened} loosened"
