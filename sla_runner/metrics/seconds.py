"""Per-second HDR histograms: what every (metric, endpoint/channel, scenario) completed in
each second of the run, kept so that thresholds over windows (``window:``, ``for:``,
``warmup:``) are judged from histograms added exactly, never from percentiles of percentiles.

While a second fills, the recorder records into one full histogram per key (3 significant
digits, as the whole-run series); when the second closes it keeps only the histogram's
compressed payload (HdrHistogram's varint + zlib encoding: a few hundred bytes), the count
and the count of ``ok`` outcomes. Nothing of this touches the hot path: the work is done once
per key and second, at the second's boundary.

Two recordings of one plan share its clock, so second ``k`` of one adds to second ``k`` of the
other: the histograms are expanded, added and compressed again — exact; and the merged
timeline rows' percentiles are taken again from the added histograms (:meth:`Seconds.exact_rows`).
"""

from __future__ import annotations

import base64
import sys
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from hdrh.histogram import HdrHistogram

from sla_runner.metrics.current import second_figures
from sla_runner.metrics.histogram import (
    add_into,
    compress,
    expand,
    latency_histogram,
    merged,
)
from sla_runner.metrics.rows import SecondFigures, TimelineRow

SecondKey = tuple[str, str, str]  # (metric, endpoint/channel/scenario of a flow, scenario)


class SecondSeries:
    """One key's closed seconds, from ``first`` on: counts, ``ok`` counts and compressed
    latency histograms (``b""``: no latency recorded in that second)."""

    __slots__ = ("count", "first", "hdr", "ok")

    def __init__(self, first: int) -> None:
        self.first = first
        self.count = array("q")
        self.ok = array("q")
        self.hdr: list[bytes] = []

    def put(self, second: int, count: int, ok: int, blob: bytes) -> None:
        """Append ``second`` (after every second already held)."""
        gap = second - self.first - len(self.count)
        if gap < 0:
            raise ValueError(f"second {second} is already closed")
        if gap:
            self.count.extend([0] * gap)
            self.ok.extend([0] * gap)
            self.hdr.extend([b""] * gap)
        self.count.append(count)
        self.ok.append(ok)
        self.hdr.append(blob)

    @property
    def end(self) -> int:
        """The second after the last one held."""
        return self.first + len(self.count)

    def at(self, second: int) -> tuple[int, int, bytes]:
        i = second - self.first
        if 0 <= i < len(self.count):
            return self.count[i], self.ok[i], self.hdr[i]
        return 0, 0, b""

    def nbytes(self) -> int:
        """The memory its figures take (the arrays, the list and the payloads)."""
        payloads = sum(sys.getsizeof(b) for b in self.hdr)
        return (
            sys.getsizeof(self.count) + sys.getsizeof(self.ok) + sys.getsizeof(self.hdr) + payloads
        )


@dataclass(frozen=True)
class SecondFigure:
    """What one selection (every matching key added) completed in one second."""

    second: int
    count: int
    ok: int
    latency_us: HdrHistogram | None  # None: no latency recorded


