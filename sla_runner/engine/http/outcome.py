"""How a request or round trip ended: the outcome vocabulary every transport and channel speaks."""

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
    ERROR = "error"


@dataclass(slots=True)
class Result:
    """What one request came to. ``detail`` is a short human note for failures."""

    outcome: Outcome
    status: int | None = None
    detail: str = ""

    @property
    def key(self) -> str:
        """The counter key: ``ok``, ``timeout``, … or ``status_<code>`` for an unexpected status."""
        if self.outcome is Outcome.STATUS:
            return f"status_{self.status}"
        return self.outcome.value


def failure(outcome: Outcome, exc: BaseException) -> Result:
    """``exc`` as a Result: its detail is the exception's type and message (300 characters
    at most)."""
    return Result(outcome, detail=f"{type(exc).__name__}: {exc}"[:300])


def unclassified(exc: BaseException) -> Result:
    """A failure no transport's own rules name: a socket error (the connection never served)
    is ``connect_error``, anything else ``error``."""
    return failure(Outcome.CONNECT_ERROR if isinstance(exc, OSError) else Outcome.ERROR, exc)
