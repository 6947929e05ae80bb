"""Thresholds over windows: ``window``, ``for`` and ``warmup``, judged from the per-second
histograms (:mod:`sla_runner.metrics.seconds`), added exactly — never a percentile of
percentiles.

The span a threshold judges is its ``during`` stage, its scenario's stages, or the run, as far
as the run went; ``warmup`` leaves its first seconds out. A second belongs to the span when it
starts inside it (samples count in the second they completed in); when the span ends where
its scenario's load ends, the seconds after it (responses still arriving while users leave)
belong to its last window, as the whole run's thresholds count them.

``window: W``
    The span is cut into tumbling windows of W from its start (after the warmup); the last
    may be shorter. Each window's statistic comes from its seconds' histograms and counts
    added; one window that misses fails the threshold, and ``observed`` is the worst window's
    value. A window with no samples is ``no_data`` (nothing completed in it: never a pass).
``for: F``
    Each second's own value, from that second's histogram, is compared with the limit; the
    threshold fails when the limit is missed for F seconds in a row (from the first missing
    second to the last: a second with no samples neither breaks nor lengthens a stretch, as
    Taurus' ``for`` reads its data points). ``observed`` is the value the statistic stayed at
    or past for F seconds at its worst — the highest, over every F-second stretch, of the
    stretch's best second (the lowest, for a lower bound) — so it fails exactly when it is
    past the limit. A spike shorter than F passes.
``warmup: S`` alone
    One window: the span after its first S seconds.

``rate`` is per second of the window (per second: the second's count); ``success_rate`` and
``error_rate`` are the window's (second's) own.
"""

from __future__ import annotations

from dataclasses import dataclass

from hdrh.histogram import HdrHistogram

from sla_runner import numbers
from sla_runner.metrics.histogram import add_into, latency_histogram
from sla_runner.metrics.recording import Recording
from sla_runner.metrics.seconds import SecondFigure
from sla_runner.metrics.stats import histogram_stat
from sla_runner.spec.parts import ThresholdRuleV2
from sla_runner.spec.thresholds import Threshold
from sla_runner.timeunits import NS_PER_S, US_PER_MS
from sla_runner.verdict import WindowResult

__all__ = ["Options", "Windowed", "clock", "judge_windows", "window_message"]

NO_SECONDS = (
    "the recording keeps no per-second histograms (written before thresholds over windows "
    "were judged): judge it again on a new run"
)


@dataclass(frozen=True)
class Windowed:
    """What a threshold over windows came to."""

    observed: float | None  # the worst window's value; for: the value sustained at worst
    samples: int
    windows: list[WindowResult]  # every window; for: every stretch that breached
    worst: WindowResult | None = None  # the window (stretch) the message names
    missed: int = 0  # windows (stretches at least ``for`` long) that missed
    empty: WindowResult | None = None  # the first window with no samples
    reason: str | None = None  # why nothing could be judged


@dataclass(frozen=True)
class Options:
    """How a threshold is judged over its span: its ``window`` or ``for`` (at most one), its
    ``warmup``, and the stage warmups its span holds (left out as well)."""

    window_ns: int | None = None
    for_s: int | None = None
    warmup_ns: int = 0
    excluded: tuple[tuple[int, int], ...] = ()  # (start, end) from the run's start

    @classmethod
    def of(
        cls, rule: ThresholdRuleV2 | None, excluded: tuple[tuple[int, int], ...] = ()
    ) -> Options:
        if rule is None:
            return cls(excluded=excluded)
        return cls(
            window_ns=rule.window.ns if rule.window else None,
            for_s=rule.for_.ns // NS_PER_S if rule.for_ else None,
            warmup_ns=rule.warmup.ns if rule.warmup else 0,
            excluded=excluded,
        )

    def left_out(self, second: int) -> bool:
        t = second * NS_PER_S
        return any(a <= t < b for a, b in self.excluded)

    def kept_ns(self, start: int, end: int) -> int:
        """How much of [start, end) no stage warmup leaves out."""
        out = sum(max(0, min(end, b) - max(start, a)) for a, b in self.excluded)
        return end - start - out


