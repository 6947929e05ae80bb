"""Sessions and transports: one hop per transport, the one redirect loop above them.

A transport's :class:`HopSession` sends a single hop (``send_hop``): it writes the request,
reads the whole response and returns a :data:`Reply` (the status, the Location of a redirect,
the scanner the body went through), or a :class:`Result` when the exchange failed. Above
the transports, one :class:`RoutingSession` per client (as httpx's ``_send_handling_redirects``
over ``_send_single_request``) sends each hop to the session for its protocol, follows
redirects under the :class:`RedirectPolicy` and judges the final response. This module
knows no implementation: the HTTP/2 side of a transport is handed to it.
"""

from __future__ import annotations

import asyncio
import functools
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from typing import Protocol, TypedDict

from sla_runner.engine.http.outcome import Result
from sla_runner.engine.http.redirects import RedirectPolicy
from sla_runner.engine.http.request import BodyScanner, HttpRequest
from sla_runner.spec.models import Target

Reply = tuple[int, str | None, BodyScanner | None]
"""One hop's complete response: the status, its Location when the status is a redirect's
(else ``None``), and the scanner its body was read through (``None``: not scanned)."""


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


class HopSession(ABC):
    """One client's connections on one transport: sends a single hop at a time.

    ``send_hop`` sends ``hop`` and reads its whole response by ``deadline`` (the event loop's
    clock): the body is read fully and not kept, through a scanner when ``body_contains``
    must be found in it. It follows no redirect and judges nothing, and raises only on
    cancellation: every failure is a Result.
    """

    __slots__ = ("_connections", "_transport")

    def __init__(self, transport: TransportBase, connections: int) -> None:
        if connections < 1:
            raise ValueError(f"connections must be at least 1, got {connections}")
        self._transport = transport
        self._connections = connections

    @abstractmethod
    async def send_hop(self, hop: HttpRequest, deadline: float) -> Reply | Result: ...

    @abstractmethod
    async def aclose(self) -> None: ...

    async def send(self, request: HttpRequest) -> Result:
        """``request`` on this session alone: the one redirect loop over its hops, with no
        HTTP/2 side (a transport's :meth:`TransportBase.session` gives one)."""
        return await RoutingSession(self, self._transport.policy).send(request)


class RoutingSession:
    """What a client sends through: each hop to the session for its protocol (``http2``
    requests to the HTTP/2 side, opened on the first one; the rest to the HTTP/1.1 session),
    redirects followed under the policy within the request's one timeout, the final response
    judged. The common case, a final response to the first hop, costs one call more than
    the hop itself."""

    __slots__ = ("_http1", "_http2", "_open_http2", "_policy")

    def __init__(
        self,
        http1: HopSession,
        policy: RedirectPolicy,
        open_http2: Callable[[], HopSession] | None = None,
    ) -> None:
        self._http1 = http1
        self._policy = policy
        self._open_http2 = open_http2
        self._http2: HopSession | None = None

    async def send(self, request: HttpRequest) -> Result:
        session = self._h2() if request.http2 else self._http1
        deadline = asyncio.get_running_loop().time() + request.timeout_s
        reply = await session.send_hop(request, deadline)
        hop = request
        while True:
            if isinstance(reply, Result):
                return reply
            status, location, scanner = reply
            if location is None:  # not a redirect: the common case
                return request.judge(status, scanner)
            following = self._policy.after(hop, status, location)
            if following is None:
                return request.judge(status, scanner)
            if isinstance(following, Result):
                return following
            hop = following
            reply = await session.send_hop(hop, deadline)

    def _h2(self) -> HopSession:
        if self._http2 is None:
            opener = self._open_http2
            self._http2 = opener() if opener is not None else self._http1
        return self._http2

    async def aclose(self) -> None:
        h2, self._http2 = self._http2, None
        try:
            await self._http1.aclose()
        finally:
            if h2 is not None and h2 is not self._http1:
                await h2.aclose()


class TransportOptions(TypedDict, total=False):
    """What a transport is made with besides the target (see :class:`TransportBase`)."""

    cookies: bool
    http2: Callable[[], TransportBase] | None


class TransportBase(ABC):
    """What every transport holds: the target, whether sessions keep cookies, the redirect
    policy, and the transport that serves its ``http2`` endpoints.

    That HTTP/2 side is handed in (``http2``, a factory: this module knows no implementation);
    without one, the transport serves them itself. It is made on first use and shared by
    every session, so its TLS contexts (loading the CA bundle takes ~15 ms) are built once
    per run, not once per user.
    """

    def __init__(
        self,
        target: Target,
        *,
        cookies: bool = False,
        http2: Callable[[], TransportBase] | None = None,
    ) -> None:
        self.target = target
        self.cookies = cookies
        self.policy = RedirectPolicy(target)
        self._make_http2 = http2

    @abstractmethod
    def hop_session(self, connections: int) -> HopSession:
        """A session of this transport with up to ``connections`` connections."""

    def session(self, *, connections: int) -> HttpSession:
        """A client's session: this transport's hops, and the HTTP/2 side's on first use."""
        return RoutingSession(
            self.hop_session(connections),
            self.policy,
            lambda: self.http2.hop_session(connections),
        )

    def prepare(self, requests: Iterable[HttpRequest]) -> None:
        """Do before the clock starts what the first request would pay for on the loop:
        lazy imports and TLS contexts (httpx: ~100 ms), which would otherwise be measured
        as the service's latency and stall every user at the start of the run."""
        wanted = list(requests)
        if self._make_http2 is not None:  # the HTTP/2 side is made only when it is needed
            if any(r.http2 for r in wanted):
                self.http2.prepare([r for r in wanted if r.http2])
            wanted = [r for r in wanted if not r.http2]
        self._prepare(wanted)

    @abstractmethod
    def _prepare(self, requests: list[HttpRequest]) -> None:
        """What this transport itself needs to send ``requests``."""

    @functools.cached_property
    def http2(self) -> TransportBase:
        """The transport of the ``http2`` endpoints: the one handed in, else this one."""
        return self._make_http2() if self._make_http2 is not None else self
