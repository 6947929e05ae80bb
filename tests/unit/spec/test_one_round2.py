"""Format 2: every problem of a file in one round, as format 1 (test_one_round.py).

A valid format-2 spec (BASE) and single mistakes, each breaking one thing: YAML,
interpolation, fields, checks of a whole mapping (a stage's level, a scenario's flow and
mix, a table's file and rows), names across the spec (steps, mixes, channels, tables,
scenarios, stages, flow metrics), templates (names, columns, order of extraction, syntax),
JSON paths and data rows. Fixing any of them never reveals a problem the first round did
not list.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sla_runner.spec.document import load_document_text
from tests.unit.spec.helpers2 import changed
from tests.unit.spec.rounds import problems, report

BASE = """\
version: 2
name: shop
sla_version: 1.0.0
target: {base_url: http://127.0.0.1:8000, cookies: true}
data:
  accounts: {rows: [{user: ann, password: pw}, {user: bob, password: pw2}]}
  skus: {rows: [{sku: A1}, {sku: B2}]}
endpoints:
  login:
    method: POST
    path: /login
    json: {user: "{{ accounts.user }}", password: "{{ accounts.password }}"}
    extract: {token: {json: access_token}}
    expect: {status: 200, json: {ok: true}}
  items: {path: /items, timeout: 1s}
  item: {path: "/items/{{ skus.sku }}"}
  order:
    method: POST
    path: /orders
    headers: {Authorization: "Bearer {{ token }}"}
    json: {sku: "{{ skus.sku }}"}
    extract: {order_id: {header: Location, regex: "(\\\\d+)$"}}
  read:
    path: "/orders/{{ order_id }}"
    headers: {Authorization: "Bearer {{ token }}"}
channels:
  prices: {path: /ws/prices, send: {op: ping}, expect: {json: {op: pong}}}
scenarios:
  shoppers:
    load:
      stages:
        - {name: ramp, duration: 10s, ramp_to: 10}
        - {name: steady, duration: 20s, users: 10}
      think_time: 1s
    data: {accounts: user, skus: pass}
    setup: [login]
    flow: [items, order, read]
    channels: [prices]
  visitors:
    load: {stages: [{name: visit, duration: 30s, rate: 20/s}]}
    mix: {items: 3, item: 1}
    data: {skus: pass}
    setup: []
thresholds:
  - p95(http) < 200ms
  - p95(flow.shoppers) < 2s
  - {expr: users >= 10, scenario: shoppers, during: steady}
  - {expr: p99(http.items) < 300ms, scenario: visitors}
"""

MISTAKES: list[tuple[str, str]] = [
    ("name: shop", "name: my shop"),
    ("cookies: true}", "cookies: maybe}"),
    ("password: pw2}]}", "pasword: pw2}]}"),
    ("skus: {rows: [{sku: A1}, {sku: B2}]}", "skus: {rows: [{sku: A1}], file: s.csv}"),
    ("method: POST\n    path: /login", "method: PST\n    path: /login"),
    ('password: "{{ accounts.password }}"', 'password: "{{ accounts.pw }}"'),
    ("extract: {token: {json: access_token}}", "extract: {token: {json: 'access..token'}}"),
    ("json: {ok: true}", "json: {ok: true}, body_contains: '{{ token }}'"),
    (
        "items: {path: /items, timeout: 1s}",
        'items: {path: /items, timeout: fast, weight: 2, headers: {X: "${NOPE}"}}',
    ),
    ('json: {sku: "{{ skus.sku }}"}', 'json: {sku: "{{ skus.sku }}", n: "{{ $randint(3,1) }}"}'),
    ('"/items/{{ skus.sku }}"', '"/items/{{ skuid }}"'),
    ("send: {op: ping}", "send: {op: ping}, interval: soon"),
    ("expect: {json: {op: pong}}", "expect: {json: {'op.': pong}}"),
    ("ramp_to: 10}", "ramp_to: lots}"),
    ("{name: steady, duration: 20s, users: 10}", "{name: steady, duration: 0s, users: 10}"),
    ("think_time: 1s", "think_time: 2s..1s"),
    ("data: {accounts: user, skus: pass}", "data: {accounts: user, skus: sometimes}"),
    ("setup: [login]", "setup: [logn]"),
    ("flow: [items, order, read]", "flow: [items, read, order]"),
    ("channels: [prices]", "channels: [price]"),
    ("rate: 20/s}]}", "rate: 20/s}], max_in_flight: 0}"),
    ("mix: {items: 3, item: 1}", "mix: {items: 3, itme: 1}"),
    ("    setup: []\n", "    setup: [items]\n"),
    ("p95(http) < 200ms", "p95(http) < 200"),
    ("p95(flow.shoppers)", "p95(flow.visitors)"),
    ("during: steady}", "during: visit}"),
    ("scenario: visitors}", "scenario: vistors}"),
]

THE_THREE = (
    "endpoints.order.json.n: $randint(3,1): a must not be greater than b",
    "endpoints.item.path: {{ skuid }}: no endpoint extracts skuid",
    "scenarios.shoppers.setup[0]: no endpoint named 'logn'",
)


def _with(mistakes: list[tuple[str, str]]) -> str:
    return changed(BASE, *mistakes)


def _load(text: str) -> object:
    return load_document_text(text, "s.yaml", env={})


def _report(text: str) -> list[str]:
    return report(_load, text)


def _problems(text: str) -> set[tuple[int, str, str]]:
    return problems(_load, text)


def test_the_base_spec_is_valid() -> None:
    assert _report(BASE) == []


def test_every_error_of_every_kind_in_the_first_round() -> None:
    report = _report(_with(MISTAKES))
    for needle in THE_THREE:
        assert any(needle in line for line in report), needle
    assert len(report) >= len(MISTAKES)
    for old, new in MISTAKES:
        alone = _problems(_with([(old, new)]))
        assert alone, new


@pytest.mark.parametrize("mistake", MISTAKES, ids=[new for _old, new in MISTAKES])
def test_each_mistake_alone_is_reported(mistake: tuple[str, str]) -> None:
    alone = _problems(_with([mistake]))
    assert alone
    assert alone <= _problems(_with(MISTAKES))


def test_fixing_any_one_of_all_the_errors_reveals_nothing_new() -> None:
    every = _problems(_with(MISTAKES))
    for i in range(len(MISTAKES)):
        assert _problems(_with(MISTAKES[:i] + MISTAKES[i + 1 :])) <= every, MISTAKES[i]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sets(st.sampled_from(range(len(MISTAKES))), min_size=1), st.data())
def test_fixing_one_error_never_reveals_another(chosen: set[int], data: st.DataObject) -> None:
    fixed = data.draw(st.sampled_from(sorted(chosen)))
    before = _problems(_with([MISTAKES[i] for i in sorted(chosen)]))
    after = _problems(_with([MISTAKES[i] for i in sorted(chosen - {fixed})]))
    assert after <= before
