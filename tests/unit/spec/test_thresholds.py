"""The threshold grammar: what parses, and each rejection with its exact message."""

from __future__ import annotations

import pytest

from sla_runner.spec.thresholds import Threshold, ThresholdSyntaxError, parse_threshold
from tests.unit.spec.helpers import errors, with_thresholds
from tests.unit.spec.helpers2 import errors2


@pytest.mark.parametrize(
    ("text", "metric", "scope", "stat", "op", "limit", "unit"),
    [
        ("p95(http) < 200ms", "http", None, "p95", "<", 200.0, "ms"),
        ("p99.9(http.create-order) <= 1s", "http", "create-order", "p99.9", "<=", 1000.0, "ms"),
        ("min(http) > 100us", "http", None, "min", ">", 0.1, "ms"),
        ("success_rate(http) > 99%", "http", None, "success_rate", ">", 99.0, "%"),
        ("error_rate(ws) < 1%", "ws", None, "error_rate", "<", 1.0, "%"),
        ("rate(http) >= 3000/m", "http", None, "rate", ">=", 50.0, "/s"),
        ("count(ws_connect.prices) > 0", "ws_connect", "prices", "count", ">", 0.0, ""),
        ("max(process.rss) < 512MB", "process.rss", None, "max", "<", 512 * 1024**2, "B"),
        ("mean(process.cpu) < 150%", "process.cpu", None, "mean", "<", 150.0, "%"),
        ("users >= 100", "users", None, "max", ">=", 100.0, ""),
        ("max(users) >= 100", "users", None, "max", ">=", 100.0, ""),
        ("error_rate(http) <= 0%", "http", None, "error_rate", "<=", 0.0, "%"),
        ("max(process.cpu) <= 100%", "process.cpu", None, "max", "<=", 100.0, "%"),
    ],
)
def test_valid(
    text: str, metric: str, scope: str | None, stat: str, op: str, limit: float, unit: str
) -> None:
    t = parse_threshold(text)
    assert (t.metric, t.scope, t.stat, t.op, t.limit, t.unit) == (
        metric,
        scope,
        stat,
        op,
        limit,
        unit,
    )
    assert t.text == text


def test_threshold_helpers() -> None:
    t = parse_threshold("p99.9(http.create-order)   <=   1s")
    assert t.text == "p99.9(http.create-order) <= 1s"
    assert t.selector == "http.create-order"
    assert t.percentile == 99.9
    assert t.holds(999.0)
    assert not t.holds(1000.5)
    assert isinstance(t, Threshold)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "success_rate(process.rss) > 99%",
            "success_rate(process.rss) makes no sense; process.rss accepts pNN, min, max, mean, "
            "slope",
        ),
        (
            "p95(process.rss) < 200ms",
            "p95(process.rss) needs a size unit (B, KB, MB, GB), got unit 'ms'",
        ),
        ("p95(http) < 512MB", "p95(http) needs a time unit (ns, us, ms, s, m, h), got unit 'MB'"),
        (
            "p95(http) < 200",
            "p95(http) needs a time unit (ns, us, ms, s, m, h): write e.g. 200ms or 200s",
        ),
        (
            "p95(nope) < 1ms",
            "unknown metric 'nope'; expected one of http, ws, ws_connect, http.<endpoint>, "
            "ws.<channel>, ws_connect.<channel>, process.rss, process.cpu, users, metric.<alias>",
        ),
        (
            "median(http) < 1ms",
            "unknown statistic 'median'; expected one of pNN (p50, p95, p99.9), "
            "min, max, mean, count, rate, success_rate, error_rate, slope; the median is p50",
        ),
        ("p95(http) == 1ms", "operator '==' is not supported; use <, <=, > or >="),
        ("p(99 < 250ms", "cannot parse 'p(99 < 250ms': unclosed '('"),
        ("http < 200ms", "http needs a statistic, e.g. p95(http) or max(http)"),
        ("", "empty threshold; expected e.g. 'p95(http) < 200ms'"),
        (
            "p95 http < 5ms",
            "cannot parse 'p95 http < 5ms'; expected STAT(METRIC) OP VALUE, "
            "e.g. 'p95(http) < 200ms'",
        ),
        ("success_rate(http) > 101%", "a percentage must be between 0% and 100%, got 101%"),
        ("p95(http) < -1ms", "a limit cannot be negative, got -1"),
        ("users >= 10%", "users takes no unit (the users held), got unit '%': write 10"),
        ("p0(http) < 1ms", "percentile 'p0' must be above p0 and at most p100"),
        ("p95(users) > 1", "p95(users) makes no sense; users accepts min, max, mean"),
        ("p95(http) < 1e99999999ms", "the limit '1e99999999' is too large"),
        ("p95(http) < 0ms", "p95(http) < 0ms can never hold"),
        ("count(http)   < 0", "count(http) < 0 can never hold"),
        ("success_rate(http) > 100%", "success_rate(http) > 100% can never hold"),
        ("users >= 0", "users >= 0 always holds: it promises nothing"),
        ("error_rate(ws) <= 100%", "error_rate(ws) <= 100% always holds: it promises nothing"),
    ],
)
def test_rejected(text: str, message: str) -> None:
    with pytest.raises(ThresholdSyntaxError) as caught:
        parse_threshold(text)
    assert str(caught.value) == message


