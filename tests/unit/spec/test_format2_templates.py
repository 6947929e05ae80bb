"""Format 2's templates and JSON paths, checked with the line and column of each name."""

from __future__ import annotations

import random

import pytest

from sla_runner.spec.templates import RenderState, parse_template
from tests.unit.spec.helpers2 import SHOP, changed, errors2, load2


def _at(text: str, issue: str) -> str:
    """The text an issue's line:col points at (the next 12 characters)."""
    _, line, col, _ = issue.split(":", 3)
    return text.splitlines()[int(line) - 1][int(col) - 1 :][:12]


def test_a_value_used_before_a_later_step_extracts_it_is_an_error_even_on_the_next_pass() -> None:
    text = changed(SHOP, ("      - list-items\n", "      - get-order\n      - list-items\n"))
    found = errors2(text)
    assert found == [
        "spec.yaml:27:23: endpoints.get-order.path: {{ order_id }}: used before the step that "
        "extracts it; scenarios.shoppers.flow[0] sends get-order, and scenarios.shoppers.flow[2] "
        "(create-order) extracts it later: a value is not available to an earlier step, not "
        "even on the next pass"
    ]
    assert _at(text, found[0]).startswith("order_id }}")


def test_a_value_no_step_before_extracts() -> None:
    assert errors2(changed(SHOP, ("    setup: [login]\n", ""))) == [
        "spec.yaml:21:41: endpoints.create-order.headers.Authorization: {{ token }}: no step "
        "before this use extracts token; scenarios.shoppers.flow[1] sends create-order (login "
        "extracts it: send it in before, or earlier in this scenario)",
        "spec.yaml:28:41: endpoints.get-order.headers.Authorization: {{ token }}: no step "
        "before this use extracts token; scenarios.shoppers.flow[2] sends get-order (login "
        "extracts it: send it in before, or earlier in this scenario)",
    ]


def test_before_extracts_for_every_user() -> None:
    text = changed(
        SHOP,
        ("    setup: [login]\n", ""),
        ("endpoints:\n", "before: [{request: login, think_time: 1s}]\nendpoints:\n"),
        ('{user: "{{ accounts.user }}", password: "{{ accounts.password }}"}', "{user: admin}"),
    )
    loaded = load2(text)
    assert [s.request for s in loaded.spec.before] == ["login"]


def test_unknown_names() -> None:
    text = changed(
        SHOP, ('"/orders/{{ order_id }}"', '"/orders/{{ orderid }}/{{ skus }}/{{ $uuid }}"')
    )
    assert errors2(text) == [
        "spec.yaml:27:23: endpoints.get-order.path: {{ orderid }}: no endpoint extracts "
        "orderid; extracted: order_id, token; did you mean order_id?",
        "spec.yaml:27:37: endpoints.get-order.path: {{ skus }}: skus is a data table; name a "
        "column: {{ skus.sku }}",
    ]


def test_every_syntax_error_of_one_string_at_once() -> None:
    text = changed(
        SHOP,
        (
            '"/orders/{{ order_id }}"',
            '"/orders/{{ }}/{{ $nope }}/{{ a b }}/{{ $randint(5,1) }}/{{ order_id"',
        ),
    )
    found = errors2(text)
    starts = ["empty '{{ }}'", "unknown built-in $nope", "bad name 'a b'", "$randint(5,1)"]
    starts.append("unclosed '{{'")
    assert all(line.split(": ", 2)[2].startswith(s) for line, s in zip(found, starts, strict=True))
    assert [_at(text, line)[:4] for line in found] == ["}}/{", "$nop", "a b ", "$ran", "{{ o"]


def test_tables_and_columns_and_when_their_rows_are_dealt() -> None:
    quoted = changed(
        SHOP,
        (
            '{user: "{{ accounts.user }}", password: "{{ accounts.password }}"}',
            "{user: \"x\\\"y{{ acounts.user }}\", password: 'it''s {{ accounts.pw }}'}",
        ),
    )
    found = errors2(quoted)
    assert found == [
        "spec.yaml:12:26: endpoints.login.json.user: {{ acounts.user }}: no data table named "
        "'acounts'; declared: accounts, skus; did you mean accounts?",
        "spec.yaml:12:64: endpoints.login.json.password: {{ accounts.pw }}: table accounts has "
        "no column 'pw'; columns: user, password",
    ]
    assert [_at(quoted, line)[:8] for line in found] == ["acounts.", "accounts"]
    per_pass = changed(
        SHOP, ("data: {accounts: user, skus: pass}", "data: {accounts: pass, skus: pass}")
    )
    assert errors2(per_pass)[0] == (
        "spec.yaml:12:22: endpoints.login.json.user: {{ accounts.user }}: accounts is dealt per "
        "pass; scenarios.shoppers.setup[0] runs before the first pass: deal it per user (data: "
        "{accounts: user})"
    )


