"""What ``sla-runner capacity`` was asked, checked against the spec; the step's spec."""

from __future__ import annotations

from fractions import Fraction

import pytest

from sla_runner.capacity.measure import (
    STEP_STAGE,
    WARMUP_STAGE,
    StepTiming,
    default_step_duration,
    judged_rules,
    step_spec,
)
from sla_runner.capacity.outcome import PromisedLevel
from sla_runner.capacity.settings import CapacityOptions, plan_capacity, plan_for
from sla_runner.errors import UsageError
from sla_runner.plan import build_plan
from sla_runner.spec.loader import load_spec_text
from sla_runner.spec.models import Spec
from sla_runner.spec.units import Duration
from tests.support.paths import ROOT


def spec(load: str, thresholds: str = "  - p95(http) < 200ms\n") -> Spec:
    text = (
        "version: 1\nname: s\nsla_version: 1.0.0\ntarget: {base_url: 'http://127.0.0.1:1'}\n"
        "endpoints: {a: {method: GET, path: /}}\n"
        f"load:\n{load}thresholds:\n{thresholds}"
    )
    return load_spec_text(text, env={}).spec


CLOSED = spec(
    "  stages:\n    - {duration: 10s, users: 25}\n    - {name: steady, duration: 1m, users: 25}\n"
)
OPEN = spec("  stages:\n    - {duration: 20s, rate: 50/s}\n")


def test_the_defaults_follow_the_spec() -> None:
    plan = plan_for(CLOSED, CapacityOptions())
    s = plan.settings
    assert (s.scenario, s.model, s.unit) == ("default", "closed", "users")
    assert (s.from_level, s.to_level) == (6, 100)  # 4 x the peak 25; a sixteenth of it
    assert plan.ladder.levels() == [6, 12, 24, 48, 96, 100]
    assert (s.step_duration_s, s.warmup_s) == (60.0, 12.0)  # the steady stage; a fifth
    assert (s.step, s.resolution) == ("x2", "5%")
    assert plan.resolution.percent == 5
    opened = plan_for(OPEN, CapacityOptions()).settings
    assert (opened.unit, opened.to_level, opened.step_duration_s) == ("/s", 200, 30.0)


def test_options_as_typed() -> None:
    plan = plan_for(
        OPEN,
        CapacityOptions(
            from_level="100/s",
            to_level="12000/m",
            step="+50",
            resolution="10",
            step_duration="5s",
            warmup="1s",
        ),
    )
    assert plan.ladder.levels() == [100, 150, 200]
    assert plan.resolution.absolute == 10
    assert plan.timing == StepTiming(Duration.parse("5s"), Duration.parse("1s"))
    assert plan_for(OPEN, CapacityOptions(step="x1.5")).ladder.factor == Fraction(3, 2)


@pytest.mark.parametrize(
    ("spec_", "options", "message"),
    [
        (CLOSED, CapacityOptions(from_level="10/s"), "--from: the scenario runs users"),
        (CLOSED, CapacityOptions(to_level="lots"), "--to: expected a whole number of users"),
        (OPEN, CapacityOptions(to_level="0.5/s"), "--to: expected a whole level of at least 1"),
        (CLOSED, CapacityOptions(from_level="50", to_level="40"), "--from 50 is above --to 40"),
        (CLOSED, CapacityOptions(step="2"), "--step: expected x2 (multiply, geometric) or +10"),
        (CLOSED, CapacityOptions(step="x1"), "--step x1: a geometric step multiplies by more"),
        (CLOSED, CapacityOptions(step="+2.5"), "--step: a linear step adds a whole level"),
        (CLOSED, CapacityOptions(resolution="0%"), "--resolution: a resolution is above 0%"),
        (CLOSED, CapacityOptions(resolution="some"), "--resolution: expected a percentage"),
        (CLOSED, CapacityOptions(step_duration="soon"), "--step-duration:"),
        (CLOSED, CapacityOptions(step_duration="5s", warmup="5s"), "--warmup: the warm-up (5s)"),
        (CLOSED, CapacityOptions(scenario="shoppers"), "--scenario: the spec has no scenario"),
    ],
)
def test_an_option_that_cannot_work_is_one_line_naming_it(
    spec_: Spec, options: CapacityOptions, message: str
) -> None:
    with pytest.raises(UsageError) as caught:
        plan_for(spec_, options)
    assert str(caught.value).startswith(message), str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_promise_outside_the_range_searched_is_refused_and_inside_it_is_decided() -> None:
    promised = PromisedLevel("default", 150, "users")
    with pytest.raises(UsageError, match="promises capacity >= 150 users, outside --from 6"):
        plan_capacity(CLOSED, {"default": "closed"}, CapacityOptions(to_level="100"), promised)
    plan = plan_capacity(CLOSED, {"default": "closed"}, CapacityOptions(), promised)
    assert plan.settings.to_level == 300  # twice the promise
    assert plan.promised == promised


