"""Compare two versions of an SLA spec the way a contract team reads them.

Each change is classified: ``tightened`` (the service promises more: a lower latency
limit, a higher success rate, more load, a warning made a failure, a new threshold),
``loosened`` (the reverse), or ``changed`` (neither: an endpoint's path, a description).
Thresholds are matched by what they measure — metric, endpoint/channel, statistic and
window — so a limit that moved is one change, not a removal and an addition.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sla_runner.plan import build_plan
from sla_runner.spec.models import Spec, ThresholdRule

Kind = Literal["tightened", "loosened", "changed"]
_OP_STRICTNESS = {"<": 1, "<=": 0, ">": 1, ">=": 0}


@dataclass(frozen=True)
class Change:
    kind: Kind
    what: str  # e.g. "thresholds: p95(http)" or "load: peak users"
    old: str | None
    new: str | None

    def format(self) -> str:
        if self.old is None:
            return f"{self.kind:9}  {self.what}: added {self.new}"
        if self.new is None:
            return f"{self.kind:9}  {self.what}: removed {self.old}"
        return f"{self.kind:9}  {self.what}: {self.old} → {self.new}"


def _key(rule: ThresholdRule) -> tuple[object, ...]:
    t = rule.expr
    direction = "upper" if t.op in ("<", "<=") else "lower"
    return (t.metric, t.scope, t.stat, rule.during, direction)


def _label(rule: ThresholdRule) -> str:
    where = f" during {rule.during}" if rule.during else ""
    return f"{rule.expr.stat}({rule.expr.selector}){where}"


def _written(rule: ThresholdRule) -> str:
    return rule.expr.text + (" (warn)" if rule.severity == "warn" else "")


def _compare_rule(old: ThresholdRule, new: ThresholdRule) -> Kind | None:
    """How ``new`` differs from ``old`` (same key): None when they promise the same."""
    a, b = old.expr, new.expr
    tighter = 0
    if a.limit != b.limit:
        lower_is_tighter = a.op in ("<", "<=")
        tighter = 1 if (b.limit < a.limit) == lower_is_tighter else -1
    elif _OP_STRICTNESS[a.op] != _OP_STRICTNESS[b.op]:
        tighter = 1 if _OP_STRICTNESS[b.op] > _OP_STRICTNESS[a.op] else -1
    if tighter == 0 and old.severity != new.severity:
        tighter = 1 if new.severity == "fail" else -1
    if tighter > 0:
        return "tightened"
    if tighter < 0:
        return "loosened"
    return None


def _pairs(
    old: list[ThresholdRule], new: list[ThresholdRule]
) -> list[tuple[ThresholdRule | None, ThresholdRule | None]]:
    """Rules of one key paired: same severity first, then in order; the rest unpaired."""
    left, right = list(old), list(new)
    pairs: list[tuple[ThresholdRule | None, ThresholdRule | None]] = []
    for rule in list(left):
        match = next((r for r in right if r.severity == rule.severity), None)
        if match is not None:
            pairs.append((rule, match))
            left.remove(rule)
            right.remove(match)
    pairs += list(zip(left, right, strict=False))
    pairs += [(rule, None) for rule in left[len(right) :]]
    pairs += [(None, rule) for rule in right[len(left) :]]
    return pairs


def _thresholds(old: Spec, new: Spec) -> list[Change]:
    before: dict[tuple[object, ...], list[ThresholdRule]] = {}
    after: dict[tuple[object, ...], list[ThresholdRule]] = {}
    for rules, index in ((old.thresholds, before), (new.thresholds, after)):
        for rule in rules:
            index.setdefault(_key(rule), []).append(rule)
    changes: list[Change] = []
    for key in [*before, *(k for k in after if k not in before)]:
        for was, now in _pairs(before.get(key, []), after.get(key, [])):
            either = was if was is not None else now
            assert either is not None  # _pairs never yields (None, None)
            what = f"thresholds: {_label(either)}"
            if now is None and was is not None:
                changes.append(Change("loosened", what, _written(was), None))
            elif was is None and now is not None:
                changes.append(Change("tightened", what, None, _written(now)))
            elif was is not None and now is not None:
                kind = _compare_rule(was, now)
                if kind is not None:
                    changes.append(Change(kind, what, _written(was), _written(now)))
    return changes


def _load(old: Spec, new: Spec) -> list[Change]:
    changes: list[Change] = []
    a, b = build_plan(old), build_plan(new)
    if a.model != b.model:
        return [Change("changed", "load: model", a.model, b.model)]
    if a.model == "closed":
        peak_a, peak_b = a.peak_users(), b.peak_users()
        if peak_a != peak_b:
            kind: Kind = "tightened" if peak_b > peak_a else "loosened"
            changes.append(Change(kind, "load: peak users", str(peak_a), str(peak_b)))
    else:
        total_a, total_b = a.total_arrivals(), b.total_arrivals()
        if total_a != total_b:
            kind = "tightened" if total_b > total_a else "loosened"
            changes.append(Change(kind, "load: arrivals", f"{total_a:,}", f"{total_b:,}"))
    if a.duration_ns != b.duration_ns:
        kind = "tightened" if b.duration_ns > a.duration_ns else "loosened"
        changes.append(
            Change(kind, "load: duration", f"{a.duration_ns / 1e9:g}s", f"{b.duration_ns / 1e9:g}s")
        )
    return changes


def _declared(kind: str, old: dict[str, object], new: dict[str, object]) -> list[Change]:
    changes: list[Change] = []
    for name in sorted(old.keys() | new.keys()):
        what = f"{kind}: {name}"
        if name not in new:
            changes.append(Change("loosened", what, "declared", None))
        elif name not in old:
            changes.append(Change("tightened", what, None, "declared"))
        elif old[name] != new[name]:
            changes.append(Change("changed", what, "as before", "redefined"))
    return changes


def diff_specs(old: Spec, new: Spec) -> list[Change]:
    """Every difference that changes what the contract promises or exercises."""
    changes: list[Change] = []
    if old.name != new.name:
        changes.append(Change("changed", "name", old.name, new.name))
    changes += _thresholds(old, new)
    changes += _load(old, new)
    changes += _declared("endpoints", dict(old.endpoints), dict(new.endpoints))
    changes += _declared("channels", dict(old.channels), dict(new.channels))
    if old.target.base_url != new.target.base_url:
        changes.append(
            Change("changed", "target: base_url", old.target.base_url, new.target.base_url)
        )
    return changes


def version_note(old: Spec, new: Spec, changes: list[Change]) -> str | None:
    """A warning when the contract changed but its ``sla_version`` did not."""
    promises = [c for c in changes if c.kind != "changed"]
    if promises and old.sla_version == new.sla_version:
        return (
            f"the promises changed ({len(promises)} tightened or loosened) but sla_version "
            f"is still {new.sla_version}"
        )
    return None
