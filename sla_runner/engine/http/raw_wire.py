"""The raw transport's wire: requests serialised once, one keep-alive connection as a Protocol.

A :class:`Connection` carries one exchange at a time. ``start`` writes the request and
returns a future that resolves to the status code once the whole response has been read
(the body parsed by httptools' llhttp and discarded, or scanned for ``body_contains``, or
kept up to a limit when the caller asked: :meth:`Connection.captured`), or to a
:class:`Result` when the exchange failed; the connection is then closed and never
reused. One lazily re-armed timer per connection enforces the request's deadline, so the
hot path schedules no timer of its own.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import string
import zlib
from collections.abc import Sequence
from typing import NamedTuple, cast
from urllib.parse import quote, urlsplit

from httptools import HttpParserError, HttpParserUpgrade, HttpResponseParser

from sla_runner.engine.http.outcome import Captured, Outcome, Result, failure
from sla_runner.engine.http.request import USER_AGENT, BodyKeeper, BodyScanner, WireShape

__all__ = ["Connection", "Origin", "Wire", "WirePlan", "encode", "wire_plan"]

Origin = tuple[str, str, int]
"""Scheme, host, port: the connections of a session are pooled by origin."""

_SAFE_TARGET = "!#$%&'()*+,/:;=?@[]~"
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_CHUNK = 65536


class Wire(NamedTuple):
    """One request as bytes on the wire, and where it goes (a tuple: made per filled
    request, it costs a third of a frozen dataclass)."""

    origin: Origin
    data: bytes
    head: bool


# A Wire made without NamedTuple's Python ``__new__`` (a frame less per filled request)
_wire = tuple.__new__


def encode(method: str, url: str, headers: tuple[tuple[str, str], ...], body: bytes | None) -> Wire:
    """Request line, Host, User-Agent, Accept (unless the spec sets them), the spec's headers,
    Content-Length and the body. Raises ValueError for a URL or header that cannot be sent.

    A URL's ``scheme://authority`` is parsed once (:func:`_origin`, cached by its text): a
    request rendered per user (format 2) shares its origin with every other, and only the
    path and query after it change."""
    split = _AUTHORITY.match(url)
    if split is None or "\t" in url or "\r" in url or "\n" in url:
        origin, host_line, path = _slow_split(url)
    else:
        prefix = split.group()
        known = _ORIGINS.get(prefix)
        if known is None:  # parsed once from the whole URL (an error names all of it)
            known = _ORIGINS[prefix] = _slow_split(url)[:2]
            if len(_ORIGINS) > _CACHED_ORIGINS:
                _ORIGINS.clear()
        origin, host_line = known
        path, _, query = url[split.end() :].partition("#")[0].partition("?")
        path = path or "/"
        if query:
            path += "?" + query
    target = path if not path.rstrip(_TARGET_CHARS) else quote(path, safe=_SAFE_TARGET)
    lines = [f"{method} {target} HTTP/1.1"]
    names = {name.lower() for name, _ in headers}
    if "host" not in names:
        lines.append(host_line)
    if "user-agent" not in names:
        lines.append(_USER_AGENT_LINE)
    if "accept" not in names:
        lines.append("Accept: */*")
    for name, value in headers:
        if not name or ":" in name or _UNSENDABLE.search(name) or _UNSENDABLE.search(value):
            raise ValueError(f"header {name!r} cannot be sent as given")
        lines.append(f"{name}: {value}")
    if "content-length" not in names:
        if body is not None:
            lines.append(f"Content-Length: {len(body)}")
        elif method in _BODY_METHODS:
            lines.append("Content-Length: 0")
    lines.append("\r\n")
    data = "\r\n".join(lines).encode()
    return _wire(Wire, (origin, data + body if body else data, method == "HEAD"))


# ``scheme://authority`` at the start of a URL, as urlsplit reads them (a valid scheme, the
# authority up to the first "/", "?" or "#"); a URL it does not match takes urlsplit's path.
_AUTHORITY = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*")
_UNSENDABLE = re.compile("[\r\n\0]")
_TARGET_CHARS = string.ascii_letters + string.digits + "_.-~" + _SAFE_TARGET
_USER_AGENT_LINE = f"User-Agent: {USER_AGENT}"
_ORIGINS: dict[str, tuple[Origin, str]] = {}
_CACHED_ORIGINS = 256


def _slow_split(url: str) -> tuple[Origin, str, str]:
    """The origin, Host line and request path (with its query) of ``url``, by urlsplit."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ValueError(f"unsupported URL scheme in {url!r}")
    host = parts.hostname
    if not host:
        raise ValueError(f"no host in {url!r}")
    default = 443 if scheme == "https" else 80
    port = parts.port or default
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    # IDNA: the form DNS and TLS use; UnicodeError (a ValueError) for a host that has none
    shown = f"[{host}]" if ":" in host else host.encode("idna").decode("ascii")
    host_line = f"Host: {shown}" if port == default else f"Host: {shown}:{port}"
    return (scheme, shown.strip("[]"), port), host_line, path


