"""JSON paths and JSON-field checks, shared by channels, HTTP expect and extraction."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sla_runner.spec.jsonpath import (
    MISSING,
    JsonFields,
    JsonPathError,
    Step,
    format_path,
    lookup,
    parse_path,
    same_value,
)

DOC = {"data": {"items": [{"id": 7}, {"id": 8}], "0": "zero", "count": 2}, "ok": True}


@pytest.mark.parametrize(
    ("text", "steps"),
    [
        ("ok", ("ok",)),
        ("data.items[0].id", ("data", "items", 0, "id")),
        ("data.items.0.id", ("data", "items", "0", "id")),
        ("[0].name", (0, "name")),
        ("m[1][-1]", ("m", 1, -1)),
        ("access_token", ("access_token",)),
        ("a-b:c d", ("a-b:c d",)),
    ],
)
def test_parse_path(text: str, steps: tuple[Step, ...]) -> None:
    assert parse_path(text) == steps
    assert parse_path(format_path(steps)) == steps


@pytest.mark.parametrize(
    ("text", "offset"),
    [
        ("", 0),
        (".a", 0),
        ("a..b", 2),
        ("a.", 2),
        ("a[x]", 1),
        ("a[0]b", 4),
        ("a]", 1),
        ("a.[0]", 2),
    ],
)
def test_bad_paths_say_where(text: str, offset: int) -> None:
    with pytest.raises(JsonPathError) as caught:
        parse_path(text)
    assert caught.value.offset == offset


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("data.items[1].id", 8),
        ("data.items.1.id", 8),  # digits index a list
        ("data.items[-1].id", 8),
        ("data.0", "zero"),  # and name a key of an object
        ("data.count", 2),
        ("data.items", [{"id": 7}, {"id": 8}]),
        ("data.items[2]", MISSING),
        ("data.items[-3]", MISSING),
        ("data[0]", MISSING),  # [N] indexes lists only
        ("ok.x", MISSING),
        ("nope", MISSING),
    ],
)
def test_lookup(text: str, found: Any) -> None:
    assert lookup(DOC, parse_path(text)) == found


def test_lookup_in_a_top_level_list() -> None:
    assert lookup([{"a": 1}], parse_path("[0].a")) == 1
    assert lookup("text", parse_path("[0]")) is MISSING


def test_booleans_never_equal_numbers_at_any_depth() -> None:
    assert same_value(True, True)
    assert not same_value(1, True)
    assert not same_value(True, 1)
    assert not same_value({"a": [1]}, {"a": [True]})
    assert not same_value([0], [False])
    assert same_value({"a": [1, 2.0]}, {"a": [1.0, 2]})
    assert not same_value({"a": 1}, {"a": 1, "b": 2})


def test_json_fields_check_says_what_failed() -> None:
    fields = JsonFields({"ok": True, "data.count": 2, "data.items[0].id": 7})
    assert fields.check(DOC) is None
    assert fields.check({**DOC, "ok": 1}) == "json ok: expected true, got 1"
    assert fields.check({"ok": True}) == "json data.count: missing"
    long = {"ok": True, "data": {"count": "x" * 100}}
    reason = fields.check(long) or ""
    assert reason.startswith('json data.count: expected 2, got "xxx')
    assert reason.endswith("…")
    assert len(reason) < 80


def test_json_fields_on_raw_messages() -> None:
    match = JsonFields({"data.items.0.id": 7, "ok": True})
    assert match('{"ok": true, "data": {"items": [{"id": 7}]}}')
    assert match(b'{"ok": true, "data": {"items": [{"id": 7}]}}')
    assert not match('{"ok": 1, "data": {"items": [{"id": 7}]}}')
    assert not match("not json")
    assert not match(b"\xff")
    assert not match("[" * 100_000)  # nested beyond the parser


def test_json_fields_bad_path_names_its_field_when_strict() -> None:
    with pytest.raises(JsonPathError) as caught:
        JsonFields({"ok": True, "a..b": 1}, strict=True)
    assert (caught.value.field, caught.value.offset) == ("a..b", 2)


def test_json_fields_read_unparsable_paths_as_channels_always_did() -> None:
    fields = JsonFields({"a..b": 1, "c[x]": 2})  # keys "a", "", "b" and "c[x]"
    assert fields.check({"a": {"": {"b": 1}}, "c[x]": 2}) is None
    assert fields.check({"a": {"b": 1}, "c": {"x": 2}}) == "json a..b: missing"


keys = st.text(alphabet=st.characters(blacklist_characters=".[]"), min_size=1, max_size=5)


@given(st.lists(st.one_of(keys, st.integers(-5, 5)), min_size=1, max_size=6))
def test_format_then_parse_round_trips(steps: list[Step]) -> None:
    text = format_path(tuple(steps))
    assert parse_path(text) == tuple(steps)