def test_several_scenarios_need_one_named() -> None:
    scenarios = {"shoppers": "closed", "api": "open"}
    with pytest.raises(UsageError, match=r"several scenarios \(api, shoppers\); name one"):
        plan_capacity(CLOSED, scenarios, CapacityOptions(), None)
    chosen = plan_capacity(CLOSED, scenarios, CapacityOptions(scenario="api"), None)
    assert (chosen.settings.scenario, chosen.settings.unit) == ("api", "/s")


def test_the_step_duration_defaults_to_the_steady_stage_else_the_longest_hold() -> None:
    assert default_step_duration(CLOSED) == Duration.parse("1m")
    held = spec(
        "  stages:\n    - {duration: 5s, users: 5}\n    - {duration: 20s, users: 5}\n"
        "    - {duration: 40s, users: 9}\n"
    )
    assert default_step_duration(held) == Duration.parse("20s")  # the last is a ramp
    assert default_step_duration(OPEN) == Duration.parse("30s")


def test_a_step_holds_the_level_after_a_warm_up_and_judges_every_threshold_during_it() -> None:
    source = spec(
        "  stages:\n    - {duration: 10s, users: 25}\n"
        "    - {name: steady, duration: 1m, users: 25}\n"
        "  think_time: 100ms\n",
        "  - p95(http) < 200ms\n"
        "  - {expr: p95(http) < 200ms, during: steady, severity: warn}\n"
        "  - {expr: p99(http) < 400ms, during: steady, description: tail}\n"
        "  - users >= 25\n"
        "  - count(http) > 10\n",
    )
    stepped = step_spec(source, 40, StepTiming(Duration.parse("10s"), Duration.parse("2s")))
    assert [(s.name, s.duration, s.users) for s in stepped.load.stages] == [
        (WARMUP_STAGE, Duration.parse("2s"), 40),
        (STEP_STAGE, Duration.parse("8s"), 40),
    ]
    assert stepped.load.think_time == source.load.think_time
    rules = [(r.expr.text, r.during, r.severity, r.description) for r in stepped.thresholds]
    assert rules == [
        ("p95(http) < 200ms", STEP_STAGE, "fail", None),  # the same threshold twice: once
        ("p99(http) < 400ms", STEP_STAGE, "fail", "tail"),
    ]
    plan = build_plan(stepped)
    assert plan.users_at(Duration.parse("1s").ns) == 20  # ramping up during the warm-up
    assert plan.users_at(Duration.parse("5s").ns) == 40
    _, left_out = judged_rules(source)
    assert left_out == [
        "users >= 25: judges the load's size, which the search sets",
        "count(http) > 10: judges the load's size, which the search sets",
    ]


def test_an_open_step_holds_a_rate() -> None:
    stepped = step_spec(OPEN, 120, StepTiming(Duration.parse("5s"), Duration.parse("1s")))
    assert [str(s.rate) for s in stepped.load.stages] == ["120/s", "120/s"]


def test_the_readme_worked_example_is_a_valid_spec_with_a_3s_step() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Finding the capacity: `sla-runner capacity`", 1)[1]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    loaded = load_spec_text(example, "README.md", env={})
    plan = plan_for(loaded.spec, CapacityOptions(from_level="20", to_level="160", warmup="1s"))
    assert plan.timing == StepTiming(Duration.parse("3s"), Duration.parse("1s"))
    assert plan.ladder.levels() == [20, 40, 80, 160]
    assert judged_rules(loaded.spec)[1] == [
        "rate(http) >= 40/s: judges the load's size, which the search sets"
    ]
