"""Ctrl-C while a command starts up (importing its modules, ~0.3 s) ends it with one line
and exit 130, as Ctrl-C does everywhere else: it printed a KeyboardInterrupt traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

# Run as the console script does; SIGINT lands while the engine's modules are imported.
# Python starts with SIGINT as a terminal gives it (KeyboardInterrupt) even when the suite
# itself was started in the background, where a shell hands its children SIGINT ignored.
SCRIPT = """
import builtins, os, signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)
sys.argv = ["sla-runner", "validate", "nothing.yaml"]
real = builtins.__import__
def hooked(name, *args, **kwargs):
    if name == "sla_runner.engine.control":
        os.kill(os.getpid(), signal.SIGINT)
    return real(name, *args, **kwargs)
builtins.__import__ = hooked
from sla_runner.cli import main
sys.exit(main())
"""


@pytest.mark.parametrize("argv0", ["sla-runner", "-m"])
def test_ctrl_c_during_start_up_is_one_line(argv0: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT.replace('["sla-runner"', f'["{argv0}"')],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stderr) == (130, "interrupted: quit at once\n")


def test_a_library_caller_still_gets_its_keyboard_interrupt() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT.replace('["sla-runner"', '["my-tool"')],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "KeyboardInterrupt" in done.stderr


def test_the_start_up_exit_code_is_the_interrupted_one() -> None:
    from sla_runner import _startup  # noqa: PLC0415
    from sla_runner.errors import EXIT_INTERRUPTED  # noqa: PLC0415

    assert _startup.EXIT_INTERRUPTED == EXIT_INTERRUPTED
