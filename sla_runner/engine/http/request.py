"""A compiled request: everything a transport needs, nothing it must parse again.

:func:`compile_request` turns a spec endpoint into an :class:`HttpRequest` once, before the
run; the request judges the final response it gets (:meth:`HttpRequest.judge`), its body
read through a :class:`BodyScanner` when ``body_contains`` must be found in it.

A request may ask to keep its final response (``capture``, for format 2's extraction):
its headers, and its body (decoded) up to ``capture`` bytes, at most
:data:`MAX_CAPTURED_BODY` (1 MiB), through a :class:`BodyKeeper`; what comes beyond is read
and dropped, and the response is marked ``truncated``. A request made for one send (a
format-2 request rendered for one user) is ``fresh``: the raw transport encodes it each
time instead of caching its bytes; its ``shape`` (a :class:`WireShape`) lets a transport
build such requests' bytes from parts it encodes once. The pieces :func:`compile_request`
is built from (:func:`fixed_fields`, :func:`merge_headers`, :func:`without_credentials`,
:func:`status_check`) serve format 2's rendered requests too.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import unquote, urlencode, urlsplit, urlunsplit

from sla_runner._version import __version__
from sla_runner.engine.http.outcome import Outcome, Result
from sla_runner.spec.models import Endpoint, Expect, Target
from sla_runner.spec.units import Duration

StatusCheck = Callable[[int], bool] | frozenset[int] | None
"""Which statuses count as success: a predicate, a set, or ``None`` for any 2xx or 3xx."""

USER_AGENT = f"sla-runner/{__version__}"
MAX_CAPTURED_BODY = 1 << 20
"""The most of a response body kept for extraction (1 MiB); a longer body fails the step."""


@dataclass(frozen=True, eq=False)
class WireShape:
    """What every request a format-2 maker fills has in common, for a transport that encodes
    requests itself (the raw one builds their bytes from parts encoded once): the method;
    the URL's literal start (``scheme://host``, the literal text of the path and query;
    what is filled in later is percent-encoded); the headers in order, ``None`` for a value
    filled per send (the request's header at that position); the body: bytes (the same
    every send), ``True`` (filled per send) or ``None``. One per endpoint, shared by its
    requests (a transport may key a cache on it)."""

    method: str
    literal_url: str
    headers: tuple[tuple[str, str | None], ...]
    body: bytes | bool | None


@dataclass(slots=True, unsafe_hash=True)
class HttpRequest:
    """One endpoint, compiled: everything a transport needs, nothing it must parse again.

    Immutable by contract (shared by every user; a changed one is a new one, made with
    ``dataclasses.replace``), though not ``frozen``: a format-2 maker makes one per send, and
    a frozen dataclass's ``__init__`` costs nine times as much (1.0 µs against 0.12)."""

    name: str
    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: bytes | None
    timeout_s: float
    expect_status: StatusCheck
    body_contains: bytes | None
    http2: bool = False
    redirects: int = 0
    """How many redirects were followed to reach this request (0: the endpoint's own)."""
    capture: int | None = None
    """Keep the final response (:class:`~sla_runner.engine.http.outcome.Captured`): its
    headers, and its body up to this many bytes (0: headers only). ``None``, the common
    case: keep nothing."""
    fresh: bool = False
    """Made for one send (rendered for one user, or carrying one user's cookies): encoded
    each time, never cached by identity."""
    shape: WireShape | None = None
    """A fresh request's shape, when its maker gives one; whoever changes a request's URL,
    headers or body drops it."""

    def status_ok(self, status: int) -> bool:
        check = self.expect_status
        if check is None:
            return 200 <= status < 400
        if isinstance(check, frozenset):
            return status in check
        return check(status)

    def body_scanner(self, status: int) -> BodyScanner | None:
        """A scanner for the body of a response, when ``body_contains`` must be checked."""
        if self.body_contains is None or not self.status_ok(status):
            return None
        return BodyScanner(self.body_contains)

    def judge(self, status: int, scanner: BodyScanner | None) -> Result:
        """What a final response (one not followed) comes to, its body read through ``scanner``."""
        if not self.status_ok(status):
            return Result(Outcome.STATUS, status)
        if scanner is None or scanner.found:
            return Result(Outcome.OK, status)
        return Result(Outcome.BODY_MISMATCH, status)


