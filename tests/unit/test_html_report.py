"""The HTML report and the Markdown summary, from known verdicts: everything escaped, no
secret, nothing fetched, every threshold present, older and merged verdicts drawn, and
`sla-runner report`. (The page in a real browser: tests/integration/test_html_browser.py.)"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from sla_runner.api import merge_verdicts
from sla_runner.cli import run
from sla_runner.comparison import Comparison
from sla_runner.judge.compare import compare_verdicts
from sla_runner.judge.verdicts import judge
from sla_runner.plan import Segment
from sla_runner.report.html import CSP, verdict_to_html
from sla_runner.report.json_report import verdict_from_json, verdict_to_json, write_json
from sla_runner.report.markdown import verdict_markdown
from sla_runner.report.svg import RIGHT, WIDTH, Curve, Mark, percentile_chart
from sla_runner.report.timeseries import MAX_BUCKETS, Timeline, stage_window
from sla_runner.verdict import SecondFigures, Verdict
from tests.unit.test_scenario_judging import older, record
from tests.unit.test_scenario_judging import spec as scenario_spec
from tests.unit.verdict_data import (
    SECRET,
    THRESHOLDS,
    close,
    known_run,
    make_spec,
    recorder,
    run_info,
    verdict_of,
)

HOSTILE = "<img src=x onerror=alert(1)>\"'&`|</script>"
TAGS = {
    "html", "head", "meta", "title", "style", "body", "header", "span", "h1", "h2", "p",
    "strong", "em", "ul", "li", "section", "table", "thead", "tbody", "tr", "th", "td", "div",
    "dl", "dt", "dd", "footer", "script", "svg", "text", "line", "rect", "g", "polyline",
    "circle",
}  # fmt: skip


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        (self.scripts if self._in_script else self.text).append(data)


def _parsed(page: str) -> _Page:
    parser = _Page()
    parser.feed(page)
    parser.close()
    return parser


def _hostile(verdict: Verdict) -> Verdict:
    """``verdict`` with markup and quotes in every text a report shows."""
    metrics = {k.replace("list-items", HOSTILE): m for k, m in verdict.metrics.items()}
    timeline = [
        row.model_copy(
            update={"series": {k.replace("list-items", HOSTILE): s for k, s in row.series.items()}}
        )
        for row in verdict.timeline
    ]
    spec = verdict.spec.model_copy(
        update={
            "name": HOSTILE,
            "sla_version": HOSTILE,
            "owner": HOSTILE,
            "labels": {HOSTILE: HOSTILE},
        }
    )
    runfacts = verdict.run.model_copy(
        update={
            "host": HOSTILE,
            "base_url": HOSTILE,
            "overrides": {HOSTILE: HOSTILE},
            "warnings": [HOSTILE],
        }
    )
    thresholds = [
        t.model_copy(update={"expr": t.expr + HOSTILE, "message": HOSTILE, "description": HOSTILE})
        for t in verdict.thresholds
    ]
    return verdict.model_copy(
        update={
            "spec": spec,
            "run": runfacts,
            "message": HOSTILE,
            "metrics": metrics,
            "timeline": timeline,
            "thresholds": thresholds,
            "findings": [HOSTILE],
            "notes": [HOSTILE],
            "stages": [HOSTILE, HOSTILE + "2"],
        }
    )


def test_every_text_is_escaped_in_elements_and_attributes() -> None:
    page = _parsed(verdict_to_html(_hostile(verdict_of("fail"))))
    assert {tag for tag, _ in page.tags} <= TAGS
    assert [tag for tag, _ in page.tags].count("script") == 1
    assert not any(name.startswith("on") for _, attrs in page.tags for name in attrs)
    assert not any(tag == "img" for tag, _ in page.tags)
    text = "".join(page.text)
    assert HOSTILE in text  # shown as text, whole
    titles = [a.get("aria-label") for tag, a in page.tags if tag == "svg"]
    assert f"latency: http.{HOSTILE}" in titles  # an attribute value, decoded whole
    charts = [a for tag, a in page.tags if tag == "svg" and a.get("data-lines")]
    labels = {line["label"] for a in charts for line in json.loads(a["data-lines"] or "")}
    assert "p95" in labels


def test_the_page_fetches_nothing_and_its_one_script_is_the_one_the_policy_allows() -> None:
    page_text = verdict_to_html(verdict_of("fail"))
    page = _parsed(page_text)
    csp = next(a for tag, a in page.tags if tag == "meta" and a.get("http-equiv"))
    assert csp["content"] == CSP
    assert "default-src 'none'" in CSP
    digest = base64.b64encode(hashlib.sha256(page.scripts[0].encode()).digest()).decode()
    assert f"'sha256-{digest}'" in CSP
    for _, attrs in page.tags:
        assert not ({"src", "href", "xlink:href"} & set(attrs))
    assert not re.search(r"url\(|@import|https?://(?!example\.test)", page_text.split("<body>")[0])


def test_no_secret_reaches_the_page_and_the_page_adds_none() -> None:
    redacted = verdict_of("fail")
    assert SECRET not in verdict_to_html(redacted)
    leaky = redacted.model_copy(update={"message": f"token {SECRET}", "findings": [SECRET]})
    assert SECRET not in verdict_to_html(leaky, secrets=frozenset({SECRET}))


def test_every_threshold_is_in_the_table_and_latency_limits_are_drawn_with_breaches() -> None:
    verdict = verdict_of("fail")
    page = _parsed(verdict_to_html(verdict))
    rows = [a for tag, a in page.tags if tag == "tr" and a.get("class") == "threshold"]
    assert len(rows) == len(verdict.thresholds) == len(THRESHOLDS)
    assert [a["data-status"] for a in rows] == [
        "fail" if t.status == "no_data" else t.status for t in verdict.thresholds
    ]
    breaches = [a for tag, a in page.tags if tag == "rect" and a.get("class") == "breach"]
    assert breaches, "p95(http) < 200ms failed: its breaching seconds are shaded"
    text = "".join(page.text)
    assert "p95(http) < 200ms" in text
    assert "p95(http) < 150ms (during steady)" in text  # its limit drawn over its stage
    assert "latency by percentile: http" in {a.get("aria-label") for tag, a in page.tags}


def _old(verdict: Verdict) -> Verdict:
    """``verdict`` as a verdict written before timeline series and arrivals."""
    data = json.loads(verdict_to_json(verdict))
    for row in data["timeline"]:
        del row["series"], row["arrivals"]
    return verdict_from_json(json.dumps(data))


def test_an_older_verdict_draws_the_http_figures_every_row_has() -> None:
    old = _old(verdict_of("fail"))
    assert all(row.series == {} for row in old.timeline)
    page = _parsed(verdict_to_html(old))
    charts = {a.get("aria-label"): a for tag, a in page.tags if tag == "svg"}
    assert "latency: http" in charts
    assert "latency: http.list-items" not in charts  # not in the timeline: not drawn
    lines = json.loads(charts["latency: http"]["data-lines"] or "")
    assert any(v is not None for line in lines for v in line["values"])


def test_a_merged_verdict_and_one_of_each_status_render(tmp_path: Path) -> None:
    spec = make_spec(THRESHOLDS)
    paths = []
    for part in (0, 1):
        rec = known_run(spec, recorder(spec, Segment(part + 1, 2)), part=part, parts=2)
        paths.append(write_json(tmp_path / f"{part}.json", judge(spec, close(rec), run_info())))
    merged = merge_verdicts(paths)
    assert merged.run.segment == "merged"
    assert "latency: http.create-order" in verdict_to_html(merged)
    for status in ("pass", "invalid", "aborted", "error"):
        page = verdict_to_html(verdict_of(status))
        assert f'<header class="{status}"' in page
    assert "No timeline" in verdict_to_html(verdict_of("error"))


def test_an_invalid_run_s_status_line_points_down_at_its_reasons() -> None:
    """The status line borrowed the console's "(reasons above)", but the page lists the
    reasons below it."""
    page = verdict_to_html(verdict_of("invalid"))
    status = re.search(r'<p id="status-line">(.*?)</p>', page)
    assert status is not None
    assert (
        status[1]
        == "INVALID RUN: its figures cannot judge the service (reasons below) (exit code 4)"
    )
    assert page.index('id="status-line"') < page.index("<strong>Run invalid:</strong>")


def test_a_long_run_is_drawn_in_buckets_on_one_axis() -> None:
    verdict = verdict_of("pass")
    row = verdict.timeline[1]
    rows = [
        row.model_copy(update={"second": s, "series": {"http": SecondFigures(count=1, p95_ms=s)}})
        for s in range(1500)
    ]
    timeline = Timeline.of(verdict.model_copy(update={"timeline": rows}))
    assert timeline.axis.buckets <= MAX_BUCKETS
    assert timeline.axis.step_s == 3
    assert timeline.series_stat("http", "p95")[-1] == 1499  # a bucket's highest


def _cells(row: str) -> list[str]:
    return re.split(r"(?<!\\)\|", row)[1:-1]


def test_the_markdown_table_holds_one_row_per_threshold_and_escapes_pipes_and_backticks() -> None:
    verdict = _hostile(verdict_of("fail"))
    text = verdict_markdown(verdict)
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert len(rows) == 1 + len(verdict.thresholds)
    assert all(len(_cells(row)) == 7 for row in rows)
    assert not re.search(r"(?<!\\)[`<]", text.replace("<sub>", "").replace("</sub>", ""))
    assert "\\<img src=x onerror=alert(1)\\>" in text
    status = text.splitlines()[0]
    assert status.startswith("### ❌ FAIL: ")


def test_report_writes_the_pages_of_a_verdict_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_json(tmp_path / "verdict.json", verdict_of("fail"))
    html, md = tmp_path / "out" / "report.html", tmp_path / "out" / "summary.md"
    assert run(["report", str(source), "--html", str(html), "--summary-md", str(md)]) == 0
    assert html.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert "| result | threshold |" in md.read_text(encoding="utf-8")
    assert run(["report", str(source)]) == 2
    assert "give --html PATH or --summary-md PATH" in capsys.readouterr().err
    assert run(["report", str(tmp_path / "missing.json"), "--html", str(html)]) == 3


def test_stages_are_marked_where_the_plan_put_them_side_by_side_in_several_scenarios() -> None:
    verdict = verdict_of("fail")
    assert verdict.recording is not None
    # As a run of two scenarios records it: the second starts 500 ms in, beside the first.
    recording = {
        **verdict.recording,
        "stage_starts_ns": [0, 500_000_000],
        "stage_scenarios": ["holders", "visitors"],
    }
    side = verdict.model_copy(update={"recording": recording})
    assert Timeline.of(verdict).axis.stages == ((0.0, "ramp"), (2.0, "steady"))
    assert Timeline.of(side).axis.stages == ((0.0, "holders: ramp"), (0.5, "visitors: steady"))
    old = verdict.model_copy(update={"recording": None})  # no plan: where the rows say
    assert Timeline.of(old).axis.stages == ((0.0, "ramp"), (2.0, "steady"))
    # A threshold during steady is drawn and shaded over the planned stage: 0.5 s to 2.5 s.
    steady = next(t for t in side.thresholds if t.during == "steady")
    assert stage_window(side, steady) == (0.5, 2.5)
    assert stage_window(verdict, steady) == (2.0, 4.0)


# Thresholds whose labels would fall on one spot of the percentile chart: one limit at one
# percentile for the metric and an endpoint, a limit a few ms above it, a neighbouring
# percentile with the same limit.
CROWDED = [
    "p99(http) < 400ms",
    "p99(http.create-order) < 400ms",
    "p99(http.list-items) < 405ms",
    "p95(http) < 400ms",
]
LABEL_EM = 11  # svg .limit text{font-size:11px}


def _label_boxes(svg: str) -> list[tuple[str, float, float, float, float]]:
    """Each limit label's text and box (left, top, right, bottom), its width taken
    generously (0.62 em a character: wider than system-ui's digits and letters)."""
    boxes = []
    for m in re.finditer(
        r'<g class="limit">.*?<text x="([\d.]+)" y="([\d.]+)" text-anchor="(\w+)">(.*?)</text>',
        svg,
    ):
        x, y, anchor, text = float(m[1]), float(m[2]), m[3], m[4]
        width = 0.62 * LABEL_EM * len(text.replace("&lt;", "<"))
        left = x - width if anchor == "end" else x
        boxes.append((text, left, y - LABEL_EM, left + width, y + 0.25 * LABEL_EM))
    return boxes


def _overlaps(boxes: list[tuple[str, float, float, float, float]]) -> list[tuple[str, str]]:
    return [
        (a[0], b[0])
        for i, a in enumerate(boxes)
        for b in boxes[i + 1 :]
        if a[1] < b[3] and b[1] < a[3] and a[2] < b[4] and b[2] < a[4]
    ]


def test_limit_labels_on_the_percentile_chart_stack_instead_of_overprinting() -> None:
    spec = make_spec(CROWDED)
    verdict = judge(spec, close(known_run(spec)), run_info())
    page = verdict_to_html(verdict)
    chart = re.search(r'<svg class="chart dist".*?</svg>', page, re.S)
    assert chart is not None
    boxes = _label_boxes(chart[0])
    assert sorted(b[0].replace("&lt;", "<") for b in boxes) == sorted(CROWDED)
    assert _overlaps(boxes) == []
    top = 30  # every label stays inside the plot, under the title
    assert all(b[2] >= top - 1 and b[1] >= 0 for b in boxes), boxes


def test_a_margin_in_percent_is_not_given_a_second_percentage() -> None:
    """A success rate's margin is in points (-6.84% below 99%); a share of the limit beside
    it, "-6.84% (-6.91%)", reads as two figures of one kind. Other units keep their share."""
    margins = {}
    for row in re.finditer(r'<tr class="threshold".*?</tr>', verdict_to_html(verdict_of("fail"))):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row[0])
        expr = re.search(r'<span class="expr">(.*?)</span>', cells[1])
        assert expr is not None
        margins[expr[1]] = cells[5]
    assert margins["success_rate(http) &gt; 99%"] == "-6.84%"
    assert margins["p95(http) &lt; 200ms"] == "-500.4 ms (-250.2%)"


