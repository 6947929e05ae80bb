"""The closed model: virtual users, as many as the plan holds at each moment.

A controller keeps ``plan.users_at(t)`` users alive. Each user has its own HTTP session (its
own connection, as a real client has), holds every declared channel open, and loops over the
endpoint mix with think time. Users leaving on a ramp-down finish their current request
first, but stop thinking at once. A user whose connection was refused or reset backs off
before its next request.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial

import anyio
from anyio.abc import TaskGroup

from sla_runner.engine.executor import CONTROL_TICK_S, Clock, RunContext, Sink
from sla_runner.engine.http.outcome import Outcome
from sla_runner.engine.http.request import HttpRequest
from sla_runner.engine.http.session import HttpSession
from sla_runner.engine.ws import WsChannel, run_channel
from sla_runner.plan import Plan

# A user whose connection was refused or reset pauses before its next request, as a real
# client does: 10 ms, doubling up to its think time (1 s when it has none), back to 10 ms
# after any answer. A dead service must not turn the users into a busy loop.
BACKOFF_FIRST_S = 0.01
BACKOFF_MAX_S = 1.0


@dataclass
class _User:
    uid: int
    leaving: anyio.Event = field(default_factory=anyio.Event)


class _ChannelSink:
    """Routes the WebSocket client's reports into the sink, timed by the run's clock."""

    def __init__(self, sink: Sink, now: Clock) -> None:
        self._sink = sink
        self._now = now

    def connect(self, name: str, outcome_key: str, latency_ns: int | None) -> None:
        self._report("ws_connect", name, outcome_key, latency_ns)

    def round_trip(self, name: str, outcome_key: str, latency_ns: int | None) -> None:
        self._report("ws", name, outcome_key, latency_ns)

    def _report(self, metric: str, name: str, outcome_key: str, latency_ns: int | None) -> None:
        end = self._now()
        self._sink.request(metric, name, outcome_key, latency_ns, end - (latency_ns or 0), end)

    def reconnect(self, name: str) -> None:
        self._sink.reconnect(name)


class ClosedUsers:
    """The closed-model executor. ``think_s``: the think time's bounds in seconds (drawn
    uniformly between them after each request; ``(0, 0)``: none)."""

    def __init__(
        self,
        plan: Plan,
        requests: Mapping[str, HttpRequest],
        channels: Sequence[WsChannel],
        think_s: tuple[float, float],
        *,
        seed: int | None = None,
    ) -> None:
        self._plan = plan
        self._requests = requests
        self._channels = channels
        self._think_s = think_s
        self._rng = random.Random(seed)
        self._held = 0

    @property
    def active(self) -> int:
        return self._held

    async def run(self, ctx: RunContext) -> None:
        async with anyio.create_task_group() as users:
            await self._control(ctx, users)
            await ctx.drain(lambda: self._held == 0)
            users.cancel_scope.cancel()

    async def _control(self, ctx: RunContext, tg: TaskGroup) -> None:
        """Start and stop users to follow the plan until its end, or until stopped."""
        plan, users, stop = self._plan, list[_User](), ctx.control.stop
        channel_sink = _ChannelSink(ctx.sink, ctx.now)
        next_uid = 0
        while not stop.is_set():
            now = ctx.now()
            if now >= plan.duration_ns:
                break
            want = plan.users_at(now)
            while len(users) < want:
                user = _User(next_uid)
                next_uid += 1
                users.append(user)
                tg.start_soon(self._user, ctx, channel_sink, user)
            while len(users) > want:
                users.pop().leaving.set()
            ctx.sink.users(self._held, now)
            await anyio.sleep(CONTROL_TICK_S)
        for user in users:
            user.leaving.set()

    async def _user(self, ctx: RunContext, channel_sink: _ChannelSink, user: _User) -> None:
        session = ctx.transport.session(connections=1)
        self._held += 1
        try:
            async with anyio.create_task_group() as tg:
                for channel in self._channels:
                    tg.start_soon(partial(run_channel, channel, channel_sink, stop=user.leaving))
                if self._requests:
                    await self._iterate(ctx, session, user)
                # A user of channels alone holds them until it leaves, or until every
                # channel has given up reconnecting: then it holds nothing and is not counted.
        finally:
            self._held -= 1
            ctx.sink.users(self._held, ctx.now())  # also after the controller stopped
            with anyio.CancelScope(shield=True):
                await session.aclose()

    async def _iterate(self, ctx: RunContext, session: HttpSession, user: _User) -> None:
        plan, requests, sink = self._plan, self._requests, ctx.sink
        lo, hi = self._think_s
        ok, refused, reset = Outcome.OK, Outcome.CONNECT_ERROR, Outcome.RESET
        longest = hi if hi > 0 else BACKOFF_MAX_S
        first = backoff = min(BACKOFF_FIRST_S, longest)
        i = user.uid
        while not user.leaving.is_set():
            request = requests[plan.endpoint_for(i)]
            i += 1
            start = ctx.now()
            result = await ctx.send(session, request)
            ctx.record(request, result, start, start)
            if result.outcome is not ok:  # the one check a success pays
                if result.outcome is refused or result.outcome is reset:
                    if user.leaving.is_set():
                        break
                    sink.backoff()
                    with anyio.move_on_after(backoff):  # not timed: the next request starts after
                        await user.leaving.wait()
                    backoff = min(backoff * 2, longest)
                else:  # answered: the connection works
                    backoff = first
            else:
                backoff = first
            if hi > 0:  # think, unless told to leave meanwhile
                with anyio.move_on_after(lo if lo == hi else self._rng.uniform(lo, hi)):
                    await user.leaving.wait()
