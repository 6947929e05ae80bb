"""{{ name }} templates: syntax, refs, errors with offsets, rendering text and JSON bodies."""

from __future__ import annotations

import json
import random
import re
import uuid
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sla_runner.spec.templated import scan_template
from sla_runner.spec.templates import (
    Ref,
    RenderState,
    TemplateError,
    UnsetValueError,
    escape,
    parse_json_template,
    parse_template,
    to_text,
    uuid4_text,
)


def state(**fields: Any) -> RenderState:
    base: dict[str, Any] = {"user": 7, "rng": random.Random(1), "clock_ms": lambda: 1_700_000}
    return RenderState(**{**base, **fields})


def test_literal_text_renders_as_written() -> None:
    template = parse_template("/items?x=1")
    assert template.is_static
    assert template.refs == ()
    assert template.render(state()) == "/items?x=1"


def test_refs_of_each_kind_with_offsets() -> None:
    text = "{{ token }}/{{accounts.user}}/{{ $user }}/{{ $randint( -2 , 5 ) }}/{{ $uuid }}"
    refs = parse_template(text).refs
    assert refs == (
        Ref("var", "token", offset=3),
        Ref("column", "accounts", "user", offset=14),
        Ref("builtin", "user", offset=33),
        Ref("builtin", "randint", args=(-2, 5), offset=45),
        Ref("builtin", "uuid", offset=70),
    )
    assert [r.text for r in refs] == [
        "token", "accounts.user", "$user", "$randint(-2,5)", "$uuid",
    ]  # fmt: skip


def test_table_and_column_names_may_hold_dashes() -> None:
    (ref,) = parse_template("{{ order-ids.e-mail }}").refs
    assert (ref.kind, ref.name, ref.column) == ("column", "order-ids", "e-mail")


def test_renders_variables_columns_and_builtins() -> None:
    s = state(
        pass_number=3,
        variables={"token": "abc", "n": 42, "ok": True, "doc": {"a": [1, None]}},
        rows={"accounts": {"user": "ann"}},
    )
    text = "{{token}} {{n}} {{ok}} {{doc}} {{accounts.user}} {{$user}} {{$pass}} {{$now_ms}}"
    assert parse_template(text).render(s) == 'abc 42 true {"a":[1,null]} ann 7 3 1700000'


def test_builtins_draw_from_the_states_rng_deterministically() -> None:
    template = parse_template("{{ $randint(1,6) }} {{ $uuid }}")
    first, second = template.render(state()), template.render(state())
    assert first == second  # the same seed gives the same values
    number, text = first.split(" ")
    assert 1 <= int(number) <= 6
    assert uuid.UUID(text).version == 4
    many = state()
    rolls = {int(parse_template("{{ $randint(1,3) }}").render(many)) for _ in range(200)}
    assert rolls == {1, 2, 3}  # both ends are included


def test_uuid4_text_is_a_valid_version_4_uuid() -> None:
    rng = random.Random(5)
    for _ in range(100):
        text = uuid4_text(rng)
        parsed = uuid.UUID(text)
        assert (str(parsed), parsed.version, parsed.variant) == (text, 4, uuid.RFC_4122)


def test_a_value_nothing_set_is_an_error_not_empty_text() -> None:
    with pytest.raises(UnsetValueError, match=r"\{\{ token \}\} is used before any step set it"):
        parse_template("Bearer {{ token }}").render(state())
    with pytest.raises(UnsetValueError, match="no row of table accounts") as caught:
        parse_template("{{ accounts.user }}").render(state())
    assert caught.value.ref == Ref("column", "accounts", "user", offset=3)


def test_quote_percent_encodes_filled_values_only() -> None:
    template = parse_template("/orders/{{ id }}?a=b")
    s = state(variables={"id": "12/3 ?é"})
    assert template.render(s) == "/orders/12/3 ?é?a=b"
    assert template.render(s, quote=True) == "/orders/12%2F3%20%3F%C3%A9?a=b"
    assert template.renderer(quote=True)(s) == "/orders/12%2F3%20%3F%C3%A9?a=b"


@pytest.mark.parametrize(
    ("text", "rendered"),
    [
        ("{{{{", "{{"),
        ("{{{{ token }}", "{{ token }}"),
        ("a {{{{b}} {{ v }}", "a {{b}} x"),
        ('{"a":{"b":1}}', '{"a":{"b":1}}'),
        ("}} alone", "}} alone"),
        ("{{ v }}}", "x}"),
        ("{{v}}{{v}}", "xx"),
        ("pre{{ v }}", "prex"),
        ("{{ v }}post", "xpost"),
        ("a{{v}}b{{v}}c", "axbxc"),
    ],
)
def test_escapes_and_shapes(text: str, rendered: str) -> None:
    assert parse_template(text).render(state(variables={"v": "x"})) == rendered


