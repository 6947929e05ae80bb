"""Positions inside a spec's strings: through quotes, escapes, block scalars, ${VAR}."""

from __future__ import annotations

import json

import yaml
from hypothesis import given
from hypothesis import strategies as st

from sla_runner.spec.interpolate import interpolate_text
from sla_runner.spec.positions import index_of, mark_in_scalar, mark_of, written_offset
from sla_runner.spec.yamlbuild import Mark


def _place(document: str, offset: int | str = "{{") -> str:
    """What the character ``offset`` (or where text ``offset`` starts) of the value of key
    ``v`` is placed at."""
    node = yaml.compose(document)
    assert isinstance(node, yaml.MappingNode)
    value_node = node.value[0][1]
    start = Mark(value_node.start_mark.line + 1, value_node.start_mark.column + 1)
    value = yaml.safe_load(document)["v"]
    offset = value.index(offset) if isinstance(offset, str) else offset
    mark = mark_in_scalar(document, start, value, offset)
    return document[index_of(document, mark) :][:4]


def test_plain_and_quoted_scalars() -> None:
    assert _place("v: /orders/{{ x }}\n") == "{{ x"
    assert _place("v: '/it''s/{{ x }}'\n") == "{{ x"
    assert _place('v: "/a\\"b/{{ x }}"\n') == "{{ x"
    assert _place('v: "\\u0041\\x42{{ x }}"\n') == "{{ x"
    assert _place('v: "\\u0041\\x42{{ x }}"\n', 1) == "\\x42"


def test_block_and_folded_scalars() -> None:
    assert _place("v: |\n  one\n  two {{ x }}\n") == "{{ x"
    assert _place("v: >\n  one\n  two {{ x }}\n") == "{{ x"
    assert _place('v: "one\n  two {{ x }}"\n') == "{{ x"


def test_what_cannot_be_followed_is_placed_at_the_value() -> None:
    start = Mark(1, 4)
    assert mark_in_scalar("v: abc\n", start, "xyz", 1) == start
    assert mark_in_scalar("v: abc\n", start, "abc", 7) == start
    assert mark_in_scalar("v: abc\n", start, "abc", 3) == Mark(1, 7)  # just after the end


@given(st.text(alphabet="ab{} \\\"'\n\t/é$", max_size=20), st.data())
def test_any_double_quoted_value_is_followed_to_the_right_character(
    value: str, data: st.DataObject
) -> None:
    document = "v: " + json.dumps(value) + "\n"
    if not value:
        return
    offset = data.draw(st.integers(0, len(value) - 1))
    node = yaml.compose(document)
    assert isinstance(node, yaml.MappingNode)
    mark = mark_in_scalar(document, Mark(1, 4), value, offset)
    at = index_of(document, mark)
    # The character there, read as JSON text, is the value's character at offset.
    raw = document[at:]
    if raw.startswith("\\"):
        length = {"u": 6}.get(raw[1], 2)
        assert json.loads('"' + raw[:length] + '"') == value[offset]
    else:
        assert raw[0] == value[offset]


def test_marks_and_indices_agree() -> None:
    text = "ab\ncdé\n\nf"
    for i in range(len(text)):
        assert index_of(text, mark_of(text, i)) == i


def test_written_offsets_through_interpolation() -> None:
    env = {"P": "xyz", "Q": ""}
    written = "/a/${P}/b/${Q:-dd}/$${c}/{{ n }}"
    final = interpolate_text(written, env)[0]
    assert final == "/a/xyz/b/dd/${c}/{{ n }}"

    def back(needle: str) -> int | None:
        return written_offset(written, env, final.index(needle))

    assert back("/a/") == written.index("/a/")
    assert back("/b/") == written.index("/b/")
    assert back("y") == written.index("${P}")  # a character the environment gave
    assert back("dd") == written.index("${Q:-dd}")
    assert back("${c}") == written.index("$${c}")
    assert back("{{ n") == written.index("{{ n")
    assert written_offset(written, env, len(final)) == len(written)
    assert written_offset("${NOPE}", {}, 0) is None
