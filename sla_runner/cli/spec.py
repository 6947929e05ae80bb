"""The spec subcommands: ``validate``, ``schema``, ``plan``, ``diff``, ``migrate``."""

from __future__ import annotations

import argparse
import sys

from sla_runner import api
from sla_runner.capacity.document import capacity_json_schema_text
from sla_runner.cli.common import (
    EXIT_CODES_DIFF,
    EXIT_CODES_MIGRATE,
    EXIT_CODES_PLAN,
    EXIT_CODES_SCHEMA,
    EXIT_CODES_VALIDATE,
    Subparsers,
    add_set_option,
    command,
)
from sla_runner.comparison import comparison_json_schema_text
from sla_runner.errors import EXIT_PASS, SpecError
from sla_runner.plan import Segment, build_plan
from sla_runner.report.spec_text import diff_lines, diff_tally, plan_lines, validated
from sla_runner.spec.schema import spec_json_schema_text
from sla_runner.verdict import verdict_json_schema_text

# --- validate -------------------------------------------------------------------------


def add_validate(subparsers: Subparsers) -> None:
    parser = command(
        subparsers,
        "validate",
        "check spec files without running them",
        "Check each SPEC: YAML, ${VAR} interpolation, every field, units, thresholds and "
        "cross-references. Prints every problem as file:line:col: path: message.",
        EXIT_CODES_VALIDATE,
    )
    parser.add_argument("specs", nargs="+", metavar="SPEC", help="spec files (YAML)")
    add_set_option(parser)
    parser.set_defaults(func=_cmd_validate)


def _cmd_validate(args: argparse.Namespace) -> int:
    overrides = api.parse_overrides(args.overrides)
    status = EXIT_PASS
    for path in args.specs:
        try:
            loaded = api.load_spec(path, overrides=overrides)
        except SpecError as exc:
            print(exc.report(), file=sys.stderr)
            status = max(status, exc.exit_code)
            continue
        print(validated(path, loaded.spec, loaded.version))
    return status


# --- schema ---------------------------------------------------------------------------


def add_schema(subparsers: Subparsers) -> None:
    parser = command(
        subparsers,
        "schema",
        "print the JSON Schema of the spec format, the verdict, the comparison or the capacity "
        "document",
        "Print the JSON Schema of the spec format, versions 1 and 2 (spec, the default), "
        "of the JSON verdict, format sla-runner/verdict version 1 (verdict), of what "
        "compare --json writes, format sla-runner/comparison version 1 (comparison), or of "
        "the capacity document, format sla-runner/capacity version 1 (capacity). "
        "Regenerate the committed copies with:\n"
        "  sla-runner schema > schemas/sla-spec.schema.json\n"
        "  sla-runner schema verdict > schemas/verdict.schema.json\n"
        "  sla-runner schema comparison > schemas/comparison.schema.json\n"
        "  sla-runner schema capacity > schemas/capacity.schema.json",
        EXIT_CODES_SCHEMA,
    )
    parser.add_argument(
        "which",
        nargs="?",
        choices=sorted(_SCHEMAS),
        default="spec",
        metavar="{spec,verdict,comparison,capacity}",
        help="which schema (default: spec)",
    )
    parser.set_defaults(func=_cmd_schema)


_SCHEMAS = {
    "spec": spec_json_schema_text,
    "verdict": verdict_json_schema_text,
    "comparison": comparison_json_schema_text,
    "capacity": capacity_json_schema_text,
}


def _cmd_schema(args: argparse.Namespace) -> int:
    sys.stdout.write(_SCHEMAS[args.which]())
    return EXIT_PASS


# --- plan -----------------------------------------------------------------------------


def add_plan(subparsers: Subparsers) -> None:
    parser = command(
        subparsers,
        "plan",
        "show the load a spec plans, stage by stage, without running it",
        "Print the plan of SPEC: each stage's window and how its users (closed model) or "
        "arrival rate (open model) ramp, the peak, the planned arrivals, the connections the "
        "load needs, and the endpoint mix or the flow; a spec of several scenarios, each "
        "one's timeline from its start, then the run's totals. Nothing is sent.",
        EXIT_CODES_PLAN,
    )
    parser.add_argument("spec", metavar="SPEC", help="the spec file (YAML)")
    add_set_option(parser)
    parser.add_argument("--segment", default="1/1", metavar="I/N", help="one share of the load")
    parser.set_defaults(func=_cmd_plan)


def _cmd_plan(args: argparse.Namespace) -> int:
    loaded = api.load_spec(args.spec, overrides=api.parse_overrides(args.overrides))
    for line in plan_lines(loaded.spec, build_plan(loaded.spec, Segment.parse(args.segment))):
        print(line)
    return EXIT_PASS


# --- diff -----------------------------------------------------------------------------


def add_diff(subparsers: Subparsers) -> None:
    parser = command(
        subparsers,
        "diff",
        "compare two versions of a spec: what was tightened, what was loosened",
        "Compare OLD and NEW (e.g. the contract before and after a change) and print each "
        "change as tightened (the service promises more: a lower latency limit, a higher "
        "success rate, more load, a new threshold), loosened (the reverse) or changed. "
        "Thresholds are matched by metric, endpoint or channel, statistic and window; an "
        "endpoint or channel renamed with the same definition is one change, and what names "
        "it follows it. The last line counts the changes of each kind.",
        EXIT_CODES_DIFF,
    )
    parser.add_argument("old", metavar="OLD", help="the spec as it was")
    parser.add_argument("new", metavar="NEW", help="the spec as it is")
    parser.set_defaults(func=_cmd_diff)


def _cmd_diff(args: argparse.Namespace) -> int:
    diff = api.compare_specs(api.load_spec(args.old), api.load_spec(args.new))
    for line in diff_lines(diff.old, diff.new, diff.changes):
        print(line)
    if diff.note:
        print(f"warning: {diff.note}", file=sys.stderr)
    print(diff_tally(diff.changes))
    return diff.exit_code


# --- migrate --------------------------------------------------------------------------


def add_migrate(subparsers: Subparsers) -> None:
    parser = command(
        subparsers,
        "migrate",
        "print a version-1 spec in format 2",
        "Print the format-2 spec that SPEC, a version-1 file, means: one scenario, default, "
        "its stages ramping as version 1's do (written as ramp_to), its endpoint weights as "
        "the scenario's mix, its comments kept where they can be. The output validates and "
        "plans identically; the file itself is not changed:\n"
        "  sla-runner migrate checkout.yaml > checkout.v2.yaml",
        EXIT_CODES_MIGRATE,
    )
    parser.add_argument("spec", metavar="SPEC", help="the version-1 spec file (YAML)")
    parser.set_defaults(func=_cmd_migrate)


def _cmd_migrate(args: argparse.Namespace) -> int:
    sys.stdout.write(api.migrate_spec(args.spec))
    return EXIT_PASS
