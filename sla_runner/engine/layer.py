"""The step layer the executors call, one per scenario: :class:`ScenarioLayer`.

It is :class:`sla_runner.engine.flows.StepLayer` (``new_user``, ``next_pass``, ``send``)
over :mod:`sla_runner.engine.state` and :mod:`sla_runner.engine.steps`, bound to what one
scenario of one run needs: its tables' dealers (:func:`make_dealers`, one per table for the
whole run, so rows are dealt across scenarios without repeats and ``--segment I/N`` deals
this segment's slice), what ``before`` extracted, whether users keep cookies, and one
random source for ``$uuid`` and ``$randint`` (seeded: reproducible).

A user refused because a ``unique`` table ran out is counted (:attr:`ScenarioLayer.refused`,
and the dealer's own ``refused``); a user whose pass is refused ends.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from typing import Any

from sla_runner.engine.state import UserState, new_user, next_pass, wall_clock_ms
from sla_runner.engine.steps import (
    CompiledStep,
    StepCompiler,
    finish_step,
    prepare_step,
    send_step,
    step_reason,
)
from sla_runner.spec.data import Dealer, ScenarioDeal, SegmentLike, Table
from sla_runner.spec.format2 import SpecV2

__all__ = ["ScenarioLayer", "make_dealers"]


def make_dealers(
    tables: Mapping[str, Table], segment: SegmentLike | None = None
) -> dict[str, Dealer]:
    """One dealer per table, for every scenario of the run; with ``segment``, its slice.
    Raises :class:`~sla_runner.spec.data.DataError` for a table the segment gets no row of."""
    if segment is None:
        return {name: Dealer(table) for name, table in tables.items()}
    return {name: Dealer(table, segment) for name, table in tables.items()}


class ScenarioLayer:
    """The steps of scenario ``scenario`` of ``spec``, compiled once, and its users' state.

    ``compiler``: share one among the scenarios of a spec (each endpoint is then compiled
    once: a static one is one request, cached once by the raw transport). ``shared``: what
    ``before`` extracted. ``rng``: the users' randomness (default: a fresh, unseeded one)."""

    def __init__(
        self,
        spec: SpecV2,
        scenario: str,
        dealers: Mapping[str, Dealer],
        *,
        shared: Mapping[str, Any] | None = None,
        compiler: StepCompiler | None = None,
        rng: random.Random | None = None,
        clock_ms: Callable[[], int] = wall_clock_ms,
    ) -> None:
        compiler = compiler or StepCompiler(spec)
        definition = spec.scenarios[scenario]
        self.scenario = scenario
        self.setup: list[CompiledStep] = compiler.steps(definition.setup)
        self.flow: list[CompiledStep] | None = (
            None if definition.flow is None else compiler.steps(definition.flow)
        )
        self.mix: dict[str, CompiledStep] | None = (
            None if definition.mix is None else {n: compiler.step(n) for n in definition.mix}
        )
        modes = definition.data
        self._deal = ScenarioDeal(dealers, modes) if modes else None
        self._shared = dict(shared or {})
        self._cookies = spec.target.cookies
        self._rng = rng if rng is not None else random.Random()
        self._clock_ms = clock_ms
        self.refused = 0  # users not started: a unique table ran out

    def new_user(self, uid: int) -> UserState | None:
        """User ``uid``'s state, its ``user`` rows dealt; ``None`` (counted) when a
        ``unique`` table ran out: the user is not started."""
        state = new_user(
            uid,
            deal=self._deal,
            shared=self._shared,
            cookies=self._cookies,
            rng=self._rng,
            clock_ms=self._clock_ms,
        )
        if state is None:
            self.refused += 1
        return state

    # Start the user's next pass (its ``pass`` rows dealt); ``False``: a ``unique`` table ran
    # out, the user ends (:func:`~sla_runner.engine.state.next_pass` itself: a call less).
    next_pass = staticmethod(next_pass)
    # Send a step for a user (:func:`~sla_runner.engine.steps.send_step` itself, not a
    # coroutine wrapping it: one frame less per request); raises only on cancellation.
    send = staticmethod(send_step)
    # Its two halves around the transport, for the executors' steps (no coroutine of its
    # own per step): the request to send, or not_sent; what the response comes to.
    prepare = staticmethod(prepare_step)
    finish = staticmethod(finish_step)
    # Why a step failed, for findings (:func:`~sla_runner.engine.steps.step_reason`).
    reason = staticmethod(step_reason)
