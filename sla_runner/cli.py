"""``sla-runner``: argv → api → exit code. No logic of its own: it parses arguments, calls
the library and formats what comes back; errors carry their own exit code.

Adding a subcommand: write ``_add_<name>(subparsers)`` (builds its parser and sets
``func=_cmd_<name>``) and ``_cmd_<name>(args) -> int``, then list ``_add_<name>`` in
``_SUBCOMMANDS``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeAlias

from sla_runner import __version__, api
from sla_runner.errors import (
    EXIT_PASS,
    EXIT_RUN_ERROR,
    EXIT_USAGE,
    SlaRunnerError,
    SpecError,
    UsageError,
)
from sla_runner.spec.schema import spec_json_schema_text

EXIT_CODES_HELP = """\
exit codes:
  0  pass: every threshold held (warnings allowed)
  1  a threshold failed
  2  invalid spec or command line (nothing was run)
  3  the run could not be carried out, or was aborted
  4  invalid run: the generator could not deliver the planned load
"""

# What each _add_<name> receives (a string: argparse is generic only in its stubs).
Subparsers: TypeAlias = "argparse._SubParsersAction[_Parser]"


def _command(
    subparsers: Subparsers,
    name: str,
    summary: str,
    description: str,
) -> argparse.ArgumentParser:
    """A subcommand parser with the shared help layout (exit codes in the epilog)."""
    return subparsers.add_parser(
        name,
        help=summary,
        description=description,
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


# --- validate -------------------------------------------------------------------------


def _add_validate(subparsers: Subparsers) -> None:
    parser = _command(
        subparsers,
        "validate",
        "check spec files without running them",
        "Check each SPEC: YAML, ${VAR} interpolation, every field, units, thresholds and "
        "cross-references. Prints every problem as file:line:col: path: message.",
    )
    parser.add_argument("specs", nargs="+", metavar="SPEC", help="spec files (YAML)")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a value by dotted path, e.g. load.stages[0].users=5 (repeatable)",
    )
    parser.set_defaults(func=_cmd_validate)


def _cmd_validate(args: argparse.Namespace) -> int:
    overrides = parse_overrides(args.overrides)
    status = EXIT_PASS
    for path in args.specs:
        try:
            loaded = api.load_spec(path, overrides=overrides)
        except SpecError as exc:
            print(exc.report(), file=sys.stderr)
            status = max(status, exc.exit_code)
            continue
        spec = loaded.spec
        print(
            f"ok: {path} ({_count(len(spec.endpoints), 'endpoint')}, "
            f"{_count(len(spec.channels), 'channel')}, "
            f"{_count(len(spec.thresholds), 'threshold')})"
        )
    return status


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def parse_overrides(items: Sequence[str]) -> dict[str, str]:
    """``["a.b=1", "c=x=y"]`` → ``{"a.b": "1", "c": "x=y"}``; UsageError on a missing ``=``."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set expects KEY=VALUE, got {item!r}")
        out[key.strip()] = value
    return out


# --- schema ---------------------------------------------------------------------------


def _add_schema(subparsers: Subparsers) -> None:
    parser = _command(
        subparsers,
        "schema",
        "print the JSON Schema of the spec format",
        "Print the JSON Schema of spec format version 1. Regenerate the committed copy with:\n"
        "  sla-runner schema > schemas/sla-spec.schema.json",
    )
    parser.set_defaults(func=_cmd_schema)


def _cmd_schema(args: argparse.Namespace) -> int:
    sys.stdout.write(spec_json_schema_text())
    return EXIT_PASS


# --- wiring ---------------------------------------------------------------------------

# One entry per subcommand, in the order `--help` lists them.
_SUBCOMMANDS: tuple[Callable[[Subparsers], None], ...] = (
    _add_validate,
    _add_schema,
)


class _ArgvError(UsageError):
    """argparse's complaint, already formatted with the usage line."""


class _Parser(argparse.ArgumentParser):
    """Usage errors raise UsageError (exit 2, through run()) instead of exiting here."""

    def error(self, message: str) -> Any:
        raise _ArgvError(f"{self.format_usage().rstrip()}\n{self.prog}: error: {message}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="sla-runner",
        description="Run declarative YAML SLA specs as real load; judge them into an exit "
        "code, JUnit XML and a JSON verdict.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"sla-runner {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for add in _SUBCOMMANDS:
        add(subparsers)
    return parser


def run(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, run the command, return its exit code (never calls sys.exit)."""
    parser = build_parser()
    try:
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # --help and --version print, then "exit" here
            return exc.code if isinstance(exc.code, int) else EXIT_PASS
        if args.command is None:
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        func: Callable[[argparse.Namespace], int] = args.func
        return func(args)
    except SlaRunnerError as exc:
        plain = isinstance(exc, SpecError | _ArgvError)
        print(str(exc) if plain else f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_RUN_ERROR


def main() -> None:
    """Console-script entry point."""
    sys.exit(run())
