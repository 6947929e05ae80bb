"""The HTML report in a real browser (Debian's headless Chromium over the DevTools
protocol): pages of real runs, a merged verdict, an older one and one full of markup load
with no console error (a blocked fetch or script would be one), every threshold is in the
DOM, the charts share one time axis, and a screenshot is not blank.

Without Chromium the tests skip, saying how to install it (``.ci/run`` does)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from sla_runner.judge.verdicts import judge
from sla_runner.plan import Segment
from sla_runner.report.html import write_html
from sla_runner.report.json_report import verdict_from_json, write_json
from tests.integration.conftest import DelayRuns
from tests.support.browser import Browser, chromium, colours
from tests.support.cli import run_cli
from tests.unit.test_html_report import CROWDED
from tests.unit.verdict_data import (
    THRESHOLDS,
    close,
    known_run,
    make_spec,
    recorder,
    run_info,
    verdict_of,
)

pytestmark = pytest.mark.load

EXPRS = "Array.from(document.querySelectorAll('tr.threshold .expr')).map(e => e.textContent)"
READOUTS = "Array.from(document.querySelectorAll('svg.chart.time .readout'))" \
    ".map(t => t.textContent)"  # fmt: skip


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium()  # skips, saying why, when there is none
    with Browser(width=1280, height=2000) as b:
        yield b


def _open(browser: Browser, page: Path) -> None:
    browser.errors.clear()
    browser.open(page.resolve().as_uri())
    assert browser.errors == [], browser.errors


def _thresholds(verdict_path: Path) -> list[str]:
    data = json.loads(verdict_path.read_text(encoding="utf-8"))
    return [t["expr"] for t in data["thresholds"]]


def test_a_real_run_with_its_baseline_renders_and_every_chart_reads_one_second(
    browser: Browser, delay_runs: DelayRuns, tmp_path: Path
) -> None:
    _open(browser, delay_runs.path("slow.html"))
    assert browser.evaluate(EXPRS) == _thresholds(delay_runs.path("slow.json"))
    charts = browser.evaluate("document.querySelectorAll('svg.chart.time').length")
    assert charts >= 6  # load, throughput, errors, http, http.flaky, http.slow
    limits = browser.evaluate("document.querySelectorAll('svg.chart.time .limit').length")
    assert limits >= 3  # the rate, and p95(http.slow) and p95(http) on their latency charts
    # p95(http) < 50ms during steady (a warning) missed at 300 ms: its seconds are shaded.
    assert browser.evaluate("document.querySelectorAll('svg .breach').length") > 0
    assert browser.evaluate("document.querySelectorAll('#comparison tr.figure').length") == 15
    # Point at the first chart: every chart over time reads the same second.
    box = browser.evaluate(
        "(() => { const r = document.querySelector('svg.chart.time').getBoundingClientRect();"
        " return [r.left, r.top, r.width, r.height]; })()"
    )
    browser.move_mouse(box[0] + box[2] * 0.5, box[1] + box[3] * 0.5)
    readouts = browser.evaluate(READOUTS)
    assert len(readouts) == charts
    seconds = {text.split(":", 1)[0] for text in readouts}
    assert len(seconds) == 1, readouts
    assert all(text.strip() for text in readouts)
    assert browser.errors == []
    shot = browser.screenshot(tmp_path / "slow.png", (0, 0, 1280, 2000))
    distinct, ink = colours(shot)
    assert distinct > 50, distinct  # text, tables, charts: not a blank page
    assert ink > 0.03, ink


def test_a_merged_verdict_and_an_older_one_render_through_sla_runner_report(
    browser: Browser, delay_runs: DelayRuns, tmp_path: Path
) -> None:
    base = json.loads(delay_runs.path("base.json").read_text(encoding="utf-8"))
    for row in [*base["timeline"], *base["recording"]["timeline"]]:
        del row["series"], row["arrivals"]  # as verdicts were written before them
    old = write_json(tmp_path / "old.json", verdict_from_json(json.dumps(base)))
    spec = make_spec(THRESHOLDS)
    parts = []
    for part in (0, 1):
        rec = known_run(spec, recorder(spec, Segment(part + 1, 2)), part=part, parts=2)
        parts.append(write_json(tmp_path / f"{part}.json", judge(spec, close(rec), run_info())))
    merged = tmp_path / "merged.json"
    assert run_cli("merge", *parts, "--json", merged).code == 1  # the known run fails
    for verdict in (old, merged):
        page = tmp_path / f"{verdict.stem}.html"
        assert run_cli("report", verdict, "--html", page).code == 0
        _open(browser, page)
        assert browser.evaluate(EXPRS) == _thresholds(verdict)
        labels = browser.evaluate(
            "Array.from(document.querySelectorAll('svg.chart.time')).map(s => s.ariaLabel)"
        )
        assert "latency: http" in labels
        assert ("latency: http.list-items" in labels) == (verdict is merged)  # old: HTTP only
        shot = browser.screenshot(tmp_path / f"{verdict.stem}.png", (0, 0, 1280, 1600))
        assert colours(shot)[0] > 50


def test_markup_in_a_verdict_runs_nothing(browser: Browser, tmp_path: Path) -> None:
    hostile = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>"\''
    verdict = verdict_of("fail")
    verdict = verdict.model_copy(
        update={
            "findings": [hostile],
            "message": hostile,
            "spec": verdict.spec.model_copy(update={"name": hostile, "labels": {hostile: hostile}}),
            "thresholds": [
                t.model_copy(update={"expr": hostile + t.expr}) for t in verdict.thresholds
            ],
        }
    )
    page = write_html(tmp_path / "hostile.html", verdict)
    _open(browser, page)
    assert browser.evaluate("typeof window.pwned") == "undefined"
    assert browser.evaluate("document.querySelectorAll('script').length") == 1
    assert browser.evaluate("document.querySelectorAll('img').length") == 0
    assert browser.evaluate(EXPRS)[0] == hostile + verdict.thresholds[0].expr.removeprefix(hostile)
    assert browser.evaluate("document.querySelector('h1').textContent").startswith(hostile)


LABEL_BOXES = """Array.from(document.querySelectorAll('svg.chart')).map(s => ({
  chart: s.ariaLabel,
  labels: Array.from(s.querySelectorAll('g.limit text')).map(t => {
    const r = t.getBoundingClientRect();
    return [t.textContent, r.left, r.top, r.right, r.bottom];
  }),
}))"""


def test_limit_labels_at_one_spot_are_all_readable(browser: Browser, tmp_path: Path) -> None:
    spec = make_spec(CROWDED)
    page = write_html(tmp_path / "crowded.html", judge(spec, close(known_run(spec)), run_info()))
    _open(browser, page)
    charts = {c["chart"]: c["labels"] for c in browser.evaluate(LABEL_BOXES)}
    assert sorted(t for t, *_ in charts["latency by percentile: http"]) == sorted(CROWDED)
    for chart, boxes in charts.items():
        overprinted = [
            (a[0], b[0])
            for i, a in enumerate(boxes)
            for b in boxes[i + 1 :]
            if a[1] < b[3] and b[1] < a[3] and a[2] < b[4] and b[2] < a[4]
        ]
        assert overprinted == [], chart
    top = browser.evaluate(
        "document.querySelector('svg.chart.dist').getBoundingClientRect().top + scrollY"
    )
    shot = browser.screenshot(tmp_path / "crowded.png", (0, top, 1280, 300))
    assert colours(shot)[0] > 5
