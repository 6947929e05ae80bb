"""A dead service must not turn the generator into a busy loop: closed-model users whose
connection was refused or reset back off (10 ms doubling, up to the think time or 1 s), as
a real client does; the back-offs are counted; they are never measured as latency and end
at once when the user is told to leave.

The service is the test server in a process of its own, killed with SIGKILL mid-run; the
CLI runs as a subprocess so that its CPU can be read from outside.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.support.cli import run_cli, spawn_cli
from tests.support.faultkit import Service, once_served, read_json, spec_data, spec_file

pytestmark = [pytest.mark.load, pytest.mark.slow]

USERS = 10
# Without back-off the ten users spin on instant refusals: about 18,000 connect errors a
# second on this machine, and the generator's core saturated. With it, each user tries about
# 7 times in its first second without a connection, then once a second.
MAX_ERRORS_PER_DEAD_SECOND = 300
MAX_CPU_SHARE_WHILE_DEAD = 0.5  # of one core


def _no_think(steady_s: float) -> dict[str, Any]:
    return {
        "stages": [
            {"name": "warm", "duration": "100ms", "users": USERS},
            {"name": "steady", "duration": f"{int(steady_s * 1000)}ms", "users": USERS},
        ],
        "graceful_stop": "1s",
    }


def test_a_dead_service_is_not_a_busy_loop(tmp_path: Path) -> None:
    service = Service()
    out = tmp_path / "verdict.json"
    try:
        data = spec_data(service.url, load=_no_think(5.4))
        proc = spawn_cli("run", spec_file(tmp_path, data), "--json", out, "--quiet")
        runner = psutil.Process(proc.pid)
        timer = once_served(service, data["endpoints"]["ok"]["path"], 200, service.kill)
        timer.join()
        time.sleep(0.5)  # the first back-offs are short; measure once they have grown
        before, started = runner.cpu_times(), time.monotonic()
        time.sleep(2.0)
        after, took = runner.cpu_times(), time.monotonic() - started
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        service.stop()
    # The service died: a failure no generator causes, judged fail even if the run was invalid.
    assert proc.returncode == 1, stdout + stderr
    assert "Traceback" not in stderr
    cpu_share = (after.user + after.system - before.user - before.system) / took
    assert cpu_share < MAX_CPU_SHARE_WHILE_DEAD, f"the generator spun at {cpu_share:.0%}"

    verdict = read_json(out)
    errors = verdict["metrics"]["http"]["errors"]
    lost = errors.get("connect_error", 0) + errors.get("reset", 0)
    assert errors.get("connect_error", 0) > 0
    dead = [r for r in verdict["timeline"] if r["requests"] and r["errors"] == r["requests"]]
    assert len(dead) >= 3, verdict["timeline"]
    assert max(r["errors"] for r in dead) < MAX_ERRORS_PER_DEAD_SECOND, dead
    # Every lost connection is followed by a back-off, except the last few of users told to
    # leave at the end of the run (a leaving user does not pause first).
    backoffs = verdict["validity"]["backoffs"]
    assert lost - USERS <= backoffs <= lost
    # A user in a back-off of up to a second leaves at once at the end of the plan.
    planned_s = 0.1 + 5.4
    assert verdict["run"]["duration_s"] < planned_s + 0.5


def test_back_off_is_not_latency_and_ends_with_the_outage(tmp_path: Path) -> None:
    """The service dies and comes back: the users back off while it is down, then send at
    full speed again; the first request after the outage is timed from its own send."""
    service = Service()
    out = tmp_path / "verdict.json"
    try:
        data = spec_data(service.url, load=_no_think(5.4))
        spec = spec_file(tmp_path, data)

        def crash_and_restart() -> None:
            service.kill()
            time.sleep(1.5)
            service.start()  # on the same port

        timer = once_served(service, data["endpoints"]["ok"]["path"], 200, crash_and_restart)
        done = run_cli("run", spec, "--json", out, "--quiet")
        timer.join()
    finally:
        service.stop()
    assert "Traceback" not in done.stderr
    verdict = read_json(out)
    assert verdict["validity"]["backoffs"] > 0
    rows = verdict["timeline"]
    down = [r["second"] for r in rows if r["requests"] and r["errors"] == r["requests"]]
    assert down, rows
    # Back at full speed once it is up: a healthy second after the outage carries far more
    # requests than a back-off of up to a second would let through.
    healthy = [r for r in rows if r["second"] > down[-1] and r["requests"] and not r["errors"]]
    assert healthy, rows
    assert max(r["requests"] for r in healthy) > 200, rows
    # The back-off is not measured: the slowest answered request took well under the
    # back-offs of up to a second the users made while the service was down.
    assert verdict["metrics"]["http"]["latency_ms"]["max"] < 300
