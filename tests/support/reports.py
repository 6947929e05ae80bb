"""Checks every report a test produces must pass: the JUnit XSD, junitparser's counts, the
committed verdict schema. Tests that write reports call :func:`check_reports`."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import xmlschema
from junitparser import Failure, JUnitXml

from tests.support.paths import ROOT

XSD = ROOT.parent / "shared" / "reference" / "junit-10.xsd"
VERDICT_SCHEMA = ROOT / "schemas" / "verdict.schema.json"


@cache
def _junit_schema() -> xmlschema.XMLSchema | None:
    return xmlschema.XMLSchema(str(XSD)) if XSD.is_file() else None


@cache
def _verdict_validator() -> Any:
    schema = json.loads(VERDICT_SCHEMA.read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def check_junit(path: Path, verdict: dict[str, Any]) -> JUnitXml:
    """Valid against the Jenkins xUnit XSD, and read back with the verdict's counts."""
    schema = _junit_schema()
    if schema is None:
        pytest.skip(f"the JUnit XSD is not at {XSD} (../shared beside the clone)")
    schema.validate(str(path))
    xml = JUnitXml.fromfile(str(path))
    statuses = [t["status"] for t in verdict["thresholds"]]
    cases = [case for suite in xml for case in suite if case.name != "run"]
    assert len(cases) == len(statuses)
    red = [case for suite in xml for case in suite if not case.is_passed and not case.is_skipped]
    # CI reads the JUnit alone: it is red exactly when the exit code is not 0.
    assert bool(red) == (verdict["status"] != "pass"), verdict["status"]
    if verdict["status"] in ("pass", "fail"):
        failed = [c for c in cases if any(isinstance(r, Failure) for r in c.result)]
        judged = [t for t in verdict["thresholds"] if t.get("trusted") is not False]
        assert len(failed) == sum(t["status"] in ("fail", "no_data") for t in judged)
    for suite in xml:  # the cases' times add up to the run's (reporters sum them)
        assert sum(round(c.time * 1000) for c in suite) == round(suite.time * 1000)
    return xml


def check_reports(junit: Path, json_path: Path) -> dict[str, Any]:
    """Both files exist and are valid; returns the verdict as JSON data."""
    verdict: dict[str, Any] = json.loads(json_path.read_text(encoding="utf-8"))
    _verdict_validator().validate(verdict)
    check_junit(junit, verdict)
    return verdict
