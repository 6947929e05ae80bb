"""The httpx transport: for ``http2: true`` endpoints, or when ``target.engine`` is httpx.

One ``httpx.AsyncClient`` per session (per virtual user), so each user holds its own
connections; a client with HTTP/2 enabled is opened on the first ``http2`` request. It
serves its own ``http2`` endpoints, and those of the other transports (each routing session
opens a session of it for them). Outcomes are classified as the aiohttp transport
classifies them. Clients keep no cookies (a user's cookies are the routing session's):
their jar stores nothing, so no request of one user ever carries another's.
"""

from __future__ import annotations

import asyncio
import http.cookiejar
import ssl
from typing import Any

import httpx

from sla_runner.engine.http.outcome import (
    Captured,
    Outcome,
    Result,
    closed_as_it_opened,
    failure,
    unclassified,
)
from sla_runner.engine.http.redirects import REDIRECT_STATUSES
from sla_runner.engine.http.request import USER_AGENT, BodyKeeper, HttpRequest
from sla_runner.engine.http.session import HopSession, Reply, TransportBase
from sla_runner.spec.models import Target


class _NoCookies(http.cookiejar.CookieJar):
    """A jar that stores nothing: httpx would otherwise keep every Set-Cookie in the client
    and send it with the next request built, whoever's it is."""

    def extract_cookies(self, response: Any, request: Any) -> None:
        return None

    def set_cookie(self, cookie: http.cookiejar.Cookie) -> None:
        return None


class HttpxTransport(TransportBase):
    def __init__(self, target: Target) -> None:
        super().__init__(target)
        self._tls: dict[bool, ssl.SSLContext] = {}

    def _prepare(self, requests: list[HttpRequest]) -> None:
        """The TLS context of each protocol the requests use, and httpcore's lazy imports
        (made by the first client): together ~100 ms on the first request otherwise."""
        for http2 in sorted({r.http2 for r in requests}):
            httpx.AsyncClient(http2=http2, verify=self.tls(http2), trust_env=False)

    def tls(self, http2: bool) -> ssl.SSLContext:
        """One TLS context per protocol for all sessions (loading the CA bundle takes ~15 ms;
        httpcore sets the context's ALPN per protocol, so the two are kept apart)."""
        context = self._tls.get(http2)
        if context is None:
            context = self._tls[http2] = httpx.create_ssl_context(verify=self.target.verify_tls)
        return context

    def hop_session(self, connections: int) -> HttpxSession:
        return HttpxSession(self, connections)


