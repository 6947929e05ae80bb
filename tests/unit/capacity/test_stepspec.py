"""A format-2 spec at one capacity level: the searched scenario alone, a warm-up and a step."""

from __future__ import annotations

from fractions import Fraction

import pytest

from sla_runner.capacity.outcome import PromisedLevel
from sla_runner.capacity.stepspec import (
    STEP_STAGE,
    WARMUP_STAGE,
    StepTiming,
    default_step_duration,
    judged_rules,
    peak_level,
    promised_level,
    scenario_models,
    step_spec,
)
from sla_runner.spec.document import load_document, load_document_text
from sla_runner.spec.format2 import SpecV2
from sla_runner.spec.units import Duration
from tests.support.paths import ROOT

TIMING = StepTiming(Duration.parse("5s"), Duration.parse("1s"))


@pytest.fixture(scope="module")
def shop() -> SpecV2:
    return load_document(ROOT / "specs" / "format2" / "shop.yaml", env={}).spec


def test_each_scenario_its_model_peak_and_steady_stage(shop: SpecV2) -> None:
    assert scenario_models(shop) == {"shoppers": "closed", "visitors": "open"}
    assert [peak_level(shop, name) for name in shop.scenarios] == [20, 50]
    assert default_step_duration(shop, "shoppers") == Duration.parse("30s")


def test_a_closed_step_holds_its_users_from_the_first_instant(shop: SpecV2) -> None:
    stepped = step_spec(shop, "shoppers", 40, TIMING)
    assert list(stepped.scenarios) == ["shoppers"]
    stages = stepped.scenarios["shoppers"].load.stages
    assert [(s.name, s.duration, s.users, s.ramp_to) for s in stages] == [
        (WARMUP_STAGE, Duration.parse("1s"), 40, None),
        (STEP_STAGE, Duration.parse("4s"), 40, None),
    ]
    ramps = stepped.scenarios["shoppers"].load.ramps()
    assert [(r.from_level, r.to_level) for r in ramps] == [(Fraction(40), Fraction(40))] * 2
    kept = stepped.scenarios["shoppers"]
    assert kept.flow == shop.scenarios["shoppers"].flow  # what the users do is as written
    assert kept.setup == shop.scenarios["shoppers"].setup
    assert {r.during for r in stepped.thresholds} == {STEP_STAGE}


def test_thresholds_of_other_scenarios_traffic_and_of_the_load_s_size_are_left_out(
    shop: SpecV2,
) -> None:
    rules, left_out = judged_rules(shop, "visitors")
    assert [r.expr.text for r in rules] == ["p95(http) < 200ms", "p99(http) < 100ms"]
    assert left_out == [
        "p95(http.get-order) < 150ms: the search runs scenario 'visitors' alone; it does not "
        "send 'get-order'",
        "p95(flow.shoppers) < 2s: the search runs scenario 'visitors' alone; this judges the "
        "flow of 'shoppers'",
        "success_rate(flow.shoppers) > 99%: the search runs scenario 'visitors' alone; this "
        "judges the flow of 'shoppers'",
        "users >= 20: the search runs scenario 'visitors' alone; this judges scenario 'shoppers'",
        "p95(ws.prices) < 50ms: the search runs scenario 'visitors' alone; it holds no channels",
        "rate(http) >= 45/s: judges the load's size, which the search sets",
    ]
    stepped = step_spec(shop, "visitors", 120, TIMING)
    assert [str(s.rate) for s in stepped.scenarios["visitors"].load.stages] == ["120/s", "120/s"]
    assert [(r.expr.text, r.scenario) for r in stepped.thresholds] == [
        ("p95(http) < 200ms", None),
        ("p99(http) < 100ms", "visitors"),
    ]


def test_the_promise_names_its_scenario() -> None:
    text = (ROOT / "specs" / "format2" / "shop.yaml").read_text(encoding="utf-8")
    promised = load_document_text(
        text + '\ncapacity: {scenario: visitors, rate: ">= 30000/m"}\n',
        str(ROOT / "specs" / "format2" / "shop.yaml"),
        env={},
    ).spec
    assert promised_level(promised) == PromisedLevel("visitors", 500, "/s")


def test_a_version_1_spec_is_its_default_scenario() -> None:
    loaded = load_document(ROOT / "specs" / "demo.yaml", env={})
    spec = loaded.spec
    assert scenario_models(spec) == {"default": "closed"}
    assert default_step_duration(spec, "default") == Duration.parse("10s")
    assert peak_level(spec, "default") == 20
    assert promised_level(spec) is None
    rules, left_out = judged_rules(spec, "default")
    assert left_out == ["users >= 20: judges the load's size, which the search sets"]
    assert [r.expr.text for r in rules][:2] == ["p95(http) < 200ms", "success_rate(http) > 98%"]
    # p99(http) < 100ms was a warn during steady: it stays a warn, judged during the step
    assert [r.severity for r in rules if r.expr.text == "p99(http) < 100ms"] == ["warn"]


def test_a_step_judges_the_windows_that_fit_in_it_and_leaves_out_the_others() -> None:
    text = (ROOT / "specs" / "format2" / "shop.yaml").read_text(encoding="utf-8")
    text = text.replace(
        "thresholds:\n",
        "thresholds:\n"
        "  - {expr: p95(http) < 200ms, window: 2s}\n"
        "  - {expr: p95(http) < 200ms, for: 2s, warmup: 1s}\n"
        "  - {expr: p95(http) < 200ms, window: 10s}\n",
        1,
    )
    spec = load_document_text(text, "shop.yaml", env={}, base_dir=ROOT / "specs" / "format2").spec
    rules, left_out = judged_rules(spec, "visitors", TIMING.judged)
    assert [(r.expr.text, str(r.window), str(r.for_)) for r in rules][:3] == [
        ("p95(http) < 200ms", "2s", "None"),
        ("p95(http) < 200ms", "None", "2s"),
        ("p95(http) < 200ms", "None", "None"),
    ]
    assert "p95(http) < 200ms (window 10s): longer than the 4s a step is judged" in left_out
    stepped = step_spec(spec, "visitors", 120, TIMING)
    assert [str(r.window) for r in stepped.thresholds][:2] == ["2s", "None"]
