"""What the subcommands share: the help layout with exit codes, the parser class, --set,
the report options, and printing a verdict with its reports."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeAlias

from sla_runner.errors import UsageError
from sla_runner.report.console import print_summary
from sla_runner.report.outputs import write_each
from sla_runner.verdict import Verdict

INTERRUPTED = "  130  interrupted by Ctrl-C: quit at once\n"

EXIT_CODES_RUN = """\
exit codes:
  0    pass: every threshold held (warnings allowed)
  1    a threshold failed, or --fail-fast stopped the run
  2    invalid spec or command line (nothing was run)
  3    the run could not be carried out (target unreachable, TLS handshake or WebSocket
       upgrade refused, process not found, a report path that cannot be written: nothing
       was sent), or was aborted by Ctrl-C or SIGTERM
       (judged on what was measured); or a report could not be written at the end
  4    invalid run: the generator could not deliver the planned load honestly
  130  a second Ctrl-C, or one before or after the load: quit at once, no reports (once
       the summary is printed Ctrl-C is ignored: its exit code stands, the reports are
       written)
"""

EXIT_CODES_MERGE = (
    """\
exit codes:
  0    pass: every threshold held in the merged verdict (warnings allowed)
  1    a threshold failed
  2    invalid command line or --spec; or verdicts that do not belong together (another
       spec or plan, other --set overrides, a segment twice, a whole run among segments,
       a verdict of a run that was not carried out)
  3    a verdict could not be read, a report could not be written, or a part was aborted
  4    invalid: a part's generator could not deliver its share of the load, or
       segments are missing (unless --allow-partial)
"""
    + INTERRUPTED
)

EXIT_CODES_VALIDATE = (
    """\
exit codes:
  0    every SPEC is valid
  2    a SPEC is invalid or cannot be read (every problem printed), or the command line
"""
    + INTERRUPTED
)

EXIT_CODES_PLAN = (
    """\
exit codes:
  0    the plan was printed (nothing is sent)
  2    invalid spec or command line
"""
    + INTERRUPTED
)

EXIT_CODES_DIFF = (
    """\
exit codes:
  0    nothing was loosened
  1    something was loosened (a contract repository can require a review for it)
  2    a spec is invalid or cannot be read, or the command line is
"""
    + INTERRUPTED
)

EXIT_CODES_MIGRATE = (
    """\
exit codes:
  0    the format-2 text was printed
  2    the spec is invalid, cannot be read or is format 2 already, or the command line
"""
    + INTERRUPTED
)

EXIT_CODES_SCHEMA = (
    """\
exit codes:
  0    the schema was printed
  2    invalid command line
"""
    + INTERRUPTED
)

EXIT_CODES_DEMO_SERVICE = """\
exit codes:
  0    stopped by Ctrl-C or SIGTERM
  2    invalid command line (e.g. --error-rate outside 0..1)
  3    cannot listen on the port (e.g. it is in use)
  130  a second Ctrl-C while it shut down: quit at once
"""

EXIT_CODES_TOP = EXIT_CODES_RUN.replace(
    "exit codes:", "exit codes of run and demo (COMMAND --help: its own):"
)


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
    exit_codes: str,
) -> argparse.ArgumentParser:
    """A subcommand parser with the shared help layout (its exit codes in the epilog)."""
    parser = subparsers.add_parser(
        name,
        help=summary,
        description=description,
        epilog=exit_codes,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(parser=parser)  # an unknown option is told with its own usage
    return parser


def add_report_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--junit", metavar="PATH", help="write JUnit XML here")
    parser.add_argument("--json", metavar="PATH", help="write the JSON verdict here")


def add_set_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a value by dotted path, e.g. load.stages[0].users=5 (repeatable)",
    )


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


def report(
    verdict: Verdict,
    junit: Path | str | None,
    json: Path | str | None,
    secrets: frozenset[str],
) -> int:
    """Print the summary, then write the reports asked for: the exit code (3 when a report
    could not be written, the others still written and named)."""
    # Once judged, the summary names the exit code: Ctrl-C cannot change it any more, and
    # the reports it promises are written.
    with _ctrl_c_ignored():
        print_summary(verdict, sys.stdout, secrets=secrets)
        sys.stdout.flush()  # a report to /dev/stdout comes after the summary
        reports = write_each(verdict, junit=junit, json=json, secrets=secrets)
        for outcome in reports.outcomes:
            if isinstance(outcome, Path):
                print(f"wrote {outcome}")
            else:
                print(f"error: {outcome}", file=sys.stderr)
        closing = reports.closing()
        if closing:  # the summary's last line named the verdict's code
            print(closing)
        sys.stdout.flush()
    return reports.exit_code


@contextmanager
def _ctrl_c_ignored() -> Iterator[None]:
    """Ctrl-C is ignored inside (in the main thread; elsewhere signals do not arrive)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)
