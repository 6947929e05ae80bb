"""Sessions and transports: one hop per transport, the one redirect loop above them.

A transport's :class:`HopSession` sends a single hop (``send_hop``): it writes the request,
reads the whole response and returns a :data:`Reply` (the status, the Location of a redirect,
the scanner the body went through, the response kept when asked), or a :class:`Result`
when the exchange failed. Above the transports, one :class:`RoutingSession` per client (as
httpx's ``_send_handling_redirects`` over ``_send_single_request``) sends each hop to the
session for its protocol, follows redirects under the :class:`RedirectPolicy` and judges
the final response. This module knows no implementation: the HTTP/2 side of a transport is
handed to it.

Cookies live here too, once for every transport: a send may carry a user's :class:`Jar`
(format 2's ``target.cookies``). Each hop then carries the jar's ``Cookie`` header for its
URL (after any ``Cookie`` header the spec sets), and the ``Set-Cookie`` headers of every
hop's response go into the jar, so cookies a redirect sets reach the hop it leads to. The
transports keep no cookies of their own: without a jar, none is sent but the spec's.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from typing import Protocol, TypedDict

from sla_runner.engine.http.outcome import Captured, Result
from sla_runner.engine.http.redirects import RedirectPolicy
from sla_runner.engine.http.request import BodyScanner, HttpRequest
from sla_runner.spec.models import Target

Reply = tuple[int, str | None, BodyScanner | None, Captured | None]
"""One hop's complete response: the status, its Location when the status is a redirect's
(else ``None``), the scanner its body was read through (``None``: not scanned), and the
response kept when the hop was asked to keep it (else ``None``)."""


class Jar(Protocol):
    """One user's cookies (:class:`sla_runner.engine.cookies.CookieJar`)."""

    def header(self, url: str) -> str | None:
        """The ``Cookie`` header for a request to ``url``, or ``None``."""
        ...

    def receive(self, url: str, set_cookies: Iterable[str]) -> None:
        """Store what the ``Set-Cookie`` values of a response to ``url`` set."""
        ...


class HttpSession(Protocol):
    """One client's connections. ``send`` returns a Result and raises only on cancellation;
    with a ``jar``, every hop sends and receives that jar's cookies."""

    async def send(self, request: HttpRequest, jar: Jar | None = None) -> Result: ...

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
    clock): the body is read fully, through a scanner when ``body_contains`` must be found
    in it. With ``keep`` (not ``None``) the reply carries the response's headers and up to
    ``keep`` bytes of its body, decoded (a :class:`BodyKeeper`); otherwise nothing of it is
    kept. It follows no redirect, keeps no cookies and judges nothing, and raises only on
    cancellation: every failure is a Result.
    """

    __slots__ = ("_connections", "_transport")

    def __init__(self, transport: TransportBase, connections: int) -> None:
        if connections < 1:
            raise ValueError(f"connections must be at least 1, got {connections}")
        self._transport = transport
        self._connections = connections

    @abstractmethod
    async def send_hop(
        self, hop: HttpRequest, deadline: float, keep: int | None = None
    ) -> Reply | Result: ...

    @abstractmethod
    async def aclose(self) -> None: ...

    async def send(self, request: HttpRequest, jar: Jar | None = None) -> Result:
        """``request`` on this session alone: the one redirect loop over its hops, with no
        HTTP/2 side (a transport's :meth:`TransportBase.session` gives one)."""
        return await RoutingSession(self, self._transport.policy).send(request, jar)


class RoutingSession:
    """What a client sends through: each hop to the session for its protocol (``http2``
    requests to the HTTP/2 side, opened on the first one; the rest to the HTTP/1.1 session),
    redirects followed under the policy within the request's one timeout, the final response
    judged; with a jar, the cookies of every hop (see the module). The common case, a final
    response to the first hop without a jar, costs one call more than the hop itself."""

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

    async def send(self, request: HttpRequest, jar: Jar | None = None) -> Result:
        session = self._h2() if request.http2 else self._http1
        deadline = asyncio.get_running_loop().time() + request.timeout_s
        keep = request.capture
        if jar is None:
            reply = await session.send_hop(request, deadline, keep)
        else:
            keep = 0 if keep is None else keep  # the headers, for Set-Cookie
            reply = await session.send_hop(with_cookies(request, jar), deadline, keep)
        hop = request
        while True:
            if isinstance(reply, Result):
                return reply
            status, location, scanner, captured = reply
            if jar is not None and captured is not None:
                jar.receive(hop.url, [v for k, v in captured.headers if k.lower() == "set-cookie"])
            if location is None:  # not a redirect: the common case
                if keep is None:
                    return request.judge(status, scanner)
                result = request.judge(status, scanner)  # _kept() inlined: a frame less
                if request.capture is not None:  # per kept response
                    result.response = captured
                return result
            following = self._policy.after(hop, status, location)
            if following is None:
                return request.judge(status, scanner) if keep is None else _kept(request, reply)
            if isinstance(following, Result):
                return following
            hop = following
            sent = hop if jar is None else with_cookies(hop, jar)
            reply = await session.send_hop(sent, deadline, keep)

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


def _kept(request: HttpRequest, reply: Reply) -> Result:
    """The final response judged, carrying what was kept of it when the request asked."""
    status, _, scanner, captured = reply
    result = request.judge(status, scanner)
    if request.capture is not None:
        result.response = captured
    return result


def with_cookies(hop: HttpRequest, jar: Jar) -> HttpRequest:
    """``hop`` carrying the jar's cookies for its URL: a ``Cookie`` header of its own, or
    joined after the one the spec sets (``spec; jar``)."""
    cookie = jar.header(hop.url)
    if cookie is None:
        return hop
    headers = list(hop.headers)
    for i, (name, value) in enumerate(headers):
        if name.lower() == "cookie":
            headers[i] = (name, f"{value}; {cookie}")
            break
    else:
        headers.append(("Cookie", cookie))
    return dataclasses.replace(hop, headers=tuple(headers), fresh=True, shape=None)


class TransportOptions(TypedDict, total=False):
    """What a transport is made with besides the target (see :class:`TransportBase`)."""

    http2: Callable[[], TransportBase] | None


class TransportBase(ABC):
    """What every transport holds: the target, the redirect policy, and the transport that
    serves its ``http2`` endpoints. No transport keeps cookies: a send carries its user's
    jar (see the module).

    That HTTP/2 side is handed in (``http2``, a factory: this module knows no implementation);
    without one, the transport serves them itself. It is made on first use and shared by
    every session, so its TLS contexts (loading the CA bundle takes ~15 ms) are built once
    per run, not once per user.
    """

    def __init__(
        self,
        target: Target,
        *,
        http2: Callable[[], TransportBase] | None = None,
    ) -> None:
        self.target = target
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
