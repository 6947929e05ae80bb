"""The CLI as a subprocess: ``python -m sla_runner`` from the repository root, stdin closed.

- :func:`run_cli` runs it to the end, bounded in time, and returns what it printed and how
  long it took.
- :func:`spawn_cli` starts it in the background, its output piped.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support.paths import ROOT

CLI_TIMEOUT_S = 60.0


@dataclass
class CliRun:
    """What a run of the CLI came to."""

    code: int
    stdout: str
    stderr: str
    elapsed_s: float

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def cli_argv(*args: str | Path, prelude: str = "") -> list[str]:
    """``python -m sla_runner ARGS``; with ``prelude`` (Python) run first in the same process."""
    if not prelude:
        return [sys.executable, "-m", "sla_runner", *map(str, args)]
    code = f"{prelude}\nimport sys\nfrom sla_runner.cli import run\nsys.exit(run(sys.argv[1:]))"
    return [sys.executable, "-c", code, *map(str, args)]


def cli_env(extra: dict[str, str] | None = None, *, inherit: bool = True) -> dict[str, str]:
    """This process's environment (``inherit=False``: only a PATH), the repository on
    PYTHONPATH, output unbuffered, no COLUMNS, then ``extra``."""
    base = dict(os.environ) if inherit else {"PATH": "/usr/bin:/bin"}
    env = {**base, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", **(extra or {})}
    env.pop("COLUMNS", None)
    return env


def run_cli(
    *args: str | Path,
    env: dict[str, str] | None = None,
    inherit_env: bool = True,
    prelude: str = "",
    cwd: Path = ROOT,
    timeout_s: float = CLI_TIMEOUT_S,
) -> CliRun:
    """Run ``python -m sla_runner ARGS`` to its end (``env``, ``inherit_env``: see
    :func:`cli_env`; ``prelude``: see :func:`cli_argv`)."""
    started = time.monotonic()
    done = subprocess.run(
        cli_argv(*args, prelude=prelude),
        cwd=cwd,
        env=cli_env(env, inherit=inherit_env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    return CliRun(done.returncode, done.stdout, done.stderr, time.monotonic() - started)


def spawn_cli(*args: str | Path, new_session: bool = False) -> subprocess.Popen[str]:
    """``python -m sla_runner ARGS`` started in the background, stdin closed, output piped;
    ``new_session``: in a process group of its own, as a terminal's foreground job."""
    return subprocess.Popen(
        cli_argv(*args),
        cwd=ROOT,
        env=cli_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=new_session,
    )
