"""A user's "leave now" flag and its pauses, timed by one timer wheel per executor.

A closed-model user pauses after every request (think time, back-off) until the pause ends
or it is told to leave. Written as ``with anyio.move_on_after(s): await event.wait()``,
each pause cost a cancel scope, an :class:`asyncio.Event` waiter and, as a pause almost
always runs out, a task cancellation delivered into the coroutine and caught again; with
``loop.call_at`` per pause, a timer handle, its context, its libuv timer and its arguments
stay alive for the whole pause, for the garbage collector to traverse again and again
(bench/RESULTS.md, *Scale up on one core*). Here a pause is one future in a
:class:`TimerWheel` slot: the wheel keeps one loop timer, for its earliest slot, and wakes
every future of a slot at once. :meth:`Leaving.set` wakes the user's pause at once.

Cancellation (the hard stop) is asyncio's own: the future is cancelled with the task, and
the wheel skips it. The engine runs on asyncio only (anyio's asyncio backend).
"""

from __future__ import annotations

import asyncio
import heapq
import math

import anyio

__all__ = ["Leaving", "TimerWheel"]

WHEEL_SLOT_S = 0.001  # uvloop's timers count whole milliseconds: no finer slot helps


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class TimerWheel:
    """Futures resolved when their time comes, never before: each falls in the first slot
    (``slot_s`` wide) that starts at or after its due time, and a slot is woken by one
    ``loop.call_at`` at its start. Many users due within a millisecond cost one timer."""

    __slots__ = ("_armed", "_heap", "_loop", "_slot_s", "_slots")

    def __init__(self, loop: asyncio.AbstractEventLoop, slot_s: float = WHEEL_SLOT_S) -> None:
        self._loop = loop
        self._slot_s = slot_s
        self._slots: dict[int, list[asyncio.Future[None]]] = {}
        self._heap: list[int] = []  # the slots that hold futures, earliest first
        self._armed: int | None = None  # the slot the loop's one timer is set for

    def after(self, seconds: float) -> asyncio.Future[None]:
        """A future resolved ``seconds`` from now or a little later (less than a slot)."""
        loop = self._loop
        waiter = loop.create_future()
        slot = math.ceil((loop.time() + seconds) / self._slot_s)
        futures = self._slots.get(slot)
        if futures is None:
            self._slots[slot] = [waiter]
            heapq.heappush(self._heap, slot)
            if self._armed is None or slot < self._armed:
                self._arm(slot)
        else:
            futures.append(waiter)
        return waiter

    def _arm(self, slot: int) -> None:
        self._armed = slot
        self._loop.call_at(slot * self._slot_s, self._fire, slot)

    def _fire(self, slot: int) -> None:
        if slot != self._armed:  # an earlier slot was armed since: that timer runs this
            return
        now = self._loop.time()
        heap, slots = self._heap, self._slots
        while heap and heap[0] * self._slot_s <= now:
            for waiter in slots.pop(heapq.heappop(heap)):
                if not waiter.done():
                    waiter.set_result(None)
        self._armed = None
        if heap:
            self._arm(heap[0])

    def __len__(self) -> int:
        """Futures waiting (woken or cancelled ones too, until their slot comes)."""
        return sum(len(futures) for futures in self._slots.values())


class Leaving:
    """Set once, when the user is to leave; :meth:`pause` ends early when it is.

    ``event``: the same flag as an :class:`anyio.Event`, made on first use, for the code
    that waits on one (a user's channels, format 2's steps)."""

    __slots__ = ("_event", "_set", "_waiter", "_wheel", "_woken")

    def __init__(self, wheel: TimerWheel) -> None:
        self._wheel = wheel
        self._set = self._woken = False
        self._waiter: asyncio.Future[None] | None = None
        self._event: anyio.Event | None = None

    def is_set(self) -> bool:
        return self._set

    def set(self, wake_in: float = 0.0) -> None:
        """Tell the user to leave: it sends nothing more from now on; a pause it is in (and
        ``event``) ends ``wake_in`` seconds from now (users leaving together are woken
        spread out, not in one loop iteration)."""
        if self._set:
            return
        self._set = True
        if wake_in > 0:
            self._wheel.after(wake_in).add_done_callback(self._wake)
        else:
            self._wake()

    def _wake(self, _: object = None) -> None:
        self._woken = True
        if self._waiter is not None:
            _wake(self._waiter)
        if self._event is not None:
            self._event.set()

    @property
    def event(self) -> anyio.Event:
        if self._event is None:
            self._event = anyio.Event()
            if self._woken:
                self._event.set()
        return self._event

    async def pause(self, seconds: float) -> bool:
        """Wait ``seconds``, or less if told to leave meanwhile; ``True`` when told to leave.
        One pause at a time (a user pauses from its one task)."""
        if self._set:
            return True
        if seconds <= 0:
            return False
        waiter = self._waiter = self._wheel.after(seconds)
        try:
            await waiter
        finally:
            self._waiter = None
        return self._set
