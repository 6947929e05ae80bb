"""Charts as inline SVG for the HTML report: over time on one shared axis, and a
percentile curve. Pure text; every label goes through the ``esc`` function it is given.

No chart library: the two chart kinds the report needs are a few dozen lines each, the
file stays self-contained (no script to inline and keep up to date), and every chart
renders without JavaScript (the report's small script only adds a cursor shared by the
charts over time).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

WIDTH = 1100
LEFT = 76
RIGHT = 16
TOP = 30
BOTTOM = 24
PLOT_W = WIDTH - LEFT - RIGHT

Esc = Callable[[str], str]
Fmt = Callable[[float], str]


@dataclass(frozen=True)
class Line:
    label: str
    color: str
    values: Sequence[float | None]  # one per bucket of the time axis (None: a gap)
    width: float = 1.6


@dataclass(frozen=True)
class Limit:
    """A threshold's limit drawn across the chart (or across its ``during`` stage)."""

    label: str
    value: float
    start_s: float | None = None  # None: the whole axis
    end_s: float | None = None


@dataclass(frozen=True)
class Band:
    """Seconds shaded: where a threshold's per-second figure breached its limit."""

    start_s: float
    end_s: float
    label: str


@dataclass(frozen=True)
class TimeAxis:
    """The one time axis every chart over time shares: ``buckets`` of ``step_s`` seconds
    from 0, stage boundaries marked."""

    buckets: int
    step_s: int
    stages: Sequence[tuple[float, str]] = field(default_factory=tuple)  # (start s, name)

    @property
    def end_s(self) -> float:
        return float(max(self.buckets * self.step_s, 1))

    def x(self, seconds: float) -> float:
        return LEFT + PLOT_W * min(max(seconds, 0.0), self.end_s) / self.end_s


def nice_step(span: float, target: int) -> float:
    """A step of 1, 2 or 5 times a power of ten giving about ``target`` ticks over ``span``."""
    if span <= 0:
        return 1.0
    raw = span / target
    power = 10 ** math.floor(math.log10(raw))
    return float(next((m * power for m in (1, 2, 5, 10) if m * power >= raw), 10 * power))


def _time_step(span_s: float) -> float:
    for step in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200):
        if span_s / step <= 12:
            return float(step)
    return nice_step(span_s, 10)


