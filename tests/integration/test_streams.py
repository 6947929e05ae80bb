"""Streams while the run goes: ``--out ndjson=PATH``, ``--out hdr=PATH`` and
``--metrics-port``, against the real test server.

The NDJSON lines, the HdrHistogram interval log (read back with hdrh's own
``HistogramLogReader``) and the live /metrics (parsed with prometheus_client's parser while
the run goes) each add up to what the verdict counted; a run killed with SIGKILL leaves
every whole second it measured.
"""

from __future__ import annotations

import json
import math
import signal
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogReader
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from sla_runner.metrics.histogram import expand, latency_histogram
from sla_runner.metrics.recording import Recording
from tests.conftest import LiveServer
from tests.support.cli import run_cli, spawn_cli
from tests.support.faultkit import free_port, read_json, spec_data, spec_file, tag

pytestmark = pytest.mark.load

WAIT_S = 30.0


def _spec(server: LiveServer, seconds: int) -> dict[str, Any]:
    data = spec_data(server.url)
    data["load"]["stages"][1]["duration"] = f"{seconds}s"
    return data


def _lines(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    assert text == "" or text.endswith("\n")  # whole lines only
    return [json.loads(line) for line in text.splitlines()]


def _intervals(path: Path) -> list[HdrHistogram]:
    reader = HistogramLogReader(str(path), latency_histogram())
    found = []
    while (hist := reader.get_next_interval_histogram()) is not None:
        found.append(hist)
    reader.close()
    return found


def _scrape(port: int) -> dict[str, Metric]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {f.name: f for f in text_string_to_metric_families(text)}


def _ok_count(families: dict[str, Metric]) -> float:
    return sum(
        s.value
        for s in families["sla_runner_operations"].samples
        if s.name == "sla_runner_operations_total" and s.labels["outcome"] == "ok"
    )


def test_the_streams_of_a_run_add_up_to_its_verdict(
    test_server: LiveServer, tmp_path: Path
) -> None:
    ndjson, hdr, verdict_path = tmp_path / "s.ndjson", tmp_path / "s.hdr", tmp_path / "v.json"
    port = free_port()
    proc = spawn_cli(
        "run",
        spec_file(tmp_path, _spec(test_server, 4)),
        "--json",
        verdict_path,
        "--quiet",
        "--out",
        f"ndjson={ndjson}",
        "--out",
        f"hdr={hdr}",
        "--metrics-port",
        f"127.0.0.1:{port}",
    )
    try:
        scrapes: list[dict[str, Metric]] = []
        deadline = time.monotonic() + WAIT_S
        while len(scrapes) < 2 and time.monotonic() < deadline and proc.poll() is None:
            try:
                families = _scrape(port)
            except OSError:
                time.sleep(0.1)
                continue
            if _ok_count(families) > (_ok_count(scrapes[-1]) if scrapes else 0):
                scrapes.append(families)
            time.sleep(0.5)
        stdout, stderr = proc.communicate(timeout=WAIT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode in (0, 4), stdout + stderr  # 4: a busy machine's loop lagged
    assert len(scrapes) == 2, "the live /metrics was not scraped twice during the run"
    verdict = read_json(verdict_path)
    count = verdict["metrics"]["http"]["count"]
    ok = count - sum(verdict["metrics"]["http"]["errors"].values())
    # live: counters that grow, never past the run's; latency as a histogram of them all
    first, second = (_ok_count(s) for s in scrapes)
    assert 0 < first < second <= ok
    latency = scrapes[1]["sla_runner_latency_seconds"].samples
    buckets = [s for s in latency if s.name == "sla_runner_latency_seconds_bucket"]
    (total,) = [s.value for s in latency if s.name == "sla_runner_latency_seconds_count"]
    assert total == second  # the test server answers every request: each has a latency
    assert [b.labels["le"] for b in buckets][-1] == "+Inf"
    assert buckets[-1].value == total
    assert [b.value for b in buckets] == sorted(b.value for b in buckets)
    assert scrapes[1]["sla_runner_users"].samples[0].value == 2
    # NDJSON: one line per second, every request of the run in exactly one of them
    lines = _lines(ndjson)
    assert [line["second"] for line in lines] == list(range(len(lines)))
    assert len(lines) >= 4
    assert sum(line["requests"] for line in lines) == count
    for line in lines:
        series = line["series"].get("http.ok", {"count": 0})
        assert series["count"] == line["requests"]
    # HDR interval log, read back by hdrh's own reader: per second, tagged by endpoint
    intervals = _intervals(hdr)
    assert {h.get_tag() for h in intervals} == {"http.ok"}
    assert sum(h.get_total_count() for h in intervals) == count
    p99 = verdict["metrics"]["http"]["latency_ms"]["p99"]
    assert max(h.get_max_value() for h in intervals) / 1000 >= p99 * 0.99


def test_the_streams_seconds_are_the_recorders_and_the_servers(
    test_server: LiveServer, tmp_path: Path
) -> None:
    """Per second and endpoint, the NDJSON counts and errors and the HDR log's histograms are
    the recording's own per-second figures (``recording.seconds``, kept by the verdict for its
    window threshold), and they add up to what the server served."""
    fast, errors = f"/ok?t={tag()}", f"/errors?every=4&t={tag()}"
    data = spec_data(
        test_server.url,
        endpoints={"fast": {"path": fast}, "flaky": {"path": errors}},
        thresholds=["p95(http) < 1s"],
    )
    data["load"]["stages"][1]["duration"] = "3s"
    migrated = spec_file(tmp_path, data, "v1.yaml")
    spec = yaml.safe_load(run_cli("migrate", migrated).stdout)
    spec["thresholds"] = [{"expr": "p95(http) < 1s", "window": "1s"}]
    ndjson, hdr, out = tmp_path / "s.ndjson", tmp_path / "s.hdr", tmp_path / "v.json"
    run = run_cli(
        "run",
        spec_file(tmp_path, spec),
        "--json",
        out,
        "--quiet",
        "--out",
        f"ndjson={ndjson}",
        "--out",
        f"hdr={hdr}",
    )
    assert run.code in (0, 1, 4), run.output  # 1: the flaky endpoint; 4: a lagging loop
    served = test_server.counts()
    recording = Recording.from_dict(read_json(out)["recording"])
    lines = _lines(ndjson)
    assert [line["second"] for line in lines] == [row.second for row in recording.timeline]
    logged: dict[tuple[int, str], HdrHistogram] = {}
    reader = HistogramLogReader(str(hdr), latency_histogram())
    while (hist := reader.get_next_interval_histogram()) is not None:
        at = hist.get_start_time_stamp() / 1000 - reader.get_start_time_sec()
        logged[(round(at), hist.get_tag())] = hist
    reader.close()
    totals = {"fast": 0, "flaky": 0}
    for line in lines:
        second = line["second"]
        for name in ("fast", "flaky"):
            (kept,) = recording.seconds.select("http", name, None)
            count, ok, blob = kept.at(second)
            streamed = line["series"].get(f"http.{name}", {"count": 0, "errors": {}})
            assert streamed["count"] == count, (second, name)
            assert sum(streamed["errors"].values()) == count - ok, (second, name)
            hist = logged.get((second, f"http.{name}"))
            if blob:
                assert hist is not None, (second, name)
                assert list(hist.counts) == list(expand(blob).counts), (second, name)
            else:
                assert hist is None, (second, name)
            totals[name] += streamed["count"]
    assert totals == {"fast": served[fast], "flaky": served[errors]}
    assert totals["flaky"] > 0
    assert sum(h.get_total_count() for h in logged.values()) == sum(totals.values())


def test_a_killed_runs_ndjson_holds_every_whole_second_before_the_kill(
    test_server: LiveServer, tmp_path: Path
) -> None:
    ndjson, hdr = tmp_path / "s.ndjson", tmp_path / "s.hdr"
    proc = spawn_cli(
        "run",
        spec_file(tmp_path, _spec(test_server, 20)),
        "--quiet",
        "--out",
        f"ndjson={ndjson}",
        "--out",
        f"hdr={hdr}",
    )
    try:
        deadline = time.monotonic() + WAIT_S
        while len(_lines(ndjson)) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.3)  # into the middle of a later second
        proc.send_signal(signal.SIGKILL)
        killed_at = time.time()
        proc.communicate(timeout=WAIT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    lines = _lines(ndjson)
    start = HistogramLogReader(str(hdr), latency_histogram())
    start.get_next_interval_histogram()
    started_at = start.get_start_time_sec()
    start.close()
    assert started_at > 0
    # every second that had ended 0.5 s before the kill (time to close and write it)
    whole = math.floor(killed_at - started_at - 0.5)
    assert len(lines) >= max(whole, 4)
    assert [line["second"] for line in lines] == list(range(len(lines)))
    assert all(line["requests"] > 0 for line in lines[1:])


def test_a_wrong_out_is_a_usage_error(test_server: LiveServer, tmp_path: Path) -> None:
    spec = spec_file(tmp_path, _spec(test_server, 1))
    run = run_cli("run", spec, "--out", f"csv={tmp_path / 'x'}")
    assert run.code == 2
    assert "--out csv=" in run.stderr
    assert "expected ndjson=PATH or hdr=PATH" in run.stderr
    run = run_cli("run", spec, "--metrics-port", "nope")
    assert run.code == 2
    assert "--metrics-port nope: expected a port (1-65535) or HOST:PORT" in run.stderr


def test_a_metrics_port_in_use_stops_the_run_before_the_load(
    test_server: LiveServer, tmp_path: Path
) -> None:
    out = tmp_path / "v.json"
    data = _spec(test_server, 1)
    run = run_cli(
        "run",
        spec_file(tmp_path, data),
        "--json",
        out,
        "--quiet",
        "--metrics-port",
        f"127.0.0.1:{test_server.port}",
    )
    assert run.code == 3, run.output
    assert read_json(out)["message"] == (
        f"--metrics-port 127.0.0.1:{test_server.port}: cannot listen: address already in use"
    )
    assert test_server.counts().get(data["endpoints"]["ok"]["path"], 0) == 0


def test_streams_with_workers_are_refused_before_the_load(
    test_server: LiveServer, tmp_path: Path
) -> None:
    """A stream is one process's figures; the workers' are merged only at the end."""
    data = _spec(test_server, 1)
    ndjson = tmp_path / "s.ndjson"
    run = run_cli("run", spec_file(tmp_path, data), "--workers", "2", "--out", f"ndjson={ndjson}")
    assert run.code == 2, run.output
    assert "--out and --metrics-port stream one process's figures: not with --workers" in (
        run.stderr
    )
    assert test_server.counts().get(data["endpoints"]["ok"]["path"], 0) == 0
