"""The live view: what one line says, and how often it is written on a terminal and in a log."""

from __future__ import annotations

import io

from sla_runner.metrics.recorder import LiveStats, ScenarioLive
from sla_runner.plan import build_plan
from sla_runner.report.progress import PLAIN_EVERY_S, ProgressPrinter, format_live
from sla_runner.spec.format2 import Spec


def stats(second: float, **fields: object) -> LiveStats:
    values: dict[str, object] = {
        "elapsed_s": second,
        "stage": "steady",
        "users": 19,
        "http_rps": 148.0,
        "ws_rps": 108.0,
        "p95_ms": 8.44,
        "done": 4169,
        "errors": 3,
    }
    values.update(fields)
    return LiveStats(**values)  # type: ignore[arg-type]


def test_line_names_each_figure() -> None:
    assert format_live(stats(5.0), 18.0) == (
        "[   5.0s  28%] steady  users 19  http 148/s p95 8.4 ms  ws 108/s  errors 3 of 4,169"
    )


def test_line_leaves_out_what_the_spec_does_not_drive() -> None:
    only_ws = stats(2.0, http_rps=0.0, p95_ms=None, ws_rps=1500.0, users=1200)
    assert format_live(only_ws, 10.0) == (
        "[   2.0s  20%] steady  users 1,200  ws 1,500/s  errors 3 of 4,169"
    )
    quiet_second = stats(40.0, http_rps=0.0, ws_rps=0.0, p95_ms=None)
    assert format_live(quiet_second, 30.0).startswith("[  40.0s 100%] steady  users 19  errors")


def test_terminal_rewrites_one_line_and_pads_over_the_longer_one() -> None:
    out = io.StringIO()
    printer = ProgressPrinter(out, 10.0, tty=True)
    printer(stats(1.0, users=1000))
    printer(stats(2.0, users=1))
    printer.finish()
    first = format_live(stats(1.0, users=1000), 10.0)
    second = format_live(stats(2.0, users=1), 10.0)
    assert out.getvalue() == f"\r{first}\r{second}{' ' * (len(first) - len(second))}\n"


def test_log_gets_a_plain_line_every_few_seconds() -> None:
    out = io.StringIO()
    printer = ProgressPrinter(out, 60.0, tty=False)
    for second in range(1, 2 * PLAIN_EVERY_S + 2):
        printer(stats(float(second)))
    printer.finish()
    lines = out.getvalue().splitlines()
    assert lines == [
        format_live(stats(float(PLAIN_EVERY_S)), 60.0),
        format_live(stats(float(2 * PLAIN_EVERY_S)), 60.0),
    ]
    assert "\r" not in out.getvalue()


def test_an_open_scenario_counts_requests_in_flight_not_users() -> None:
    """A run of a closed and an open scenario said 'users 0' for the open one's requests in
    flight, and gave their sum as the run's users."""
    parts = (
        ScenarioLive("shoppers", "steady", 10, 64.0),
        ScenarioLive("api", "api-hold", 2, 30.0),
    )
    line = format_live(
        stats(5.0, users=12, scenarios=parts), 11.0, {"shoppers": "closed", "api": "open"}
    )
    assert line == (
        "[   5.0s  45%] steady  http 148/s p95 8.4 ms  ws 108/s  errors 3 of 4,169  "
        "| shoppers steady users 10 http 64/s  | api api-hold in flight 2 http 30/s"
    )
    alone = format_live(stats(5.0, users=3), 11.0, {"default": "open"})
    assert alone.startswith("[   5.0s  45%] steady  in flight 3  http 148/s")


def test_the_printer_of_a_plan_knows_which_scenarios_are_open() -> None:
    spec = Spec.model_validate(
        {
            "version": 2,
            "name": "x",
            "sla_version": "1",
            "target": {"base_url": "http://127.0.0.1:8000"},
            "endpoints": {"a": {"path": "/"}},
            "scenarios": {
                "shoppers": {
                    "load": {"stages": [{"duration": "4s", "users": 4}]},
                    "flow": ["a"],
                },
                "api": {"load": {"stages": [{"duration": "4s", "rate": "10/s"}]}, "mix": {"a": 1}},
            },
        }
    )
    out = io.StringIO()
    printer = ProgressPrinter.for_plan(out, build_plan(spec))
    parts = (ScenarioLive("shoppers", "s", 4, 4.0), ScenarioLive("api", "a", 1, 10.0))
    for second in range(1, PLAIN_EVERY_S + 1):
        printer(stats(float(second), scenarios=parts))
    assert "| shoppers s users 4 http 4/s  | api a in flight 1 http 10/s" in out.getvalue()