def test_more_limit_labels_than_a_chart_has_room_for_stay_inside_it() -> None:
    marks = [Mark(f"p99(http.endpoint-{i}) < 400ms", 99, 400.0) for i in range(40)]
    curve = Curve("http", "#000", [(0.0, 1.0), (99.0, 500.0)], 1000)
    svg = percentile_chart(
        chart_id="d", title="t", curves=[curve], marks=marks, fmt=str, esc=lambda t: t
    )
    baselines = [float(y) for y in re.findall(r'<text x="[\d.]+" y="([\d.]+)" text-anchor', svg)]
    assert len(baselines) == 40
    assert all(30 <= y <= 260 - 24 for y in baselines), baselines  # within the plot
    assert len(set(baselines)) > 10  # as many lines as fit, the rest on the last


def _load_chart(verdict: Verdict) -> tuple[str, dict[str, list[str | None]], str]:
    """The load chart's title, its lines (label → values) and its markup."""
    page = verdict_to_html(verdict)
    svg = re.search(r'<svg[^>]*aria-label="load[^"]*".*?</svg>', page, re.S)
    assert svg is not None
    (chart,) = [a for tag, a in _parsed(svg[0]).tags if tag == "svg"]
    lines = {line["label"]: line["values"] for line in json.loads(chart["data-lines"] or "")}
    return chart["aria-label"] or "", lines, svg[0]


