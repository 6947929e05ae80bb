"""The deployment subcommands: ``k8s``."""

from __future__ import annotations

import argparse
import sys

from sla_runner import api
from sla_runner.cli.common import (
    INTERRUPTED,
    Subparsers,
    add_set_option,
    command,
)
from sla_runner.engine.poolparts import parse_workers
from sla_runner.errors import UsageError
from sla_runner.k8s import K8sOptions, manifests
from sla_runner.spec.units import parse_duration_ns
from sla_runner.timeunits import NS_PER_S

EXIT_CODES_K8S = (
    """\
exit codes:
  0    the manifests were printed (or written to --output)
  2    invalid spec or command line (e.g. a data file outside the spec's folder, or more
       pods, times --workers, than the load can be dealt to)
  3    a manifest file could not be written
"""
    + INTERRUPTED
)


def add_k8s(subparsers: Subparsers) -> None:
    parser = command(
        subparsers,
        "k8s",
        "print Kubernetes manifests that run a spec as N segment pods and merge them",
        "Print one multi-document YAML (or write one file each to --output): a ConfigMap "
        "with SPEC (and the data files it names), a ReadWriteMany PersistentVolumeClaim for "
        "the verdicts, an Indexed Job whose pod i runs `sla-runner run SPEC --segment "
        "i+1/N --json /results/RUN/segment-(i+1).json`, and a Job that waits for every "
        "segment's verdict (or --merge-timeout) and runs `sla-runner merge` on them, "
        "writing junit.xml and verdict.json there (missing segments: invalid). Needs "
        "Kubernetes 1.33 or later. Nothing is sent to a cluster: apply with kubectl. A "
        "spec field that names this machine (a target on 127.0.0.1 or localhost, a process "
        "found by port, pid or name) is a warning on stderr, one line each: in a pod that is "
        "the pod itself.",
        EXIT_CODES_K8S,
    )
    parser.add_argument("spec", metavar="SPEC", help="the spec file (YAML)")
    parser.add_argument(
        "--parallelism", required=True, type=int, metavar="N", help="segments (pods)"
    )
    parser.add_argument(
        "--image",
        default=K8sOptions.image,
        help=f"the image with sla-runner (the Dockerfile's; default: {K8sOptions.image})",
    )
    parser.add_argument("--output", metavar="DIR", help="write one file per manifest here")
    add_set_option(parser)
    parser.add_argument("--name", help="prefix of the objects' names (default: the spec's name)")
    parser.add_argument("--namespace", help="the namespace of every object")
    parser.add_argument(
        "--run-id",
        help="the run's folder on the volume (default: the time, UTC): a new id per run",
    )
    parser.add_argument(
        "--workers", default="1", metavar="N", help="run --workers N in each pod (default: 1)"
    )
    parser.add_argument(
        "--secret", metavar="NAME", help="a Secret whose keys the segment pods get as variables"
    )
    parser.add_argument("--storage-class", metavar="CLASS", help="of the results volume")
    parser.add_argument(
        "--merge-timeout",
        metavar="DURATION",
        help="how long the merge waits for the segments (default: the planned duration + 15m)",
    )
    parser.set_defaults(func=_cmd_k8s)


def _cmd_k8s(args: argparse.Namespace) -> int:
    overrides = api.parse_overrides(args.overrides)
    workers = parse_workers(args.workers)
    timeout_s = None
    if args.merge_timeout is not None:
        try:
            timeout_s = parse_duration_ns(args.merge_timeout) / NS_PER_S
        except ValueError as exc:
            raise UsageError(f"--merge-timeout: {exc}") from None
    loaded = api.load_spec(args.spec, overrides=overrides)
    options = K8sOptions(
        parallelism=args.parallelism,
        image=args.image,
        name=args.name,
        namespace=args.namespace,
        run_id=args.run_id,
        overrides=overrides,
        workers=workers,
        secret=args.secret,
        storage_class=args.storage_class,
        merge_timeout_s=timeout_s,
    )
    made = manifests(loaded, options)
    for warning in made.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if args.output is None:
        sys.stdout.write(made.text())
        return 0
    for path in made.write(args.output):
        print(f"wrote {path}")
    return 0