class WirePlan:
    """A filled request's bytes from parts encoded once (:func:`wire_plan`): per send only the
    URL's path and query, the filled header values and a filled body's length are encoded.
    :meth:`wire` gives exactly what :func:`encode` gives for the same request."""

    __slots__ = (
        "_body",
        "_cut",
        "_head",
        "_length",
        "_lines",
        "_start",
        "_static_body",
        "_tail",
        "origin",
    )

    def __init__(
        self,
        origin: Origin,
        cut: int,
        start: str,
        lines: tuple[tuple[str, int], ...],
        tail: str,
        body: tuple[bool, bool, bytes],
        head: bool,
    ) -> None:
        self.origin, self._cut, self._start, self._lines = origin, cut, start, lines
        self._tail, self._head = tail, head
        # a body filled per send; its length too; a body the same for every send
        self._body, self._length, self._static_body = body

    def wire(self, url: str, headers: Sequence[tuple[str, str]], body: bytes | None) -> Wire:
        """The bytes of a request to ``url`` (on the plan's origin, its path and query made
        safe by the maker) with ``headers`` (the values at the plan's filled positions are
        read; a maker has refused line breaks and NUL in them) and ``body``."""
        text = [self._start, url[self._cut :] or "/"]  # text, encoded once (UTF-8)
        for literal, at in self._lines:
            text.append(literal)
            text.append(headers[at][1])
        text.append(self._tail)
        if self._length:
            text.append(f"Content-Length: {len(body) if body is not None else 0}\r\n\r\n")
        data = "".join(text).encode()
        if self._static_body:
            data += self._static_body
        elif body and self._body:
            data += body
        return _wire(Wire, (self.origin, data, self._head))


def wire_plan(shape: WireShape) -> WirePlan | None:
    """How to encode the requests of ``shape`` (see
    :class:`~sla_runner.engine.http.request.WireShape`). ``None`` when they are not ones the
    plan can encode exactly as :func:`encode` would (a URL :func:`encode` must parse, quote
    or refuse; a header it refuses): then :func:`encode` runs per send, and says what is
    wrong."""
    method, literal_url, headers, body = shape.method, shape.literal_url, shape.headers, shape.body
    split = _AUTHORITY.match(literal_url)
    if split is None or any(c in literal_url for c in "\t\r\n#"):
        return None
    rest = literal_url[split.end() :]
    if not rest.startswith("/") or rest.rstrip(_TARGET_CHARS):
        return None
    try:
        origin, host_line, _ = _slow_split(literal_url)
    except ValueError:
        return None
    names = {name.lower() for name, _ in headers}
    text = " HTTP/1.1\r\n"
    if "host" not in names:
        text += host_line + "\r\n"
    if "user-agent" not in names:
        text += _USER_AGENT_LINE + "\r\n"
    if "accept" not in names:
        text += "Accept: */*\r\n"
    filled: list[tuple[str, int]] = []
    for at, (name, value) in enumerate(headers):
        if not name or ":" in name or _UNSENDABLE.search(name):
            return None
        if value is None:
            filled.append((text + f"{name}: ", at))
            text = "\r\n"
            continue
        if _UNSENDABLE.search(value):
            return None
        text += f"{name}: {value}\r\n"
    length = False
    if "content-length" not in names:
        if body is True:
            length = True
        elif isinstance(body, bytes):
            text += f"Content-Length: {len(body)}\r\n"
        elif method in _BODY_METHODS:
            text += "Content-Length: 0\r\n"
    if not length:
        text += "\r\n"
    static_body = body if isinstance(body, bytes) else b""
    dynamic = (body is True, length, static_body)
    return WirePlan(
        origin, split.end(), f"{method} ", tuple(filled), text, dynamic, method == "HEAD"
    )


