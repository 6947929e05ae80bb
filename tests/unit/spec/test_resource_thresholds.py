"""Resource thresholds: ``metric.<alias>`` (a scraped series), ``slope(...)`` (a trend over
the window), and the sources that feed them (``target.process`` and ``target.metrics``)."""

from __future__ import annotations

import pytest

from sla_runner.spec.models import Spec
from sla_runner.spec.thresholds import ThresholdSyntaxError, parse_threshold
from sla_runner.spec.units import parse_rate_per_s
from tests.unit.spec.helpers import VALID, errors, load, with_thresholds
from tests.unit.spec.helpers2 import SHOP, errors2, load2

MIB = 1024**2

METRICS = """\
  metrics:
    url: http://127.0.0.1:9100/metrics
    interval: 500ms
    series: {db_pool: 'db_pool_in_use{pool="main"}', queue: jobs_queued, orders: orders_total}
"""


def with_metrics(*lines: str, process: str = "  process: {port: 8000}\n") -> str:
    text = with_thresholds(*lines).replace("  process: {port: 8000}\n", process + METRICS)
    assert METRICS in text
    return text


@pytest.mark.parametrize(
    ("text", "metric", "scope", "stat", "limit", "unit"),
    [
        ("max(metric.db_pool) < 50", "metric", "db_pool", "max", 50.0, ""),
        ("p95(metric.queue) <= 1000", "metric", "queue", "p95", 1000.0, ""),
        ("max(metric.orders) < 3000/m", "metric", "orders", "max", 50.0, "/s"),
        ("mean(metric.orders) > 1/min", "metric", "orders", "mean", 1 / 60, "/s"),
        ("max(metric.heap) < 2GB", "metric", "heap", "max", 2 * 1024**3, "B"),
        ("slope(process.rss) < 1MB/min", "process.rss", None, "slope", MIB / 60, "B/s"),
        ("slope(process.rss) < 60MB/h", "process.rss", None, "slope", MIB / 60, "B/s"),
        ("slope(process.rss) <= 1 MB / s", "process.rss", None, "slope", MIB, "B/s"),
        ("slope(process.cpu) < 6%/min", "process.cpu", None, "slope", 0.1, "%/s"),
        ("slope(metric.queue) < 10/s", "metric", "queue", "slope", 10.0, "/s"),
        ("slope(metric.heap) < 1KB/s", "metric", "heap", "slope", 1024.0, "B/s"),
        ("slope(process.rss) < 0B/min", "process.rss", None, "slope", 0.0, "B/s"),
    ],
)
def test_resource_forms_parse(
    text: str, metric: str, scope: str | None, stat: str, limit: float, unit: str
) -> None:
    t = parse_threshold(text)
    assert (t.metric, t.scope, t.stat, t.unit) == (metric, scope, stat, unit)
    assert t.limit == pytest.approx(limit, rel=1e-12)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "slope(http) < 1ms",
            "slope(http) makes no sense; http accepts pNN, min, max, mean, count, rate, "
            "success_rate, error_rate",
        ),
        ("slope(users) < 1", "slope(users) makes no sense; users accepts min, max, mean"),
        (
            "slope(process.rss) < 1MB",
            "slope(process.rss) needs a size per time (e.g. 1MB/min, 10MB/h): "
            "write 1MB/min or 1MB/h",
        ),
        (
            "slope(process.rss) < 1",
            "slope(process.rss) needs a size per time (e.g. 1MB/min, 10MB/h): write e.g. 1MB/min",
        ),
        (
            "slope(process.cpu) < 1%",
            "slope(process.cpu) needs a percentage per time (e.g. 5%/min): write 1%/min or 1%/h",
        ),
        (
            "slope(process.rss) < 1MB/fortnight",
            "slope(process.rss) needs a size per time (e.g. 1MB/min, 10MB/h), "
            "got unit 'MB/fortnight'",
        ),
        (
            "max(metric.queue) < 5ms",
            "max(metric.queue) takes a number, a size (B, KB, MB, GB) or a rate (/s, /m, /h) "
            "for a counter, got unit 'ms'",
        ),
        (
            "max(metric) < 5",
            "metric needs an alias: metric.<alias> is a series of target.metrics",
        ),
        ("rate(metric.queue) > 5/s", "rate(metric.<alias>) makes no sense; metric.<alias> accepts"),
        ("max(process.rss) < 1MB/min", "max(process.rss) needs a size unit"),
        ("max(metrics.queue) < 5", "; did you mean metric.queue?"),
    ],
)
def test_resource_forms_rejected(text: str, message: str) -> None:
    with pytest.raises(ThresholdSyntaxError) as caught:
        parse_threshold(text)
    assert message in str(caught.value)


def test_a_slope_limit_of_zero_is_a_promise() -> None:
    """A slope can be negative (memory given back): ``< 0`` can hold, ``>= 0`` can fail."""
    assert parse_threshold("slope(process.rss) < 0MB/min").limit == 0
    assert parse_threshold("slope(process.rss) >= 0MB/min").op == ">="


def test_rate_units_take_min_everywhere() -> None:
    """``/min`` is a rate unit in a stage as in a threshold: one row of units for each kind."""
    assert parse_rate_per_s("120/min") == 2
    assert parse_threshold("rate(http) > 120/min").limit == 2.0


