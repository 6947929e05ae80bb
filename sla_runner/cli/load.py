"""The load subcommands: ``run``, ``demo``, ``demo-service``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sla_runner import api
from sla_runner.cli.common import (
    EXIT_CODES_DEMO_SERVICE,
    EXIT_CODES_RUN,
    NOISE_FLOOR_MS,
    TOLERANCE_PCT,
    Subparsers,
    add_comparison_options,
    add_report_options,
    add_set_option,
    command,
    report,
)
from sla_runner.demo.args import ERROR_RATE_HELP, error_rate_arg, port_arg
from sla_runner.engine.poolparts import parse_workers
from sla_runner.errors import UsageError
from sla_runner.plan import Segment, build_plan
from sla_runner.report.files import check_writable
from sla_runner.report.progress import ProgressPrinter, scenario_models, start_line


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


def _add_stream_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out",
        action="append",
        default=[],
        metavar="KIND=PATH",
        help="stream while the run goes, one record per second, flushed each second (a "
        "killed run keeps the seconds it measured): ndjson=PATH (a JSON line per second: "
        "the timeline row, per endpoint and channel counts, errors by kind, percentiles), "
        "hdr=PATH (an HdrHistogram interval log, a latency histogram per second tagged by "
        "endpoint and channel); repeatable",
    )
    parser.add_argument(
        "--metrics-port",
        metavar="[HOST:]PORT",
        help="serve the run's live figures at http://HOST:PORT/metrics in the Prometheus "
        "format (counters by outcome, latency histograms, users; HOST default 0.0.0.0)",
    )


def _streams(args: argparse.Namespace) -> api.Streams:
    """``--out`` and ``--metrics-port`` as Streams; UsageError (exit 2) naming what is wrong."""
    paths: dict[str, Path] = {}
    for given in args.out:
        kind, eq, path = given.partition("=")
        if not eq or kind not in ("ndjson", "hdr") or not path:
            raise UsageError(f"--out {given}: expected ndjson=PATH or hdr=PATH")
        if kind in paths:
            raise UsageError(f"--out {kind}= is given twice")
        paths[kind] = Path(path)
    port: int | None = None
    host = "0.0.0.0"
    if args.metrics_port is not None:
        where, colon, number = args.metrics_port.rpartition(":")
        if not number.isdigit() or not 0 < int(number) < 65536 or (colon and not where):
            raise UsageError(
                f"--metrics-port {args.metrics_port}: expected a port (1-65535) or HOST:PORT"
            )
        port, host = int(number), where or host
    return api.Streams(paths.get("ndjson"), paths.get("hdr"), port, host)


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
    parser.add_argument(
        "--workers",
        default="1",
        metavar="N|auto",
        help="carry the load (or its --segment) in N processes on this host, one part each, "
        "merged into one verdict; auto: one per core this process may use (default: 1). "
        "A worker that dies makes the run invalid",
    )
    add_report_options(parser)
    parser.add_argument(
        "--baseline",
        metavar="VERDICT",
        help="compare the run with this JSON verdict of the same spec and plan (as "
        "`compare` does); its cases join the JUnit, a regression makes a passing run exit 1",
    )
    add_comparison_options(parser, defaults=False)
    _add_stream_options(parser)
    _add_quiet_option(parser)
    parser.set_defaults(func=_cmd_run)


def _comparison_options(args: argparse.Namespace) -> None:
    """The comparison options only with ``--baseline`` (else they would be dropped in
    silence); their defaults when it is given."""
    given = [
        flag
        for flag, value in (("--tolerance", args.tolerance), ("--noise-floor", args.noise_floor))
        if value is not None
    ] + (["--allow-spec-change"] if args.allow_spec_change else [])
    if given and not args.baseline:
        raise UsageError(
            f"{', '.join(given)}: only with --baseline VERDICT (how the run is compared with it)"
        )
    args.tolerance = TOLERANCE_PCT if args.tolerance is None else args.tolerance
    args.noise_floor = NOISE_FLOOR_MS if args.noise_floor is None else args.noise_floor


def _cmd_run(args: argparse.Namespace) -> int:
    _comparison_options(args)
    workers = parse_workers(args.workers)
    overrides = api.parse_overrides(args.overrides)
    loaded = api.load_spec(args.spec, overrides=overrides)
    streams = _streams(args)
    # before any load: every report and stream path
    check_writable(args.junit, args.json, args.html, args.summary_md, streams.ndjson, streams.hdr)
    baseline = None
    if args.baseline:  # of this spec and plan, checked before any load too
        plan = build_plan(loaded.spec, Segment.parse(args.segment))
        allow = args.allow_spec_change
        baseline = api.read_baseline(
            args.baseline, loaded, plan, overrides, allow_spec_change=allow
        )
    return _run_and_report(
        loaded,
        args,
        overrides,
        args.junit,
        args.json,
        baseline=baseline,
        streams=streams,
        workers=workers,
    )


def _run_and_report(
    loaded: api.LoadedSpec,
    args: argparse.Namespace,
    overrides: dict[str, str],
    junit: Path | str | None,
    json: Path | str | None,
    *,
    baseline: api.Verdict | None = None,
    streams: api.Streams | None = None,
    workers: int = 1,
) -> int:
    segment = Segment.parse(args.segment)
    plan = build_plan(loaded.spec, segment)
    line = start_line(loaded.spec, plan, args.engine, loaded.secrets)
    line += f", {workers} workers" if workers > 1 else ""
    progress = None if args.quiet else ProgressPrinter.for_plan(sys.stderr, plan)
    try:
        verdict = api.run_spec(
            loaded,
            segment=segment,
            engine=args.engine,
            progress=progress,
            overrides=overrides,
            fail_fast=args.fail_fast,
            streams=streams,
            workers=workers,
            on_start=lambda: print(line, file=sys.stderr, flush=True),  # after the checks
        )
    finally:
        if progress is not None:
            progress.finish()
    comparison = None
    if baseline is not None:
        comparison = api.compare_run(
            baseline,
            args.baseline,
            verdict,
            tolerance_pct=args.tolerance,
            noise_floor_ms=args.noise_floor,
            allow_spec_change=args.allow_spec_change,
        )
        if comparison is None:
            print("not compared with the baseline: the run measured nothing", file=sys.stderr)
    pages = {"html": getattr(args, "html", None), "summary_md": getattr(args, "summary_md", None)}
    models = scenario_models(plan)
    return report(
        verdict, junit, json, loaded.secrets, **pages, comparison=comparison, models=models
    )


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
    parser.add_argument(
        "--reports",
        default="reports",
        metavar="DIR",
        help="the directory to write junit.xml and verdict.json in (default: reports)",
    )
    parser.add_argument("--error-rate", type=error_rate_arg, default=0.01, help=ERROR_RATE_HELP)
    _add_load_options(parser)
    _add_quiet_option(parser)
    parser.set_defaults(func=_cmd_demo)


def _cmd_demo(args: argparse.Namespace) -> int:
    from sla_runner.demo import launcher  # noqa: PLC0415

    given = Path(args.spec) if args.spec else None
    path = given or launcher.demo_spec_path()
    junit, json = launcher.report_paths(Path(args.reports))
    overrides = api.parse_overrides(args.overrides)
    preview = launcher.load_preview(path, overrides, other=given is not None)
    check_writable(junit, json)
    with launcher.DemoService(error_rate=args.error_rate) as demo:
        print(f"demo service (pid {demo.pid}) listening on {demo.url}", file=sys.stderr)
        loaded, recorded = launcher.load_aimed(preview, demo, overrides, other=given is not None)
        return _run_and_report(loaded, args, recorded, junit, json)


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
