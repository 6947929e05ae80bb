"""The open model: arrivals at the plan's rate, whatever the service's pace.

A pacer starts arrival ``k`` at its due time (``plan.segment_arrival``), on one shared
session; latency is measured from the due time, not from when the generator got round to
it, so a slow generator cannot hide a slow service (coordinated omission). Arrivals that
find ``max_in_flight`` requests open are dropped and counted; arrivals started later than
``LATE_BOUND_NS`` are counted late.
"""

from __future__ import annotations

from collections.abc import Mapping

import anyio
from anyio.abc import TaskGroup

from sla_runner.engine.executor import RunContext
from sla_runner.engine.http.request import HttpRequest
from sla_runner.engine.http.session import HttpSession
from sla_runner.plan import Plan

LATE_BOUND_NS = 10_000_000  # an arrival started more than 10 ms after its due time is late
# uvloop's timers count whole milliseconds: a sleep ends up to ~1 ms off. The pacer aims
# this much before the due time, so a send is rarely more than 0.5 ms late; one sent early
# is timed from its actual send (see ``_arrival``).
TIMER_SLACK_NS = 500_000


class OpenArrivals:
    """The open-model executor: at most ``max_in_flight`` requests open at once."""

    def __init__(self, plan: Plan, requests: Mapping[str, HttpRequest], max_in_flight: int) -> None:
        self._plan = plan
        self._requests = requests
        self._limit = max_in_flight
        self._in_flight = 0

    @property
    def active(self) -> int:
        return self._in_flight

    async def run(self, ctx: RunContext) -> None:
        session = ctx.transport.session(connections=self._limit)
        try:
            async with anyio.create_task_group() as arrivals:
                await self._pace(ctx, session, arrivals)
                await ctx.drain(lambda: self._in_flight == 0)
                arrivals.cancel_scope.cancel()  # before the session closes under them
        finally:
            with anyio.CancelScope(shield=True):
                await session.aclose()

    async def _pace(self, ctx: RunContext, session: HttpSession, arrivals: TaskGroup) -> None:
        """Start each arrival at its due time until the plan's end, or until stopped."""
        plan, sink, stop, limit = self._plan, ctx.sink, ctx.control.stop, self._limit
        n = 0
        try:
            while not stop.is_set():
                nxt = plan.segment_arrival(n)
                if nxt is None:
                    # No more arrivals, but the plan may go on (a cool-down at 0/s, sampled
                    # like any stage): so does the run, unless stopped.
                    with anyio.move_on_after(max(plan.duration_ns - ctx.now(), 0) / 1e9):
                        await stop.wait()
                    break
                k, due = nxt
                now = ctx.now()
                if due - now > TIMER_SLACK_NS:
                    await anyio.sleep((due - now - TIMER_SLACK_NS) / 1e9)
                    if stop.is_set():
                        break  # stopped while it waited: this arrival is not made
                    now = ctx.now()
                n += 1  # an arrival is planned once it is started or dropped
                if self._in_flight >= limit:
                    sink.dropped(now)
                    continue
                lateness = now - due
                sink.send_lateness(lateness, now, late=lateness > LATE_BOUND_NS)
                self._in_flight += 1
                sink.users(self._in_flight, now)
                request = self._requests[plan.arrival_endpoint(k)]
                arrivals.start_soon(self._arrival, ctx, session, request, due)
        finally:
            sink.arrivals_planned(n)  # also when stopped early

    async def _arrival(
        self, ctx: RunContext, session: HttpSession, request: HttpRequest, due: int
    ) -> None:
        # From the due time when the send was late (no coordinated omission); from the send
        # itself when the loop's timer fired it a little early.
        start = min(ctx.now(), due)
        try:
            result = await ctx.send(session, request)
        finally:
            self._in_flight -= 1
        end = ctx.record(request, result, start, due)
        ctx.sink.users(self._in_flight, end)  # what a quiet second after it carries
