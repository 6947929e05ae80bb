"""Compare two versions of an SLA spec the way a contract team reads them.

Each change is classified: ``tightened`` (the service promises more: a lower latency
limit, a higher success rate, more load, a warning made a failure, a new threshold),
``loosened`` (the reverse: a longer timeout, more accepted status codes, a dropped
``body_contains``, fewer messages or more think time), or ``changed`` (neither: an
endpoint's path, a header). Endpoints, channels, the load and the target are compared
field by field, so a diff names the field that moved. Thresholds are matched by what they
measure — metric, endpoint/channel, statistic and window — so a limit that moved is one
change, not a removal and an addition; an endpoint or channel renamed with the same
definition is one ``changed`` line, and what names it (thresholds, flows, setups, mixes,
``before``, a scenario's channels) follows it under its new name.

Two version-1 files are compared as format 1 writes them (``load:``, an endpoint's
``weight``). Any pair with a version-2 file is compared as format 2 (a version-1 file
through its conversion, :func:`sla_runner.spec.convert.from_v1`), scenario by scenario: a
scenario added (more load: tightened) or removed (loosened), its load (peak users or
arrivals, duration, think time, ...), its start, its flow, setup or mix, the tables it
deals and the channels it holds; then ``before``, the ``capacity`` promise, the data tables,
endpoints (with their ``extract`` and JSON checks), channels and target. A load is compared
by its peak (users) or arrivals and its length; at the same ones, by its stages (another
shape is a change), and a stage's ``warmup`` by its length (longer loosens). So a
version-1 file and its migration compare equal.
"""

from __future__ import annotations

import math
from fractions import Fraction

from sla_runner.spec.convert import from_v1
from sla_runner.spec.diffparts import (
    Change,
    Kind,
    Renames,
    declared,
    fields,
    renamed,
    show,
    thresholds,
)
from sla_runner.spec.format2 import DataTable, LoadV2, Scenario, Spec, Step
from sla_runner.spec.models import SpecV1
from sla_runner.spec.units import Duration

__all__ = ["Change", "diff_specs", "version_note"]

NS = 1_000_000_000


def diff_specs(old: SpecV1 | Spec, new: SpecV1 | Spec) -> list[Change]:
    """Every difference that changes what the contract promises or exercises."""
    if isinstance(old, SpecV1) and isinstance(new, SpecV1):
        return _diff_v1(old, new)
    a = from_v1(old) if isinstance(old, SpecV1) else old
    b = from_v1(new) if isinstance(new, SpecV1) else new
    return _diff_v2(a, b)


def version_note(old: SpecV1 | Spec, new: SpecV1 | Spec, changes: list[Change]) -> str | None:
    """A warning when the contract changed but its ``sla_version`` did not."""
    promises = [c for c in changes if c.kind != "changed"]
    if promises and old.sla_version == new.sla_version:
        return (
            f"the promises changed ({len(promises)} tightened or loosened) but sla_version "
            f"is still {new.sla_version}"
        )
    return None


def _diff_v1(old: SpecV1, new: SpecV1) -> list[Change]:
    changes: list[Change] = []
    if old.name != new.name:
        changes.append(Change("changed", "name", old.name, new.name))
    renames = renamed(old.endpoints, new.endpoints), renamed(old.channels, new.channels)
    changes += thresholds(old.thresholds, new.thresholds, *renames)
    a, b = (from_v1(s).scenarios["default"].load for s in (old, new))
    changes += _load("load", a, b)
    changes += fields("load", old.load, new.load, skip=frozenset({"stages"}))
    targets = (old.target, new.target)
    changes += declared("endpoints", old.endpoints, new.endpoints, targets)
    changes += declared("channels", old.channels, new.channels, targets)
    changes += fields("target", old.target, new.target)
    return changes


def _diff_v2(old: Spec, new: Spec) -> list[Change]:
    changes: list[Change] = []
    if old.name != new.name:
        changes.append(Change("changed", "name", old.name, new.name))
    endpoints, channels = renamed(old.endpoints, new.endpoints), renamed(old.channels, new.channels)
    changes += thresholds(old.thresholds, new.thresholds, endpoints, channels)
    for name in [*old.scenarios, *(n for n in new.scenarios if n not in old.scenarios)]:
        what = f"scenarios: {name}"
        if name not in new.scenarios:
            changes.append(Change("loosened", what, _described(old.scenarios[name].load), None))
        elif name not in old.scenarios:
            changes.append(Change("tightened", what, None, _described(new.scenarios[name].load)))
        else:
            renamed_old = _renamed(old.scenarios[name], endpoints, channels)
            changes += _scenario(what, renamed_old, new.scenarios[name])
    if _steps(_moved(old.before, endpoints)) != _steps(new.before):
        before, after = _steps(old.before), _steps(new.before)
        changes.append(Change("changed", "before", before or "none", after or "none"))
    changes += _capacity(old, new)
    changes += _tables(old.data, new.data)
    targets = (old.target, new.target)
    changes += declared("endpoints", old.endpoints, new.endpoints, targets)
    changes += declared("channels", old.channels, new.channels, targets)
    changes += fields("target", old.target, new.target)
    return changes


