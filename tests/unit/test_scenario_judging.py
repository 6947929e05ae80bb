"""Judging a run of several scenarios, recorded by the real Recorder: samples land in their
own scenario's stages, thresholds scoped to a scenario read its traffic and users alone,
``flow.<scenario>`` counts passes (think time excluded), findings name the failing step,
and the live line, the console summary and the verdict show each scenario's figures."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from junitparser import JUnitXml

from sla_runner.api import merge_verdicts
from sla_runner.judge.verdicts import judge
from sla_runner.metrics.recorder import Recorder
from sla_runner.plan import Segment, build_plan
from sla_runner.report.console import print_summary
from sla_runner.report.html import verdict_to_html
from sla_runner.report.json_report import verdict_from_json, verdict_to_json, write_json
from sla_runner.report.junit import verdict_to_junit
from sla_runner.report.progress import format_live, scenario_models, start_line
from sla_runner.spec.format2 import Spec
from sla_runner.timeunits import NS_PER_MS, NS_PER_S
from sla_runner.verdict import Verdict
from tests.unit.verdict_data import STARTED_AT, run_info


def spec(thresholds: list[Any]) -> Spec:
    return Spec.model_validate(
        {
            "version": 2,
            "name": "shop",
            "sla_version": "1.0.0",
            "target": {"base_url": "http://127.0.0.1:8000"},
            "endpoints": {
                "login": {"method": "POST", "path": "/login"},
                "list": {"path": "/items"},
                "order": {"method": "POST", "path": "/orders"},
            },
            "scenarios": {
                "shoppers": {
                    "load": {"stages": [{"name": "steady", "duration": "4s", "users": 4}]},
                    "setup": ["login"],
                    "flow": ["list", "order"],
                },
                "visitors": {
                    "start": "2s",
                    "load": {"stages": [{"name": "browse", "duration": "2s", "rate": "10/s"}]},
                    "mix": {"list": 1},
                },
            },
            "thresholds": thresholds,
        }
    )


def record(s: Spec, segment: Segment | None = None) -> tuple[Recorder, Verdict]:
    """Shoppers: 4 users for 4 s, 8 passes of 30 ms steps, the last 2 failing at ``order``;
    visitors: 20 requests of 200 ms from 2 s on. A ``segment`` records its share: every
    N-th pass and request, and its share of the users."""
    segment = segment or Segment()
    plan = build_plan(s, segment)
    rec = Recorder(plan)
    shoppers, visitors = rec.scenario(0), rec.scenario(1)
    mine = range(segment.index - 1, 100, segment.count)
    shoppers.users(segment.share(4), 0)
    for n in range(8):
        if n not in mine:
            continue
        t = n * NS_PER_S // 2
        ms = 30 * NS_PER_MS
        shoppers.request("http", "list", "ok", ms, t, t + ms)
        failed = n >= 6
        key = "status_500" if failed else "ok"
        shoppers.request("http", "order", key, ms, t + ms, t + 2 * ms)
        if failed:
            shoppers.reason("order:status_500", "status 500, expected 201")
        # One pass: its two steps' time, without the think time between them.
        shoppers.request(
            "flow",
            "shoppers",
            "order:status_500" if failed else "ok",
            None if failed else 2 * ms,
            t,
            t + 2 * ms + 100 * NS_PER_MS,
        )
    for n in range(20):
        if n not in mine:
            continue
        t = 2 * NS_PER_S + n * NS_PER_S // 10
        visitors.users(1, t)
        visitors.request("http", "list", "ok", 200 * NS_PER_MS, t, t + 200 * NS_PER_MS)
        visitors.users(0, t + 200 * NS_PER_MS)
    live = format_live(rec.live(3 * NS_PER_S + 1), 4.0, scenario_models(plan))
    recording = rec.close(
        elapsed_ns=4 * NS_PER_S, started_at=STARTED_AT, finished_at=STARTED_AT + 4, aborted=False
    )
    verdict = judge(s, recording, run_info(segment=str(segment)))
    return rec, verdict.model_copy(update={"notes": [*verdict.notes, live]})


THRESHOLDS = [
    "p95(http) < 100ms",
    {"expr": "p95(http) < 100ms", "scenario": "shoppers"},
    {"expr": "count(http) >= 20", "scenario": "visitors"},
    {"expr": "users >= 4", "scenario": "shoppers", "during": "steady"},
    "p95(flow.shoppers) < 70ms",
    "success_rate(flow.shoppers) > 90%",
]


def test_a_threshold_scoped_to_a_scenario_reads_its_traffic_alone() -> None:
    _rec, verdict = record(spec(THRESHOLDS))
    every, shoppers, visitors, users = verdict.thresholds[:4]
    assert every.status == "fail"  # the visitors' 200 ms are in every scenario's figure
    assert (every.samples, every.scenario) == (36, None)
    assert shoppers.status == "pass"
    assert (shoppers.samples, shoppers.scenario) == (16, "shoppers")
    assert shoppers.observed == pytest.approx(30, rel=0.01)
    assert "in scenario shoppers" in shoppers.message
    assert (visitors.status, visitors.observed) == ("pass", 20)
    assert visitors.window_s == 2  # the visitors' own window, from their start
    assert (users.status, users.observed) == ("pass", 4)


def test_a_flow_counts_passes_without_think_time_and_names_the_failing_step() -> None:
    _rec, verdict = record(spec(THRESHOLDS))
    flow_p95, flow_ok = verdict.thresholds[4:]
    assert (flow_p95.status, flow_p95.samples) == ("pass", 6)
    assert flow_p95.observed == pytest.approx(60, rel=0.01)
    assert (flow_ok.status, flow_ok.observed) == ("fail", 75)  # 6 of 8 passes
    flow = verdict.metrics["flow.shoppers"]
    assert (flow.count, flow.errors) == (8, {"order:status_500": 2})
    assert verdict.metrics["http"].count == 36  # passes are not requests
    assert (
        "2 of 8 passes through flow.shoppers failed: 2 at step order "
        "(HTTP 500 responses: status 500, expected 201)."
    ) in verdict.findings


def test_the_verdict_console_and_live_line_show_each_scenario() -> None:
    _rec, verdict = record(spec(THRESHOLDS))
    assert verdict.spec.format_version == 2
    assert verdict.stages == ["steady", "browse"]
    assert verdict.scenarios["visitors"]["http"].count == 20
    assert verdict.scenarios["shoppers"]["http"].count == 16
    assert "flow.shoppers" not in verdict.scenarios["visitors"]
    again = verdict_from_json(verdict_to_json(verdict))
    assert again.scenarios == verdict.scenarios  # the fields round-trip
    out = io.StringIO()
    models = {"shoppers": "closed", "visitors": "open"}
    print_summary(verdict, out, models=models)
    text = out.getvalue()
    assert "shoppers: steady" in text  # the threshold's scope and window
    assert "flow.shoppers" in text
    rows = [[cell.strip() for cell in line.split("|")] for line in text.splitlines()]
    heading = ["scenario", "requests", "rps", "errors", "p95 ms", "users max", "in flight max"]
    assert heading in rows
    assert ["shoppers", "16", "4", "2", "30.02", "4", "-"] in rows
    assert ["visitors", "20", "10", "0", "200.1", "-", "1"] in rows  # requests, not users
    assert "\nusers + in flight max 5\n" in text  # the run's figure is their sum
    live = verdict.notes[-1]
    every, shoppers, visitors = re.findall(r"http (\d+)/s", live)
    assert "| shoppers steady users 4 http" in live
    assert "| visitors browse in flight 0 http" in live
    assert int(shoppers) + int(visitors) == int(every) > int(shoppers) > 0


def older(verdict: Verdict) -> Verdict:
    """``verdict`` as written before each scenario's model was recorded, read back."""
    data = json.loads(verdict_to_json(verdict))
    del data["scenario_models"]
    return verdict_from_json(json.dumps(data))