def judge_windows(
    t: Threshold, options: Options, recording: Recording, stage: int | None, scenario: str | None
) -> Windowed:
    """``t`` over its span of ``recording``, as ``options`` say."""
    if not recording.seconds:
        return Windowed(None, 0, [], reason=NO_SECONDS)
    chosen = recording.seconds.select(t.metric, t.scope, scenario)
    start, planned_end = recording.span_ns(stage, scenario)
    end = start + recording.window_ns(stage, scenario)
    begin = start + options.warmup_ns
    first = -(-begin // NS_PER_S)
    last = -(-end // NS_PER_S)
    if _ends_load(recording, stage, scenario, planned_end) and chosen:
        last = max(last, *(s.end for s in chosen))
    figures = {
        f.second: f
        for f in recording.seconds.figures(chosen, range(first, last))
        if not options.left_out(f.second)
    }
    if options.for_s is not None:
        return _sustained(t, figures, options)
    width = options.window_ns or max(end - begin, NS_PER_S)
    return _tumbling(t, figures, (begin, end, last), width, options)


def _ends_load(recording: Recording, stage: int | None, scenario: str | None, end: int) -> bool:
    """Whether the span ends where its scenario's load (or the run's) ends: the seconds
    after it hold that load's last responses."""
    if stage is None:
        return True
    return end == recording.span_ns(None, recording.stage_scenarios[stage])[1]


def _tumbling(
    t: Threshold,
    figures: dict[int, SecondFigure],
    bounds: tuple[int, int, int],
    width: int,
    options: Options,
) -> Windowed:
    """``bounds``: where the windows start and end, and the second after the last one held
    (the drain's included)."""
    begin, end, last = bounds
    windows: list[WindowResult] = []
    values: list[tuple[float, WindowResult]] = []
    samples = 0
    ws = begin
    while ws < end:
        we = min(ws + width, end)
        final = ws + width >= end
        stop = last if final else -(-we // NS_PER_S)
        kept = options.kept_ns(ws, we)
        if kept <= 0:  # a stage's warmup holds the whole window
            ws += width
            continue
        seconds = [figures[s] for s in range(-(-ws // NS_PER_S), stop) if s in figures]
        value, n = _value(t, seconds, kept)
        observed = None if value is None else numbers.stored_against(value, t.unit, t.holds)[0]
        passed = None if value is None else t.holds(value)
        window = WindowResult(
            start_s=ws / NS_PER_S, end_s=we / NS_PER_S, observed=observed, samples=n, passed=passed
        )
        windows.append(window)
        samples += n
        if value is not None:
            values.append((value, window))
        ws += width
    if not values:
        return Windowed(None, 0, windows, reason="no samples in any window of its span")
    value, worst = min(values, key=lambda item: _margin(t, item[0]))
    missed = sum(1 for w in windows if w.passed is False)
    empty = next((w for w in windows if w.passed is None), None)
    return Windowed(value, samples, windows, worst, missed, empty)


def _sustained(t: Threshold, figures: dict[int, SecondFigure], options: Options) -> Windowed:
    length = options.for_s or 1
    parts: list[list[tuple[int, float, int]]] = [[]]  # (second, value, samples), split by
    for second in sorted(figures):  # the stage warmups between them
        value, n = _value(t, [figures[second]], NS_PER_S)
        if value is None:
            continue
        if parts[-1] and any(options.left_out(s) for s in range(parts[-1][-1][0] + 1, second)):
            parts.append([])
        parts[-1].append((second, value, n))
    if not parts[0]:
        return Windowed(None, 0, [], reason="no samples in any second of its span")
    samples = sum(n for part in parts for _, _, n in part)
    stretches = [w for part in parts for w in _stretches(t, part, length)]
    longest = max(stretches, key=lambda w: (w.end_s - w.start_s, -w.start_s), default=None)
    missed = sum(1 for w in stretches if w.passed is False)
    helds = [h for part in parts if (h := _held_for(t, part, length)) is not None]
    held = min(helds, key=lambda v: _margin(t, v)) if helds else None
    if held is None:
        return Windowed(
            None,
            samples,
            stretches,
            longest,
            missed,
            reason=f"fewer than {length}s of its span held samples",
        )
    return Windowed(held, samples, stretches, longest, missed)


def _stretches(
    t: Threshold, per_second: list[tuple[int, float, int]], length: int
) -> list[WindowResult]:
    """Every stretch of seconds that missed the limit in a row (seconds with no samples
    inside it neither break nor end it)."""
    out: list[WindowResult] = []
    run: list[tuple[int, float, int]] = []

    def close() -> None:
        if run:
            span = run[-1][0] + 1 - run[0][0]
            worst = min((v for _, v, _ in run), key=lambda v: _margin(t, v))
            out.append(
                WindowResult(
                    start_s=float(run[0][0]),
                    end_s=float(run[-1][0] + 1),
                    observed=numbers.stored_against(worst, t.unit, t.holds)[0],
                    samples=sum(n for _, _, n in run),
                    passed=span < length,
                )
            )
            run.clear()

    for item in per_second:
        if t.holds(item[1]):
            close()
        else:
            run.append(item)
    close()
    return out


def _held_for(t: Threshold, per_second: list[tuple[int, float, int]], length: int) -> float | None:
    """The value the statistic stayed at or past for ``length`` seconds at its worst: over
    every stretch of at least ``length`` seconds (from a second with samples to one with
    samples), its best second's value; the worst of those. None: no such stretch."""
    upper = t.op in ("<", "<=")
    best_of = min if upper else max
    worst: float | None = None
    j = 0
    for i, (second, _, _) in enumerate(per_second):
        j = max(j, i)
        while j < len(per_second) and per_second[j][0] < second + length - 1:
            j += 1
        if j == len(per_second):
            break
        held = best_of(v for _, v, _ in per_second[i : j + 1])
        if worst is None or _margin(t, held) < _margin(t, worst):
            worst = held
    return worst


def _margin(t: Threshold, value: float) -> float:
    return t.limit - value if t.op in ("<", "<=") else value - t.limit


def _value(t: Threshold, seconds: list[SecondFigure], duration_ns: int) -> tuple[float | None, int]:
    """The statistic of ``seconds`` added (over ``duration_ns``), and its sample count."""
    count = sum(f.count for f in seconds)
    if count == 0:
        return None, 0
    ok = sum(f.ok for f in seconds)
    if t.stat == "success_rate":
        return 100 * ok / count, count
    if t.stat == "error_rate":
        return 100 * (count - ok) / count, count
    if t.stat == "rate":
        return count * NS_PER_S / duration_ns, count
    if t.stat == "count":
        return float(count), count
    hist = _added([f.latency_us for f in seconds if f.latency_us is not None])
    n = hist.get_total_count()
    if n == 0:
        return None, 0
    return histogram_stat(hist, t.stat, 1 / US_PER_MS), n


def _added(hists: list[HdrHistogram]) -> HdrHistogram:
    if len(hists) == 1:
        return hists[0]
    out = latency_histogram()
    for h in hists:
        add_into(out, h)
    return out


def clock(seconds: float) -> str:
    """``01:30`` (minutes and seconds from the run's start), ``1:02:03`` past an hour; a
    fraction of a second is kept (``00:02.5``)."""
    whole = int(seconds)
    frac = f"{seconds - whole:.3f}".rstrip("0").rstrip(".")[1:] if seconds != whole else ""
    h, rest = divmod(whole, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}{frac}" if h else f"{m:02d}:{s:02d}{frac}"


def window_message(rule: ThresholdRuleV2, judged: Windowed, label: str, observed: float) -> str:
    """The result's message: the window (or stretch) that decided it, and its figure."""
    t = rule.expr
    limit = f"limit {t.op} {numbers.value(t.limit, t.unit)}"
    shown = numbers.observed(observed, t.limit, t.unit)
    n = f"n={numbers.count(judged.samples)}"
    warm = f" after a {rule.warmup} warmup" if rule.warmup else ""
    worst = judged.worst
    if rule.for_ is not None:
        head = f"{label} = {shown} for {rule.for_}{warm}, {limit}"
        if worst is None:
            return f"{head}: no second missed it ({n})"
        length = f"{numbers.number(worst.end_s - worst.start_s)}s"
        second = _shown(t, worst.observed)
        what = "missed" if worst.passed is False else "longest breach"
        return f"{head}: {what} {length} in a row, {_span(worst)} (worst second {second}; {n})"
    if rule.window is None:
        return f"{label} = {shown}{warm}, {limit} ({n})"
    count = len(judged.windows)
    windows = f"window{'s' if count != 1 else ''} of {rule.window}{warm}"
    if judged.missed and worst is not None:
        return (
            f"window {_span(worst)}: {label} = {shown}, {limit}; "
            f"{judged.missed} of {count} {windows} missed ({n})"
        )
    if judged.empty is not None:
        return (
            f"window {_span(judged.empty)}: no samples; {label} = {shown} at worst in the "
            f"others, {limit} ({n})"
        )
    where = f" (window {_span(worst)})" if worst is not None and count > 1 else ""
    return f"{label} = {shown} at worst{where}, {limit}; {count} {windows} held ({n})"


def _span(w: WindowResult) -> str:
    return f"{clock(w.start_s)}–{clock(w.end_s)}"


def _shown(t: Threshold, value: float | None) -> str:
    return "-" if value is None else numbers.observed(value, t.limit, t.unit)
