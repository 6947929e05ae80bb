"""The pieces of a spec diff both formats share: changes, thresholds, fields, declarations.

Each change is classified: ``tightened`` (the service promises more), ``loosened`` (the
reverse) or ``changed`` (neither). Thresholds are matched by what they measure (metric,
endpoint/channel/scenario, statistic, window, and in format 2 the scenario judged);
models are compared field by field (:func:`fields`), so a diff names the field that moved.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

from pydantic import BaseModel

from sla_runner.spec.fields import ThinkTime
from sla_runner.spec.format2 import ThresholdRuleV2
from sla_runner.spec.parts import EndpointBase, Target, ThresholdRule
from sla_runner.spec.units import Duration

Kind = Literal["tightened", "loosened", "changed"]
# Old name → new name of the endpoints and channels renamed with the same definition.
Renames = Mapping[str, str]
RENAMED = "(renamed, the same definition)"
_CHANNEL_METRICS = frozenset({"ws", "ws_connect"})
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


Rule = ThresholdRule | ThresholdRuleV2


def _key(rule: Rule, endpoints: Renames, channels: Renames) -> tuple[object, ...]:
    """What a threshold measures; an old one's endpoint or channel under its new name."""
    t = rule.expr
    direction = "upper" if t.op in ("<", "<=") else "lower"
    names = endpoints if t.metric == "http" else channels if t.metric in _CHANNEL_METRICS else {}
    return (
        t.metric,
        names.get(t.scope, t.scope) if t.scope is not None else None,
        t.stat,
        rule.during,
        direction,
        getattr(rule, "scenario", None),
        *_windows(rule),
    )


def _windows(rule: Rule) -> tuple[str | None, ...]:
    """A threshold's window, for and warmup (format 2): another threshold with other ones."""
    return tuple(
        None if (value := getattr(rule, name, None)) is None else str(value)
        for name in ("window", "for_", "warmup")
    )


def _label(rule: Rule) -> str:
    where = f" during {rule.during}" if rule.during else ""
    scenario = getattr(rule, "scenario", None)
    where += f" in scenario {scenario}" if scenario else ""
    options = zip(("window", "for", "warmup"), _windows(rule), strict=True)
    where += "".join(f" {key} {value}" for key, value in options if value)
    return f"{rule.expr.stat}({rule.expr.selector}){where}"


def _written(rule: Rule) -> str:
    return rule.expr.text + (" (warn)" if rule.severity == "warn" else "")


def _compare_rule(old: Rule, new: Rule) -> Kind | None:
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


def _pairs(old: Sequence[Rule], new: Sequence[Rule]) -> list[tuple[Rule | None, Rule | None]]:
    """Rules of one key paired: same severity first, then in order; the rest unpaired."""
    left, right = list(old), list(new)
    pairs: list[tuple[Rule | None, Rule | None]] = []
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


def thresholds(
    old: Sequence[Rule],
    new: Sequence[Rule],
    endpoints: Renames | None = None,
    channels: Renames | None = None,
) -> list[Change]:
    """Thresholds matched by what they measure (an old one's renamed endpoint or channel
    by its new name: see :func:`renamed`); each difference classified."""
    before: dict[tuple[object, ...], list[Rule]] = {}
    after: dict[tuple[object, ...], list[Rule]] = {}
    for rule in old:
        before.setdefault(_key(rule, endpoints or {}, channels or {}), []).append(rule)
    for rule in new:
        after.setdefault(_key(rule, {}, {}), []).append(rule)
    changes: list[Change] = []
    for key in [*before, *(k for k in after if k not in before)]:
        for was, now in _pairs(before.get(key, []), after.get(key, [])):
            either = now if now is not None else was  # a renamed endpoint: its new name
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


# Fields where a larger value promises less: a slower answer still passes (timeouts), a
# user sends less (interval, think time), a dropped connection is forgiven more often.
_LARGER_LOOSENS = frozenset({"timeout", "connect_timeout", "interval", "reconnect", "think_time"})
# Fields whose presence is a check the answer must pass.
_CHECKS = frozenset({"body_contains", "contains", "json_fields", "expect"})
_ANY_2XX_3XX = frozenset(range(200, 400))