class Seconds:
    """Every key's :class:`SecondSeries`."""

    def __init__(self) -> None:
        self.series: dict[SecondKey, SecondSeries] = {}

    def put(self, key: SecondKey, second: int, count: int, ok: int, blob: bytes) -> None:
        held = self.series.get(key)
        if held is None:
            held = self.series[key] = SecondSeries(second)
        held.put(second, count, ok, blob)

    def __bool__(self) -> bool:
        return bool(self.series)

    def nbytes(self) -> int:
        return sum(s.nbytes() for s in self.series.values())

    def select(self, metric: str, scope: str | None, scenario: str | None) -> list[SecondSeries]:
        return [
            s
            for (m, sc, sn), s in self.series.items()
            if m == metric
            and (scope is None or sc == scope)
            and (scenario is None or sn == scenario)
        ]

    def figures(self, chosen: list[SecondSeries], seconds: range) -> Iterator[SecondFigure]:
        """Each second of ``seconds`` that any of ``chosen`` completed something in, the
        chosen keys added."""
        for second in seconds:
            count, ok, blobs = _summed(chosen, second)
            if count:
                hist = merged([expand(b) for b in blobs]) if blobs else None
                yield SecondFigure(second, count, ok, hist)

    def latencies(self, second: int) -> dict[str, HdrHistogram]:
        """The histograms a timeline row of ``second`` takes its percentiles from: per
        metric and endpoint/channel (``http.list-items``: its scenarios added) and per metric
        (``http``: every endpoint added), as the recorder adds them when the second closes."""
        parts: dict[str, list[HdrHistogram]] = {}
        for (metric, scope, _), series in self.series.items():
            blob = series.at(second)[2]
            if blob:
                hist = expand(blob)
                parts.setdefault(f"{metric}.{scope}", []).append(hist)
                parts.setdefault(metric, []).append(hist)
        return {name: hs[0] if len(hs) == 1 else merged(hs) for name, hs in parts.items()}

    def exact_rows(self, timeline: list[TimelineRow]) -> None:
        """Each row's percentiles from its second's histograms (:meth:`latencies`), as the
        recorder gave them: a merge's rows, instead of the worse of the parts'."""
        for row in timeline:
            if not row.series:
                continue
            latencies = self.latencies(row.second)
            for name, figures in row.series.items():
                hist = latencies.get(name)
                exact = second_figures(hist, {}) if hist is not None else SecondFigures()
                figures.p50_ms, figures.p95_ms, figures.p99_ms = (
                    exact.p50_ms,
                    exact.p95_ms,
                    exact.p99_ms,
                )
            row.take_http()

    def merge(self, other: Seconds) -> Seconds:
        """A new store holding both: second ``k`` of one adds to second ``k`` of the other."""
        out = Seconds()
        for key in sorted({*self.series, *other.series}):
            parts = [s for s in (self.series.get(key), other.series.get(key)) if s is not None]
            first = min(p.first for p in parts)
            for second in range(first, max(p.end for p in parts)):
                count, ok, blobs = _summed(parts, second)
                if count or second == first:
                    out.put(key, second, count, ok, _added(blobs))
        return out

    def to_list(self) -> list[dict[str, Any]]:
        return [
            {
                "metric": m,
                "scope": sc,
                "scenario": sn,
                "first": s.first,
                "count": s.count.tolist(),
                "ok": s.ok.tolist(),
                "hdr": [base64.b64encode(b).decode("ascii") for b in s.hdr],
            }
            for (m, sc, sn), s in sorted(self.series.items())
        ]

    @classmethod
    def from_list(cls, data: list[dict[str, Any]]) -> Seconds:
        out = cls()
        for item in data:
            key = (str(item["metric"]), str(item["scope"]), str(item["scenario"]))
            held = out.series[key] = SecondSeries(int(item["first"]))
            held.count.extend(int(n) for n in item["count"])
            held.ok.extend(int(n) for n in item["ok"])
            held.hdr.extend(base64.b64decode(b) for b in item["hdr"])
            if not len(held.count) == len(held.ok) == len(held.hdr):
                raise ValueError(f"seconds of {'.'.join(key)}: count, ok and hdr differ in length")
        return out


def _added(blobs: list[bytes]) -> bytes:
    if len(blobs) < 2:
        return blobs[0] if blobs else b""
    total = latency_histogram()
    for blob in blobs:
        add_into(total, expand(blob))
    return compress(total)


def _summed(parts: Iterable[SecondSeries], second: int) -> tuple[int, int, list[bytes]]:
    """Second ``second`` of each of ``parts``: the counts and ok counts added, and the
    histograms of those that hold one."""
    count = ok = 0
    blobs = []
    for part in parts:
        c, o, blob = part.at(second)
        count, ok = count + c, ok + o
        if blob:
            blobs.append(blob)
    return count, ok, blobs
