"""The verdict subcommands: ``merge``."""

from __future__ import annotations

import argparse

from sla_runner import api
from sla_runner.cli.common import (
    EXIT_CODES_MERGE,
    Subparsers,
    add_report_options,
    command,
    report,
)
from sla_runner.report.files import check_writable


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
    return report(verdict, args.junit, args.json, secrets)
