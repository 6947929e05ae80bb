"""JUnit XML: golden file, the Jenkins xUnit XSD, and junitparser reading the counts back."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import xmlschema
from junitparser import JUnitXml

from sla_runner.report.junit import summary_table, verdict_to_junit, write_junit
from sla_runner.verdict import MetricSummary
from tests.unit.verdict_data import SECRET, STATUSES, verdict_of

XSD = Path(__file__).resolve().parents[2] / "../shared/reference/junit-10.xsd"
GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("SLA_RUNNER_UPDATE_GOLDEN") == "1"

# status → (tests, failures, errors, skipped) of the one test suite
EXPECTED_COUNTS = {
    "pass": (3, 0, 0, 0),
    "fail": (8, 3, 0, 0),
    "invalid": (8, 0, 8, 0),
    # Cut short at 1.5 s of 4 s: no samples yet of create-order, ws.prices, process.rss; the
    # load's size (users, rate) needs the whole run; stage steady never reached. Plus the
    # run's own case: error type Aborted.
    "aborted": (9, 0, 1, 6),
    "error": (9, 0, 1, 8),  # every threshold skipped, and the run's case: error type RunError
}


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema:
    if not XSD.is_file():
        pytest.skip(f"the JUnit XSD is not at {XSD.resolve()} (../shared beside the clone)")
    return xmlschema.XMLSchema(str(XSD))


def normalised(xml: str) -> str:
    """The report with the facts that vary between machines and versions replaced."""
    return re.sub(r'runner\.version" value="[^"]*"', 'runner.version" value="VERSION"', xml)


@pytest.mark.parametrize("status", STATUSES)
def test_every_report_is_valid_and_reads_back_with_the_right_counts(
    status: str, schema: xmlschema.XMLSchema, tmp_path: Path
) -> None:
    path = write_junit(
        tmp_path / "out" / "junit.xml", verdict_of(status), secrets=frozenset({SECRET})
    )
    schema.validate(str(path))
    suites = list(JUnitXml.fromfile(str(path)))
    assert len(suites) == 1
    suite = suites[0]
    assert (suite.tests, suite.failures, suite.errors, suite.skipped) == EXPECTED_COUNTS[status]
    assert suite.name == "checkout-api 2.3.0"
    assert SECRET not in path.read_text(encoding="utf-8")


def test_a_failed_run_no_threshold_shows_still_reads_red() -> None:
    """--fail-fast stops a run whose thresholds held so far: exit 1, so the JUnit fails too."""
    verdict = verdict_of("pass").model_copy(
        update={"status": "fail", "message": "stopped early by --fail-fast: no success in 1s"}
    )
    xml = verdict_to_junit(verdict)
    assert '<testcase name="run" classname="sla.checkout-api"' in xml
    assert '<failure type="StoppedEarly" message="stopped early by --fail-fast' in xml
    assert 'failures="1"' in xml


def test_failure_message_and_body() -> None:
    xml = verdict_to_junit(verdict_of("fail"))
    assert (
        '<failure type="ThresholdFailed" message="p95(http) = 700.4 ms, limit &lt; 200 ms (n=200)">'
        in xml
    )
    assert "   min     p50     p90     p95     p99   p99.9     max (ms)" in xml
    assert "WARN (severity warn, does not fail the run): p95(http) = 700.4 ms" in xml


def test_invalid_runs_mark_every_case() -> None:
    invalid = verdict_to_junit(verdict_of("invalid"))
    assert invalid.count('type="InvalidRun"') == 8
    assert "message=\"invalid run: the generator's CPU was saturated: p90 of its 24" in invalid


def test_properties_identify_the_spec_and_the_run() -> None:
    xml = verdict_to_junit(verdict_of("pass"), secrets=frozenset({SECRET}))
    for prop in (
        '<property name="spec.name" value="checkout-api" />',
        '<property name="spec.sla_version" value="2.3.0" />',
        f'<property name="spec.sha256" value="{"ab" * 32}" />',
        '<property name="run.base_url" value="https://user:***@example.test/api?token=***" />',
        '<property name="run.started_at" value="2026-01-01T00:00:00.000Z" />',
    ):
        assert prop in xml


def test_spec_owner_and_labels_are_properties() -> None:
    xml = verdict_to_junit(verdict_of("pass"), secrets=frozenset({SECRET}))
    for prop in (
        '<property name="spec.owner" value="team-checkout" />',
        '<property name="label.service" value="checkout" />',
        '<property name="label.tier" value="1" />',
    ):
        assert prop in xml


def test_label_keys_are_cleaned_and_redacted_like_values() -> None:
    base = verdict_of("pass")
    spec = base.spec.model_copy(update={"labels": {"bell\x07key": "v", f"k-{SECRET}": "w"}})
    xml = verdict_to_junit(base.model_copy(update={"spec": spec}), secrets=frozenset({SECRET}))
    assert '<property name="label.bell\ufffdkey" value="v" />' in xml
    assert '<property name="label.k-***" value="w" />' in xml
    assert SECRET not in xml
    assert JUnitXml.fromstring(xml) is not None


def test_a_threshold_of_one_stage_is_a_case_of_its_own_name() -> None:
    """CI tools key cases by classname and name: the run's p95 and a stage's p95 of the
    same expression must not collapse into one."""
    names = JUnitXml.fromstring(verdict_to_junit(verdict_of("fail")))
    cases = [case.name for suite in names for case in suite]
    assert "p95(http) < 200ms" in cases
    assert "p95(http) < 150ms (during steady)" in cases
    assert len(cases) == len(set(cases))


def test_text_xml_cannot_hold_is_replaced() -> None:
    """Control characters and lone surrogates (only a hand-made verdict has them) would
    make the report unreadable or unwritable: each becomes U+FFFD."""
    base = verdict_of("pass")
    odd = base.model_copy(update={"notes": ["bell \x07, surrogate \ud800, ok \u00e9"]})
    xml = verdict_to_junit(odd)
    xml.encode("utf-8")
    assert "bell \ufffd, surrogate \ufffd, ok \u00e9" in xml
    assert JUnitXml.fromstring(xml) is not None


def test_golden_failed_run() -> None:
    xml = normalised(verdict_to_junit(verdict_of("fail"), secrets=frozenset({SECRET})))
    golden = GOLDEN / "junit_fail.xml"
    if UPDATE:
        golden.write_text(xml, encoding="utf-8")
    assert xml == golden.read_text(encoding="utf-8")


def test_the_suite_output_counts_warned_and_skipped_thresholds() -> None:
    """<system-out> said only 'thresholds: 7, failed: 0' of a run with skips and warnings."""
    xml = verdict_to_junit(verdict_of("aborted"))
    assert "thresholds: 8, failed: 0, warned: 0, skipped: " in xml
    skipped = sum(t.status == "skipped" for t in verdict_of("aborted").thresholds)
    assert skipped
    assert f"warned: 0, skipped: {skipped}\n" in xml


def test_the_figures_under_a_failure_count_one_error_and_one_sample_in_the_singular() -> None:
    one = MetricSummary(count=1, errors={"status_500": 1}, rate=1.0)
    assert summary_table("http", one) == [
        "http over the whole run: 1 sample, 1/s, 1 error (status_500 1)"
    ]
    two = MetricSummary(count=2, errors={"status_500": 2}, rate=2.0)
    assert summary_table("http", two) == [
        "http over the whole run: 2 samples, 2/s, 2 errors (status_500 2)"
    ]