def test_rejections_in_a_spec_point_at_their_item() -> None:
    text = with_thresholds(
        "success_rate(process.rss) > 99%",
        "max(process.rss) < 5ms",
        "p95(http) < 200ms",
    )
    assert errors(text) == [
        "spec.yaml:18:5: thresholds[0]: success_rate(process.rss) makes no sense; "
        "process.rss accepts pNN, min, max, mean, slope",
        "spec.yaml:19:5: thresholds[1]: max(process.rss) needs a size unit (B, KB, MB, GB), "
        "got unit 'ms'",
    ]


def test_cross_references_are_all_reported() -> None:
    text = with_thresholds(
        "p95(http.nope) < 200ms",
        "p95(ws.nochan) < 50ms",
        "{expr: p95(http) < 1s, during: nosuchstage}",
        "{expr: p95(http) < 1s, during: steady}",
    )
    assert errors(text) == [
        "spec.yaml:18:5: thresholds[0]: http.nope: no endpoint named 'nope'; "
        "declared: create-order, list-items",
        "spec.yaml:19:5: thresholds[1]: ws.nochan: no channel named 'nochan'; declared: prices",
        "spec.yaml:20:36: thresholds[2].during: no stage named 'nosuchstage'; stages: ramp, steady",
    ]


def test_process_metrics_need_a_process() -> None:
    text = with_thresholds("max(process.rss) < 512MB").replace("  process: {port: 8000}\n", "")
    assert errors(text) == [
        "spec.yaml:17:5: thresholds[0]: process.rss needs target.process to say which "
        "process to sample"
    ]


def test_rule_form_and_severity() -> None:
    text = with_thresholds("{expr: p95(http) < 1s, severity: maybe, descripton: x}")
    assert errors(text) == [
        "spec.yaml:18:38: thresholds[0].severity: expected one of fail, warn; got 'maybe'",
        "spec.yaml:18:45: thresholds[0].descripton: unknown field; expected one of expr, "
        "during, severity, description; did you mean description?",
    ]


@pytest.mark.parametrize(
    ("text", "stat", "limit", "unit"),
    [
        ("p95(flow.shoppers) < 2s", "p95", 2000.0, "ms"),
        ("success_rate(flow.shoppers) > 99%", "success_rate", 99.0, "%"),
        ("rate(flow.shoppers) > 10/s", "rate", 10.0, "/s"),
        ("count(flow.shoppers) > 0", "count", 0.0, ""),
    ],
)
def test_format_2_reads_flow_metrics(text: str, stat: str, limit: float, unit: str) -> None:
    t = parse_threshold(text, flows=True)
    assert (t.metric, t.scope, t.stat, t.limit, t.unit) == ("flow", "shoppers", stat, limit, unit)


@pytest.mark.parametrize(
    ("text", "flows", "message"),
    [
        ("p95(flow) < 2s", True, "flow needs a scenario: flow.<scenario> is one pass"),
        ("p95(flow.x) < 2s", False, "flow.<scenario> is a metric of format 2 (version: 2)"),
        (
            "p95(flw.x) < 2s",
            True,
            "process.rss, process.cpu, users, metric.<alias>; did you mean flow.x?",
        ),
        (
            "count(flow.x) > 1/s",
            True,
            "a number of passes), got unit '/s': write 1; for passes per second, use rate(flow.x)",
        ),
        ("max(flow.x) > 1MB", True, "needs a time unit"),
    ],
)
def test_flow_metric_errors(text: str, flows: bool, message: str) -> None:
    with pytest.raises(ThresholdSyntaxError) as caught:
        parse_threshold(text, flows=flows)
    assert message in str(caught.value)


def test_during_a_stage_when_no_stage_has_a_name_says_to_name_one() -> None:
    """Not "stages: no stage has a name" (version 1) or "stages: none" (format 2), as if
    the spec had no stages: it has, unnamed, and the fix is to name the one meant."""
    unnamed = with_thresholds("{expr: p95(http) < 1s, during: steady}")
    unnamed = unnamed.replace("name: ramp, ", "").replace("name: steady, ", "")
    assert errors(unnamed) == [
        "spec.yaml:18:36: thresholds[0].during: no stage named 'steady': no stage has a "
        "name; name the stage it means ({name: steady, duration: ...})"
    ]
    v2 = (
        'version: 2\nname: x\nsla_version: "1"\ntarget: {base_url: "http://127.0.0.1:1"}\n'
        "endpoints: {a: {path: /a}}\n"
        "scenarios: {s: {load: {stages: [{duration: 1s, users: 1}]}, mix: {a: 1}}}\n"
        "thresholds: [{expr: p95(http) < 1s, during: steady}]\n"
    )
    assert errors2(v2) == [
        "spec.yaml:7:45: thresholds[0].during: no stage named 'steady': no stage has a "
        "name; name the stage it means ({name: steady, duration: ...})"
    ]
