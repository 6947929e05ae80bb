"""The raw transport: a minimal HTTP/1.1 client on asyncio with httptools' C parser.

Measured as the fastest HTTP/1.1 path (bench/RESULTS.md): a session owns up to
``connections`` keep-alive connections (reusing idle ones, pooled by origin), each
request is serialised to bytes once per compiled :class:`HttpRequest`, and the response
is parsed by llhttp through :mod:`httptools` with the body read fully and discarded —
decoded (gzip/deflate) only when ``body_contains`` must look inside it. No
``Accept-Encoding`` is sent unless the spec sends one; nothing is ever retried; a
connection is reused only after a complete response that allows keep-alive. A session sends
one hop; redirects and ``http2`` endpoints are the routing session's
(:mod:`sla_runner.engine.http.session`).
"""

from __future__ import annotations

import asyncio
import collections
import ssl
from typing import Unpack

from sla_runner.engine.http.outcome import Outcome, Result, failure
from sla_runner.engine.http.raw_wire import Connection, Origin, Wire, WirePlan, encode, wire_plan
from sla_runner.engine.http.redirects import REDIRECT_STATUSES
from sla_runner.engine.http.request import HttpRequest, WireShape
from sla_runner.engine.http.session import HopSession, Reply, TransportBase, TransportOptions
from sla_runner.spec.models import Target

_CACHED_REQUESTS = 4096


class RawTransport(TransportBase):
    def __init__(self, target: Target, **options: Unpack[TransportOptions]) -> None:
        super().__init__(target, **options)
        self.connect_s = target.connect_timeout.seconds
        self._tls: ssl.SSLContext | None = None
        self._wires: dict[int, tuple[HttpRequest, Wire]] = {}
        self._plans: dict[int, tuple[WireShape, WirePlan | None]] = {}

    def hop_session(self, connections: int) -> RawSession:
        return RawSession(self, connections)

    def wire(self, request: HttpRequest) -> Wire:
        """The request's bytes, built once per compiled request (keyed by identity); a
        request made for one send (``fresh``, or a redirect's hop) is encoded each time and
        never cached, so requests rendered per user neither grow nor churn the cache; one
        with a ``shape`` is encoded from the parts its shape's plan encoded once."""
        if request.fresh:
            shape = request.shape
            if shape is not None and not request.redirects:
                known = self._plans.get(id(shape))
                if known is None or known[0] is not shape:
                    known = self._plans[id(shape)] = (shape, wire_plan(shape))
                plan = known[1]
                if plan is not None:
                    return plan.wire(request.url, request.headers, request.body)
            return encode(request.method, request.url, request.headers, request.body)
        if request.redirects:
            return encode(request.method, request.url, request.headers, request.body)
        cached = self._wires.get(id(request))
        if cached is not None and cached[0] is request:
            return cached[1]
        wire = encode(request.method, request.url, request.headers, request.body)
        if len(self._wires) >= _CACHED_REQUESTS:
            self._wires.clear()
        self._wires[id(request)] = (request, wire)
        return wire

    def _prepare(self, requests: list[HttpRequest]) -> None:
        if any(r.url.startswith("https:") for r in requests):
            self.tls()

    def tls(self) -> ssl.SSLContext:
        if self._tls is None:
            context = ssl.create_default_context()
            if not self.target.verify_tls:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            context.set_alpn_protocols(["http/1.1"])
            self._tls = context
        return self._tls


