"""What the benchmark scripts share: paths, starting and stopping processes on a core."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
LOOPBACK = "127.0.0.1"
_LISTENING = re.compile(r"listening on http://127\.0\.0\.1:(\d+)")


@dataclass
class Service:
    proc: subprocess.Popen[str]
    port: int

    @property
    def pid(self) -> int:
        return self.proc.pid


def stop_process(proc: subprocess.Popen[str] | subprocess.Popen[bytes], grace_s: float = 5) -> None:
    """SIGTERM, then SIGKILL after ``grace_s``: only the process we started, by its pid."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def start_demo_service(*, core: int, error_rate: float = 0.0) -> Service:
    """``sla-runner demo-service`` pinned to ``core`` on a free loopback port."""
    proc = subprocess.Popen(
        [
            *("taskset", "-c", str(core), str(VENV_BIN / "sla-runner"), "demo-service"),
            *("--port", "0", "--error-rate", str(error_rate)),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        match = _LISTENING.search(line)
        if match:
            return Service(proc, int(match[1]))
    stop_process(proc)
    raise RuntimeError("the demo service did not start")
