"""The HTTP seam: compiled requests, outcomes, and the transport protocol.

The scheduler compiles each endpoint once (:func:`compile_request`), gives every virtual
user its own :class:`HttpSession` and times ``await session.send(request)`` itself. A
session never raises out of ``send`` except for cancellation: every failure comes back
as a :class:`Result` whose :attr:`Result.key` is the counter it belongs to.

Three transports implement the seam: raw (asyncio + httptools, the default HTTP/1.1 hot
path, measured in bench/RESULTS.md), aiohttp, and httpx (HTTP/2, or when ``target.engine``
asks for it). All follow the same rules, written once here: redirects only to declared
hosts, bodies read fully without being kept, ``body_contains`` found across chunk boundaries.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol
from urllib.parse import unquote, urlencode, urljoin, urlsplit, urlunsplit

from sla_runner._version import __version__
from sla_runner.spec.models import Endpoint, Target

StatusCheck = Callable[[int], bool] | frozenset[int] | None
"""Which statuses count as success: a predicate, a set, or ``None`` for any 2xx or 3xx."""

USER_AGENT = f"sla-runner/{__version__}"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 10


class Outcome(StrEnum):
    """How one request or round trip ended; the values are the counters' keys."""

    OK = "ok"
    STATUS = "status"  # unexpected status; the code is in Result.status, the key is status_<code>
    BODY_MISMATCH = "body_mismatch"
    TIMEOUT = "timeout"
    CONNECT_ERROR = "connect_error"
    RESET = "reset"
    TLS_ERROR = "tls_error"
    PROTOCOL_ERROR = "protocol_error"
    REDIRECT_BLOCKED = "redirect_blocked"
    WS_CLOSED = "ws_closed"
    WS_REFUSED = "ws_refused"
    WS_BAD_REPLY = "ws_bad_reply"
    ERROR = "error"


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
        """A scanner for the body of a final response, when ``body_contains`` must be checked."""
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


@dataclass(slots=True)
class Result:
    """What one request came to. ``detail`` is a short human note for failures."""

    outcome: Outcome
    status: int | None = None
    detail: str = ""

    @property
    def key(self) -> str:
        """The counter key: ``ok``, ``timeout``, … or ``status_<code>`` for an unexpected status."""
        if self.outcome is Outcome.STATUS:
            return f"status_{self.status}"
        return self.outcome.value


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


class HttpSession(Protocol):
    """One client's connections. ``send`` returns a Result and raises only on cancellation."""

    async def send(self, request: HttpRequest) -> Result: ...

    async def aclose(self) -> None: ...


class HttpTransport(Protocol):
    def session(self, *, connections: int) -> HttpSession:
        """A new session with its own pool of up to ``connections`` connections."""
        ...

    def prepare(self, requests: Iterable[HttpRequest]) -> None:
        """Made ready, before the run's clock starts, to send ``requests``."""
        ...


class TransportBase:
    """What every transport holds: the target, whether sessions keep cookies, the redirect
    policy, and the httpx transport that serves ``http2`` endpoints for the HTTP/1.1 ones.

    That httpx transport is made on first use and shared by every session, so its TLS
    contexts (loading the CA bundle takes ~15 ms) are built once per run, not once per user.
    """

    def __init__(self, target: Target, *, cookies: bool = False) -> None:
        self.target = target
        self.cookies = cookies
        self.policy = RedirectPolicy(target)

    def prepare(self, requests: Iterable[HttpRequest]) -> None:
        """Do before the clock starts what the first request would pay for on the loop:
        lazy imports and TLS contexts (httpx: ~100 ms), which would otherwise be measured
        as the service's latency and stall every user at the start of the run."""
        wanted = list(requests)
        if any(r.http2 for r in wanted):
            self.http2.prepare([r for r in wanted if r.http2])
        self._prepare([r for r in wanted if not r.http2])

    def _prepare(self, requests: list[HttpRequest]) -> None:
        """What this transport itself needs for ``requests`` (none of them ``http2``)."""

    @functools.cached_property
    def http2(self) -> HttpTransport:
        from sla_runner.engine.http_httpx import HttpxTransport  # noqa: PLC0415

        return HttpxTransport(self.target, cookies=self.cookies)


def resolve_engine(target: Target, engine: str | None = None, *, cookies: bool = False) -> str:
    """The HTTP/1.1 engine that will send the requests: ``engine``, else the spec's; the raw
    engine keeps no cookie jar, so with ``cookies`` it is aiohttp."""
    chosen = engine or target.engine
    return "aiohttp" if chosen == "raw" and cookies else chosen


