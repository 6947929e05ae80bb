"""Every problem of a file in one round: no error hides another until it is fixed.

A valid spec (BASE) and single mistakes that each break one thing: YAML (a duplicate key,
a refused tag), interpolation, fields (unknown, wrong type, bad unit, out of range, bad
name), model-level checks (an endpoint's path and url, json and body, a process selected
twice, the stages' model, stage names) and cross-references (an endpoint, a metric or a
stage a threshold names, a threshold given twice). Many sit in the same mapping as a field
error, where a check of the whole mapping used to wait for the fields to be fixed.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sla_runner.spec.loader import load_spec_text_v1 as load_spec_text
from tests.unit.spec.rounds import problems, report

BASE = """\
version: 1
name: orders
sla_version: 1.0.0
target:
  base_url: http://127.0.0.1:8000
  timeout: 5s
  verify_tls: true
  process: {port: 8000, interval: 250ms}
endpoints:
  list-items: {method: GET, path: /items}
  create-order: {method: POST, path: /orders, json: {a: 1}, weight: 2}
  health: {path: /health, timeout: 1s}
  search: {path: /search}
channels:
  prices: {url: ws://127.0.0.1:8000/ws, send: ping, interval: 1s}
  feed: {path: /ws/feed, send: hi, expect: {contains: pong}, reconnect: 3}
load:
  stages:
    - {name: hold, duration: 10s, users: 10}
    - {name: steady, duration: 5s, users: 12}
    - {duration: 10s, users: 5}
  think_time: 1s
thresholds:
  - p95(http.list-items) < 200ms
  - success_rate(http) > 99%
  - {expr: p95(http) < 1s, during: hold, severity: warn}
  - p99(http) < 2s
  - p90(http) < 1m30s
  - p50(http) < 100ms
  - max(process.rss) < 512MB
"""

# (what the file said, the mistake): each applies to BASE alone, and any set of them together.
MISTAKES: list[tuple[str, str]] = [
    ("name: orders", "name: my orders"),
    ("sla_version: 1.0.0", 'sla_version: ""'),
    ("  timeout: 5s\n", "  timout: 5s\n"),
    ("verify_tls: true", "verify_tls: maybe"),
    ("{port: 8000, interval", "{port: 8000, pid: 12, interval"),
    ("interval: 250ms}", "interval: fast}"),
    ("method: GET, path", "method: GTE, path"),
    ("path: /items}", "path: items}"),
    ("json: {a: 1}, weight", "json: {a: 1}, body: x, weight"),
    ("weight: 2}", "weight: -1}"),
    ("  search: {", "  search it: {"),
    ("timeout: 1s}", "timeout: '${HEALTH_TIMEOUT}'}"),
    ("url: ws://127.0.0.1", "url: http://127.0.0.1"),
    ("send: ping", "send: !!binary cGluZw=="),
    ("interval: 1s}", "interval: soon}"),
    ("send: hi,", "send: hi, send: ho,"),
    ("expect: {contains: pong}", "expect: {}"),
    ("reconnect: 3}", "reconect: 3}"),
    ("name: steady", "name: hold"),
    ("duration: 5s", "duration: 0s"),
    ("users: 12", "rate: 5/s"),
    ("duration: 10s, users: 5}", "duration: 10, users: 5}"),
    ("think_time: 1s", "think_time: 2s..1s"),
    ("p95(http.list-items)", "p95(http.list-item)"),
    ("success_rate(http) > 99%", "success_rate(http) > 99"),
    ("during: hold", "during: hol"),
    ("severity: warn", "severity: hard"),
    ("p99(http)", "p99(htp)"),
    ("max(process.rss) < 512MB", "p50(http) < 0.1s"),
]

# Every mistake at once: the first round lists every one of these, each at its line:col.
EVERY_ERROR = [
    "s.yaml:2:7: name: expected a name of letters, digits, '-' and '_' (starting with a "
    "letter or digit, at most 63 characters), got 'my orders'",
    "s.yaml:3:14: sla_version: must not be empty",
    "s.yaml:6:3: target.timout: unknown field; expected one of base_url, headers, "
    "timeout, connect_timeout, verify_tls, engine, follow_redirects, allowed_hosts, "
    "process; did you mean timeout?",
    "s.yaml:7:15: target.verify_tls: expected true or false, got 'maybe'",
    "s.yaml:8:12: target.process: give exactly one of port, pid, pid_file, name (got port, pid)",
    "s.yaml:8:44: target.process.interval: expected a duration like 5s, 250ms or 1h30m, got 'fast'",
    "s.yaml:10:24: endpoints.list-items.method: expected one of GET, POST, PUT, PATCH, "
    "DELETE, HEAD, OPTIONS; got 'GTE'; did you mean GET?",
    "s.yaml:10:35: endpoints.list-items.path: must start with '/', got 'items'",
    "s.yaml:11:17: endpoints.create-order: give json or body, not both",
    "s.yaml:11:78: endpoints.create-order.weight: must be above 0, got -1",
    "s.yaml:12:36: endpoints.health.timeout: environment variable HEALTH_TIMEOUT is not "
    "set; set it, or give a default: ${HEALTH_TIMEOUT:-default}",
    "s.yaml:13:3: endpoints.search it: expected a name of letters, digits, '-' and '_' "
    "(starting with a letter or digit, at most 63 characters), got 'search it'",
    "s.yaml:15:17: channels.prices.url: must be a ws:// or wss:// URL, got "
    "'http://127.0.0.1:8000/ws'",
    "s.yaml:15:49: channels.prices.send: tag !!binary is not allowed; a spec holds only "
    "strings, numbers, true/false, null, lists and mappings",
    "s.yaml:15:78: channels.prices.interval: expected a duration like 5s, 250ms or 1h30m,"
    " got 'soon'",
    "s.yaml:16:36: channels.feed.send: duplicate key 'send' (first at line 16, column 26)",
    "s.yaml:16:54: channels.feed.expect: give contains or json",
    "s.yaml:16:58: channels.feed.reconect: unknown field; expected one of path, url, "
    "subprotocols, headers, send, expect, interval, timeout, compression, reconnect; did "
    "you mean reconnect?",
    "s.yaml:18:3: load: stage names must be unique; repeated: hold",
    "s.yaml:18:3: load: stages mix users (closed model) and rate (open model); use one "
    "model per spec",
    "s.yaml:20:30: load.stages[1].duration: must be above 0, got 0s",
    "s.yaml:21:18: load.stages[2].duration: expected a duration written with its unit, "
    "like 5s or 250ms, got 10",
    "s.yaml:22:15: load.think_time: think_time range '2s..1s' runs backwards",
    "s.yaml:24:5: thresholds[0]: http.list-item: no endpoint named 'list-item'; declared:"
    " create-order, health, list-items, search it; did you mean list-items?",
    "s.yaml:25:5: thresholds[1]: success_rate(http) needs a percentage (%): write 99%",
    "s.yaml:26:36: thresholds[2].during: no stage named 'hol'; stages: hold; did you mean hold?",
    "s.yaml:26:51: thresholds[2].severity: expected one of fail, warn; got 'hard'; did "
    "you mean warn?",
    "s.yaml:27:5: thresholds[3]: unknown metric 'htp'; expected one of http, ws, "
    "ws_connect, http.<endpoint>, ws.<channel>, ws_connect.<channel>, process.rss, "
    "process.cpu, users; did you mean http?",
    "s.yaml:30:5: thresholds[6]: p50(http) < 0.1s is already thresholds[5] (p50(http) < "
    "100ms): judge it once",
]

THE_THREE = (
    "endpoints.list-items.path: must start with '/'",
    "load: stages mix users (closed model) and rate (open model)",
    "thresholds[2].during: no stage named 'hol'",
)


def _with(mistakes: list[tuple[str, str]]) -> str:
    text = BASE
    for old, new in mistakes:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


def _load(text: str) -> object:
    return load_spec_text(text, "s.yaml", env={})


def _report(text: str) -> list[str]:
    return report(_load, text)


def _problems(text: str) -> set[tuple[int, str, str]]:
    return problems(_load, text)


def test_the_base_spec_is_valid() -> None:
    assert _report(BASE) == []


def test_every_error_of_every_kind_in_the_first_round() -> None:
    report = _report(_with(MISTAKES))
    assert report == EVERY_ERROR
    for needle in THE_THREE:
        assert any(needle in line for line in report), needle


@pytest.mark.parametrize("mistake", MISTAKES, ids=[new for _old, new in MISTAKES])
def test_each_mistake_alone_is_reported(mistake: tuple[str, str]) -> None:
    alone = _problems(_with([mistake]))
    assert alone
    assert alone <= _problems(_with(MISTAKES))


def test_fixing_any_one_of_all_the_errors_reveals_nothing_new() -> None:
    every = _problems(_with(MISTAKES))
    for i in range(len(MISTAKES)):
        assert _problems(_with(MISTAKES[:i] + MISTAKES[i + 1 :])) <= every, MISTAKES[i]


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.sets(st.sampled_from(range(len(MISTAKES))), min_size=1), st.data())
def test_fixing_one_error_never_reveals_another(chosen: set[int], data: st.DataObject) -> None:
    """For any set of mistakes, fixing one of them leaves a subset of the problems
    reported: nothing the first round did not already list."""
    fixed = data.draw(st.sampled_from(sorted(chosen)))
    before = _problems(_with([MISTAKES[i] for i in sorted(chosen)]))
    after = _problems(_with([MISTAKES[i] for i in sorted(chosen - {fixed})]))
    assert after <= before
