"""What ``sla-runner capacity`` was asked, checked against the spec; the step's spec."""

from __future__ import annotations

from fractions import Fraction

import pytest

from sla_runner.capacity.outcome import PromisedLevel
from sla_runner.capacity.settings import CapacityOptions, plan_capacity
from sla_runner.capacity.stepspec import StepTiming, judged_rules
from sla_runner.errors import UsageError
from sla_runner.spec.document import load_document_text
from sla_runner.spec.format2 import SpecV2
from sla_runner.spec.units import Duration
from tests.support.paths import ROOT


def spec(load: str, thresholds: str = "  - p95(http) < 200ms\n") -> SpecV2:
    text = (
        "version: 1\nname: s\nsla_version: 1.0.0\ntarget: {base_url: 'http://127.0.0.1:1'}\n"
        "endpoints: {a: {method: GET, path: /}}\n"
        f"load:\n{load}thresholds:\n{thresholds}"
    )
    return load_document_text(text, env={}).spec


CLOSED = spec(
    "  stages:\n    - {duration: 10s, users: 25}\n    - {name: steady, duration: 1m, users: 25}\n"
)
OPEN = spec("  stages:\n    - {duration: 20s, rate: 50/s}\n")


def test_the_defaults_follow_the_spec() -> None:
    plan = plan_capacity(CLOSED, CapacityOptions())
    s = plan.settings
    assert (s.scenario, s.model, s.unit) == ("default", "closed", "users")
    assert (s.from_level, s.to_level) == (6, 100)  # 4 x the peak 25; a sixteenth of it
    assert plan.ladder.levels() == [6, 12, 24, 48, 96, 100]
    assert (s.step_duration_s, s.warmup_s) == (60.0, 12.0)  # the steady stage; a fifth
    assert (s.step, s.resolution) == ("x2", "5%")
    assert plan.resolution.percent == 5
    opened = plan_capacity(OPEN, CapacityOptions()).settings
    assert (opened.unit, opened.to_level, opened.step_duration_s) == ("/s", 200, 30.0)


def test_options_as_typed() -> None:
    plan = plan_capacity(
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
    assert plan_capacity(OPEN, CapacityOptions(step="x1.5")).ladder.factor == Fraction(3, 2)


@pytest.mark.parametrize(
    ("spec_", "options", "message"),
    [
        (CLOSED, CapacityOptions(from_level="10/s"), "--from: the scenario runs users"),
        (CLOSED, CapacityOptions(to_level="lots"), "--to: expected a whole number of users"),
        (OPEN, CapacityOptions(to_level="0.5/s"), "--to: expected a whole level of at least 1"),
        (CLOSED, CapacityOptions(from_level="50", to_level="40"), "--from 50 is above --to 40"),
        # levels as they were typed, with their units
        (
            OPEN,
            CapacityOptions(from_level="100/s", to_level="10/s"),
            "--from 100/s is above --to 10/s",
        ),
        (
            OPEN,
            CapacityOptions(from_level="300/s", to_level="6000/m"),
            "--from 300/s is above --to 6000/m (100/s)",
        ),
        (
            OPEN,
            CapacityOptions(from_level="300"),
            "--from 300 is above --to 200/s (the default)",
        ),
        (
            CLOSED,
            CapacityOptions(from_level="150"),
            "--from 150 is above --to 100 users (the default)",
        ),
        (CLOSED, CapacityOptions(step="2"), "--step: expected x2 (multiply, geometric) or +10"),
        (CLOSED, CapacityOptions(step="x1"), "--step x1: a geometric step multiplies by more"),
        (CLOSED, CapacityOptions(step="+2.5"), "--step: a linear step adds a whole level"),
        (CLOSED, CapacityOptions(resolution="0%"), "--resolution: a resolution is above 0%"),
        (CLOSED, CapacityOptions(resolution="some"), "--resolution: expected a percentage"),
        (CLOSED, CapacityOptions(step_duration="soon"), "--step-duration:"),
        # the option that is wrong, not the warm-up the user did not give
        (CLOSED, CapacityOptions(step_duration="0s"), "--step-duration: a step lasts more"),
        (
            CLOSED,
            CapacityOptions(step_duration="0s", warmup="1s"),
            "--step-duration: a step lasts more",
        ),
        (CLOSED, CapacityOptions(step_duration="5s", warmup="5s"), "--warmup: the warm-up (5s)"),
        (CLOSED, CapacityOptions(scenario="shoppers"), "--scenario: the spec has no scenario"),
    ],
)
def test_an_option_that_cannot_work_is_one_line_naming_it(
    spec_: SpecV2, options: CapacityOptions, message: str
) -> None:
    with pytest.raises(UsageError) as caught:
        plan_capacity(spec_, options)
    assert str(caught.value).startswith(message), str(caught.value)
    assert "\n" not in str(caught.value)


TWO = """\
version: 2
name: two
sla_version: 1.0.0
target: {base_url: "http://127.0.0.1:1"}
endpoints: {a: {method: GET, path: /}}
scenarios:
  shoppers: {load: {stages: [{name: steady, duration: 10s, users: 25}]}, mix: {a: 1}}
  api: {load: {stages: [{duration: 5s, rate: 10/s}]}, mix: {a: 1}}
"""


def test_a_promise_outside_the_range_searched_is_refused_and_inside_it_is_decided() -> None:
    promised = load_document_text(
        TWO + 'capacity: {scenario: shoppers, users: ">= 150"}\n', env={}
    ).spec
    with pytest.raises(
        UsageError,
        match=r"promises capacity >= 150 users, outside --from 6 users \(the default\) \.\. "
        "--to 100:",
    ):
        plan_capacity(promised, CapacityOptions(scenario="shoppers", to_level="100"))
    plan = plan_capacity(promised, CapacityOptions(scenario="shoppers"))
    assert plan.settings.to_level == 300  # twice the promise
    assert plan.promised == PromisedLevel("shoppers", 150, "users")
    assert plan.timing.duration == Duration.parse("10s")  # the scenario's steady stage
    other = plan_capacity(promised, CapacityOptions(scenario="api"))
    assert other.promised is None  # the promise is another scenario's
    by_default = plan_capacity(promised, CapacityOptions(to_level="300"))
    assert by_default.settings.scenario == "shoppers"  # the one the promise names


def test_several_scenarios_need_one_named() -> None:
    two = load_document_text(TWO, env={}).spec
    with pytest.raises(UsageError, match=r"several scenarios \(api, shoppers\); name one"):
        plan_capacity(two, CapacityOptions())
    chosen = plan_capacity(two, CapacityOptions(scenario="api"))
    assert (chosen.settings.scenario, chosen.settings.unit) == ("api", "/s")
    assert chosen.settings.to_level == 40  # 4 x its own peak


def test_the_readme_worked_example_is_a_valid_spec_with_a_3s_step() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Finding the capacity: `sla-runner capacity`", 1)[1]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    loaded = load_document_text(example, "README.md", env={})
    plan = plan_capacity(loaded.spec, CapacityOptions(from_level="20", to_level="160", warmup="1s"))
    assert plan.timing == StepTiming(Duration.parse("3s"), Duration.parse("1s"))
    assert plan.ladder.levels() == [20, 40, 80, 160]
    assert judged_rules(loaded.spec, "default")[1] == [
        "rate(http) >= 40/s: judges the load's size, which the search sets"
    ]