def _figures(load: LoadV2) -> tuple[str, int, int]:
    """The model, its peak users (closed) or arrivals (open), and the duration in ns."""
    ramps = load.ramps()
    duration = sum(r.duration_ns for r in ramps)
    if load.model == "closed":
        return "closed", math.floor(max(max(r.from_level, r.to_level) for r in ramps)), duration
    total = sum((r.from_level + r.to_level) * Fraction(r.duration_ns, NS) / 2 for r in ramps)
    return "open", math.ceil(total), duration


def _described(load: LoadV2) -> str:
    """A scenario added or removed: ``closed model, peak 100 users over 1m20s``."""
    model, size, ns = _figures(load)
    figure = f"peak {size} users" if model == "closed" else f"{size:,} arrivals"
    return f"{model} model, {figure} over {Duration(ns)}"


def _moved(steps: list[Step], endpoints: Renames) -> list[Step]:
    return [s.model_copy(update={"request": endpoints.get(s.request, s.request)}) for s in steps]


def _renamed(scenario: Scenario, endpoints: Renames, channels: Renames) -> Scenario:
    """An old scenario with the endpoints and channels it names under their new names."""
    if not endpoints and not channels:
        return scenario
    update: dict[str, object] = {
        "setup": _moved(scenario.setup, endpoints) if scenario.setup else scenario.setup,
        "flow": _moved(scenario.flow, endpoints) if scenario.flow else scenario.flow,
        "channels": [channels.get(c, c) for c in scenario.channels],
    }
    if scenario.mix is not None:
        update["mix"] = {endpoints.get(e, e): w for e, w in scenario.mix.items()}
    return scenario.model_copy(update=update)


def _load(what: str, old: LoadV2, new: LoadV2) -> list[Change]:
    (model_a, size_a, ns_a), (model_b, size_b, ns_b) = _figures(old), _figures(new)
    if model_a != model_b:
        return [Change("changed", f"{what}: model", model_a, model_b)]
    changes: list[Change] = []
    if size_a != size_b:
        kind: Kind = "tightened" if size_b > size_a else "loosened"
        figure = "peak users" if model_a == "closed" else "arrivals"
        shown = (
            (str(size_a), str(size_b)) if model_a == "closed" else (f"{size_a:,}", f"{size_b:,}")
        )
        changes.append(Change(kind, f"{what}: {figure}", *shown))
    if ns_a != ns_b:
        kind = "tightened" if ns_b > ns_a else "loosened"
        changes.append(Change(kind, f"{what}: duration", str(Duration(ns_a)), str(Duration(ns_b))))
    if not changes and old.ramps() != new.ramps():  # the same peak and length, another shape
        changes.append(Change("changed", f"{what}: stages", _shape(old), _shape(new)))
    return changes + _warmups(what, old, new)


def _shape(load: LoadV2) -> str:
    """``ramp 20s to 100 users, steady 1m at 100 users``; ``arrive 5s to 50/s``: a stage
    that moves its level ramps to it, one that keeps it holds it."""
    unit = " users" if load.model == "closed" else "/s"
    parts = []
    for ramp in load.ramps():
        how = "at" if ramp.from_level == ramp.to_level else "to"
        name = f"{ramp.name} " if ramp.name else ""
        parts.append(f"{name}{Duration(ramp.duration_ns)} {how} {float(ramp.to_level):g}{unit}")
    return ", ".join(parts)


def _warmups(what: str, old: LoadV2, new: LoadV2) -> list[Change]:
    """A stage's warmup (matched by name, else by place): a longer one leaves more of the
    stage out of the thresholds that judge it, so it loosens."""
    a, b = _stage_warmups(old), _stage_warmups(new)
    changes: list[Change] = []
    for stage in (s for s in a if s in b and a[s] != b[s]):
        kind: Kind = "loosened" if b[stage] > a[stage] else "tightened"
        shown = (show("warmup", Duration(n) if n else None) for n in (a[stage], b[stage]))
        changes.append(Change(kind, f"{what}: stage {stage} warmup", *shown))
    return changes


def _stage_warmups(load: LoadV2) -> dict[str, int]:
    return {
        s.name or f"stages[{i}]": s.warmup.ns if s.warmup else 0 for i, s in enumerate(load.stages)
    }


