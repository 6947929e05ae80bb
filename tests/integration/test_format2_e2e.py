"""Format 2 end to end against the shop, which requires the login's token, creates orders
and counts everything server-side: the runner's counts equal the server's, no request
carries an unfilled template, every account row is used by exactly one user, an open
scenario delivers its arrivals while a closed one holds WebSocket users, and a failing
step is named in the findings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sla_runner import api
from sla_runner.verdict import Verdict
from tests.support.shop import LiveShop, running_shop

pytestmark = pytest.mark.load

USERS = 6
ACCOUNTS = [(f"user-{i:02d}", f"pw-{i:02d}") for i in range(USERS)]


@pytest.fixture(scope="module")
def accounts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("shop") / "accounts.csv"
    path.write_text("user,password\n" + "".join(f"{u},{p}\n" for u, p in ACCOUNTS))
    return path


@pytest.fixture(scope="module")
def shop(accounts: Path) -> Iterator[LiveShop]:
    with running_shop(accounts) as live:
        yield live


SPEC = """
version: 2
name: shop-e2e
sla_version: 1.0.0
target: {{base_url: "{url}", timeout: 2s, cookies: true}}
data:
  accounts: {{file: accounts.csv, unique: true}}
  skus: {{rows: [{{sku: A1}}, {{sku: B2}}, {{sku: C3}}]}}
before: [catalog]
endpoints:
  catalog:
    path: /items
    extract: {{first_sku: {{json: "items[0].sku"}}}}
  login:
    method: POST
    path: /login
    json: {{user: "{{{{ accounts.user }}}}", password: "{{{{ accounts.password }}}}"}}
    extract: {{token: {{json: access_token}}}}
    expect: {{status: 200, json: {{ok: true}}}}
  list-items: {{path: /items}}
  featured-item: {{path: "/items/{{{{ first_sku }}}}"}}
  create-order:
    method: POST
    path: /orders
    headers: {{Authorization: "Bearer {{{{ token }}}}"}}
    json: {{sku: "{{{{ skus.sku }}}}", qty: 1}}
    extract: {{order_id: {{header: Location, regex: "/orders/(\\\\d+)"}}}}
    expect: {{status: 201}}
  get-order:
    path: "/orders/{{{{ order_id }}}}"
    headers: {{Authorization: "Bearer {{{{ token }}}}"}}
    expect: {{status: 200, json: {{qty: {qty}}}}}
  whoami: {{path: /whoami}}
channels:
  prices: {{path: /ws/prices, send: {{op: ping}}, expect: {{json: {{op: pong}}}}, interval: 200ms}}
scenarios:
  shoppers:
    load:
      stages: [{{name: steady, duration: 3s, users: {users}}}]
      think_time: 20ms
    data: {{accounts: user, skus: pass}}
    setup: [login]
    flow: [list-items, {{request: create-order, think_time: 10ms}}, get-order, whoami]
    channels: [prices]
  visitors:
    start: 500ms
    load: {{stages: [{{name: browse, duration: 2s, rate: 50/s}}]}}
    mix: {{list-items: 1, featured-item: 1}}
thresholds:
  - {{expr: success_rate(flow.shoppers) > 99%}}
  - {{expr: count(http) >= 100, scenario: visitors}}
  - {{expr: users >= {users}, scenario: shoppers}}