class _Decoder:
    """gzip or deflate, decoded in bounded pieces only because ``body_contains`` looks inside
    (or the body is kept for extraction).

    ``deflate`` is meant to be zlib-wrapped, but some servers send it raw: the first two
    bytes decide (a zlib header is a deflate method nibble and a multiple of 31), so they
    are held back until both have arrived.
    """

    __slots__ = ("_held", "_inner", "_scanner")

    def __init__(self, encoding: bytes, scanner: BodyScanner | BodyKeeper) -> None:
        self._scanner = scanner
        gzip = encoding in {b"gzip", b"x-gzip"}
        self._inner = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzip else None
        self._held = b""

    def feed(self, chunk: bytes) -> None:
        inner = self._inner
        if inner is None:
            held = self._held = self._held + chunk
            if len(held) < 2:
                return
            wrapped = held[0] & 0x0F == 8 and (held[0] << 8 | held[1]) % 31 == 0
            inner = self._inner = zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
            chunk, self._held = held, b""
        self._scanner.feed(inner.decompress(chunk, _CHUNK))
        while inner.unconsumed_tail:
            self._scanner.feed(inner.decompress(inner.unconsumed_tail, _CHUNK))

    def finish(self) -> None:
        if self._inner is None:  # fewer than two bytes: no deflate stream is that short
            if self._held:
                raise zlib.error("truncated deflate stream")
            return
        self._scanner.feed(self._inner.flush())


