"""``sla-runner``: argv → api → exit code. No logic of its own: it parses arguments, calls
the library and formats what comes back; errors carry their own exit code.

Adding a subcommand: write ``_add_<name>(subparsers)`` (builds its parser and sets
``func=_cmd_<name>``) and ``_cmd_<name>(args) -> int``, then list ``_add_<name>`` in
``_SUBCOMMANDS``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeAlias

from sla_runner import __version__, api
from sla_runner.errors import (
    EXIT_PASS,
    EXIT_RUN_ERROR,
    EXIT_USAGE,
    ReportError,
    SlaRunnerError,
    SpecError,
    UsageError,
)
from sla_runner.plan import Segment, build_plan
from sla_runner.report.console import print_summary
from sla_runner.report.progress import ProgressPrinter
from sla_runner.spec.schema import spec_json_schema_text
from sla_runner.verdict_model import Verdict

EXIT_CODES_HELP = """\
exit codes:
  0  pass: every threshold held (warnings allowed)
  1  a threshold failed, or --fail-fast stopped the run
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


def _add_set_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a value by dotted path, e.g. load.stages[0].users=5 (repeatable)",
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
    _add_set_option(parser)
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


# --- run, demo, demo-service, merge ----------------------------------------------------


def _add_report_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--junit", metavar="PATH", help="write JUnit XML here")
    parser.add_argument("--json", metavar="PATH", help="write the JSON verdict here")
    parser.add_argument("--quiet", action="store_true", help="no live progress, summary only")