def test_a_scenario_s_users_limit_is_drawn_against_that_scenario_s_own_users() -> None:
    """`users >= 4` of scenario shoppers was drawn over the run's total (shoppers' users and
    the open visitors' requests in flight added up), under a legend that named it 'in
    flight'."""
    own = {"expr": "users >= 4", "scenario": "shoppers", "during": "steady"}
    _rec, verdict = record(scenario_spec([own]))
    title, lines, svg = _load_chart(verdict)
    assert title == "load: each scenario's users (closed model) or requests in flight (open model)"
    assert {"shoppers (users)", "visitors (in flight)"} <= set(lines)
    assert not {"users held", "in flight"} & set(lines)  # no total to read the limit against
    assert set(lines["shoppers (users)"]) == {"4"}  # as the cursor shows them
    assert "users &gt;= 4 (scenario shoppers, during steady)" in svg
    _rec, everyone = record(scenario_spec([own, "users >= 4"]))
    _title, lines, _svg = _load_chart(everyone)
    assert "5" in lines["all scenarios"]  # 4 users and 1 request in flight


def test_a_scenario_s_users_seconds_that_break_its_limit_are_shaded() -> None:
    # The visitors' request in flight makes the run 5 at times; shoppers alone never are.
    calm = {"expr": "max(users) <= 4", "scenario": "shoppers"}
    _rec, verdict = record(scenario_spec([calm]))
    assert 'class="breach"' not in _load_chart(verdict)[2]
    tight = {"expr": "max(users) <= 3", "scenario": "shoppers"}
    _rec, verdict = record(scenario_spec([tight]))
    assert verdict.thresholds[0].status == "fail"
    assert 'class="breach"' in _load_chart(verdict)[2]