def summary_rows(verdict: Verdict) -> list[list[str]]:
    """The console summary of ``verdict`` as a verdict file gives it (`report VERDICT`,
    `merge`: no plan to say each scenario's model), its cells by row."""
    out = io.StringIO()
    print_summary(verdict, out)
    return [[cell.strip() for cell in line.split("|")] for line in out.getvalue().splitlines()]


def test_the_verdict_records_each_scenario_s_model_for_whoever_reads_it_back() -> None:
    """Read back from its file, the summary heads the shoppers' column users and the
    visitors' in flight, as the run's own summary did with the plan at hand."""
    _rec, verdict = record(spec(THRESHOLDS))
    assert verdict.scenario_models == {"shoppers": "closed", "visitors": "open"}
    again = verdict_from_json(verdict_to_json(verdict))
    assert again.scenario_models == verdict.scenario_models
    rows = summary_rows(again)
    assert ["scenario", "requests", "rps", "errors", "p95 ms", "users max", "in flight max"] in rows
    assert ["shoppers", "16", "4", "2", "30.02", "4", "-"] in rows
    assert ["visitors", "20", "10", "0", "200.1", "-", "1"] in rows


def test_a_verdict_read_back_says_users_or_in_flight_when_it_cannot_tell_which() -> None:
    """A verdict written before each scenario's model was recorded: read back from its file
    (`report VERDICT`), a run with an open scenario among several heads the column with
    both."""
    _rec, recorded = record(spec(THRESHOLDS))
    # A run of an open scenario plans its arrivals (this recording leaves them out).
    planned = recorded.validity.model_copy(update={"planned": 20})
    verdict = older(recorded.model_copy(update={"validity": planned}))
    assert verdict.scenario_models == {}
    out = io.StringIO()
    print_summary(verdict, out)
    rows = [[cell.strip() for cell in line.split("|")] for line in out.getvalue().splitlines()]
    assert ["scenario", "requests", "rps", "errors", "p95 ms", "users / in flight max"] in rows
    assert ["visitors", "20", "10", "0", "200.1", "1"] in rows
    assert "\nusers + in flight max 5\n" in out.getvalue()


