"""The garbage collector while the load runs: each object traversed once, young, then frozen.

CPython starts a young collection when allocations less deallocations pass 700. Under a
load of many users with think time, each request makes objects that live through its
user's pause (the pause's future, the request's coroutine, its result) and are freed once
they have grown old: those deallocations count against the new allocations, so the count
rises slowly while the youngest generation's list grows, and each collection traversed
everything made since the last. At 10,000 users × 1 req/s that was 5,000-110,000 objects,
collections of 20-80 ms twice a second or more, then the same objects again in
generation 1 (bench/RESULTS.md, *Scale up on one core*); raising the thresholds only makes
them rarer and longer. A full collection traverses every user's objects: 200-350 ms at
5,000 users.

So, while the load runs (:func:`load_collections`): what exists before it is frozen
(``gc.freeze``: out of every collection, at no cost); every :data:`YOUNG_EVERY_S` the
youngest generation is collected (what it holds is that long's objects still alive:
short-lived cycles, such as an exception's traceback, are collected there) and all that
survives is frozen too. No collection traverses an object twice or the users' long-lived
objects; the automatic young collections still run between two ticks (they see one tick's
objects at most); full collections never do. Cyclic garbage formed after its objects were
frozen waits: the process's RSS is read once a second, and when it has doubled and grown
by :data:`FULL_AFTER_GROWTH_BYTES` since the load began (or since the last such
collection), a full collection runs then (one stall, rather than memory without bound).
When the load ends everything is unfrozen, the thresholds restored and a full collection
run, so nothing is left behind (also when the run raised).
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psutil

__all__ = ["Ticks", "load_collections"]

NO_FULL_COLLECTIONS = 1 << 30  # gc's third threshold while the load runs: never reached
YOUNG_EVERY_S = 0.01  # a tick: collect generation 0, freeze what survives
MEMORY_CHECK_TICKS = 100  # the RSS read every this many ticks (once a second)
FULL_AFTER_GROWTH = 2.0  # a full collection once the RSS has doubled ...
FULL_AFTER_GROWTH_BYTES = 256 * 2**20  # ... and grown by this much, since the last

Rss = Callable[[], int]


def _own_rss() -> int:
    return int(psutil.Process().memory_info().rss)


class Ticks:
    """The collections of one load: a ``loop.call_later`` callback, rescheduled each tick."""

    def __init__(self, loop: asyncio.AbstractEventLoop, every_s: float, rss: Rss) -> None:
        self._loop = loop
        self._every_s = every_s
        self._rss = rss
        self._base = rss()  # the RSS at the last full collection (or the load's start)
        self.ticks = 0
        self.full = 0  # full collections the memory bound ran
        self._handle: asyncio.TimerHandle | None = loop.call_later(every_s, self._tick)

    def _tick(self) -> None:
        gc.collect(0)
        gc.freeze()
        self.ticks += 1
        if self.ticks % MEMORY_CHECK_TICKS == 0:
            rss = self._rss()
            bound = max(self._base * FULL_AFTER_GROWTH, self._base + FULL_AFTER_GROWTH_BYTES)
            if rss >= bound:
                gc.unfreeze()
                gc.collect()
                gc.freeze()
                self.full += 1
                self._base = self._rss()
        self._handle = self._loop.call_later(self._every_s, self._tick)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None


_active = 0  # loads under way in this process (library callers may run several at once)
_saved: tuple[int, int, int] = (700, 10, 10)


@contextmanager
def load_collections(every_s: float = YOUNG_EVERY_S, rss: Rss = _own_rss) -> Iterator[Ticks | None]:
    """The collector's policy while a load runs on this thread's event loop (see the
    module's doc); yields its ticks (``None`` when the collector is disabled: a caller
    that turned it off keeps it off, and nothing is done)."""
    global _active, _saved  # noqa: PLW0603 -- one collector per process: one policy
    if not gc.isenabled():
        yield None
        return
    if _active == 0:
        _saved = gc.get_threshold()
        gc.freeze()
        gc.set_threshold(_saved[0], _saved[1], NO_FULL_COLLECTIONS)
    _active += 1
    ticks = Ticks(asyncio.get_running_loop(), every_s, rss)
    try:
        yield ticks
    finally:
        ticks.stop()
        _active -= 1
        if _active == 0:
            gc.set_threshold(*_saved)
            gc.unfreeze()
            gc.collect()
