from __future__ import annotations

from fractions import Fraction

import pytest

from sla_runner.spec.units import (
    Duration,
    Rate,
    format_duration_ns,
    parse_duration_ns,
    parse_percent,
    parse_rate_per_s,
    parse_size_bytes,
)


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("250ms", 250_000_000),
        ("5s", 5_000_000_000),
        ("2m", 120_000_000_000),
        ("1h30m", 5_400_000_000_000),
        ("1.5s", 1_500_000_000),
        ("100us", 100_000),
        ("0s", 0),
        (" 5s ", 5_000_000_000),
    ],
)
def test_durations(text: str, ns: int) -> None:
    assert parse_duration_ns(text) == ns


@pytest.mark.parametrize("text", ["fast", "5", "-5s", "5 s", "s", "", "5sec", "1e3ms"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="expected a duration like 5s"):
        parse_duration_ns(text)


def test_duration_limits() -> None:
    with pytest.raises(ValueError, match="30-day limit"):
        parse_duration_ns("800h")
    with pytest.raises(ValueError, match="too long"):
        parse_duration_ns("9" * 5000 + "s")


def test_duration_round_trips() -> None:
    assert format_duration_ns(90_000_000_000) == "1m30s"
    assert str(Duration.parse("250ms")) == "250ms"
    assert Duration.parse("1h30m").seconds == 5400.0


@pytest.mark.parametrize(
    ("text", "size"),
    [("512MB", 512 * 1024**2), ("2GB", 2 * 1024**3), ("10B", 10), ("1.5KB", 1536)],
)
def test_sizes(text: str, size: int) -> None:
    assert parse_size_bytes(text) == size


@pytest.mark.parametrize("text", ["512", "512mb", "MB", "-1MB"])
def test_bad_sizes(text: str) -> None:
    with pytest.raises(ValueError, match="expected a size like 512MB"):
        parse_size_bytes(text)


def test_rates() -> None:
    assert parse_rate_per_s("50/s") == 50
    assert parse_rate_per_s("3000/m") == 50
    assert Rate.parse("1/h").per_s == Fraction(1, 3600)
    with pytest.raises(ValueError, match="expected a rate like 50/s"):
        parse_rate_per_s("50")
    with pytest.raises(ValueError, match="above the 10,000,000/s limit"):
        parse_rate_per_s("100000000/s")


def test_percents() -> None:
    assert parse_percent("99%") == 99
    assert parse_percent("99.9 %") == Fraction(999, 10)
    with pytest.raises(ValueError, match="expected a percentage like 99%"):
        parse_percent("99")
