"""Real runs shared by the report tests: one spec against the test server's ``/delay``,
run three times once per session (the baseline, the same service again, the service made
slower on purpose), so the baseline, HTML and browser tests reuse the same verdicts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from sla_runner.errors import EXIT_INVALID_RUN
from tests.conftest import LiveServer
from tests.support.cli import CliRun, run_cli

# Open model: the throughput is the plan's in every run, so what changes is the latency.
DELAY_SPEC = """\
version: 1
name: delay-check
sla_version: 1.0.0
owner: reports-team
public_vars: [SLA_TEST_URL, DELAY_MS]
target: {base_url: "${SLA_TEST_URL}", timeout: 5s}
endpoints:
  slow: {path: /delay, query: {ms: "${DELAY_MS}"}, weight: 3}
  flaky: {path: /errors, query: {every: 10}}
load:
  stages:
    - {name: warm, duration: 1s, rate: 40/s}
    - {name: steady, duration: 2s, rate: 40/s}
thresholds:
  - p95(http.slow) < 2s
  - success_rate(http) > 80%
  - rate(http) > 10/s
  - {expr: p95(http) < 50ms, during: steady, severity: warn}
"""
BASE_MS, SLOW_MS = 5, 300
# What the tests compare with: wide enough that a busy machine's hiccup is no regression,
# narrow enough that 300 ms against 5 ms is one.
TOLERANCE = ("--tolerance", "100%", "--noise-floor", "100ms")


@dataclass(frozen=True)
class DelayRuns:
    spec: Path
    env: dict[str, str]
    out: Path  # base.*, same.json, slow.* (slow: run --baseline base.json)
    base: CliRun
    same: CliRun
    slow: CliRun

    def path(self, name: str) -> Path:
        return self.out / name


def _run(spec: Path, env: dict[str, str], delay_ms: int, *args: str | Path) -> CliRun:
    """One run; again (twice at most) when it was invalid: on a machine busy with other
    work the generator can start 2 of 100 arrivals late, and these runs are here to be
    compared, not to test the generator."""
    for _ in range(3):
        done = run_cli("run", spec, "--quiet", *args, env={**env, "DELAY_MS": str(delay_ms)})
        assert "Traceback" not in done.stderr, done.stderr
        if done.code != EXIT_INVALID_RUN:
            break
    return done


@pytest.fixture(scope="session")
def delay_runs(test_server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> DelayRuns:
    root = tmp_path_factory.mktemp("delay-runs")
    spec = root / "delay.yaml"
    spec.write_text(DELAY_SPEC, encoding="utf-8")
    out = root / "out"
    env = {"SLA_TEST_URL": test_server.url}
    pages = ("--junit", "--json", "--html", "--summary-md")
    names = ("junit.xml", "json", "html", "md")

    def reports(prefix: str) -> list[str | Path]:
        return [
            x for flag, n in zip(pages, names, strict=True) for x in (flag, out / f"{prefix}.{n}")
        ]

    base = _run(spec, env, BASE_MS, *reports("base"))
    same = _run(spec, env, BASE_MS, "--json", out / "same.json")
    slow = _run(spec, env, SLOW_MS, *reports("slow"), "--baseline", out / "base.json", *TOLERANCE)
    return DelayRuns(spec, env, out, base, same, slow)
