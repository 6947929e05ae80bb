"""Every unit the README's units table lists is taken everywhere a value of its kind goes:
each duration field and thresholds alike (combined durations too), sizes, rates, percents."""

from __future__ import annotations

import re
from fractions import Fraction

import pytest

from sla_runner.spec.thresholds import parse_threshold
from sla_runner.spec.units import NS_PER_UNIT
from tests.unit.spec.helpers import VALID, load, with_thresholds
from tests.unit.spec.test_readme import README


def _table() -> dict[str, tuple[list[str], list[str]]]:
    """kind → (units, examples), as the README's Units table writes them."""
    section = README.split("### Units", 1)[1].split("###", 1)[0]
    rows: dict[str, tuple[list[str], list[str]]] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0] not in ("kind", "---"):
            units, examples = (re.findall(r"`([^`]+)`", cell) for cell in cells[1:])
            rows[cells[0]] = (units, examples)
    return rows


TABLE = _table()
DURATION_UNITS, DURATION_EXAMPLES = TABLE["duration"]
# An amount of each unit that every duration field takes (at least 10ms, a process interval).
AMOUNT = {"ns": 20_000_000, "us": 20_000, "µs": 20_000, "ms": 20, "s": 2, "m": 2, "h": 2}
DURATION_FIELDS = [
    ("  process: {port: 8000}", "  process: {port: 8000, interval: VALUE}"),
    ("  process: {port: 8000}", "  process: {port: 8000}\n  timeout: VALUE"),
    ("  process: {port: 8000}", "  process: {port: 8000}\n  connect_timeout: VALUE"),
    ("weight: 3,", "weight: 3, timeout: VALUE,"),
    ("interval: 200ms}", "interval: VALUE, timeout: VALUE}"),
    ("duration: 20s", "duration: VALUE"),
    ("  think_time: 100ms", "  think_time: VALUE\n  graceful_stop: VALUE"),
    ("  think_time: 100ms", "  think_time: 1ms..VALUE"),
]


def test_the_table_lists_every_kind() -> None:
    assert set(TABLE) == {"duration", "size", "rate", "percent"}
    assert DURATION_UNITS == ["ns", "us", "ms", "s", "m", "h"]


@pytest.mark.parametrize("unit", DURATION_UNITS)
def test_every_duration_unit_in_every_duration_field(unit: str) -> None:
    value = f"{AMOUNT[unit]}{unit}"
    for old, new in DURATION_FIELDS:
        assert load(VALID.replace(old, new.replace("VALUE", value), 1)).spec


@pytest.mark.parametrize("unit", DURATION_UNITS)
@pytest.mark.parametrize("stat", ["p95", "p99.9", "min", "max", "mean"])
@pytest.mark.parametrize("metric", ["http", "ws", "ws_connect", "http.list-items"])
def test_every_duration_unit_in_thresholds(unit: str, stat: str, metric: str) -> None:
    threshold = parse_threshold(f"{stat}({metric}) < 3{unit}")
    assert threshold.unit == "ms"
    assert threshold.limit == float(Fraction(3 * NS_PER_UNIT[unit], 1_000_000))


@pytest.mark.parametrize("example", [*DURATION_EXAMPLES, "1m30s", "1h0m0.5s"])
def test_combined_durations_are_taken_by_fields_and_thresholds_alike(example: str) -> None:
    field = load(VALID.replace("duration: 20s", f"duration: {example}")).spec.load.stages[0]
    threshold = load(with_thresholds(f"p95(http) < {example}")).spec.thresholds[0].expr
    assert threshold.limit == field.duration.ns / 1_000_000


@pytest.mark.parametrize("unit", TABLE["size"][0])
def test_every_size_unit_in_memory_thresholds(unit: str) -> None:
    for stat in ("p95", "max", "mean"):
        assert parse_threshold(f"{stat}(process.rss) < 512{unit}").unit == "B"
    for example in TABLE["size"][1]:
        assert load(with_thresholds(f"max(process.rss) < {example}")).spec


OPEN = VALID.replace("users: 100}", "rate: RATE}").replace("  think_time: 100ms\n", "")
OPEN = OPEN.split("channels:", 1)[0] + "load:" + OPEN.split("load:", 1)[1].split("thresholds:")[0]


@pytest.mark.parametrize("unit", [u.lstrip("/") for u in TABLE["rate"][0]])
def test_every_rate_unit_in_stages_and_thresholds(unit: str) -> None:
    spec = load(OPEN.replace("RATE", f"3600/{unit}")).spec
    assert spec.load.stages[0].rate is not None
    threshold = parse_threshold(f"rate(http) > 3600/{unit}")
    assert threshold.limit == float(spec.load.stages[0].rate.per_s)
    for example in TABLE["rate"][1]:
        assert load(OPEN.replace("RATE", example)).spec
        assert parse_threshold(f"rate(http.list-items) >= {example}")


@pytest.mark.parametrize(
    "template", ["success_rate(http) > {}", "error_rate(ws) < {}", "max(process.cpu) < {}"]
)
def test_every_percent_in_thresholds(template: str) -> None:
    assert TABLE["percent"][0] == ["%"]
    for example in TABLE["percent"][1]:
        assert parse_threshold(template.format(example)).limit == float(example.rstrip("%"))