class HttpxSession(HopSession):
    """One client per protocol, opened on first use.

    An HTTP/2 request that times out leaves its client *retired*: httpcore sends no
    RST_STREAM when it cancels one, so the stream stays open on the connection, and after
    the server's stream limit (often 100) every request would fail without being sent. As
    the HTTP/1.1 transports drop a connection after a timeout (httpcore does so itself for
    HTTP/1.1), the next request opens a fresh client; the retired one is closed in the
    background once its last request in flight ends, so no request waits for the close.
    """

    __slots__ = (
        "_clients",
        "_closing",
        "_in_flight",
        "_retired",
        "_timeouts",
    )
    _transport: HttpxTransport

    def __init__(self, transport: HttpxTransport, connections: int) -> None:
        super().__init__(transport, connections)
        self._clients: dict[bool, httpx.AsyncClient] = {}
        self._in_flight: dict[httpx.AsyncClient, int] = {}
        self._retired: set[httpx.AsyncClient] = set()
        self._closing: set[asyncio.Task[None]] = set()
        self._timeouts: dict[float, httpx.Timeout] = {}

    def _open(self, http2: bool) -> httpx.AsyncClient:
        target = self._transport.target
        client = httpx.AsyncClient(
            http2=http2,
            verify=self._transport.tls(http2),
            limits=httpx.Limits(
                max_connections=self._connections, max_keepalive_connections=self._connections
            ),
            timeout=httpx.Timeout(None, connect=target.connect_timeout.seconds),
            headers={"User-Agent": USER_AGENT},
            follow_redirects=False,
            cookies=_NoCookies(),
            trust_env=False,
        )
        del client.headers["Accept-Encoding"]  # as the aiohttp transport: only what the spec sends
        self._clients[http2] = client
        return client

    async def send_hop(
        self, hop: HttpRequest, deadline: float, keep: int | None = None
    ) -> Reply | Result:
        client = self._clients.get(hop.http2) or self._open(hop.http2)
        self._in_flight[client] = self._in_flight.get(client, 0) + 1
        try:
            async with asyncio.timeout_at(deadline):
                return await self._exchange(client, hop, keep)
        except httpx.ConnectTimeout:
            return Result(Outcome.CONNECT_ERROR, detail="connect timed out")
        except TimeoutError:
            if hop.http2 and self._clients.get(True) is client:
                del self._clients[True]
                self._retired.add(client)
            return Result(Outcome.TIMEOUT, detail=f"no complete response within {hop.timeout_s:g}s")
        except Exception as exc:  # every failure is an outcome; cancellation is not an Exception
            return classify(exc)
        finally:
            left = self._in_flight[client] = self._in_flight[client] - 1
            if not left:
                del self._in_flight[client]
                if client in self._retired:
                    self._retired.discard(client)
                    closing = asyncio.get_running_loop().create_task(client.aclose())
                    self._closing.add(closing)
                    closing.add_done_callback(self._closing.discard)

    def _timeout(self, timeout_s: float) -> httpx.Timeout:
        """httpx's own connect timeout, ending before the request's deadline.

        httpcore does not close a socket whose TLS handshake is cancelled (it closes it
        only on an ``Exception``), so the connect phase must end by httpx's own timeout,
        never by our cancellation, or the socket leaks.
        """
        timeout = self._timeouts.get(timeout_s)
        if timeout is None:
            connect_s = min(self._transport.target.connect_timeout.seconds, 0.9 * timeout_s)
            timeout = self._timeouts[timeout_s] = httpx.Timeout(None, connect=connect_s)
        return timeout

    async def _exchange(
        self, client: httpx.AsyncClient, hop: HttpRequest, keep: int | None
    ) -> Reply:
        response = await client.send(
            client.build_request(
                hop.method,
                hop.url,
                headers=hop.headers,
                content=hop.body,
                timeout=self._timeout(hop.timeout_s),
            ),
            stream=True,
        )
        try:
            status = response.status_code
            scanner = hop.body_scanner(status)
            sink = BodyKeeper(keep, scanner) if keep else scanner
            if sink is None:
                async for _chunk in response.aiter_raw():
                    pass
            else:
                async for chunk in response.aiter_bytes():
                    sink.feed(chunk)
        finally:
            await response.aclose()
        location = response.headers.get("Location") if status in REDIRECT_STATUSES else None
        if keep is None:
            return status, location, scanner, None
        headers = tuple(response.headers.multi_items())
        if isinstance(sink, BodyKeeper):
            return status, location, scanner, Captured(headers, sink.body, sink.truncated)
        return status, location, scanner, Captured(headers)

    async def aclose(self) -> None:
        clients = [*self._clients.values(), *self._retired]
        self._clients.clear()
        self._retired.clear()
        for client in clients:
            await client.aclose()
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)


def _ssl_cause(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return False
        if isinstance(seen, ssl.SSLError) or "SSL" in str(seen) or "CERTIFICATE" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def classify(exc: BaseException) -> Result:
    """An httpx failure as an outcome."""
    text = str(exc).lower()
    if isinstance(exc, httpx.TimeoutException):
        return failure(Outcome.TIMEOUT, exc)
    if isinstance(exc, (httpx.ConnectError, httpx.ReadError, httpx.WriteError)) and _ssl_cause(exc):
        return failure(Outcome.TLS_ERROR, exc)
    if isinstance(exc, (httpx.ConnectError, httpx.ProxyError)):
        return failure(Outcome.CONNECT_ERROR, exc)
    if isinstance(exc, httpx.RemoteProtocolError):
        cut = "disconnected" in text or "peer closed" in text or "incomplete" in text
        return failure(Outcome.RESET if cut else Outcome.PROTOCOL_ERROR, exc)
    if isinstance(exc, (httpx.ReadError, httpx.WriteError, httpx.CloseError, ConnectionError)):
        return failure(Outcome.RESET, exc)
    if closed_as_it_opened(exc):
        return failure(Outcome.RESET, exc)
    if isinstance(exc, (httpx.ProtocolError, httpx.DecodingError)):
        return failure(Outcome.PROTOCOL_ERROR, exc)
    if isinstance(exc, ssl.SSLError):
        return failure(Outcome.TLS_ERROR, exc)
    return unclassified(exc)
