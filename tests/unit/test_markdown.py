"""The Markdown summary of a run that could not be carried out: it reads as the console
does, the cause first and once, then one line for the thresholds it left unjudged."""

from __future__ import annotations

import io

from sla_runner.judge.verdicts import error_verdict
from sla_runner.report.console import print_summary
from sla_runner.report.markdown import md, verdict_markdown
from sla_runner.verdict import Verdict
from tests.unit.verdict_data import (
    SECRET,
    close,
    known_run,
    make_spec,
    run_info,
    verdict_of,
)


def console(verdict: Verdict) -> list[str]:
    out = io.StringIO()
    print_summary(verdict, out, secrets=frozenset({SECRET}))
    return out.getvalue().splitlines()


def test_a_run_that_never_started_says_why_once_and_counts_its_thresholds_in_one_line() -> None:
    """A closed port gave a table of SKIP rows, and the cause three times: the status line,
    **Why:**, and a **Run invalid:** reason (besides each row's message in JSON/JUnit)."""
    verdict = verdict_of("error")
    lines = verdict_markdown(verdict, secrets=frozenset({SECRET})).splitlines()
    assert lines[:5] == [
        "### ❌ ERROR: checkout-api 2.3.0",
        "",
        r"ERROR: cannot connect to https://\*\*\*@example.test: refused (exit code 3)",
        "",
        "8 thresholds not judged: the run never started",
    ]
    assert lines[5] == ""
    assert lines[6].startswith("<sub>specs/checkout.yaml · sha256 abababababab")
    assert len(lines) == 7
    # The same two lines as the console's, in the same order: one wording for both.
    assert [lines[2], lines[4]] == [md(line) for line in console(verdict)[1:3]]


def test_a_run_cut_short_by_an_error_says_what_was_not_judged_once_too() -> None:
    """An error after load was sent: the thresholds are not judged either (the run could not
    be carried out), in one line, and the cause is still said once."""
    spec = make_spec(["p95(http) < 200ms", "success_rate(http) > 99%"])
    recording = close(known_run(spec))
    verdict = error_verdict(
        spec, run_info(error="the generator crashed"), recording=recording, secrets=frozenset()
    )
    text = verdict_markdown(verdict)
    lines = text.splitlines()
    assert lines[2] == "ERROR: the generator crashed (exit code 3)"
    assert lines[4] == "2 thresholds not judged: the run could not be carried out"
    assert text.count("the generator crashed") == 1
    assert "| result |" not in text
    assert [lines[2], lines[4]] == [md(line) for line in console(verdict)[1:3]]


def test_an_invalid_run_points_at_its_reasons_where_they_are() -> None:
    """The console lists the reasons above its status line; the summary lists them below
    it, and says so."""
    text = verdict_markdown(verdict_of("invalid"))
    status = text.splitlines()[2]
    assert (
        status == "INVALID RUN: its figures cannot judge the service (reasons below) (exit code 4)"
    )
    assert text.index(status) < text.index("**Run invalid:**")
