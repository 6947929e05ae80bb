"""A format-2 spec of two scenarios, split over processes: ``run --workers 2`` and the
``sla-runner k8s`` pods each carry a segment of *every* scenario, and the merge is the
whole run — counted by the shop, server-side."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sla_runner import api
from sla_runner.k8s import K8sOptions, manifests
from tests.integration.test_k8s_commands import Node, _finish
from tests.support.faultkit import read_json
from tests.support.shop import LiveShop, running_shop

pytestmark = pytest.mark.load


@pytest.fixture(scope="module")
def shop() -> Iterator[LiveShop]:
    with running_shop([("ann", "pw-ann")]) as live:
        yield live


# 4 users holding a channel and listing items, beside 300 arrivals at one item: each of two
# segments carries 2 users and 150 arrivals (one arrival late on a busy machine is < 1%).
TWO_SCENARIOS = """
version: 2
name: two-scenarios
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
      stages: [{{name: hold, duration: 2s, users: 4}}]
      think_time: 100ms
    mix: {{list-items: 1}}
    channels: [prices]
  api:
    start: 500ms
    load:
      stages: [{{name: arrive, duration: 1500ms, rate: 200/s}}]
    mix: {{item-a1: 1}}
thresholds:
  - success_rate(http) > 99%
  - {{expr: count(http) >= 300, scenario: api}}
  - {{expr: users >= 4, scenario: holders, during: hold}}
"""


def test_two_workers_carry_every_scenario_of_a_format_2_spec(shop: LiveShop) -> None:
    shop.reset()
    loaded = api.load_spec_text(TWO_SCENARIOS.format(url=shop.url), "two.yaml")
    verdict = api.run_spec(loaded, workers=2, handle_signals=False)
    stats = shop.stats()
    paths = stats["paths"]
    assert verdict.validity.planned == 300
    assert verdict.metrics["http.item-a1"].count == paths["GET /items/{sku}"] == 300
    assert verdict.metrics["http.list-items"].count == paths["GET /items"] > 0
    assert verdict.metrics["ws.prices"].count == stats["ws_messages"] > 0
    held = verdict.scenarios["holders"]["users"].values
    assert held is not None
    assert held.max == 4  # 2 + 2: the workers' users added up, second by second
    assert verdict.scenarios["api"]["http"].count == 300
    assert verdict.run.segment == "1/1"
    assert any("carried by 2 worker processes" in note for note in verdict.notes)
    assert verdict.status == "pass", [(t.expr, t.message) for t in verdict.thresholds]


def test_k8s_pods_carry_every_scenario_and_the_merge_is_the_whole(
    shop: LiveShop, tmp_path: Path
) -> None:
    shop.reset()
    spec = tmp_path / "two.yaml"
    spec.write_text(TWO_SCENARIOS.format(url=shop.url), encoding="utf-8")
    made = manifests(api.load_spec(spec), K8sOptions(parallelism=2, run_id="run-2s"))
    node = Node(made, tmp_path / "node")
    segments, merge = made.by_kind("Job")
    pods = [node.start(segments, JOB_COMPLETION_INDEX=str(i)) for i in range(2)]
    for i, pod in enumerate(pods):
        code, out = _finish(pod)
        assert code == 0, f"pod {i}: {out}"
    code, out = _finish(node.start(merge))
    assert code == 0, out
    verdict = read_json(node.folders["results"] / "run-2s" / "verdict.json")
    paths = shop.stats()["paths"]
    assert verdict["validity"]["planned"] == 300
    assert verdict["metrics"]["http.item-a1"]["count"] == paths["GET /items/{sku}"] == 300
    assert verdict["metrics"]["http.list-items"]["count"] == paths["GET /items"] > 0
    assert verdict["status"] == "pass"


SHOP_SPEC = Path(__file__).resolve().parents[2] / "specs" / "format2" / "shop.yaml"
SHORTER = {  # the example shop spec, 45 s, made 3 s long
    "scenarios.shoppers.load.stages[0].duration": "500ms",
    "scenarios.shoppers.load.stages[1].duration": "2s",
    "scenarios.shoppers.load.stages[2].duration": "500ms",
    "scenarios.visitors.start": "500ms",
    "scenarios.visitors.load.stages[0].duration": "500ms",
    "scenarios.visitors.load.stages[1].duration": "2s",
}


def test_two_workers_deal_the_data_rows_and_each_runs_before_once() -> None:
    """The shop example: 20 shoppers, each logging in with its own account row (dealt per
    user), a flow with extraction, ``before`` reading the catalogue, visitors beside."""
    accounts = SHOP_SPEC.parent / "data" / "accounts.csv"
    with running_shop(accounts) as live:
        env = {"SHOP_URL": live.url}
        loaded = api.load_spec(SHOP_SPEC, env=env, overrides=SHORTER)
        verdict = api.run_spec(loaded, workers=2, handle_signals=False)
        stats = live.stats()
    paths = stats["paths"]
    # Every account row went to one user: 20 logins, 20 accounts, none twice.
    assert paths["POST /login"] == verdict.metrics["http.login"].count == 20
    assert len(stats["accounts"]) == 20
    assert stats["unauthorized"] == 0
    assert verdict.metrics["http.create-order"].count == stats["orders"] > 0
    assert verdict.metrics["http.featured-item"].count == paths["GET /items/{sku}"] > 0
    # ``before`` (GET /items, in no metric) ran once in each worker's process.
    assert paths["GET /items"] == verdict.metrics["http.list-items"].count + 2
    assert verdict.status != "error", verdict.message
