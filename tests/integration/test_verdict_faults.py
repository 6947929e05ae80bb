"""What CI is told when the service fails, the target is down, or the run is cut short:
real servers, real runs; the JSON verdict, the JUnit XML and the console agree.

A generator that could not keep up is made by recording its own figures into a real run's
recording the way the engine records them (CPU samples, loop lag): a saturated generator
cannot be produced reliably on a busy 2-core machine, and a dead service no longer turns
the generator into a busy loop once users back off after a refused connection.
"""

from __future__ import annotations

import io
import signal
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from sla_runner.engine.execute import execute
from sla_runner.judge.verdicts import judge
from sla_runner.metrics.recording import Recording
from sla_runner.plan import build_plan
from sla_runner.report.console import print_summary
from sla_runner.report.outputs import write_reports
from sla_runner.spec.models import SpecV1
from sla_runner.verdict import Verdict
from tests.conftest import LiveServer
from tests.support.cli import run_cli, spawn_cli
from tests.support.faultkit import Service, free_port, once_served, spec_data, spec_file, tag
from tests.support.reports import check_reports
from tests.unit.verdict_data import run_info

pytestmark = pytest.mark.load


def _recorded(data: dict[str, Any]) -> tuple[SpecV1, Recording]:
    spec = SpecV1.model_validate(data)
    return spec, execute(spec, build_plan(spec), handle_signals=False)


def _saturate(recording: Recording, *, lag_ms: float = 1.0) -> None:
    """The generator's own figures of a loop that could not keep up, as the engine samples
    them: its CPU (hundredths of a percent of one core) and its loop lag (µs)."""
    for _ in range(40):
        recording.generator.cpu_pct.record_value(9_950)
        recording.generator.loop_lag_us.record_value(round(lag_ms * 1000))


def _reports(verdict: Verdict, tmp_path: Path) -> tuple[dict[str, Any], ElementTree.Element, str]:
    junit, out = tmp_path / "junit.xml", tmp_path / "verdict.json"
    write_reports(verdict, junit=junit, json=out)
    console = io.StringIO()
    print_summary(verdict, console)
    root = ElementTree.parse(junit).getroot()
    return check_reports(junit, out), root, console.getvalue()


def _case(root: ElementTree.Element, name: str) -> list[tuple[str, str | None]]:
    (case,) = [c for c in root.iter("testcase") if c.get("name") == name]
    return [(child.tag, child.get("type")) for child in case if child.tag != "system-out"]


def _rows(console: str, expr: str) -> list[str]:
    """The result cells of the console's rows of ``expr``."""
    lines = [line for line in console.splitlines() if line.startswith(f" {expr} ")]
    return [line.rsplit("|", 1)[1].strip() for line in lines]


def _row(console: str, expr: str) -> str:
    (result,) = _rows(console, expr)
    return result


def test_500s_stand_as_a_failure_under_a_saturated_generator(
    test_server: LiveServer, tmp_path: Path
) -> None:
    data = spec_data(
        test_server.url,
        endpoints={"ok": {"path": f"/ok?t={tag()}"}, "broken": {"path": "/status?code=500"}},
        thresholds=["success_rate(http) > 99%", "p95(http) < 2s"],
    )
    spec, recording = _recorded(data)
    assert recording.select("http", "broken", None)[0].outcomes.keys() == {"status_500"}
    _saturate(recording)
    verdict = judge(spec, recording, run_info())
    data_out, root, console = _reports(verdict, tmp_path)
    assert (data_out["status"], data_out["exit_code"]) == ("fail", 1)
    assert data_out["validity"]["valid"] is False
    assert "the generator's CPU was saturated" in data_out["validity"]["reasons"][0]
    assert [(t["status"], t["trusted"]) for t in data_out["thresholds"]] == [
        ("fail", True),
        ("pass", False),
    ]
    assert _case(root, "success_rate(http) > 99%") == [("failure", "ThresholdFailed")]
    assert _case(root, "p95(http) < 2s") == [("error", "InvalidRun")]
    assert "the generator's CPU was saturated" in (root.findtext("testsuite/system-out") or "")
    assert (_row(console, "success_rate(http)"), _row(console, "p95(http)")) == ("FAIL", "INVALID")
    assert "Run invalid, but the failures marked FAIL stand" in console


def test_a_service_killed_mid_run_is_a_failure_not_an_invalid_run(tmp_path: Path) -> None:
    """The issue's case: the service dies, its connections are refused, the generator is
    judged saturated. Refusals are the service's answer while the loop keeps its timers;
    when the loop lagged, a connect error may be a connect the stalled loop timed out."""
    service = Service()
    try:
        data = spec_data(service.url, thresholds=["success_rate(http) > 99%"])
        data["load"]["stages"][1]["duration"] = "2500ms"
        timer = once_served(service, data["endpoints"]["ok"]["path"], 30, service.kill)
        spec, recording = _recorded(data)
        timer.join()
    finally:
        service.stop()
    errors = recording.select("http", "ok", None)
    assert sum(s.outcomes["connect_error"] for s in errors) > 0
    _saturate(recording)
    verdict = judge(spec, recording, run_info())
    data_out, root, _console = _reports(verdict, tmp_path)
    assert (data_out["status"], data_out["exit_code"]) == ("fail", 1)
    assert _case(root, "success_rate(http) > 99%") == [("failure", "ThresholdFailed")]
    _saturate(recording, lag_ms=300.0)  # now also a loop that lagged: p99 300 ms
    lagged = judge(spec, recording, run_info())
    assert (lagged.status, lagged.exit_code) == ("invalid", 4)


