"""The spec subcommands: ``validate``, ``schema``, ``plan``, ``diff``."""

from __future__ import annotations

import argparse
import sys
from fractions import Fraction

from sla_runner import api
from sla_runner.cli_common import (
    EXIT_CODES_DIFF,
    EXIT_CODES_PLAN,
    EXIT_CODES_SCHEMA,
    EXIT_CODES_VALIDATE,
    Subparsers,
    add_set_option,
    command,
    count,
    parse_overrides,
)
from sla_runner.errors import EXIT_PASS, SpecError
from sla_runner.plan import Segment, build_plan
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
            f"ok: {path} ({count(len(spec.endpoints), 'endpoint')}, "
            f"{count(len(spec.channels), 'channel')}, "
            f"{count(len(spec.thresholds), 'threshold')})"
        )
    return status


# --- schema ---------------------------------------------------------------------------


def add_schema(subparsers: Subparsers) -> None:
    parser = command(
        subparsers,
        "schema",
        "print the JSON Schema of the spec format or of the verdict",
        "Print the JSON Schema of spec format version 1 (spec, the default) or of the JSON "
        "verdict, format sla-runner/verdict version 1 (verdict). Regenerate the committed "
        "copies with:\n"
        "  sla-runner schema > schemas/sla-spec.schema.json\n"
        "  sla-runner schema verdict > schemas/verdict.schema.json",
        EXIT_CODES_SCHEMA,
    )
    parser.add_argument(
        "which",
        nargs="?",
        choices=sorted(_SCHEMAS),
        default="spec",
        metavar="{spec,verdict}",
        help="which schema (default: spec)",
    )
    parser.set_defaults(func=_cmd_schema)


_SCHEMAS = {"spec": spec_json_schema_text, "verdict": verdict_json_schema_text}


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
        "load needs, and the endpoint mix. Nothing is sent.",
        EXIT_CODES_PLAN,
    )
    parser.add_argument("spec", metavar="SPEC", help="the spec file (YAML)")
    add_set_option(parser)
    parser.add_argument("--segment", default="1/1", metavar="I/N", help="one share of the load")
    parser.set_defaults(func=_cmd_plan)


def _cmd_plan(args: argparse.Namespace) -> int:
    from sla_runner.engine.preflight import connections_needed  # noqa: PLC0415

    loaded = api.load_spec(args.spec, overrides=parse_overrides(args.overrides))
    spec, plan = loaded.spec, build_plan(loaded.spec, Segment.parse(args.segment))
    unit = "users" if plan.model == "closed" else "/s"
    print(f"{spec.name} {spec.sla_version}: {plan.model} model, segment {plan.segment}")
    for stage in plan.stages:
        lo, hi = stage.from_level / plan.segment.count, stage.to_level / plan.segment.count
        if plan.model == "closed":
            lo, hi = Fraction(plan.users_at(stage.start_ns)), Fraction(plan.users_at(stage.end_ns))
        window = f"{stage.start_ns / 1e9:g}s – {stage.end_ns / 1e9:g}s"
        print(f"  {stage.name:<14} {window:<20} {float(lo):g} → {float(hi):g} {unit}")
    if plan.model == "closed":
        print(f"peak: {plan.peak_users()} users")
    else:
        print(f"arrivals: {plan.total_arrivals():,}")
    print(f"connections needed at most: {connections_needed(spec, plan):,}")
    if plan.mix:
        shares = ", ".join(
            f"{name} {100 * plan.mix.count(i) / len(plan.mix):.4g}%"
            for i, name in enumerate(plan.endpoints)
        )
        print(f"endpoint mix: {shares}")
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
        "Thresholds are matched by metric, endpoint or channel, statistic and window.",
        EXIT_CODES_DIFF,
    )
    parser.add_argument("old", metavar="OLD", help="the spec as it was")
    parser.add_argument("new", metavar="NEW", help="the spec as it is")
    parser.set_defaults(func=_cmd_diff)


def _cmd_diff(args: argparse.Namespace) -> int:
    from sla_runner.redact import redact  # noqa: PLC0415
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
    print(f"{count(len(changes), 'change')}: {tightened} tightened, {loosened} loosened")
    return 1 if loosened else EXIT_PASS
