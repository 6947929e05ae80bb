"""The capacity document as JSON (schema committed and current) and as JUnit (valid against
the XSD CI reporters read; a case per threshold at the capacity, one for the promise)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import xmlschema
from junitparser import Error, Failure, JUnitXml, TestCase

from sla_runner.capacity.document import CapacityDocument, capacity_json_schema_text
from sla_runner.capacity.outcome import PromisedLevel
from sla_runner.capacity.reports import capacity_to_json, write_capacity_reports
from sla_runner.redact import MASK
from tests.support.cli import run_cli
from tests.support.paths import ROOT
from tests.support.reports import XSD
from tests.unit.capacity.docs import searched

SCHEMA = ROOT / "schemas" / "capacity.schema.json"


def test_the_committed_schema_is_current() -> None:
    assert SCHEMA.read_text(encoding="utf-8") == capacity_json_schema_text(), (
        "schemas/capacity.schema.json is stale; regenerate it with "
        "sla-runner schema capacity > schemas/capacity.schema.json"
    )


def test_schema_capacity_prints_the_committed_schema() -> None:
    done = run_cli("schema", "capacity")
    assert done.code == 0, done.output
    assert done.stdout == SCHEMA.read_text(encoding="utf-8")


def _junit(doc: CapacityDocument, tmp_path: Path) -> dict[str, TestCase]:
    path = tmp_path / "junit.xml"
    written, failed, code = write_capacity_reports(doc, junit=path)
    assert (written, failed, code) == ([path], [], doc.exit_code)
    if not XSD.is_file():
        pytest.skip(f"the JUnit XSD is not at {XSD}")
    xmlschema.XMLSchema(str(XSD)).validate(str(path))
    return {case.name: case for suite in JUnitXml.fromfile(str(path)) for case in suite}


@pytest.mark.parametrize(
    "doc",
    [
        searched(capacity=100),
        searched({80: "invalid"}),
        searched(capacity=5),
        searched(capacity=100, promised=PromisedLevel("default", 120, "users")),
    ],
    ids=["pass", "invalid", "below-start", "promise-missed"],
)
def test_every_document_is_valid_against_the_schema(doc: CapacityDocument) -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    data = json.loads(capacity_to_json(doc))
    jsonschema.Draft202012Validator(schema).validate(data)
    assert data["format"] == "sla-runner/capacity"
    assert data["format_version"] == 1
    assert data["exit_code"] == doc.exit_code


def test_junit_has_a_case_per_threshold_at_the_capacity_and_one_for_the_promise(
    tmp_path: Path,
) -> None:
    held = _junit(searched(capacity=100, promised=PromisedLevel("default", 80, "users")), tmp_path)
    assert list(held) == [
        "p95(http) < 200ms",
        "success_rate(http) > 99%",
        "capacity >= 80 users",
    ]
    assert all(case.is_passed for case in held.values())
    missed = _junit(
        searched(capacity=100, promised=PromisedLevel("default", 120, "users")), tmp_path
    )
    [result] = missed["capacity >= 120 users"].result
    assert isinstance(result, Failure)
    assert result.type == "CapacityBelowPromise"
    assert missed["p95(http) < 200ms"].is_passed  # as judged at the capacity, 100 users


def test_junit_of_a_generator_limit_is_an_error_never_a_failure(tmp_path: Path) -> None:
    cases = _junit(searched({80: "invalid"}), tmp_path)
    [result] = cases["capacity"].result
    assert isinstance(result, Error)
    assert result.type == "GeneratorLimit"
    assert (
        result.message
        == "capacity is at least 40 users; the generator limit was reached at 80 users"
    )
    undecided = _junit(
        searched({80: "invalid"}, promised=PromisedLevel("default", 100, "users")), tmp_path
    )
    [result] = undecided["capacity >= 100 users"].result
    assert isinstance(result, Error)


def test_junit_without_a_capacity_shows_what_broke_at_the_first_level(tmp_path: Path) -> None:
    cases = _junit(searched(capacity=5), tmp_path)
    [result] = cases["p95(http) < 200ms"].result
    assert isinstance(result, Failure)
    assert result.message == "p95(http) = 250 ms, limit < 200 ms"


def test_secrets_are_redacted_from_both_reports(tmp_path: Path) -> None:
    doc = searched(capacity=100).model_copy(update={"message": "token s3cr3t leaked"})
    junit, report = tmp_path / "j.xml", tmp_path / "c.json"
    write_capacity_reports(doc, junit=junit, json_path=report, secrets=frozenset({"s3cr3t"}))
    for path in (junit, report):
        text = path.read_text(encoding="utf-8")
        assert "s3cr3t" not in text
        assert f"token {MASK} leaked" in text


def test_a_report_that_cannot_be_written_is_exit_3_and_the_other_is_still_written(
    tmp_path: Path,
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    report = tmp_path / "c.json"
    written, failed, code = write_capacity_reports(
        searched(capacity=100), junit=blocker / "junit.xml", json_path=report
    )
    assert written == [report]
    assert len(failed) == 1
    assert code == 3


def test_junit_tells_a_threshold_over_windows_from_its_expression_alone(tmp_path: Path) -> None:
    doc = searched(capacity=100)
    steps = []
    for s in doc.steps:
        plain = s.thresholds[0]
        windowed = plain.model_copy(update={"id": "p95(http) < 200ms (window 2s)"})
        steps.append(s.model_copy(update={"thresholds": [*s.thresholds, windowed]}))
    cases = _junit(doc.model_copy(update={"steps": steps}), tmp_path)
    assert list(cases) == [
        "p95(http) < 200ms",
        "success_rate(http) > 99%",
        "p95(http) < 200ms (window 2s)",
    ]
