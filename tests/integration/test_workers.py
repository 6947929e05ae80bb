"""``run --workers N``: N processes on one host, one verdict, against the real test server.

The merged counts are the server's and the plan's; the workers start their clocks together;
a worker killed mid-run makes the run invalid, naming it; Ctrl-C stops them all and keeps
what each measured; the pre-flight checks run once, in the parent.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from sla_runner.api import load_spec
from sla_runner.engine.pool import run_workers
from sla_runner.plan import Segment
from tests.conftest import LiveServer
from tests.support.cli import run_cli, spawn_cli
from tests.support.faultkit import (
    count,
    engine_spec,
    free_port,
    read_json,
    spec_data,
    spec_file,
    tag,
)
from tests.support.reports import check_reports

pytestmark = pytest.mark.load

STOP_BOUND_S = 4.0  # Ctrl-C → every worker stopped, merged, judged, written (busy machine)


def _closed(server: LiveServer, ok_path: str, steady_s: float) -> dict[str, Any]:
    return spec_data(
        server.url,
        endpoints={"ok": {"path": ok_path}},
        load={
            "stages": [
                {"name": "warm", "duration": "100ms", "users": 4},
                {"name": "steady", "duration": f"{steady_s:g}s", "users": 4},
            ],
            "think_time": "10ms",
            "graceful_stop": "5s",
        },
        thresholds=["success_rate(http) > 99%", "users >= 4", "count(http) >= 10"],
    )


def _wait_for(proc: subprocess.Popen[str], server: LiveServer, path: str, n: int) -> None:
    deadline = time.monotonic() + 30
    while server.counts().get(path, 0) < n:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            out, err = proc.communicate(timeout=10)
            pytest.fail(f"the run did not get going (exit {proc.returncode}):\n{out}\n{err}")
        time.sleep(0.05)


def _workers(proc: subprocess.Popen[str], count: int) -> list[psutil.Process]:
    deadline = time.monotonic() + 10
    while len(children := psutil.Process(proc.pid).children()) < count:
        assert time.monotonic() < deadline, "the workers did not start"
        time.sleep(0.05)
    return children


def test_two_workers_carry_exactly_the_planned_load(
    test_server: LiveServer, tmp_path: Path
) -> None:
    ok_path = f"/ok?t={tag()}"
    spec = spec_file(
        tmp_path,
        spec_data(
            test_server.url,
            endpoints={"ok": {"path": ok_path}},
            load={
                "stages": [
                    {"duration": "1s", "rate": "100/s"},
                    {"duration": "2s", "rate": "100/s"},
                ]
            },
            thresholds=["count(http) >= 250", "p99(http) < 1s"],
        ),
    )
    junit, out = tmp_path / "junit.xml", tmp_path / "verdict.json"
    done = run_cli("run", spec, "--workers", "2", "--junit", junit, "--json", out)
    assert done.code == 0, done.output
    assert "segment 1/1, engine raw, 2 workers" in done.stderr
    verdict = check_reports(junit, out)
    # 0 → 100/s over 1 s carries 50 arrivals, then 200: 250, half to each worker.
    assert verdict["validity"]["planned"] == 250
    assert verdict["metrics"]["http"]["count"] == 250
    assert test_server.counts()[ok_path] == 250
    # One verdict of the whole load: the count is judged, not left to a merge.
    assert verdict["run"]["segment"] == "1/1"
    assert [t["status"] for t in verdict["thresholds"]] == ["pass", "pass"]
    assert any("carried by 2 worker processes" in note for note in verdict["notes"])


def test_workers_start_their_clocks_together(test_server: LiveServer) -> None:
    spec = engine_spec(
        test_server,
        "together",
        endpoints={"ok": {"path": f"/ok?t={tag()}"}},
        load={
            "stages": [{"duration": "100ms", "users": 2}, {"duration": "1500ms", "users": 2}],
            "think_time": "50ms",
        },
    )
    ended = run_workers(spec, Segment().split(2), handle_signals=False)
    recordings = [w.recording for w in ended]
    assert None not in recordings, [w.death for w in ended]
    first, second = (r for r in recordings if r is not None)
    # One start instant for both (a busy machine wakes a process up to tens of ms late).
    assert abs(first.started_at - second.started_at) < 0.1
    assert [r.second for r in first.timeline] == [r.second for r in second.timeline]
    assert (first.segment, second.segment) == ("1/2", "2/2")
    assert max(row.users for row in first.merge(second).timeline) == 2


def _two_stage_spec(server: LiveServer, tmp_path: Path, threshold: object) -> Path:
    """A format-2 spec of one endpoint, 2 users for 1.6 s, judged by ``threshold``."""
    return spec_file(
        tmp_path,
        {
            "version": 2,
            "name": "seconds",
            "sla_version": "1",
            "target": {"base_url": server.url, "timeout": "2s"},
            "endpoints": {"ok": {"path": f"/ok?t={tag()}"}},
            "scenarios": {
                "default": {
                    "load": {
                        "stages": [
                            {"duration": "100ms", "users": 2},
                            {"duration": "1500ms", "users": 2},
                        ],
                        "think_time": "50ms",
                    },
                    "mix": {"ok": 1},
                }
            },
            "thresholds": [threshold],
        },
    )


def test_workers_send_their_seconds_only_when_a_threshold_judges_windows(
    test_server: LiveServer, tmp_path: Path
) -> None:
    """Each second's histograms cross the pipe to the parent only when the spec judges
    something from them (a window, for or warmup); otherwise the recordings hold none, and
    everything else (series, timeline rows) as before."""
    plain = load_spec(_two_stage_spec(test_server, tmp_path, "p95(http) < 1s"))
    ended = run_workers(plain.spec, Segment().split(2), handle_signals=False)
    recordings = [w.recording for w in ended if w.recording is not None]
    assert len(recordings) == 2, [w.death for w in ended]
    for recording in recordings:
        assert not recording.seconds  # nothing judges them: not sent
        assert count(recording, "http") > 0
        assert sum(row.requests for row in recording.timeline) == count(recording, "http")
    windowed = {"expr": "p95(http) < 1s", "window": "1s"}
    over = load_spec(_two_stage_spec(test_server, tmp_path, windowed))
    ended = run_workers(over.spec, Segment().split(2), handle_signals=False)
    recordings = [w.recording for w in ended if w.recording is not None]
    assert len(recordings) == 2, [w.death for w in ended]
    for recording in recordings:
        (series,) = recording.seconds.series.values()
        assert sum(series.count) == count(recording, "http") > 0


@pytest.mark.slow
def test_a_worker_killed_mid_run_makes_the_run_invalid_naming_it(
    test_server: LiveServer, tmp_path: Path
) -> None:
    ok_path = f"/ok?t={tag()}"
    spec = spec_file(tmp_path, _closed(test_server, ok_path, steady_s=4))
    out = tmp_path / "verdict.json"
    proc = spawn_cli("run", spec, "--workers", "2", "--json", out)
    _wait_for(proc, test_server, ok_path, 50)
    victim = _workers(proc, 2)[1]
    victim.send_signal(signal.SIGKILL)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 4, stdout + stderr
    verdict = read_json(out)
    assert verdict["status"] == "invalid"
    named = [r for r in verdict["validity"]["reasons"] if f"pid {victim.pid}" in r]
    assert len(named) == 1, verdict["validity"]["reasons"]
    assert "was killed by SIGKILL" in named[0]
    assert "its share of the load was not measured" in named[0]
    # The other worker ran to the end and its figures are kept; nothing passes.
    assert verdict["metrics"]["http"]["count"] > 50
    assert all(t["status"] != "pass" or not t["trusted"] for t in verdict["thresholds"])
    assert "INVALID" in stdout


@pytest.mark.slow
def test_ctrl_c_stops_every_worker_and_keeps_what_each_measured(
    test_server: LiveServer, tmp_path: Path
) -> None:
    ok_path = f"/ok?t={tag()}"
    spec = spec_file(tmp_path, _closed(test_server, ok_path, steady_s=30))
    out = tmp_path / "verdict.json"
    proc = spawn_cli("run", spec, "--workers", "2", "--json", out, new_session=True)
    _wait_for(proc, test_server, ok_path, 100)
    workers = _workers(proc, 2)
    sent = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the foreground group
    stdout, stderr = proc.communicate(timeout=30)
    took = time.monotonic() - sent
    assert proc.returncode == 3, stdout + stderr
    assert took < STOP_BOUND_S, f"stopped {took:.1f}s after SIGINT"
    assert "SIGINT: stopping users" in stderr
    assert "Traceback" not in stderr
    assert not any(w.is_running() and w.status() != psutil.STATUS_ZOMBIE for w in workers)
    verdict = read_json(out)
    assert verdict["status"] == "aborted"
    assert verdict["run"]["segment"] == "1/1"  # both workers' recordings are in it
    assert any("interrupted by SIGINT" in note for note in verdict["notes"])
    # Every request the server answered is in the verdict, and the users of both workers
    # (2 each) held together in the same seconds.
    assert verdict["metrics"]["http.ok"]["count"] == test_server.counts()[ok_path]
    assert max(row["users"] for row in verdict["timeline"]) == 4


def test_the_checks_before_the_load_run_once_in_the_parent(tmp_path: Path) -> None:
    spec = spec_file(tmp_path, spec_data(f"http://127.0.0.1:{free_port()}"))
    out = tmp_path / "verdict.json"
    done = run_cli("run", spec, "--workers", "2", "--json", out)
    assert done.code == 3, done.output
    verdict = read_json(out)
    assert verdict["status"] == "error"
    assert verdict["message"].startswith("cannot connect to http://127.0.0.1:")
    assert "worker" not in done.output.replace("2 workers", "")


def test_workers_refuse_a_bad_count(tmp_path: Path) -> None:
    spec = spec_file(tmp_path, spec_data("http://127.0.0.1:9"))
    done = run_cli("run", spec, "--workers", "none")
    assert done.code == 2
    assert "--workers expects a whole number of 1 or more, or auto; got 'none'" in done.stderr


@pytest.mark.slow
def test_workers_stop_by_themselves_when_the_parent_is_killed(
    test_server: LiveServer, tmp_path: Path
) -> None:
    ok_path = f"/ok?t={tag()}"
    spec = spec_file(tmp_path, _closed(test_server, ok_path, steady_s=30))
    proc = spawn_cli("run", spec, "--workers", "2")
    _wait_for(proc, test_server, ok_path, 50)
    workers = _workers(proc, 2)
    proc.kill()  # no chance to tell anyone: the workers see their input end
    gone, alive = psutil.wait_procs(workers, timeout=STOP_BOUND_S + 2)
    assert not alive, [p.pid for p in alive]
    _, err = proc.communicate(timeout=10)  # the workers' stderr too: they share it
    assert "Traceback" not in err, err  # they leave quietly: nobody is there to read it
    served = test_server.counts()[ok_path]
    time.sleep(0.5)
    assert test_server.counts()[ok_path] == served  # no load left running
    assert len(gone) == 2


def test_more_workers_than_the_load_can_be_split_into_is_refused_before_any_load(
    test_server: LiveServer, tmp_path: Path
) -> None:
    ok_path = f"/ok?t={tag()}"
    data = _closed(test_server, ok_path, steady_s=1)
    data["load"]["stages"] = [{"duration": "100ms", "users": 2}, {"duration": "1s", "users": 2}]
    data["thresholds"] = ["success_rate(http) > 99%"]
    done = run_cli("run", spec_file(tmp_path, data), "--workers", "3")
    assert done.code == 2, done.output
    assert (
        "--workers 3: worker 3 cannot run its part of the load (segment 3/3): segment 3/3 "
        "carries no load: the plan holds at most 2 users"
    ) in done.stderr
    assert "Traceback" not in done.stderr
    assert test_server.counts().get(ok_path, 0) == 0
