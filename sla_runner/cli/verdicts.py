"""The verdict subcommands: ``merge``, ``compare``, ``report``."""

from __future__ import annotations

import argparse
import sys

from sla_runner import api
from sla_runner.cli.common import (
    EXIT_CODES_COMPARE,
    EXIT_CODES_MERGE,
    EXIT_CODES_REPORT,
    Subparsers,
    add_comparison_options,
    add_page_options,
    add_report_options,
    command,
    print_outcomes,
    report,
)
from sla_runner.errors import UsageError
from sla_runner.report.comparison import print_comparison
from sla_runner.report.files import check_writable
from sla_runner.report.outputs import write_comparison, write_each


def add_merge(subparsers: Subparsers) -> None:
    parser = command(
        subparsers,
        "merge",
        "merge the verdicts of segments of one run and judge the whole",
        "Read VERDICT files of one spec (same sha256; e.g. the segments 1/2 and 2/2 run on "
        "two hosts), merge their HDR recordings exactly and judge the thresholds again. "
        "With --spec the thresholds come from that file (its sha256 must match); otherwise "
        "from the thresholds recorded in the verdicts. A merge that lacks segments (1/3 and "
        "2/3 of a split in three) is invalid (exit 4), naming the missing segments, unless "
        "--allow-partial is given.",
        EXIT_CODES_MERGE,
    )
    parser.add_argument("verdicts", nargs="+", metavar="VERDICT", help="JSON verdict files")
    parser.add_argument("--spec", help="the spec the verdicts were run from")
    parser.add_argument(
        "--allow-partial",
        action="store_true",
        help="judge a merge that lacks segments on the segments present (with a note; "
        "thresholds of the load's size are skipped) instead of making it invalid",
    )
    add_report_options(parser)
    parser.set_defaults(func=_cmd_merge)


def _cmd_merge(args: argparse.Namespace) -> int:
    check_writable(args.junit, args.json)
    loaded = api.load_spec(args.spec) if args.spec else None
    verdict = api.merge_verdicts(args.verdicts, loaded, allow_partial=args.allow_partial)
    secrets = loaded.secrets if loaded else frozenset()
    return report(
        verdict, args.junit, args.json, secrets, html=args.html, summary_md=args.summary_md
    )


def add_compare(subparsers: Subparsers) -> None:
    parser = command(
        subparsers,
        "compare",
        "compare a run's verdict with a baseline's: what got worse",
        "Compare NEW with BASELINE (two JSON verdicts of one spec and plan) metric by "
        "metric, endpoint by endpoint: p50, p95 and p99 are worse when higher by more than "
        "--tolerance (a percentage of the baseline's figure) and --noise-floor; the success "
        "rate when lower by more than the tolerance of the baseline's failure share (and "
        "0.1 percentage points); the throughput when lower by more than the tolerance. "
        "Sampling error is never a regression: a percentile is compared only when each run "
        "has 10 samples beyond it (p50 20 samples, p95 200, p99 1000; else 'too few "
        "samples'), and a percentile or success rate is worse by how far its 95% confidence "
        "interval moved. Prints a table of every figure; --json, --junit (one case per "
        "figure) and --summary-md write it out.",
        EXIT_CODES_COMPARE,
    )
    parser.add_argument("baseline", metavar="BASELINE", help="the baseline's JSON verdict")
    parser.add_argument("new", metavar="NEW", help="the JSON verdict to compare with it")
    add_comparison_options(parser)
    parser.add_argument("--json", metavar="PATH", help="write the comparison as JSON here")
    parser.add_argument("--junit", metavar="PATH", help="write JUnit XML here")
    parser.add_argument("--summary-md", metavar="PATH", help="write a Markdown summary here")
    parser.set_defaults(func=_cmd_compare)


def _cmd_compare(args: argparse.Namespace) -> int:
    check_writable(args.json, args.junit, args.summary_md)
    comparison = api.compare_verdict_files(
        args.baseline,
        args.new,
        tolerance_pct=args.tolerance,
        noise_floor_ms=args.noise_floor,
        allow_spec_change=args.allow_spec_change,
    )
    print_comparison(comparison, sys.stdout)
    written = write_comparison(
        comparison, json=args.json, junit=args.junit, summary_md=args.summary_md
    )
    return max(comparison.exit_code, print_outcomes(written))


def add_report(subparsers: Subparsers) -> None:
    parser = command(
        subparsers,
        "report",
        "write the HTML report or the Markdown summary of a JSON verdict",
        "Read VERDICT (a JSON verdict of a run or a merge, of this version or an older "
        "one) and write the reports asked for. The exit code says whether they were "
        "written, not what the verdict says.",
        EXIT_CODES_REPORT,
    )
    parser.add_argument("verdict", metavar="VERDICT", help="a JSON verdict file")
    add_page_options(parser)
    parser.set_defaults(func=_cmd_report)


def _cmd_report(args: argparse.Namespace) -> int:
    if args.html is None and args.summary_md is None:
        raise UsageError("report: give --html PATH or --summary-md PATH (or both)")
    check_writable(args.html, args.summary_md)
    verdict = api.read_verdict(args.verdict)
    written = write_each(verdict, html=args.html, summary_md=args.summary_md)
    return print_outcomes(written.outcomes)