def renamed(old: Mapping[str, BaseModel], new: Mapping[str, BaseModel]) -> dict[str, str]:
    """Old name → new name of what left under one name and came under another with the
    same definition; a definition two names share is no rename (which is which is unknown)."""
    gone = [name for name in old if name not in new]
    came = [name for name in new if name not in old]
    pairs: dict[str, str] = {}
    for name in gone:
        same = [other for other in came if new[other] == old[name]]
        if len(same) == 1 and sum(old[o] == new[same[0]] for o in gone) == 1:
            pairs[name] = same[0]
    return pairs


def described(model: BaseModel) -> str:
    """An endpoint or channel added or removed, as a reviewer knows it: ``GET /items``."""
    where = getattr(model, "path", None) or getattr(model, "url", None) or ""
    method = getattr(model, "method", None)
    return f"{method} {where}" if method else where or "declared"


def declared(
    kind: str,
    old: Mapping[str, BaseModel],
    new: Mapping[str, BaseModel],
    target: tuple[Target, Target],
) -> list[Change]:
    changes: list[Change] = []
    renames = renamed(old, new)
    for name in sorted(old.keys() | new.keys()):
        what = f"{kind}: {name}"
        if name in renames:
            changes.append(Change("changed", kind, name, f"{renames[name]} {RENAMED}"))
        elif name in renames.values() and name not in old:
            continue
        elif name not in new:
            changes.append(Change("loosened", what, described(old[name]), None))
        elif name not in old:
            changes.append(Change("tightened", what, None, described(new[name])))
        elif _inherits_timeout(old[name]) and _inherits_timeout(new[name]):
            # Both follow target.timeout: a change of it is the target's, reported there.
            changes += fields(what, old[name], new[name])
        else:
            was = _with_timeout(old[name], target[0])
            now = _with_timeout(new[name], target[1])
            changes += fields(what, was, now)
    return changes


def _inherits_timeout(model: BaseModel) -> bool:
    return isinstance(model, EndpointBase) and getattr(model, "timeout", 0) is None


def _with_timeout(model: BaseModel, target: Target) -> BaseModel:
    """An endpoint without its own timeout has the target's: where an endpoint set or
    dropped its own, compare what applies (10s inherited, then 10s of its own, is none)."""
    if _inherits_timeout(model):
        return model.model_copy(update={"timeout": target.timeout})
    return model


def fields(
    what: str, old: BaseModel, new: BaseModel, skip: frozenset[str] = frozenset()
) -> list[Change]:
    """Field by field (nested models by their dotted path), each change classified."""
    changes: list[Change] = []
    for field, info in type(old).model_fields.items():
        a, b = getattr(old, field), getattr(new, field)
        if field in skip or a == b:
            continue
        written = info.alias or field  # as the file writes it: json, not json_body
        label = f"{what}: {written}" if ": " not in what else f"{what}.{written}"
        if isinstance(a, BaseModel) and type(a) is type(b) and not isinstance(a, ThinkTime):
            changes += fields(label, a, b)
        else:
            changes.append(Change(_direction(field, a, b), label, show(field, a), show(field, b)))
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


def show(field: str, value: Any) -> str:
    """A value as a diff line shows it."""
    if value is None:
        return "any 2xx or 3xx" if field == "status" else "unset"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, ThinkTime):
        return str(value.min) if value.min == value.max else f"{value.min}..{value.max}"
    if isinstance(value, BaseModel | dict | list):
        return json.dumps(_plain(value), default=str, ensure_ascii=False)
    if isinstance(value, float):
        return _number(value)
    return str(value)


def _plain(value: Any) -> Any:
    """Models (an extractor, a step) as the mappings they were written as."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _number(value: float) -> str:
    """A float field (a weight) as a person writes it: 3.0, read from ``weight: 3``, is 3
    like the whole-number default 1 beside it; 0.5 is 0.5. (Query and JSON values keep
    their spelling: 2.0 is sent as written.)"""
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(value)
