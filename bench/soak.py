"""Soak (issue 5, "Load held"): 1,000 users with WebSocket channels for 10 minutes.

    .venv/bin/python -m bench.soak                 # the full 10 minutes (from the repo root)
    .venv/bin/python -m bench.soak --minutes 2     # a shorter rehearsal

The demo service runs in its own process on core 0 (``taskset -c 0``), the runner on
core 1. Every user holds one WebSocket channel (``/ws/echo``, a round trip a second) and
loops over three HTTP endpoints with 0.5-1.5 s of think time. While the run goes on this
script samples the runner's own process every few seconds (RSS, open descriptors, CPU
time); afterwards it reads the verdict JSON and the demo service's ``/stats``.

It reports:

- memory: the slope of the runner's RSS over the steady stage (least squares, MB/min);
- accounting: for every route, the runner's count (every outcome, every stage) against
  the count the service saw. The runner lets in-flight requests finish within
  ``graceful_stop`` at the end, so the two must be equal; a request cut at the hard stop
  would show up as a note in the verdict and a difference here;
- descriptors: open fds of the runner before the load, at its peak, and after every user
  left (the last sample before the runner exits).

Binds 127.0.0.1 only; stops the demo service and the runner it started, whatever happens.
Writes ``bench/results/soak.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import psutil

from bench.common import ROOT, VENV_BIN, start_demo_service, stop_process

USERS = 1000
RAMP_S = 30
SAMPLE_S = 0.5

SPEC = """\
version: 1
name: soak
sla_version: 1.0.0
owner: bench
description: 1,000 users, each with a WebSocket channel, for {minutes} minutes
target:
  base_url: http://127.0.0.1:{port}
  timeout: 5s
  process: {{pid: {pid}}}
endpoints:
  list-items: {{method: GET, path: /api/items, weight: 2, expect: {{status: 200}}}}
  get-item:   {{method: GET, path: /api/items/7, weight: 2, expect: {{status: 200}}}}
  health:     {{method: GET, path: /health, weight: 1, expect: {{status: 200}}}}
channels:
  echo: {{path: /ws/echo, send: hello, expect: {{contains: hello}}, interval: 1s, timeout: 5s}}
load:
  stages:
    - {{name: ramp-up, duration: {ramp}s, users: {users}}}
    - {{name: steady, duration: {steady}s, users: {users}}}
    - {{name: ramp-down, duration: {ramp}s, users: 0}}
  think_time: 500ms..1500ms
  graceful_stop: 10s
thresholds:
  - success_rate(http) > 99.9%
  - success_rate(ws) > 99.9%
  - users >= {users}
