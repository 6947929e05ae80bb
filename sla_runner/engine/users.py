"""The closed model: virtual users, as many as the scenario's timeline holds at each moment.

A controller keeps ``timeline.users_at(t)`` users alive. Each user has its own HTTP session
(its own connection, as a real client has), holds its scenario's channels open, and loops
over the endpoint mix with think time, or (format 2, through the step layer) runs its setup
once and then passes through the flow (:mod:`sla_runner.engine.flows`). Users
leaving on a ramp-down finish their current request first, but stop thinking at once. A user
whose connection was refused or reset backs off before its next request.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
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
from sla_runner.engine.ws import WsChannel, filled_for, run_channel
from sla_runner.spec.templates import RenderState
from sla_runner.timeline import Timeline


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

                def hold(channel: WsChannel, state: RenderState | None = None) -> None:
                    opened = channel if state is None else filled_for(channel, state, channel_sink)
                    if opened is not None:  # None: not filled for this user (reported)
                        tg.start_soon(partial(run_channel, opened, channel_sink, stop=user.leaving))

                for channel in self._channels:
                    if channel.fill is None:  # one filled per user opens after its setup
                        hold(channel)
                if self._steps is not None:
                    await self._steps_of(ctx, session, user, self._steps, hold)
                elif self._requests:
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
