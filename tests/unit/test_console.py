"""The console summary: plain text off a terminal, every threshold and endpoint, no secrets."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from sla_runner.report.console import print_summary, status_line
from tests.unit.verdict_data import SECRET, STATUSES, verdict_of


def summary(status: str) -> str:
    out = io.StringIO()
    print_summary(verdict_of(status, secrets=frozenset()), out, secrets=frozenset({SECRET}))
    return out.getvalue()


@pytest.mark.parametrize("status", STATUSES)
def test_plain_summary_of_every_status(status: str) -> None:
    text = summary(status)
    assert "\x1b[" not in text
    assert SECRET not in text
    # The status line closes the summary; for a run that could not be carried out it is
    # the cause, and comes first (see the next test).
    lines = text.rstrip().splitlines()
    assert lines[1 if status == "error" else -1] == status_line(verdict_of(status))


def test_a_run_that_never_started_says_why_first_and_no_table_of_skips() -> None:
    """A closed port printed a table of 8 SKIP rows, and only then the line that said why."""
    assert summary("error").splitlines() == [
        "checkout-api 2.3.0 (specs/checkout.yaml, sha256 abababababab)",
        "ERROR: cannot connect to https://***@example.test: refused (exit code 3)",
        "8 thresholds not judged: the run never started",
    ]


def test_failed_run_lists_thresholds_endpoints_and_findings() -> None:
    text = summary("fail")
    assert "\n p95(http) < 200ms   " in text
    assert "| 700.4 ms | < 200 ms | 200 | FAIL" in text
    assert "| steady | 700.4 ms | < 150 ms | 100 | WARN" in text
    assert " http.create-order  |    56 |  14 |      4 |  540.2 |  780.3 |  780.3 |  780.3" in text
    assert "Findings:\n  - http.create-order accounts for all 52 http requests" in text
    assert text.rstrip().endswith("FAIL: 3 of 8 thresholds failed, 1 warning (exit code 1)")


def test_status_lines() -> None:
    assert status_line(verdict_of("pass")) == "PASS: 3 of 3 thresholds held (exit code 0)"
    assert status_line(verdict_of("invalid")).startswith("INVALID RUN:")
    assert status_line(verdict_of("aborted")) == (
        "ABORTED: judged on what was measured; 0 failed, 6 skipped of 8 (exit code 3)"
    )


def test_pass_line_counts_only_what_held() -> None:
    """A skipped threshold (a segment's load share) and a warn without data did not hold:
    the line agrees with the JUnit report, which shows them as skipped and warned."""
    base = verdict_of("pass")
    first = base.thresholds[0]
    thresholds = [
        first,
        first.model_copy(update={"status": "skipped", "passed": None}),
        first.model_copy(update={"severity": "warn", "status": "warn", "passed": False}),
        first.model_copy(
            update={"severity": "warn", "status": "no_data", "passed": False, "observed": None}
        ),
    ]
    verdict = base.model_copy(update={"thresholds": thresholds})
    assert status_line(verdict) == (
        "PASS: 1 of 4 thresholds held, 2 warnings, 1 skipped (exit code 0)"
    )


def test_a_terminal_console_is_used_as_given() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=160)
    print_summary(verdict_of("fail"), console)
    assert "\x1b[" in out.getvalue()


def test_back_offs_are_shown_when_there_were_any() -> None:
    assert "backed off" not in summary("fail")
    base = verdict_of("fail")
    verdict = base.model_copy(
        update={"validity": base.validity.model_copy(update={"backoffs": 1234})}
    )
    out = io.StringIO()
    print_summary(verdict, out)
    assert "\nusers backed off 1,234 times after a refused or reset connection\n" in out.getvalue()


def test_a_run_stopped_early_says_why_on_its_last_line() -> None:
    """--fail-fast: the last line read 'FAIL: 0 of 3 thresholds failed', contradicting
    itself; the reason was only under Notes."""
    verdict = verdict_of("pass").model_copy(
        update={"status": "fail", "message": "stopped early by --fail-fast: no success in 1s"}
    )
    assert status_line(verdict) == (
        "FAIL: stopped early by --fail-fast: no success in 1s; 0 of 3 thresholds failed "
        "(exit code 1)"
    )


def test_open_model_users_are_in_flight_and_skips_do_not_repeat_themselves() -> None:
    """An open-model run printed 'users held max 1' for its requests in flight, and the
    Skipped list read 'users >= 10: skipped: ...' under its 'Skipped:' heading."""
    closed = summary("fail")
    assert "users held max 10" in closed
    verdict = verdict_of("fail", secrets=frozenset())
    planned = verdict.validity.model_copy(update={"planned": 200})
    # As the verdict records its model, and as one written before it was recorded (no
    # models: an open run is told by its planned arrivals).
    for models in ({"default": "open"}, {}):
        opened = verdict.model_copy(update={"validity": planned, "scenario_models": models})
        out = io.StringIO()
        print_summary(opened, out, secrets=frozenset())
        assert "in flight max 10" in out.getvalue()
        assert "users held" not in out.getvalue()
    aborted = summary("aborted")
    skipped = aborted.split("Skipped:\n")[1]
    assert "  - p95(http) < 150ms (during steady): the run was aborted before stage" in skipped
    assert ": skipped: " not in skipped