class RawSession(HopSession):
    """One client's keep-alive connections: at most ``connections`` open at a time."""

    __slots__ = ("_all", "_idle", "_opening", "_waiters")
    _transport: RawTransport

    def __init__(self, transport: RawTransport, connections: int) -> None:
        super().__init__(transport, connections)
        self._idle: dict[Origin, list[Connection]] = {}
        self._all: set[Connection] = set()
        self._opening = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    async def send_hop(
        self, hop: HttpRequest, deadline: float, keep: int | None = None
    ) -> Reply | Result:
        try:
            wire = self._transport.wire(hop)
        except ValueError as exc:
            return Result(Outcome.ERROR, detail=str(exc)[:300])
        conn = self._take_idle(wire.origin)
        if conn is None:
            got = await self._acquire(wire.origin, deadline, hop.timeout_s)
            if isinstance(got, Result):
                return got
            conn = got
        try:
            outcome = await conn.start(wire, deadline, hop.body_contains, keep)
        except BaseException:  # cancelled: the exchange is cut, the socket with it
            self._drop(conn)
            raise
        if outcome.__class__ is not int:
            self._drop(conn)
            assert isinstance(outcome, Result)
            if outcome.outcome is Outcome.TIMEOUT:
                outcome.detail = f"no complete response within {hop.timeout_s:g}s"
            return outcome
        status = conn.status
        location = conn.location() if status in REDIRECT_STATUSES else None
        if keep is None:
            reply: Reply = (status, location, conn.scanner, None)
            conn.headers.clear()  # its tuples freed now, not kept through the think time
        else:
            reply = (status, location, conn.scanner, conn.captured())
        self._release(conn)
        return reply

    # -- the pool ----------------------------------------------------------------------------

    def _take_idle(self, origin: Origin) -> Connection | None:
        idle = self._idle.get(origin)
        while idle:
            conn = idle.pop()
            if conn.open:
                return conn
            self._all.discard(conn)
        return None

    async def _acquire(
        self, origin: Origin, deadline: float, timeout_s: float
    ) -> Connection | Result:
        loop = asyncio.get_running_loop()
        while True:
            conn = self._take_idle(origin)
            if conn is not None:
                return conn
            if len(self._all) + self._opening < self._connections:
                return await self._connect(loop, origin, deadline, timeout_s)
            victim = next((idle.pop() for idle in self._idle.values() if idle), None)
            if victim is not None:  # an idle connection to another origin makes room
                self._drop(victim)
                continue
            waiter = loop.create_future()
            self._waiters.append(waiter)
            try:
                async with asyncio.timeout_at(deadline):
                    await waiter
            except TimeoutError:
                self._leave(waiter)
                return Result(Outcome.TIMEOUT, detail=f"no connection within {timeout_s:g}s")
            except BaseException:  # cancelled
                self._leave(waiter)
                raise

    def _leave(self, waiter: asyncio.Future[None]) -> None:
        """A waiter gives up: out of the queue, or, if its turn had come, the turn passes on."""
        try:
            self._waiters.remove(waiter)
        except ValueError:
            self._wake()

    async def _connect(
        self, loop: asyncio.AbstractEventLoop, origin: Origin, deadline: float, timeout_s: float
    ) -> Connection | Result:
        scheme, host, port = origin
        connect_s = self._transport.connect_s
        remaining = deadline - loop.time()
        tls = self._transport.tls() if scheme == "https" else None
        self._opening += 1
        conn: Connection | None = None
        try:
            async with asyncio.timeout(min(connect_s, remaining)):
                _, conn = await loop.create_connection(
                    lambda: Connection(loop, origin),
                    host,
                    port,
                    ssl=tls,
                    server_hostname=host if tls is not None else None,
                )
        except TimeoutError:
            if connect_s <= remaining:
                return Result(Outcome.CONNECT_ERROR, detail="connect timed out")
            return Result(Outcome.TIMEOUT, detail=f"no complete response within {timeout_s:g}s")
        except (ssl.SSLError, ssl.CertificateError) as exc:
            return failure(Outcome.TLS_ERROR, exc)
        except OSError as exc:
            kind = Outcome.TLS_ERROR if tls is not None and _mid_handshake(exc) else None
            return failure(kind or Outcome.CONNECT_ERROR, exc)
        except ValueError as exc:  # a host the resolver refuses after encode() took it (a NUL)
            return failure(Outcome.ERROR, exc)
        finally:
            self._opening -= 1
            if conn is None:  # failed or cancelled: the slot it held is free for a waiter
                self._wake()
        self._all.add(conn)
        return conn

    def _release(self, conn: Connection) -> None:
        if conn.reusable and conn.open and conn in self._all:
            self._idle.setdefault(conn.origin, []).append(conn)
            self._wake()
        else:
            self._drop(conn)

    def _drop(self, conn: Connection) -> None:
        conn.close()
        if conn in self._all:
            self._all.discard(conn)
            self._wake()

    def _wake(self) -> None:
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def aclose(self) -> None:
        conns = list(self._all)
        self._all.clear()
        self._idle.clear()
        for conn in conns:
            conn.close()
        if conns:
            await asyncio.gather(*(conn.closed for conn in conns))


def _mid_handshake(exc: OSError) -> bool:
    """A connection that was accepted and then dropped during the TLS handshake."""
    return isinstance(exc, ConnectionResetError | ConnectionAbortedError | EOFError) or (
        "handshake" in str(exc).lower() or "ssl" in str(exc).lower()
    )