def test_latency_failures_under_a_saturated_generator_stay_invalid(
    test_server: LiveServer, tmp_path: Path
) -> None:
    data = spec_data(
        test_server.url,
        endpoints={"slow": {"path": f"/delay?ms=60&t={tag()}"}},
        thresholds=["p95(http) < 20ms", "success_rate(http) > 99%"],
    )
    spec, recording = _recorded(data)
    _saturate(recording)
    data_out, root, console = _reports(judge(spec, recording, run_info()), tmp_path)
    assert (data_out["status"], data_out["exit_code"]) == ("invalid", 4)
    assert [(t["status"], t["trusted"]) for t in data_out["thresholds"]] == [
        ("fail", False),
        ("pass", False),
    ]
    assert _case(root, "p95(http) < 20ms") == [("error", "InvalidRun")]
    assert _row(console, "p95(http)") == "INVALID"
    assert "INVALID RUN" in console


def test_a_target_that_is_down_reads_the_same_everywhere(tmp_path: Path) -> None:
    """Not evaluated in all three outputs, the run itself the error; the time it was tried
    is recorded; the validity says it never started."""
    port = free_port()
    data = spec_data(f"http://127.0.0.1:{port}", thresholds=["p95(http) < 1s", "users >= 2"])
    junit, out = tmp_path / "junit.xml", tmp_path / "verdict.json"
    before = datetime.now(UTC).replace(microsecond=0, tzinfo=None)
    run = run_cli("run", spec_file(tmp_path, data), "--junit", junit, "--json", out)
    assert run.code == 3, run.output
    verdict = check_reports(junit, out)
    assert (verdict["status"], verdict["exit_code"]) == ("error", 3)
    assert [t["status"] for t in verdict["thresholds"]] == ["skipped", "skipped"]
    started = verdict["run"]["started_at"]
    assert started is not None
    assert verdict["run"]["finished_at"] is not None
    assert datetime.fromisoformat(started.removesuffix("Z")) >= before
    assert verdict["validity"]["valid"] is False
    assert verdict["validity"]["reasons"][0].startswith("the run never started: no load was sent")
    root = ElementTree.parse(junit).getroot()
    suite = root.find("testsuite")
    assert suite is not None
    assert suite.get("timestamp") == started[:19]
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["run.started_at"] == started
    assert (suite.get("tests"), suite.get("errors"), suite.get("skipped")) == ("3", "1", "2")
    assert _case(root, "p95(http) < 1s") == [("skipped", None)]
    assert _case(root, "run") == [("error", "RunError")]
    lines = run.stdout.splitlines()
    assert lines[1] == f"ERROR: {verdict['message']} (exit code 3)"
    assert lines[2] == "2 thresholds not judged: the run never started"


@pytest.mark.slow
def test_sigint_during_the_ramp_skips_what_the_cut_window_cannot_decide(
    test_server: LiveServer, tmp_path: Path
) -> None:
    """The issue's case: Ctrl-C during a ramp gave ``users >= 10`` FAIL (observed 6)."""
    ok = f"/ok?t={tag()}"
    data = spec_data(
        test_server.url,
        endpoints={"ok": {"path": ok}},
        load={
            "stages": [
                {"name": "warm", "duration": "200ms", "users": 3},
                {"name": "ramp", "duration": "30s", "users": 40},
                {"name": "steady", "duration": "10s", "users": 40},
            ],
            "think_time": "20ms",
            "graceful_stop": "2s",
        },
        thresholds=[
            "users >= 40",
            {"expr": "users >= 39", "during": "ramp"},  # it reaches 40 only as it ends
            {"expr": "users >= 40", "during": "steady"},
            "users >= 3",
            "count(http) > 1000000",
            "success_rate(http) > 99%",
        ],
    )
    junit, out = tmp_path / "junit.xml", tmp_path / "verdict.json"
    proc = spawn_cli("run", spec_file(tmp_path, data), "--junit", junit, "--json", out)
    try:
        deadline = time.monotonic() + 30
        while test_server.counts().get(ok, 0) < 100 and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 3, stdout + stderr
    verdict = check_reports(junit, out)
    assert verdict["status"] == "aborted"
    statuses = [(t["expr"], t["during"], t["status"]) for t in verdict["thresholds"]]
    assert statuses == [
        ("users >= 40", None, "skipped"),
        ("users >= 39", "ramp", "skipped"),
        ("users >= 40", "steady", "skipped"),
        ("users >= 3", None, "pass"),  # held already: more of the run cannot undo it
        ("count(http) > 1000000", None, "skipped"),
        ("success_rate(http) > 99%", None, "pass"),
    ]
    ramp = verdict["thresholds"][1]["message"]
    assert ramp.startswith("users >= 39: skipped: the run was aborted after ")
    assert "of the 30s stage 'ramp'" in ramp
    # One stop, one spelling: the skip reasons, the note and the message read the same time.
    whole = verdict["thresholds"][0]["message"]
    after = whole.split("aborted after ")[1].split("s of the 40.2s run")[0]
    assert f"the run stopped after {after}s of the 40.2s run: " in " ".join(verdict["notes"])
    assert verdict["message"].startswith(f"the run was aborted after {after}s of the 40.2s run")
    root = ElementTree.parse(junit).getroot()
    assert _case(root, "users >= 39 (during ramp)") == [("skipped", None)]
    assert _case(root, "run") == [("error", "Aborted")]
    assert _rows(stdout, "users >= 40") == ["SKIP"] * 2
    assert _rows(stdout, "users >= 39") == ["SKIP"]
    assert "of the 30s stage 'ramp'" in stdout.split("Skipped:")[1]
