"""The garbage collector's policy while a load runs (engine/collector.py): thresholds set and
restored, young cycles collected during the load, frozen garbage collected by its end or
on the memory bound. The policy is checked, not timings."""

from __future__ import annotations

import gc
import weakref

import anyio
import pytest

from sla_runner.engine import collector
from sla_runner.engine.collector import NO_FULL_COLLECTIONS, load_collections

pytestmark = pytest.mark.anyio

TICK_S = 0.005


class Node:
    """An object that can be part of a cycle and be watched through a weak reference."""

    def __init__(self) -> None:
        self.other: Node | None = None


def cycle() -> weakref.ref[Node]:
    """A two-object cycle nothing else refers to: garbage only the collector frees."""
    a, b = Node(), Node()
    a.other, b.other = b, a
    return weakref.ref(a)


async def ticks(policy: collector.Ticks | None, n: int) -> None:
    """Until ``n`` more ticks ran (each one collection of generation 0, then a freeze)."""
    assert policy is not None
    until = policy.ticks + n
    with anyio.fail_after(30):
        while policy.ticks < until:
            await anyio.sleep(TICK_S)


async def test_thresholds_are_set_for_the_load_and_restored() -> None:
    before = gc.get_threshold()
    with load_collections(TICK_S):
        assert gc.get_threshold() == (before[0], before[1], NO_FULL_COLLECTIONS)
        assert gc.get_freeze_count() > 0  # what existed before the load
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


async def test_restored_when_the_load_raises() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError, match="boom"), load_collections(TICK_S):
        raise RuntimeError("boom")
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


async def test_a_cycle_dropped_young_is_collected_during_the_load() -> None:
    gc.collect()
    with load_collections(TICK_S) as policy:
        ref = cycle()
        assert ref() is not None  # the cycle keeps itself alive until a collection
        await ticks(policy, 1)
        assert ref() is None  # a tick's young collection, not the count, collected it


async def test_what_survives_a_tick_is_frozen_until_the_end() -> None:
    gc.collect()
    with load_collections(TICK_S) as policy:
        a, b = Node(), Node()
        a.other, b.other = b, a
        ref = weakref.ref(a)
        await ticks(policy, 2)  # alive through a tick: frozen
        del a, b
        gc.collect(1)  # no young collection traverses it again
        await ticks(policy, 2)
        assert ref() is not None
    assert ref() is None  # collected when the load ends


async def test_the_memory_bound_runs_a_full_collection() -> None:
    rss = [100 * 2**20]
    with load_collections(TICK_S, rss=lambda: rss[0]) as policy:
        assert policy is not None
        a, b = Node(), Node()
        a.other, b.other = b, a
        ref = weakref.ref(a)
        await ticks(policy, 2)
        del a, b
        # Grown, but not by both the ratio and the bytes: no full collection.
        rss[0] = 300 * 2**20
        await ticks(policy, collector.MEMORY_CHECK_TICKS)
        assert policy.full == 0
        assert ref() is not None
        rss[0] = 400 * 2**20  # doubled and 300 MiB more
        await ticks(policy, collector.MEMORY_CHECK_TICKS)
        assert policy.full == 1
        assert ref() is None
        assert gc.get_freeze_count() > 0  # frozen again after it
        assert gc.get_threshold()[2] == NO_FULL_COLLECTIONS


async def test_loads_side_by_side_restore_once_both_end() -> None:
    before = gc.get_threshold()
    with load_collections(TICK_S):
        with load_collections(TICK_S):
            pass
        assert gc.get_threshold()[2] == NO_FULL_COLLECTIONS  # the other load still runs
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


async def test_a_disabled_collector_is_left_alone() -> None:
    before = gc.get_threshold()
    gc.disable()
    try:
        with load_collections(TICK_S) as policy:
            assert policy is None
            assert gc.get_threshold() == before
            assert gc.get_freeze_count() == 0
    finally:
        gc.enable()
