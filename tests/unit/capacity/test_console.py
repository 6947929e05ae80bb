"""What ``sla-runner capacity`` prints: a line per step, then the curve by level and the outcome."""

from __future__ import annotations

from sla_runner.capacity.console import capacity_summary, step_line, step_start
from sla_runner.capacity.outcome import PromisedLevel
from tests.unit.capacity.docs import ended, searched, step


def test_a_line_as_each_step_starts_and_ends() -> None:
    assert step_start(40, "/s", 3.0, 0.6) == "step 40/s: 3s, the first 0.6s not judged"
    assert step_line(step(40, "held"), "users") == "  40 users: held, p95 50 ms"
    assert step_line(step(80, "broke"), "users") == (
        "  80 users: broke, p95 250 ms; p95(http) = 250 ms, limit < 200 ms"
    )
    assert step_line(step(80, "invalid"), "users") == (
        "  80 users: invalid, p95 50 ms; the generator's event loop lagged"
    )
    dead = step(80, "dead").model_copy(update={"p95_ms": None, "reasons": ["cannot connect"]})
    assert step_line(dead, "users") == "  80 users: dead, no p95; cannot connect"


def test_the_summary_is_the_curve_by_level_then_the_outcome() -> None:
    doc = searched(capacity=100, promised=PromisedLevel("default", 80, "users"))
    lines = capacity_summary(doc).splitlines()
    assert lines[0] == "capacity search of shop 1.2.0, scenario 'default': 9 steps of 3s"
    assert lines[1].split() == [
        "level", "phase", "outcome", "p50", "ms", "p95", "ms", "p99", "ms", "success",
        "done/s", "rss", "cpu",
    ]  # fmt: skip
    levels = [int(line.split()[0]) for line in lines[2:11]]
    assert levels == sorted(levels)
    assert lines[2].split() == [
        "10",
        "users",
        "ramp",
        "held",
        "40",
        "50",
        "55",
        "100%",
        "100",
        "-",
        "-",
    ]
    assert "- promise: capacity >= 80 users holds: 80 users held" in lines
    assert "- not judged: users >= 20: judges the load's size, which the search sets" in lines
    assert lines[-1] == f"PASS (exit code 0): {doc.message}"


def test_a_search_that_measured_no_step_prints_no_empty_curve() -> None:
    """The first step could not be carried out (the target unreachable): the error, not a
    table of headings without a row."""
    why = "the first step could not be carried out: cannot connect to http://127.0.0.1:1"
    lines = capacity_summary(ended("error", [], error=why)).splitlines()
    assert lines[0] == "capacity search of shop 1.2.0, scenario 'default': no step was measured"
    assert not any(line.split()[:2] == ["level", "phase"] for line in lines if line.strip())
    assert lines[-1] == f"ERROR (exit code 3): {why}"
