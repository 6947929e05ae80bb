"""Extraction from responses and HTTP JSON-field checks: values, types, failure reasons."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from sla_runner.engine.extract import (
    Extraction,
    ExtractSpecError,
    Failure,
    Response,
    _loads,
    compile_extractor,
)
from sla_runner.engine.http.outcome import Captured

BODY = {"access_token": "tok-1", "data": {"items": [{"id": 7}, {"id": 8}], "count": 2}, "ok": True}
HEADERS = (
    ("Content-Type", "application/json"),
    ("location", "/orders/42?x=1"),
    ("Set-Cookie", "sid=first; Path=/"),
    ("Set-Cookie", "theme=dark"),
    ("set-cookie", "sid=second; HttpOnly"),
)


def response(body: Any = BODY, headers: tuple[tuple[str, str], ...] = HEADERS) -> Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Response(200, headers, raw)


def extract(spec: dict[str, dict[str, str]], resp: Response | None = None) -> dict[str, Any]:
    variables: dict[str, Any] = {}
    assert Extraction(spec).apply(resp or response(), variables) is None
    return variables


def failure(spec: dict[str, dict[str, str]], resp: Response | None = None) -> str:
    variables: dict[str, Any] = {"kept": 1}
    result = Extraction(spec).apply(resp or response(), variables)
    assert isinstance(result, Failure)
    assert result.kind == "extract_failed"
    assert variables == {"kept": 1}  # nothing stored on a failure
    return result.reason


def test_each_source_and_type() -> None:
    assert extract(
        {
            "token": {"json": "access_token"},
            "first": {"json": "data.items[0].id"},
            "items": {"json": "data.items"},
            "where": {"header": "Location"},
            "sid": {"cookie": "sid"},
            "theme": {"cookie": "theme"},
            "order_id": {"header": "LOCATION", "regex": r"/orders/(\d+)"},
            "whole": {"regex": r"tok-\d"},
            "count": {"json": "data.count", "regex": r"(\d)"},
        }
    ) == {
        "token": "tok-1",
        "first": 7,  # a number stays a number
        "items": [{"id": 7}, {"id": 8}],
        "where": "/orders/42?x=1",
        "sid": "second",  # the last Set-Cookie for the name, as a jar keeps it
        "theme": "dark",
        "order_id": "42",  # group 1
        "whole": "tok-1",  # the whole match without groups
        "count": "2",
    }


def test_regex_on_a_body_that_is_not_json() -> None:
    resp = response(b"<a href='/orders/9'>\xff</a>", ())
    assert extract({"id": {"regex": r"/orders/(\d+)"}}, resp) == {"id": "9"}


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ({"json": "data.items[5].id"}, "extract x: json data.items[5].id not found"),
        ({"header": "Retry-After"}, "extract x: no Retry-After header"),
        ({"cookie": "nope"}, "extract x: no Set-Cookie for nope"),
        ({"regex": "zzz"}, "extract x: regex zzz found nothing in the body"),
        (
            {"header": "Location", "regex": r"/carts/(\d+)"},
            r"extract x: regex /carts/(\d+) found nothing in the Location header",
        ),
        ({"regex": "(a)?tok"}, "extract x: regex (a)?tok found nothing in the body"),
    ],
)
def test_what_was_missing_is_said(spec: dict[str, str], reason: str) -> None:
    assert failure({"x": spec}) == reason


def test_json_extraction_from_a_body_that_is_not_json() -> None:
    assert failure({"x": {"json": "a"}}, response(b"<html>")) == "extract x: body is not JSON"
    assert failure({"x": {"json": "a"}}, response(b"")) == "extract x: body is not JSON"


def test_all_or_nothing() -> None:
    spec = {"token": {"json": "access_token"}, "y": {"header": "X-Missing"}}
    assert failure(spec) == "extract y: no X-Missing header"


def test_json_checks_on_http_responses() -> None:
    extraction = Extraction({"token": {"json": "access_token"}}, {"ok": True, "data.count": 2})
    variables: dict[str, Any] = {}
    assert extraction.apply(response(), variables) is None
    assert variables == {"token": "tok-1"}
    bad = extraction.apply(response({**BODY, "ok": False}), variables)
    assert bad == Failure("json_mismatch", "json ok: expected true, got false")
    not_json = extraction.apply(response(b"oops"), {})
    assert not_json == Failure("json_mismatch", "json: body is not JSON")


def test_needs_body() -> None:
    assert not Extraction({"a": {"header": "Location"}, "b": {"cookie": "sid"}}).needs_body
    assert Extraction({"a": {"header": "Location"}, "b": {"regex": "x"}}).needs_body
    assert Extraction({"a": {"json": "id"}}).needs_body
    assert Extraction(None, {"ok": True}).needs_body
    assert not Extraction().needs_body


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({}, "give one of json, header or cookie"),
        ({"json": "a", "header": "b"}, "give one of json, header or cookie"),
        ({"jsn": "a"}, "unknown key 'jsn'"),
        ({"json": "a..b"}, "bad JSON path 'a..b': empty key"),
        ({"regex": "(unclosed"}, "bad regex '(unclosed': missing ), unterminated subpattern"),
    ],
)
def test_bad_extractors(spec: dict[str, str], message: str) -> None:
    with pytest.raises(ExtractSpecError, match=re.escape(message)):
        compile_extractor("x", spec)


def test_bad_check_path() -> None:
    with pytest.raises(ExtractSpecError, match=re.escape("expect.json 'a..b': bad JSON path")):
        Extraction(None, {"a..b": 1})


@pytest.mark.parametrize(
    "raw",
    [
        b'{"access_token": "t\\u00e9"}',
        '{"access_token": "té"}'.encode(),
        '\ufeff{"access_token": "té"}'.encode(),  # a UTF-8 BOM, as json.loads reads it
        '{"access_token": "té"}'.encode("utf-16"),  # another encoding json.loads detects
    ],
)
def test_a_json_body_is_read_as_json_loads_reads_bytes(raw: bytes) -> None:
    assert extract({"token": {"json": "access_token"}}, response(raw)) == {"token": "té"}


def test_a_kept_response_decodes_its_headers_only_when_an_extractor_reads_them() -> None:
    kept = Captured.from_bytes([(b"Location", b"/orders/9"), (b"X-N", b"\xe9")], b"{}")
    assert kept._headers is None  # nothing decoded yet
    assert extract({"n": {"header": "x-n"}}, kept) == {"n": "é"}  # type: ignore[arg-type]
    assert kept.headers == (("Location", "/orders/9"), ("X-N", "é"))


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": 1}',
        b' {"a":1}',
        b'{"a":1}\n',
        b'{"a":1}x',
        b'{"a":1}{"b":2}',
        b"",
        b"nul",
        b'"x"',
        b"1.5e3",
        b"[1,2]",
        b'\xef\xbb\xbf{"a":1}',
        '{"a":"é"}'.encode("utf-16"),
        b'{"a": NaN}',
        b"\xff",
    ],
)
def test_a_body_reads_as_json_loads_reads_it(body: bytes) -> None:
    """The extractors' fast JSON read gives json.loads' value, or refuses what it refuses."""
    try:
        expected: object = json.loads(body)
    except ValueError as exc:
        expected = type(exc)
    try:
        got: object = _loads(body)
    except ValueError as exc:
        got = type(exc)
    assert repr(got) == repr(expected)


@pytest.mark.parametrize(
    "body",
    [
        b'{"access_token":"t","n":1}',
        b'{"n": 1}',  # the field missing
        b'{"access_token": null}',  # null is a value
        b'  {"access_token": [1, 2]}  ',  # white space around: json.loads reads it
        b'["a", "b"]',  # not an object
        b'"access_token"',
        b"not json",
        b"",
        b'{"access_token": 1}{"x": 2}',  # more after the value
        b'\xef\xbb\xbf{"access_token": 1}',  # a BOM
    ],
)
@pytest.mark.parametrize("path", ["access_token", "0", "access_token[1]"])
def test_one_json_value_reads_as_the_general_path_reads_it(body: bytes, path: str) -> None:
    """One JSON extractor and nothing checked (the common step) is read without a view;
    it must give the same value, or the same failure and reason, as the general path of
    several extractors (here the same path twice)."""
    one: dict[str, Any] = {}
    several: dict[str, Any] = {}
    alone = Extraction({"v": {"json": path}}).apply(Response(200, (), body), one)
    paired = Extraction({"v": {"json": path}, "w": {"json": path}}).apply(
        Response(200, (), body), several
    )
    assert alone == paired
    assert one == ({} if paired is not None else {"v": several["v"]})
