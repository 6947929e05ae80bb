"""Thresholds over windows in what a verdict is written to and read from: the JSON (and a
merge of segment verdicts), JUnit, the console, the HTML report and the Markdown summary."""

from __future__ import annotations

import io
import json
from pathlib import Path

from junitparser import JUnitXml

from sla_runner.api import merge_verdicts
from sla_runner.judge.merge import rules_as_written
from sla_runner.judge.verdicts import judge
from sla_runner.metrics.recording import Recording
from sla_runner.plan import Segment
from sla_runner.report.console import print_summary
from sla_runner.report.html import verdict_to_html
from sla_runner.report.json_report import verdict_from_json, verdict_to_json, write_json
from sla_runner.report.junit import verdict_to_junit
from sla_runner.report.markdown import verdict_markdown
from sla_runner.report.timeseries import latency_breaches
from sla_runner.timeunits import NS_PER_S
from tests.unit.test_windows import episode, recording, spec, verdict_of
from tests.unit.verdict_data import run_info


def test_the_verdict_carries_the_windows_and_merges_them_again() -> None:
    v = verdict_of(
        ["p95(http) < 200ms", {"expr": "p95(http) < 200ms", "window": "5s", "warmup": "1s"}],
        episode(range(5, 10)),
    )
    data = json.loads(verdict_to_json(v))
    windowed = data["thresholds"][1]
    assert windowed["id"] == "p95(http) < 200ms (window 5s, warmup 1s)"
    assert (windowed["window"], windowed["warmup"]) == ("5s", "1s")
    assert "for" not in windowed
    assert windowed["windows"][1] == {
        "start_s": 6.0,
        "end_s": 11.0,
        "observed": windowed["observed"],
        "samples": 2 * 4 + 50,
        "passed": False,
    }
    assert "windows" not in data["thresholds"][0]
    assert "window" not in data["thresholds"][0]
    assert data["spec_thresholds"][1] == {
        "expr": "p95(http) < 200ms",
        "during": None,
        "window": "5s",
        "warmup": "1s",
        "severity": "fail",
        "description": None,
    }
    assert data["recording"]["seconds"]
    back = verdict_from_json(verdict_to_json(v))
    assert back == v
    rules = rules_as_written(back.spec_thresholds, source="v.json")
    assert rules[1].window is not None
    assert rules[1].window.ns == 5 * NS_PER_S
    assert back.recording is not None
    again = judge(spec([]), Recording.from_dict(back.recording), run_info())
    assert again.thresholds == []


def test_a_verdict_without_windowed_thresholds_leaves_the_seconds_out() -> None:
    v = verdict_of(["p95(http) < 200ms"], episode(range(0)))
    assert v.recording is not None
    assert "seconds" not in v.recording


def test_junit_and_console_name_the_window() -> None:
    v = verdict_of(
        ["p95(http) < 200ms", {"expr": "p95(http) < 200ms", "window": "5s"}],
        episode(range(5, 10)),
    )
    xml = JUnitXml.fromstring(verdict_to_junit(v))
    cases = {case.name: case for suite in xml for case in suite}
    assert {"p95(http) < 200ms", "p95(http) < 200ms (window 5s)"} <= set(cases)
    failed = cases["p95(http) < 200ms (window 5s)"]
    assert failed.result
    assert "window 00:05–00:10" in (failed.result[0].message or "")
    out = io.StringIO()
    print_summary(v, out)
    text = out.getvalue()
    assert "Windows:" in text
    assert "p95(http) < 200ms (window 5s): window 00:05–00:10: p95(http) = 500" in text


def test_a_recording_without_seconds_is_no_data_for_a_window() -> None:
    s = spec([{"expr": "p95(http) < 200ms", "window": "5s"}])
    rec = recording(s, episode(range(0)))
    old = Recording.from_dict(rec.to_dict(seconds=False))
    t = judge(s, old, run_info()).thresholds[0]
    assert t.status == "no_data"
    assert "keeps no per-second histograms" in t.message


def test_the_html_report_and_the_markdown_summary_show_the_worst_window() -> None:
    v = verdict_of(
        [{"expr": "p95(http) < 200ms", "window": "5s"}, {"expr": "p95(http) < 1s", "window": "5s"}],
        episode(range(5, 10)),
    )
    html = verdict_to_html(v)
    assert "p95(http) &lt; 200ms (window 5s)" in html
    assert "window 00:05–00:10: p95(http) = 500" in html
    assert "500.2 ms at worst (window 00:05–00:10), limit &lt; 1,000 ms" in html  # a pass too
    markdown = verdict_markdown(v)
    assert "p95(http) < 200ms (window 5s)" in markdown.replace("\\", "")


def test_sla_runner_merge_judges_the_windows_of_segment_verdicts_again(tmp_path: Path) -> None:
    """The segments' verdict files carry what a merge needs: the options as written and the
    per-second histograms; the merged windows are the whole run's."""
    s = spec(
        [
            {"expr": "p95(http) < 200ms", "window": "5s"},
            {"expr": "p95(http) < 200ms", "for": "3s", "during": "steady"},
        ],
        warmup="2s",
    )
    profile = episode(range(7, 12), slow_n=9)
    whole = judge(s, recording(s, profile), run_info())
    paths = []
    for i in (1, 2):
        part = judge(s, recording(s, profile, Segment(i, 2)), run_info(segment=f"{i}/2"))
        paths.append(write_json(tmp_path / f"part-{i}.json", part))
    merged = merge_verdicts(paths, None)
    assert [t.id for t in merged.thresholds] == [t.id for t in whole.thresholds]
    for a, b in zip(whole.thresholds, merged.thresholds, strict=True):
        assert (a.status, a.observed, a.samples, a.windows) == (
            b.status,
            b.observed,
            b.samples,
            b.windows,
        )
    assert merged.thresholds[0].status == "fail"


def test_the_charts_band_the_windows_that_missed_not_the_seconds() -> None:
    v = verdict_of(
        [{"expr": "p95(http) < 200ms", "window": "5s"}, {"expr": "p95(http) < 200ms", "for": "3s"}],
        episode(range(5, 10)),
    )
    window, sustained = v.thresholds
    assert [(b.start_s, b.end_s, b.label) for b in latency_breaches(v, window)] == [
        (5.0, 10.0, "p95(http) < 200ms (window 5s): window missed from 5s to 10s")
    ]
    assert [b.label for b in latency_breaches(v, sustained)] == [
        "p95(http) < 200ms (for 3s): missed for 3s or more from 5s to 10s"
    ]
