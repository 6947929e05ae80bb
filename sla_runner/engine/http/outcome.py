"""How a request or round trip ended: the outcome vocabulary every transport and channel speaks.

A :class:`Result` may carry the final response itself (:class:`Captured`), when the request
asked to keep it (``HttpRequest.capture``): format 2's extraction reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


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
    EXTRACT_FAILED = "extract_failed"  # a value a step extracts was not in the response
    JSON_MISMATCH = "json_mismatch"  # the response failed an expect.json check
    NOT_SENT = "not_sent"  # a step's request could not be made (a value not set): nothing sent
    ERROR = "error"


class Captured:
    """The final response of a request that asked to keep it: the headers as received (names
    and values as text, latin-1 for HTTP/1.1 bytes; repeated names as separate pairs) and
    the body, decoded (gzip, deflate) and kept up to the request's limit: ``truncated``
    when more came (the rest was read and dropped).

    A transport that reads headers as bytes keeps them so (:meth:`from_bytes`): they are
    decoded on the first read of :attr:`headers`, so a step that extracts from the body
    alone never pays for it."""

    __slots__ = ("_headers", "_raw", "body", "truncated")

    def __init__(
        self, headers: tuple[tuple[str, str], ...], body: bytes = b"", truncated: bool = False
    ) -> None:
        self._headers: tuple[tuple[str, str], ...] | None = headers
        self._raw: list[tuple[bytes, bytes]] | None = None
        self.body = body
        self.truncated = truncated

    @classmethod
    def from_bytes(
        cls, raw: list[tuple[bytes, bytes]], body: bytes = b"", truncated: bool = False
    ) -> Captured:
        """Headers as bytes (HTTP/1.1 latin-1), decoded when first read."""
        kept = cls.__new__(cls)  # every field set here: one step per kept response
        kept._headers, kept._raw, kept.body, kept.truncated = None, raw, body, truncated
        return kept

    @property
    def headers(self) -> tuple[tuple[str, str], ...]:
        headers = self._headers
        if headers is None:
            raw = self._raw or []
            headers = self._headers = tuple(
                (k.decode("latin-1"), v.decode("latin-1")) for k, v in raw
            )
            self._raw = None
        return headers

    def __repr__(self) -> str:
        return f"Captured({self.headers!r}, {self.body!r}, {self.truncated!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Captured):
            return NotImplemented
        mine = (self.headers, self.body, self.truncated)
        return mine == (other.headers, other.body, other.truncated)

    __hash__ = None  # type: ignore[assignment]


@dataclass(slots=True)
class Result:
    """What one request came to. ``detail`` is a short human note for failures;
    ``response`` the final response, when the request asked to keep it and got one."""

    outcome: Outcome
    status: int | None = None
    detail: str = ""
    response: Captured | None = None

    @property
    def key(self) -> str:
        """The counter key: ``ok``, ``timeout``, … or ``status_<code>`` for an unexpected status."""
        outcome = self.outcome
        if outcome is Outcome.STATUS:
            return f"status_{self.status}"
        return outcome._value_  # the member's own attribute: not the enum's descriptor


def failure(outcome: Outcome, exc: BaseException) -> Result:
    """``exc`` as a Result: its detail is the exception's type and message (300 characters
    at most)."""
    return Result(outcome, detail=f"{type(exc).__name__}: {exc}"[:300])


def closed_as_it_opened(exc: BaseException) -> bool:
    """anyio's way (4.x, on uvloop) of saying a connection closed as it opened: asked for a
    socket attribute of a transport that has lost its socket, it raises AttributeError
    (``'NoneType' object has no attribute 'getpeername'``) instead of a connection error.
    httpx passes it through unwrapped; it is a reset by the peer."""
    return isinstance(exc, AttributeError) and "getpeername" in str(exc)


def unclassified(exc: BaseException) -> Result:
    """A failure no transport's own rules name: a socket error (the connection never served)
    is ``connect_error``, anything else ``error``."""
    return failure(Outcome.CONNECT_ERROR if isinstance(exc, OSError) else Outcome.ERROR, exc)
