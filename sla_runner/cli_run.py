"""The load subcommands: ``run``, ``demo``, ``demo-service``, ``merge``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from sla_runner import api
from sla_runner.cli_common import (
    EXIT_CODES_DEMO_SERVICE,
    EXIT_CODES_MERGE,
    EXIT_CODES_RUN,
    Subparsers,
    add_set_option,
    command,
    parse_overrides,
)
from sla_runner.demo.args import ERROR_RATE_HELP, error_rate_arg, port_arg
from sla_runner.errors import EXIT_RUN_ERROR, ReportError
from sla_runner.plan import Segment, build_plan
from sla_runner.report.console import print_summary
from sla_runner.report.files import check_writable
from sla_runner.report.progress import ProgressPrinter, start_line
from sla_runner.verdict import Verdict

# --- run, demo, demo-service, merge ----------------------------------------------------


def _add_report_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--junit", metavar="PATH", help="write JUnit XML here")
    parser.add_argument("--json", metavar="PATH", help="write the JSON verdict here")


def _add_quiet_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="no live progress (the line saying what is about to run and the summary stay)",
    )


def _add_load_options(parser: argparse.ArgumentParser) -> None:
    add_set_option(parser)
    parser.add_argument(
        "--engine",
        choices=["raw", "aiohttp", "httpx"],
        help="HTTP/1.1 transport (default: the spec's)",
    )
    parser.add_argument(
        "--segment",
        default="1/1",
        metavar="I/N",
        help="carry share I of N of the load (several processes or hosts; merge the verdicts)",
    )
    parser.add_argument(
        "--fail-fast",
        action="store_true",
        help="stop as soon as a whole second passes in which requests or round trips "
        "completed and not one succeeded (e.g. the service died); the verdict is fail "
        "(exit 1), judged on what was measured, thresholds of stages never reached skipped",
    )


def add_run(subparsers: Subparsers) -> None:
    parser = command(
        subparsers,
        "run",
        "run a spec against its service and judge it",
        "Validate SPEC, drive the load it declares against target.base_url, judge every "
        "threshold, print a summary and write the reports asked for. Reports are written "
        "for every outcome (pass, fail, invalid, error, aborted). Ctrl-C stops the users "
        "and keeps what was measured (status aborted); a second Ctrl-C quits at once.",
        EXIT_CODES_RUN,
    )
    parser.add_argument("spec", metavar="SPEC", help="the spec file (YAML)")
    _add_load_options(parser)
    _add_report_options(parser)
    _add_quiet_option(parser)
    parser.set_defaults(func=_cmd_run)


def _cmd_run(args: argparse.Namespace) -> int:
    overrides = parse_overrides(args.overrides)
    loaded = api.load_spec(args.spec, overrides=overrides)
    check_writable(args.junit, args.json)  # before any load, not after it
    return _run_and_report(loaded, args, overrides)


def _run_and_report(
    loaded: api.LoadedSpec, args: argparse.Namespace, overrides: dict[str, str]
) -> int:
    segment = Segment.parse(args.segment)
    plan = build_plan(loaded.spec, segment)
    print(start_line(loaded.spec, plan, args.engine, loaded.secrets), file=sys.stderr)
    progress = None if args.quiet else ProgressPrinter(sys.stderr, plan.duration_ns / 1e9)
    try:
        verdict = api.run_spec(
            loaded,
            segment=segment,
            engine=args.engine,
            progress=progress,
            overrides=overrides,
            fail_fast=args.fail_fast,
        )
    finally:
        if progress is not None:
            progress.finish()
    return _finish(verdict, args, loaded.secrets)


def _finish(verdict: Verdict, args: argparse.Namespace, secrets: frozenset[str]) -> int:
    """Print the summary, then write the reports; a report that cannot be written is exit 3."""
    print_summary(verdict, sys.stdout, secrets=secrets)
    status = verdict.exit_code
    # One report at a time, so that the ones written are named even when another fails.
    for asked in ({"junit": args.junit}, {"json": args.json}):
        try:
            for path in api.write_reports(verdict, secrets=secrets, **asked):
                print(f"wrote {path}")
        except ReportError as exc:
            print(f"error: {exc}", file=sys.stderr)
            status = max(status, EXIT_RUN_ERROR)
    if status != verdict.exit_code:  # the summary's last line named the verdict's code
        print(
            f"exit code {status}: a report could not be written "
            f"(the verdict: {verdict.status}, exit code {verdict.exit_code})"
        )
    return status


def add_demo(subparsers: Subparsers) -> None:
    parser = command(
        subparsers,
        "demo",
        "start the demo service, run specs/demo.yaml against it, write reports/",
        "Start the embedded demo service on a free loopback port, run the demo spec against "
        "it, print the summary and write reports/junit.xml and reports/verdict.json, then "
        "stop the service. The exit code is the verdict's.",
        EXIT_CODES_RUN,
    )
    parser.add_argument(
        "--spec",
        help="another spec to run against the demo service: its target.base_url and "
        "target.process are set to the service's (recorded in the verdict as --set overrides)",
    )
    parser.add_argument("--reports", default="reports", metavar="DIR", help="(default: reports)")
    parser.add_argument("--error-rate", type=error_rate_arg, default=0.01, help=ERROR_RATE_HELP)
    _add_load_options(parser)
    _add_quiet_option(parser)
    parser.set_defaults(func=_cmd_demo)


def _cmd_demo(args: argparse.Namespace) -> int:
    from sla_runner.demo.launcher import (  # noqa: PLC0415
        DemoService,
        aim_at_demo,
        check_aimable,
        demo_spec_path,
    )

    spec_path = Path(args.spec) if args.spec else demo_spec_path()
    reports = Path(args.reports)
    args.junit, args.json = reports / "junit.xml", reports / "verdict.json"
    overrides = parse_overrides(args.overrides)
    # The spec's errors before any service starts (DEMO_URL as the service's default port).
    preview_env = {**os.environ, "DEMO_URL": "http://127.0.0.1:8765"}
    preview = api.load_spec(spec_path, env=preview_env, overrides=overrides)
    if args.spec:
        check_aimable(preview.spec, overrides)
    check_writable(args.junit, args.json)
    with DemoService(error_rate=args.error_rate) as demo:
        print(f"demo service (pid {demo.pid}) listening on {demo.url}", file=sys.stderr)
        env = {**os.environ, "DEMO_URL": demo.url}
        if args.spec:  # another spec: aimed at the demo service, and the verdict says so
            overrides = {**aim_at_demo(preview.spec, demo.url, demo.port), **overrides}
            loaded = api.load_spec(spec_path, env=env, overrides=overrides)
        else:  # the demo spec reads DEMO_URL; the service's port is not a change
            where = {"target.process.port": str(demo.port)}
            loaded = api.load_spec(spec_path, env=env, overrides={**where, **overrides})
        return _run_and_report(loaded, args, overrides)


def add_demo_service(subparsers: Subparsers) -> None:
    parser = command(
        subparsers,
        "demo-service",
        "run the embedded demo service until Ctrl-C",
        "A small real service on 127.0.0.1: JSON endpoints with realistic latencies, an "
        "order endpoint, an endpoint that fails now and then, WebSocket echo and prices.",
        EXIT_CODES_DEMO_SERVICE,
    )
    parser.add_argument(
        "--port",
        type=port_arg,
        default=8765,
        help="TCP port on 127.0.0.1 (default: 8765; 0: any free)",
    )
    parser.add_argument("--error-rate", type=error_rate_arg, default=0.01, help=ERROR_RATE_HELP)
    parser.add_argument("--seed", type=int, help="seed latencies and errors")
    parser.set_defaults(func=_cmd_demo_service)


def _cmd_demo_service(args: argparse.Namespace) -> int:
    from sla_runner.demo.service import main_demo_service  # noqa: PLC0415

    return main_demo_service(port=args.port, error_rate=args.error_rate, seed=args.seed)


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
    _add_report_options(parser)
    parser.set_defaults(func=_cmd_merge)


def _cmd_merge(args: argparse.Namespace) -> int:
    check_writable(args.junit, args.json)
    loaded = api.load_spec(args.spec) if args.spec else None
    verdict = api.merge_verdicts(
        [Path(p) for p in args.verdicts], loaded, allow_partial=args.allow_partial
    )
    secrets = loaded.secrets if loaded else frozenset()
    return _finish(verdict, args, secrets)
