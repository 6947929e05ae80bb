"""A closed user's pauses: the timer wheel wakes each pause in order and never early, a
user told to leave stops pausing at once, and users started together spread their first
requests evenly."""

from __future__ import annotations

import asyncio
import itertools
import random

import pytest

from sla_runner.engine.execute import has_uvloop
from sla_runner.engine.leaving import Leaving, TimerWheel
from sla_runner.engine.users import start_offsets


def _loops() -> list[str]:
    return ["asyncio", "uvloop"] if has_uvloop() else ["asyncio"]


def _run(loop_kind: str, main: object) -> None:
    if loop_kind == "uvloop":
        import uvloop  # noqa: PLC0415

        uvloop.run(main)  # type: ignore[arg-type]
    else:
        asyncio.run(main)  # type: ignore[arg-type]


@pytest.mark.parametrize("loop_kind", _loops())
def test_the_wheel_wakes_every_pause_in_order_and_never_early(loop_kind: str) -> None:
    woke: list[tuple[float, float]] = []  # (due, woken), loop time
    making: list[float] = []  # how long making the pauses took (a busy machine preempts)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        wheel = TimerWheel(loop)
        rng = random.Random(7)
        waits = []
        started = loop.time()
        for _ in range(300):
            seconds = rng.uniform(0, 0.08)
            due = loop.time() + seconds
            waiter = wheel.after(seconds)

            def wake(_: asyncio.Future[None], due: float = due) -> None:
                woke.append((due, loop.time()))

            waiter.add_done_callback(wake)
            waits.append(waiter)
        making.append(loop.time() - started)
        await asyncio.gather(*waits)

    _run(loop_kind, main())
    assert len(woke) == 300
    assert all(woken >= due for due, woken in woke)  # never early
    dues = [due for due, _ in woke]
    # In order: a pause is woken before any due one slot (1 ms) or more after it (the
    # wheel reads the clock again for each pause: plus the time they took to make).
    slack = 0.001 + making[0]
    assert all(later >= earlier - slack for earlier, later in itertools.pairwise(dues))


def test_an_earlier_pause_arms_the_wheel_again() -> None:
    """A pause shorter than every one waiting is not held back by the later timer."""

    async def main() -> float:
        loop = asyncio.get_running_loop()
        wheel = TimerWheel(loop)
        long = wheel.after(5.0)
        start = loop.time()
        await wheel.after(0.01)
        took = loop.time() - start
        assert not long.done()
        long.cancel()
        return took

    took = asyncio.run(main())
    assert 0.01 <= took < 1.0


def test_a_user_told_to_leave_stops_pausing_at_once() -> None:
    async def main() -> tuple[bool, float, bool]:
        loop = asyncio.get_running_loop()
        leaving = Leaving(TimerWheel(loop))
        start = loop.time()
        loop.call_later(0.02, leaving.set)
        told = await leaving.pause(30.0)
        took = loop.time() - start
        return told, took, await leaving.pause(30.0)  # set: returns at once

    told, took, again = asyncio.run(main())
    assert told
    assert again
    assert took < 5.0


def test_a_pause_that_runs_out_says_the_user_stays() -> None:
    async def main() -> tuple[bool, bool]:
        leaving = Leaving(TimerWheel(asyncio.get_running_loop()))
        return await leaving.pause(0.005), await leaving.pause(0)

    assert asyncio.run(main()) == (False, False)


def test_a_cancelled_pause_leaves_the_wheel_working() -> None:
    async def main() -> bool:
        loop = asyncio.get_running_loop()
        wheel = TimerWheel(loop)
        leaving = Leaving(wheel)
        task = loop.create_task(leaving.pause(0.05))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await wheel.after(0.06)  # the cancelled one's slot comes and goes
        return await Leaving(wheel).pause(0.01)

    assert asyncio.run(main()) is False


def test_the_leaving_event_follows_the_flag() -> None:
    async def main() -> tuple[bool, bool]:
        leaving = Leaving(TimerWheel(asyncio.get_running_loop()))
        event = leaving.event
        before = event.is_set()
        leaving.set()
        return before, event.is_set() and leaving.event.is_set()

    assert asyncio.run(main()) == (False, True)


def test_users_started_together_spread_their_first_requests_evenly() -> None:
    offsets = start_offsets(4, 1.0)
    assert offsets == [0.0, 0.25, 0.5, 0.75]
    many = start_offsets(1000, 2.0)
    assert many[0] == 0.0
    assert max(many) < 2.0
    gaps = {round(b - a, 9) for a, b in itertools.pairwise(many)}
    assert gaps == {0.002}
    assert start_offsets(1, 1.0) == [0.0]
    assert start_offsets(0, 1.0) == []


def test_users_told_to_leave_together_are_woken_spread_out() -> None:
    """The flag is set at once (no new request starts), a pause ends at its wake time."""

    async def main() -> tuple[bool, float, bool, bool]:
        loop = asyncio.get_running_loop()
        leaving = Leaving(TimerWheel(loop))
        start = loop.time()
        loop.call_later(0.01, leaving.set, 0.05)
        told = await leaving.pause(30.0)
        woken_after = loop.time() - start
        return told, woken_after, leaving.is_set(), leaving.event.is_set()

    told, woken_after, flag, event = asyncio.run(main())
    assert told
    assert 0.055 <= woken_after < 5.0
    assert flag
    assert event
