"""One benchmark run of one generator: start it on its core, watch the counters, parse its report.

Throughput and CPU are measured the same way for every generator, from outside: every
100 ms the harness reads the *server's* request counter (nginx ``stub_status``, or the
demo service's ``/stats`` for WebSocket messages) and the generator's CPU time (psutil:
user + system). The figures come from the steady window — where the rate is above half
its peak, less 1 s at the start and 0.5 s at the end — so start-up (imports, spawning
users) and shut-down count for no tool. Latency percentiles come from each tool's own
report: sla-runner's HDR histograms (steady stage), Locust's CSV, wrk's ``--latency``.
"""

from __future__ import annotations

import csv
import json
import re
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from hdrh.histogram import HdrHistogram

from bench.common import VENV_BIN, stop_process
from bench.tools import LOCUST
from sla_runner.metrics.histogram import value_at_percentile

POLL_S = 0.1
GENERATOR_CORE = 1


@dataclass
class Measured:
    tool: str
    rate: float  # requests (or round trips) per second, server-side, steady window
    cpu_us_per_op: float  # generator CPU per request, steady window
    cpu_util: float  # generator CPU seconds per second (1.0 = one full core)
    p50_us: float | None = None
    p99_us: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Sample:
    t: float
    count: int
    cpu_s: float


