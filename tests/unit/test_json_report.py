"""The JSON verdict: schema-valid, stable, readable back, and free of secrets."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from sla_runner.errors import ReportError
from sla_runner.report.json_report import (
    read_verdict,
    verdict_from_json,
    verdict_to_json,
    write_json,
)
from sla_runner.verdict import verdict_json_schema, verdict_json_schema_text
from tests.support.paths import ROOT
from tests.unit.verdict_data import SECRET, STATUSES, verdict_of

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("SLA_RUNNER_UPDATE_GOLDEN") == "1"
SECRETS = frozenset({SECRET})


def validator() -> Any:
    schema = verdict_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def normalised(text: str) -> str:
    """HDR encodings depend on the zlib build; the runner version changes with releases."""
    text = re.sub(r'"(hdr|\w+_hdr)": "HISTF[^"]*"', r'"\1": "HDR"', text)
    return re.sub(r'"runner_version": "[^"]*"', '"runner_version": "VERSION"', text)


@pytest.mark.parametrize("status", STATUSES)
def test_every_verdict_is_valid_against_the_schema_and_reads_back(
    status: str, tmp_path: Path
) -> None:
    verdict = verdict_of(status)
    path = write_json(tmp_path / "a" / "b" / "verdict.json", verdict, secrets=SECRETS)
    text = path.read_text(encoding="utf-8")
    validator().validate(json.loads(text))
    assert read_verdict(path) == verdict
    assert SECRET not in text
    assert json.loads(text)["status"] == status


def test_layout_starts_with_identity_and_outcome() -> None:
    data = json.loads(verdict_to_json(verdict_of("fail"), secrets=SECRETS))
    assert list(data)[:7] == [
        "format", "format_version", "status", "exit_code", "message", "spec", "run",
    ]  # fmt: skip
    assert (data["format"], data["format_version"]) == ("sla-runner/verdict", 1)
    assert (data["status"], data["exit_code"]) == ("fail", 1)
    first = data["thresholds"][0]
    assert first["expr"] == "p95(http) < 200ms"
    assert (first["observed"], first["limit"], first["unit"], first["passed"]) == (
        700.415,
        200.0,
        "ms",
        False,
    )
    assert first["margin"] == -500.415
    assert set(data["metrics"]) == {
        "http",
        "http.create-order",
        "http.list-items",
        "ws",
        "ws.prices",
        "process.rss",
        "process.cpu",
        "users",
    }
    assert list(data["metrics"]["http"]["latency_ms"]) == [
        "min", "mean", "p50", "p90", "p95", "p99", "p99.9", "max",
    ]  # fmt: skip
    assert data["metrics"]["http"]["errors"] == {"connect_error": 4, "status_503": 8, "timeout": 4}
    assert data["validity"]["valid"] is True


def test_golden_failed_run() -> None:
    text = normalised(verdict_to_json(verdict_of("fail"), secrets=SECRETS))
    golden = GOLDEN / "verdict_fail.json"
    if UPDATE:
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")


def test_secrets_are_redacted_everywhere_but_histograms_stay_intact() -> None:
    verdict = verdict_of("error")
    text = verdict_to_json(verdict, secrets=SECRETS)
    assert SECRET not in text
    assert "cannot connect to https://***@example.test: refused" in text
    # A verdict built without knowing the secret still has it redacted when written.
    raw = verdict_of("fail", secrets=frozenset())
    assert SECRET in raw.model_dump_json()
    written = verdict_to_json(raw, secrets=SECRETS)
    assert SECRET not in written
    assert verdict_from_json(written).recording == raw.recording


def test_a_file_that_is_not_a_verdict_is_a_report_error(tmp_path: Path) -> None:
    bad = tmp_path / "x.json"
    bad.write_text('{"format": "something-else"}', encoding="utf-8")
    with pytest.raises(ReportError, match="not an sla-runner verdict"):
        read_verdict(bad)
    with pytest.raises(ReportError, match="not a JSON verdict"):
        verdict_from_json("{", source="x.json")
    with pytest.raises(ReportError, match=r"missing\.json: cannot read the verdict: No such file"):
        read_verdict(tmp_path / "missing.json")


def test_committed_schema_is_current() -> None:
    committed = ROOT / "schemas" / "verdict.schema.json"
    assert committed.read_text(encoding="utf-8") == verdict_json_schema_text(), (
        "schemas/verdict.schema.json is stale; regenerate it with "
        "sla-runner schema verdict > schemas/verdict.schema.json"
    )


def test_schema_documents_the_exit_codes() -> None:
    description = verdict_json_schema()["description"]
    for code in ("0 pass", "1 fail", "2 invalid spec", "3 error", "4 invalid"):
        assert code in description


def test_a_lone_surrogate_reads_back_as_a_replacement_character() -> None:
    """A verdict whose text held a lone surrogate (written escaped, as a report writes an
    environment value that was not UTF-8) reads, prints and writes again."""
    text = verdict_to_json(verdict_of("pass")).replace('"notes": [', '"notes": ["caf\\udce9", ', 1)
    verdict = verdict_from_json(text, source="v.json")
    assert verdict.notes[0] == "caf\ufffd"
    verdict_to_json(verdict).encode("utf-8")


def test_the_message_says_why_an_aborted_or_invalid_verdict_is_so() -> None:
    """``message`` was null for aborted and invalid verdicts while JUnit and the console
    gave the reason."""
    aborted = verdict_of("aborted")
    assert aborted.message == (
        "the run was aborted after 1.5s of the 4s run; judged on what was measured"
    )
    invalid = verdict_of("invalid")
    assert invalid.validity.reasons
    assert invalid.message == "the run is invalid: " + "; ".join(invalid.validity.reasons)
    assert verdict_of("pass").message is None
    assert verdict_of("fail").message is None  # the failed thresholds say it
