"""Issue 15, scale out on one host: what ``run --workers 2`` delivers against one worker.

    flock /tmp/sla-bench.lock .venv/bin/python -m bench.workers              # 3 runs × 10 s
    flock /tmp/sla-bench.lock .venv/bin/python -m bench.workers --runs 5 --seconds 15
    flock /tmp/sla-bench.lock .venv/bin/python -m bench.workers --users 25  # half the users

The closed loop of ``bench.run`` (50 users, no think time, nginx's 54-byte static file),
with ``--workers 1``, ``--workers 2`` and, as a baseline without a parent, ``--segment 1/2``
and ``2/2`` as two plain runs side by side, in turn (interleaved, ``--runs`` times each). Target
and generator share every core (nginx, sla-runner and this harness all unpinned), as on a
CI runner or a developer's machine. Measured as ``bench.run`` measures: nginx's own request
counter and the generator's CPU — here its whole process tree, the parent and its workers
— every 100 ms over the steady window; nginx's own CPU per request beside them.

Bars: with 2 workers the generator's CPU per request within 10% of one worker's (what
coordination costs), and 2 workers deliver at least 1.3× the requests of one. Beside them:
``--workers 2`` against the two plain runs (coordination proper), the parent's own CPU, and
the CPU ceiling the measured costs allow on these cores. Prints a Markdown table and writes
every run to ``bench/results/workers-<time>.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench import scenarios as sc
from bench.common import ROOT, VENV_BIN
from bench.tools import ensure_installed, start_nginx, versions
from sla_runner.metrics.histogram import value_at_percentile

VARIANTS = ("1", "2", "2 apart")  # --workers 1, --workers 2, two --segment runs side by side
LABELS = {"1": "--workers 1", "2": "--workers 2", "2 apart": "2 × --segment, no parent"}


def _all_cores() -> str:
    return ",".join(str(c) for c in sorted(os.sched_getaffinity(0)))


def two_apart(
    work: Path, spec: Path, count: Callable[[], int], seconds: int, cores: str, target: int
) -> sc.Measured:
    """``--segment 1/2`` and ``2/2`` as two plain ``sla-runner run`` processes side by side:
    two event loops and no parent, the baseline that tells splitting the load over two
    processes from coordinating them."""
    binary = VENV_BIN / "sla-runner"
    runs = [
        f"'{binary}' run '{spec}' --segment {i}/2 --quiet --json '{work}/apart{i}.json' &"
        for i in (1, 2)
    ]
    args = ["sh", "-c", " ".join([*runs, "wait"])]
    log = work / "apart.log"
    measured, code = sc.watch(
        "sla-runner", args, count, log, seconds + 60, cores=cores, tree=True, target=target
    )
    verdicts = [json.loads((work / f"apart{i}.json").read_text()) for i in (1, 2)]
    hist = sc.histogram(verdicts[0], "http", stage=1)
    hist.add(sc.histogram(verdicts[1], "http", stage=1))
    measured.p50_us = float(value_at_percentile(hist, 50))
    measured.p99_us = float(value_at_percentile(hist, 99))
    measured.extra |= {"exit": code, "status": "+".join(v["status"] for v in verdicts)}
    measured.extra.pop("root_cpu_us_per_op", None)  # the root is sh
    return measured


def measure(runs: int, seconds: int, users: int) -> dict[str, list[sc.Measured]]:
    cores = _all_cores()
    work = Path(tempfile.mkdtemp(prefix="sla-bench-workers-"))
    nginx = start_nginx(work, cores)
    out: dict[str, list[sc.Measured]] = {v: [] for v in VARIANTS}
    try:
        spec = sc.write_spec(
            work, "closed", nginx.url, sc.HTTP_ENDPOINT, f"users: {users}", seconds
        )
        count, pid = nginx.requests_served, nginx.proc.pid
        for i in range(runs):
            for variant in VARIANTS:
                print(f"closed model, {variant}, run {i + 1}/{runs}", flush=True)
                if variant == "2 apart":
                    measured = two_apart(work, spec, count, seconds, cores, pid)
                else:
                    measured = sc.sla_runner(
                        work,
                        f"workers{variant}",
                        spec,
                        count,
                        seconds,
                        workers=int(variant),
                        cores=cores,
                        target=pid,
                    )
                out[variant].append(measured)
    finally:
        nginx.stop()
    return out


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def ceiling(gen_us: float, target_us: float, workers: int, cores: int) -> float:
    """The most requests per second the CPU allows: the generator's ``workers`` processes
    each use at most one core, nginx's one worker at most one, and together at most
    ``cores`` — at the measured CPU per request of each."""
    return min(workers * 1e6 / gen_us, 1e6 / target_us, cores * 1e6 / (gen_us + target_us))


def report(
    results: dict[str, list[sc.Measured]], runs: int, seconds: int, users: int, cores: int
) -> tuple[str, bool]:
    lines = [
        f"### --workers 1 and 2, closed model, {users} users (median of {runs} × {seconds} s)",
        "",
        "| generator | req/s | generator CPU µs/req | of it the parent | generator CPU (cores) | "
        "context switches / 1,000 req | nginx CPU µs/req | nginx CPU (cores) | "
        "others' CPU (cores) | p50 / p99 µs | status | "
        "runs, req/s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|",
    ]
    med: dict[str, dict[str, float]] = {}
    for n, ms in results.items():
        med[n] = {
            "rate": _median([m.rate for m in ms]),
            "cpu": _median([m.cpu_us_per_op for m in ms]),
            "root": _median([m.extra.get("root_cpu_us_per_op", math.nan) for m in ms]),
            "util": _median([m.cpu_util for m in ms]),
            "switches": _median([m.extra.get("switches_per_kop", math.nan) for m in ms]),
            "ncpu": _median([m.extra["target_cpu_us_per_op"] for m in ms]),
            "nutil": _median([m.extra["target_cpu_util"] for m in ms]),
            "others": _median(
                [
                    m.extra["machine_busy_cores"] - m.cpu_util - m.extra["target_cpu_util"]
                    for m in ms
                ]
            ),
            "p50": _median([m.p50_us or 0 for m in ms]),
            "p99": _median([m.p99_us or 0 for m in ms]),
        }
        m = med[n]
        statuses = ", ".join(sorted({x.extra["status"] for x in ms}))
        each = ", ".join(f"{x.rate:,.0f}" for x in ms)
        root = f"{m['root']:.2f}" if n == "2" else "–"  # --workers 1 runs in-process
        lines.append(
            f"| {LABELS[n]} | {m['rate']:,.0f} | {m['cpu']:.1f} | {root} | {m['util']:.2f} | "
            f"{m['switches']:.0f} | "
            f"{m['ncpu']:.1f} | {m['nutil']:.2f} | {m['others']:.2f} | "
            f"{m['p50']:,.0f} / {m['p99']:,.0f} | {statuses} | {each} |"
        )
    cpu_ratio = med["2"]["cpu"] / med["1"]["cpu"]
    rate_ratio = med["2"]["rate"] / med["1"]["rate"]
    caps = {n: ceiling(med[n]["cpu"], med[n]["ncpu"], 2 if "2" in n else 1, cores) for n in med}
    bars = [
        ("generator CPU per request, 2 workers ÷ 1, ≤ 1.10", f"{cpu_ratio:.3f}", cpu_ratio <= 1.1),
        ("requests delivered, 2 workers ÷ 1, ≥ 1.3", f"{rate_ratio:.2f}×", rate_ratio >= 1.3),
    ]
    lines += ["", "| bar | measured | met |", "|---|---|---|"]
    lines += [f"| {name} | {value} | {'yes' if ok else '**no**'} |" for name, value, ok in bars]
    apart = med["2"]["cpu"] / med["2 apart"]["cpu"]
    lines += [
        "",
        f"Coordination proper: generator CPU per request of --workers 2 ÷ two --segment runs "
        f"side by side = {apart:.3f}; the parent's own share {med['2']['root']:.2f} µs/req.",
    ]
    lines += [
        "",
        f"CPU ceiling on {cores} cores at these CPU costs per request (each worker ≤ 1 core, "
        f"nginx ≤ 1, all ≤ {cores}): 1 worker {caps['1']:,.0f} req/s, 2 workers "
        f"{caps['2']:,.0f} req/s, so at most {caps['2'] / caps['1']:.2f}× on an idle machine.",
    ]
    return "\n".join(lines), all(ok for _, _, ok in bars)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="run --workers 2 against one worker (issue 15)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10, help="steady seconds per run")
    parser.add_argument("--users", type=int, default=50, help="closed-loop users in all")
    args = parser.parse_args(argv)
    if shutil.which("nginx") is None:
        ensure_installed()
    results = measure(args.runs, args.seconds, args.users)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    out = ROOT / "bench" / "results" / f"workers-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "versions": versions(),
        "cores": _all_cores(),
        "runs": args.runs,
        "seconds": args.seconds,
        "users": args.users,
        "results": {n: [dataclasses.asdict(m) for m in ms] for n, ms in results.items()},
    }
    out.write_text(json.dumps(record, indent=1) + "\n")
    text, met = report(results, args.runs, args.seconds, args.users, len(_all_cores().split(",")))
    print(text)
    print(f"\nwrote {out.relative_to(ROOT)}")
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
