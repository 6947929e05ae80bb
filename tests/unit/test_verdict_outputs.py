"""JSON, JUnit and console agree, case by case; JUnit times add up; figures are rounded."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from junitparser import Error, Failure, JUnitXml, Skipped

from sla_runner import numbers
from sla_runner.judge.verdicts import judge
from sla_runner.report.console import print_summary
from sla_runner.report.json_report import verdict_to_json
from sla_runner.report.junit import verdict_to_junit
from sla_runner.report.outputs import write_reports
from sla_runner.timeunits import NS_PER_S
from sla_runner.verdict import Verdict
from tests.support.reports import check_reports
from tests.unit.verdict_data import (
    STATUSES,
    close,
    http,
    known_run,
    make_spec,
    recorder,
    run_info,
    verdict_of,
)


def outputs(verdict: Verdict) -> tuple[dict[str, Any], JUnitXml, str]:
    data = json.loads(verdict_to_json(verdict))
    xml = JUnitXml.fromstring(verdict_to_junit(verdict))
    out = io.StringIO()
    print_summary(verdict, out)
    return data, xml, out.getvalue()


def cases(xml: JUnitXml) -> dict[str, Any]:
    return {case.name: case for suite in xml for case in suite}


def console_results(text: str) -> dict[str, str]:
    """threshold → its result cell, from the plain-text table."""
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) == 6 and cells[0] != "threshold":
            rows[cells[0]] = cells[5]
    return rows


def test_a_run_that_never_started_reads_the_same_in_every_output(tmp_path: Path) -> None:
    """Every threshold skipped (not evaluated) in all three, and the run itself an error."""
    verdict = verdict_of("error")
    data, xml, text = outputs(verdict)
    assert {t["status"] for t in data["thresholds"]} == {"skipped"}
    assert data["exit_code"] == 3
    assert data["validity"]["valid"] is False
    assert data["validity"]["reasons"] == [
        "the run never started: no load was sent (cannot connect to https://***"
        "@example.test: refused)"
    ]
    assert data["run"]["started_at"] == "2026-01-01T00:00:00.000Z"
    by_name = cases(xml)
    run_case = by_name.pop("run")
    assert [type(r) for r in run_case.result] == [Error]
    assert run_case.result[0].type == "RunError"
    assert all([type(r) for r in case.result] == [Skipped] for case in by_name.values())
    # The console's layout differs on purpose: the cause first, then the skipped cases as one
    # line that counts them (no table of SKIP rows).
    assert console_results(text) == {}
    lines = text.splitlines()
    assert lines[1].startswith("ERROR: cannot connect to")
    assert lines[2] == f"{len(by_name)} thresholds not judged: the run never started"
    write_reports(verdict, junit=tmp_path / "j.xml", json=tmp_path / "v.json")
    check_reports(tmp_path / "j.xml", tmp_path / "v.json")


def test_a_failure_that_stands_in_an_invalid_run_reads_the_same_in_every_output(
    tmp_path: Path,
) -> None:
    spec = make_spec(["success_rate(http) > 99%", "p95(http) < 200ms", "users >= 10"])
    rec = known_run(spec)  # 8 HTTP 503 and 4 connect errors of 204: 94% on those alone
    for _ in range(20):
        rec.generator_cpu(99.5)
    verdict = judge(spec, close(rec), run_info())
    data, xml, text = outputs(verdict)
    assert (data["status"], data["exit_code"]) == ("fail", 1)
    assert data["validity"]["valid"] is False
    assert [(t["status"], t["trusted"]) for t in data["thresholds"]] == [
        ("fail", True),
        ("fail", False),
        ("pass", False),
    ]
    by_name = cases(xml)
    rate = by_name["success_rate(http) > 99%"].result
    assert [type(r) for r in rate] == [Failure]
    assert "stands although the run is invalid" in rate[0].text
    assert "the generator's CPU was saturated" in rate[0].text
    for name in ("p95(http) < 200ms", "users >= 10"):
        assert [r.type for r in by_name[name].result] == ["InvalidRun"]
    assert console_results(text) == {
        "success_rate(http) > 99%": "FAIL",
        "p95(http) < 200ms": "INVALID",
        "users >= 10": "INVALID",
    }
    assert "Run invalid, but the failures marked FAIL stand" in text
    assert "the generator's CPU was saturated" in text
    assert text.rstrip().splitlines()[-1] == (
        "FAIL: 1 of 3 thresholds failed on the service's own answers; run invalid, 2 not "
        "judged (exit code 1)"
    )
    write_reports(verdict, junit=tmp_path / "j.xml", json=tmp_path / "v.json")
    check_reports(tmp_path / "j.xml", tmp_path / "v.json")


@pytest.mark.parametrize("status", STATUSES)
def test_junit_case_times_add_up_to_the_run(status: str) -> None:
    """Reporters that sum the cases show the run's time, not one window per threshold."""
    verdict = verdict_of(status)
    xml = verdict_to_junit(verdict)
    (suite,) = list(JUnitXml.fromstring(xml))
    times = [round(case.time * 1000) for case in suite]
    assert sum(times) == round(suite.time * 1000) == round(verdict.run.duration_s * 1000)
    assert max(times) - min(times) <= 1


