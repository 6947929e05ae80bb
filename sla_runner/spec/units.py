"""Explicit units: durations, sizes, rates, percents and weights as written in a spec.

Every parser takes the text a person wrote and returns an exact integer in a base unit
(nanoseconds, bytes, milli-events per second) or raises ``ValueError`` with a message
that says what was expected and what was found.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

_NUMBER = r"(?:\d+(?:\.\d+)?|\.\d+)"

NS_PER_UNIT: dict[str, int] = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
BYTES_PER_UNIT: dict[str, int] = {
    "B": 1,
    "KB": 1024,
    "MB": 1024**2,
    "GB": 1024**3,
    "TB": 1024**4,
    "KiB": 1024,
    "MiB": 1024**2,
    "GiB": 1024**3,
}
SECONDS_PER_RATE_UNIT: dict[str, int] = {"s": 1, "m": 60, "min": 60, "h": 3600}

_DURATION_PART = re.compile(rf"({_NUMBER})(ns|us|µs|ms|s|m|h)")
_DURATION = re.compile(rf"(?:{_NUMBER}(?:ns|us|µs|ms|s|m|h))+")
_SIZE = re.compile(rf"({_NUMBER})\s*(B|KB|MB|GB|TB|KiB|MiB|GiB)")
_RATE = re.compile(rf"({_NUMBER})\s*/\s*(s|min|m|h)")
_PERCENT = re.compile(rf"({_NUMBER})\s*%")

# Upper bounds keep every figure finite and every schedule computable.
MAX_DURATION_NS = 30 * 24 * NS_PER_UNIT["h"]  # 30 days
MAX_RATE_PER_S = 10_000_000
MAX_MIX_WHEEL = 1_000_000  # requests before an endpoint mix repeats; any two weights to 1:999,999


MAX_NUMBER_CHARS = 40


def _fraction(text: str) -> Fraction:
    if len(text) > MAX_NUMBER_CHARS:  # keeps int() far from Python's 4300-digit limit
        raise ValueError(f"the number {text[:MAX_NUMBER_CHARS]}… is too long")
    return Fraction(text)


def parse_duration_ns(text: str) -> int:
    """``250ms``, ``5s``, ``2m``, ``1h30m`` → nanoseconds. Zero is allowed, negatives are not."""
    compact = text.strip()
    if not _DURATION.fullmatch(compact):
        raise ValueError(f"expected a duration like 5s, 250ms or 1h30m, got {text!r}")
    total = sum(
        _fraction(number) * NS_PER_UNIT[unit] for number, unit in _DURATION_PART.findall(compact)
    )
    if total > MAX_DURATION_NS:
        raise ValueError(f"duration {text!r} is longer than the 30-day limit")
    return round(total)


def parse_size_bytes(text: str) -> int:
    """``512MB`` → bytes (binary multiples: 1 KB = 1024 B, as memory is reported)."""
    match = _SIZE.fullmatch(text.strip())
    if not match:
        raise ValueError(f"expected a size like 512MB or 2GB, got {text!r}")
    return round(_fraction(match[1]) * BYTES_PER_UNIT[match[2]])


def parse_rate_per_s(text: str) -> Fraction:
    """``50/s``, ``3000/m`` → events per second, exact."""
    match = _RATE.fullmatch(text.strip())
    if not match:
        raise ValueError(f"expected a rate like 50/s or 3000/m, got {text!r}")
    rate = _fraction(match[1]) / SECONDS_PER_RATE_UNIT[match[2]]
    if rate > MAX_RATE_PER_S:
        raise ValueError(f"rate {text!r} is above the {MAX_RATE_PER_S:,}/s limit")
    return rate


def parse_percent(text: str) -> Fraction:
    """``99%`` → 99 (percent, exact)."""
    match = _PERCENT.fullmatch(text.strip())
    if not match:
        raise ValueError(f"expected a percentage like 99%, got {text!r}")
    return _fraction(match[1])


def mix_counts(weights: Iterable[float]) -> tuple[int, ...]:
    """Endpoint weights → the smallest whole numbers in exactly the same ratio.

    A weight is read as its shortest decimal spelling, which is what was written for any
    weight of up to 15 digits (``0.1`` is 1/10, not the binary float nearest it):
    3 : 3 : 1 → (3, 3, 1); 0.5 : 1.5 → (1, 3); 0.002 : 4 → (1, 2000). The counts add up
    to the length of the wheel that deals the mix exactly.
    """
    exact = [Fraction(repr(float(w))) for w in weights]
    if not exact:
        return ()
    common = math.lcm(*(w.denominator for w in exact))
    counts = [int(w * common) for w in exact]
    g = math.gcd(*counts)
    return tuple(c // g for c in counts)


def format_duration_ns(ns: int) -> str:
    """The shortest exact spelling: 90_000_000_000 → ``1m30s``; 250_000_000 → ``250ms``."""
    if ns == 0:
        return "0s"
    parts: list[str] = []
    rest = ns
    for unit in ("h", "m", "s", "ms", "us", "ns"):
        size = NS_PER_UNIT[unit]
        whole, rest = divmod(rest, size)
        if whole:
            parts.append(f"{whole}{unit}")
    return "".join(parts)


@dataclass(frozen=True, order=True)
class Duration:
    """A span of time, exact to the nanosecond."""

    ns: int

    @classmethod
    def parse(cls, text: str) -> Duration:
        return cls(parse_duration_ns(text))

    @classmethod
    def of_seconds(cls, seconds: float) -> Duration:
        return cls(round(seconds * 1_000_000_000))

    @property
    def seconds(self) -> float:
        return self.ns / 1_000_000_000

    def __str__(self) -> str:
        return format_duration_ns(self.ns)


@dataclass(frozen=True)
class Rate:
    """Arrivals per second, exact (``3000/m`` is exactly 50/s)."""

    per_s: Fraction
    text: str

    @classmethod
    def parse(cls, text: str) -> Rate:
        return cls(parse_rate_per_s(text), text.strip())

    def __str__(self) -> str:
        return self.text
