"""The service is down, dies, or comes back: whole runs through the CLI, verdicts and files.

Each test owns a test server process (:class:`tests.faultkit.Service`) that it kills with
SIGKILL mid-run, as a crash would, and may start again on the same port.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from tests.support.cli import run_cli
from tests.support.faultkit import Service, free_port, once_served, read_json, spec_data, spec_file

pytestmark = [pytest.mark.load, pytest.mark.slow]

CONNECTION_LOST = {"connect_error", "reset"}


def _stages(steady_s: float, *, late_s: float = 0) -> dict[str, Any]:
    stages: list[dict[str, Any]] = [
        {"name": "warm", "duration": "100ms", "users": 4},
        {"name": "steady", "duration": f"{int(steady_s * 1000)}ms", "users": 4},
    ]
    if late_s:
        stages.append({"name": "late", "duration": f"{int(late_s * 1000)}ms", "users": 4})
    return {"stages": stages, "think_time": "20ms", "graceful_stop": "1s"}


def test_service_down_before_the_run(tmp_path: Path) -> None:
    port = free_port()
    spec = spec_file(tmp_path, spec_data(f"http://127.0.0.1:{port}"))
    junit, verdict_json = tmp_path / "junit.xml", tmp_path / "verdict.json"
    run = run_cli("run", spec, "--junit", junit, "--json", verdict_json)
    assert run.code == 3, run.output
    assert f"cannot connect to http://127.0.0.1:{port}" in run.stdout  # the summary's status
    assert "Traceback" not in run.output
    assert run.elapsed_s < 2 + 10  # the connect timeout, plus starting Python on a busy host
    verdict = read_json(verdict_json)
    assert verdict["status"] == "error"
    assert verdict["message"].startswith(f"cannot connect to http://127.0.0.1:{port}")
    assert [t["status"] for t in verdict["thresholds"]] == ["skipped"]
    suite = ElementTree.parse(junit).getroot().find("testsuite")
    assert suite is not None
    assert suite.get("errors") == "1"
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["verdict.status"] == "error"


def test_service_dies_mid_run_the_run_goes_on_to_its_end(tmp_path: Path) -> None:
    service = Service()
    try:
        data = spec_data(service.url, load=_stages(3.9))
        spec = spec_file(tmp_path, data)
        out = tmp_path / "verdict.json"
        timer = once_served(service, data["endpoints"]["ok"]["path"], 50, service.kill)
        run = run_cli("run", spec, "--json", out, "--junit", tmp_path / "junit.xml", "--quiet")
        timer.join()
    finally:
        service.stop()
    assert run.code == 1, run.output
    assert "Traceback" not in run.output
    verdict = read_json(out)
    assert verdict["status"] == "fail"
    assert verdict["run"]["duration_s"] >= 4.0  # the planned end, not the crash
    http = verdict["metrics"]["http"]
    assert set(http["errors"]) <= CONNECTION_LOST
    assert http["errors"]["connect_error"] > 0
    # After the crash every second is all errors, and there were requests in each.
    after = [row for row in verdict["timeline"] if 2 <= row["second"] <= 3]
    assert len(after) == 2
    assert all(row["requests"] > 0 and row["errors"] == row["requests"] for row in after)
    assert http["count"] > sum(http["errors"].values())  # answered before the crash
    assert (tmp_path / "junit.xml").is_file()


def test_service_comes_back_the_timeline_shows_recovery(tmp_path: Path) -> None:
    service = Service()
    try:
        data = spec_data(service.url, load=_stages(6.9))
        spec = spec_file(tmp_path, data)
        out = tmp_path / "verdict.json"

        def crash_and_restart() -> None:
            service.kill()
            time.sleep(2.5)
            service.start()  # on the same port

        timer = once_served(service, data["endpoints"]["ok"]["path"], 50, crash_and_restart)
        run = run_cli("run", spec, "--json", out, "--quiet")
        timer.join()
    finally:
        service.stop()
    assert run.code == 1, run.output
    verdict = read_json(out)
    rows = verdict["timeline"]
    # Up, then down (at least one whole second without a success), then up again.
    down = [r["second"] for r in rows if r["requests"] and r["errors"] == r["requests"]]
    assert down, rows
    assert any(r["second"] < down[0] and r["requests"] > r["errors"] for r in rows), rows
    up_again = [r for r in rows if r["second"] > down[-1] and r["requests"] and not r["errors"]]
    assert len(up_again) >= 2, rows
    assert (rows[-2]["requests"] > 0, rows[-2]["errors"]) == (True, 0)  # healthy at the end
    assert verdict["metrics"]["http"]["errors"]["connect_error"] > 0


def test_fail_fast_stops_once_a_whole_second_fails(tmp_path: Path) -> None:
    service = Service()
    try:
        data = spec_data(service.url, load=_stages(20, late_s=5))
        data["thresholds"] = [
            "p95(http) < 1s",
            {"expr": "p99(http) < 1s", "during": "late"},
        ]
        spec = spec_file(tmp_path, data)
        out = tmp_path / "verdict.json"
        timer = once_served(service, data["endpoints"]["ok"]["path"], 50, service.kill)
        run = run_cli("run", spec, "--fail-fast", "--json", out, "--quiet")
        timer.join()
    finally:
        service.stop()
    assert run.code == 1, run.output
    assert "Traceback" not in run.output
    assert run.elapsed_s < 15  # planned: 25 s
    verdict = read_json(out)
    assert verdict["status"] == "fail"
    assert verdict["message"].startswith("stopped early by --fail-fast")
    assert verdict["run"]["duration_s"] < 8
    assert any("--fail-fast" in note for note in verdict["notes"])
    # Latency of the requests that were answered held; the stage never reached is skipped.
    statuses = {t["expr"]: t["status"] for t in verdict["thresholds"]}
    assert statuses == {"p95(http) < 1s": "pass", "p99(http) < 1s": "skipped"}
    assert "--fail-fast" in run.stdout


def test_fail_fast_leaves_a_healthy_run_alone(tmp_path: Path) -> None:
    service = Service()
    try:
        spec = spec_file(tmp_path, spec_data(service.url, load=_stages(2.4)))
        run = run_cli("run", spec, "--fail-fast", "--json", tmp_path / "v.json", "--quiet")
    finally:
        service.stop()
    assert run.code == 0, run.output
    assert read_json(tmp_path / "v.json")["notes"] == []