class BodyKeeper:
    """Keeps a body fed in chunks, up to ``limit`` bytes (and feeds ``scanner``, if any);
    ``truncated`` once more than that came."""

    __slots__ = ("_chunks", "_room", "scanner", "truncated")

    def __init__(self, limit: int, scanner: BodyScanner | None = None) -> None:
        self._chunks: list[bytes] = []
        self._room = limit
        self.scanner = scanner
        self.truncated = False

    def feed(self, chunk: bytes) -> None:
        if self.scanner is not None:
            self.scanner.feed(chunk)
        if len(chunk) <= self._room:
            self._chunks.append(chunk)
            self._room -= len(chunk)
        elif chunk:
            if self._room:
                self._chunks.append(chunk[: self._room])
                self._room = 0
            self.truncated = True

    @property
    def body(self) -> bytes:
        return b"".join(self._chunks)


class BodyScanner:
    """Looks for ``needle`` in a body fed in chunks, keeping only ``len(needle) - 1`` bytes."""

    __slots__ = ("_keep", "_needle", "_tail", "found")

    def __init__(self, needle: bytes) -> None:
        self._needle = needle
        self._keep = max(len(needle) - 1, 0)
        self._tail = b""
        self.found = not needle

    def feed(self, chunk: bytes) -> None:
        if self.found or not chunk:
            return
        window = self._tail + chunk if self._tail else chunk
        if self._needle in window:
            self.found = True
            self._tail = b""
            return
        self._tail = window[-self._keep :] if self._keep else b""


def compile_request(name: str, endpoint: Endpoint, target: Target) -> HttpRequest:
    """Join base URL and path, encode the query and body, merge headers (endpoint wins),
    turn ``user:password@`` in the URL into Basic auth."""
    url = endpoint.url if endpoint.url is not None else target.base_url + (endpoint.path or "/")
    if endpoint.query:
        url += ("&" if "?" in url else "?") + urlencode(
            {k: query_text(v) for k, v in endpoint.query.items()}
        )
    merged = merge_headers(target.headers, endpoint.headers)
    url, basic = without_credentials(url)
    if basic is not None:
        merged.setdefault("authorization", ("Authorization", basic))
    body: bytes | None = None
    if endpoint.json_body is not None:
        body = json.dumps(endpoint.json_body, separators=(",", ":")).encode()
        merged.setdefault("content-type", JSON_CONTENT_TYPE)
    elif endpoint.body is not None:
        body = endpoint.body.encode()
        merged.setdefault("content-type", TEXT_CONTENT_TYPE)
    headers = tuple(merged.values())
    return HttpRequest(name, endpoint.method, url, headers, body, *fixed_fields(endpoint, target))


class FixedParts(Protocol):
    """What every endpoint model (format 1's and format 2's) gives a request besides its
    URL, headers and body."""

    @property
    def timeout(self) -> Duration | None: ...

    @property
    def expect(self) -> Expect: ...

    @property
    def http2(self) -> bool: ...


class TargetParts(Protocol):
    @property
    def timeout(self) -> Duration: ...


def fixed_fields(
    endpoint: FixedParts, target: TargetParts
) -> tuple[float, StatusCheck, bytes | None, bool]:
    """An endpoint's request fields that no user's values change, in :class:`HttpRequest`'s
    order: the timeout (the endpoint's, else the target's), the statuses that succeed, the
    text the body must contain, HTTP/2."""
    expect = endpoint.expect
    timeout = endpoint.timeout if endpoint.timeout is not None else target.timeout
    contains = expect.body_contains.encode() if expect.body_contains else None
    return timeout.seconds, status_check(expect.status), contains, endpoint.http2


JSON_CONTENT_TYPE = ("Content-Type", "application/json")
TEXT_CONTENT_TYPE = ("Content-Type", "text/plain; charset=utf-8")


def merge_headers(*layers: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """Header layers merged by lower-case name, a later layer's value winning (its name as
    it spells it); in the order each name first appears."""
    merged: dict[str, tuple[str, str]] = {}
    for layer in layers:
        for key, value in layer.items():
            merged[key.lower()] = (key, value)
    return merged


def without_credentials(url: str) -> tuple[str, str | None]:
    """``url`` without a ``user:password@``, and the Basic ``Authorization`` value it makes
    (``None``: the URL carries none). The URL itself keeps no secret."""
    if "@" not in url:
        return url, None
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, None
    # user:password@ in the URL is Basic auth, sent the same way by every transport;
    # an Authorization header the spec sets wins.
    url = urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
    if not (parts.username or parts.password):  # a bare "@" carries none
        return url, None
    pair = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
    return url, "Basic " + base64.b64encode(pair.encode()).decode("ascii")


def status_check(status: int | list[int] | None) -> StatusCheck:
    """An ``expect.status`` as the check :meth:`HttpRequest.status_ok` applies."""
    if status is None:
        return None
    if isinstance(status, int):
        return frozenset({status})
    return frozenset(status)


def query_text(value: str | int | float | bool) -> str:
    """A query value as text: booleans as ``true``/``false``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
