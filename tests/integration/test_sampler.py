"""The process sampler against real processes: a pid reused by another process after the
sampled one exited is an exit, not the newcomer's memory.

Reusing a pid on purpose needs a pid namespace of our own, where we may set the next pid
(/proc/sys/kernel/ns_last_pid): the check runs in a child started by ``unshare``, and the
test is skipped where this machine does not allow one.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from tests.support.paths import ROOT

UNSHARE = ["unshare", "--user", "--map-root-user", "--pid", "--fork", "--mount-proc"]

REUSE = """
import json, subprocess, sys, time
import anyio, psutil
from sla_runner.engine.sampler import sample_process
from sla_runner.metrics.recorder import Recorder
from sla_runner.plan import build_plan
from sla_runner.spec.models import SpecV1

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]
first = subprocess.Popen(SLEEPER)
sampled = psutil.Process(first.pid)
first.kill()
first.wait()
# psutil tells processes of one pid apart by start time, counted in clock ticks (10 ms).
time.sleep(0.05)
with open("/proc/sys/kernel/ns_last_pid", "w") as f:
    f.write(str(first.pid - 1))
second = subprocess.Popen(SLEEPER)
newcomer = psutil.Process(second.pid)
spec = SpecV1.model_validate({
    "version": 1, "name": "s", "sla_version": "1",
    "target": {"base_url": "http://127.0.0.1:9"},
    "endpoints": {"a": {"path": "/"}},
    "load": {"stages": [{"duration": "1s", "users": 1}]},
})
recorder = Recorder(build_plan(spec))

async def sample() -> None:
    with anyio.move_on_after(1.0):  # a bound: sampling stops by itself once it sees the exit
        await sample_process(sampled, 0.01, recorder, lambda: 0)

anyio.run(sample)
second.kill()
second.wait()
recording = recorder.close(elapsed_ns=0, started_at=0.0, finished_at=0.0, aborted=False)
print(json.dumps({
    "reused": second.pid == first.pid,
    "started_apart": newcomer.create_time() != sampled.create_time(),
    "notes": recording.notes,
    "rss_samples": sum(h.get_total_count() for (name, _), h in recording.gauges.items()
                       if name == "process.rss"),
}))
"""


def _namespace_allowed() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = [*UNSHARE, "sh", "-c", "echo 1 > /proc/sys/kernel/ns_last_pid"]
    return subprocess.run(probe, capture_output=True, timeout=30, check=False).returncode == 0


def test_a_reused_pid_is_noted_as_an_exit_not_sampled() -> None:
    if not _namespace_allowed():
        pytest.skip("this machine gives us no pid namespace of our own")
    proc = subprocess.run(
        [*UNSHARE, sys.executable, "-c", REUSE],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    assert found["reused"]
    assert found["started_apart"]
    assert found["rss_samples"] == 0
    assert any("exited" in note for note in found["notes"]), found["notes"]
