"""The aiohttp transport (``engine: aiohttp``): one aiohttp ClientSession per virtual user.

Was the default before the raw transport (bench/RESULTS.md): keep-alive connections owned
by the session, no cookie jar (a user's cookies are the routing session's), no
``Accept-Encoding`` unless the spec sends one, bodies read raw (not decompressed) unless
``body_contains`` must look inside them or they are kept. A session sends one hop;
redirects and ``http2`` endpoints are the routing session's.
"""

from __future__ import annotations

import asyncio
import ssl

import aiohttp

from sla_runner.engine.http.outcome import Captured, Outcome, Result, failure, unclassified
from sla_runner.engine.http.redirects import REDIRECT_STATUSES
from sla_runner.engine.http.request import USER_AGENT, BodyKeeper, HttpRequest
from sla_runner.engine.http.session import HopSession, Reply, TransportBase


class AiohttpTransport(TransportBase):
    def hop_session(self, connections: int) -> AiohttpSession:
        return AiohttpSession(self, connections)

    def _prepare(self, requests: list[HttpRequest]) -> None:
        """Nothing: aiohttp imports what it needs at once and shares its default TLS context."""


class AiohttpSession(HopSession):
    """Created outside or inside the loop; the aiohttp session is opened on the first send."""

    __slots__ = ("_client",)

    def __init__(self, transport: AiohttpTransport, connections: int) -> None:
        super().__init__(transport, connections)
        self._client: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        transport = self._transport
        target = transport.target
        connector = aiohttp.TCPConnector(
            limit=self._connections,
            limit_per_host=0,
            ssl=target.verify_tls,
            ttl_dns_cache=300,
        )
        self._client = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
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

    async def send_hop(
        self, hop: HttpRequest, deadline: float, keep: int | None = None
    ) -> Reply | Result:
        client = self._client or self._open()
        try:
            async with asyncio.timeout_at(deadline):
                async with client.request(
                    hop.method,
                    hop.url,
                    headers=hop.headers,
                    data=hop.body,
                    allow_redirects=False,
                    auto_decompress=hop.body_contains is not None or bool(keep),
                ) as response:
                    status = response.status
                    scanner = hop.body_scanner(status)
                    content = response.content
                    sink = BodyKeeper(keep, scanner) if keep else scanner
                    if sink is None:
                        while await content.readany():
                            pass
                    else:
                        while chunk := await content.readany():
                            sink.feed(chunk)
                    location = None
                    if status in REDIRECT_STATUSES:
                        location = response.headers.get("Location")
                    if keep is None:
                        return status, location, scanner, None
                    kept = Captured(tuple(response.headers.items()))
                    if isinstance(sink, BodyKeeper):
                        kept = Captured(kept.headers, sink.body, sink.truncated)
                    return status, location, scanner, kept
        except aiohttp.ConnectionTimeoutError:
            return Result(Outcome.CONNECT_ERROR, detail="connect timed out")
        except TimeoutError:
            return Result(Outcome.TIMEOUT, detail=f"no complete response within {hop.timeout_s:g}s")
        except Exception as exc:  # every failure is an outcome; cancellation is not an Exception
            return classify(exc)

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.close()


def classify(exc: BaseException) -> Result:
    """An aiohttp (or socket) failure as an outcome."""
    if isinstance(exc, (aiohttp.ClientSSLError, ssl.SSLError)) or isinstance(
        exc.__cause__, ssl.SSLError
    ):
        return failure(Outcome.TLS_ERROR, exc)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return failure(Outcome.CONNECT_ERROR, exc)
    if isinstance(exc, aiohttp.ClientPayloadError):
        broken = "decod" in str(exc).lower() or "compress" in str(exc).lower()
        return failure(Outcome.PROTOCOL_ERROR if broken else Outcome.RESET, exc)
    if isinstance(exc, aiohttp.ClientResponseError):  # aiohttp's wrapper of BadHttpMessage
        return failure(Outcome.PROTOCOL_ERROR, exc)
    if isinstance(exc, (aiohttp.ClientConnectionError, ConnectionError)):  # cut once connected
        return failure(Outcome.RESET, exc)
    return unclassified(exc)
