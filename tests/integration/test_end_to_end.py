"""End to end through the CLI: real load against the test server, exit codes, both reports.

Every report written here is validated against the JUnit XSD and the verdict schema.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LiveServer
from tests.support.cli import run_cli
from tests.support.reports import check_reports

pytestmark = pytest.mark.load


def _write_spec(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(body, encoding="utf-8")
    return path


def _run(
    spec: Path, tmp_path: Path, *extra: str, timeout: float = 60
) -> tuple[int, dict[str, Any], str]:
    junit, verdict = tmp_path / "out" / "junit.xml", tmp_path / "out" / "verdict.json"
    done = run_cli(
        "run", spec, "--quiet", "--junit", junit, "--json", verdict, *extra, timeout_s=timeout
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done.code, check_reports(junit, verdict), done.stdout


def _statuses(verdict: dict[str, Any]) -> dict[str, str]:
    return {t["expr"]: t["status"] for t in verdict["thresholds"]}


def test_a_healthy_service_passes_with_every_request_accounted_for(
    test_server: LiveServer, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex
    spec = _write_spec(
        tmp_path,
        f"""
version: 1
name: e2e-pass
sla_version: 1.0.0
target: {{base_url: "{test_server.url}"}}
endpoints:
  ok: {{path: /ok, query: {{tag: "{tag}"}}, expect: {{status: 200}}}}
load:
  stages:
    - {{name: up, duration: 1s, users: 4}}
    - {{name: hold, duration: 2s, users: 4}}
  think_time: 5ms..15ms     # a real client pauses; a closed loop without it saturates the generator
thresholds:
  - p95(http) < 500ms
  - success_rate(http) >= 100%
  - users >= 4
  - {{expr: count(http.ok) > 10, during: hold}}
""",
    )
    code, verdict, stdout = _run(spec, tmp_path)
    assert code == 0, stdout
    assert verdict["status"] == "pass"
    assert set(_statuses(verdict).values()) == {"pass"}
    served = test_server.counts()[f"/ok?tag={tag}"]
    assert verdict["metrics"]["http.ok"]["count"] == served
    assert "PASS" in stdout


def test_a_slow_erroring_service_fails_and_says_why(
    test_server: LiveServer, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex
    spec = _write_spec(
        tmp_path,
        f"""
version: 1
name: e2e-fail
sla_version: 2.0.0
target: {{base_url: "{test_server.url}"}}
endpoints:
  slow: {{path: /delay, query: {{ms: 40, tag: "{tag}"}}}}
  flaky: {{path: /errors, query: {{every: 4, tag: "{tag}"}}}}
load:
  stages:
    - {{duration: 2s, users: 3}}
  think_time: 10ms
thresholds:
  - p95(http.slow) < 20ms
  - success_rate(http) > 99%
  - p99(http.flaky) < 5s
""",
    )
    code, verdict, stdout = _run(spec, tmp_path)
    assert code == 1, stdout
    assert verdict["status"] == "fail"
    assert _statuses(verdict) == {
        "p95(http.slow) < 20ms": "fail",
        "success_rate(http) > 99%": "fail",
        "p99(http.flaky) < 5s": "pass",
    }
    slow = next(t for t in verdict["thresholds"] if t["expr"].startswith("p95"))
    assert 40 <= slow["observed"] < 1000
    served = test_server.counts()
    flaky = verdict["metrics"]["http.flaky"]
    assert flaky["count"] == served[f"/errors?every=4&tag={tag}"]
    assert flaky["errors"] == {"status_500": flaky["count"] // 4}
    assert verdict["findings"], "a failed verdict explains itself"
    assert "FAIL" in stdout


def test_open_model_delivers_exactly_the_planned_arrivals(
    test_server: LiveServer, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex
    spec = _write_spec(
        tmp_path,
        f"""
version: 1
name: e2e-open
sla_version: 1.0.0
target: {{base_url: "{test_server.url}"}}
endpoints:
  ok: {{path: /ok, query: {{tag: "{tag}"}}}}