class _Watcher:
    """Polls (server count, generator CPU) every POLL_S on a thread until stopped."""

    def __init__(self, pid: int, count: Callable[[], int]) -> None:
        self._proc = psutil.Process(pid)
        self._count = count
        self.samples: list[_Sample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                cpu = self._proc.cpu_times()
                n = self._count()
            except (psutil.NoSuchProcess, OSError):
                break
            self.samples.append(_Sample(time.monotonic(), n, cpu.user + cpu.system))
            self._stop.wait(POLL_S)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def steady(self) -> tuple[float, float, float]:
        """(ops/s, CPU µs per op, CPU utilisation) over the steady window."""
        s = self.samples
        rates = [(b.count - a.count) / (b.t - a.t) for a, b in zip(s, s[10:], strict=False)]
        if not rates:
            raise RuntimeError("too few samples: the run was too short")
        peak = max(rates)
        busy = [i for i, r in enumerate(rates) if r >= peak / 2]
        t_lo = s[busy[0]].t + 1.0
        t_hi = s[busy[-1] + 10].t - 0.5
        window = [x for x in s if t_lo <= x.t <= t_hi]
        if len(window) < 2:
            raise RuntimeError("no steady window: the run was too short")
        first, last = window[0], window[-1]
        ops = last.count - first.count
        seconds, cpu_s = last.t - first.t, last.cpu_s - first.cpu_s
        return ops / seconds, cpu_s * 1e6 / max(ops, 1), cpu_s / seconds


def _watch(
    tool: str, args: list[str], count: Callable[[], int], log: Path, timeout_s: float
) -> tuple[Measured, int]:
    with log.open("wb") as out:
        proc = subprocess.Popen(
            ["taskset", "-c", str(GENERATOR_CORE), *args], stdout=out, stderr=subprocess.STDOUT
        )
        watcher = _Watcher(proc.pid, count)
        try:
            proc.wait(timeout=timeout_s)
        finally:
            watcher.stop()
            stop_process(proc)
    rate, cpu_us, util = watcher.steady()
    return Measured(tool, rate, cpu_us, util), proc.returncode


# -- sla-runner ----------------------------------------------------------------------------

SPEC_HEAD = """\
version: 1
name: bench-{name}
sla_version: 1.0.0
owner: bench
target: {{base_url: "{base_url}", timeout: 5s}}
"""

HTTP_ENDPOINT = """\
endpoints:
  hello: {method: GET, path: /hello.txt, expect: {status: 200}}
"""

WS_CHANNEL = """\
channels:
  echo: {path: /ws/echo, send: hello, expect: {contains: hello}, interval: 0s, timeout: 5s}
"""

LOAD = """\
load:
  stages:
    - {{name: warm-up, duration: 1s, {level}}}
    - {{name: steady, duration: {seconds}s, {level}}}
  graceful_stop: 2s
thresholds:
  - {threshold}
"""


def write_spec(work: Path, name: str, base_url: str, body: str, level: str, seconds: int) -> Path:
    spec = work / f"{name}.yaml"
    threshold = "p99(ws) < 1s" if "channels" in body else "p99(http) < 1s"
    spec.write_text(
        SPEC_HEAD.format(name=name, base_url=base_url)
        + body
        + LOAD.format(level=level, seconds=seconds, threshold=threshold)
    )
    return spec


def _histogram(verdict: dict[str, Any], metric: str, stage: int) -> HdrHistogram:
    merged: HdrHistogram | None = None
    for series in verdict["recording"]["series"]:
        if series["metric"] == metric and series["stage"] == stage:
            hist = HdrHistogram.decode(series["hdr"])
            if merged is None:
                merged = hist
            elif hist.get_total_count():
                merged.add(hist)
    if merged is None:
        raise RuntimeError(f"no {metric} samples in the steady stage")
    return merged


def sla_runner(
    work: Path, name: str, spec: Path, count: Callable[[], int], seconds: int, metric: str = "http"
) -> Measured:
    verdict_path = work / f"{name}.json"
    args = [str(VENV_BIN / "sla-runner"), "run", str(spec), "--json", str(verdict_path), "--quiet"]
    measured, code = _watch("sla-runner", args, count, work / f"{name}.log", seconds + 60)
    verdict = json.loads(verdict_path.read_text())
    hist = _histogram(verdict, metric, stage=1)
    measured.p50_us = float(value_at_percentile(hist, 50))
    measured.p99_us = float(value_at_percentile(hist, 99))
    validity = verdict["validity"]
    generator = verdict["recording"]["generator"]
    lateness = HdrHistogram.decode(generator["send_lateness_us_hdr"])
    completed = sum(
        sum(s["outcomes"].values()) for s in verdict["recording"]["series"] if s["metric"] == metric
    )
    errors = sum(
        n
        for s in verdict["recording"]["series"]
        if s["metric"] == metric
        for k, n in s["outcomes"].items()
        if k != "ok"
    )
    measured.extra = {
        "exit": code,
        "status": verdict["status"],
        "completed": completed,
        "errors": errors,
        "steady_count": hist.get_total_count(),
        "planned": validity["planned"],
        "dropped": validity["dropped"],
        "late": validity["late"],
        "send_lateness_p50_us": value_at_percentile(lateness, 50),
        "send_lateness_p99_us": value_at_percentile(lateness, 99),
        "send_lateness_max_us": lateness.get_max_value(),
        "loop_lag_p99_ms": validity["loop_lag_p99_ms"],
    }
    return measured


# -- Locust --------------------------------------------------------------------------------

LOCUSTFILE = """\
from locust import FastHttpUser, constant, task


class Hello(FastHttpUser):
    wait_time = constant(0)

    @task
    def hello(self):
        self.client.get("/hello.txt")
"""


def locust(work: Path, base_url: str, count: Callable[[], int], seconds: int) -> Measured:
    """Locust FastHttpUser, headless, 50 users spawned at once, no wait time."""
    locustfile = work / "locustfile.py"  # written here, so mypy never sees locust
    locustfile.write_text(LOCUSTFILE)
    prefix = work / "locust"
    args = [str(LOCUST), "-f", str(locustfile), "--headless", "-u", "50", "-r", "50"]
    args += ["-t", f"{seconds + 1}s", "--host", base_url, "--csv", str(prefix), "--only-summary"]
    args += ["--loglevel", "WARNING", "--exit-code-on-error", "0"]
    measured, code = _watch("locust", args, count, work / "locust.log", seconds + 60)
    with (work / "locust_stats.csv").open() as f:
        row = next(r for r in csv.DictReader(f) if r["Name"] == "Aggregated")
    measured.p50_us = float(row["50%"]) * 1000
    measured.p99_us = float(row["99%"]) * 1000
    measured.extra = {
        "exit": code,
        "completed": int(row["Request Count"]),
        "errors": int(row["Failure Count"]),
    }
    return measured


# -- wrk -----------------------------------------------------------------------------------

_UNITS = {"us": 1.0, "ms": 1000.0, "s": 1e6}
_LATENCY = re.compile(r"^\s+(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)
DELAY_LUA = "function delay()\n   return {ms}\nend\n"


def wrk(
    work: Path,
    url: str,
    count: Callable[[], int],
    seconds: int,
    connections: int = 50,
    delay_ms: int | None = None,
) -> Measured:
    """wrk -t1; with ``delay_ms`` each connection pauses that long between requests."""
    args = ["wrk", "-t1", f"-c{connections}", f"-d{seconds + 1}s", "--latency"]
    if delay_ms is not None:
        script = work / "delay.lua"
        script.write_text(DELAY_LUA.format(ms=delay_ms))
        args += ["-s", str(script)]
    log = work / "wrk.log"
    measured, code = _watch("wrk", [*args, url], count, log, seconds + 60)
    text = log.read_text()
    found = {pct: float(v) * _UNITS[unit] for pct, v, unit in _LATENCY.findall(text)}
    measured.p50_us, measured.p99_us = found.get("50"), found.get("99")
    done = re.search(r"(\d+) requests in", text)
    measured.extra = {"exit": code, "completed": int(done[1]) if done else None}
    return measured
