"""``sla-runner``: argv → api → exit code. No logic of its own: it parses arguments, calls
the library and formats what comes back; errors carry their own exit code.

One module per group of commands: :mod:`.spec` (validate, schema, plan, diff), :mod:`.load`
(run, demo, demo-service), :mod:`.capacity` (capacity), :mod:`.verdicts` (merge, compare,
report), :mod:`.k8s` (k8s); :mod:`.common` holds what they share.
Adding a subcommand: in its group's module write ``add_<name>(subparsers)`` (builds its
parser with ``command(...)`` and sets ``func=_cmd_<name>``) and ``_cmd_<name>(args) -> int``,
then list ``add_<name>`` in ``_SUBCOMMANDS`` below.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO, cast

from sla_runner._startup import quiet_interrupt

with quiet_interrupt():  # Ctrl-C while the command starts: one line, no traceback
    from sla_runner._version import __version__
    from sla_runner.api import parse_overrides
    from sla_runner.cli.capacity import add_capacity
    from sla_runner.cli.common import (
        EXIT_CODES_TOP,
        ArgvError,
        Parser,
        Subparsers,
    )
    from sla_runner.cli.k8s import add_k8s
    from sla_runner.cli.load import add_demo, add_demo_service, add_run
    from sla_runner.cli.spec import add_diff, add_migrate, add_plan, add_schema, add_validate
    from sla_runner.cli.verdicts import add_compare, add_merge, add_report
    from sla_runner.errors import EXIT_INTERRUPTED, EXIT_PASS, EXIT_USAGE, SlaRunnerError, SpecError

__all__ = ["build_parser", "main", "parse_overrides", "run"]

# One entry per subcommand, in the order `--help` lists them.
_SUBCOMMANDS: tuple[Callable[[Subparsers], None], ...] = (
    add_run,
    add_capacity,
    add_validate,
    add_demo,
    add_demo_service,
    add_merge,
    add_k8s,
    add_compare,
    add_report,
    add_plan,
    add_diff,
    add_migrate,
    add_schema,
)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="sla-runner",
        description="Run declarative YAML SLA specs as real load; judge them into an exit "
        "code, JUnit XML and a JSON verdict.",
        epilog=EXIT_CODES_TOP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"sla-runner {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for add in _SUBCOMMANDS:
        add(subparsers)
    return parser


def run(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, run the command, return its exit code (never calls sys.exit)."""
    parser = build_parser()
    try:
        try:
            args, unknown = parser.parse_known_args(argv)
            if unknown:  # the command's own usage, not the top-level one
                command: argparse.ArgumentParser = getattr(args, "parser", parser)
                command.error(f"unrecognized arguments: {' '.join(unknown)}")
        except SystemExit as exc:  # --help and --version print, then "exit" here
            return exc.code if isinstance(exc.code, int) else EXIT_PASS
        if args.command is None:
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        func: Callable[[argparse.Namespace], int] = args.func
        return func(args)
    except SlaRunnerError as exc:
        plain = isinstance(exc, SpecError | ArgvError)
        print(str(exc) if plain else f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:  # Ctrl-C outside a run's load (the engine handles it there)
        print("interrupted: quit at once", file=sys.stderr)
        return EXIT_INTERRUPTED


class _ReaderGone:
    """An output that survives its reader leaving (``sla-runner run ... | head``): once the
    pipe breaks, the rest of the output goes to /dev/null, and the run, its reports and its
    exit code are unaffected."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._to_devnull()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._to_devnull()

    def _to_devnull(self) -> None:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, self._stream.fileno())  # what is still buffered is flushed there
        os.close(devnull)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def main() -> None:
    """Console-script entry point."""
    sys.stdout = cast(TextIO, _ReaderGone(sys.stdout))
    sys.stderr = cast(TextIO, _ReaderGone(sys.stderr))  # progress lines, errors: 2>&1 | head
    code = run()
    sys.stdout.flush()
    sys.stderr.flush()
    sys.exit(code)
