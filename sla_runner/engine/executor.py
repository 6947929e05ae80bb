"""The executor interface: one load model drives its own plan into the run's shared sink.

An executor (k6's ``lib/executor``: one per load model) is built with what is its own — its
plan (timeline), its compiled requests and channels, its model's settings — and run with a
:class:`RunContext`, what every executor of a run shares: the clock, the sink it writes to,
the transport, the control, and how long in-flight work may take to drain. It never builds
or reads the metrics engine, so executors of different models can share one recorder and
one clock (:mod:`sla_runner.engine.lifecycle` runs them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import anyio

from sla_runner.engine.control import RunControl
from sla_runner.engine.http.outcome import Outcome, Result
from sla_runner.engine.http.request import HttpRequest
from sla_runner.engine.http.session import HttpSession, HttpTransport

Clock = Callable[[], int]
"""Nanoseconds since the start of the run."""

CONTROL_TICK_S = 0.01  # how often a controller looks again (users to adjust, work to drain)
# Timed: a request that got a response (any status, any body) or timed out (the time waited).
# Format 2's checks of a response (its JSON fields, a value extracted) are timed too.
TIMED = frozenset(
    {Outcome.OK, Outcome.STATUS, Outcome.BODY_MISMATCH, Outcome.TIMEOUT}
    | {o for o in Outcome if o.value in ("json_mismatch", "extract_failed")}
)


class Sink(Protocol):
    """What an executor writes to (the run's :class:`~sla_runner.metrics.recorder.Recorder`).
    Times are the clock's; every call is made from the event loop and must not block."""

    def request(
        self, metric: str, scope: str, key: str, latency_ns: int | None, start_ns: int, end_ns: int
    ) -> None:
        """One HTTP request, WebSocket round trip or connect ended with outcome ``key``."""

    def passed(self, key: str, took_ns: int | None, start_ns: int, end_ns: int) -> None:
        """One pass through the scenario's flow ended ``key`` (metric ``flow``), its time
        ``took_ns`` when it ran through."""

    def users(self, held: int, t_ns: int) -> None:
        """Users held (closed model) or requests in flight (open model) from ``t_ns``."""

    def backoff(self) -> None:
        """A user paused before its next request: its connection was refused or reset."""

    def reconnect(self, channel: str) -> None:
        """A channel's connection dropped and is opened again."""

    def send_lateness(self, lateness_ns: int, t_ns: int, *, late: bool) -> None:
        """An arrival was sent ``lateness_ns`` after it was due."""

    def dropped(self, t_ns: int) -> None:
        """An arrival found ``max_in_flight`` requests open and was not sent."""

    def arrivals_planned(self, count: int) -> None:
        """The arrivals an executor's plan asked for up to its end (or its stop)."""

    def reason(self, key: str, text: str) -> None:
        """Why a pass of the scenario's flow failed as ``key`` (``<step>:<kind>``)."""


@dataclass(eq=False)
class RunContext:
    """What the executors of one run share. ``interrupted`` counts the requests cut by the
    hard stop (cancelled in flight), which no executor records."""

    now: Clock
    sink: Sink
    transport: HttpTransport
    control: RunControl
    drain_s: float
    """How long in-flight work gets at the end: ``load.graceful_stop``, at least the longest
    timeout (so the slowest requests are never the ones left out of the figures)."""
    interrupted: int = 0

    async def send(self, session: HttpSession, request: HttpRequest) -> Result:
        try:
            return await session.send(request)
        except anyio.get_cancelled_exc_class():
            self.interrupted += 1
            raise

    def record(self, request: HttpRequest, result: Result, timed_from: int, due: int) -> int:
        """One request done: timed from ``timed_from`` if it got an answer or timed out, in
        the stage it was ``due`` in. Returns when it was done."""
        return self.record_as(request.name, result, timed_from, due)

    def record_as(self, endpoint: str, result: Result, timed_from: int, due: int) -> int:
        """As :meth:`record`, for a request of ``endpoint``."""
        end = self.now()
        latency = end - timed_from if result.outcome in TIMED else None
        self.sink.request("http", endpoint, result.key, latency, due, end)
        return end

    async def drain(self, done: Callable[[], bool]) -> None:
        """Let in-flight work finish, for ``drain_s`` at most."""
        with anyio.move_on_after(self.drain_s):
            while not done():
                await anyio.sleep(CONTROL_TICK_S)


class Executor(Protocol):
    """One load model over its own plan, requests and channels."""

    refused: int
    """Users (or arrivals) not started because a ``unique`` data table ran out."""

    @property
    def active(self) -> int:
        """Users held or requests in flight: what a stop gives a short grace to finish."""
        ...

    async def run(self, ctx: RunContext) -> None:
        """Drive the plan to its end, or until ``ctx.control.stop``; let what is in flight
        finish (``ctx.drain``), then return. Cancelled by the hard stop."""
        ...
