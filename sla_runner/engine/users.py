"""The closed model: virtual users, as many as the scenario's timeline holds at each moment.

A controller keeps ``timeline.users_at(t)`` users alive. Each user has its own HTTP session
(its own connection, as a real client has), holds its scenario's channels open, and loops
over the endpoint mix with think time, or (format 2, through the step layer) runs its setup
once and then passes through the flow (:mod:`sla_runner.engine.flows`). Users
leaving on a ramp-down finish their current request first, but stop thinking at once. A user
whose connection was refused or reset backs off before its next request.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Mapping, Sequence
from functools import partial

import anyio
from anyio.abc import TaskGroup

from sla_runner.engine.executor import CONTROL_TICK_S, Clock, RunContext, Sink
from sla_runner.engine.flows import (
    BACKOFF_FIRST_S,
    BACKOFF_MAX_S,
    FlowStep,
    Pauses,
    ScenarioSteps,
    setup_user,
    user_passes,
)
from sla_runner.engine.http.outcome import Outcome
from sla_runner.engine.http.request import HttpRequest
from sla_runner.engine.http.session import HttpSession
from sla_runner.engine.leaving import Leaving, TimerWheel
from sla_runner.engine.ws import WsChannel, filled_for, run_channel
from sla_runner.spec.templates import RenderState
from sla_runner.timeline import Timeline


class _User:
    __slots__ = ("leaving", "uid")

    def __init__(self, uid: int, wheel: TimerWheel) -> None:
        self.uid = uid
        self.leaving = Leaving(wheel)


def start_offsets(count: int, spread_s: float) -> list[float]:
    """When each of ``count`` users started at one instant sends its first request, in
    seconds from that instant: evenly over ``spread_s`` (the first at once), so a jump in
    the plan's users is no burst of connects and no crowd that goes on in step."""
    return [spread_s * i / count for i in range(count)]


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


LEAVE_SPREAD_S = 0.00005  # per user told to leave at one instant: 10,000 users over 0.5 s
LEAVE_SPREAD_CHANNEL_S = 0.0002  # and per channel it holds (a WebSocket close handshake)


def _leave(users: Sequence[_User], each_s: float) -> None:
    """Tell ``users`` to leave at once; those in a pause are woken spread out over
    ``each_s`` each (closing 1,000 users' connections in one loop iteration stalled the loop
    ~40 ms), newest first."""
    offsets = start_offsets(len(users), len(users) * each_s)
    for user, offset in zip(reversed(users), offsets, strict=True):
        user.leaving.set(wake_in=offset)


def _hold_nothing(channel: WsChannel, state: RenderState) -> None:
    """``hold`` of a user without channels: never called."""
    raise AssertionError(f"channel {channel.name} held by a user of no channels")


