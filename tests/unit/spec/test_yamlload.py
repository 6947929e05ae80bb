"""The YAML layer: PyYAML's traps closed, positions kept, hostile files refused quickly."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from sla_runner.errors import SpecError
from sla_runner.spec.loader import load_spec_v1 as load_spec
from sla_runner.spec.yamlload import MAX_BYTES, MAX_DEPTH, Mark, parse_scalar, parse_yaml

FAST_S = 1.0  # generous: each guard takes a few milliseconds


def issues(text: str) -> list[str]:
    """The problems found: those that stop the reading (raised), or, when the rest of the
    file can still be read, those the document carries for the loader to report."""
    try:
        found = parse_yaml(text, "f.yaml").issues
    except SpecError as exc:
        found = exc.issues
    assert found
    return [i.format("f.yaml") for i in sorted(found)]


def test_core_schema_scalars() -> None:
    doc = parse_yaml(
        "a: on\nb: off\nc: yes\nd: no\ne: y\nf: n\ng: 2024-01-02\nh: 2024-01-02T10:00:00Z\n"
        "i: true\nj: FALSE\nk: 0x1F\nl: 0o17\nm: 1.5\nn: ~\no: .inf\np: 012\nq: 1_000\n",
        "f.yaml",
    )
    assert doc.data == {
        "a": "on",
        "b": "off",
        "c": "yes",
        "d": "no",
        "e": "y",
        "f": "n",
        "g": "2024-01-02",
        "h": "2024-01-02T10:00:00Z",
        "i": True,
        "j": False,
        "k": 31,
        "l": 15,
        "m": 1.5,
        "n": None,
        "o": float("inf"),
        "p": 12,
        "q": "1_000",
    }


def test_positions_of_keys_and_values() -> None:
    doc = parse_yaml("# c\ntarget:\n  timeout: fast\nlist:\n  - x\n  - {k: v}\n", "f.yaml")
    assert doc.keys[("target", "timeout")] == Mark(3, 3)
    assert doc.values[("target", "timeout")] == Mark(3, 12)
    assert doc.values[("list", 1, "k")] == Mark(6, 9)
    assert doc.mark(("list", 1, "k", "deeper")) == Mark(6, 9)
    assert doc.mark(("target", "timeout"), key=True) == Mark(3, 3)


def test_duplicate_keys_name_both_places() -> None:
    assert issues("a: 1\nb:\n  c: 1\n  c: 2\na: 3\n") == [
        "f.yaml:4:3: b.c: duplicate key 'c' (first at line 3, column 3)",
        "f.yaml:5:1: a: duplicate key 'a' (first at line 1, column 1)",
    ]


def test_object_tags_are_refused() -> None:
    assert issues("a: !!python/object/apply:os.system ['ls']\nb: !!binary aGk=\n") == [
        "f.yaml:1:4: a: tag !!python/object/apply:os.system is not allowed; a spec holds "
        "only strings, numbers, true/false, null, lists and mappings",
        "f.yaml:2:4: b: tag !!binary is not allowed; a spec holds only strings, numbers, "
        "true/false, null, lists and mappings",
    ]


def test_explicit_plain_tags() -> None:
    assert parse_yaml("a: !!str 5\nb: !!int '7'\n", "f.yaml").data == {"a": "5", "b": 7}
    assert issues("a: !!int abc\n") == ["f.yaml:1:4: a: cannot read 'abc' as !!int"]


def test_syntax_errors_carry_their_mark() -> None:
    assert issues("a: [1, 2\nb: 3\n") == [
        "f.yaml:2:2: invalid YAML: expected ',' or ']', but got ':' "
        "(while parsing a flow sequence at line 1, column 4)"
    ]
    assert issues("a: *nope\n") == ["f.yaml:1:4: invalid YAML: found undefined alias 'nope'"]
    assert issues("a: 1\n---\nb: 2\n") == [
        "f.yaml:2:1: a spec file holds one YAML document; found a second ('---')"
    ]


def test_unquoted_interpolation_in_flow_gets_a_hint() -> None:
    assert issues("a: {d: ${X}}\n") == [
        "f.yaml:1:9: invalid YAML: expected ',' or '}', but got '{' (while parsing a flow "
        "mapping at line 1, column 4); inside [...] or {...}, quote a value that holds ${...}"
    ]


def test_non_mapping_keys() -> None:
    assert issues("? [a]\n: 1\n") == ["f.yaml:1:3: a mapping key must be a plain string"]


def test_control_characters() -> None:
    assert issues("a: \x07\n") == [
        "f.yaml:1:4: character U+0007 is not allowed in YAML (a control character?)"
    ]


def test_huge_integer() -> None:
    assert issues("a: " + "9" * 5000 + "\n") == [
        "f.yaml:1:4: a: cannot read '9999999999999999999999999999999999999999…' as !!int"
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "f.yaml:1:1: the file is empty; expected a spec"),
        ("# only a comment\n", "f.yaml:1:1: the file is empty; expected a spec"),
        (
            "- a\n- b\n",
            "f.yaml:1:1: a spec must be a mapping of keys (version, name, target, ...), got a list",
        ),
        (
            "hello\n",
            "f.yaml:1:1: a spec must be a mapping of keys (version, name, target, ...), "
            "got a string",
        ),
        (
            "42\n",
            "f.yaml:1:1: a spec must be a mapping of keys (version, name, target, ...), "
            "got a number",
        ),
    ],
)
def test_not_a_spec(text: str, message: str) -> None:
    assert issues(text) == [message]


def test_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_bytes(b"version: 1\n\x00\x01\x02")
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert caught.value.issues[0].format("x.yaml") == (
        "x.yaml:2:1: binary file (it contains NUL bytes); expected YAML text"
    )


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_bytes("name: caf\u00e9\n".encode("latin-1"))
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert caught.value.issues[0].format("x.yaml") == (
        "x.yaml:1:10: not UTF-8 text (byte 0xe9); expected a UTF-8 YAML file"
    )


def test_fifty_megabytes_refused_without_reading_it(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    with path.open("wb") as f:
        f.truncate(50 * 1024 * 1024)  # sparse: 50 MB on paper, nothing written
    start = time.perf_counter()
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert time.perf_counter() - start < FAST_S
    assert caught.value.issues[0].format("big.yaml") == (
        f"big.yaml: file is too large (52,428,800 bytes); a spec may be at most {MAX_BYTES:,} bytes"
    )


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"nope.yaml: cannot read the file: No such file"):
        load_spec(tmp_path / "nope.yaml")
    with pytest.raises(SpecError, match="is a directory, not a spec file"):
        load_spec(tmp_path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: " + "[" * (MAX_DEPTH + 10) + "]" * (MAX_DEPTH + 10), "nesting deeper than 64"),
        ("a: " + "[" * 200_000, "nesting deeper than 64"),
        ("a: " + "{a: " * 100 + "1" + "}" * 100, "nesting deeper than 64"),
        ("a:\n" + "".join("  " * i + "- \n" for i in range(1, 100)), "nesting deeper than 64"),
    ],
)
def test_deep_nesting_is_refused_fast(text: str, message: str) -> None:
    start = time.perf_counter()
    found = issues(text)
    assert time.perf_counter() - start < FAST_S
    assert len(found) == 1
    assert message in found[0]


def test_nesting_at_the_limit_loads() -> None:
    depth = MAX_DEPTH - 1
    doc = parse_yaml("a: " + "[" * depth + "1" + "]" * depth, "f.yaml")
    assert doc.data["a"] is not None


BILLION_LAUGHS = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{n}: &{n} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]\n"
    for p, n in zip("abcdefgh", "bcdefghi", strict=True)
)


def test_billion_laughs_is_refused_fast() -> None:
    start = time.perf_counter()
    found = issues(BILLION_LAUGHS)
    assert time.perf_counter() - start < FAST_S
    assert found == [
        "f.yaml:6:4: f: aliases expand this document to more than 100,000 values; "
        "refusing to load it"
    ]


def test_recursive_alias() -> None:
    assert issues("a: &x [*x]\n") == ["f.yaml:1:4: a[0]: an alias refers to itself"]


def test_modest_aliases_are_fine() -> None:
    doc = parse_yaml("h: &h {A: b}\nx: {headers: *h}\ny: {headers: *h}\n", "f.yaml")
    assert doc.data["x"] == doc.data["y"] == {"headers": {"A": "b"}}
    assert doc.data["x"]["headers"] is not doc.data["y"]["headers"]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("5", 5),
        ("true", True),
        ("on", "on"),
        ("250ms", "250ms"),
        ("'5'", "5"),
        ("", ""),
        ("~", None),
    ],
)
def test_parse_scalar(text: str, value: object) -> None:
    assert parse_scalar(text) == value