def test_junit_carries_each_window_as_a_property() -> None:
    root = ElementTree.fromstring(verdict_to_junit(verdict_of("fail")))
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props["window_s.p95(http) < 200ms"] == "4.000"
    assert props["window_s.p95(http) < 150ms (during steady)"] == "2.000"


@pytest.mark.parametrize("status", STATUSES)
def test_the_json_verdict_carries_its_exit_code(status: str) -> None:
    verdict = verdict_of(status)
    data = json.loads(verdict_to_json(verdict))
    expected = {"pass": 0, "fail": 1, "invalid": 4, "aborted": 3, "error": 3}[status]
    assert data["exit_code"] == verdict.exit_code == expected


def test_planned_arrivals_are_null_for_the_closed_model() -> None:
    assert verdict_of("fail").validity.planned is None
    spec = make_spec(["p95(http) < 1s"], stages=[{"name": "s", "duration": "4s", "rate": "25/s"}])
    rec = recorder(spec)
    rec.generator.planned = 100
    http(rec, "list-items", 5.0, 0.5)
    assert judge(spec, close(rec), run_info()).validity.planned == 100


def _floats(data: Any, path: str = "") -> list[tuple[str, float]]:
    if isinstance(data, float):
        return [(path, data)]
    if isinstance(data, dict):
        return [f for k, v in data.items() for f in _floats(v, f"{path}.{k}")]
    if isinstance(data, list):
        return [f for i, v in enumerate(data) for f in _floats(v, f"{path}[{i}]")]
    return []


def test_figures_are_rounded_to_what_they_mean() -> None:
    """A mean of latencies in ms to the µs, a percentage or a rate to a thousandth: no
    ``92.15686274509804``."""
    spec = make_spec(["success_rate(http) > 99%", "mean(http) < 1s", "rate(http) > 1/s"])
    rec = known_run(spec)
    verdict = judge(spec, close(rec, elapsed_s=3.7), run_info())
    data = json.loads(verdict_to_json(verdict))
    data.pop("recording")
    noisy = [(p, v) for p, v in _floats(data) if v != round(v, 3)]
    assert noisy == []
    rate = data["thresholds"][0]
    assert (rate["observed"], rate["margin"]) == (92.157, -6.843)


def test_rounding_never_moves_a_figure_across_its_limit() -> None:
    holds = lambda v: v >= 99.9  # noqa: E731
    assert numbers.stored_against(99.89999, "%", holds) == (99.89999, 5)
    assert numbers.stored_against(99.8994, "%", holds) == (99.899, 3)


def test_a_warn_threshold_is_marked_in_the_console_whether_it_held_or_not() -> None:
    spec = make_spec(
        [
            {"expr": "p95(http) < 10s", "severity": "warn"},
            {"expr": "p95(http) < 1ms", "severity": "warn"},
            "p95(http) < 20s",
        ]
    )
    rec = recorder(spec)
    for k in range(10):
        http(rec, "list-items", 5.0, k / 10)
        rec.users(1, k * NS_PER_S // 10)
    _data, _xml, text = outputs(judge(spec, close(rec), run_info()))
    assert console_results(text) == {
        "p95(http) < 10s (warn)": "PASS",
        "p95(http) < 1ms (warn)": "WARN",
        "p95(http) < 20s": "PASS",
    }