class Connection(asyncio.Protocol):
    """One HTTP/1.1 connection; at most one exchange in flight."""

    __slots__ = (
        "_deadline",
        "_decoder",
        "_failure",
        "_head",
        "_headers_done",
        "_keep",
        "_keeper",
        "_loop",
        "_needle",
        "_parser",
        "_sink",
        "_timer",
        "_timer_at",
        "_transport",
        "_waiter",
        "closed",
        "headers",
        "open",
        "origin",
        "reusable",
        "scanner",
        "status",
    )

    def __init__(self, loop: asyncio.AbstractEventLoop, origin: Origin) -> None:
        self._loop = loop
        self.origin = origin
        self._transport: asyncio.Transport | None = None
        self._parser = HttpResponseParser(self)
        self._waiter: asyncio.Future[int | Result] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._deadline = 0.0
        self.closed: asyncio.Future[None] = loop.create_future()
        self.open = False
        self.reusable = False
        self._head = False
        self._needle: bytes | None = None
        self._keep: int | None = None
        self._reset_response()

    def _reset_response(self) -> None:
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self._headers_done = False
        self.scanner: BodyScanner | None = None
        self._keeper: BodyKeeper | None = None
        self._sink: BodyScanner | BodyKeeper | None = None
        self._decoder: _Decoder | None = None
        self._failure: Result | None = None

    # -- driven by the session -------------------------------------------------------------

    def start(
        self, wire: Wire, deadline: float, needle: bytes | None, keep: int | None = None
    ) -> asyncio.Future[int | Result]:
        """Write the request; the future resolves to the status, or to a failure Result.
        ``keep``: keep the response's headers and up to that many bytes of its body."""
        self._reset_response()
        self.reusable = False
        self._head = wire.head
        self._needle = needle
        self._keep = keep
        waiter = self._waiter = self._loop.create_future()
        self._deadline = deadline
        if self._timer is None or self._timer_at > deadline:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = self._loop.call_at(deadline, self._on_timer)
            self._timer_at = deadline
        assert self._transport is not None
        self._transport.write(wire.data)
        return waiter

    def captured(self) -> Captured:
        """The response as kept (the exchange asked to keep it)."""
        keeper = self._keeper
        if keeper is None:
            return Captured.from_bytes(self.headers)
        return Captured.from_bytes(self.headers, keeper.body, keeper.truncated)

    def location(self) -> str | None:
        for name, value in self.headers:
            if name.lower() == b"location":
                return value.decode("latin-1")
        return None

    def close(self) -> None:
        """Abort the socket at once (nothing is flushed); ``closed`` resolves once it is gone."""
        self.open = False
        self.reusable = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._transport is not None:
            self._transport.abort()

    # -- asyncio.Protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.open = True

    def data_received(self, data: bytes) -> None:
        if self._waiter is None:  # bytes nobody asked for: this connection is not reusable
            self.close()
            return
        try:
            self._parser.feed_data(data)
        except HttpParserUpgrade:
            self._fail(Result(Outcome.PROTOCOL_ERROR, detail="unexpected protocol upgrade"))
        except HttpParserError as exc:
            failure = self._failure or Result(
                Outcome.PROTOCOL_ERROR, detail=f"invalid HTTP response: {exc}"[:300]
            )
            self._fail(failure)

    def eof_received(self) -> bool | None:
        return None  # close the transport; connection_lost decides what the EOF meant

    def connection_lost(self, exc: Exception | None) -> None:
        self.open = False
        self.reusable = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self.closed.done():
            self.closed.set_result(None)
        if self._waiter is None or self._waiter.done():
            return
        if exc is None and self._headers_done and self._until_close():
            try:
                if self._decoder is not None:
                    self._decoder.finish()
            except zlib.error as error:
                self._fail(Result(Outcome.PROTOCOL_ERROR, self.status, f"cannot decode: {error}"))
                return
            self._complete()
            return
        if isinstance(exc, ssl.SSLError):
            self._fail(failure(Outcome.TLS_ERROR, exc))
        elif exc is not None:
            self._fail(failure(Outcome.RESET, exc))
        elif self._headers_done:
            self._fail(Result(Outcome.RESET, self.status, "connection closed mid-body"))
        else:
            self._fail(Result(Outcome.RESET, detail="server closed the connection before replying"))

    # -- httptools callbacks -----------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self._waiter is None:  # the start of a response nobody asked for (surplus bytes)
            self.close()

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        if self._waiter is None:
            self.close()
            return
        status = self.status = self._parser.get_status_code()
        if status < 200:
            return  # 1xx: llhttp completes it without a body; the real response follows
        self._headers_done = True
        needle, keep = self._needle, self._keep
        if needle is not None or keep:
            sink: BodyScanner | BodyKeeper | None = None
            if needle is not None:
                sink = self.scanner = BodyScanner(needle)
            if keep:
                sink = self._keeper = BodyKeeper(keep, self.scanner)
            assert sink is not None
            self._sink = sink
            for name, value in self.headers:
                if len(name) == 16 and name.lower() == b"content-encoding":
                    encoding = value.strip().lower()
                    if encoding in (b"gzip", b"x-gzip", b"deflate"):
                        self._decoder = _Decoder(encoding, sink)
        if self._head:  # llhttp cannot know the request was HEAD: no body follows
            keep = self._parser.should_keep_alive()
            self._parser = HttpResponseParser(self)
            self._complete()
            self.reusable = keep

    def on_body(self, body: bytes) -> None:
        if self._waiter is None:
            self.close()
            return
        if self._decoder is not None:
            try:
                self._decoder.feed(body)
            except zlib.error as exc:
                self._failure = Result(Outcome.PROTOCOL_ERROR, self.status, f"cannot decode: {exc}")
                raise
        elif self._sink is not None:
            self._sink.feed(body)

    def on_message_complete(self) -> None:
        if self._waiter is None or self.status < 200:
            if self.status < 200:
                self.headers = []
            return
        if self._decoder is not None:
            try:
                self._decoder.finish()
            except zlib.error as exc:
                self._failure = Result(Outcome.PROTOCOL_ERROR, self.status, f"cannot decode: {exc}")
                raise
        keep = self._parser.should_keep_alive()
        self._complete()
        self.reusable = keep and self.open

    # -- ends of an exchange -----------------------------------------------------------------

    def _until_close(self) -> bool:
        """A body delimited by the end of the connection (no Content-Length, not chunked)."""
        if self._head or self.status in (204, 304):
            return False
        return not any(
            name.lower() in (b"content-length", b"transfer-encoding") for name, _ in self.headers
        )

    def _complete(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(self.status)

    def _fail(self, failure: Result) -> None:
        waiter, self._waiter = self._waiter, None
        self.close()
        if waiter is not None and not waiter.done():
            waiter.set_result(failure)

    def _on_timer(self) -> None:
        self._timer = None
        if self._waiter is None or self._waiter.done():
            return
        if self._loop.time() < self._deadline:  # a later request's deadline: wait for it
            self._timer = self._loop.call_at(self._deadline, self._on_timer)
            self._timer_at = self._deadline
            return
        self._fail(Result(Outcome.TIMEOUT, detail="no complete response within the timeout"))
