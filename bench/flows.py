"""What per-user state costs (issue 11): a 3-step flow against the plain endpoint mix.

    .venv/bin/python -m bench.flows                  # from the repo root: 3 runs × 10 s each
    .venv/bin/python -m bench.flows --runs 5 --seconds 15
    .venv/bin/python -m bench.flows --parts          # also the flow taken apart (see below)

Both are format-2 specs, closed model, 50 users, no think time, against nginx on core 0
(sla-runner on core 1, as ``bench.run`` does), over the same three static files:

- ``mix``: the three endpoints as a weighted mix (1:1:1), each request compiled once;
- ``flow``: the same three as one flow, in order: ``login`` extracts ``token`` from the
  JSON body, ``items`` sends ``Authorization: Bearer {{ token }}`` and ``?user={{ $user }}``,
  ``item`` reads ``/items/{{ token }}.json``: templates filled per request, one extraction.

With ``--parts``, the flow taken apart too: ``flow0`` (its three steps plain: what the flow
machinery costs), ``flowx`` (the extraction alone), ``flowt`` (the templates alone).

Needs nginx (``bench.run`` installs it). Runs are interleaved (mix, flow, mix, flow, ...).
The figure is the server-side request rate in the steady window (nginx ``stub_status``);
the bar: the flow's median req/s is at least 75% of the mix's (within 25%). Writes
``bench/results/flows-<time>.json``; exit 0 only if the bar is met. Binds 127.0.0.1 only
and stops what it starts.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from bench import scenarios as sc
from bench.common import ROOT
from bench.tools import start_nginx, versions

TARGET_CORE = 0
BAR = 0.75  # the flow's req/s against the mix's: within 25%
TOKEN = "tok-5b7da9d"

HEAD = """\
version: 2
name: bench-{name}
sla_version: 1.0.0
owner: bench
target: {{base_url: "{base_url}", timeout: 5s}}
endpoints:
  login:
    path: /login.json
    expect: {{status: 200}}
{extract}
  items:
    path: {items_path}
    expect: {{status: 200}}
{items_headers}
  item:
    path: {item_path}
    expect: {{status: 200}}
scenarios:
  users:
    load:
      stages:
        - {{name: warm-up, duration: 1s, users: 50}}
        - {{name: steady, duration: {seconds}s, users: 50}}
      think_time: 0s
      graceful_stop: 2s
{work}
thresholds:
  - p99(http) < 1s
"""


def write_specs(work: Path, base_url: str, seconds: int) -> dict[str, Path]:
    specs = {
        "mix": HEAD.format(
            name="mix",
            base_url=base_url,
            extract="",
            items_path="/hello.txt",
            items_headers="",
            item_path=f"/items/{TOKEN}.json",
            seconds=seconds,
            work="    mix: {login: 1, items: 1, item: 1}",
        ),
        "flow": HEAD.format(
            name="flow",
            base_url=base_url,
            extract="    extract: {token: {json: access_token}}",
            items_path='"/hello.txt?user={{ $user }}"',
            items_headers='    headers: {Authorization: "Bearer {{ token }}"}',
            item_path='"/items/{{ token }}.json"',
            seconds=seconds,
            work="    flow: [login, items, item]",
        ),
    }
    out = {}
    for name, text in specs.items():
        path = work / f"flows-{name}.yaml"
        path.write_text(text)
        out[name] = path
    return out


def write_parts(work: Path, base_url: str, seconds: int) -> dict[str, Path]:
    """The flow taken apart (``--parts``): ``flow0``, its three steps plain (what the flow
    machinery costs); ``flowx``, the extraction alone; ``flowt``, the templates alone (two
    filled requests, ``$user`` in place of the token)."""
    user = "{{ $user }}"
    parts = {
        "flow0": {"extract": "", "items_path": "/hello.txt", "items_headers": ""},
        "flowx": {
            "extract": "    extract: {token: {json: access_token}}",
            "items_path": "/hello.txt",
            "items_headers": "",
        },
        "flowt": {
            "extract": "",
            "items_path": f'"/hello.txt?user={user}"',
            "items_headers": f'    headers: {{Authorization: "Bearer {user}"}}',
        },
    }
    out = {}
    for name, fields in parts.items():
        text = HEAD.format(
            name=name,
            base_url=base_url,
            item_path=f"/items/{TOKEN}.json",
            seconds=seconds,
            work="    flow: [login, items, item]",
            **fields,
        )
        path = work / f"flows-{name}.yaml"
        path.write_text(text)
        out[name] = path
    return out


def _versions() -> dict[str, str]:
    """``bench.run``'s versions, without Locust's when it is not installed (not needed here)."""
    try:
        return versions()
    except FileNotFoundError:
        from bench.tools import _first_line  # noqa: PLC0415

        commit = _first_line(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
        return {"sla-runner commit": commit, "nginx": _first_line(["nginx", "-v"])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="a 3-step flow against the plain mix")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10, help="steady seconds per run")
    parser.add_argument(
        "--parts", action="store_true", help="also the flow taken apart: flow0, flowx, flowt"
    )
    args = parser.parse_args(argv)
    if shutil.which("nginx") is None:  # bench.run installs it (and Locust, not needed here)
        raise SystemExit("bench.flows needs nginx: apt-get install nginx (or run bench.run once)")
    os.sched_setaffinity(0, {TARGET_CORE})  # the harness stays off the generator's core
    work = Path(tempfile.mkdtemp(prefix="sla-bench-flows-"))
    nginx = start_nginx(work, TARGET_CORE)
    (work / "www" / "login.json").write_text(json.dumps({"access_token": TOKEN, "ok": True}))
    (work / "www" / "items").mkdir()
    (work / "www" / "items" / f"{TOKEN}.json").write_text('{"sku": "A1", "price": 3.5}')
    results: dict[str, list[sc.Measured]] = {}
    try:
        specs = write_specs(work, nginx.url, args.seconds)
        if args.parts:
            specs |= write_parts(work, nginx.url, args.seconds)
        results = {name: [] for name in specs}
        for i in range(args.runs):
            for name, spec in specs.items():
                print(f"{name}, run {i + 1}/{args.runs}", flush=True)
                measured = sc.sla_runner(work, name, spec, nginx.requests_served, args.seconds)
                results[name].append(measured)
    finally:
        nginx.stop()
    rate = {name: statistics.median(m.rate for m in ms) for name, ms in results.items()}
    cpu = {name: statistics.median(m.cpu_us_per_op for m in ms) for name, ms in results.items()}
    ratio = rate["flow"] / rate["mix"]
    stamp = time.strftime("%Y%m%dT%H%M%S")
    out = ROOT / "bench" / "results" / f"flows-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "versions": _versions(),
        "runs": args.runs,
        "seconds": args.seconds,
        "results": {k: [dataclasses.asdict(m) for m in ms] for k, ms in results.items()},
        "median_rate": rate,
        "median_cpu_us_per_req": cpu,
        "ratio": ratio,
    }
    out.write_text(json.dumps(record, indent=1) + "\n")
    errors = {k: [m.extra.get("errors") for m in ms] for k, ms in results.items()}
    print(
        "| | req/s (median) | CPU µs/req (median) |\n|---|---:|---:|\n"
        + "".join(f"| {k} | {rate[k]:,.0f} | {cpu[k]:.1f} |\n" for k in rate)
        + f"\nflow / mix: {ratio:.1%} (bar: at least {BAR:.0%}); errors per run: {errors}"
    )
    print(f"wrote {out.relative_to(ROOT)}")
    return 0 if ratio >= BAR else 1


if __name__ == "__main__":
    raise SystemExit(main())
