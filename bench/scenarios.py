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
    target_cpu_s: float = 0.0
    machine_busy_s: float = 0.0  # every core's busy time (all processes)
    root_cpu_s: float = 0.0  # the generator's own process, without its children
    switches: int = 0  # the generator's context switches (with its children when ``tree``)


def tree_cpu_s(proc: psutil.Process) -> tuple[float, int]:
    """User + system CPU seconds of ``proc`` and of its children still running, and their
    context switches (voluntary and not)."""
    total, switches = 0.0, 0
    for each in [proc, *proc.children(recursive=True)]:
        try:
            cpu = each.cpu_times()
            ctx = each.num_ctx_switches()
        except psutil.NoSuchProcess:
            continue
        total += cpu.user + cpu.system
        switches += ctx.voluntary + ctx.involuntary
    return total, switches


class _Watcher:
    """Polls (server count, generator CPU) every POLL_S on a thread until stopped.

    ``tree``: the generator's CPU is its own and its children's (``run --workers``);
    ``target``: a process whose CPU is sampled too (the server)."""

    def __init__(
        self,
        pid: int,
        count: Callable[[], int],
        *,
        tree: bool = False,
        target: int | None = None,
    ) -> None:
        self._proc = psutil.Process(pid)
        self._count = count
        self._tree = tree
        self._target = psutil.Process(target) if target is not None else None
        self.window: tuple[_Sample, _Sample] | None = None
        self.samples: list[_Sample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                own = self._proc.cpu_times()
                root_s = own.user + own.system
                cpu_s, switches = tree_cpu_s(self._proc) if self._tree else (root_s, 0)
                target = self._target.cpu_times() if self._target is not None else None
                n = self._count()
            except (psutil.NoSuchProcess, OSError):
                break
            target_s = target.user + target.system if target is not None else 0.0
            machine = psutil.cpu_times()
            busy_s = (
                machine.user
                + machine.system
                + sum(getattr(machine, name, 0.0) for name in ("nice", "irq", "softirq", "steal"))
            )
            self.samples.append(
                _Sample(time.monotonic(), n, cpu_s, target_s, busy_s, root_s, switches)
            )
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
        self.window = (first, last)
        ops = last.count - first.count
        seconds, cpu_s = last.t - first.t, last.cpu_s - first.cpu_s
        return ops / seconds, cpu_s * 1e6 / max(ops, 1), cpu_s / seconds


def watch(
    tool: str,
    args: list[str],
    count: Callable[[], int],
    log: Path,
    timeout_s: float,
    *,
    cores: str = str(GENERATOR_CORE),
    tree: bool = False,
    target: int | None = None,
) -> tuple[Measured, int]:
    """Run ``args`` on ``cores`` and measure its steady window (``tree``, ``target``: see
    :class:`_Watcher`; the target's CPU per request goes to ``extra``)."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            ["taskset", "-c", cores, *args], stdout=out, stderr=subprocess.STDOUT
        )
        watcher = _Watcher(proc.pid, count, tree=tree, target=target)
        try:
            proc.wait(timeout=timeout_s)
        finally:
            watcher.stop()
            stop_process(proc)
    rate, cpu_us, util = watcher.steady()
    measured = Measured(tool, rate, cpu_us, util)
    if target is not None and watcher.window is not None:
        first, last = watcher.window
        ops = max(last.count - first.count, 1)
        measured.extra["target_cpu_us_per_op"] = (
            (last.target_cpu_s - first.target_cpu_s) * 1e6 / ops
        )
        measured.extra["target_cpu_util"] = (last.target_cpu_s - first.target_cpu_s) / (
            last.t - first.t
        )
        measured.extra["machine_busy_cores"] = (last.machine_busy_s - first.machine_busy_s) / (
            last.t - first.t
        )
        if tree:  # the parent alone: what coordinating the workers costs
            measured.extra["root_cpu_us_per_op"] = (last.root_cpu_s - first.root_cpu_s) * 1e6 / ops
            measured.extra["switches_per_kop"] = (last.switches - first.switches) * 1e3 / ops
    return measured, proc.returncode


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


def histogram(verdict: dict[str, Any], metric: str, stage: int) -> HdrHistogram:
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
    work: Path,
    name: str,
    spec: Path,
    count: Callable[[], int],
    seconds: int,
    metric: str = "http",
    *,
    workers: int | None = None,
    cores: str = str(GENERATOR_CORE),
    target: int | None = None,
) -> Measured:
    """One ``sla-runner run`` (``workers``: with ``--workers``, its CPU that of the whole
    process tree; ``cores``, ``target``: see :func:`_watch`)."""
    verdict_path = work / f"{name}.json"
    args = [str(VENV_BIN / "sla-runner"), "run", str(spec), "--json", str(verdict_path), "--quiet"]
    if workers is not None:
        args += ["--workers", str(workers)]
    log = work / f"{name}.log"
    tree = workers is not None
    measured, code = watch(
        "sla-runner", args, count, log, seconds + 60, cores=cores, tree=tree, target=target
    )
    verdict = json.loads(verdict_path.read_text())
    hist = histogram(verdict, metric, stage=1)
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
    measured.extra |= {
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
    measured, code = watch("locust", args, count, work / "locust.log", seconds + 60)
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
    measured, code = watch("wrk", [*args, url], count, log, seconds + 60)
    text = log.read_text()
    found = {pct: float(v) * _UNITS[unit] for pct, v, unit in _LATENCY.findall(text)}
    measured.p50_us, measured.p99_us = found.get("50"), found.get("99")
    done = re.search(r"(\d+) requests in", text)
    measured.extra = {"exit": code, "completed": int(done[1]) if done else None}
    return measured
