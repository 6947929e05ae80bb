"""The reports, the comparison and the pytest plugin on a format-2 spec: two scenarios side by
side against the shop (users holding a channel, arrivals of their own), thresholds of one
scenario. Every scenario's own figures are compared, the HTML and the Markdown summary say
which scenario a threshold judged, passes through a flow (flow.<scenario>) are compared
and drawn, and the plugin's items are named as the JUnit cases."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import pytest

from tests.support.browser import Browser, chromium
from tests.support.cli import CliRun, cli_env, run_cli
from tests.support.paths import ROOT
from tests.support.shop import running_shop

pytestmark = pytest.mark.load

SPEC = """\
version: 2
name: shop-mini
sla_version: 1.0.0
public_vars: [SHOP_URL]
target: {base_url: "${SHOP_URL}", timeout: 2s}
endpoints:
  list-items: {path: /items}
  item-a1: {path: /items/A1}
channels:
  prices: {path: /ws/prices, send: {op: ping}, expect: {json: {op: pong}}, interval: 100ms}
scenarios:
  holders:
    load:
      stages: [{name: hold, duration: 2s, users: 2}]
      think_time: 50ms
    mix: {list-items: 1}
    channels: [prices]
  visitors:
    start: 500ms
    load:
      stages: [{name: browse, duration: 1s, users: 1}]
      think_time: 50ms
    mix: {item-a1: 1}
  buyers:
    load:
      stages: [{name: shop, duration: 2s, users: 1}]
      think_time: 50ms
    flow: [list-items, item-a1]
thresholds:
  - p95(http) < 1s
  - p95(flow.buyers) < 1s
  - p95(ws.prices) < 1s
  - {expr: p99(http) < 1s, scenario: visitors}
  - {expr: p99(http) < 1us, scenario: visitors, during: browse, severity: warn}
  - {expr: users >= 2, scenario: holders, during: hold}
"""
CASES = [
    "p95(http) < 1s",
    "p95(flow.buyers) < 1s",
    "p95(ws.prices) < 1s",
    "p99(http) < 1s (scenario visitors)",
    "p99(http) < 1us (scenario visitors, during browse)",
    "users >= 2 (scenario holders, during hold)",
]


@dataclass(frozen=True)
class Runs:
    folder: Path
    env: dict[str, str]
    first: CliRun
    second: CliRun


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    folder = tmp_path_factory.mktemp("format2")
    (folder / "shop.sla.yaml").write_text(SPEC, encoding="utf-8")
    with running_shop([("ann", "pw-ann")]) as shop:
        env = {"SHOP_URL": shop.url}

        def run(name: str, *more: str | Path) -> CliRun:
            reports = [f"--{kind}" for kind in ("json", "html", "summary-md", "junit")]
            paths = [folder / f"{name}.{ext}" for ext in ("json", "html", "md", "xml")]
            args = [x for pair in zip(reports, paths, strict=True) for x in pair]
            return run_cli("run", folder / "shop.sla.yaml", "--quiet", *args, *more, env=env)

        first = run("first")
        second = run("second", "--baseline", folder / "first.json",
                     "--tolerance", "1000%", "--noise-floor", "1s")  # fmt: skip
        yield Runs(folder, env, first, second)


def test_each_scenario_s_own_figures_are_compared(runs: Runs, tmp_path: Path) -> None:
    assert runs.first.code == 0, runs.first.output
    assert runs.second.code == 0, runs.second.output
    target = tmp_path / "c.json"
    done = run_cli(
        "compare", runs.folder / "first.json", runs.folder / "second.json",
        "--tolerance", "1000%", "--noise-floor", "1s", "--json", target,
    )  # fmt: skip
    assert done.code == 0, done.output
    data = json.loads(target.read_text(encoding="utf-8"))
    schema = json.loads((ROOT / "schemas" / "comparison.schema.json").read_text("utf-8"))
    jsonschema.Draft202012Validator(schema).validate(data)
    # compared, or listed as too few samples to compare (a p95 of fewer than 200)
    by_name = {f["name"]: f for f in [*data["figures"], *data["unresolved"]]}
    assert by_name["p95(http) (scenario visitors)"]["scenario"] == "visitors"
    assert by_name["p95(http.list-items) (scenario holders)"]["metric"] == "http.list-items"
    assert by_name["p95(http)"]["scenario"] is None
    assert "p95(http.item-a1) (scenario holders)" not in by_name  # not a holders' endpoint
    assert by_name["p95(flow.buyers)"]["metric"] == "flow.buyers"  # a pass through the flow
    assert by_name["success_rate(flow.buyers)"]["new"] == 100
    verdict = json.loads((runs.folder / "first.json").read_text(encoding="utf-8"))
    scoped = by_name["rate(http) (scenario visitors)"]
    assert scoped["baseline"] == verdict["scenarios"]["visitors"]["http"]["rate"]


def test_the_html_and_the_summary_say_which_scenario_a_threshold_judged(runs: Runs) -> None:
    chromium()
    summary = (runs.folder / "second.md").read_text(encoding="utf-8")
    assert "| visitors: browse |" in summary
    assert "| holders: hold |" in summary
    with Browser(width=1280, height=1600) as browser:
        browser.open((runs.folder / "second.html").resolve().as_uri())
        assert browser.errors == []
        exprs = browser.evaluate(
            "Array.from(document.querySelectorAll('tr.threshold .expr')).map(e => e.textContent)"
        )
        verdict = json.loads((runs.folder / "second.json").read_text(encoding="utf-8"))
        assert exprs == [t["expr"] for t in verdict["thresholds"]]
        windows = browser.evaluate(
            "Array.from(document.querySelectorAll('tr.threshold td:nth-child(3)'))"
            ".map(e => e.textContent)"
        )
        assert windows[3].startswith("visitors: run, ")
        assert windows[5].startswith("holders: hold, ")
        scenarios = browser.evaluate(
            "Array.from(document.querySelectorAll('h3.scenario')).map(e => e.dataset.scenario)"
        )
        assert scenarios == ["holders", "visitors", "buyers"]
        charts = browser.evaluate(
            "Array.from(document.querySelectorAll('svg.chart.time')).map(s => s.ariaLabel)"
        )
        assert "latency: flow.buyers" in charts
        stages = browser.evaluate(
            "Array.from(new Set(Array.from(document.querySelectorAll('svg .stage text'))"
            ".map(e => e.textContent)))"
        )
        assert stages == ["holders: hold", "visitors: browse", "buyers: shop"]  # as planned
        limits = browser.evaluate(
            "Array.from(document.querySelectorAll('svg.chart.time .limit title'))"
            ".map(e => e.textContent)"
        )
        assert "p99(http) < 1us (scenario visitors, during browse)" in limits
        # Its seconds are not shaded: a second's figures are the whole run's, not its own.
        assert browser.evaluate("document.querySelectorAll('svg .breach').length") == 0
        assert browser.evaluate("document.querySelectorAll('#comparison tr.figure').length") > 40


def test_the_plugin_names_scenario_thresholds_as_junit_does(runs: Runs) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rA", "shop.sla.yaml"],
        cwd=runs.folder,
        env=cli_env({**runs.env, "PATH": os.environ["PATH"]}),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "6 passed" in done.stdout, done.stdout
    for case in CASES:
        assert f"PASSED shop.sla.yaml::{case}" in done.stdout, done.stdout
