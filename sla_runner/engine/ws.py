"""WebSocket channels: one virtual user's connection, its round trips and reconnects.

:func:`compile_channel` turns a spec channel into a :class:`WsChannel` once;
:func:`run_channel` keeps one connection open for one user: it sends the message every
``interval``, waits for the reply that matches ``expect`` (skipping others, such as pushed
ticks) and reports each round trip to a :class:`WsSink`, timed from just before the send
to the matching reply. On a drop it reconnects, at most ``channel.reconnect`` times.

Outcome keys reported (see :class:`~sla_runner.engine.http.outcome.Outcome`): ``ok``;
``timeout`` (no matching reply in time; the connection stays); ``ws_closed`` (the
connection closed with the round trip in flight); ``protocol_error`` (the server sent an
invalid frame); ``ws_bad_reply`` (invalid UTF-8 text, or a message over the size limit);
on connecting also ``ws_refused`` (the upgrade was answered with another status),
``connect_error``, ``tls_error``, ``reset``, ``redirect_blocked``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import ssl
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urljoin

import anyio
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import (
    ConnectionClosed,
    InvalidHandshake,
    InvalidMessage,
    InvalidStatus,
    InvalidURI,
)
from websockets.frames import CloseCode
from websockets.typing import Subprotocol

from sla_runner.engine.http.outcome import Outcome
from sla_runner.engine.http.redirects import RedirectPolicy
from sla_runner.engine.http.request import USER_AGENT
from sla_runner.engine.render import (
    NOBODY,
    UnsendableError,
    header_value,
    joined,
    literal,
    url_text,
    value_text,
)
from sla_runner.spec.jsonpath import JsonFields
from sla_runner.spec.models import Channel, ChannelExpect, Target
from sla_runner.spec.templates import (
    RenderState,
    UnsetValueError,
    parse_json_template,
    parse_template,
)

RECONNECT_PAUSE_MAX_S = 1.0
CLOSE_TIMEOUT_S = 1.0
OWED_REPLY_TIMEOUTS = 10  # a late reply is expected for 10 timeouts, then taken as lost

Message = str | bytes
Matcher = Callable[[Message], bool]


class WsSink(Protocol):
    """Where a channel reports; called from the event loop, must not block."""

    def connect(self, name: str, outcome: str, latency_ns: int | None) -> None: ...

    def round_trip(self, name: str, outcome: str, latency_ns: int | None) -> None: ...

    def reconnect(self, name: str) -> None: ...


@dataclass(frozen=True, slots=True)
class WsChannel:
    name: str
    url: str
    message: Message | Callable[[], Message]  # a callable: filled per send (format 2)
    matches: Matcher | None  # None: any next message completes the round trip
    headers: tuple[tuple[str, str], ...]
    subprotocols: tuple[str, ...]
    interval_s: float
    timeout_s: float
    compression: bool
    reconnect: int
    tls: ssl.SSLContext | None  # for wss: URLs, made once and shared by every connection
    policy: RedirectPolicy
    fill: ChannelFill | None = None
    """Format 2: how this channel's templates are filled for one user (:meth:`for_user`);
    ``None``: it holds none, every user opens it as it is."""

    def for_user(self, state: RenderState) -> WsChannel:
        """The channel of the user of ``state``: its URL and headers filled now (once per
        connection's user), its message per send. Raises
        :class:`~sla_runner.spec.templates.UnsetValueError` or
        :class:`~sla_runner.engine.render.UnsendableError`: nothing can be opened."""
        fill = self.fill
        if fill is None:
            return self
        headers = tuple(
            (n, v if isinstance(v, str) else header_value(n, v(state))) for n, v in fill.headers
        )
        message = self.message
        if fill.message is not None:
            fill_message = fill.message
            message = lambda: fill_message(state)  # noqa: E731
        return dataclasses.replace(
            self, url=fill.url(state), headers=headers, message=message, fill=None
        )


@dataclass(frozen=True, slots=True)
class ChannelFill:
    """A channel's templates, compiled once (:func:`compile_filled_channel`)."""

    url: Callable[[RenderState], str]
    headers: tuple[tuple[str, str | Callable[[RenderState], str]], ...]
    message: Callable[[RenderState], Message] | None  # None: the same every send


class Contains:
    """The reply contains this text (or, for a binary reply, its UTF-8 bytes)."""

    __slots__ = ("_raw", "_text")

    def __init__(self, text: str) -> None:
        self._text, self._raw = text, text.encode()

    def __call__(self, message: Message) -> bool:
        if isinstance(message, str):
            return self._text in message
        return self._raw in message


def matcher(expect: ChannelExpect | None) -> Matcher | None:
    if expect is None:
        return None
    checks: list[Matcher] = []
    if expect.contains is not None:
        checks.append(Contains(expect.contains))
    if expect.json_fields is not None:
        checks.append(JsonFields(expect.json_fields))
    if len(checks) == 1:
        return checks[0]
    return lambda message: all(check(message) for check in checks)


def compile_channel(name: str, channel: Channel, target: Target) -> WsChannel:
    """The channel's URL (base URL's http→ws, https→wss), message and reply matcher."""
    if channel.url is not None:
        url = channel.url
    else:
        scheme, _, rest = target.base_url.partition("://")
        url = ("wss" if scheme == "https" else "ws") + "://" + rest + (channel.path or "/")
    if isinstance(channel.send, str):
        message: Message = channel.send
    else:
        message = json.dumps(channel.send, separators=(",", ":"))
    merged = {k.lower(): (k, v) for k, v in [*target.headers.items(), *channel.headers.items()]}
    return WsChannel(
        name=name,
        url=url,
        message=message,
        matches=matcher(channel.expect),
        headers=tuple(merged.values()),
        subprotocols=tuple(channel.subprotocols),
        interval_s=channel.interval.seconds,
        timeout_s=channel.timeout.seconds,
        compression=channel.compression,
        reconnect=channel.reconnect,
        tls=tls_context(target.verify_tls) if url.startswith("wss:") else None,
        policy=RedirectPolicy(target),
    )


def filled_for(channel: WsChannel, state: RenderState, sink: WsSink) -> WsChannel | None:
    """``channel`` filled for the user of ``state``; ``None`` (reported as a connect that
    was ``not_sent``) when a value is not set or a header cannot be sent."""
    try:
        return channel.for_user(state)
    except (UnsetValueError, UnsendableError):
        sink.connect(channel.name, Outcome.NOT_SENT.value, None)
        return None


def compile_filled_channel(name: str, channel: Channel, target: Target) -> WsChannel:
    """A channel whose templates read values: compiled once, filled per user
    (:meth:`WsChannel.for_user`). Values in its path (and in a ``url`` after the host) are
    percent-encoded, as in an endpoint's; header values are sent as filled (one with a line
    break or NUL is never sent); a JSON message keeps a lone value's type."""
    written = compile_channel(name, channel, target)  # the static parts; templates as text
    if channel.url is not None:
        url = url_text(parse_template(channel.url))
    else:
        base = written.url[: len(written.url) - len(channel.path or "/")]
        path = parse_template(channel.path or "/")
        url = joined(
            [base, *(p if isinstance(p, str) else value_text(p, quote=True) for p in path.parts)]
        )
    written_headers = dict(written.headers)
    headers: list[tuple[str, str | Callable[[RenderState], str]]] = []
    for key, text in written_headers.items():
        template = parse_template(text)
        headers.append((key, literal(template) if template.is_static else template.renderer()))
    message: Callable[[RenderState], Message] | None = None
    if isinstance(channel.send, str):
        text_template = parse_template(channel.send)
        message = None if text_template.is_static else text_template.renderer()
        static: Message = literal(text_template)
    else:
        json_template = parse_json_template(channel.send)
        if not json_template.is_static:
            message = lambda state: json.dumps(  # noqa: E731
                json_template.render(state), separators=(",", ":")
            )
        shown = json_template.render(NOBODY) if message is None else channel.send
        static = json.dumps(shown, separators=(",", ":"))
    fill = ChannelFill(url, tuple(headers), message)
    return dataclasses.replace(written, message=static, fill=fill)


class RedirectBlockedError(Exception):
    """A redirect of the upgrade to a host the target does not allow."""


class _Connect(connect):
    """websockets' connect, following redirects only where the target's policy allows."""

    policy: RedirectPolicy

    def process_redirect(self, exc: Exception) -> Exception | str:
        following = super().process_redirect(exc)
        if isinstance(following, str) and not (
            self.policy.follow and self.policy.allows(urljoin(self.uri, following))
        ):
            return RedirectBlockedError(f"redirect to {following}")
        return following


async def run_channel(ch: WsChannel, sink: WsSink, *, stop: anyio.Event | None = None) -> None:
    """One user's connection to ``ch`` until ``stop`` is set, cancellation, or reconnects run out.

    Every connection attempt after the first is reported as a reconnect. On ``stop`` no new
    round trip starts, the one in flight completes (within the timeout) and the connection
    is closed politely; on cancellation the socket is closed at once.
    """
    reconnects = 0
    while True:
        connection = await _connect(ch, sink)
        if connection is not None:
            try:
                await _converse(connection, ch, sink, stop)
            except BaseException:
                connection.transport.abort()  # cancelled: no close handshake, no waiting
                raise
            await connection.close()
        if _stopped(stop) or reconnects >= ch.reconnect:
            return
        reconnects += 1
        sink.reconnect(ch.name)
        await _pause(min(ch.interval_s, RECONNECT_PAUSE_MAX_S), stop)
        if _stopped(stop):
            return


def opener(ch: WsChannel) -> connect:
    """The connection a user opens to ``ch`` (``await`` it): its headers, subprotocols,
    compression, TLS context, timeout and redirect policy."""
    extra: dict[str, Any] = {"ssl": ch.tls} if ch.tls is not None else {}
    opening = _Connect(
        ch.url,
        additional_headers=list(ch.headers),
        subprotocols=[Subprotocol(p) for p in ch.subprotocols] or None,
        compression="deflate" if ch.compression else None,
        user_agent_header=USER_AGENT,
        proxy=None,
        open_timeout=ch.timeout_s,
        close_timeout=CLOSE_TIMEOUT_S,
        **extra,
    )
    opening.policy = ch.policy
    return opening


async def _connect(ch: WsChannel, sink: WsSink) -> ClientConnection | None:
    started = time.monotonic_ns()
    outcome = Outcome.OK
    connection: ClientConnection | None = None
    try:
        connection = await opener(ch)
    except InvalidStatus:
        outcome = Outcome.WS_REFUSED
    except InvalidMessage as exc:  # not a valid HTTP response to the upgrade
        cut = isinstance(exc.__cause__, (EOFError, ConnectionError))
        outcome = Outcome.RESET if cut else Outcome.PROTOCOL_ERROR
    except InvalidHandshake:  # answered 101 but not a proper upgrade
        outcome = Outcome.WS_REFUSED
    except RedirectBlockedError:
        outcome = Outcome.REDIRECT_BLOCKED
    except TimeoutError:
        outcome = Outcome.TIMEOUT
    except ssl.SSLError:
        outcome = Outcome.TLS_ERROR
    except ConnectionResetError:
        outcome = Outcome.RESET
    except OSError:
        outcome = Outcome.CONNECT_ERROR
    except (InvalidURI, ValueError):
        outcome = Outcome.ERROR
    # A refused or failed connect has no connect time: its quick failure must not make
    # ws_connect look fast. A timeout took at least the time waited.
    timed = outcome in (Outcome.OK, Outcome.TIMEOUT)
    sink.connect(ch.name, outcome.value, time.monotonic_ns() - started if timed else None)
    return connection


async def _converse(
    connection: ClientConnection, ch: WsChannel, sink: WsSink, stop: anyio.Event | None
) -> None:
    """Round trips on one connection until it drops or ``stop`` is set.

    A reply that comes after its round trip timed out is still owed: the next matching
    message is taken as that late reply, not as the answer to the message just sent
    (which would time the wrong reply and make a slow service look fast). A reply still
    owed after ``OWED_REPLY_TIMEOUTS`` timeouts is taken as lost.
    """
    name, matches, timeout_s = ch.name, ch.matches, ch.timeout_s
    fixed, fill = ch.message, None if not callable(ch.message) else ch.message
    owed: deque[int] = deque()  # when each owed reply stops being expected (monotonic ns)
    forget_ns = round(OWED_REPLY_TIMEOUTS * timeout_s * 1e9)
    next_send_ns = time.monotonic_ns()
    while not _stopped(stop):
        wait_ns = next_send_ns - time.monotonic_ns()
        if wait_ns > 0:
            await _pause(wait_ns / 1e9, stop)
            if _stopped(stop):
                return
        started = time.monotonic_ns()
        next_send_ns = started + round(ch.interval_s * 1e9)
        try:
            # asyncio's own timeout: half the cost of anyio's cancel scope (~5 µs of ~40 µs
            # per round trip); the engine runs on asyncio only.
            async with asyncio.timeout(timeout_s):
                await connection.send(fixed if fill is None else fill())  # type: ignore[arg-type]
                while True:
                    reply = await connection.recv()
                    if matches is not None and not matches(reply):
                        continue
                    now = time.monotonic_ns()
                    while owed and owed[0] < now:
                        owed.popleft()
                    if not owed:
                        break
                    owed.popleft()  # the late answer to an earlier message
        except TimeoutError:
            sink.round_trip(name, Outcome.TIMEOUT.value, time.monotonic_ns() - started)
            owed.append(started + forget_ns)
            continue
        except ConnectionClosed as exc:
            sink.round_trip(name, _closed(exc).value, None)
            return
        sink.round_trip(name, Outcome.OK.value, time.monotonic_ns() - started)


def _closed(exc: ConnectionClosed) -> Outcome:
    """Why a connection closed under a round trip: a bad frame we refused, or a drop."""
    if exc.rcvd is None and exc.sent is not None:  # we closed it: the server broke the protocol
        if exc.sent.code == CloseCode.PROTOCOL_ERROR:
            return Outcome.PROTOCOL_ERROR
        if exc.sent.code in (CloseCode.INVALID_DATA, CloseCode.MESSAGE_TOO_BIG):
            return Outcome.WS_BAD_REPLY
    return Outcome.WS_CLOSED


def _stopped(stop: anyio.Event | None) -> bool:
    return stop is not None and stop.is_set()


async def _pause(seconds: float, stop: anyio.Event | None) -> None:
    if seconds <= 0:
        return
    if stop is None:
        await anyio.sleep(seconds)
        return
    with anyio.move_on_after(seconds):
        await stop.wait()


def tls_context(verify: bool) -> ssl.SSLContext:
    """Loading the CA bundle takes ~15 ms: done once per channel, not once per connection."""
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