def test_channel_templates_have_what_a_user_holds_for_its_lifetime() -> None:
    text = changed(
        SHOP,
        (
            "send: {op: ping}",
            'send: {op: ping, sku: "{{ skus.sku }}", who: "{{ accounts.user }}", '
            't: "{{ token }}", o: "{{ order_id }}"}',
        ),
    )
    assert errors2(text) == [
        "spec.yaml:30:56: channels.prices.send.sku: {{ skus.sku }}: skus is dealt per pass; "
        "scenarios.shoppers.channels[0] is held for the user's lifetime: deal it per user "
        "(data: {skus: user})",
        "spec.yaml:30:123: channels.prices.send.o: {{ order_id }}: no step before this use "
        "extracts order_id; scenarios.shoppers.channels[0] holds prices (create-order extracts "
        "it: send it in before, or earlier in this scenario)",
    ]


def test_before_runs_outside_any_user() -> None:
    text = changed(
        SHOP,
        ("endpoints:\n", "before: [list-items, login]\nendpoints:\n"),
        (
            "list-items: {path: /items}",
            'list-items: {path: /items, query: {u: "{{ $user }}", p: "{{ $pass }}", '
            'n: "{{ $now_ms }}"}}',
        ),
    )
    assert errors2(text) == [
        "spec.yaml:13:22: endpoints.login.json.user: {{ accounts.user }}: no row is dealt in "
        "before; before[1] runs once per run, outside any user",
        "spec.yaml:13:55: endpoints.login.json.password: {{ accounts.password }}: no row is "
        "dealt in before; before[1] runs once per run, outside any user",
        "spec.yaml:17:45: endpoints.list-items.query.u: {{ $user }}: it has no value in before; "
        "before[0] runs once per run, outside any user",
        "spec.yaml:17:63: endpoints.list-items.query.p: {{ $pass }}: it has no value in before; "
        "before[0] runs once per run, outside any user",
    ]


def test_target_holds_no_templates() -> None:
    text = changed(
        SHOP,
        (
            "target: {base_url: http://127.0.0.1:8000, cookies: true}",
            "target: {base_url: http://127.0.0.1:8000, cookies: true, "
            'headers: {X-A: "{{ token }}"}}',
        ),
    )
    assert errors2(text) == [
        "spec.yaml:4:77: target.headers.X-A: {{ token }}: templates are not filled in "
        "target.headers, which holds for every request of the run; write it on the endpoints"
    ]


def test_checks_hold_no_templates() -> None:
    text = changed(
        SHOP,
        (
            "expect: {status: 201}",
            'expect: {status: 201, json: {sku: "{{ skus.sku }}"}, body_contains: "{{ x }}"}',
        ),
        ("expect: {json: {op: pong}}", 'expect: {contains: "{{ token }}"}'),
    )
    assert errors2(text) == [
        "spec.yaml:25:43: endpoints.create-order.expect.json.sku: {{ skus.sku }}: templates are "
        "not filled in endpoints.create-order.expect, which is compared as written (a check "
        "holds no templates)",
        "spec.yaml:25:77: endpoints.create-order.expect.body_contains: {{ x }}: templates are "
        "not filled in endpoints.create-order.expect, which is compared as written (a check "
        "holds no templates)",
        "spec.yaml:30:71: channels.prices.expect.contains: {{ token }}: templates are not "
        "filled in channels.prices.expect, which is compared as written (a check holds no "
        "templates)",
    ]