def test_segments_of_a_run_of_scenarios_merge_into_the_whole(tmp_path: Path) -> None:
    whole = record(spec(THRESHOLDS))[1]
    paths = []
    for index in (1, 2):
        part = record(spec(THRESHOLDS), Segment(index, 2))[1]
        paths.append(write_json(tmp_path / f"part-{index}.json", part))
    merged = merge_verdicts(paths, None)

    def figures(v: Verdict) -> list[tuple[Any, ...]]:
        return [(t.expr, t.scenario, t.observed, t.samples, t.status) for t in v.thresholds]

    assert figures(merged) == figures(whole)
    assert merged.spec.format_version == 2
    for name, figures_of in whole.scenarios.items():
        assert {k: m.count for k, m in merged.scenarios[name].items()} == {
            k: m.count for k, m in figures_of.items()
        }
    assert merged.metrics["flow.shoppers"].errors == {"order:status_500": 2}
    assert merged.findings == whole.findings
    assert merged.scenario_models == {"shoppers": "closed", "visitors": "open"}


def test_segments_written_before_the_models_were_recorded_still_merge_and_render(
    tmp_path: Path,
) -> None:
    """Older verdicts (no scenario_models) merge as before: the same figures, no model
    guessed into the merged verdict, and its summary and page say users / in flight."""
    parts = [record(spec(THRESHOLDS), Segment(index, 2))[1] for index in (1, 2)]
    new = merge_verdicts(
        [write_json(tmp_path / f"new-{i}.json", part) for i, part in enumerate(parts)], None
    )
    paths = [write_json(tmp_path / f"old-{i}.json", older(part)) for i, part in enumerate(parts)]
    merged = merge_verdicts(paths, None)
    assert merged.scenario_models == {}
    assert [t.model_dump() for t in merged.thresholds] == [t.model_dump() for t in new.thresholds]
    planned = merged.validity.model_copy(update={"planned": 20})  # as an open run plans
    guessed = merged.model_copy(update={"validity": planned})
    rows = summary_rows(guessed)
    assert ["scenario", "requests", "rps", "errors", "p95 ms", "users / in flight max"] in rows
    assert "users / in flight" in verdict_to_html(guessed)
    # One part of the newer kind is enough to know them.
    mixed = merge_verdicts([paths[0], write_json(tmp_path / "new.json", parts[1])], None)
    assert mixed.scenario_models == {"shoppers": "closed", "visitors": "open"}


def test_junit_keeps_a_scenario_s_threshold_apart_from_the_run_s() -> None:
    _rec, verdict = record(spec(THRESHOLDS))
    xml = JUnitXml.fromstring(verdict_to_junit(verdict))
    cases = [case.name for suite in xml for case in suite]
    assert cases[:4] == [
        "p95(http) < 100ms",
        "p95(http) < 100ms (scenario shoppers)",
        "count(http) >= 20 (scenario visitors)",
        "users >= 4 (scenario shoppers, during steady)",
    ]
    assert len(cases) == len(set(cases))


def test_the_start_line_gives_the_peak_users_and_the_peak_rate() -> None:
    s = spec([])
    line = start_line(s, build_plan(s), "raw")
    assert "4s planned, peak 4 users and peak 10/s, segment 1/1" in line
