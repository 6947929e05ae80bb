"""HDR histograms with the project's fixed ranges, and their compressed encoding."""

from __future__ import annotations

from hdrh.histogram import HdrHistogram

SIGNIFICANT_DIGITS = 3
LATENCY_LOWEST_US = 1
LATENCY_HIGHEST_US = 60_000_000  # 60 s
GAUGE_HIGHEST = 2**40  # rss in KiB (1 PiB), CPU in hundredths of a percent


def latency_histogram() -> HdrHistogram:
    """Microseconds, 1 µs to 60 s, 3 significant digits."""
    return HdrHistogram(LATENCY_LOWEST_US, LATENCY_HIGHEST_US, SIGNIFICANT_DIGITS)


def gauge_histogram() -> HdrHistogram:
    return HdrHistogram(1, GAUGE_HIGHEST, SIGNIFICANT_DIGITS)


def encode(histogram: HdrHistogram) -> str:
    """HdrHistogram's compressed, base64 encoding (the "HISTF..." text)."""
    return histogram.encode().decode("ascii")  # type: ignore[no-any-return]


def decode(text: str) -> HdrHistogram:
    return HdrHistogram.decode(text.encode("ascii"))


def merged(histograms: list[HdrHistogram], *, like: HdrHistogram | None = None) -> HdrHistogram:
    """A new histogram holding every value of ``histograms``; exact for same-range inputs."""
    out = latency_histogram() if like is None else _empty_like(like)
    for h in histograms:
        add_into(out, h)
    return out


def add_into(target: HdrHistogram, source: HdrHistogram) -> None:
    """``target += source``. Skips an empty source: hdrh's ``add`` of an empty histogram
    resets the target's minimum to 0."""
    if source.get_total_count():
        target.add(source)


def _empty_like(h: HdrHistogram) -> HdrHistogram:
    return HdrHistogram(h.lowest_trackable_value, h.highest_trackable_value, h.significant_figures)
