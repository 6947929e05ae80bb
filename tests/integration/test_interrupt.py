"""Interruption and unwritable reports: the CLI as a subprocess, stdin closed.

SIGINT or SIGTERM mid-run: the users stop, the verdict is ``aborted`` with what was
measured, thresholds of stages never reached are ``skipped``, files are written, exit 3.
A second SIGINT leaves at once.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.conftest import LiveServer
from tests.support.cli import run_cli, spawn_cli
from tests.support.faultkit import read_json, spec_data, spec_file, tag, unanswered_port

pytestmark = pytest.mark.load

# Users stop within 2 s; then the verdict is judged and written. A busy 2-core machine
# gets one more second.
STOP_BOUND_S = 3.0


def _long_spec(server: LiveServer, ok_path: str, *, hang: bool = False) -> dict[str, Any]:
    endpoints: dict[str, Any] = {
        "ok": {"path": ok_path},
        "slow": {"path": f"/delay?ms=300&t={tag()}"},
    }
    if hang:
        endpoints["hang"] = {"path": f"/hang?t={tag()}", "timeout": "30s"}
    return spec_data(
        server.url,
        endpoints=endpoints,
        channels={"echo": {"path": f"/ws/echo?t={tag()}", "send": "hi", "interval": "100ms"}},
        load={
            "stages": [
                {"name": "warm", "duration": "100ms", "users": 6},
                {"name": "steady", "duration": "30s", "users": 6},
                {"name": "late", "duration": "30s", "users": 6},
            ],
            "think_time": "10ms",
            "graceful_stop": "10s",
        },
        thresholds=[
            "success_rate(http) > 99%",
            {"expr": "p95(http) < 2s", "during": "steady"},
            {"expr": "p95(http) < 2s", "during": "late"},
        ],
    )


def _wait_until(proc: subprocess.Popen[str], ready: Callable[[], bool], what: str) -> None:
    """Poll ``ready`` while the CLI runs; fail with its output if it exits or 30 s pass."""
    deadline = time.monotonic() + 30
    while not ready():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            out, err = proc.communicate(timeout=10)
            pytest.fail(f"the run {what} (exit {proc.returncode}):\n{out}\n{err}")
        time.sleep(0.05)


def _start(
    server: LiveServer, args: list[str | Path], ok_path: str, *, min_ok: int = 50
) -> subprocess.Popen[str]:
    """Start the CLI and wait until its load reaches the server."""
    proc = spawn_cli(*args)
    _wait_until(proc, lambda: server.counts().get(ok_path, 0) >= min_ok, "did not start")
    time.sleep(0.5)  # well inside the steady stage
    return proc


def _communicate(proc: subprocess.Popen[str]) -> tuple[str, str]:
    try:
        return proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_mid_run_aborts_with_what_was_measured(
    test_server: LiveServer, tmp_path: Path, signum: signal.Signals
) -> None:
    ok_path = f"/ok?t={tag()}"
    spec = spec_file(tmp_path, _long_spec(test_server, ok_path))
    out, junit = tmp_path / "verdict.json", tmp_path / "junit.xml"
    proc = _start(test_server, ["run", spec, "--json", out, "--junit", junit], ok_path)
    sent = time.monotonic()
    proc.send_signal(signum)
    stdout, stderr = _communicate(proc)
    took = time.monotonic() - sent
    assert proc.returncode == 3, stdout + stderr
    assert took < STOP_BOUND_S, f"stopped {took:.1f}s after {signum.name}"
    assert "Traceback" not in stderr
    assert f"{signum.name}: stopping users" in stderr
    assert "ABORTED" in stdout
    verdict = read_json(out)
    assert verdict["status"] == "aborted"
    assert verdict["run"]["duration_s"] < 20  # of 60 planned
    assert any(f"interrupted by {signum.name}" in note for note in verdict["notes"])
    statuses = [(t["during"], t["status"]) for t in verdict["thresholds"]]
    assert statuses == [(None, "pass"), ("steady", "pass"), ("late", "skipped")]
    # What was measured is kept: every request the server answered is in the verdict
    # (those cut off in flight at the hard stop are noted, never counted as answered).
    ok = verdict["metrics"]["http.ok"]
    assert ok["errors"] == {}
    assert 50 <= ok["count"] <= test_server.counts()[ok_path]
    assert verdict["metrics"]["ws.echo"]["count"] > 0
    assert junit.is_file()


@pytest.mark.slow
def test_second_sigint_exits_at_once(test_server: LiveServer, tmp_path: Path) -> None:
    ok_path = f"/ok?t={tag()}"
    spec = spec_file(tmp_path, _long_spec(test_server, ok_path, hang=True))
    proc = _start(test_server, ["run", spec, "--json", tmp_path / "v.json"], ok_path, min_ok=1)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.2)  # the first one is handled: users are stopping, hung requests hold them
    assert proc.poll() is None
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    stdout, stderr = _communicate(proc)
    took = time.monotonic() - sent
    assert proc.returncode == 128 + signal.SIGINT, stdout + stderr
    assert took < 1.0  # the first alone takes its 1.5 s grace for the hung requests
    assert "Traceback" not in stderr


def test_signal_while_connecting_still_writes_error_reports(tmp_path: Path) -> None:
    """A target whose connect hangs (a full accept queue on loopback: the kernel drops the
    SYN) holds the run in its reachability check; Ctrl-C there ends it at once, reports kept."""
    with unanswered_port() as port:
        data = spec_data(f"http://127.0.0.1:{port}")
        data["target"]["connect_timeout"] = "60s"
        out, junit = tmp_path / "verdict.json", tmp_path / "junit.xml"
        proc = spawn_cli("run", spec_file(tmp_path, data), "--json", out, "--junit", junit)
        _wait_until(proc, lambda: _connecting(proc.pid, port), "never tried to connect")
        time.sleep(0.3)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        stdout, stderr = _communicate(proc)
        took = time.monotonic() - sent
    assert proc.returncode == 3, stdout + stderr
    assert took < STOP_BOUND_S, f"stopped {took:.1f}s after SIGINT"
    assert "Traceback" not in stderr
    verdict = read_json(out)
    assert verdict["status"] == "error"
    assert verdict["message"] == "interrupted by SIGINT before the load started"
    assert junit.is_file()


def _connecting(pid: int, port: int) -> bool:
    """Whether the process has a connection to ``port`` in SYN_SENT: it is in its preflight."""
    with contextlib.suppress(psutil.Error):
        for conn in psutil.Process(pid).net_connections(kind="tcp"):
            if conn.raddr and conn.raddr.port == port and conn.status == psutil.CONN_SYN_SENT:
                return True
    return False


def test_unwritable_report_path_is_refused_before_any_load(
    test_server: LiveServer, tmp_path: Path
) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("a regular file\n", encoding="utf-8")
    bad = not_a_dir / "verdict.json"  # its parent is a file: even root cannot write it
    data = spec_data(test_server.url)
    junit = tmp_path / "reports" / "junit.xml"
    run = run_cli("run", spec_file(tmp_path, data), "--json", bad, "--junit", junit, "--quiet")
    assert run.code == 3, run.output
    assert "Traceback" not in run.output
    assert (
        run.stderr == f"error: cannot write report {bad}: {not_a_dir} is a file, not a directory\n"
    )
    assert run.stdout == ""  # nothing was run, so nothing to summarise
    assert test_server.counts().get(data["endpoints"]["ok"]["path"], 0) == 0  # nothing sent
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "spec.yaml"]  # no strays


def test_a_disk_that_fills_up_keeps_the_old_reports_whole(
    test_server: LiveServer, tmp_path: Path
) -> None:
    """Writes that fail midway, as on a full disk: here the file-size limit (EFBIG where the
    disk would give ENOSPC; the same failed write()). The summary is printed, exit 3, the
    reports of an earlier run are left as they were, no temp file is left behind."""
    data = spec_data(test_server.url)
    data["load"]["stages"] = [{"duration": "500ms", "users": 2}]
    reports = tmp_path / "reports"
    reports.mkdir()
    junit, out = reports / "junit.xml", reports / "verdict.json"
    junit.write_text("<old/>\n", encoding="utf-8")
    out.write_text('{"old": true}\n', encoding="utf-8")
    prelude = (
        "import resource, signal\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (64, 64))"
    )
    spec = spec_file(tmp_path, data)
    run = run_cli("run", spec, "--json", out, "--junit", junit, "--quiet", prelude=prelude)
    assert run.code == 3, run.output
    assert "Traceback" not in run.output
    assert "PASS: 1 of 1 thresholds held" in run.stdout
    for path in (junit, out):
        assert f"error: cannot write report {path}: File too large" in run.stderr
    assert junit.read_text(encoding="utf-8") == "<old/>\n"
    assert out.read_text(encoding="utf-8") == '{"old": true}\n'
    assert sorted(p.name for p in reports.iterdir()) == ["junit.xml", "verdict.json"]


def test_a_reader_that_leaves_loses_no_report(test_server: LiveServer, tmp_path: Path) -> None:
    """stdout's pipe closed before anything is printed (as `| head` does): no traceback,
    the reports are written and the exit code is the verdict's."""
    data = spec_data(test_server.url)
    data["load"]["stages"] = [{"duration": "300ms", "users": 2}]
    out, junit = tmp_path / "verdict.json", tmp_path / "junit.xml"
    proc = spawn_cli("run", spec_file(tmp_path, data), "--json", out, "--junit", junit, "--quiet")
    assert proc.stdout is not None
    proc.stdout.close()  # the reader is gone before the summary
    _, stderr = _communicate(proc)
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "BrokenPipe" not in stderr
    assert read_json(out)["status"] == "pass"
    assert junit.is_file()


def test_report_path_in_proc_is_refused_clearly(test_server: LiveServer, tmp_path: Path) -> None:
    data = spec_data(test_server.url)
    for bad in (Path("/proc/sla-runner-x.json"), Path("/proc/sla-runner-no-such-dir/v.json")):
        run = run_cli("run", spec_file(tmp_path, data), "--json", bad, "--quiet")
        assert run.code == 3, run.output
        assert "Traceback" not in run.output
        assert run.stderr == f"error: cannot write report {bad}: No such file or directory\n"
        assert test_server.counts().get(data["endpoints"]["ok"]["path"], 0) == 0