def duration_label(seconds: float) -> str:
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m" + (f"{s % 60}s" if s % 60 else "")
    return f"{s // 3600}h" + (f"{s % 3600 // 60}m" if s % 3600 // 60 else "")


def time_chart(
    *,
    chart_id: str,
    title: str,
    axis: TimeAxis,
    lines: Sequence[Line],
    fmt: Fmt,
    esc: Esc,
    limits: Sequence[Limit] = (),
    bands: Sequence[Band] = (),
    height: int = 190,
) -> str:
    """A chart over time: lines, threshold limits as dashed lines, breaching seconds shaded,
    stage boundaries dotted. ``data-*`` attributes carry the values for the shared cursor."""
    plot_h = height - TOP - BOTTOM
    top = max(
        [v for line in lines for v in line.values if v is not None] + [lim.value for lim in limits],
        default=0.0,
    )
    step = nice_step(top * 1.08 or 1.0, 4)
    y_max = step * math.ceil((top * 1.08 or 1.0) / step)

    def y(v: float) -> float:
        return TOP + plot_h * (1 - min(max(v / y_max, 0.0), 1.0))

    legend, below = _legend(lines, esc, title, height)
    out = [
        f'<svg class="chart time" id="{esc(chart_id)}" viewBox="0 0 {WIDTH} {height + below}" '
        f'role="img" aria-label="{esc(title)}" data-step="{axis.step_s}" '
        f'data-buckets="{axis.buckets}" data-left="{LEFT}" data-plot-width="{PLOT_W}" '
        f'data-lines="{esc(json.dumps(_cursor_data(lines, fmt)))}">',
        f'<text class="title" x="{LEFT}" y="18">{esc(title)}</text>',
    ]
    for band in bands:
        x0, x1 = axis.x(band.start_s), axis.x(band.end_s)
        out.append(
            f'<rect class="breach" x="{x0:.1f}" y="{TOP}" width="{max(x1 - x0, 1):.1f}" '
            f'height="{plot_h}"><title>{esc(band.label)}</title></rect>'
        )
    out += _grid_y(y_max, step, y, fmt)
    out += _grid_x(axis, TOP, TOP + plot_h, esc)
    for line in lines:
        out += _polyline(line, axis, y, esc)
    labels = _Labels(top=TOP, bottom=TOP + plot_h)
    for limit in limits:
        x0 = axis.x(limit.start_s if limit.start_s is not None else 0)
        x1 = axis.x(limit.end_s if limit.end_s is not None else axis.end_s)
        ly = y(limit.value)
        tx, ty, anchor = labels.place(limit.label, x1 - 4, ly - 4)
        out.append(
            f'<g class="limit"><line x1="{x0:.1f}" y1="{ly:.1f}" x2="{x1:.1f}" y2="{ly:.1f}"/>'
            f'<text x="{tx:.1f}" y="{ty:.1f}" text-anchor="{anchor}">{esc(limit.label)}'
            f"</text><title>{esc(limit.label)}</title></g>"
        )
    out += legend
    out.append(
        f'<line class="cursor" x1="0" y1="{TOP}" x2="0" y2="{TOP + plot_h}" visibility="hidden"/>'
        f'<text class="readout" x="{WIDTH - RIGHT - 4}" y="{TOP + 12}" text-anchor="end"></text>'
    )
    out.append("</svg>")
    return "\n".join(out)


def _cursor_data(lines: Sequence[Line], fmt: Fmt) -> list[dict[str, object]]:
    return [
        {"label": line.label, "values": [None if v is None else fmt(v) for v in line.values]}
        for line in lines
    ]


def _grid_y(y_max: float, step: float, y: Callable[[float], float], fmt: Fmt) -> list[str]:
    out = []
    ticks = round(y_max / step)
    for i in range(ticks + 1):
        v = i * step
        gy = y(v)
        out.append(
            f'<line class="grid" x1="{LEFT}" y1="{gy:.1f}" x2="{WIDTH - RIGHT}" y2="{gy:.1f}"/>'
            f'<text class="tick" x="{LEFT - 6}" y="{gy + 4:.1f}" text-anchor="end">'
            f"{_plain(fmt(v))}</text>"
        )
    return out


def _grid_x(axis: TimeAxis, y0: float, y1: float, esc: Esc) -> list[str]:
    out = []
    step = _time_step(axis.end_s)
    t = 0.0
    while t <= axis.end_s + 1e-9:
        x = axis.x(t)
        out.append(
            f'<line class="grid" x1="{x:.1f}" y1="{y0}" x2="{x:.1f}" y2="{y1}"/>'
            f'<text class="tick" x="{x:.1f}" y="{y1 + 16}" text-anchor="middle">'
            f"{duration_label(t)}</text>"
        )
        t += step
    # A stage's name goes on the first row where it does not run into the one before it
    # (scenarios side by side start stages at the same second).
    ends: list[float] = []  # each row: where its last name ends
    rows: dict[int, int] = {}  # stage (in the axis' order) → its row
    for i in sorted(range(len(axis.stages)), key=lambda i: axis.stages[i][0]):
        start, name = axis.stages[i]
        x = axis.x(start)
        rows[i] = next((row for row, end in enumerate(ends) if end <= x), len(ends))
        ends[rows[i] :] = [x + 3 + STAGE_CHAR_PX * len(name) + 6, *ends[rows[i] + 1 :]]
    for i, (start, name) in enumerate(axis.stages):
        x = axis.x(start)
        out.append(
            f'<g class="stage"><line x1="{x:.1f}" y1="{y0}" x2="{x:.1f}" y2="{y1}"/>'
            f'<text x="{x + 3:.1f}" y="{y0 + 11 + STAGE_PITCH_PX * rows[i]}">{esc(name)}</text></g>'
        )
    return out


STAGE_CHAR_PX = 0.62 * 10  # svg .stage text{font-size:10px}, with room to spare
STAGE_PITCH_PX = 13  # a line of 10 px text and a gap


def _polyline(line: Line, axis: TimeAxis, y: Callable[[float], float], esc: Esc) -> list[str]:
    """One ``<polyline>`` per unbroken run of values (a gap where a value is None); a lone
    point is a dot."""
    runs: list[list[str]] = [[]]
    for i, v in enumerate(line.values):
        if v is None:
            runs.append([])
            continue
        runs[-1].append(f"{axis.x((i + 0.5) * axis.step_s):.1f},{y(v):.1f}")
    out = [f'<g class="line" stroke="{line.color}"><title>{esc(line.label)}</title>']
    for points in runs:
        if len(points) == 1:
            cx, cy = points[0].split(",")
            out.append(f'<circle cx="{cx}" cy="{cy}" r="2" fill="{line.color}"/>')
        elif points:
            out.append(
                f'<polyline fill="none" stroke-width="{line.width}" points="{" ".join(points)}"/>'
            )
    out.append("</g>")
    return out


def _legend(lines: Sequence[Line], esc: Esc, title: str, height: int) -> tuple[list[str], int]:
    """The lines' colours and names on the title's line, after it; what does not fit there
    goes on to rows under the chart (of ``height``): the markup, and the height it adds."""
    out = ['<g class="legend">']
    x, y = LEFT + 7.6 * len(title) + 24, 10
    for line in lines:
        if x + 14 + 7 * len(line.label) > WIDTH - RIGHT and x > LEFT:
            x, y = LEFT, max(y, height - LEGEND_PITCH_PX) + LEGEND_PITCH_PX
        out.append(
            f'<rect x="{x:.1f}" y="{y}" width="10" height="10" fill="{line.color}"/>'
            f'<text x="{x + 14:.1f}" y="{y + 9}">{esc(line.label)}</text>'
        )
        x += 22 + 7 * len(line.label)
    out.append("</g>")
    return out, max(y + LEGEND_PITCH_PX - height, 0)


LEGEND_PITCH_PX = 16  # a row of the legend under the chart: 11 px text and a gap


LABEL_PX = 11  # svg .limit text{font-size:11px}
LABEL_CHAR_PX = 0.62 * LABEL_PX  # wider than an average character of system-ui: room to spare
LABEL_PITCH_PX = 14  # one label above another: a line of 11 px text and a gap


@dataclass
class _Labels:
    """Where the limits' labels go on one chart: each where its limit asks, unless a label
    already placed takes that room; then stacked above it (below, at the plot's top), so
    two thresholds with one limit, or limits a few units apart, are both readable."""

    top: float
    bottom: float
    taken: list[tuple[float, float, float]] = field(default_factory=list)  # left, right, y

    def place(
        self, text: str, right: float, baseline: float, flip_x: float | None = None
    ) -> tuple[float, float, str]:
        """The label's x, baseline and text-anchor: ending at ``right`` or, when it would
        run off the chart's left edge, starting at ``flip_x``."""
        width = LABEL_CHAR_PX * len(text)
        anchor, left = "end", right - width
        if left < 0 and flip_x is not None:
            anchor, left, right = "start", flip_x, flip_x + width
        highest = self.top + LABEL_PX - 1
        start = min(max(baseline, highest), self.bottom)
        ups = [
            start - k * LABEL_PITCH_PX for k in range(int((start - highest) // LABEL_PITCH_PX) + 1)
        ]
        downs = [
            start + k * LABEL_PITCH_PX
            for k in range(1, int((self.bottom - start) // LABEL_PITCH_PX) + 1)
        ]
        y = next(
            (
                c
                for c in (*ups, *downs)
                if not any(
                    left < o_right and o_left < right and abs(c - o_y) < LABEL_PITCH_PX
                    for o_left, o_right, o_y in self.taken
                )
            ),
            start,  # more labels than the chart has lines: the last overprints
        )
        self.taken.append((left, right, y))
        return (left if anchor == "start" else right), y, anchor


def _plain(text: str) -> str:
    """A figure we formatted ourselves: digits, units, separators; nothing to escape but
    ``&`` and ``<`` should a unit ever hold them."""
    return text.replace("&", "&amp;").replace("<", "&lt;")


# -- the percentile curve ------------------------------------------------------------------


@dataclass(frozen=True)
class Curve:
    label: str
    color: str
    points: Sequence[tuple[float, float]]  # (percentile 0..100, value)
    count: int  # samples: the curve ends at the percentile 1 - 1/count (its last sample)

    @property
    def cap(self) -> float:
        return 1 - 1 / max(self.count, 1)


@dataclass(frozen=True)
class Mark:
    """A threshold on the curve: its limit at its percentile."""

    label: str
    percentile: float
    value: float


def nines(percentile: float, cap: float) -> float:
    """The x position of a percentile on the "nines" scale: log10(1 / (1 - p))."""
    p = min(percentile / 100, cap)
    return math.log10(1 / (1 - p))


def percentile_chart(
    *,
    chart_id: str,
    title: str,
    curves: Sequence[Curve],
    fmt: Fmt,
    esc: Esc,
    marks: Sequence[Mark] = (),
    height: int = 260,
) -> str:
    """Latency by percentile, the x axis in nines (0%, 90%, 99%, 99.9%…), as HdrHistogram
    plots do: the tail gets the room it needs."""
    plot_h = height - TOP - BOTTOM
    x_max = max(1, math.ceil(max((nines(100, c.cap) for c in curves), default=1.0) - 1e-9))
    top = max([v for c in curves for _, v in c.points] + [m.value for m in marks], default=1.0)
    step = nice_step(top * 1.08 or 1.0, 5)
    y_max = step * math.ceil((top * 1.08 or 1.0) / step)

    widest = max((c.cap for c in curves), default=0.99)

    def x(percentile: float, cap: float = widest) -> float:
        return LEFT + PLOT_W * nines(percentile, cap) / x_max

    def y(v: float) -> float:
        return TOP + plot_h * (1 - min(max(v / y_max, 0.0), 1.0))

    legend, below = _legend([Line(c.label, c.color, ()) for c in curves], esc, title, height)
    out = [
        f'<svg class="chart dist" id="{esc(chart_id)}" viewBox="0 0 {WIDTH} {height + below}" '
        f'role="img" aria-label="{esc(title)}">',
        f'<text class="title" x="{LEFT}" y="18">{esc(title)}</text>',
    ]
    out += _grid_y(y_max, step, y, fmt)
    for k in range(x_max + 1):
        label = "0%" if k == 0 else f"{100 - 100 / 10**k:.{max(k - 2, 0)}f}%"
        gx = LEFT + PLOT_W * k / x_max
        out.append(
            f'<line class="grid" x1="{gx:.1f}" y1="{TOP}" x2="{gx:.1f}" y2="{TOP + plot_h}"/>'
            f'<text class="tick" x="{gx:.1f}" y="{TOP + plot_h + 16}" '
            f'text-anchor="{"end" if k == x_max else "middle"}">{label}</text>'
        )
    for curve in curves:
        points = " ".join(f"{x(p, curve.cap):.1f},{y(v):.1f}" for p, v in curve.points)
        out.append(
            f'<g class="line" stroke="{curve.color}"><title>{esc(curve.label)}</title>'
            f'<polyline fill="none" stroke-width="1.6" points="{points}"/></g>'
        )
    labels = _Labels(top=TOP, bottom=TOP + plot_h)
    for mark in marks:
        mx, my = x(mark.percentile), y(mark.value)
        tx, ty, anchor = labels.place(mark.label, mx - 16, my - 5, flip_x=mx + 16)
        out.append(
            f'<g class="limit"><line x1="{mx - 14:.1f}" y1="{my:.1f}" x2="{mx + 14:.1f}" '
            f'y2="{my:.1f}"/><circle cx="{mx:.1f}" cy="{my:.1f}" r="3"/>'
            f'<text x="{tx:.1f}" y="{ty:.1f}" text-anchor="{anchor}">{esc(mark.label)}'
            f"</text><title>{esc(mark.label)}</title></g>"
        )
    out += legend
    out.append("</svg>")
    return "\n".join(out)