def make_transport(
    target: Target, *, engine: str | None = None, cookies: bool = False
) -> HttpTransport:
    """The transport for ``engine`` (default: ``target.engine``): ``raw``, ``aiohttp`` or ``httpx``.

    ``cookies=True`` gives every session a cookie jar, as a browser has; by default none
    is kept (stateless, like wrk and vegeta), which saves work on every request. The raw
    engine keeps no jar, so with cookies it hands over to aiohttp.
    """
    chosen = resolve_engine(target, engine, cookies=cookies)
    if chosen == "raw":
        from sla_runner.engine.http_raw import RawTransport  # noqa: PLC0415

        return RawTransport(target)
    if chosen == "aiohttp":
        from sla_runner.engine.http_aiohttp import AiohttpTransport  # noqa: PLC0415

        return AiohttpTransport(target, cookies=cookies)
    if chosen == "httpx":
        from sla_runner.engine.http_httpx import HttpxTransport  # noqa: PLC0415

        return HttpxTransport(target, cookies=cookies)
    raise ValueError(f"unknown HTTP engine {chosen!r}; expected one of raw, aiohttp, httpx")


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


class RedirectPolicy:
    """Where a redirect may lead: the target's own host, or ``target.allowed_hosts``.

    An entry of ``allowed_hosts`` is a host name (any port) or ``host:port`` (that port).
    """

    __slots__ = ("_hosts", "_netlocs", "follow")

    def __init__(self, target: Target) -> None:
        self.follow = target.follow_redirects
        base = urlsplit(target.base_url)
        self._hosts = {(base.hostname or "").lower()}
        self._netlocs: set[str] = set()
        for given in target.allowed_hosts:
            entry = given.strip().lower()
            with_port = "]:" in entry if entry.startswith("[") else entry.count(":") == 1
            if with_port:
                self._netlocs.add(entry)
            else:
                self._hosts.add(entry.strip("[]"))

    def after(
        self, hop: HttpRequest, status: int, location: str | None
    ) -> HttpRequest | Result | None:
        """Where a response to ``hop`` leads: the next request to send when it is a redirect
        to follow, a Result when the redirect may not be followed, ``None`` when the response
        is the final one."""
        if not (self.follow and location and status in REDIRECT_STATUSES):
            return None
        following = self.next_url(hop.url, location)
        if following is None:
            return Result(Outcome.REDIRECT_BLOCKED, status, f"redirect to {location}")
        if hop.redirects >= MAX_REDIRECTS:
            return Result(Outcome.REDIRECT_BLOCKED, detail=f"more than {MAX_REDIRECTS} redirects")
        method, headers, keep = redirect_hop(status, hop.method, hop.headers, hop.url, following)
        return dataclasses.replace(
            hop,
            method=method,
            url=following,
            headers=headers,
            body=hop.body if keep else None,
            redirects=hop.redirects + 1,
        )

    def next_url(self, current: str, location: str) -> str | None:
        """The absolute URL to follow, or ``None`` when the policy forbids it."""
        url = urljoin(current, location)
        if urlsplit(url).scheme not in ("http", "https"):
            return None
        return url if self.allows(url) else None

    def allows(self, url: str) -> bool:
        """Whether ``url`` (any scheme) is on a host requests may go to."""
        parts = urlsplit(url)
        return (
            parts.hostname or ""
        ).lower() in self._hosts or parts.netloc.lower() in self._netlocs


_CREDENTIALS = frozenset({"authorization", "cookie", "proxy-authorization"})
_BODY_HEADERS = frozenset({"content-type", "content-length", "content-encoding"})


def redirect_hop(
    status: int, method: str, headers: tuple[tuple[str, str], ...], current: str, following: str
) -> tuple[str, tuple[tuple[str, str], ...], bool]:
    """Method, headers and whether to keep the body for the next hop, as browsers do.

    303 (and 301/302 after POST) become GET without a body; credentials are not carried to
    another host, even an allowed one.
    """
    keep_body = True
    if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
        method, keep_body = "GET", False
    same_host = urlsplit(current).netloc.lower() == urlsplit(following).netloc.lower()
    drop = (set() if same_host else _CREDENTIALS) | (set() if keep_body else _BODY_HEADERS)
    if drop:
        headers = tuple((k, v) for k, v in headers if k.lower() not in drop)
    return method, headers, keep_body
