"""Scenarios side by side in one run, against the shop (which counts server-side): each its
own executor on one clock and one recorder; an open scenario delivers its arrivals while
a closed one holds WebSocket users; thresholds and figures per scenario."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sla_runner import api
from sla_runner.verdict import Verdict
from tests.support.shop import LiveShop, running_shop

pytestmark = pytest.mark.load


@pytest.fixture(scope="module")
def shop() -> Iterator[LiveShop]:
    with running_shop([("ann", "pw-ann")]) as live:
        yield live


SIDE_BY_SIDE = """
version: 2
name: side-by-side
sla_version: 1.0.0
target: {{base_url: "{url}", timeout: 2s}}
endpoints:
  list-items: {{path: /items}}
  item-a1: {{path: /items/A1}}
channels:
  prices: {{path: /ws/prices, send: {{op: ping}}, expect: {{json: {{op: pong}}}}, interval: 100ms}}
scenarios:
  holders:
    load:
      stages: [{{name: hold, duration: 2s, users: 3}}]
      think_time: 100ms
    mix: {{list-items: 1}}
    channels: [prices]
  api:
    start: 500ms
    load:
      stages: [{{name: arrive, duration: 1s, rate: 50/s}}]
    mix: {{item-a1: 1}}
thresholds:
  - success_rate(http) > 99%
  - {{expr: count(http) >= 50, scenario: api}}
  - {{expr: users >= 3, scenario: holders, during: hold}}
  - {{expr: count(http) >= 50, scenario: holders}}
"""


def run(shop: LiveShop, text: str) -> Verdict:
    shop.reset()
    loaded = api.load_spec_text(text.format(url=shop.url), "side.yaml")
    return api.run_spec(loaded, handle_signals=False)


def test_an_open_scenario_delivers_its_arrivals_beside_users_holding_channels(
    shop: LiveShop,
) -> None:
    verdict = run(shop, SIDE_BY_SIDE)
    stats = shop.stats()
    paths = stats["paths"]
    assert verdict.metrics["http.item-a1"].count == paths["GET /items/{sku}"] == 50
    assert verdict.metrics["http.list-items"].count == paths["GET /items"]
    assert verdict.metrics["ws.prices"].count == stats["ws_messages"] > 0
    assert verdict.status == "pass", [t.message for t in verdict.thresholds]
    assert verdict.stages == ["hold", "arrive"]
    assert verdict.spec.format_version == 2
    holders, arrivals = verdict.scenarios["holders"], verdict.scenarios["api"]
    held = holders["users"].values
    assert held is not None
    assert held.max == 3  # the channel holders stayed all along
    assert arrivals["http"].count == 50
    assert "http.list-items" not in arrivals
    scoped = {t.expr: t for t in verdict.thresholds if t.scenario == "api"}
    assert scoped["count(http) >= 50"].observed == 50


def test_a_version_1_spec_runs_as_its_one_scenario(shop: LiveShop) -> None:
    text = """
version: 1
name: plain
sla_version: 1.0.0
target: {{base_url: "{url}", timeout: 2s}}
endpoints:
  list-items: {{path: /items}}
load:
  stages: [{{duration: 1s, rate: 40/s}}]
thresholds: [count(http) >= 19]
"""
    verdict = run(shop, text)
    # A version-1 stage ramps from 0: 20 arrivals over 1 s at up to 40/s, not 40.
    assert verdict.metrics["http"].count == shop.stats()["paths"]["GET /items"] == 20
    assert verdict.spec.format_version == 1
    assert verdict.scenarios == {}  # one scenario: the figures are the run's
    assert verdict.status == "pass"


def test_a_channel_filled_per_user_runs_in_a_scenario_without_setup_or_data(
    shop: LiveShop,
) -> None:
    """A mix scenario (no setup, flow or data) whose channel reads ``$user``: its users get
    their state through the step layer, and each fills its channel's message."""
    text = """
version: 2
name: templated-channel
sla_version: 1.0.0
target: {{base_url: "{url}", timeout: 2s}}
endpoints:
  list-items: {{path: /items}}
channels:
  prices: {{path: /ws/prices, send: "ping {{{{ $user }}}}", interval: 100ms}}
scenarios:
  holders:
    load: {{stages: [{{duration: 1s, users: 2}}]}}
    mix: {{list-items: 1}}
    channels: [prices]
thresholds: [p95(http) < 1s, success_rate(ws) > 99%]
"""
    verdict = run(shop, text)
    assert (verdict.status, verdict.exit_code) == ("pass", 0), verdict.message
    assert verdict.metrics["ws.prices"].count == shop.stats()["ws_messages"] > 0
    assert shop.stats()["unfilled_templates"] == 0
