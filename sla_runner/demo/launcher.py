"""Start the demo service as a child process and stop it again (``sla-runner demo``).

The service runs in its own process so that its CPU and memory are its own: the runner
samples them as it would any service, and the generator does not share a GIL with it.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

from sla_runner.errors import RunError

STARTUP_TIMEOUT_S = 15.0
_LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:(\d+))")


class DemoService:
    """``with DemoService() as demo: demo.url, demo.port, demo.pid``."""

    def __init__(self, *, error_rate: float = 0.01, seed: int | None = None) -> None:
        self._args = [
            sys.executable,
            "-m",
            "sla_runner.demo",
            "--port",
            "0",
            "--until-stdin-closes",
        ]
        self._args += ["--error-rate", str(error_rate)]
        if seed is not None:
            self._args += ["--seed", str(seed)]
        self._proc: subprocess.Popen[str] | None = None
        self.url = ""
        self.port = 0

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def __enter__(self) -> DemoService:
        # A session of its own: the terminal's Ctrl-C reaches the runner only, which stops
        # the load, judges it and then stops the service; if the runner leaves abruptly (a
        # second Ctrl-C), the service sees its stdin close and stops too.
        self._proc = subprocess.Popen(
            self._args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        assert self._proc.stdout is not None
        while time.monotonic() < deadline:
            line = self._proc.stdout.readline()
            if not line:
                break
            match = _LISTENING.search(line)
            if match:
                self.url, self.port = match[1], int(match[2])
                return self
        self.stop()
        raise RunError("the demo service did not start (see its output above)")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        proc = self._proc
        if proc is None or proc.poll() is not None:
            for pipe in (proc.stdin, proc.stdout) if proc is not None else ():
                if pipe is not None:
                    pipe.close()
            return
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                pipe.close()


def demo_spec_path() -> Path:
    """``specs/demo.yaml`` of the source tree this package runs from."""
    path = Path(__file__).resolve().parents[2] / "specs" / "demo.yaml"
    if not path.is_file():
        raise RunError(
            f"cannot find the demo spec at {path}; run from a clone of sla-runner "
            "or pass --spec PATH"
        )
    return path
