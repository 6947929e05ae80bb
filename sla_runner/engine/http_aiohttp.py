"""The aiohttp transport (``engine: aiohttp``): one aiohttp ClientSession per virtual user.

Was the default before the raw transport (bench/RESULTS.md): keep-alive connections owned
by the session, no cookie jar unless asked, no ``Accept-Encoding`` unless the spec sends
one, bodies read raw (not decompressed) unless ``body_contains`` must look inside them.
Requests with ``http2`` go through an httpx session the aiohttp session opens on first use.
"""

from __future__ import annotations

import asyncio
import ssl

import aiohttp

from sla_runner.engine.transport import (
    USER_AGENT,
    HttpRequest,
    HttpSession,
    Outcome,
    Result,
    TransportBase,
)


class AiohttpTransport(TransportBase):
    def session(self, *, connections: int) -> HttpSession:
        return AiohttpSession(self, connections)


class AiohttpSession:
    """Created outside or inside the loop; the aiohttp session is opened on the first send."""

    __slots__ = ("_client", "_connections", "_http2", "_transport")

    def __init__(self, transport: AiohttpTransport, connections: int) -> None:
        if connections < 1:
            raise ValueError(f"connections must be at least 1, got {connections}")
        self._transport = transport
        self._connections = connections
        self._client: aiohttp.ClientSession | None = None
        self._http2: HttpSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        target = self._transport.target
        connector = aiohttp.TCPConnector(
            limit=self._connections,
            limit_per_host=0,
            ssl=target.verify_tls,
            ttl_dns_cache=300,
        )
        self._client = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=None if self._transport.cookies else aiohttp.DummyCookieJar(),
            headers={"User-Agent": USER_AGENT},
            skip_auto_headers=("Accept-Encoding",),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=target.connect_timeout.seconds),
            auto_decompress=False,
            trust_env=False,
        )
        # aiohttp retries an idempotent request once when a reused keep-alive connection
        # turns out reset. A load generator must not: the retry doubles the server's work
        # and hides the fault the verdict should count. (No public switch as of 3.14.)
        if hasattr(self._client, "_retry_connection"):
            self._client._retry_connection = False
        return self._client

    async def send(self, request: HttpRequest) -> Result:
        if request.http2:
            return await self._h2().send(request)
        client = self._client or self._open()
        try:
            async with asyncio.timeout(request.timeout_s):
                return await self._exchange(client, request)
        except aiohttp.ConnectionTimeoutError:
            return Result(Outcome.CONNECT_ERROR, detail="connect timed out")
        except TimeoutError:
            return Result(
                Outcome.TIMEOUT, detail=f"no complete response within {request.timeout_s:g}s"
            )
        except Exception as exc:  # every failure is an outcome; cancellation is not an Exception
            return classify(exc)

    async def _exchange(self, client: aiohttp.ClientSession, request: HttpRequest) -> Result:
        policy = self._transport.policy
        decompress = request.body_contains is not None
        hop = request
        while True:
            async with client.request(
                hop.method,
                hop.url,
                headers=hop.headers,
                data=hop.body,
                allow_redirects=False,
                auto_decompress=decompress,
            ) as response:
                status = response.status
                following = policy.after(hop, status, response.headers.get("Location"))
                scanner = None if following is not None else request.body_scanner(status)
                content = response.content
                if scanner is None:
                    while await content.readany():
                        pass
                else:
                    while chunk := await content.readany():
                        scanner.feed(chunk)
            if following is None:
                return request.judge(status, scanner)
            if isinstance(following, Result):
                return following
            hop = following

    def _h2(self) -> HttpSession:
        if self._http2 is None:
            self._http2 = self._transport.http2.session(connections=self._connections)
        return self._http2

    async def aclose(self) -> None:
        client, self._client = self._client, None
        h2, self._http2 = self._http2, None
        try:
            if client is not None:
                await client.close()
        finally:
            if h2 is not None:
                await h2.aclose()


def classify(exc: BaseException) -> Result:
    """An aiohttp (or socket) failure as an outcome."""
    detail = f"{type(exc).__name__}: {exc}"[:300]
    if isinstance(exc, (aiohttp.ClientSSLError, ssl.SSLError)) or isinstance(
        exc.__cause__, ssl.SSLError
    ):
        return Result(Outcome.TLS_ERROR, detail=detail)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return Result(Outcome.CONNECT_ERROR, detail=detail)
    if isinstance(exc, aiohttp.ClientPayloadError):
        broken = "decod" in str(exc).lower() or "compress" in str(exc).lower()
        return Result(Outcome.PROTOCOL_ERROR if broken else Outcome.RESET, detail=detail)
    if isinstance(exc, aiohttp.ClientResponseError):  # aiohttp's wrapper of BadHttpMessage
        return Result(Outcome.PROTOCOL_ERROR, detail=detail)
    if isinstance(exc, (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError, ConnectionError)):
        return Result(Outcome.RESET, detail=detail)
    if isinstance(exc, aiohttp.ClientConnectionError):
        return Result(Outcome.RESET, detail=detail)
    if isinstance(exc, OSError):
        return Result(Outcome.CONNECT_ERROR, detail=detail)
    return Result(Outcome.ERROR, detail=detail)
