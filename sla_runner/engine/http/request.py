"""A compiled request: everything a transport needs, nothing it must parse again.

:func:`compile_request` turns a spec endpoint into an :class:`HttpRequest` once, before the
run; the request judges the final response it gets (:meth:`HttpRequest.judge`), its body
read through a :class:`BodyScanner` when ``body_contains`` must be found in it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlencode, urlsplit, urlunsplit

from sla_runner._version import __version__
from sla_runner.engine.http.outcome import Outcome, Result
from sla_runner.spec.models import Endpoint, Target

StatusCheck = Callable[[int], bool] | frozenset[int] | None
"""Which statuses count as success: a predicate, a set, or ``None`` for any 2xx or 3xx."""

USER_AGENT = f"sla-runner/{__version__}"


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """One endpoint, compiled: everything a transport needs, nothing it must parse again."""

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
            {k: _query_text(v) for k, v in endpoint.query.items()}
        )
    merged: dict[str, tuple[str, str]] = {}
    for key, value in [*target.headers.items(), *endpoint.headers.items()]:
        merged[key.lower()] = (key, value)
    parts = urlsplit(url)
    if "@" in parts.netloc:
        # user:password@ in the URL is Basic auth, sent the same way by every transport;
        # an Authorization header the spec sets wins. The URL itself keeps no secret.
        url = urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
        if parts.username or parts.password:  # a bare "@" carries none
            pair = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
            basic = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
            merged.setdefault("authorization", ("Authorization", basic))
    body: bytes | None = None
    if endpoint.json_body is not None:
        body = json.dumps(endpoint.json_body, separators=(",", ":")).encode()
        merged.setdefault("content-type", ("Content-Type", "application/json"))
    elif endpoint.body is not None:
        body = endpoint.body.encode()
        merged.setdefault("content-type", ("Content-Type", "text/plain; charset=utf-8"))
    expect = endpoint.expect
    status: StatusCheck
    if expect.status is None:
        status = None
    elif isinstance(expect.status, int):
        status = frozenset({expect.status})
    else:
        status = frozenset(expect.status)
    timeout = endpoint.timeout if endpoint.timeout is not None else target.timeout
    return HttpRequest(
        name=name,
        method=endpoint.method,
        url=url,
        headers=tuple(merged.values()),
        body=body,
        timeout_s=timeout.seconds,
        expect_status=status,
        body_contains=expect.body_contains.encode() if expect.body_contains else None,
        http2=endpoint.http2,
    )


def _query_text(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
