"""Baselines on real runs: a service made slower on purpose is found regressed, the same
service again is not (``compare``), and ``run --baseline`` adds the comparison to the
run's JUnit and exit code. Every report is checked against its schema or the JUnit XSD."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import xmlschema
from junitparser import Failure, JUnitXml

from tests.integration.conftest import SLOW_MS, TOLERANCE, DelayRuns
from tests.support.cli import run_cli
from tests.support.paths import ROOT
from tests.support.reports import XSD, check_reports

pytestmark = pytest.mark.load


def _comparison(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    schema = json.loads((ROOT / "schemas" / "comparison.schema.json").read_text("utf-8"))
    jsonschema.Draft202012Validator(schema).validate(data)
    return data


def _valid_junit(path: Path) -> JUnitXml:
    if not XSD.is_file():
        pytest.skip(f"the JUnit XSD is not at {XSD} (../shared beside the clone)")
    xmlschema.XMLSchema(str(XSD)).validate(str(path))
    return JUnitXml.fromfile(str(path))


def _failed(suite: Any) -> list[str]:
    return [c.name for c in suite if any(isinstance(r, Failure) for r in c.result)]


def test_the_runs_were_made_as_planned(delay_runs: DelayRuns) -> None:
    assert delay_runs.base.code == 0, delay_runs.base.output
    assert delay_runs.same.code == 0, delay_runs.same.output
    verdict = check_reports(delay_runs.path("base.junit.xml"), delay_runs.path("base.json"))
    assert verdict["status"] == "pass"
    assert {t["status"] for t in verdict["thresholds"]} == {"pass"}


def test_compare_finds_the_slower_service_regressed(delay_runs: DelayRuns, tmp_path: Path) -> None:
    out = {name: tmp_path / name for name in ("c.json", "c.xml", "c.md")}
    done = run_cli(
        "compare", delay_runs.path("base.json"), delay_runs.path("slow.json"), *TOLERANCE,
        "--json", out["c.json"], "--junit", out["c.xml"], "--summary-md", out["c.md"],
    )  # fmt: skip
    assert done.code == 1, done.output
    data = _comparison(out["c.json"])
    assert data["status"] == "regression"
    regressed = {f["name"] for f in data["figures"] if f["status"] == "regressed"}
    assert {"p50(http.slow)", "p50(http)"} <= regressed
    assert not {f for f in regressed if "flaky" in f}  # its path was not made slower
    slow_p50 = next(f for f in data["figures"] if f["name"] == "p50(http.slow)")
    assert slow_p50["baseline"] < 100
    assert SLOW_MS <= slow_p50["new"] < 2000
    low, high = slow_p50["new_interval"]
    assert low <= slow_p50["new"] <= high
    # 120 requests in 3 s (90 of them to /delay): too few for a p95 (200) or a p99 (1000)
    unresolved = {f["name"]: f for f in data["unresolved"]}
    assert {"p95(http.slow)", "p99(http.slow)", "p95(http)", "p99(http)"} <= set(unresolved)
    assert unresolved["p95(http.slow)"]["needed"] == 200
    assert "not enough samples to compare" in unresolved["p95(http.slow)"]["message"]
    xml = _valid_junit(out["c.xml"])
    (suite,) = list(xml)
    assert len(list(suite)) == len(data["figures"]) + len(unresolved)
    assert sorted(_failed(suite)) == sorted(regressed)
    assert suite.skipped == len(unresolved)
    assert "REGRESSION:" in done.stdout
    summary = out["c.md"].read_text(encoding="utf-8")
    assert "| ❌ regressed | p50\\(http.slow\\) |" not in summary  # parentheses stay plain
    assert "| ❌ regressed | p50(http.slow) |" in summary


def test_compare_finds_nothing_when_the_service_is_the_same(
    delay_runs: DelayRuns, tmp_path: Path
) -> None:
    """With the default tolerance and noise floor: a rerun is no regression."""
    target = tmp_path / "c.json"
    done = run_cli(
        "compare", delay_runs.path("base.json"), delay_runs.path("same.json"),
        "--json", target,
    )  # fmt: skip
    assert done.code == 0, done.output
    data = _comparison(target)
    assert data["status"] == "ok"
    assert [f["name"] for f in data["figures"] if f["status"] == "regressed"] == []
    # http, http.flaky, http.slow: 5 figures each, their tails too few samples to compare
    assert len(data["figures"]) + len(data["unresolved"]) == 15
    assert "NO REGRESSION" in done.stdout


def test_run_with_a_baseline_carries_the_comparison_into_junit_and_exit_code(
    delay_runs: DelayRuns,
) -> None:
    slow = delay_runs.slow
    verdict = json.loads(delay_runs.path("slow.json").read_text(encoding="utf-8"))
    # The thresholds held (a warning aside): the regression alone makes the exit code 1.
    assert verdict["status"] == "pass", slow.output
    assert slow.code == 1, slow.output
    assert "exit code 1: the run passed, but it regressed against the baseline" in slow.stdout
    xml = _valid_junit(delay_runs.path("slow.junit.xml"))
    run_suite, baseline_suite = list(xml)
    assert len(list(run_suite)) == len(verdict["thresholds"])
    assert _failed(run_suite) == []
    assert "p50(http.slow)" in _failed(baseline_suite)
    assert baseline_suite.name == "delay-check 1.0.0 against the baseline"
    assert xml.failures == len(_failed(baseline_suite))  # the document's counts add up
    summary = delay_runs.path("slow.md").read_text(encoding="utf-8")
    assert "#### ❌ Against the baseline" in summary
    page = delay_runs.path("slow.html").read_text(encoding="utf-8")
    assert '<section id="comparison">' in page


def test_a_baseline_of_another_plan_is_refused_before_any_load(delay_runs: DelayRuns) -> None:
    done = run_cli(
        "run", delay_runs.spec, "--quiet", "--baseline", delay_runs.path("base.json"),
        "--set", "load.stages[1].duration=5s",
        env={**delay_runs.env, "DELAY_MS": "5"},
    )  # fmt: skip
    assert done.code == 2, done.output
    assert "the baseline is not of the same spec and plan: the stages differ" in done.stderr
    assert "running delay-check" not in done.stderr  # nothing was started
    assert done.elapsed_s < 10