def _legend_overflow(svg: str) -> list[str]:
    """The legend entries of a chart that end beyond its width or below its height
    (an entry's text at 11 px is taken as 7 px a character, as the chart lays it out)."""
    height = float(re.search(r'viewBox="0 0 \d+ ([\d.]+)"', svg)[1])  # type: ignore[index]
    legend = re.search(r'<g class="legend">(.*?)</g>', svg, re.S)
    assert legend is not None
    entries = re.findall(r'<text x="([\d.]+)" y="([\d.]+)">(.*?)</text>', legend[1])
    assert entries
    return [
        label
        for x, y, label in entries
        if float(x) + 7 * len(html.unescape(label)) > WIDTH - RIGHT or float(y) > height
    ]


def test_a_legend_that_does_not_fit_beside_the_title_goes_on_to_rows_below() -> None:
    """The load chart of a closed and an open scenario ran its legend past the chart's
    right edge, where 'dropped/s' was cut off; so would a distribution of many endpoints."""
    _rec, verdict = record(scenario_spec(["p95(http) < 1s"]))
    _title, lines, svg = _load_chart(verdict)
    assert "dropped/s" in lines
    assert _legend_overflow(svg) == []
    curves = [Curve(f"http.endpoint-number-{i}", "#000", [(0.0, 1.0)], 10) for i in range(20)]
    many = percentile_chart(chart_id="d", title="t", curves=curves, fmt=str, esc=lambda t: t)
    assert _legend_overflow(many) == []
    assert re.search(r'viewBox="0 0 \d+ 260"', many) is None  # taller, for its rows


