"""Resource sources of a service that runs elsewhere, against a real service that exposes its
own figures with prometheus_client (:mod:`tests.support.promservice`), in its own process.

What the runner scrapes is compared with what the service's process really is (psutil
reads it from the kernel), and with what the service itself counted.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest

from sla_runner.spec.loader import load_spec_text
from tests.conftest import ChildProcess
from tests.support.cli import run_cli
from tests.support.faultkit import free_port, read_json, spec_data, spec_file
from tests.support.paths import ROOT

pytestmark = pytest.mark.load


@dataclass
class PromService:
    child: ChildProcess
    api_port: int
    metrics_port: int

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    @property
    def process(self) -> psutil.Process:
        return psutil.Process(self.child.proc.pid)

    def get(self, path: str) -> str:
        with urllib.request.urlopen(f"{self.api}{path}", timeout=5) as response:
            return str(response.read().decode())


@pytest.fixture
def service() -> Iterator[PromService]:
    child = ChildProcess(["-m", "tests.support.promservice"])
    api, metrics = (int(p) for p in child.first_line.split())
    try:
        yield PromService(child, api, metrics)
    finally:
        child.stop()


def _spec(service: PromService, *thresholds: Any, **target: Any) -> dict[str, Any]:
    data = spec_data(
        service.api,
        endpoints={"work": {"path": "/work?cpu_ms=20"}},
        load={
            "stages": [  # format 1 ramps to a stage's users: the first holds 1 user at once
                {"name": "warm", "duration": "100ms", "users": 1},
                {"name": "steady", "duration": "3s", "users": 1},
            ],
            "think_time": "30ms",
            "graceful_stop": "2s",
        },
        thresholds=list(thresholds),
    )
    data["target"].update(target)
    return data


def _run(
    tmp_path: Path, data: dict[str, Any], *more: str | Path
) -> tuple[int, dict[str, Any], str]:
    out = tmp_path / "verdict.json"
    run = run_cli("run", spec_file(tmp_path, data), "--json", out, "--quiet", *more)
    assert "Traceback" not in run.output, run.output
    return run.code, read_json(out), run.output


def _judged(code: int, verdict: dict[str, Any], expected: int) -> bool:
    """The run ended with ``expected``, or was found invalid for the generator's own health
    (a busy machine: its loop lagged), where every threshold is still judged as usual."""
    return code == expected or (code == 4 and verdict["status"] == "invalid")


def _by_expr(verdict: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["expr"]: t for t in verdict["thresholds"]}


def _samples(verdict: dict[str, Any], name: str) -> list[tuple[int, float]]:
    return [(int(t), float(v)) for t, v in verdict["recording"]["samples"].get(name, [])]


def test_the_scraped_rss_and_cpu_are_the_services_own(service: PromService, tmp_path: Path) -> None:
    proc = service.process
    cpu_before, wall_before = sum(proc.cpu_times()[:2]), time.monotonic()
    data = _spec(
        service,
        "max(process.rss) < 1GB",
        "mean(process.cpu) < 400%",
        process={"metrics_url": service.metrics_url, "interval": "250ms"},
    )
    code, verdict, output = _run(tmp_path, data)
    cpu_after, wall_after = sum(proc.cpu_times()[:2]), time.monotonic()
    real_rss = proc.memory_info().rss
    assert _judged(code, verdict, 0), output
    rss = _samples(verdict, "process.rss")
    assert len(rss) >= 8  # 3 s at 250 ms
    assert abs(rss[-1][1] - real_rss) <= 0.05 * real_rss
    max_rss = _by_expr(verdict)["max(process.rss) < 1GB"]["observed"]
    assert abs(max_rss - real_rss) <= 0.05 * real_rss
    # 100% is one core: the mean rate is the CPU time the kernel counted over the wall time
    # (the run's window is a little shorter than the one measured here, hence the band).
    real_pct = 100 * (cpu_after - cpu_before) / (wall_after - wall_before)
    mean_cpu = _by_expr(verdict)["mean(process.cpu) < 400%"]["observed"]
    assert real_pct > 10
    assert 0.6 * real_pct <= mean_cpu <= 1.6 * real_pct


def test_custom_series_are_judged_by_alias(service: PromService, tmp_path: Path) -> None:
    service.get("/set?queue=7")
    data = _spec(
        service,
        "max(metric.queue) < 10",
        "min(metric.queue) > 8",
        "max(metric.pool) < 5",
        "mean(metric.done) > 1/s",
        metrics={
            "url": service.metrics_url,
            "interval": "250ms",
            "series": {
                "queue": "jobs_queued",
                "pool": 'db_pool_in_use{pool="main"}',
                "done": "jobs_processed_total",
            },
        },
    )
    stream = tmp_path / "run.ndjson"
    code, verdict, output = _run(tmp_path, data, "--out", f"ndjson={stream}")
    results = _by_expr(verdict)
    assert _judged(code, verdict, 1), output
    lines = [json.loads(line) for line in stream.read_text().splitlines()]
    assert {line["gauges"].get("metric.queue") for line in lines} >= {7.0}
    assert results["max(metric.queue) < 10"]["passed"] is True
    assert results["min(metric.queue) > 8"]["passed"] is False
    assert results["min(metric.queue) > 8"]["observed"] == 7
    assert results["max(metric.pool) < 5"]["observed"] == 3  # the main pool, not reports' 11
    # A counter is judged as its per-second rate: the requests the service counted per
    # second, which are the ones the runner made.
    made = verdict["metrics"]["http"]["count"] / 3.0
    done = results["mean(metric.done) > 1/s"]["observed"]
    assert made > 5
    assert 0.7 * made <= done <= 1.3 * made


def test_a_source_that_stops_answering_is_noted_and_judged_on_what_it_gave(
    service: PromService, tmp_path: Path
) -> None:
    service.get("/set?metrics_for=6")  # the pre-flight's two scrapes and four of the run's
    data = _spec(
        service,
        "max(process.rss) < 1GB",
        "max(metric.queue) < 10",
        process={"metrics_url": service.metrics_url, "interval": "200ms"},
        metrics={
            "url": service.metrics_url,
            "interval": "200ms",
            "series": {"queue": "jobs_queued"},
        },
    )
    code, verdict, output = _run(tmp_path, data)
    assert _judged(code, verdict, 0), output
    assert {t["passed"] for t in verdict["thresholds"]} == {True}
    rss, queue = _samples(verdict, "process.rss"), _samples(verdict, "metric.queue")
    assert 1 <= len(rss) + len(queue) <= 4
    notes = " ".join(verdict["notes"])
    for field in ("target.process.metrics_url", "target.metrics"):
        assert f"{field} ({service.metrics_url}) did not answer" in notes
    # the first scrape after the shutdown may find the kept-alive connection reset
    assert "it did not answer again" in notes
    assert "connection refused" in notes or "connection reset by peer" in notes
    assert "are judged on the" in notes


@pytest.mark.parametrize("source", ["metrics_url", "pid"])
def test_slope_of_the_rss_catches_a_leak_from_every_source(
    service: PromService, tmp_path: Path, source: str
) -> None:
    where = service.metrics_url if source == "metrics_url" else service.child.proc.pid
    rss_before = service.process.memory_info().rss
    data = _spec(
        service,
        "slope(process.rss) < 100KB/s",
        process={source: where, "interval": "200ms"},
    )
    data["endpoints"] = {"grow": {"path": "/grow?kb=512"}}
    data["load"]["think_time"] = "50ms"
    code, verdict, output = _run(tmp_path, data)
    grown = service.process.memory_info().rss - rss_before
    slope = _by_expr(verdict)["slope(process.rss) < 100KB/s"]
    assert _judged(code, verdict, 1), output
    assert slope["unit"] == "B/s"
    # Kept 512 KiB per request: the slope is the growth over the run's 3 seconds.
    assert grown > 3 * 2**20
    assert 0.5 * grown / 3 <= slope["observed"] <= 2 * grown / 3


def test_an_unreachable_metrics_url_stops_the_run_before_the_load(
    service: PromService, tmp_path: Path
) -> None:
    url = f"http://127.0.0.1:{free_port()}/metrics"
    data = _spec(service, "max(process.rss) < 1GB", process={"metrics_url": url})
    code, verdict, _ = _run(tmp_path, data)
    assert code == 3
    assert verdict["message"] == (
        f"target.process.metrics_url: cannot read {url}: connection refused"
    )
    assert int(service.get("/pid")) == service.child.proc.pid
    assert verdict["recording"] is None


def test_a_series_the_endpoint_lacks_stops_the_run_before_the_load(
    service: PromService, tmp_path: Path
) -> None:
    data = _spec(
        service,
        "max(metric.queue) < 10",
        metrics={"url": service.metrics_url, "series": {"queue": "jobs_queue"}},
    )
    code, verdict, _ = _run(tmp_path, data)
    assert code == 3
    message = verdict["message"]
    assert message.startswith(
        f"target.metrics.series.queue: {service.metrics_url} has no jobs_queue: "
        "jobs_queue is not among the"
    )
    assert message.endswith("; did you mean jobs_queued?")
    wrong_label = _spec(
        service,
        "max(metric.pool) < 10",
        metrics={"url": service.metrics_url, "series": {"pool": 'db_pool_in_use{pool="x"}'}},
    )
    code, verdict, _ = _run(tmp_path, wrong_label)
    assert code == 3
    assert verdict["message"] == (
        f'target.metrics.series.pool: {service.metrics_url} has no db_pool_in_use{{pool="x"}}: '
        'no sample of db_pool_in_use has the labels db_pool_in_use{pool="x"}'
    )


def test_the_readme_example_of_target_metrics_is_a_valid_spec() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("```yaml\nversion: 1\nname: worker\n", 1)[1].split("```", 1)[0]
    spec = load_spec_text("version: 1\nname: worker\n" + block, "README.md", env={}).spec
    assert spec.target.metrics is not None
    assert set(spec.target.metrics.series) == {"db_pool", "queue", "done"}
    assert [r.expr.selector for r in spec.thresholds] == [
        "metric.db_pool",
        "metric.queue",
        "metric.done",
        "process.rss",
    ]


def test_a_format_2_spec_reads_its_sources_for_every_scenario(
    service: PromService, tmp_path: Path
) -> None:
    service.get("/set?queue=4")
    data: dict[str, Any] = {
        "version": 2,
        "name": "sources2",
        "sla_version": "1.0.0",
        "target": {
            "base_url": service.api,
            "process": {"metrics_url": service.metrics_url, "interval": "200ms"},
            "metrics": {
                "url": service.metrics_url,
                "interval": "200ms",
                "series": {"queue": "jobs_queued", "done": "jobs_processed_total"},
            },
        },
        "endpoints": {"work": {"path": "/work?cpu_ms=5"}},
        "scenarios": {
            "steady": {
                "load": {
                    "stages": [{"name": "hold", "duration": "3s", "users": 1}],
                    "think_time": "30ms",
                },
                "mix": {"work": 1},
            },
            "late": {
                "start": "1s",
                "load": {"stages": [{"name": "arrive", "duration": "2s", "rate": "5/s"}]},
                "mix": {"work": 1},
            },
        },
        "thresholds": [
            "max(metric.queue) < 5",
            {"expr": "min(metric.queue) > 3", "scenario": "late"},
            {"expr": "slope(process.rss) < 1GB/min", "during": "hold"},
            "mean(metric.done) > 1/s",
        ],
    }
    code, verdict, output = _run(tmp_path, data)
    assert _judged(code, verdict, 0), output
    results = _by_expr(verdict)
    assert results["max(metric.queue) < 5"]["observed"] == 4
    late = results["min(metric.queue) > 3"]
    assert (late["observed"], late["passed"]) == (4, True)
    assert late["samples"] < results["max(metric.queue) < 5"]["samples"]  # its window only
    assert results["slope(process.rss) < 1GB/min"]["passed"] is True
    assert results["mean(metric.done) > 1/s"]["observed"] > 5


def test_with_workers_the_service_s_sources_are_read_by_one_worker_only(
    service: PromService, tmp_path: Path
) -> None:
    """``run --workers 2`` of a service sampled through its Prometheus endpoint: the parent
    checks the endpoint (not a local process, which the spec does not name), the first
    worker reads the sources, the other does not (it would double every sample and every
    scrape)."""
    service.get("/set?queue=4")
    data = _spec(
        service,
        "max(process.rss) < 1GB",
        "max(metric.queue) < 10",
        process={"metrics_url": service.metrics_url, "interval": "250ms"},
        metrics={
            "url": service.metrics_url,
            "interval": "250ms",
            "series": {"queue": "jobs_queued"},
        },
    )
    for stage in data["load"]["stages"]:
        stage["users"] = 2  # one per worker
    code, verdict, output = _run(tmp_path, data, "--workers", "2")
    assert _judged(code, verdict, 0), output
    rss, queue = _samples(verdict, "process.rss"), _samples(verdict, "metric.queue")
    assert len(rss) >= 8  # 3 s at 250 ms, one reader
    assert abs(len(queue) - len(rss)) <= 2  # read as often as the process: by one worker
    assert _by_expr(verdict)["max(metric.queue) < 10"]["observed"] == 4