def _add_load_options(parser: argparse.ArgumentParser) -> None:
    _add_set_option(parser)
    parser.add_argument(
        "--engine", choices=["aiohttp", "httpx"], help="HTTP/1.1 transport (default: the spec's)"
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


def _add_run(subparsers: Subparsers) -> None:
    parser = _command(
        subparsers,
        "run",
        "run a spec against its service and judge it",
        "Validate SPEC, drive the load it declares against target.base_url, judge every "
        "threshold, print a summary and write the reports asked for. Reports are written "
        "for every outcome (pass, fail, invalid, error, aborted). Ctrl-C stops the users "
        "and keeps what was measured (status aborted); a second Ctrl-C quits at once.",
    )
    parser.add_argument("spec", metavar="SPEC", help="the spec file (YAML)")
    _add_load_options(parser)
    _add_report_options(parser)
    parser.set_defaults(func=_cmd_run)


def _cmd_run(args: argparse.Namespace) -> int:
    overrides = parse_overrides(args.overrides)
    loaded = api.load_spec(args.spec, overrides=overrides)
    return _run_and_report(loaded, args, overrides)


def _run_and_report(
    loaded: api.LoadedSpec, args: argparse.Namespace, overrides: dict[str, str]
) -> int:
    segment = Segment.parse(args.segment)
    plan = build_plan(loaded.spec, segment)
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
    return status


def _add_demo(subparsers: Subparsers) -> None:
    parser = _command(
        subparsers,
        "demo",
        "start the demo service, run specs/demo.yaml against it, write reports/",
        "Start the embedded demo service on a free loopback port, run the demo spec against "
        "it, print the summary and write reports/junit.xml and reports/verdict.json, then "
        "stop the service. The exit code is the verdict's.",
    )
    parser.add_argument("--spec", help="another spec to run against the demo service")
    parser.add_argument("--reports", default="reports", metavar="DIR", help="(default: reports)")
    parser.add_argument("--error-rate", type=float, default=0.01, help="/api/flaky's 500 share")
    _add_load_options(parser)
    parser.add_argument("--quiet", action="store_true", help="no live progress, summary only")
    parser.set_defaults(func=_cmd_demo)


def _cmd_demo(args: argparse.Namespace) -> int:
    from sla_runner.demo.launcher import DemoService, demo_spec_path  # noqa: PLC0415

    spec_path = Path(args.spec) if args.spec else demo_spec_path()
    reports = Path(args.reports)
    args.junit, args.json = reports / "junit.xml", reports / "verdict.json"
    with DemoService(error_rate=args.error_rate) as demo:
        print(f"demo service (pid {demo.pid}) listening on {demo.url}", file=sys.stderr)
        env = {**os.environ, "DEMO_URL": demo.url}
        overrides = parse_overrides(args.overrides)
        where = {"target.process.port": str(demo.port)}  # the service's port is not a change
        loaded = api.load_spec(spec_path, env=env, overrides={**where, **overrides})
        return _run_and_report(loaded, args, overrides)


def _add_demo_service(subparsers: Subparsers) -> None:
    parser = _command(
        subparsers,
        "demo-service",
        "run the embedded demo service until Ctrl-C",
        "A small real service on 127.0.0.1: JSON endpoints with realistic latencies, an "
        "order endpoint, an endpoint that fails now and then, WebSocket echo and prices.",
    )
    parser.add_argument("--port", type=int, default=8765, help="(default: 8765; 0: any free)")
    parser.add_argument("--error-rate", type=float, default=0.01, help="/api/flaky's 500 share")
    parser.add_argument("--seed", type=int, help="seed latencies and errors")
    parser.set_defaults(func=_cmd_demo_service)


def _cmd_demo_service(args: argparse.Namespace) -> int:
    from sla_runner.demo.service import main_demo_service  # noqa: PLC0415

    return main_demo_service(port=args.port, error_rate=args.error_rate, seed=args.seed)


def _add_merge(subparsers: Subparsers) -> None:
    parser = _command(
        subparsers,
        "merge",
        "merge the verdicts of segments of one run and judge the whole",
        "Read VERDICT files of one spec (same sha256; e.g. the segments 1/2 and 2/2 run on "
        "two hosts), merge their HDR recordings exactly and judge the thresholds again. "
        "With --spec the thresholds come from that file (its sha256 must match); otherwise "
        "from the thresholds recorded in the verdicts.",
    )
    parser.add_argument("verdicts", nargs="+", metavar="VERDICT", help="JSON verdict files")
    parser.add_argument("--spec", help="the spec the verdicts were run from")
    _add_report_options(parser)
    parser.set_defaults(func=_cmd_merge)


def _cmd_merge(args: argparse.Namespace) -> int:
    loaded = api.load_spec(args.spec) if args.spec else None
    verdict = api.merge_verdicts([Path(p) for p in args.verdicts], loaded)
    secrets = loaded.secrets if loaded else frozenset()
    return _finish(verdict, args, secrets)


# --- diff -----------------------------------------------------------------------------


def _add_diff(subparsers: Subparsers) -> None:
    parser = _command(
        subparsers,
        "diff",
        "compare two versions of a spec: what was tightened, what was loosened",
        "Compare OLD and NEW (e.g. the contract before and after a change) and print each "
        "change as tightened (the service promises more: a lower latency limit, a higher "
        "success rate, more load, a new threshold), loosened (the reverse) or changed. "
        "Thresholds are matched by metric, endpoint or channel, statistic and window.\n\n"
        "diff exits 1 when anything was loosened, so a contract repository can require a "
        "review for it; 0 otherwise; 2 when a spec is invalid.",
    )
    parser.add_argument("old", metavar="OLD", help="the spec as it was")
    parser.add_argument("new", metavar="NEW", help="the spec as it is")
    parser.set_defaults(func=_cmd_diff)


def _cmd_diff(args: argparse.Namespace) -> int:
    from sla_runner.report.redact import redact  # noqa: PLC0415
    from sla_runner.spec.diff import diff_specs, version_note  # noqa: PLC0415

    old, new = api.load_spec(args.old), api.load_spec(args.new)
    secrets = old.secrets | new.secrets
    a, b = old.spec, new.spec
    changes = diff_specs(a, b)
    print(
        f"{a.name} {a.sla_version} ({old.sha256[:12]}) → {b.name} {b.sla_version} "
        f"({new.sha256[:12]})"
    )
    for change in changes:
        print(redact(change.format(), secrets))
    note = version_note(a, b, changes)
    if note:
        print(f"warning: {note}", file=sys.stderr)
    loosened = sum(c.kind == "loosened" for c in changes)
    tightened = sum(c.kind == "tightened" for c in changes)
    print(f"{_count(len(changes), 'change')}: {tightened} tightened, {loosened} loosened")
    return 1 if loosened else EXIT_PASS


# --- wiring ---------------------------------------------------------------------------

# One entry per subcommand, in the order `--help` lists them.
_SUBCOMMANDS: tuple[Callable[[Subparsers], None], ...] = (
    _add_run,
    _add_validate,
    _add_demo,
    _add_demo_service,
    _add_merge,
    _add_diff,
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
