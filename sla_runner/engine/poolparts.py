"""The pure parts of ``run --workers`` (:mod:`~sla_runner.engine.pool`): how many workers
(``--workers N|auto``), the share each carries, and their live figures made one line.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Mapping, Sequence

from sla_runner.engine.control import Progress
from sla_runner.errors import PlanError, UsageError
from sla_runner.metrics.recorder import LiveStats
from sla_runner.plan import Segment, build_plan
from sla_runner.spec.convert import AnySpec
from sla_runner.spec.data import Table


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, as ``taskset`` or a container's
    cpuset leave it), not the machine's."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def parse_workers(text: str) -> int:
    """``--workers``: a whole number of 1 or more, or ``auto`` (:func:`usable_cores`)."""
    if text.strip() == "auto":
        return usable_cores()
    try:
        count = int(text)
    except ValueError:
        count = 0
    if count < 1:
        raise UsageError(f"--workers expects a whole number of 1 or more, or auto; got {text!r}")
    return count


def split_share(
    spec: AnySpec, share: Segment, workers: int, tables: Mapping[str, Table] | None = None
) -> tuple[Segment, ...]:
    """``share`` dealt to ``workers`` processes (:meth:`Segment.split`), each part checked
    as its worker will plan it: a PlanError (exit 2) before anything starts when one of
    them cannot run (it would carry no load), naming the worker and its segment."""
    parts = share.split(workers)
    for number, part in enumerate(parts, 1):
        try:
            build_plan(spec, part, tables)
        except PlanError as exc:
            raise PlanError(
                f"--workers {workers}: worker {number} cannot run its part of the load "
                f"(segment {part}): {exc}"
            ) from None
    return parts


def combine(parts: Sequence[LiveStats], gone: Sequence[LiveStats] = ()) -> LiveStats:
    """The workers' figures of one second as the whole run's: users, rates and totals add
    up, the p95 is the worst of theirs (per-second histograms are not sent); ``gone``:
    the last figures of workers that ended, whose totals still count."""
    latest = max(parts, key=lambda s: s.elapsed_s)
    p95s = [s.p95_ms for s in parts if s.p95_ms is not None]
    return LiveStats(
        elapsed_s=latest.elapsed_s,
        stage=latest.stage,
        users=sum(s.users for s in parts),
        http_rps=sum(s.http_rps for s in parts),
        ws_rps=sum(s.ws_rps for s in parts),
        p95_ms=max(p95s) if p95s else None,
        done=sum(s.done for s in [*parts, *gone]),
        errors=sum(s.errors for s in [*parts, *gone]),
    )


class LiveCombiner:
    """One live line from N workers. Each reports once a second on the shared clock; the
    k-th reports of the workers still running are combined as soon as all have arrived."""

    def __init__(self, numbers: Sequence[int], emit: Progress | None) -> None:
        self._queues: dict[int, deque[LiveStats]] = {n: deque() for n in numbers}
        self._alive = set(numbers)
        self._last: dict[int, LiveStats] = {}
        self._gone: list[LiveStats] = []
        self._emit = emit

    def add(self, number: int, stats: LiveStats) -> None:
        if number in self._alive:
            self._queues[number].append(stats)
            self._last[number] = stats
            self._flush()

    def drop(self, number: int) -> None:
        """Worker ``number`` ended: the totals of its last figures still count."""
        if number in self._alive:
            self._alive.discard(number)
            if number in self._last:
                self._gone.append(self._last[number])
            self._flush()

    def _flush(self) -> None:
        while self._alive and all(self._queues[n] for n in self._alive):
            parts = [self._queues[n].popleft() for n in sorted(self._alive)]
            if self._emit is not None:
                self._emit(combine(parts, self._gone))


__all__ = ["LiveCombiner", "combine", "parse_workers", "split_share", "usable_cores"]