def test_metric_thresholds_load_in_both_formats() -> None:
    text = with_metrics(
        "max(metric.db_pool) < 50",
        "{expr: max(metric.queue) < 1000, during: steady}",
        "slope(process.rss) < 1MB/min",
    )
    spec = load(text).spec
    assert isinstance(spec, Spec)
    assert spec.target.metrics is not None
    series = spec.target.metrics.series
    assert series["db_pool"].name == "db_pool_in_use"
    assert series["db_pool"].labels == (("pool", "main"),)
    assert series["queue"].text == "jobs_queued"
    assert spec.target.metrics.interval.seconds == 0.5


def test_an_alias_not_declared_is_an_error_with_a_suggestion() -> None:
    text = with_metrics("max(metric.db_poll) < 50")
    assert errors(text) == [
        "spec.yaml:22:5: thresholds[0]: metric.db_poll: no series aliased 'db_poll' in "
        "target.metrics.series; declared: db_pool, orders, queue; did you mean db_pool?"
    ]


def test_metric_thresholds_need_target_metrics() -> None:
    text = with_thresholds("max(metric.db_pool) < 50")
    assert errors(text) == [
        "spec.yaml:18:5: thresholds[0]: metric.db_pool needs target.metrics to say which "
        "series to scrape"
    ]


@pytest.mark.parametrize(
    ("process", "message"),
    [
        (
            "  process: {port: 8000, cgroup: /sys/fs/cgroup/x}\n",
            "spec.yaml:6:12: target.process: give exactly one of port, pid, pid_file, name, "
            "metrics_url, cgroup (got port, cgroup)",
        ),
        (
            "  process: {metrics_url: 'ftp://x/metrics'}\n",
            "spec.yaml:6:26: target.process.metrics_url: expected an http:// or https:// URL, "
            "got 'ftp://x/metrics'",
        ),
        (
            "  process: {port: 8000, memory: anon}\n",
            "spec.yaml:6:33: target.process.memory: only a cgroup source reads memory.stat; "
            "remove it or give cgroup",
        ),
        (
            "  process: {cgroup: sys/fs/cgroup/x}\n",
            "spec.yaml:6:21: target.process.cgroup: must be an absolute path to a cgroup v2 "
            "directory, got 'sys/fs/cgroup/x'",
        ),
    ],
)
def test_process_sources_are_checked(process: str, message: str) -> None:
    text = with_metrics("max(process.rss) < 1GB", process=process)
    assert errors(text) == [message]


@pytest.mark.parametrize(
    ("series", "message"),
    [
        (
            "{a: 'db{pool=main}'}",
            "target.metrics.series.a: expected a series like name or "
            "name{label=\"value\"}, got 'db{pool=main}'",
        ),
        ("{}", "target.metrics.series: give at least one series"),
    ],
)
def test_series_selectors_are_checked(series: str, message: str) -> None:
    text = with_metrics("max(metric.db_pool) < 50").replace(
        "series: {db_pool: 'db_pool_in_use{pool=\"main\"}', queue: jobs_queued, "
        "orders: orders_total}",
        f"series: {series}",
    )
    assert any(message in e for e in errors(text)), errors(text)


def test_process_sources_load() -> None:
    spec = load(with_metrics("max(process.rss) < 1GB", process="  process: {cgroup: /x}\n")).spec
    assert isinstance(spec, Spec)
    assert spec.target.process is not None
    assert (spec.target.process.cgroup, spec.target.process.memory) == ("/x", "current")
    url = "  process: {metrics_url: 'http://127.0.0.1:9/metrics', interval: 1s}\n"
    spec = load(with_metrics("max(process.rss) < 1GB", process=url)).spec
    assert isinstance(spec, Spec)
    assert spec.target.process is not None
    assert spec.target.process.metrics_url == "http://127.0.0.1:9/metrics"


def test_a_spec_without_the_new_fields_means_what_it_meant() -> None:
    spec = load(VALID).spec
    assert isinstance(spec, Spec)
    assert spec.target.metrics is None
    assert spec.target.process is not None
    assert spec.target.process.port == 8000
    assert spec.target.process.memory == "current"


SHOP_METRICS = SHOP.replace(
    "target: {base_url: http://127.0.0.1:8000, cookies: true}\n",
    "target:\n  base_url: http://127.0.0.1:8000\n  cookies: true\n"
    "  process: {metrics_url: 'http://127.0.0.1:8000/metrics'}\n"
    "  metrics: {url: 'http://127.0.0.1:8000/metrics', series: {pool: db_pool_in_use}}\n",
)


def test_format_2_reads_the_same_sources_and_thresholds() -> None:
    assert SHOP_METRICS != SHOP
    text = SHOP_METRICS + "  - max(metric.pool) < 50\n  - slope(process.rss) < 1MB/min\n"
    spec = load2(text).spec
    assert spec.target.metrics is not None
    assert spec.target.metrics.interval.seconds == 1.0  # the default
    assert [r.expr.stat for r in spec.thresholds[-2:]] == ["max", "slope"]
    assert errors2(SHOP_METRICS + "  - max(metric.pol) < 50\n") == [
        "spec.yaml:60:5: thresholds[6]: metric.pol: no series aliased 'pol' in "
        "target.metrics.series; declared: pool; did you mean pool?"
    ]