def _rerun_comparison() -> tuple[Verdict, Comparison]:
    """Two runs of one spec (a closed and an open scenario) and their comparison, which
    leaves the tails of few samples unresolved."""
    golden = Path(__file__).parent / "golden"
    a, b = (Verdict.model_validate_json((golden / f"rerun_{x}.json").read_text()) for x in "ab")
    return b, compare_verdicts(a, b, baseline_path="a.json", new_path="b.json")


def test_every_result_cell_has_a_style_and_too_few_samples_is_neutral() -> None:
    verdict, comparison = _rerun_comparison()
    page = verdict_to_html(verdict, comparison=comparison)
    style = page.split("<style>")[1].split("</style>")[0]
    used = set(re.findall(r'class="r r-([\w-]+)"', page))
    assert {"held", "unresolved"} <= used
    styled = {
        name: rule
        for names, rule in re.findall(r"([^{}]+)\{([^}]*)\}", style)
        for name in re.findall(r"\.r-([\w-]+)", names)
    }
    assert used <= set(styled), used - set(styled)
    assert styled["unresolved"] == styled["skipped"]  # not judged, as a skipped case is


def test_stage_names_that_start_together_are_stacked_not_overprinted() -> None:
    """Two scenarios starting at 0 s wrote 'api: api-hold' over 'shoppers: ramp'."""
    _rec, verdict = record(scenario_spec(["p95(http) < 1s"]))
    page = verdict_to_html(
        verdict.model_copy(
            update={"recording": {**(verdict.recording or {}), "stage_starts_ns": [0, 0]}}
        )
    )
    chart = re.search(r'<svg[^>]*aria-label="load[^"]*".*?</svg>', page, re.S)
    assert chart is not None
    boxes = []
    for m in re.finditer(
        r'<g class="stage">.*?<text x="([\d.]+)" y="([\d.]+)">(.*?)</text>', chart[0]
    ):
        x, y, text = float(m[1]), float(m[2]), m[3]
        boxes.append((text, x, y - 10, x + 0.62 * 10 * len(text), y + 2.5))
    assert [b[0] for b in boxes] == ["shoppers: steady", "visitors: browse"]
    assert _overlaps(boxes) == []


