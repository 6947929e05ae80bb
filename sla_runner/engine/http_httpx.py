"""The httpx transport: for ``http2: true`` endpoints, or when ``target.engine`` is httpx.

One ``httpx.AsyncClient`` per session (per virtual user), so each user holds its own
connections; a second client with HTTP/2 enabled is opened on the first ``http2``
request. Outcomes are classified exactly as the aiohttp transport classifies them.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterable

import httpx

from sla_runner.engine.transport import (
    USER_AGENT,
    HttpRequest,
    HttpSession,
    Outcome,
    Result,
    TransportBase,
)
from sla_runner.spec.models import Target


class HttpxTransport(TransportBase):
    def __init__(self, target: Target, *, cookies: bool = False) -> None:
        super().__init__(target, cookies=cookies)
        self._tls: dict[bool, ssl.SSLContext] = {}

    def prepare(self, requests: Iterable[HttpRequest]) -> None:
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

    def session(self, *, connections: int) -> HttpSession:
        return HttpxSession(self, connections)


class HttpxSession:
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
        "_connections",
        "_in_flight",
        "_retired",
        "_timeouts",
        "_transport",
    )

    def __init__(self, transport: HttpxTransport, connections: int) -> None:
        if connections < 1:
            raise ValueError(f"connections must be at least 1, got {connections}")
        self._transport = transport
        self._connections = connections
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
            trust_env=False,
        )
        del client.headers["Accept-Encoding"]  # as the aiohttp transport: only what the spec sends
        self._clients[http2] = client
        return client

    async def send(self, request: HttpRequest) -> Result:
        client = self._clients.get(request.http2) or self._open(request.http2)
        self._in_flight[client] = self._in_flight.get(client, 0) + 1
        try:
            async with asyncio.timeout(request.timeout_s):
                return await self._exchange(client, request)
        except httpx.ConnectTimeout:
            return Result(Outcome.CONNECT_ERROR, detail="connect timed out")
        except TimeoutError:
            if request.http2 and self._clients.get(True) is client:
                del self._clients[True]
                self._retired.add(client)
            return Result(
                Outcome.TIMEOUT, detail=f"no complete response within {request.timeout_s:g}s"
            )
        except Exception as exc:  # every failure is an outcome; cancellation is not an Exception
            return classify(exc)
        finally:
            if not self._transport.cookies and len(client.cookies.jar):
                client.cookies.clear()
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

    async def _exchange(self, client: httpx.AsyncClient, request: HttpRequest) -> Result:
        policy = self._transport.policy
        timeout = self._timeout(request.timeout_s)
        hop = request
        while True:
            response = await client.send(
                client.build_request(
                    hop.method, hop.url, headers=hop.headers, content=hop.body, timeout=timeout
                ),
                stream=True,
            )
            try:
                status = response.status_code
                following = policy.after(hop, status, response.headers.get("Location"))
                scanner = None if following is not None else request.body_scanner(status)
                if scanner is None:
                    async for _chunk in response.aiter_raw():
                        pass
                else:
                    async for chunk in response.aiter_bytes():
                        scanner.feed(chunk)
            finally:
                await response.aclose()
            if following is None:
                return request.judge(status, scanner)
            if isinstance(following, Result):
                return following
            hop = following

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
    detail = f"{type(exc).__name__}: {exc}"[:300]
    text = str(exc).lower()
    if isinstance(exc, httpx.TimeoutException):
        return Result(Outcome.TIMEOUT, detail=detail)
    if isinstance(exc, (httpx.ConnectError, httpx.ReadError, httpx.WriteError)) and _ssl_cause(exc):
        return Result(Outcome.TLS_ERROR, detail=detail)
    if isinstance(exc, (httpx.ConnectError, httpx.ProxyError)):
        return Result(Outcome.CONNECT_ERROR, detail=detail)
    if isinstance(exc, httpx.RemoteProtocolError):
        cut = "disconnected" in text or "peer closed" in text or "incomplete" in text
        return Result(Outcome.RESET if cut else Outcome.PROTOCOL_ERROR, detail=detail)
    if isinstance(exc, (httpx.ReadError, httpx.WriteError, httpx.CloseError, ConnectionError)):
        return Result(Outcome.RESET, detail=detail)
    if isinstance(exc, (httpx.ProtocolError, httpx.DecodingError)):
        return Result(Outcome.PROTOCOL_ERROR, detail=detail)
    if isinstance(exc, ssl.SSLError):
        return Result(Outcome.TLS_ERROR, detail=detail)
    if isinstance(exc, OSError):
        return Result(Outcome.CONNECT_ERROR, detail=detail)
    return Result(Outcome.ERROR, detail=detail)
