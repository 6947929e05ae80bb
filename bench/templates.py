"""Micro-benchmark: what filling ``{{ name }}`` templates costs per request (issue 11).

    flock /tmp/sla-bench.lock .venv/bin/python -m bench.templates [--calls N] [--repeat R]

Prints the CPU time per call, in µs (the best of R repeats of N calls; the best is the run
least disturbed by other processes on a shared machine), of the renders one flow step does:
a path with one variable (percent-encoded), a header with one variable, both together, a
JSON body with two values, and, for scale, a static template. Not run by ``.ci/test``.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable

from sla_runner.spec.templates import RenderState, parse_json_template, parse_template


def per_call_us(fn: Callable[[], object], calls: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time_ns()
        for _ in range(calls):
            fn()
        best = min(best, (time.process_time_ns() - started) / calls)
    return best / 1000


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.templates")
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    state = RenderState(
        user=1,
        rng=random.Random(1),
        clock_ms=lambda: time.time_ns() // 1_000_000,
        variables={"order_id": 123456, "token": "eyJhbGciOiJIUzI1NiJ9.abc.def"},
        rows={"accounts": {"user": "user-0001", "password": "secret-0001"}},
    )
    path = parse_template("/orders/{{ order_id }}").renderer(quote=True)
    header = parse_template("Bearer {{ token }}").renderer()
    static = parse_template("/items").renderer()
    body = parse_json_template(
        {"user": "{{ accounts.user }}", "password": "{{ accounts.password }}"}
    )

    def step() -> None:
        path(state)
        header(state)

    cases: list[tuple[str, Callable[[], object]]] = [
        ("static path /items", lambda: static(state)),
        ("path /orders/{{ order_id }} (quoted)", lambda: path(state)),
        ("header Bearer {{ token }}", lambda: header(state)),
        ("path + header (one step)", step),
        ("JSON body, 2 columns, to bytes", lambda: body.render_bytes(state)),
    ]
    print(f"{'render':40} µs/call  (best of {args.repeat} × {args.calls:,} calls)")
    for name, fn in cases:
        print(f"{name:40} {per_call_us(fn, args.calls, args.repeat):7.3f}")


if __name__ == "__main__":
    main()
