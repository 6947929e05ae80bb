"""The open model: arrivals at the scenario's rate, whatever the service's pace.

A pacer starts arrival ``k`` at its due time (``timeline.segment_arrival``), on one shared
session. An arrival sends one request of the mix or (format 2, through the step layer) is
one new user's setup and one pass through the flow, or one step of the mix. Latency is
measured from the due time, not from when the generator got round to it, so a slow
generator cannot hide a slow service (coordinated omission). Arrivals that
find ``max_in_flight`` requests open are dropped and counted; arrivals started later than
``LATE_BOUND_NS`` are counted late.
"""

from __future__ import annotations

import random
from collections.abc import Mapping

import anyio
from anyio.abc import TaskGroup

from sla_runner.engine.executor import RunContext
from sla_runner.engine.flows import (
    Pauses,
    ScenarioSteps,
    StopLeave,
    record_pass,
    run_steps,
    send,
)
from sla_runner.engine.http.request import HttpRequest
from sla_runner.engine.http.session import HttpSession
from sla_runner.timeline import Timeline

LATE_BOUND_NS = 10_000_000  # an arrival started more than 10 ms after its due time is late
# uvloop's timers count whole milliseconds: a sleep ends up to ~1 ms off. The pacer aims
# this much before the due time, so a send is rarely more than 0.5 ms late; one sent early
# is timed from its actual send (see ``_arrival``).
TIMER_SLACK_NS = 500_000


class OpenArrivals:
    """The open-model executor of one scenario: at most ``max_in_flight`` arrivals open at
    once. ``steps``: the scenario's steps through the step layer (format 2), instead of
    ``requests`` sent as they are."""

    def __init__(
        self,
        plan: Timeline,
        requests: Mapping[str, HttpRequest],
        max_in_flight: int,
        *,
        steps: ScenarioSteps | None = None,
        seed: int | None = None,
    ) -> None:
        self._plan = plan
        self._requests = requests
        self._limit = max_in_flight
        self._in_flight = 0
        self._steps = steps
        self._rng = random.Random(seed)
        self.refused = 0  # arrivals not made: a unique table ran out

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
                if self._steps is not None:
                    arrivals.start_soon(self._user, ctx, session, self._steps, k, due)
                    continue
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

    async def _user(
        self, ctx: RunContext, session: HttpSession, work: ScenarioSteps, k: int, due: int
    ) -> None:
        """Arrival ``k`` through the step layer: a new user's setup (once: a failing one
        ends the arrival) and one pass, its first step timed from the due time."""
        try:
            state = work.layer.new_user(k)
            if state is None or not work.layer.next_pass(state):
                self.refused += 1
                return
            stop = StopLeave(ctx.control.stop)
            pauses = Pauses((0.0, 0.0), self._rng, stop, backoff=False)
            if work.setup:
                key, *_ = await run_steps(ctx, work, work.setup, state, session, pauses, due=due)
                if key != "ok":
                    return
                due = ctx.now()  # the pass starts after the setup
            if work.mix is not None:
                step = work.mix[self._plan.arrival_endpoint(k)]
                await send(ctx, work.layer, step, state, session, due, due)
                return
            key, took, _start, end = await run_steps(
                ctx, work, work.flow or (), state, session, pauses, due=due
            )
            record_pass(ctx, key, took, due, end)
        finally:
            self._in_flight -= 1
            ctx.sink.users(self._in_flight, ctx.now())
