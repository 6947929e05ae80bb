"""``python -m sla_runner.demo [--port N] [--error-rate F] [--seed S]``: the demo service alone.

``sla-runner demo-service`` is the documented way; this entry point lets tests and scripts
start the service without the CLI.
"""

from __future__ import annotations

import argparse

from sla_runner.demo.service import main_demo_service


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sla_runner.demo", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: any free)")
    parser.add_argument("--error-rate", type=float, default=0.01, help="share of /api/flaky → 500")
    parser.add_argument("--seed", type=int, default=None, help="seed latencies and errors")
    args = parser.parse_args(argv)
    return main_demo_service(port=args.port, error_rate=args.error_rate, seed=args.seed)


if __name__ == "__main__":
    raise SystemExit(main())