def test_json_paths_and_regexes_are_checked_with_offsets() -> None:
    text = changed(
        SHOP,
        (
            "expect: {status: 200, json: {ok: true}}",
            "expect: {status: 200, json: {ok: true, 'a..b': 1, 'c[x]': 2}}",
        ),
        ("expect: {json: {op: pong}}", "expect: {json: {op: pong, 'x.': 1}}"),
        ("token: {json: access_token}", "token: {json: 'data[0', regex: '(unclosed'}"),
    )
    found = errors2(text)
    assert found == [
        "spec.yaml:14:26: endpoints.login.extract.token.json: bad JSON path 'data[0': expected "
        "key[index] segments like items[0]",
        "spec.yaml:14:39: endpoints.login.extract.token.regex: bad regex: missing ), "
        "unterminated subpattern",
        "spec.yaml:15:47: endpoints.login.expect.json.a..b: bad JSON path 'a..b': empty key",
        "spec.yaml:15:57: endpoints.login.expect.json.c[x]: bad JSON path 'c[x]': expected "
        "key[index] segments like items[0]",
        "spec.yaml:30:77: channels.prices.expect.json.x.: bad JSON path 'x.': empty key",
    ]
    assert [_at(text, line)[:3] for line in found] == ["[0'", "(un", ".b'", "[x]", "': "]


def test_extractors_have_one_source() -> None:
    text = changed(
        SHOP,
        (
            "token: {json: access_token}",
            "token: {json: access_token, header: X}\n      other: {}\n"
            "      'bad name': {header: X}\n      t2: {jsn: x}",
        ),
    )
    assert errors2(text) == [
        "spec.yaml:14:14: endpoints.login.extract.token: give one of json, header or cookie "
        "(optionally with regex), or regex",
        "spec.yaml:15:14: endpoints.login.extract.other: give one of json, header or cookie "
        "(optionally with regex), or regex",
        "spec.yaml:16:7: endpoints.login.extract.bad name: expected a variable name of letters, "
        "digits and '_' (not starting with a digit, at most 63 characters), as {{ NAME }} reads "
        "it, got 'bad name'",
        "spec.yaml:17:11: endpoints.login.extract.t2: give one of json, header or cookie "
        "(optionally with regex), or regex",
        "spec.yaml:17:12: endpoints.login.extract.t2.jsn: unknown field; expected one of json, "
        "header, cookie, regex; did you mean json?",
    ]


def test_an_environment_value_is_text_never_a_template() -> None:
    """${VAR} is filled at load time with text that is sent as it is: a {{ in it is escaped
    in the model (and shown as ${VAR} in messages), and a problem after it is placed in the
    string as written."""
    text = changed(SHOP, ('path: "/orders/{{ order_id }}"', 'path: "/orders/${P}/{{ order_id }}"'))
    loaded = load2(text, env={"P": "x{{y"})
    template = parse_template(loaded.spec.endpoints["get-order"].path or "")
    state = RenderState(user=1, rng=random.Random(1), clock_ms=lambda: 0, variables={"order_id": 7})
    assert template.render(state) == "/orders/x{{y/7"
    assert "x{{y" in loaded.secrets
    bad = changed(
        SHOP, ('path: "/orders/{{ order_id }}"', 'path: "/orders/${P}/{{ order_id }}/{{ bad! }}"')
    )
    found = errors2(bad, env={"P": "x{{y"})
    assert found == [
        "spec.yaml:27:43: endpoints.get-order.path: bad name 'bad!': expected a variable "
        "(token), a data column (TABLE.COLUMN) or a built-in ($user, $pass, $uuid, "
        "$randint(a,b), $now_ms)"
    ]
    assert _at(bad, found[0]).startswith("bad! }}")
    leading = changed(SHOP, ('path: "/orders/{{ order_id }}"', 'path: "${P}/{{ order_id }}"'))
    assert errors2(leading, env={"P": "x{{y"}) == [
        "spec.yaml:27:11: endpoints.get-order.path: must start with '/', got '${P}/{{ order_id }}'"
    ]


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ('"/orders/{{ nope }}"', "nope }}"),
        ("'/orders/{{ nope }}'", "nope }}"),
        ("/orders/{{ nope }}", "nope }}"),
        ('"/orders/\\u0041{{ nope }}"', "nope }}"),
    ],
)
def test_a_name_is_placed_in_every_style_of_string(value: str, shown: str) -> None:
    text = changed(SHOP, ('path: "/orders/{{ order_id }}"', f"path: {value}"))
    found = errors2(text)
    assert len(found) == 1
    assert _at(text, found[0]).startswith(shown)


def test_a_name_in_a_block_scalar_is_placed_on_its_line() -> None:
    text = changed(
        SHOP,
        (
            "  list-items: {path: /items}",
            "  list-items:\n    path: /items\n    method: POST\n    body: |\n"
            "      first line\n      second {{ nope }} line",
        ),
    )
    found = errors2(text)
    assert found[0].startswith("spec.yaml:21:17: endpoints.list-items.body: {{ nope }}")
    assert _at(text, found[0]).startswith("nope }}")
