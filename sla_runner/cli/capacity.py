"""``sla-runner capacity``: the highest load a scenario holds every threshold at."""

from __future__ import annotations

import argparse
import sys

from sla_runner import api
from sla_runner.api import parse_overrides
from sla_runner.capacity.console import capacity_summary, step_line, step_start
from sla_runner.capacity.document import Step
from sla_runner.capacity.reports import write_capacity_reports
from sla_runner.capacity.run import run_capacity
from sla_runner.capacity.settings import CapacityOptions, plan_capacity
from sla_runner.cli.common import (
    Subparsers,
    add_set_option,
    command,
)
from sla_runner.report.files import check_writable

EXIT_CODES_CAPACITY = """\
exit codes:
  0    the spec's capacity promise holds (without one: a capacity was found, or every
       level up to --to held)
  1    the promise does not hold (without one: the --from level already broke a
       threshold, or the service stopped answering)
  2    invalid spec or command line (nothing was run)
  3    the first step could not be carried out (target unreachable...), a step was
       interrupted (Ctrl-C), or a report could not be written
  4    the generator's limit came first: the capacity is only a lower bound ("capacity
       is at least N; the generator limit was reached at M")
  130  a second Ctrl-C (the first stops the step under way; the steps measured are
       reported, exit 3), or one outside a step: quit at once, no reports
"""


def add_capacity(subparsers: Subparsers) -> None:
    parser = command(
        subparsers,
        "capacity",
        "find the highest load a scenario holds every threshold at",
        "Raise the load of one scenario step by step (users for a closed scenario, arrivals "
        "per second for an open one), each step held for --step-duration and judged on its "
        "window after --warmup: a coarse ramp from --from by --step until a step breaks a "
        "threshold, then bisection between the last level that held and the first that broke "
        "to --resolution. Never above --to; stops at a dead service (as --fail-fast) and at a "
        "step the generator could not deliver. Prints the curve and the capacity; --json "
        "writes a sla-runner/capacity document, --junit a case per threshold at the "
        "capacity and one for the spec's promise (capacity: {users: '>= 100'}).",
        EXIT_CODES_CAPACITY,
    )
    parser.add_argument("spec", metavar="SPEC", help="the spec file (YAML)")
    parser.add_argument(
        "--scenario",
        metavar="NAME",
        help="the scenario whose load is raised (default: the only one, or the one the "
        "spec's capacity promise names)",
    )
    parser.add_argument(
        "--from",
        dest="from_level",
        metavar="LEVEL",
        help="the first level: users, or arrivals per second (200 or 200/s) "
        "(default: a sixteenth of --to)",
    )
    parser.add_argument(
        "--to",
        dest="to_level",
        metavar="LEVEL",
        help="the highest level measured, never exceeded (default: 4 x the spec's peak, "
        "or 2 x the promise if higher)",
    )
    parser.add_argument(
        "--step", default="x2", help="the ramp: x2 (geometric) or +10 (linear) (default: x2)"
    )
    parser.add_argument(
        "--resolution",
        default="5%",
        help="bisect until the level that broke is within this of the level that held: "
        "5%% of it, or an absolute level like 10 (default: 5%%)",
    )
    parser.add_argument(
        "--step-duration",
        metavar="DURATION",
        help="each step's duration, warm-up included (default: the spec's steady stage, "
        "else its longest hold, else 30s)",
    )
    parser.add_argument(
        "--warmup",
        metavar="DURATION",
        help="the start of each step left out of its judgement (default: a fifth of the step)",
    )
    add_set_option(parser)
    parser.add_argument(
        "--engine",
        choices=["raw", "aiohttp", "httpx"],
        help="HTTP/1.1 transport (default: the spec's)",
    )
    parser.add_argument("--junit", metavar="PATH", help="write JUnit XML here")
    parser.add_argument("--json", metavar="PATH", help="write the capacity document (JSON) here")
    parser.add_argument("--quiet", action="store_true", help="no line per step")
    parser.set_defaults(func=_cmd_capacity)


def _cmd_capacity(args: argparse.Namespace) -> int:
    overrides = parse_overrides(args.overrides)
    loaded = api.load_spec(args.spec, overrides=overrides)
    options = CapacityOptions(
        scenario=args.scenario,
        from_level=args.from_level,
        to_level=args.to_level,
        step=args.step,
        resolution=args.resolution,
        step_duration=args.step_duration,
        warmup=args.warmup,
    )
    plan = plan_capacity(loaded.spec, options)
    check_writable(args.junit, args.json)
    unit, timing = plan.settings.unit, plan.timing

    def started(level: int) -> None:
        if not args.quiet:
            print(
                step_start(level, unit, timing.duration.seconds, timing.warmup.seconds),
                file=sys.stderr,
            )

    def ended(step: Step) -> None:
        if not args.quiet:
            print(step_line(step, unit), file=sys.stderr)

    document = run_capacity(
        loaded, plan, engine=args.engine, overrides=overrides, on_start=started, on_step=ended
    )
    print(capacity_summary(document))
    written, failed, code = write_capacity_reports(
        document, junit=args.junit, json_path=args.json, secrets=loaded.secrets
    )
    for path in written:
        print(f"wrote {path}")
    for exc in failed:
        print(f"error: {exc}", file=sys.stderr)
    return code
