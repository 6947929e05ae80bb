"""A user's passes through its scenario's steps: what the executors run for format 2.

One step is one endpoint's request, sent by the step layer for one user (its templates
filled from the user's values, its response's values extracted, its JSON checked); the
executor times and records it, as it does a plain request. Here, in one place for both
executors:

- ``setup`` (once per user, before its first pass): a failing step is counted and the
  setup starts over after think time, until it holds or the user leaves.
- a pass: the ``flow``'s steps in order, each followed by its think time (the step's own,
  else the scenario's). A failing step (an unexpected status, body or JSON check, an
  extraction that finds nothing, a request that failed) ends the pass: it is counted per
  endpoint and per flow, the user thinks and starts a new pass. With a ``mix`` a pass is one
  request of the weighted mix.
- the flow's metric ``flow.<scenario>``: one pass, its steps' time added up (think time
  excluded), ``ok`` when every step held, else ``<step>:<kind>`` (the first reason given for
  each is kept for the findings). A pass's latency is recorded when it ran through.
- a user whose connection was refused or reset backs off before its next request, as a
  plain user does (:data:`BACKOFF_FIRST_S`).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import anyio

from sla_runner.engine.executor import TIMED, RunContext
from sla_runner.engine.http.outcome import Outcome, Result
from sla_runner.engine.http.request import HttpRequest
from sla_runner.engine.http.session import HttpSession

# A user whose connection was refused or reset pauses before its next request, as a real
# client does: 10 ms, doubling up to its think time (1 s when it has none), back to 10 ms
# after any answer. A dead service must not turn the users into a busy loop.
BACKOFF_FIRST_S = 0.01
BACKOFF_MAX_S = 1.0

Think = tuple[float, float]  # seconds: drawn uniformly between them; (0, 0): none


class StepLayer(Protocol):
    """What the executors need of the step layer, for one scenario."""

    def new_user(self, uid: int) -> Any | None:
        """A new user's state (its ``user`` rows dealt), or None: a unique table ran out."""

    def next_pass(self, state: Any) -> bool:
        """Deal the next pass's rows; False: a unique table ran out."""

    def prepare(self, step: Any, state: Any) -> HttpRequest | Result:
        """The request ``step`` sends for the user of ``state``, or its ``not_sent`` result
        (a value to fill was not set): nothing is sent, no request to record."""

    def finish(self, step: Any, result: Result, state: Any) -> Result:
        """What the transport's ``result`` comes to: the step's checks and extractions."""

    def reason(self, step: Any, result: Result) -> str:
        """Why ``step`` failed as ``result`` (one short line; asked of failures only)."""


@dataclass(frozen=True)
class FlowStep:
    """One step as the executors run it."""

    name: str  # the endpoint whose request it sends
    think: Think  # the pause after it
    compiled: Any  # the step layer's compiled step
    # Its one request when it fills nothing: sent through the user's session (with its
    # cookie jar, ``state.jar``) as is, without the layer's ``prepare``.
    plain: HttpRequest | None = None
    checks: bool = True  # the layer's ``finish`` reads its response (checks, extractions)
    # The layer's filler of its request, called directly (a call less per filled step);
    # when it raises, the layer's ``prepare`` says what the step comes to (``not_sent``).
    make: Callable[[Any], HttpRequest] | None = None


@dataclass(frozen=True)
class ScenarioSteps:
    """What a scenario's users (or arrivals) do through the step layer."""

    scenario: str
    layer: StepLayer
    setup: tuple[FlowStep, ...] = ()
    flow: tuple[FlowStep, ...] | None = None  # None: a mix (or channels alone)
    mix: dict[str, FlowStep] | None = None  # endpoint → its step, for the plan's wheel


class Leave(Protocol):
    """A user's "leave now" flag and its pauses (a closed user's
    :class:`~sla_runner.engine.leaving.Leaving`, on the executor's timer wheel)."""

    def is_set(self) -> bool: ...

    async def pause(self, seconds: float) -> bool:
        """Wait ``seconds``, or less if told to leave meanwhile; ``True`` when told to leave."""
        ...


