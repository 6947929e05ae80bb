"""The side-by-side benchmark of issue 3 ("Performance bar"), in one command.

    .venv/bin/python -m bench.run                  # from the repo root: 3 runs × 10 s each
    .venv/bin/python -m bench.run --runs 5 --seconds 15

Installs what is missing (nginx and wrk with apt-get, Locust into ``bench/.venv``), pins
itself and the target to core 0 and every generator to core 1, and measures:

1. closed model, 50 users, no think time against nginx: sla-runner, Locust
   FastHttpUser and wrk -t1 -c50 in turn (interleaved, ``--runs`` times each);
2. latency added at 200 req/s: sla-runner's open model at 200/s (latency from the
   intended send time) against wrk -t1 -c1 pausing 5 ms between requests (wrk's
   ``delay()``: about 200 req/s of isolated requests, timed by C) — wrk2 is not packaged
   in Debian 12;
3. open model at 5,000 req/s: completed vs planned, dropped, late, send lateness;
4. WebSocket round trips: 50 users each on one channel (interval 0) against the demo
   service's ``/ws/echo`` on core 0.

Prints the medians and ratios as Markdown and writes every run to
``bench/results/run-<time>.json``. Binds 127.0.0.1 only and stops what it starts.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import statistics
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import scenarios as sc
from bench.common import ROOT, start_demo_service, stop_process
from bench.tools import Nginx, ensure_installed, start_nginx, versions

TARGET_CORE = 0

Bars = list[tuple[str, str, bool]]


def _median(runs: list[sc.Measured], attr: str) -> float:
    values = [getattr(m, attr) for m in runs if getattr(m, attr) is not None]
    return statistics.median(values) if values else float("nan")


def _median_extra(runs: list[sc.Measured], key: str) -> float:
    values = [m.extra[key] for m in runs if m.extra.get(key) is not None]
    return statistics.median(values) if values else float("nan")


def closed(work: Path, nginx: Nginx, runs: int, seconds: int) -> dict[str, list[sc.Measured]]:
    users = "users: 50"
    spec = sc.write_spec(work, "closed", nginx.url, sc.HTTP_ENDPOINT, users, seconds)
    count = nginx.requests_served
    out: dict[str, list[sc.Measured]] = {"sla-runner": [], "locust": [], "wrk": []}
    for i in range(runs):
        print(f"closed model, run {i + 1}/{runs}", flush=True)
        out["sla-runner"].append(sc.sla_runner(work, "closed", spec, count, seconds))
        out["locust"].append(sc.locust(work, nginx.url, count, seconds))
        out["wrk"].append(sc.wrk(work, f"{nginx.url}/hello.txt", count, seconds))
    return out


def latency_200(work: Path, nginx: Nginx, runs: int, seconds: int) -> dict[str, list[sc.Measured]]:
    spec = sc.write_spec(work, "open200", nginx.url, sc.HTTP_ENDPOINT, "rate: 200/s", seconds)
    count = nginx.requests_served
    out: dict[str, list[sc.Measured]] = {"sla-runner": [], "wrk": []}
    for i in range(runs):
        print(f"200 req/s latency, run {i + 1}/{runs}", flush=True)
        out["sla-runner"].append(sc.sla_runner(work, "open200", spec, count, seconds))
        url = f"{nginx.url}/hello.txt"
        out["wrk"].append(sc.wrk(work, url, count, seconds, connections=1, delay_ms=5))
    return out


def open_5000(work: Path, nginx: Nginx, runs: int, seconds: int) -> list[sc.Measured]:
    spec = sc.write_spec(work, "open5000", nginx.url, sc.HTTP_ENDPOINT, "rate: 5000/s", seconds)
    out = []
    for i in range(runs):
        print(f"open model 5,000 req/s, run {i + 1}/{runs}", flush=True)
        out.append(sc.sla_runner(work, "open5000", spec, nginx.requests_served, seconds))
    return out


def websocket(work: Path, runs: int, seconds: int) -> list[sc.Measured]:
    demo = start_demo_service(core=TARGET_CORE)
    try:
        base = f"http://127.0.0.1:{demo.port}"

        def count() -> int:
            with urllib.request.urlopen(f"{base}/stats", timeout=5) as response:
                return int(json.load(response)["ws_messages"].get("/ws/echo", 0))

        spec = sc.write_spec(work, "ws", base, sc.WS_CHANNEL, "users: 50", seconds)
        out = []
        for i in range(runs):
            print(f"WebSocket echo, run {i + 1}/{runs}", flush=True)
            out.append(sc.sla_runner(work, "ws", spec, count, seconds, metric="ws"))
        return out
    finally:
        stop_process(demo.proc)


def _us(v: float) -> str:
    return "—" if math.isnan(v) else f"{v:,.0f}"


def report(
    results: dict[str, Any], runs: int, seconds: int, fmt: Callable[[float], str] = _us
) -> tuple[str, Bars]:
    lines: list[str] = []
    bars: Bars = []
    c = results["closed"]
    lines += [
        f"### Closed model, 50 users, no think time (median of {runs} × {seconds} s)",
        "",
        "| generator | req/s | CPU µs/req | generator CPU (cores) | p50 µs | p99 µs | runs req/s |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for tool, ms in c.items():
        each = ", ".join(f"{m.rate:,.0f}" for m in ms)
        lines.append(
            f"| {tool} | {fmt(_median(ms, 'rate'))} | {_median(ms, 'cpu_us_per_op'):.1f} | "
            f"{_median(ms, 'cpu_util'):.2f} | {fmt(_median(ms, 'p50_us'))} | "
            f"{fmt(_median(ms, 'p99_us'))} | {each} |"
        )
    per_core = {t: _median(ms, "rate") / min(_median(ms, "cpu_util"), 1.0) for t, ms in c.items()}
    ratio_locust = per_core["sla-runner"] / per_core["locust"]
    ratio_wrk = _median(c["sla-runner"], "rate") / _median(c["wrk"], "rate")
    lines += [
        "",
        f"sla-runner / Locust FastHttpUser, req/s per generator core: **{ratio_locust:.2f}×**; "
        f"sla-runner / wrk, req/s: {ratio_wrk:.2f}×",
        "",
    ]
    bars.append(("req/s per core ≥ 1.25 × Locust", f"{ratio_locust:.2f}×", ratio_locust >= 1.25))

    lat = results["latency_200"]
    ours, theirs = _median(lat["sla-runner"], "p50_us"), _median(lat["wrk"], "p50_us")
    added = ours - theirs
    lines += [
        "### Latency added at 200 req/s",
        "",
        "| client | req/s | p50 µs | p99 µs |",
        "|---|---:|---:|---:|",
        f"| sla-runner open model, 200/s (from the intended send time) | "
        f"{_median(lat['sla-runner'], 'rate'):.0f} | {fmt(ours)} | "
        f"{fmt(_median(lat['sla-runner'], 'p99_us'))} |",
        f"| wrk -c1, 5 ms delay between requests | {_median(lat['wrk'], 'rate'):.0f} | "
        f"{fmt(theirs)} | {fmt(_median(lat['wrk'], 'p99_us'))} |",
        "",
        f"added at p50: **{added:+.0f} µs** (median of each side's p50s)",
        "",
    ]
    bars.append(("latency added at 200 req/s p50 ≤ 100 µs", f"{added:+.0f} µs", added <= 100))

    o = results["open_5000"]
    pct = [100 * m.extra["completed"] / m.extra["planned"] for m in o if m.extra["planned"]]
    achieved = statistics.median(pct) if pct else float("nan")
    late99 = _median_extra(o, "send_lateness_p99_us")
    lines += [
        "### Open model at 5,000 req/s",
        "",
        "| run | planned | completed | % | dropped | late (>10 ms) | steady req/s | "
        "lateness p50/p99/max µs | p50/p99 µs | CPU µs/req | status |",
        "|---|---:|---:|---:|---:|---:|---:|---|---|---:|---|",
    ]
    for i, m in enumerate(o, 1):
        e = m.extra
        lines.append(
            f"| {i} | {e['planned']:,} | {e['completed']:,} | "
            f"{100 * e['completed'] / max(e['planned'], 1):.2f} | {e['dropped']} | {e['late']} | "
            f"{m.rate:,.0f} | {e['send_lateness_p50_us']}/{e['send_lateness_p99_us']}/"
            f"{e['send_lateness_max_us']} | {fmt(m.p50_us or 0)}/{fmt(m.p99_us or 0)} | "
            f"{m.cpu_us_per_op:.1f} | {e['status']} |"
        )
    lines += [
        "",
        f"median achieved {achieved:.2f}% of planned, p99 send lateness {late99:.0f} µs",
        "",
    ]
    bars.append(("open 5,000/s: achieved ≥ 99% planned", f"{achieved:.2f}%", achieved >= 99))
    bars.append(("open 5,000/s: p99 send lateness ≤ 1 ms", f"{late99:.0f} µs", late99 <= 1000))

    w = results["websocket"]
    rate, util = _median(w, "rate"), _median(w, "cpu_util")
    cpu_us = _median(w, "cpu_us_per_op")
    lines += [
        "### WebSocket round trips (50 connections, demo service /ws/echo on core 0)",
        "",
        "| run | round trips/s | generator CPU (cores) | CPU µs/round trip | p50/p99 µs |",
        "|---|---:|---:|---:|---|",
    ]
    for i, m in enumerate(w, 1):
        lines.append(
            f"| {i} | {m.rate:,.0f} | {m.cpu_util:.2f} | {m.cpu_us_per_op:.1f} | "
            f"{fmt(m.p50_us or 0)}/{fmt(m.p99_us or 0)} |"
        )
    per_core_ws = 1e6 / cpu_us
    lines += [
        "",
        f"median {rate:,.0f} round trips/s at {util:.2f} of a core = "
        f"**{per_core_ws:,.0f} round trips per generator core-second**",
        "",
    ]
    bars.append(("WS ≥ 25,000 round trips/s per core", f"{per_core_ws:,.0f}", per_core_ws >= 25000))

    lines += ["### Bars", "", "| bar | measured | met |", "|---|---|---|"]
    lines += [f"| {name} | {value} | {'yes' if ok else '**no**'} |" for name, value, ok in bars]
    return "\n".join(lines), bars


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="sla-runner vs Locust vs wrk (issue 3)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10, help="steady seconds per run")
    parser.add_argument("--only", choices=["closed", "latency_200", "open_5000", "websocket"])
    args = parser.parse_args(argv)
    ensure_installed()
    os.sched_setaffinity(0, {TARGET_CORE})  # the harness stays off the generator's core
    work = Path(tempfile.mkdtemp(prefix="sla-bench-"))
    results: dict[str, Any] = {}
    nginx = start_nginx(work, TARGET_CORE)
    try:
        todo: dict[str, Callable[[], object]] = {
            "closed": lambda: closed(work, nginx, args.runs, args.seconds),
            "latency_200": lambda: latency_200(work, nginx, args.runs, args.seconds),
            "open_5000": lambda: open_5000(work, nginx, args.runs, args.seconds),
        }
        for name, scenario in todo.items():
            if args.only in (None, name):
                results[name] = scenario()
    finally:
        nginx.stop()
    if args.only in (None, "websocket"):
        results["websocket"] = websocket(work, args.runs, args.seconds)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    out = ROOT / "bench" / "results" / f"run-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "versions": versions(),
        "runs": args.runs,
        "seconds": args.seconds,
        "results": {
            k: {t: [dataclasses.asdict(m) for m in ms] for t, ms in v.items()}
            if isinstance(v, dict)
            else [dataclasses.asdict(m) for m in v]
            for k, v in results.items()
        },
    }
    out.write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps(record["versions"], indent=1))
    if args.only is None:
        text, bars = report(results, args.runs, args.seconds)
        print(text)
        print(f"\nwrote {out.relative_to(ROOT)}")
        return 0 if all(ok for _, _, ok in bars) else 1
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