class ClosedUsers:
    """The closed-model executor of one scenario. ``think_s``: the think time's bounds in
    seconds (drawn uniformly between them after each request; ``(0, 0)``: none).
    ``steps``: the scenario's steps through the step layer (format 2), instead of
    ``requests`` sent as they are."""

    def __init__(
        self,
        plan: Timeline,
        requests: Mapping[str, HttpRequest],
        channels: Sequence[WsChannel],
        think_s: tuple[float, float],
        *,
        seed: int | None = None,
        steps: ScenarioSteps | None = None,
    ) -> None:
        self._plan = plan
        self._requests = requests
        self._channels = channels
        self._think_s = think_s
        self._rng = random.Random(seed)
        self._held = 0
        self._steps = steps
        self.refused = 0  # users not started: a unique table ran out

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
        wheel = TimerWheel(asyncio.get_running_loop())  # every user's pauses
        spread_s = self._think_s[0] or CONTROL_TICK_S
        leave_s = LEAVE_SPREAD_S + LEAVE_SPREAD_CHANNEL_S * len(self._channels)
        next_uid = 0
        while not stop.is_set():
            now = ctx.now()
            if now >= plan.duration_ns:
                break
            want = plan.users_at(now)
            if len(users) < want:
                for offset in start_offsets(want - len(users), spread_s):
                    user = _User(next_uid, wheel)
                    next_uid += 1
                    users.append(user)
                    tg.start_soon(self._user, ctx, channel_sink, user, offset)
            if len(users) > want:
                _leave(users[want:], leave_s)
                del users[want:]
            ctx.sink.users(self._held, now)
            await anyio.sleep(CONTROL_TICK_S)
        _leave(users, leave_s)

    async def _user(
        self, ctx: RunContext, channel_sink: _ChannelSink, user: _User, offset_s: float
    ) -> None:
        work = self._steps is not None or bool(self._requests)
        session = ctx.transport.session(connections=1) if work else None
        channels = self._channels
        self._held += 1
        try:
            # A user of channels alone holds them until it leaves, or until every channel
            # has given up reconnecting: then it holds nothing and is not counted.
            if len(channels) == 1 and session is None:  # in the user's own task
                await run_channel(channels[0], channel_sink, stop=user.leaving.event)
            elif channels:
                async with anyio.create_task_group() as tg:
                    stop = user.leaving.event

                    def hold(channel: WsChannel, state: RenderState | None = None) -> None:
                        opened = (
                            channel if state is None else filled_for(channel, state, channel_sink)
                        )
                        if opened is not None:  # None: not filled for this user (reported)
                            tg.start_soon(partial(run_channel, opened, channel_sink, stop=stop))

                    for channel in channels:
                        if channel.fill is None:  # one filled per user opens after its setup
                            hold(channel)
                    if session is not None:
                        await self._work(ctx, session, user, offset_s, hold)
            elif session is not None:  # one task per user, no task group of its own
                await self._work(ctx, session, user, offset_s, _hold_nothing)
        finally:
            self._held -= 1
            ctx.sink.users(self._held, ctx.now())  # also after the controller stopped
            if session is not None:
                with anyio.CancelScope(shield=True):
                    await session.aclose()

    async def _work(
        self,
        ctx: RunContext,
        session: HttpSession,
        user: _User,
        offset_s: float,
        hold: Callable[[WsChannel, RenderState], None],
    ) -> None:
        """The user's requests or steps, the first ``offset_s`` after it started; ``hold``
        opens a channel filled from the user's values."""
        if offset_s > 0 and await user.leaving.pause(offset_s):
            return
        if self._steps is not None:
            await self._steps_of(ctx, session, user, self._steps, hold)
        else:
            await self._iterate(ctx, session, user)

    async def _iterate(self, ctx: RunContext, session: HttpSession, user: _User) -> None:
        plan, requests, sink = self._plan, self._requests, ctx.sink
        lo, hi = self._think_s
        ok, refused, reset = Outcome.OK, Outcome.CONNECT_ERROR, Outcome.RESET
        longest = hi if hi > 0 else BACKOFF_MAX_S
        first = backoff = min(BACKOFF_FIRST_S, longest)
        i, leaving = user.uid, user.leaving
        while not leaving.is_set():
            request = requests[plan.endpoint_for(i)]
            i += 1
            start = ctx.now()
            result = await ctx.send(session, request)
            ctx.record(request, result, start, start)
            if result.outcome is not ok:  # the one check a success pays
                if result.outcome is refused or result.outcome is reset:
                    if leaving.is_set():
                        break
                    sink.backoff()
                    await leaving.pause(backoff)  # not timed: the next request starts after
                    backoff = min(backoff * 2, longest)
                else:  # answered: the connection works
                    backoff = first
            else:
                backoff = first
            if hi > 0:  # think, unless told to leave meanwhile
                await leaving.pause(lo if lo == hi else self._rng.uniform(lo, hi))

    async def _steps_of(
        self,
        ctx: RunContext,
        session: HttpSession,
        user: _User,
        work: ScenarioSteps,
        hold: Callable[[WsChannel, RenderState], None],
    ) -> None:
        """The user's setup, then its channels filled from its values (``hold`` opens one),
        then its passes, through the step layer."""
        state = work.layer.new_user(user.uid)
        if state is None:  # a unique table ran out: the user does not start
            self.refused += 1
            return
        pauses = Pauses(self._think_s, self._rng, user.leaving)
        if work.setup and not await setup_user(ctx, work, state, session, pauses):
            return
        for channel in self._channels:
            if channel.fill is not None:
                hold(channel, state)
        if work.flow is None and work.mix is None:
            return  # channels alone: held until the user leaves
        mix_step = None
        if work.mix is not None:
            mix, plan = work.mix, self._plan

            def mix_step(i: int) -> FlowStep:
                return mix[plan.endpoint_for(i)]

        await user_passes(ctx, work, state, session, pauses, mix_step, user.uid)
