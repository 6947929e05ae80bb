"""Compare two versions of an SLA spec the way a contract team reads them.

Each change is classified: ``tightened`` (the service promises more: a lower latency
limit, a higher success rate, more load, a warning made a failure, a new threshold),
``loosened`` (the reverse: a longer timeout, more accepted status codes, a dropped
``body_contains``, fewer messages or more think time), or ``changed`` (neither: an
endpoint's path, a header). Endpoints, channels, the load and the target are compared
field by field, so a diff names the field that moved.
Thresholds are matched by what they measure — metric, endpoint/channel, statistic and
window — so a limit that moved is one change, not a removal and an addition.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

from pydantic import BaseModel

from sla_runner.plan import build_plan
from sla_runner.spec.fields import ThinkTime
from sla_runner.spec.models import Endpoint, Spec, Target, ThresholdRule
from sla_runner.spec.units import Duration

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
            Change(
                kind, "load: duration", str(Duration(a.duration_ns)), str(Duration(b.duration_ns))
            )
        )
    return changes


# Fields where a larger value promises less: a slower answer still passes (timeouts), a
# user sends less (interval, think time), a dropped connection is forgiven more often.
_LARGER_LOOSENS = frozenset({"timeout", "connect_timeout", "interval", "reconnect", "think_time"})
# Fields whose presence is a check the answer must pass.
_CHECKS = frozenset({"body_contains", "contains", "json_fields", "expect"})
_ANY_2XX_3XX = frozenset(range(200, 400))


def _declared(
    kind: str,
    old: Mapping[str, BaseModel],
    new: Mapping[str, BaseModel],
    target: tuple[Target, Target],
) -> list[Change]:
    changes: list[Change] = []
    for name in sorted(old.keys() | new.keys()):
        what = f"{kind}: {name}"
        if name not in new:
            changes.append(Change("loosened", what, "declared", None))
        elif name not in old:
            changes.append(Change("tightened", what, None, "declared"))
        else:
            was = _with_timeout(old[name], target[0])
            now = _with_timeout(new[name], target[1])
            changes += _fields(what, was, now)
    return changes


def _with_timeout(model: BaseModel, target: Target) -> BaseModel:
    """An endpoint without its own timeout has the target's: compare what applies."""
    if isinstance(model, Endpoint) and model.timeout is None:
        return model.model_copy(update={"timeout": target.timeout})
    return model


def _fields(
    what: str, old: BaseModel, new: BaseModel, skip: frozenset[str] = frozenset()
) -> list[Change]:
    """Field by field (nested models by their dotted path), each change classified."""
    changes: list[Change] = []
    for field in type(old).model_fields:
        a, b = getattr(old, field), getattr(new, field)
        if field in skip or a == b:
            continue
        label = f"{what}: {field}" if ": " not in what else f"{what}.{field}"
        if isinstance(a, BaseModel) and type(a) is type(b) and not isinstance(a, ThinkTime):
            changes += _fields(label, a, b)
        else:
            changes.append(Change(_direction(field, a, b), label, _show(field, a), _show(field, b)))
    return changes


def _direction(field: str, old: Any, new: Any) -> Kind:
    if field == "status":
        a, b = _accepted(old), _accepted(new)
        if a < b:
            return "loosened"
        return "tightened" if b < a else "changed"
    if field in _CHECKS and (old is None) != (new is None):
        return "loosened" if new is None else "tightened"
    if field == "verify_tls":
        return "loosened" if not new else "tightened"
    if field in _LARGER_LOOSENS and _size(new) != _size(old):
        return "loosened" if _size(new) > _size(old) else "tightened"
    return "changed"


def _accepted(status: int | list[int] | None) -> frozenset[int]:
    if status is None:
        return _ANY_2XX_3XX
    return frozenset([status] if isinstance(status, int) else status)


def _size(value: Duration | ThinkTime | int) -> Fraction:
    """Exact: a think time's mean, a duration in ns, a count (0.1 s + 0.2 s is 0.3 s here)."""
    if isinstance(value, ThinkTime):
        return Fraction(value.min.ns + value.max.ns, 2)
    return Fraction(value.ns if isinstance(value, Duration) else value)


def _show(field: str, value: Any) -> str:
    if value is None:
        return "any 2xx or 3xx" if field == "status" else "unset"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, ThinkTime):
        return str(value.min) if value.min == value.max else f"{value.min}..{value.max}"
    if isinstance(value, BaseModel):
        data = value.model_dump(mode="json", by_alias=True, exclude_defaults=True)
        return json.dumps(data, ensure_ascii=False)
    if isinstance(value, dict | list):
        return json.dumps(value, default=str, ensure_ascii=False)
    if isinstance(value, float):
        return _number(value)
    return str(value)


def _number(value: float) -> str:
    """A float field (a weight) as a person writes it: 3.0, read from ``weight: 3``, is 3
    like the whole-number default 1 beside it; 0.5 is 0.5. (Query and JSON values keep
    their spelling: 2.0 is sent as written.)"""
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(value)


def diff_specs(old: Spec, new: Spec) -> list[Change]:
    """Every difference that changes what the contract promises or exercises."""
    changes: list[Change] = []
    if old.name != new.name:
        changes.append(Change("changed", "name", old.name, new.name))
    changes += _thresholds(old, new)
    changes += _load(old, new)
    changes += _fields("load", old.load, new.load, skip=frozenset({"stages"}))
    targets = (old.target, new.target)
    changes += _declared("endpoints", old.endpoints, new.endpoints, targets)
    changes += _declared("channels", old.channels, new.channels, targets)
    changes += _fields("target", old.target, new.target)
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