def test_a_scenario_s_limit_over_every_scenario_s_figures_is_said_to_be_so() -> None:
    """`p95(http) < 100ms` of scenario shoppers is drawn on the charts of all the run's
    requests (the timeline has no per-scenario latency): the page says so."""
    _rec, verdict = record(scenario_spec([{"expr": "p95(http) < 100ms", "scenario": "shoppers"}]))
    text = "".join(_parsed(verdict_to_html(verdict)).text)
    said = "A threshold of one scenario (its label names it)"
    assert text.count(said) == 2  # over time and the distribution
    _rec, verdict = record(scenario_spec(["p95(http) < 100ms"]))
    assert said not in "".join(_parsed(verdict_to_html(verdict)).text)


def _held_by_scenario(verdict: Verdict) -> dict[str, list[str]]:
    """The names of the users gauge in each scenario's tables."""
    parts = re.split(r'<h3 class="scenario" data-scenario="([^"]+)">', verdict_to_html(verdict))
    return {
        name: [n for n in re.findall(r"<td>([^<]*)</td>", part) if "users" in n or "flight" in n]
        for name, part in zip(parts[1::2], parts[2::2], strict=True)
    }


def test_the_users_gauge_of_each_scenario_is_named_as_its_model_counts() -> None:
    """The verdict records each scenario's model: the closed shoppers' gauge is users, the
    open visitors' requests in flight, and the run's their sum; the load chart's lines say
    which each one draws."""
    _rec, verdict = record(scenario_spec(["p95(http) < 1s"]))
    assert _held_by_scenario(verdict) == {"shoppers": ["users"], "visitors": ["in flight"]}
    cells = [text.strip() for text in _parsed(verdict_to_html(verdict)).text]
    assert cells.count("users + in flight") == 1  # the run's: their sum
    _title, lines, _svg = _load_chart(verdict)
    assert {"shoppers (users)", "visitors (in flight)"} <= set(lines)


def test_the_users_gauge_of_a_run_with_an_open_scenario_says_what_it_counts() -> None:
    """A verdict written before the models were recorded: the open visitors' requests in
    flight were a gauge named 'users', and the run's 'users' added them to the shoppers'
    users."""
    _rec, recorded = record(scenario_spec(["p95(http) < 1s"]))
    planned = recorded.validity.model_copy(update={"planned": 20})  # as an open run plans
    verdict = older(recorded.model_copy(update={"validity": planned}))
    assert _held_by_scenario(verdict) == {
        "shoppers": ["users / in flight"],
        "visitors": ["users / in flight"],
    }
    _title, lines, _svg = _load_chart(verdict)
    assert {"shoppers", "visitors"} <= set(lines)
    page = _parsed(verdict_to_html(verdict))
    cells = [text.strip() for text in page.text]
    assert cells.count("users + in flight") == 1  # the run's: their sum
    assert cells.count("users / in flight") == 2  # each scenario's: the page cannot tell
    assert "users" not in cells
    closed = _parsed(verdict_to_html(verdict_of("fail")))
    assert [text.strip() for text in closed.text].count("users") == 1
