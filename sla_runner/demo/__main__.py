"""``python -m sla_runner.demo [--port N] [--error-rate F] [--seed S]``: the demo service alone.

``sla-runner demo-service`` is the documented way; this entry point lets tests and scripts
start the service without the CLI. ``--until-stdin-closes`` (what ``sla-runner demo`` uses)
also stops it when its standard input ends: when the process holding the pipe exits.
"""

from __future__ import annotations

import argparse
import sys

from sla_runner.demo.args import ERROR_RATE_HELP, error_rate_arg, port_arg
from sla_runner.demo.service import main_demo_service
from sla_runner.errors import SlaRunnerError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sla_runner.demo", description=__doc__)
    parser.add_argument(
        "--port", type=port_arg, default=0, help="TCP port on 127.0.0.1 (0: any free)"
    )
    parser.add_argument("--error-rate", type=error_rate_arg, default=0.01, help=ERROR_RATE_HELP)
    parser.add_argument("--seed", type=int, default=None, help="seed latencies and errors")
    parser.add_argument("--until-stdin-closes", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        return main_demo_service(
            port=args.port,
            error_rate=args.error_rate,
            seed=args.seed,
            until_stdin_closes=args.until_stdin_closes,
        )
    except SlaRunnerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