load:
  stages:
    - {{duration: 1s, rate: 100/s}}
    - {{duration: 2s, rate: 100/s}}
thresholds:
  - count(http) >= 250
""",
    )
    code, verdict, _ = _run(spec, tmp_path)
    # 0 → 100/s over 1 s carries 50 arrivals, then 200: exactly 250, none dropped.
    assert verdict["validity"]["planned"] == 250
    assert verdict["validity"]["dropped"] == 0
    assert verdict["metrics"]["http"]["count"] == 250
    assert test_server.counts()[f"/ok?tag={tag}"] == 250
    assert code == 0


def test_segments_run_apart_and_merge_into_the_whole(
    test_server: LiveServer, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex
    spec = _write_spec(
        tmp_path,
        f"""
version: 1
name: e2e-merge
sla_version: 1.0.0
target: {{base_url: "{test_server.url}"}}
endpoints:
  ok: {{path: /ok, query: {{tag: "{tag}"}}}}
load:
  stages:
    - {{duration: 2s, rate: 50/s}}
thresholds:
  - count(http) >= 50
  - p99(http) < 1s
""",
    )
    outputs = []
    for i, engine in ((1, []), (2, ["--engine", "aiohttp"])):  # the spec's engine: raw
        part = tmp_path / f"seg{i}"
        code, verdict, _ = _run(spec, part.parent / f"seg{i}", "--segment", f"{i}/2", *engine)
        outputs.append(part / "out" / "verdict.json")
        assert verdict["run"]["engine"] == ("aiohttp" if engine else "raw")
        # Half the load each: the count threshold is left to the merged verdict.
        assert code == 0
        assert verdict["metrics"]["http"]["count"] == 25
        assert _statuses(verdict)["count(http) >= 50"] == "skipped"
    merged_junit, merged_json = tmp_path / "m" / "junit.xml", tmp_path / "m" / "verdict.json"
    reports = ["--junit", str(merged_junit), "--json", str(merged_json)]
    done = run_cli("merge", *outputs, "--spec", spec, *reports)
    assert done.code == 0, done.output
    merged = check_reports(merged_junit, merged_json)
    assert merged["metrics"]["http"]["count"] == 50
    assert merged["run"]["engine"] == "raw, aiohttp"
    assert json.loads(merged_json.read_text())["status"] == "pass"


def test_the_demo_command_runs_the_demo_spec_and_writes_both_reports(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    short = ["--set", "load.stages[0].duration=1s", "--set", "load.stages[1].duration=2s"]
    short += ["--set", "load.stages[2].duration=1s"]
    short += ["--set", "target.headers.X-Demo-Token=hunter2-demo-token"]
    done = run_cli("demo", "--quiet", "--reports", reports, *short, cwd=tmp_path, timeout_s=90)
    assert "Traceback" not in done.stderr, done.stderr
    verdict = check_reports(reports / "junit.xml", reports / "verdict.json")
    assert verdict["spec"]["name"] == "demo"
    assert verdict["metrics"]["ws.prices"]["count"] > 0
    assert verdict["metrics"]["process.rss"]["count"] > 0
    assert done.code == verdict_exit(verdict["status"])
    # Provenance: the overrides the run was made with, a header's value masked.
    assert verdict["run"]["overrides"] == {
        "load.stages[0].duration": "1s",
        "load.stages[1].duration": "2s",
        "load.stages[2].duration": "1s",
        "target.headers.X-Demo-Token": "***",
    }
    junit = (reports / "junit.xml").read_text(encoding="utf-8")
    assert '<property name="run.override.load.stages[1].duration" value="2s" />' in junit
    assert "hunter2-demo-token" not in junit + (reports / "verdict.json").read_text()


def verdict_exit(status: str) -> int:
    return {"pass": 0, "fail": 1, "error": 3, "aborted": 3, "invalid": 4}[status]