@pytest.mark.parametrize(
    ("text", "offset", "message"),
    [
        ("abc {{ token", 4, "unclosed '{{'"),
        ("{{ a {{ b }}", 0, "unclosed '{{'"),
        ("x{{ }}", 1 + 3, "empty '{{ }}'"),
        ("{{}}", 2, "empty '{{ }}'"),
        ("{{ 1abc }}", 3, "bad name '1abc'"),
        ("{{ a.b.c }}", 3, "bad name 'a.b.c'"),
        ("{{ a b }}", 3, "bad name 'a b'"),
        ("/p/{{ $foo }}", 6, "unknown built-in $foo"),
        ("{{ $ }}", 3, "unknown built-in $"),
        ("{{ $user() }}", 3, "$user takes no arguments"),
        ("{{ $randint }}", 3, "$randint needs two integers"),
        ("{{ $randint(1) }}", 3, "got (1)"),
        ("{{ $randint(a,b) }}", 3, "$randint needs two integers"),
        ("{{ $randint(1.5,2) }}", 3, "$randint needs two integers"),
        ("{{ $randint(5,1) }}", 3, "a must not be greater than b"),
    ],
)
def test_syntax_errors_point_at_their_offset(text: str, offset: int, message: str) -> None:
    with pytest.raises(TemplateError, match=re.escape(message)) as caught:
        parse_template(text)
    assert caught.value.offset == offset


def test_json_body_keeps_types_of_whole_value_templates() -> None:
    body = parse_json_template(
        {
            "id": "{{ order_id }}",
            "user": "{{ accounts.user }}",
            "n": "{{ $user }}",
            "note": "order {{ order_id }}",
            "tags": ["{{ doc }}", "fixed", 3, None, True],
            "static": {"deep": ["x", {"y": 1}]},
            "{{ order_id }}": "keys are literal",
        }
    )
    s = state(variables={"order_id": 17, "doc": {"a": 1}}, rows={"accounts": {"user": "ann"}})
    assert body.render(s) == {
        "id": 17,
        "user": "ann",
        "n": 7,
        "note": "order 17",
        "tags": [{"a": 1}, "fixed", 3, None, True],
        "static": {"deep": ["x", {"y": 1}]},
        "{{ order_id }}": "keys are literal",
    }
    assert json.loads(body.render_bytes(s)) == body.render(s)
    assert [(path, ref.text) for path, ref in body.placed_refs] == [
        (("id",), "order_id"),
        (("user",), "accounts.user"),
        (("n",), "$user"),
        (("note",), "order_id"),
        (("tags", 0), "doc"),
    ]
    assert not body.is_static


def test_json_body_without_templates_is_static_and_unescaped() -> None:
    body = parse_json_template({"a": ["{{{{ x }}", 1]})
    assert body.is_static
    assert body.render(state()) == {"a": ["{{ x }}", 1]}
    assert body.render_bytes(state()) == b'{"a":["{{ x }}",1]}'


def test_json_body_error_says_where() -> None:
    with pytest.raises(TemplateError) as caught:
        parse_json_template({"items": [{"sku": "ok"}, {"sku": "{{ nope"}]})
    assert (caught.value.path, caught.value.offset) == (("items", 1, "sku"), 0)


def test_to_text() -> None:
    assert [to_text(v) for v in ("s", 3, 1.5, True, False, None, [1, "é"])] == [
        "s", "3", "1.5", "true", "false", "null", '[1,"é"]',
    ]  # fmt: skip


@given(st.text())
def test_escaped_text_renders_back_to_itself(text: str) -> None:
    template = parse_template(escape(text))
    assert template.is_static
    assert template.render(state()) == text


@given(st.text(alphabet="{} ab$.", max_size=12))
def test_any_text_parses_or_fails_with_an_offset_inside_it(text: str) -> None:
    try:
        template = parse_template(text)
    except TemplateError as exc:
        offset = exc.offset
    else:
        offset = 0
        for ref in template.refs:
            assert text[ref.offset :].startswith(ref.text.split("(")[0])
    assert 0 <= offset <= len(text)


def test_scan_finds_every_ref_and_every_error_with_offsets() -> None:
    text = "/a/{{ x }}/{{ }}/{{ $nope }}/{{ t.c }}/{{ a b }}/{{ $uuid }}"
    refs, errors = scan_template(text)
    assert [(r.text, r.offset) for r in refs] == [("x", 6), ("t.c", 32), ("$uuid", 52)]
    assert [(re.split("[:;]", e.message)[0], text[e.offset : e.offset + 3]) for e in errors] == [
        ("empty '{{ }}'", "}}/"),
        ("unknown built-in $nope", "$no"),
        ("bad name 'a b'", "a b"),
    ]
    refs, errors = scan_template("{{ x }} {{{{ y }} {{ z")
    assert [r.text for r in refs] == ["x"]
    assert [e.offset for e in errors] == [18]
    assert scan_template("plain") == ((), ())


@given(st.text(alphabet="{} $ab.()1,", max_size=30))
def test_scan_agrees_with_parse(text: str) -> None:
    """Where parse_template succeeds, the scan finds its refs and no error; where it fails,
    the scan's first error is parse's."""
    refs, errors = scan_template(text)
    if errors:
        with pytest.raises(TemplateError) as caught:
            parse_template(text)
        assert (errors[0].message, errors[0].offset) == (caught.value.message, caught.value.offset)
        return
    assert refs == parse_template(text).refs