def _capacity(old: Spec, new: Spec) -> list[Change]:
    """The capacity promise (``sla-runner capacity``): a higher level of the same scenario
    tightens, a lower one loosens, a dropped one loosens; another scenario or model is a
    change."""
    a, b = old.capacity, new.capacity
    if a is None and b is None:
        return []
    if a is None or b is None:
        kind: Kind = "loosened" if b is None else "tightened"
        return [Change(kind, "capacity", _promise(old), _promise(new))]
    level_a = Fraction(a.users) if a.users is not None else a.rate.per_s if a.rate else None
    level_b = Fraction(b.users) if b.users is not None else b.rate.per_s if b.rate else None
    if _promised(old) != _promised(new) or a.model != b.model:
        return [Change("changed", "capacity", _promise(old), _promise(new))]
    if level_a == level_b or level_a is None or level_b is None:
        return []
    kind = "tightened" if level_b > level_a else "loosened"
    return [Change(kind, "capacity", _promise(old), _promise(new))]


def _promised(spec: Spec) -> str:
    """The scenario a capacity promise is of (the only one, when it names none)."""
    assert spec.capacity is not None
    return spec.capacity.scenario or next(iter(spec.scenarios))


def _promise(spec: Spec) -> str | None:
    """``>= 100 users of scenario shoppers``, ``>= 500/s of scenario api``."""
    c = spec.capacity
    if c is None:
        return None
    level = f">= {c.users} users" if c.users is not None else f">= {c.rate}"
    return f"{level} of scenario {_promised(spec)}"


def _scenario(what: str, old: Scenario, new: Scenario) -> list[Change]:
    changes = _load(f"{what}.load", old.load, new.load)
    changes += fields(f"{what}.load", old.load, new.load, skip=frozenset({"stages"}))
    changes += fields(
        what, old, new, skip=frozenset({"load", "mix", "flow", "setup", "data", "channels"})
    )
    for part in ("setup", "flow"):
        a, b = getattr(old, part) or [], getattr(new, part) or []
        if _steps(a) != _steps(b):
            shown = _steps(a) or "none", _steps(b) or "none"
            changes.append(Change(_sequence(a, b), f"{what}.{part}", *shown))
    mix_a, mix_b = old.mix or {}, new.mix or {}
    for name in [*mix_a, *(n for n in mix_b if n not in mix_a)]:
        label = f"{what}.mix.{name}"
        if name not in mix_b:
            changes.append(Change("loosened", label, show("weight", mix_a[name]), None))
        elif name not in mix_a:
            changes.append(Change("tightened", label, None, show("weight", mix_b[name])))
        elif mix_a[name] != mix_b[name]:
            changes.append(
                Change("changed", label, show("weight", mix_a[name]), show("weight", mix_b[name]))
            )
    for table in [*old.data, *(t for t in new.data if t not in old.data)]:
        was, now = old.data.get(table), new.data.get(table)
        if was != now:
            changes.append(Change("changed", f"{what}.data.{table}", was, now))
    for channel in [*old.channels, *(c for c in new.channels if c not in old.channels)]:
        if channel not in new.channels:
            changes.append(Change("loosened", f"{what}.channels", channel, None))
        elif channel not in old.channels:
            changes.append(Change("tightened", f"{what}.channels", None, channel))
    return changes


def _steps(steps: list[Step]) -> str:
    """``login, create-order (think 500ms), get-order``."""
    return ", ".join(
        s.request + (f" (think {show('think_time', s.think_time)})" if s.think_time else "")
        for s in steps
    )


def _sequence(old: list[Step], new: list[Step]) -> Kind:
    """More steps (the old ones among them, in order) tighten; fewer loosen."""
    a, b = [s.request for s in old], [s.request for s in new]
    if len(b) > len(a) and _within(a, b):
        return "tightened"
    if len(a) > len(b) and _within(b, a):
        return "loosened"
    return "changed"


def _within(short: list[str], long: list[str]) -> bool:
    rest = iter(long)
    return all(step in rest for step in short)


def _tables(old: dict[str, DataTable], new: dict[str, DataTable]) -> list[Change]:
    changes: list[Change] = []
    for name in [*old, *(n for n in new if n not in old)]:
        what = f"data: {name}"
        if name not in new:
            changes.append(Change("changed", what, "declared", None))
        elif name not in old:
            changes.append(Change("changed", what, None, "declared"))
        else:
            a, b = old[name], new[name]
            changes += fields(what, a, b, skip=frozenset({"rows"}))
            if a.rows != b.rows:
                count = [f"{len(t.rows)} rows" if t.rows is not None else "unset" for t in (a, b)]
                changes.append(Change("changed", f"{what}.rows", *count))
    return changes