class StopLeave:
    """:class:`Leave` over an :class:`anyio.Event` (an open scenario's arrivals leave when
    the run stops)."""

    __slots__ = ("_event",)

    def __init__(self, event: anyio.Event) -> None:
        self._event = event

    def is_set(self) -> bool:
        return self._event.is_set()

    async def pause(self, seconds: float) -> bool:
        with anyio.move_on_after(seconds):
            await self._event.wait()
        return self._event.is_set()


class Pauses:
    """A user's think time and back-off, ended at once when the user is told to leave.
    ``backoff``: whether a refused or reset connection pauses it (a closed scenario's
    users; an open scenario's arrivals keep the plan's pace)."""

    def __init__(
        self, think: Think, rng: random.Random, leaving: Leave, *, backoff: bool = True
    ) -> None:
        self._rng, self.leaving, self._backs_off = rng, leaving, backoff
        longest = think[1] if think[1] > 0 else BACKOFF_MAX_S
        self._longest = longest
        self._first = self._backoff = min(BACKOFF_FIRST_S, longest)
        self.raised = False  # the back-off has grown: the next answer resets it

    async def think(self, think: Think) -> None:
        lo, hi = think
        if hi > 0:
            await self.leaving.pause(lo if lo == hi else self._rng.uniform(lo, hi))

    def backs_off(self, result: Result) -> bool:
        """Whether to back off (:meth:`back_off`) after ``result``: a refused or reset
        connection; any answer resets the back-off. Not a coroutine: the common case, an
        answer, awaits nothing."""
        outcome = result.outcome
        if outcome is Outcome.CONNECT_ERROR or outcome is Outcome.RESET:
            return self._backs_off and not self.leaving.is_set()
        self._backoff, self.raised = self._first, False
        return False

    async def back_off(self, ctx: RunContext) -> None:
        """Pause after a refused or reset connection, doubling the next pause."""
        ctx.sink.backoff()
        await self.leaving.pause(self._backoff)  # not timed: the next request starts after
        self._backoff = min(self._backoff * 2, self._longest)
        self.raised = True


async def send(
    ctx: RunContext,
    layer: StepLayer,
    step: FlowStep,
    state: Any,
    session: HttpSession,
    timed_from: int | None = None,
    due: int | None = None,
) -> tuple[Result, int, int]:
    """Send one step and record it: (its result, when it was timed from, when it ended). A
    step that sent nothing (a value to fill was not set) is not a request: not recorded."""
    start = ctx.now()
    if timed_from is not None:
        start = min(start, timed_from)
    request = layer.prepare(step.compiled, state)
    if isinstance(request, Result):  # not sent: not a request, not recorded
        return request, start, ctx.now()
    try:
        result = await session.send(request, state.jar)
    except BaseException as exc:
        if isinstance(exc, anyio.get_cancelled_exc_class()):
            ctx.interrupted += 1
        raise
    result = layer.finish(step.compiled, result, state)
    end = ctx.record_as(step.name, result, start, start if due is None else due)
    return result, start, end


