"""``sla-runner capacity`` where the search must stop early, against the real test server:
a generator that cannot deliver a level (exit 4, never a figure of the service), a service
that answers nothing but errors (dead: exit 1 at once), and a target that is not there
(exit 3), and Ctrl-C in the middle of a search (exit 3, the steps measured kept). Each
search is a few short steps."""

from __future__ import annotations

import json
import signal
import socket
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import LiveServer
from tests.support.cli import run_cli, spawn_cli

pytestmark = pytest.mark.load


def _spec(tmp_path: Path, url: str, path: str, *, max_in_flight: int = 10_000) -> Path:
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        f"""\
version: 1
name: limits
sla_version: 1.0.0
target: {{base_url: "{url}", timeout: 5s}}
endpoints:
  probe: {{method: GET, path: "{path}"}}
load:
  stages: [{{name: steady, duration: 2s, rate: 5/s}}]
  max_in_flight: {max_in_flight}
  graceful_stop: 1s
thresholds:
  - p95(http) < 1s
  - success_rate(http) > 99%
""",
        encoding="utf-8",
    )
    return spec


def test_a_level_the_generator_cannot_deliver_is_its_limit_not_the_service_s(
    test_server: LiveServer, tmp_path: Path
) -> None:
    # Each request takes 200 ms and at most 2 may be in flight: 5/s holds (1 in flight),
    # 20/s needs 4, so the generator drops arrivals: the step is invalid, twice.
    spec = _spec(tmp_path, test_server.url, "/delay?ms=200", max_in_flight=2)
    report = tmp_path / "capacity.json"
    done = run_cli(
        "capacity", spec, "--from", "5", "--to", "40", "--step", "x4", "--warmup", "500ms",
        "--json", report,
    )  # fmt: skip
    assert done.code == 4, done.output
    document = json.loads(report.read_text(encoding="utf-8"))
    assert document["status"] == "invalid"
    assert document["stop"] == "generator"
    assert (document["capacity"], document["generator_limit"]) == (5, 20)
    assert document["at_least"] is True
    assert document["message"] == (
        "capacity is at least 5/s; the generator limit was reached at 20/s"
    )
    invalid = document["steps"][-1]
    assert invalid["attempts"] == 2
    assert "dropped" in invalid["reasons"][0]
    assert "dropped" in invalid["earlier_reasons"][0]
    assert [s["level"] for s in document["steps"]] == [5, 20]  # never above the limit


def test_a_service_that_answers_only_errors_stops_the_search_at_once(
    test_server: LiveServer, tmp_path: Path
) -> None:
    spec = _spec(tmp_path, test_server.url, "/status?code=503")
    report = tmp_path / "capacity.json"
    done = run_cli(
        "capacity", spec, "--from", "5", "--to", "40", "--step-duration", "3s", "--json", report
    )
    assert done.code == 1, done.output
    document = json.loads(report.read_text(encoding="utf-8"))
    assert (document["stop"], document["capacity"]) == ("dead", None)
    [step] = document["steps"]
    assert step["outcome"] == "dead"
    assert step["reasons"][0].startswith("stopped early")
    assert document["message"] == "the service stopped answering at 5/s (the search stopped there)"


def test_a_target_that_is_not_there_is_exit_3_before_any_load(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again below: nothing listens there
    spec = _spec(tmp_path, f"http://127.0.0.1:{port}", "/")
    report = tmp_path / "capacity.json"
    done = run_cli("capacity", spec, "--from", "5", "--to", "40", "--json", report)
    assert done.code == 3, done.output
    document = json.loads(report.read_text(encoding="utf-8"))
    assert document["status"] == "error"
    assert document["steps"] == []
    assert "connection refused" in document["message"]


def test_ctrl_c_during_a_step_keeps_the_steps_measured_and_exits_3(
    test_server: LiveServer, tmp_path: Path
) -> None:
    path = f"/ok?t={uuid.uuid4().hex}"
    spec = _spec(tmp_path, test_server.url, path)
    report = tmp_path / "capacity.json"
    proc = spawn_cli(
        "capacity", spec, "--from", "5", "--to", "40", "--step-duration", "2s", "--warmup",
        "500ms", "--json", report,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    # the first step (5/s for 2 s: 10 requests) ended; the second (10/s) is under way
    while test_server.counts().get(path, 0) < 14:
        assert proc.poll() is None, proc.communicate(timeout=10)
        assert time.monotonic() < deadline, "the search did not reach its second step"
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 3, out + err
    document = json.loads(report.read_text(encoding="utf-8"))
    assert (document["status"], document["stop"]) == ("aborted", "aborted")
    assert [s["level"] for s in document["steps"]] == [5]
    assert document["capacity"] == 5
    assert document["message"] == "the search was interrupted; the highest level that held: 5/s"
