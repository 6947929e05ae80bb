"""Format 2's checks that read across the spec, on whatever of it can be read.

A step names an endpoint, a scenario names channels and tables, a threshold names an
endpoint, a channel, a scenario or a stage: each name must exist, and fit (a flow metric
needs a scenario with a flow, channels need users). The checks read the spec as data
(:class:`View`, built from the mapping as written, or from a valid model's dump), so they run
in the same round as the field errors: what cannot be read (its own error says why) is left
out, never guessed. A name nobody declared is one error, at its position: what follows from
it (the values its step extracts, the traffic a threshold needs, the rows a table deals) is
read from the name its error suggests (:meth:`View.meant`), as if fixed. Templates are checked
by :mod:`sla_runner.spec.templated` on the same view.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from sla_runner.spec.checks import UNREADABLE, Fields, Loc, under
from sla_runner.spec.load2 import StageV2, stage_kind
from sla_runner.spec.parts import ThresholdRuleV2, as_rule, series_aliases
from sla_runner.spec.suggest import closest, did_you_mean
from sla_runner.spec.thresholds import Threshold
from sla_runner.spec.units import MAX_MIX_WHEEL, Duration, mix_counts
from sla_runner.timeunits import NS_PER_S

Model = Literal["closed", "open"]
Declared = Literal["endpoint", "channel", "table"]


@dataclass(frozen=True)
class Finding:
    """One problem: where (``loc`` in the document; a trailing ``"[key]"`` means the key),
    what, and, for a problem inside a string (a template, a JSON path), its ``offset``."""

    loc: Loc
    message: str
    offset: int | None = None


@dataclass(frozen=True)
class StepRef:
    loc: Loc
    request: str | None  # None: not readable


@dataclass(frozen=True)
class ScenarioRefs:
    name: str
    model: Model | None
    stages: tuple[tuple[str, Loc], ...]
    flow: tuple[StepRef, ...] | None
    setup: tuple[StepRef, ...]
    mix: dict[str, float | None] | None
    channels: tuple[tuple[str, Loc], ...]
    data: dict[str, str | None]  # table → user | pass (None: not readable)
    load_keys: frozenset[str]  # what the load mapping writes
    # (start, end) from the run's start, and each named stage's (start, end): None where a
    # duration cannot be read
    span_ns: tuple[int, int] | None = None
    stage_spans: dict[str, tuple[int, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class RuleRefs:
    index: int
    expr: Threshold | None
    scenario: str | None
    during: str | None
    readable: bool  # scenario, during, window, for and warmup could be read
    # window, for and warmup, in whole seconds as written (None: not given or not readable)
    windows: tuple[int | None, int | None, int | None] = (None, None, None)


@dataclass(frozen=True)
class View:
    """What the checks read of a format-2 spec."""

    data: Mapping[str, Any]  # the whole document, as written (interpolated)
    endpoints: dict[str, Mapping[str, Any]]
    channels: dict[str, Mapping[str, Any]]
    extracts: dict[str, tuple[str, ...]]  # endpoint → the variables it extracts
    tables: dict[str, tuple[str, ...] | None]  # declared table → its columns, when known
    before: tuple[StepRef, ...]
    scenarios: dict[str, ScenarioRefs]
    thresholds: list[RuleRefs]
    process: bool | None
    errors: list[Loc] = field(default_factory=list)
    series: frozenset[str] | None = None  # target.metrics' aliases (empty: no target.metrics)

    def meant(self, kind: Declared, name: str | None) -> str | None:
        """The declared endpoint, channel or table a name stands for: itself, or for a name
        nobody declared, the one its error suggests ("did you mean …"). The checks that follow
        from a name read what it stands for, so a misspelt name is one error, not also what its
        typo leaves unsent, unextracted or undealt (fixing it as suggested leaves nothing else).
        None: nothing is suggested (what follows is said, with what would serve), the name is
        of the other kind (``prices is a channel``), or it cannot be read."""
        if name is None:
            return None
        names: dict[str, tuple[Collection[str], Collection[str]]] = {
            "endpoint": (self.endpoints, self.channels),
            "channel": (self.channels, self.endpoints),
            "table": (self.tables, ()),
        }
        declared, other = names[kind]
        if name in declared:
            return name
        return None if name in other else closest(name, sorted(declared))

    def sends(self, s: ScenarioRefs) -> list[str]:
        """The endpoints a scenario sends (setup, flow, mix), as meant."""
        steps = [step.request for step in (*s.setup, *(s.flow or ()))]
        names = (self.meant("endpoint", name) for name in [*steps, *(s.mix or {})])
        return list(dict.fromkeys(name for name in names if name is not None))

    def holds(self, s: ScenarioRefs) -> list[tuple[str, Loc]]:
        """The channels a scenario holds, as meant, each with where it is named."""
        meant = ((self.meant("channel", name), loc) for name, loc in s.channels)
        return [(name, loc) for name, loc in meant if name is not None]

    def deals(self, s: ScenarioRefs) -> dict[str, str | None]:
        """The tables a scenario deals rows of, as meant: table → user | pass."""
        out: dict[str, str | None] = {}
        for name, mode in sorted(s.data.items(), key=lambda item: item[0] not in self.tables):
            meant = self.meant("table", name)
            if meant is not None:
                out.setdefault(meant, mode)
        return out

    def stage_owners(self) -> dict[str, str]:
        """Each stage name → the (first) scenario that has it."""
        owners: dict[str, str] = {}
        for scenario in self.scenarios.values():
            for stage, _ in scenario.stages:
                owners.setdefault(stage, scenario.name)
        return owners


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _named(value: Any) -> dict[str, Mapping[str, Any]]:
    return {k: _mapping(v) for k, v in _mapping(value).items() if isinstance(k, str)}


def _steps(raw: Any, at: Loc) -> tuple[StepRef, ...]:
    steps = raw if isinstance(raw, list) else []
    out = []
    for i, step in enumerate(steps):
        request = step.get("request") if isinstance(step, dict) else step
        out.append(StepRef((*at, i), request if isinstance(request, str) else None))
    return tuple(out)


def _seconds(value: Any) -> int | None:
    if isinstance(value, Duration) and value.ns >= NS_PER_S and not value.ns % NS_PER_S:
        return value.ns // NS_PER_S
    return None


def _number(value: Any) -> float | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and 0 < value <= 1e6
    return float(value) if ok else None


def _scenario(name: str, raw: Mapping[str, Any], errors: list[Loc]) -> ScenarioRefs:
    at: Loc = ("scenarios", name)
    load = _mapping(raw.get("load"))
    stages: list[Any] = load["stages"] if isinstance(load.get("stages"), list) else []
    kinds, names = set(), []
    start = _duration_ns(raw.get("start", "0s"))
    clock: int | None = start
    spans: dict[str, tuple[int, int]] = {}
    for i, stage in enumerate(stages):
        if not isinstance(stage, dict):
            clock = None
            continue
        view = Fields.of_data(StageV2, stage, under(errors, (*at, "load", "stages", i)))
        kind = stage_kind(view)
        if kind is not None:
            kinds.add(kind)
        duration = view["duration"]
        begin = clock
        clock = (
            clock + duration.ns if clock is not None and isinstance(duration, Duration) else None
        )
        if isinstance(stage.get("name"), str):
            names.append((stage["name"], (*at, "load", "stages", i, "name")))
            if begin is not None and clock is not None:
                spans[stage["name"]] = (begin, clock)
    mix = raw.get("mix")
    channels: list[Any] = raw["channels"] if isinstance(raw.get("channels"), list) else []
    return ScenarioRefs(
        name=name,
        model=kinds.pop() if len(kinds) == 1 else None,
        stages=tuple(names),
        flow=_steps(raw["flow"], (*at, "flow")) if raw.get("flow") is not None else None,
        setup=_steps(raw.get("setup"), (*at, "setup")),
        mix={k: _number(v) for k, v in mix.items()} if isinstance(mix, dict) else None,
        channels=tuple(
            (c, (*at, "channels", i)) for i, c in enumerate(channels) if isinstance(c, str)
        ),
        data={
            k: v if v in ("user", "pass") else None
            for k, v in _mapping(raw.get("data")).items()
            if isinstance(k, str)
        },
        load_keys=frozenset(k for k, v in load.items() if v is not None),
        span_ns=(start, clock) if start is not None and clock is not None and stages else None,
        stage_spans=spans,
    )


def _duration_ns(value: Any) -> int | None:
    if isinstance(value, str):
        try:
            return Duration.parse(value).ns
        except ValueError:
            return None
    return None


def read(
    data: Any, errors: list[Loc], columns: Mapping[str, tuple[str, ...]] | None = None
) -> View:
    """The view of a document (``errors``: the locations of its validation errors);
    ``columns``: the columns of the tables that were loaded."""
    data = _mapping(data)
    endpoints = _named(data.get("endpoints"))
    rules: list[RuleRefs] = []
    items = data.get("thresholds")
    for i, item in enumerate(items if isinstance(items, list) else []):
        rule = as_rule(item)
        if isinstance(rule, dict):
            view = Fields.of_data(ThresholdRuleV2, rule, under(errors, ("thresholds", i)))
            expr, scenario, during = view["expr"], view["scenario"], view["during"]
            options = ("window", "for_", "warmup")
            rules.append(
                RuleRefs(
                    i,
                    expr if isinstance(expr, Threshold) else None,
                    scenario if isinstance(scenario, str) else None,
                    during if isinstance(during, str) else None,
                    UNREADABLE not in (scenario, during)
                    and all(_seconds(view[k]) for k in options if k in view.given),
                    (_seconds(view["window"]), _seconds(view["for_"]), _seconds(view["warmup"])),
                )
            )
    target = data.get("target")
    return View(
        data=data,
        endpoints=endpoints,
        channels=_named(data.get("channels")),
        extracts={
            name: tuple(k for k in _mapping(e.get("extract")) if isinstance(k, str))
            for name, e in endpoints.items()
        },
        tables={name: (columns or {}).get(name) for name in _named(data.get("data"))},
        before=_steps(data.get("before"), ("before",)),
        scenarios={
            name: _scenario(name, raw, errors)
            for name, raw in _named(data.get("scenarios")).items()
        },
        thresholds=rules,
        process=target.get("process") is not None if isinstance(target, dict) else None,
        errors=errors,
        series=series_aliases(target),
    )


def unknown(kind: str, name: str, declared: list[str], *, what: str = "declared") -> str:
    """``no endpoint named 'x'; declared: a, b; did you mean …?``"""
    if kind == "stage" and not declared:  # there are stages, none named: say to name one
        return (
            f"no stage named {name!r}: no stage has a name; name the stage it means "
            f"({{name: {name}, duration: ...}})"
        )
    valid = ", ".join(sorted(declared)) or "none"
    return f"no {kind} named {name!r}; {what}: {valid}" + did_you_mean(name, sorted(declared))


def _endpoint_name(view: View, name: str, loc: Loc) -> list[Finding]:
    if name in view.endpoints:
        return []
    if name in view.channels:
        return [
            Finding(
                loc,
                f"{name} is a channel; a step sends an endpoint's request "
                f"(a scenario holds channels: channels: [{name}])",
            )
        ]
    return [Finding(loc, unknown("endpoint", name, list(view.endpoints)))]


def reference_findings(view: View) -> list[Finding]:
    """Every problem of names and models across the spec."""
    found: list[Finding] = []
    written = [view.data.get(key, {}) for key in ("endpoints", "channels")]
    if not view.endpoints and not view.channels and all(isinstance(w, dict) for w in written):
        found.append(Finding((), "declare at least one endpoint or channel"))
    for step in view.before:
        if step.request is not None:
            found += _endpoint_name(view, step.request, step.loc)
    owner: dict[str, str] = {}
    for scenario in view.scenarios.values():
        found += _scenario_findings(view, scenario)
        for stage, loc in scenario.stages:
            first = owner.setdefault(stage, scenario.name)
            if first != scenario.name:
                found.append(
                    Finding(
                        loc,
                        f"stage {stage!r} is also a stage of scenario {first}: stage "
                        "names are unique across scenarios (during: names one)",
                    )
                )
    return found


def _scenario_findings(view: View, s: ScenarioRefs) -> list[Finding]:
    at: Loc = ("scenarios", s.name)
    found: list[Finding] = []
    if s.flow is not None and s.mix is not None:
        found.append(Finding(at, "give flow or mix, not both"))
    elif s.flow is None and s.mix is None and not s.channels:
        found.append(Finding(at, "give a flow (ordered steps) or a mix (weighted endpoints)"))
    if s.model == "open" and s.channels:
        found.append(
            Finding(
                (*at, "channels"),
                "channels are held open by virtual users, which an open "
                "scenario (rate) does not have; hold them in a closed scenario (users)",
            )
        )
    if s.model == "closed" and "max_in_flight" in s.load_keys:
        found.append(
            Finding(
                (*at, "load", "max_in_flight"),
                "applies to open scenarios (rate stages) "
                "only: each user of a closed scenario has one request in flight",
            )
        )
    if s.model == "open" and s.mix is not None:
        if "think_time" in s.load_keys:
            found.append(
                Finding(
                    (*at, "load", "think_time"),
                    "an open scenario with a mix sends "
                    "independent requests, each its own arrival: think_time has no effect "
                    "(a flow pauses between its steps)",
                )
            )
        if s.setup:
            found.append(
                Finding(
                    (*at, "setup"),
                    "an open scenario with a mix has no users to set up "
                    "(each request is its own arrival); with a flow, each arrival runs "
                    "setup, then the flow once",
                )
            )
    for step in (*s.setup, *(s.flow or ())):
        if step.request is not None:
            found += _endpoint_name(view, step.request, step.loc)
    for name in s.mix or {}:
        found += _endpoint_name(view, name, (*at, "mix", name, "[key]"))
    weights = {k: w for k, w in (s.mix or {}).items() if w is not None}
    if weights and sum(mix_counts(weights.values())) > MAX_MIX_WHEEL:
        found.append(_mix_too_long(at, weights))
    for name, loc in s.channels:
        if name in view.endpoints and name not in view.channels:
            found.append(
                Finding(
                    loc,
                    f"{name} is an endpoint; a scenario sends endpoints in "
                    "its flow or mix, and holds channels",
                )
            )
        elif name not in view.channels:
            found.append(Finding(loc, unknown("channel", name, list(view.channels))))
    for table in s.data:
        if table not in view.tables:
            loc = (*at, "data", table, "[key]")
            found.append(Finding(loc, unknown("data table", table, list(view.tables))))
    return found


def _mix_too_long(at: Loc, weights: dict[str, float]) -> Finding:
    total = sum(mix_counts(weights.values()))
    light = min(weights, key=lambda name: weights[name])
    heavy = max(weights, key=lambda name: weights[name])
    needs = f"{total:,}" if total < 10**15 else "more than 10^15"
    return Finding(
        (*at, "mix", light),
        f"the weights ({light} {weights[light]:,.15g} … {heavy} {weights[heavy]:,.15g}) make "
        f"an exact mix that comes round only after {needs} requests (the weights in lowest "
        f"whole numbers, added up); at most {MAX_MIX_WHEEL:,} are supported, i.e. up to "
        f"1 : {MAX_MIX_WHEEL - 1:,} between two endpoints; round the weights",
    )
