"""The threshold grammar, parsed once and checked against the metric it names.

Grammar (BNF)::

    threshold ::= stat "(" selector ")" op value
                | selector op value                 (single-valued metrics only: users)
    stat      ::= percentile | "min" | "max" | "mean" | "count" | "rate"
                | "success_rate" | "error_rate"
    percentile::= "p" digits [ "." digits ]         (p50, p95, p99, p99.9; 0 < N <= 100)
    selector  ::= "http" [ "." name ] | "ws" [ "." name ] | "ws_connect" [ "." name ]
                | "process.rss" | "process.cpu" | "users"
                | "flow." scenario                  (format 2 only: ``flows=True``)
    op        ::= "<" | "<=" | ">" | ">="
    value     ::= number [ unit ] | duration
    unit      ::= "ns" | "us" | "ms" | "s" | "m" | "h"      (times)
                | "B" | "KB" | "MB" | "GB"                  (sizes; also TB, KiB, MiB, GiB)
                | "%" | "/s" | "/m" | "/h"                  (percents, rates)
    duration  ::= (number time-unit)+               (combined, as everywhere: 1m30s)
    name      ::= an endpoint name (after http.) or a channel name (after ws. / ws_connect.)
    scenario  ::= a scenario name: ``flow.shoppers`` is one pass through that scenario's flow

What each metric accepts (anything else is rejected, listing what would be accepted):

    http, ws, ws_connect, latency stats (pNN min max mean) with a time unit;
    flow.<scenario>
                          count (no unit); rate (/s, /m or /h);
                          success_rate, error_rate (%)
    process.rss           pNN min max mean with a size unit
    process.cpu           pNN min max mean with % (100% = one core)
    users                 bare, or min/max/mean, no unit (concurrent users held)

Values are normalised to one unit per kind: milliseconds for times, bytes for sizes,
percent for percents, per second for rates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

from sla_runner.spec.suggest import did_you_mean
from sla_runner.spec.units import (
    BYTES_PER_UNIT,
    NS_PER_UNIT,
    SECONDS_PER_RATE_UNIT,
    parse_duration_ns,
)

Op = Literal["<", "<=", ">", ">="]
Unit = Literal["ms", "B", "%", "/s", ""]

LATENCY_METRICS = ("http", "ws", "ws_connect")
GAUGE_METRICS = ("process.rss", "process.cpu", "users")
FLOW_METRIC = "flow"  # format 2: flow.<scenario>, always scoped
METRICS = LATENCY_METRICS + GAUGE_METRICS
AGGREGATE_STATS = ("min", "max", "mean")
COUNT_STATS = ("count", "rate", "success_rate", "error_rate")

# Every unit a duration, a rate or a size takes elsewhere in a spec (units.py) is taken here.
_TIME_UNITS_MS = {unit: Fraction(ns, 1_000_000) for unit, ns in NS_PER_UNIT.items()}
_RATE_UNITS = {f"/{unit}": Fraction(1, s) for unit, s in SECONDS_PER_RATE_UNIT.items()}

_SYNTAX = re.compile(
    r"""
    \s*(?:
        (?P<stat>[A-Za-z_][A-Za-z0-9_.]*)\s*\(\s*(?P<selector>[^()\s]*)\s*\)
      | (?P<bare>[A-Za-z_][A-Za-z0-9_.\-]*)
    )
    \s*(?P<op><=|>=|<|>|==|=|!=)
    \s*(?P<number>[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)
    \s*(?P<unit>/\s*[A-Za-z]+|[A-Za-zµ%]*)
    (?P<more>(?:\d+(?:\.\d+)?[A-Za-zµ]+)*)\s*       # the rest of a combined duration: 1m30s
    """,
    re.VERBOSE,
)
_PERCENTILE = re.compile(r"p(\d{1,2}|100)(?:\.(\d+))?")


class ThresholdSyntaxError(ValueError):
    """A threshold that cannot be parsed or makes no sense for its metric."""


@dataclass(frozen=True)
class Threshold:
    """One parsed threshold expression. ``limit`` is in ``unit`` (ms, B, %, /s or none)."""

    text: str
    metric: str  # one of METRICS, or FLOW_METRIC (format 2)
    scope: str | None  # endpoint, channel or scenario (flow) name; None for the whole metric
    stat: str  # "p95", "p99.9", "min", "max", "mean", "count", "rate", "success_rate", ...
    op: Op
    limit: float
    unit: Unit

    @property
    def selector(self) -> str:
        return f"{self.metric}.{self.scope}" if self.scope else self.metric

    @property
    def percentile(self) -> float | None:
        """95.0 for p95, 99.9 for p99.9, None for other stats."""
        match = _PERCENTILE.fullmatch(self.stat)
        return float(self.stat[1:]) if match else None

    def holds(self, observed: float) -> bool:
        if self.op == "<":
            return observed < self.limit
        if self.op == "<=":
            return observed <= self.limit
        if self.op == ">":
            return observed > self.limit
        return observed >= self.limit


def _split_selector(selector: str, flows: bool) -> tuple[str, str | None]:
    if selector in METRICS:
        return selector, None
    scoped_metrics = (*LATENCY_METRICS, FLOW_METRIC) if flows else LATENCY_METRICS
    for metric in scoped_metrics:
        if selector.startswith(metric + ".") and len(selector) > len(metric) + 1:
            return metric, selector[len(metric) + 1 :]
    if flows and selector.rstrip(".") == FLOW_METRIC:
        raise ThresholdSyntaxError(
            "flow needs a scenario: flow.<scenario> is one pass through that scenario's flow"
        )
    scoped = ["http.<endpoint>", "ws.<channel>", "ws_connect.<channel>"]
    scoped += ["flow.<scenario>"] if flows else []
    valid = ", ".join([*METRICS[:3], *scoped, *METRICS[3:]])
    head, dot, tail = selector.partition(".")
    scoped_hint = did_you_mean(head, scoped_metrics) if dot and tail else ""
    # htp.list-items → http.list-items
    hint = scoped_hint[:-1] + f".{tail}?" if scoped_hint else did_you_mean(selector, METRICS)
    if not flows and head == FLOW_METRIC:
        hint = "; flow.<scenario> is a metric of format 2 (version: 2)"
    raise ThresholdSyntaxError(f"unknown metric {selector!r}; expected one of {valid}{hint}")


def _stats_for(metric: str) -> tuple[str, ...]:
    if metric in LATENCY_METRICS or metric == FLOW_METRIC:
        return ("pNN", *AGGREGATE_STATS, *COUNT_STATS)
    if metric == "users":
        return AGGREGATE_STATS
    return ("pNN", *AGGREGATE_STATS)


def _check_stat(stat: str, metric: str) -> None:
    match = _PERCENTILE.fullmatch(stat)
    if match:
        value = float(stat[1:])
        if not 0 < value <= 100:
            raise ThresholdSyntaxError(f"percentile {stat!r} must be above p0 and at most p100")
        if "pNN" in _stats_for(metric):
            return
    elif stat in _stats_for(metric):
        return
    known = (*AGGREGATE_STATS, *COUNT_STATS)
    if not match and stat not in known:
        hint = "; the median is p50" if stat == "median" else did_you_mean(stat, known)
        raise ThresholdSyntaxError(
            f"unknown statistic {stat!r}; expected one of pNN (p50, p95, p99.9), "
            + ", ".join(known)
            + hint
        )
    allowed = ", ".join(_stats_for(metric))
    raise ThresholdSyntaxError(f"{stat}({metric}) makes no sense; {metric} accepts {allowed}")


def _unit_kind(stat: str, metric: str) -> str:
    if stat in ("success_rate", "error_rate"):
        return "percent"
    if stat == "rate":
        return "rate"
    if stat == "count" or metric == "users":
        return "count"
    if metric == "process.rss":
        return "size"
    if metric == "process.cpu":
        return "percent"
    return "time"


_UNIT_HINT = {
    "time": "a time unit (ns, us, ms, s, m, h)",
    "size": "a size unit (B, KB, MB, GB)",
    "percent": "a percentage (%)",
    "rate": "a rate unit (/s, /m, /h)",
}
_COUNTED = {
    "http": "requests",
    "ws": "round trips",
    "ws_connect": "connections",
    FLOW_METRIC: "passes",
}


def _no_unit_message(what: str, kind: str, number: str) -> str:
    """A bare number where a unit is needed: say which, and how to write it."""
    if kind == "percent":
        return f"{what} needs a percentage (%): write {number}%"
    examples = {"time": "ms or {n}s", "size": "MB", "rate": "/s"}[kind].format(n=number)
    return f"{what} needs {_UNIT_HINT[kind]}: write e.g. {number}{examples}"


def _normalise(
    number: Fraction, written: str, unit: str, kind: str, what: str, metric: str
) -> tuple[float, Unit]:
    """The limit in the kind's one unit: ms, B, % or /s (a count has none)."""
    if kind == "time" and unit in _TIME_UNITS_MS:
        return float(number * _TIME_UNITS_MS[unit]), "ms"
    if kind == "size" and unit in BYTES_PER_UNIT:
        return float(number * BYTES_PER_UNIT[unit]), "B"
    if kind == "percent" and unit == "%":
        if not 0 <= number <= 100 and metric != "process.cpu":
            raise ThresholdSyntaxError(f"a percentage must be between 0% and 100%, got {number}%")
        return float(number), "%"
    if kind == "rate" and unit in _RATE_UNITS:
        return float(number * _RATE_UNITS[unit]), "/s"
    if kind == "count" and unit == "":
        return float(number), ""
    if kind == "count":
        counted = "the users held" if metric == "users" else f"a number of {_COUNTED[metric]}"
        message = f"{what} takes no unit ({counted}), got unit {unit!r}: write {written}"
        if unit in _RATE_UNITS:
            selector = what[what.find("(") + 1 : -1] if what.endswith(")") else metric
            message += f"; for {_COUNTED[metric]} per second, use rate({selector})"
        raise ThresholdSyntaxError(message)
    if unit == "":
        raise ThresholdSyntaxError(_no_unit_message(what, kind, written))
    raise ThresholdSyntaxError(f"{what} needs {_UNIT_HINT[kind]}, got unit {unit!r}")


def _combined_duration_ms(value: str, kind: str, what: str) -> Fraction:
    """``1m30s`` → 90000 ms: a duration written as durations are everywhere in a spec."""
    if kind != "time":
        raise ThresholdSyntaxError(f"{what} needs {_UNIT_HINT[kind]}, got {value!r}")
    try:
        return Fraction(parse_duration_ns(value), 1_000_000)
    except ValueError as exc:
        raise ThresholdSyntaxError(f"{what}: {exc}") from None


def _check_can_decide(text: str, stat: str, op: str, limit: float) -> None:
    """Every statistic is at least 0 (a success or error rate at most 100%; process.cpu can
    pass 100%, a core each): a threshold no run could meet, or every run meets, is refused."""
    top = 100.0 if stat in ("success_rate", "error_rate") else None
    never = (op == "<" and limit == 0) or (top is not None and op == ">" and limit >= top)
    always = (op == ">=" and limit == 0) or (top is not None and op == "<=" and limit >= top)
    if never:
        raise ThresholdSyntaxError(f"{' '.join(text.split())} can never hold")
    if always:
        raise ThresholdSyntaxError(f"{' '.join(text.split())} always holds: it promises nothing")


def parse_threshold(text: str, *, flows: bool = False) -> Threshold:
    """Parse one threshold expression; raise ThresholdSyntaxError saying what is wrong.

    ``flows``: the metric ``flow.<scenario>`` of format 2 is known (format 1 does not have it).
    """
    if not isinstance(text, str) or not text.strip():
        raise ThresholdSyntaxError("empty threshold; expected e.g. 'p95(http) < 200ms'")
    if text.count("(") != text.count(")"):
        which = "unclosed '('" if text.count("(") > text.count(")") else "unmatched ')'"
        raise ThresholdSyntaxError(f"cannot parse {text!r}: {which}")
    match = _SYNTAX.fullmatch(text)
    if not match:
        raise ThresholdSyntaxError(
            f"cannot parse {text!r}; expected STAT(METRIC) OP VALUE, e.g. 'p95(http) < 200ms'"
        )
    op = match["op"]
    if op not in ("<", "<=", ">", ">="):
        raise ThresholdSyntaxError(f"operator {op!r} is not supported; use <, <=, > or >=")
    if match["bare"] is not None:
        metric, scope = _split_selector(match["bare"], flows)
        if metric != "users":
            bare = match["bare"]
            raise ThresholdSyntaxError(f"{bare} needs a statistic, e.g. p95({bare}) or max({bare})")
        stat = "max"
    else:
        metric, scope = _split_selector(match["selector"], flows)
        stat = match["stat"]
        _check_stat(stat, metric)
    mantissa, _, exponent = match["number"].lower().partition("e")
    if len(mantissa) > 40 or len(exponent.lstrip("+-0")) > 2:
        # Fraction("1e99999999") would compute a 100-million-digit integer first.
        raise ThresholdSyntaxError(f"the limit {match['number'][:40]!r} is too large")
    try:
        number = Fraction(match["number"])
    except (ValueError, ZeroDivisionError) as exc:  # pragma: no cover - regex admits only numbers
        raise ThresholdSyntaxError(f"cannot read the number {match['number']!r}") from exc
    if number < 0:
        raise ThresholdSyntaxError(f"a limit cannot be negative, got {match['number']}")
    if number > 10**15:
        raise ThresholdSyntaxError(f"the limit {match['number']} is too large")
    kind = _unit_kind(stat, metric)
    what = f"{stat}({match['selector']})" if match["bare"] is None else metric
    written_unit = "".join(match["unit"].split())  # "50 / s" is 50/s, as in a stage's rate
    if match["more"]:
        value = match["number"] + written_unit + match["more"]
        limit: float = float(_combined_duration_ms(value, kind, what))
        unit: Unit = "ms"
    else:
        limit, unit = _normalise(number, match["number"], written_unit, kind, what, metric)
    _check_can_decide(text, stat, op, limit)
    return Threshold(
        text=" ".join(text.split()),
        metric=metric,
        scope=scope,
        stat=stat,
        op=op,  # type: ignore[arg-type]
        limit=limit,
        unit=unit,
    )
