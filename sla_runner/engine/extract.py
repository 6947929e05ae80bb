"""Values taken from a response for a user's later steps, and JSON-field checks on it.

An endpoint's ``extract`` and ``expect.json`` are compiled once into an :class:`Extraction`
(paths split and regexes compiled then, never per response). Per response the engine calls
:meth:`Extraction.apply` with a :class:`Response` (status, headers, the whole body) and the
user's variables; it returns ``None`` when every check held and every value was found
(the values are then stored, all at once), or a :class:`Failure` whose ``reason`` is short
and names the extractor and what was missing. Nothing is stored on a failure.

Extractors (``compile_extractor``; the loader validates the same shapes):

- ``{json: "data.items[0].id"}``: the value at a path in the JSON body (syntax in
  :mod:`sla_runner.spec.jsonpath`), with its JSON type (a number stays a number).
- ``{header: Location}``: the first header of that name (case-insensitive), as text.
- ``{cookie: sid}``: the value a ``Set-Cookie`` of this response gives cookie ``sid`` (the
  last one, as a jar would keep), as text; it need not be kept in any jar.
- ``{regex: "..."}``: a search of the body (decoded as UTF-8, bad bytes replaced); the value
  is group 1, or the whole match when the pattern has no group.
- ``regex`` with ``json``, ``header`` or ``cookie``: the regex searches that value's text
  (``{header: Location, regex: "/orders/(\\d+)"}``).

A JSON body is decoded once per response, shared by every json extractor and check.
:attr:`Extraction.needs_body` says whether the transport must keep the body for it (today's
transports read bodies without keeping them); JSON-field checks fail with ``json ...``
reasons (:class:`sla_runner.spec.jsonpath.JsonFields`, the check channels use).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from sla_runner.engine.cookies import parse_set_cookie
from sla_runner.spec.jsonpath import (
    MISSING,
    JsonFields,
    JsonPathError,
    Step,
    lookup,
    parse_path,
)
from sla_runner.spec.templates import to_text

SOURCES = ("json", "header", "cookie")


class ExtractSpecError(ValueError):
    """An extractor that cannot be compiled (the loader reports these as spec errors)."""


@dataclass(frozen=True, slots=True)
class Response:
    """What extraction looks at: the final response of a request. Header names and values
    are text (HTTP/1.1 bytes decoded as latin-1, as http.client and aiohttp do), in the
    order received, repeated names (``Set-Cookie``) as separate pairs."""

    status: int
    headers: Sequence[tuple[str, str]]
    body: bytes


class ResponseLike(Protocol):
    """What :meth:`Extraction.apply` reads of a response: a :class:`Response`, or a
    transport's kept response (:class:`~sla_runner.engine.http.outcome.Captured`, whose
    headers are decoded only when an extractor reads them)."""

    @property
    def headers(self) -> Sequence[tuple[str, str]]: ...

    @property
    def body(self) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Failure:
    """Why a response failed its step: ``kind`` is ``json_mismatch`` (an ``expect.json``
    check) or ``extract_failed`` (a value was not found); ``reason`` is one short line."""

    kind: Literal["json_mismatch", "extract_failed"]
    reason: str


class _Miss(Exception):
    """Raised inside an extractor; carries the reason (without the extractor's name)."""


# the C scanner json.loads runs after its own checks (typeshed does not declare it)
_SCAN: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def _loads(body: bytes) -> Any:
    """``json.loads(body)``, at half its cost for the common body: UTF-8, one JSON value with
    no white space around it, read by the C scanner alone. Anything else (white space, bytes
    in another encoding or with a BOM, not JSON) is read, or refused, by ``json.loads``
    itself."""
    try:
        text = body.decode()
        value, end = _SCAN(text, 0)
    except (ValueError, StopIteration):  # UnicodeDecodeError too; StopIteration: no value at 0
        return json.loads(body)
    if end != len(text):  # white space or more after the value: json.loads says which
        return json.loads(body)
    return value


class _View:
    """One response, with its body decoded at most once (as JSON and as text)."""

    __slots__ = ("_json", "_text", "response")

    _UNREAD: Any = object()

    def __init__(self, response: ResponseLike) -> None:
        self.response = response
        self._json: Any = self._UNREAD
        self._text: str | None = None

    def json(self) -> Any:
        if self._json is self._UNREAD:
            body = self.response.body
            try:
                self._json = _loads(body) if body else MISSING
            except (ValueError, RecursionError):
                self._json = MISSING
        if self._json is MISSING:
            raise _Miss("body is not JSON")
        return self._json

    def text(self) -> str:
        if self._text is None:
            self._text = self.response.body.decode("utf-8", "replace")
        return self._text

    def header(self, lower_name: str) -> str | None:
        for key, value in self.response.headers:
            if key.lower() == lower_name:
                return value
        return None

    def cookie(self, name: str) -> str | None:
        found = None
        for key, value in self.response.headers:
            if key.lower() == "set-cookie":
                parsed = parse_set_cookie(value)
                if parsed is not None and parsed.name == name:
                    found = parsed.value
        return found


class Extractor:
    """One compiled extractor: ``source`` is ``json``, ``header``, ``cookie`` or ``body``."""

    __slots__ = ("_lower", "_steps", "argument", "key", "name", "regex", "source")

    def __init__(self, name: str, spec: Mapping[str, str]) -> None:
        self.name = name
        unknown = sorted(set(spec) - {*SOURCES, "regex"})
        if unknown:
            raise ExtractSpecError(
                f"unknown key {unknown[0]!r}; expected one of json, header, cookie, regex"
            )
        given = [key for key in SOURCES if key in spec]
        if len(given) > 1 or not (given or "regex" in spec):
            raise ExtractSpecError(
                "give one of json, header or cookie (optionally with regex), or regex alone"
            )
        self.source = given[0] if given else "body"
        self.argument = spec.get(self.source, "")
        self._lower = self.argument.lower()
        self._steps: tuple[Step, ...] = ()
        if self.source == "json":
            try:
                self._steps = parse_path(self.argument)
            except JsonPathError as exc:
                raise ExtractSpecError(exc.message) from None
        # a path of one field name (``access_token``): read from an object at once
        one = self._steps[0] if len(self._steps) == 1 else None
        self.key: str | None = one if isinstance(one, str) else None
        self.regex: re.Pattern[str] | None = None
        if "regex" in spec:
            try:
                self.regex = re.compile(spec["regex"])
            except re.error as exc:
                raise ExtractSpecError(f"bad regex {spec['regex']!r}: {exc}") from None

    @property
    def needs_body(self) -> bool:
        return self.source in ("json", "body")

    def value(self, view: _View) -> Any:
        """The value found, or raises :class:`_Miss`."""
        source = self.source
        if source == "json":
            found = lookup(view.json(), self._steps)
            if found is MISSING:
                raise _Miss(f"json {self.argument} not found")
        elif source == "header":
            found = view.header(self._lower)
            if found is None:
                raise _Miss(f"no {self.argument} header")
        elif source == "cookie":
            found = view.cookie(self.argument)
            if found is None:
                raise _Miss(f"no Set-Cookie for {self.argument}")
        else:
            found = view.text()
        if self.regex is None:
            return found
        match = self.regex.search(to_text(found))
        value = match and (match[1] if self.regex.groups else match[0])
        if value is None:
            raise _Miss(f"regex {self.regex.pattern} found nothing in {self._where()}")
        return value

    def _where(self) -> str:
        """Where the value was looked for, in a failure's reason."""
        if self.source == "json":
            return f"json {self.argument}"
        if self.source == "header":
            return f"the {self.argument} header"
        if self.source == "cookie":
            return f"cookie {self.argument}"
        return "the body"


def compile_extractor(name: str, spec: Mapping[str, str]) -> Extractor:
    """Compile one ``extract`` entry; raises :class:`ExtractSpecError`."""
    return Extractor(name, spec)


class Extraction:
    """An endpoint's ``extract`` mapping and ``expect.json`` checks, compiled once."""

    __slots__ = ("_json_only", "checks", "extractors")

    def __init__(
        self,
        extract: Mapping[str, Mapping[str, str]] | None = None,
        expect_json: Mapping[str, Any] | None = None,
    ) -> None:
        self.extractors = tuple(Extractor(n, spec) for n, spec in (extract or {}).items())
        try:
            self.checks = JsonFields(expect_json, strict=True) if expect_json else None
        except JsonPathError as exc:
            raise ExtractSpecError(f"expect.json {exc.field!r}: {exc.message}") from None
        # the common case, one value read from the JSON body and nothing checked, read
        # without a view (the general path still says why when it finds nothing)
        self._json_only: Extractor | None = None
        if self.checks is None and len(self.extractors) == 1:
            only = self.extractors[0]
            if only.source == "json" and only.regex is None:
                self._json_only = only

    @property
    def needs_body(self) -> bool:
        """Whether the transport must keep the response body for :meth:`apply`."""
        return self.checks is not None or any(e.needs_body for e in self.extractors)

    def apply(self, response: ResponseLike, variables: dict[str, Any]) -> Failure | None:
        """Check ``response`` and store what it yields into ``variables`` (all or nothing)."""
        only = self._json_only
        if only is not None:
            body = response.body
            if body:
                try:
                    value = _loads(body)
                except (ValueError, RecursionError):
                    value = MISSING
                key = only.key
                if key is not None and value.__class__ is dict:  # a top-level field
                    value = value.get(key, MISSING)
                elif value is not MISSING:
                    value = lookup(value, only._steps)
                if value is not MISSING:
                    variables[only.name] = value
                    return None
        view = _View(response)
        if self.checks is not None:
            try:
                reason = self.checks.check(view.json())
            except _Miss as miss:
                reason = f"json: {miss}"
            if reason is not None:
                return Failure("json_mismatch", reason)
        extractors = self.extractors
        if len(extractors) == 1:  # the common case: nothing to hold back until all are found
            extractor = extractors[0]
            try:
                variables[extractor.name] = extractor.value(view)
            except _Miss as miss:
                return Failure("extract_failed", f"extract {extractor.name}: {miss}")
            return None
        found: dict[str, Any] = {}
        for extractor in extractors:
            try:
                found[extractor.name] = extractor.value(view)
            except _Miss as miss:
                return Failure("extract_failed", f"extract {extractor.name}: {miss}")
        variables.update(found)
        return None
