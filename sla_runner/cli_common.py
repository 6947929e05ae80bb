"""What every subcommand shares: the help layout with exit codes, --set, the parser class."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any, TypeAlias

from sla_runner.errors import UsageError

EXIT_CODES_HELP = """\
exit codes:
  0  pass: every threshold held (warnings allowed)
  1  a threshold failed, or --fail-fast stopped the run
  2  invalid spec or command line (nothing was run); merge: verdicts that do not
     belong together (another spec or plan, a segment twice)
  3  the run could not be carried out, or was aborted; or a report could not be
     written, or a verdict given to merge could not be read
  4  invalid run: the generator could not deliver the planned load
"""


class ArgvError(UsageError):
    """argparse's complaint, already formatted with the usage line."""


class Parser(argparse.ArgumentParser):
    """Usage errors raise UsageError (exit 2, through run()) instead of exiting here."""

    def error(self, message: str) -> Any:
        raise ArgvError(f"{self.format_usage().rstrip()}\n{self.prog}: error: {message}")


# What each add_<name> receives (a string: argparse is generic only in its stubs).
Subparsers: TypeAlias = "argparse._SubParsersAction[Parser]"


def command(
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


def add_set_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a value by dotted path, e.g. load.stages[0].users=5 (repeatable)",
    )


def count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def parse_overrides(items: Sequence[str]) -> dict[str, str]:
    """``["a.b=1", "c=x=y"]`` → ``{"a.b": "1", "c": "x=y"}``; UsageError on a missing ``=``."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set expects KEY=VALUE, got {item!r}")
        try:
            item.encode("utf-8")
        except UnicodeEncodeError:  # the shell passed bytes that are not UTF-8
            raise UsageError(f"--set {key.strip()}: the value is not UTF-8 text") from None
        out[key.strip()] = value
    return out
