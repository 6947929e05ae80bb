"""A valid format-2 spec (the shop of tests/support/shop.py) and helpers that load text."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from sla_runner.errors import SpecError
from sla_runner.spec.document import LoadedDocument, load_document_text

SHOP = """\
version: 2
name: shop
sla_version: 3.0.0
target: {base_url: http://127.0.0.1:8000, cookies: true}
data:
  accounts: {rows: [{user: ann, password: pw-ann}, {user: bob, password: pw-bob}]}
  skus: {rows: [{sku: A1}, {sku: B2}]}
endpoints:
  login:
    method: POST
    path: /login
    json: {user: "{{ accounts.user }}", password: "{{ accounts.password }}"}
    extract:
      token: {json: access_token}
    expect: {status: 200, json: {ok: true}}
  list-items: {path: /items}
  get-item: {path: "/items/{{ skus.sku }}"}
  create-order:
    method: POST
    path: /orders
    headers: {Authorization: "Bearer {{ token }}"}
    json: {sku: "{{ skus.sku }}", qty: 1}
    extract:
      order_id: {header: Location, regex: "/orders/(\\\\d+)"}
    expect: {status: 201}
  get-order:
    path: "/orders/{{ order_id }}"
    headers: {Authorization: "Bearer {{ token }}"}
channels:
  prices: {path: /ws/prices, send: {op: ping}, expect: {json: {op: pong}}}
scenarios:
  shoppers:
    load:
      stages:
        - {name: ramp, duration: 20s, ramp_to: 100}
        - {name: steady, duration: 1m, users: 100}
      think_time: 1s..3s
    data: {accounts: user, skus: pass}
    setup: [login]
    flow:
      - list-items
      - {request: create-order, think_time: 500ms}
      - get-order
    channels: [prices]
  api:
    load: {stages: [{name: api-hold, duration: 1m20s, rate: 200/s}]}
    mix: {list-items: 3, get-item: 1}
    data: {skus: pass}
thresholds:
  - p95(http) < 200ms
  - p95(http.get-order) < 150ms
  - {expr: p95(http) < 100ms, scenario: api}
  - p95(flow.shoppers) < 2s
  - success_rate(flow.shoppers) > 99%
  - {expr: users >= 100, scenario: shoppers, during: steady}
"""


def load2(
    text: str,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, str] | None = None,
    base_dir: Path | None = None,
) -> LoadedDocument:
    return load_document_text(
        text, "spec.yaml", env={} if env is None else env, overrides=overrides, base_dir=base_dir
    )


def errors2(
    text: str,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, str] | None = None,
    base_dir: Path | None = None,
) -> list[str]:
    """The formatted issues of an invalid spec (fails the test if the spec loads)."""
    with pytest.raises(SpecError) as caught:
        load2(text, env, overrides, base_dir)
    return [issue.format("spec.yaml") for issue in caught.value.issues]


def changed(text: str, *edits: tuple[str, str]) -> str:
    """``text`` with each (old, new) replaced; each old must occur exactly once."""
    for old, new in edits:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text
