"""A channel whose URL, headers and message are templates, filled per user against the shop's
``/ws/feed`` (which checks what it receives): each user connects after its setup with its
own login's token on the query and its account in a header, and every message is filled
per send (``$now_ms`` never going back, ``$uuid`` never repeated, the account's name)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sla_runner import api
from sla_runner.errors import SpecError
from sla_runner.verdict import Verdict
from tests.support.shop import LiveShop, running_shop

pytestmark = pytest.mark.load

ACCOUNTS = [("ann", "pw-ann"), ("bob", "pw-bob"), ("cy", "pw-cy")]

SPEC = """
version: 2
name: channel-templates
sla_version: 1.0.0
target: {{base_url: "{url}", timeout: 2s}}
data:
  accounts: {{rows: [{rows}], unique: true}}
endpoints:
  login:
    method: POST
    path: /login
    json: {{user: "{{{{ accounts.user }}}}", password: "{{{{ accounts.password }}}}"}}
    extract: {{token: {{json: access_token}}}}
    expect: {{status: 200}}
  list-items: {{path: /items}}
channels:
  feed:
    path: "/ws/feed?token={{{{ token }}}}"
    headers: {{X-Account: "{{{{ accounts.user }}}}"}}
    send: {{user: "{{{{ accounts.user }}}}", at: "{{{{ $now_ms }}}}", id: "{{{{ $uuid }}}}"}}
    expect: {{json: {{op: pong}}}}
    interval: 50ms
scenarios:
  holders:
    load:
      stages: [{{name: hold, duration: 1500ms, users: 3}}]
      think_time: 200ms
    data: {{accounts: user}}
    setup: [login]
    flow: [list-items]
    channels: [feed]
thresholds:
  - success_rate(ws) > 99%
  - success_rate(ws_connect) > 99%
"""


@pytest.fixture(scope="module")
def shop() -> Iterator[LiveShop]:
    with running_shop(ACCOUNTS) as live:
        yield live


def run(shop: LiveShop) -> Verdict:
    shop.reset()
    rows = ", ".join(f"{{user: {u}, password: {p}}}" for u, p in ACCOUNTS)
    loaded = api.load_spec_text(SPEC.format(url=shop.url, rows=rows), "channels.yaml")
    return api.run_spec(loaded, handle_signals=False)


def test_each_user_opens_its_channel_with_its_own_values_and_fills_every_message(
    shop: LiveShop,
) -> None:
    verdict = run(shop)
    stats = shop.stats()
    assert stats["unauthorized"] == 0, "every connect carried a token a login gave"
    assert stats["unfilled_templates"] == 0
    for user, _ in ACCOUNTS:
        counts = stats["accounts"][user]
        assert counts["logins"] == 1
        assert counts["ws_connects"] == 1, f"{user} connected once, with its own token"
        assert "ws_wrong_header" not in counts, f"{user}'s header named its own account"
        assert "ws_wrong" not in counts, "every message was filled for its user, per send"
        assert counts["ws_pings"] >= 5
    pings = sum(stats["accounts"][u]["ws_pings"] for u, _ in ACCOUNTS)
    assert verdict.metrics["ws.feed"].count == pings == stats["ws_messages"]
    assert verdict.metrics["ws_connect.feed"].count == len(ACCOUNTS)
    assert verdict.status == "pass", verdict.status


def test_a_channel_value_no_step_extracts_before_it_opens_is_a_spec_error() -> None:
    text = SPEC.replace("    setup: [login]\n    flow: [list-items]", "    flow: [login]")
    rows = ", ".join(f"{{user: {u}, password: {p}}}" for u, p in ACCOUNTS)
    with pytest.raises(SpecError) as caught:
        api.load_spec_text(text.format(url="http://127.0.0.1:1", rows=rows), "channels.yaml")
    assert "{{ token }}: no step before this use extracts token" in str(caught.value)