"""

# runner endpoint/channel → the demo service's route as counted in /stats
HTTP_ROUTES = {"list-items": "/api/items", "get-item": "/api/items/{id}", "health": "/health"}


def _get_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=10) as response:
        data: dict[str, Any] = json.load(response)
    return data


def _runner_counts(verdict: dict[str, Any]) -> dict[tuple[str, str], dict[str, int]]:
    """(metric, scope) → outcome counts, summed over stages, from the recording."""
    counts: dict[tuple[str, str], dict[str, int]] = {}
    for series in verdict["recording"]["series"]:
        outcomes = counts.setdefault((series["metric"], series["scope"]), {})
        for key, n in series["outcomes"].items():
            outcomes[key] = outcomes.get(key, 0) + int(n)
    return counts


def _slope_mb_per_min(samples: list[dict[str, float]], lo_s: float, hi_s: float) -> float:
    window = [s for s in samples if lo_s <= s["t_s"] <= hi_s]
    if len(window) < 3:
        return float("nan")
    fit = statistics.linear_regression([s["t_s"] for s in window], [s["rss_mb"] for s in window])
    return fit.slope * 60


def soak(minutes: float, users: int, out: Path) -> dict[str, Any]:
    total_s = round(minutes * 60)
    steady_s = total_s - 2 * RAMP_S
    if steady_s <= 0:
        raise SystemExit(f"--minutes must leave a steady stage after 2 × {RAMP_S}s of ramps")
    work = Path(tempfile.mkdtemp(prefix="sla-soak-"))
    demo = start_demo_service(core=0, error_rate=0.0)
    runner: subprocess.Popen[bytes] | None = None
    try:
        spec = work / "soak.yaml"
        spec.write_text(
            SPEC.format(
                minutes=minutes,
                port=demo.port,
                pid=demo.pid,
                ramp=RAMP_S,
                steady=steady_s,
                users=users,
            )
        )
        verdict_path = work / "verdict.json"
        log = (work / "runner.log").open("wb")
        runner = subprocess.Popen(
            [
                *("taskset", "-c", "1", str(VENV_BIN / "sla-runner"), "run", str(spec)),
                *("--json", str(verdict_path), "--quiet"),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=work,
        )
        proc = psutil.Process(runner.pid)
        started = time.monotonic()
        samples: list[dict[str, float]] = []
        while runner.poll() is None:
            try:
                if "taskset" in proc.cmdline()[:1]:  # not yet exec'd into the runner
                    time.sleep(0.05)
                    continue
                with proc.oneshot():
                    cpu, rss = proc.cpu_times(), proc.memory_info().rss
                    if rss < 8 * 2**20:  # caught between taskset's exec and Python's start
                        time.sleep(0.05)
                        continue
                    samples.append(
                        {
                            "t_s": round(time.monotonic() - started, 2),
                            "rss_mb": rss / 2**20,
                            "fds": float(proc.num_fds()),
                            "cpu_s": cpu.user + cpu.system,
                        }
                    )
            except psutil.NoSuchProcess:
                break
            time.sleep(SAMPLE_S)
        runner.wait()
        log.close()
        stats = _get_json(f"http://127.0.0.1:{demo.port}/stats")
    finally:
        if runner is not None and runner.poll() is None:
            stop_process(runner)
        stop_process(demo.proc)

    verdict = json.loads(verdict_path.read_text())
    counts = _runner_counts(verdict)
    served = stats["requests"]
    accounting = []
    for endpoint, route in HTTP_ROUTES.items():
        mine = sum(counts.get(("http", endpoint), {}).values())
        accounting.append(
            {"what": f"http {endpoint}", "runner": mine, "server": served.get(route, 0)}
        )
    accounting.append(
        {
            "what": "ws connects (upgrades)",
            "runner": sum(counts.get(("ws_connect", "echo"), {}).values()),
            "server": served.get("/ws/echo", 0),
        }
    )
    accounting.append(
        {
            "what": "ws round trips (messages)",
            "runner": sum(counts.get(("ws", "echo"), {}).values()),
            "server": stats["ws_messages"].get("/ws/echo", 0),
        }
    )
    errors = {
        f"{metric}.{scope}": {k: n for k, n in outcomes.items() if k != "ok"}
        for (metric, scope), outcomes in counts.items()
        if any(k != "ok" for k in outcomes)
    }
    steady_lo, steady_hi = RAMP_S + 30.0, RAMP_S + steady_s - 5.0
    peak_fds = max(s["fds"] for s in samples)
    requests_total = sum(sum(o.values()) for (m, _), o in counts.items() if m != "ws_connect")
    report: dict[str, Any] = {
        "users": users,
        "minutes": minutes,
        "runner_exit": runner.returncode if runner is not None else None,
        "verdict_status": verdict["status"],
        "notes": verdict["notes"],
        "rss_mb": {
            "at_start": round(samples[0]["rss_mb"], 1),
            "steady_start": round(next(s["rss_mb"] for s in samples if s["t_s"] >= steady_lo), 1),
            "max": round(max(s["rss_mb"] for s in samples), 1),
            "last": round(samples[-1]["rss_mb"], 1),
            "steady_slope_mb_per_min": round(_slope_mb_per_min(samples, steady_lo, steady_hi), 3),
            "second_half_slope_mb_per_min": round(
                _slope_mb_per_min(samples, (steady_lo + steady_hi) / 2, steady_hi), 3
            ),
        },
        "fds": {
            "at_start": min(s["fds"] for s in samples if s["t_s"] <= 5),
            "peak": peak_fds,
            "last": samples[-1]["fds"],
        },
        "runner_cpu_s": round(samples[-1]["cpu_s"], 1),
        "operations": requests_total,
        "accounting": accounting,
        "all_accounted": all(a["runner"] == a["server"] for a in accounting),
        "errors": errors,
        "samples": samples,
        "work_dir": str(work),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--users", type=int, default=USERS)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "soak.json")
    args = parser.parse_args(argv)
    report = soak(args.minutes, args.users, args.out)
    shown = {k: v for k, v in report.items() if k != "samples"}
    print(json.dumps(shown, indent=1))
    return 0 if report["all_accounted"] else 1


if __name__ == "__main__":
    sys.exit(main())