async def run_steps(
    ctx: RunContext,
    work: ScenarioSteps,
    steps: Sequence[FlowStep],
    state: Any,
    session: HttpSession,
    pauses: Pauses,
    *,
    due: int | None = None,
) -> tuple[str, int, int, int]:
    """Run ``steps`` in order, thinking after each; stop after the first that fails (its
    think time taken), or when the user leaves. Returns (``ok``, ``<step>:<kind>``, or ""
    when the user left before the end; the time the steps took; their start; their end).
    ``due``: an arrival's due time (open model): its first step is timed from it."""
    now = ctx.now
    if not steps:
        at = now()
        return "ok", 0, at, at
    took = first = last = 0
    layer, leaving, final = work.layer, pauses.leaving, len(steps) - 1
    prepare, finish, ok, jar = layer.prepare, layer.finish, Outcome.OK, state.jar
    record = ctx.sink.request
    for i, step in enumerate(steps):
        # send() inlined, the step layer's halves called around the session: no coroutine
        # of their own for any step; a plain step (nothing to fill) goes to the session as
        # is, a filled one's maker is called directly
        start = now()
        if i == 0:
            if due is not None:  # the first step alone is timed from an arrival's due time
                start = min(start, due)
            first = start
        request: HttpRequest | Result | None = step.plain
        if request is None:
            make = step.make
            try:
                request = make(state) if make is not None else prepare(step.compiled, state)
            except Exception:  # a value not set, a header not sendable: the layer says
                request = prepare(step.compiled, state)  # what it comes to (not_sent)
        if isinstance(request, Result):  # not sent (a value to fill was not set): not a
            result = request  # request, not recorded
            last = now()
        else:
            try:
                result = await session.send(request, jar)
            except BaseException as exc:  # only the hard stop's cancellation is counted
                if isinstance(exc, anyio.get_cancelled_exc_class()):
                    ctx.interrupted += 1
                raise
            if step.checks:
                result = finish(step.compiled, result, state)
            # ctx.record_as() inlined (a frame less per step)
            last = now()
            latency = last - start if result.outcome in TIMED else None
            record("http", step.name, result.key, latency, start if due is None else due, last)
        outcome = result.outcome
        took += last - start
        # a failure may back off; an answer resets a grown back-off
        if (outcome is not ok or pauses.raised) and pauses.backs_off(result):
            await pauses.back_off(ctx)
        if outcome is not ok:
            key = f"{step.name}:{result.key}"
            reason = layer.reason(step.compiled, result)
            if reason:
                ctx.sink.reason(key, reason)
            if step.think[1]:
                await pauses.think(step.think)
            return key, took, first, last
        if step.think[1]:  # the common case, no think time, awaits nothing
            await pauses.think(step.think)
        if i < final and leaving.is_set():
            return "", took, first, last  # left mid-pass: not a pass
    return "ok", took, first, last


def record_pass(ctx: RunContext, key: str, took: int, due: int, end: int) -> None:
    """One pass through the scenario's flow: its time when it ran through, in the stage it
    started in (``key`` empty: the user left mid-pass, not a pass)."""
    if key:
        ctx.sink.passed(key, took if key == "ok" else None, due, end)


async def setup_user(
    ctx: RunContext, work: ScenarioSteps, state: Any, session: HttpSession, pauses: Pauses
) -> bool:
    """Run ``setup`` until it holds (True) or the user leaves (False); a failing setup is
    counted per endpoint and started over after think time."""
    while not pauses.leaving.is_set():
        key, *_ = await run_steps(ctx, work, work.setup, state, session, pauses)
        if key == "ok":
            return True
    return False


async def user_passes(
    ctx: RunContext,
    work: ScenarioSteps,
    state: Any,
    session: HttpSession,
    pauses: Pauses,
    mix_step: Callable[[int], FlowStep] | None,
    first: int,
) -> bool:
    """Passes until the user leaves (True) or a ``unique`` table runs out (False)."""
    i = first
    flow, passed, next_pass = work.flow or (), ctx.sink.passed, work.layer.next_pass
    while not pauses.leaving.is_set():
        if not next_pass(state):
            return False
        if mix_step is not None:
            step = mix_step(i)
            i += 1
            result, _start, _end = await send(ctx, work.layer, step, state, session)
            if pauses.backs_off(result):
                await pauses.back_off(ctx)
            if step.think[1] > 0:
                await pauses.think(step.think)
            continue
        key, took, started, end = await run_steps(ctx, work, flow, state, session, pauses)
        if key:  # record_pass() inlined
            passed(key, took if key == "ok" else None, started, end)
    return True