"""


def run(shop: LiveShop, accounts: Path, *, qty: int = 1, users: int = USERS) -> Verdict:
    shop.reset()
    text = SPEC.format(url=shop.url, qty=qty, users=users)
    loaded = api.load_spec_text(text, str(accounts.parent / "shop.yaml"))
    return api.run_spec(loaded, handle_signals=False)


def count(verdict: Verdict, metric: str) -> int:
    summary = verdict.metrics.get(metric)
    return 0 if summary is None else summary.count


def test_the_runner_counts_what_the_shop_counts(shop: LiveShop, accounts: Path) -> None:
    verdict = run(shop, accounts)
    stats = shop.stats()
    paths = stats["paths"]
    assert verdict.status == "pass", [t.message for t in verdict.thresholds]
    assert stats["unfilled_templates"] == 0, stats.get("unfilled_samples")
    assert stats["unauthorized"] == 0
    # Every account row went to exactly one user, who logged in once (setup).
    assert stats["accounts"] == {
        u: {"logins": 1, "orders": n["orders"]} for u, n in stats["accounts"].items()
    }
    assert sorted(stats["accounts"]) == [u for u, _ in ACCOUNTS]
    assert count(verdict, "http.login") == paths["POST /login"] == USERS
    assert count(verdict, "http.create-order") == paths["POST /orders"] == stats["orders"]
    assert count(verdict, "http.get-order") == paths["GET /orders/{id}"]
    assert count(verdict, "http.whoami") == paths["GET /whoami"]
    # before's catalog is sent once, outside every metric.
    assert count(verdict, "http.list-items") + 1 == paths["GET /items"]
    assert count(verdict, "http.featured-item") == paths["GET /items/{sku}"]
    # Each pass ran its four steps; a pass is counted when it ran through.
    passes = count(verdict, "flow.shoppers")
    assert passes == count(verdict, "http.whoami") > USERS
    assert verdict.metrics["flow.shoppers"].errors == {}
    # The open scenario delivered its 100 arrivals beside the users holding the channel.
    assert verdict.scenarios["visitors"]["http"].count == 100
    assert verdict.scenario_models == {"shoppers": "closed", "visitors": "open"}
    assert count(verdict, "ws.prices") == stats["ws_messages"] > 0
    held = verdict.scenarios["shoppers"]["users"].values
    assert held is not None
    assert held.max == USERS


def test_a_failing_step_ends_the_pass_and_is_named(shop: LiveShop, accounts: Path) -> None:
    verdict = run(shop, accounts, qty=2)  # the shop's orders hold qty 1
    flow = verdict.metrics["flow.shoppers"]
    assert set(flow.errors) == {"get-order:json_mismatch"}
    assert flow.errors["get-order:json_mismatch"] == flow.count  # every pass failed there
    assert count(verdict, "http.whoami") == shop.stats()["paths"].get("GET /whoami", 0) == 0
    assert verdict.status == "fail"
    assert any("at step get-order" in f for f in verdict.findings), verdict.findings


def test_a_unique_table_that_runs_out_stops_new_users(shop: LiveShop, accounts: Path) -> None:
    verdict = run(shop, accounts, users=USERS + 2)
    stats = shop.stats()
    assert sorted(stats["accounts"]) == [u for u, _ in ACCOUNTS]
    assert all(a["logins"] == 1 for a in stats["accounts"].values())
    assert count(verdict, "http.login") == USERS
    assert any("unique" in note and "2" in note for note in verdict.notes), verdict.notes


def test_a_failing_before_step_stops_the_run_before_any_load(
    shop: LiveShop, accounts: Path
) -> None:
    shop.reset()
    text = f"""
version: 2
name: before-fails
sla_version: 1.0.0
target: {{base_url: "{shop.url}", timeout: 2s}}
before: [admin-login]
endpoints:
  admin-login:
    method: POST
    path: /login
    json: {{user: admin, password: wrong}}
    extract: {{token: {{json: access_token}}}}
    expect: {{status: 200}}
  list-items: {{path: /items, headers: {{Authorization: "Bearer {{{{ token }}}}"}}}}
scenarios:
  api:
    load: {{stages: [{{duration: 1s, rate: 10/s}}]}}
    mix: {{list-items: 1}}
thresholds: [p95(http) < 1s]
"""
    loaded = api.load_spec_text(text, str(accounts.parent / "before.yaml"))
    verdict = api.run_spec(loaded, handle_signals=False)
    assert (verdict.status, verdict.exit_code) == ("error", 3)
    assert verdict.message is not None
    assert verdict.message.startswith("before[0] (admin-login) failed: POST ")
    assert "401" in verdict.message
    assert shop.stats()["paths"] == {"POST /login": 1}  # no load was sent
