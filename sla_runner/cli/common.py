"""What the subcommands share: the help layout with exit codes, the parser class, --set,
the report options, and printing a verdict with its reports."""

from __future__ import annotations

import argparse
import math
import signal
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeAlias

from sla_runner.comparison import Comparison
from sla_runner.errors import EXIT_PASS, EXIT_RUN_ERROR, SlaRunnerError, UsageError
from sla_runner.report.comparison import print_comparison
from sla_runner.report.console import print_summary
from sla_runner.report.outputs import write_each
from sla_runner.spec.units import parse_duration_ns, parse_percent
from sla_runner.timeunits import NS_PER_MS
from sla_runner.verdict import Verdict

INTERRUPTED = "  130  interrupted by Ctrl-C: quit at once\n"

EXIT_CODES_RUN = """\
exit codes:
  0    pass: every threshold held (warnings allowed)
  1    a threshold failed, or --fail-fast stopped the run; or (run --baseline) the run
       passed but a figure regressed against the baseline
  2    invalid spec or command line (nothing was run), or a --baseline of another spec
       or plan (unless --allow-spec-change) or with nothing measured
  3    the run could not be carried out (target unreachable, TLS handshake or WebSocket
       upgrade refused, process not found, a metrics source that does not answer or
       lacks a series, a report path that cannot be written: nothing was sent), or
       was aborted by Ctrl-C or SIGTERM (judged on what was measured); or a report
       could not be written at the end
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

EXIT_CODES_COMPARE = (
    """\
exit codes:
  0    no figure got worse beyond the tolerance and the noise floor
  1    a regression: some figure got worse beyond them
  2    the verdicts are of different specs (sha256) or plans (unless
       --allow-spec-change), or one has nothing measured; or the command line
  3    a verdict could not be read, or a report could not be written
"""
    + INTERRUPTED
)

EXIT_CODES_REPORT = (
    """\
exit codes:
  0    the reports were written (whatever the verdict's status)
  2    invalid command line (e.g. no report asked for)
  3    the verdict could not be read, or a report could not be written
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
    add_page_options(parser)


def add_page_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--html", metavar="PATH", help="write the HTML report here (one self-contained file)"
    )
    parser.add_argument(
        "--summary-md",
        metavar="PATH",
        help="write a Markdown summary here (e.g. $GITHUB_STEP_SUMMARY, a merge-request note)",
    )


def tolerance_arg(text: str) -> float:
    """``--tolerance``: a percentage, ``10%`` (or ``10``)."""
    try:
        value = float(parse_percent(text if text.strip().endswith("%") else text + "%"))
    except ValueError:
        value = math.nan
    if not 0 <= value <= 1000:
        raise argparse.ArgumentTypeError(f"expected a percentage like 10%, got {text!r}")
    return value


def noise_floor_arg(text: str) -> float:
    """``--noise-floor``: a duration, ``1ms``; in milliseconds."""
    try:
        return parse_duration_ns(text) / NS_PER_MS
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a duration like 1ms or 500us, got {text!r}"
        ) from None


TOLERANCE_PCT = 10.0
NOISE_FLOOR_MS = 1.0


def add_comparison_options(parser: argparse.ArgumentParser, *, defaults: bool = True) -> None:
    """``--tolerance``, ``--noise-floor``, ``--allow-spec-change``; without ``defaults``
    an option not given is None, so a command can tell it was not given."""
    parser.add_argument(
        "--tolerance",
        type=tolerance_arg,
        default=TOLERANCE_PCT if defaults else None,
        metavar="PCT",
        help="how much worse a figure may get before it is a regression (default: 10%%)",
    )
    parser.add_argument(
        "--noise-floor",
        type=noise_floor_arg,
        default=NOISE_FLOOR_MS if defaults else None,
        metavar="DURATION",
        help="latency changes up to this are never a regression (default: 1ms)",
    )
    parser.add_argument(
        "--allow-spec-change",
        action="store_true",
        help="compare verdicts of different specs or plans (the differences are listed)",
    )


def add_set_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a value by dotted path, e.g. target.timeout=5s or"
        " scenarios.NAME.load.stages[0].users=5 (load.stages[0].users=5 in version 1);"
        " repeatable",
    )


def report(
    verdict: Verdict,
    junit: Path | str | None,
    json: Path | str | None,
    secrets: frozenset[str],
    *,
    html: Path | str | None = None,
    summary_md: Path | str | None = None,
    comparison: Comparison | None = None,
    models: Mapping[str, str] | None = None,
) -> int:
    """Print the summary (and the comparison with a baseline), then write the reports asked
    for: the exit code (see :class:`sla_runner.report.outputs.Reports`: 3 when a report
    could not be written, the others still written and named). ``models``: each scenario's
    model, when the plan is known (see :func:`~sla_runner.report.console.print_summary`)."""
    # Once judged, the summary names the exit code: Ctrl-C cannot change it any more, and
    # the reports it promises are written.
    with _ctrl_c_ignored():
        print_summary(verdict, sys.stdout, secrets=secrets, models=models)
        if comparison is not None:
            print_comparison(comparison, sys.stdout, secrets=secrets)
        sys.stdout.flush()  # a report to /dev/stdout comes after the summary
        reports = write_each(
            verdict,
            junit=junit,
            json=json,
            html=html,
            summary_md=summary_md,
            comparison=comparison,
            secrets=secrets,
        )
        print_outcomes(reports.outcomes)
        closing = reports.closing()
        if closing:  # the summary's last line named the verdict's code
            print(closing)
        sys.stdout.flush()
    return reports.exit_code


def print_outcomes(outcomes: Sequence[Path | SlaRunnerError]) -> int:
    """Name each report written, each failure on stderr: 3 when one failed, else 0."""
    for outcome in outcomes:
        if isinstance(outcome, Path):
            print(f"wrote {outcome}")
        else:
            print(f"error: {outcome}", file=sys.stderr)
    return EXIT_RUN_ERROR if any(not isinstance(o, Path) for o in outcomes) else EXIT_PASS


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
