"""Ctrl-C while the ``sla-runner`` command starts up (importing its modules takes ~0.3 s)
ends it as Ctrl-C ends every command: one line, exit 130, no traceback.

Only the command is spared the traceback: a program that imports sla_runner as a library
keeps its KeyboardInterrupt. Standard library only, so it is in place before anything slow.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

EXIT_INTERRUPTED = 130  # sla_runner.errors.EXIT_INTERRUPTED, not imported: this runs first


def _is_command() -> bool:
    """Whether this process is the ``sla-runner`` command or ``python -m sla_runner``
    (argv[0] reads ``-m`` while ``-m`` imports the package)."""
    program = Path(sys.argv[0]) if sys.argv and sys.argv[0] else Path()
    if sys.argv[:1] == ["-m"] or program.name in ("sla-runner", "sla-runner.exe"):
        return True
    return program.name == "__main__.py" and program.parent.name == "sla_runner"


@contextmanager
def quiet_interrupt() -> Iterator[None]:
    """Around the imports of the command's modules."""
    try:
        yield
    except KeyboardInterrupt:
        if not _is_command():
            raise
        sys.stderr.write("interrupted: quit at once\n")
        sys.stderr.flush()
        raise SystemExit(EXIT_INTERRUPTED) from None
