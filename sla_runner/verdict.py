"""The verdict, format ``sla-runner/verdict`` version 1: frozen Pydantic models.

The JSON verdict is ``Verdict.model_dump(mode="json", by_alias=True)``; its JSON Schema,
committed at ``schemas/verdict.schema.json``, is :func:`verdict_json_schema`. A verdict
carries the full recording (HDR-encoded, per stage), so ``sla-runner merge`` can re-judge
exactly, and the thresholds as the spec wrote them, so it can do so without the spec.
"""

from __future__ import annotations

import json
from typing import Any, Final, Literal

from pydantic import BaseModel, Field, computed_field, model_validator

from sla_runner.errors import EXIT_FAIL, EXIT_INVALID_RUN, EXIT_PASS, EXIT_RUN_ERROR
from sla_runner.verdict_provenance import CiRun, GitState
from sla_runner.verdict_thresholds import (
    ThresholdResult,
    ThresholdSpec,
    ThresholdStatus,
    ThresholdUnit,
    VerdictModel,
    WindowResult,
    threshold_id,
)

__all__ = [
    "EXIT_CODES",
    "EXIT_CODES_DOC",
    "SCHEMA_DIALECT",
    "VERDICT_FORMAT",
    "VERDICT_FORMAT_VERSION",
    "VERDICT_SCHEMA_ID",
    "CiRun",
    "GitState",
    "LoadModel",
    "MetricSummary",
    "Percentiles",
    "RunFacts",
    "SecondFigures",
    "SpecIdentity",
    "ThresholdResult",
    "ThresholdSpec",
    "ThresholdStatus",
    "ThresholdUnit",
    "TimelineRow",
    "Validity",
    "Verdict",
    "VerdictFormat",
    "VerdictFormatVersion",
    "VerdictStatus",
    "WindowResult",
    "schema_document",
    "schema_text",
    "threshold_id",
    "verdict_json_schema",
    "verdict_json_schema_text",
]

# The format's name and version: the types the model checks, the constants readers compare
# with (mypy holds each constant to its type).
VerdictFormat = Literal["sla-runner/verdict"]
VerdictFormatVersion = Literal[1]
VERDICT_FORMAT: Final[VerdictFormat] = "sla-runner/verdict"
VERDICT_FORMAT_VERSION: Final[VerdictFormatVersion] = 1

VerdictStatus = Literal["pass", "fail", "invalid", "error", "aborted"]

EXIT_CODES: dict[str, int] = {
    "pass": EXIT_PASS,
    "fail": EXIT_FAIL,
    "error": EXIT_RUN_ERROR,
    "aborted": EXIT_RUN_ERROR,
    "invalid": EXIT_INVALID_RUN,
}

EXIT_CODES_DOC = (
    "Exit codes of sla-runner: 0 pass (warn thresholds may have missed); 1 fail (a threshold "
    "of severity fail missed or had no data; in an invalid run, one whose failure no "
    "generator causes: see thresholds[].trusted); 2 invalid spec or command line (nothing was "
    "run; no verdict is written); 3 error (the run could not be carried out) or aborted "
    "(interrupted; everything measured is kept); 4 invalid (the generator could not deliver "
    "the planned load honestly, or a merge lacks segments; see validity.reasons)."
)


class SpecIdentity(VerdictModel):
    name: str
    sla_version: str
    path: str = Field(description="the spec file as given on the command line")
    sha256: str = Field(description="hex SHA-256 of the spec file's bytes")
    owner: str | None = Field(None, description="the spec's owner, as written")
    labels: dict[str, str] = Field(
        default_factory=dict, description="the spec's free labels, as written"
    )
    format_version: int | None = Field(
        None,
        description="the spec file's format version (1 or 2; a version-1 file is run as the "
        "one-scenario format-2 spec it means); null in verdicts written before it was recorded",
    )
    git: GitState | None = Field(
        None,
        description="the commit of the git work tree the spec file was in, and the file's "
        "state in it; null when it was in none (or in verdicts written before it was recorded)",
    )


class RunFacts(VerdictModel):
    started_at: str | None = Field(
        description="ISO 8601, UTC: when the load started, or, for a run that could not be "
        "carried out, when it was attempted; null when not known"
    )
    finished_at: str | None
    duration_s: float = Field(
        description="the run, the drain after its load included; for a run that could not "
        "be carried out, the time its attempt took"
    )
    runner_version: str
    runner_git: GitState | None = Field(
        None,
        description="sla-runner's own commit: of the checkout it ran from (modified when its "
        "sla_runner/ differed), or the one pip recorded installing it from git; null when "
        "neither is known",
    )
    ci: CiRun | None = Field(
        None,
        description="the CI job that made this verdict (for a merge, the merging job); null "
        "outside CI (or in verdicts written before it was recorded)",
    )
    host: str
    base_url: str = Field(description="the target, with secrets redacted")
    segment: str = Field(
        description="this process's share of the load, i/N; 'merged' for all N segments "
        "merged; 'i+j/N' for a merge that lacks some (load-share thresholds are skipped)"
    )
    overrides: dict[str, str] = Field(
        default_factory=dict,
        description="the --set KEY=VALUE overrides the run was made with (the spec's sha256 "
        "is of the file as written); header values and secrets masked",
    )
    engine: str | None = Field(
        default=None,
        description="the HTTP/1.1 transport that sent the requests: raw, aiohttp or httpx "
        "(endpoints with http2 always go through httpx); a merged verdict lists those of "
        "its parts; null when not recorded",
    )
    warnings: list[str] = Field(default_factory=list)


class Percentiles(VerdictModel):
    min: float
    mean: float
    p50: float
    p90: float
    p95: float
    p99: float
    p99_9: float = Field(alias="p99.9")
    max: float


class MetricSummary(VerdictModel):
    """One metric (``http``), endpoint (``http.list-items``), channel, gauge or flow
    (``flow.<scenario>``: passes through the scenario's flow, think time excluded; a failed
    pass's error kind is ``<step>:<kind>``, the step that failed it and how)."""

    count: int = Field(
        description="requests, round trips, connects, passes of a flow, or samples of a gauge"
    )
    errors: dict[str, int] = Field(
        default_factory=dict, description="outcomes other than ok, by kind"
    )
    rate: float | None = Field(None, description="per second over the run")
    latency_ms: Percentiles | None = None
    values: Percentiles | None = Field(None, description="gauges and users, in unit")
    unit: str | None = None
    hdr: str | None = Field(None, description="HdrHistogram compressed encoding (µs, KiB, 1/100 %)")


class Validity(VerdictModel):
    valid: bool = Field(
        description="false when the figures cannot judge the service: the generator could "
        "not deliver the load, a merge lacks segments, or the run never started"
    )
    reasons: list[str] = Field(default_factory=list)
    planned: int | None = Field(
        None,
        description="open model: arrivals planned up to the end of the run; null for the "
        "closed model (virtual users plan no arrivals) and for a run that never started",
    )
    dropped: int = 0
    late: int = 0
    backoffs: int = Field(
        0,
        description="closed model: pauses users made before their next request after a "
        "refused or reset connection (10 ms doubling up to the think time, or 1 s)",
    )
    generator_cpu_p90: float | None = Field(None, description="percent of one core")
    generator_cpu_max: float | None = None
    loop_lag_p99_ms: float | None = None
    bounds: dict[str, float] = Field(default_factory=dict, description="the bounds applied")


class SecondFigures(VerdictModel):
    """What one metric or endpoint/channel completed in one second of the run."""

    count: int = Field(description="requests, round trips or connects completed")
    errors: dict[str, int] = Field(
        default_factory=dict, description="of those, the outcomes other than ok, by kind"
    )
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None


class TimelineRow(VerdictModel):
    second: int
    stage: int
    users: int
    requests: int
    errors: int
    ws_round_trips: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    rss_bytes: int | None
    cpu_pct: float | None
    dropped: int
    late: int
    arrivals: int = Field(
        0, description="open model: arrivals started in the second (dropped ones not counted)"
    )
    series: dict[str, SecondFigures] = Field(
        default_factory=dict,
        description="per metric and per endpoint or channel, keyed as metrics is (http, "
        "http.<endpoint>, ws.<channel>, …): what completed in the second, with its latency "
        "percentiles; a key is absent in a second where nothing of it completed; empty in "
        "verdicts written before it was recorded",
    )
    scenario_users: dict[str, int] = Field(
        default_factory=dict,
        exclude_if=lambda v: not v,
        description="a run of several scenarios: each scenario's users (open model: requests "
        "in flight) at most during the second; users is their total",
    )


LoadModel = Literal["closed", "open"]


class Verdict(VerdictModel):
    """The outcome of judging one run (or several merged) of one spec."""

    format: VerdictFormat = VERDICT_FORMAT
    format_version: VerdictFormatVersion = VERDICT_FORMAT_VERSION
    status: VerdictStatus
    message: str | None = Field(
        None,
        description="why the status is what the thresholds alone do not say: why the run "
        "could not be carried out, why it stopped early, or why it fails although invalid",
    )
    spec: SpecIdentity
    run: RunFacts
    thresholds: list[ThresholdResult] = Field(default_factory=list)
    findings: list[str] = Field(default_factory=list)
    validity: Validity
    metrics: dict[str, MetricSummary] = Field(default_factory=dict)
    scenarios: dict[str, dict[str, MetricSummary]] = Field(
        default_factory=dict,
        exclude_if=lambda v: not v,
        description="a run of several scenarios: each scenario's own figures (http, its "
        "endpoints, ws, ws_connect, users), keyed as metrics are, over its window",
    )
    scenario_models: dict[str, LoadModel] = Field(
        default_factory=dict,
        exclude_if=lambda v: not v,
        description="each scenario's load model, a run of one scenario included (a "
        "version-1 spec's is 'default'): closed (users, each waiting on its own request) or "
        "open (arrivals at a rate; its users figure counts the requests it has in flight); "
        "absent in verdicts written before it was recorded",
    )
    stages: list[str] = Field(default_factory=list)
    timeline: list[TimelineRow] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    spec_thresholds: list[ThresholdSpec] = Field(
        default_factory=list, description="the spec's thresholds as written, for re-judging"
    )
    recording: dict[str, Any] | None = Field(
        None, description="everything measured (sla_runner Recording, HDR-encoded, per stage)"
    )

    @model_validator(mode="before")
    @classmethod
    def _drop_exit_code(cls, data: Any) -> Any:
        """``exit_code`` is written for readers; it follows from ``status`` when read."""
        if isinstance(data, dict) and "exit_code" in data:
            data = {k: v for k, v in data.items() if k != "exit_code"}
        return data

    @computed_field(  # type: ignore[prop-decorator]
        description="the exit code sla-runner gave for this verdict (see status)"
    )
    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]

    def untrusted(self, t: ThresholdResult) -> bool:
        """Whether result ``t`` of this verdict is not a fact about the service (an invalid
        run's; in verdicts written before ``trusted`` was recorded, every result of an
        invalid one)."""
        if t.trusted is None:
            return self.status == "invalid"
        return not t.trusted

    @property
    def failed(self) -> list[ThresholdResult]:
        """Thresholds of severity fail that did not hold."""
        return [t for t in self.thresholds if t.severity == "fail" and t.passed is False]


VERDICT_SCHEMA_ID = "urn:sla-runner:schema:verdict:v1"
SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def schema_document(
    model: type[BaseModel], schema_id: str, title: str, description: str
) -> dict[str, Any]:
    """A committed JSON Schema (draft 2020-12): the model's, under our id, title and
    description."""
    body = model.model_json_schema(by_alias=True, mode="serialization")
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": schema_id,
        "title": title,
        "description": description,
        **{k: v for k, v in body.items() if k not in ("title", "description")},
    }


def schema_text(schema: dict[str, Any]) -> str:
    """A schema as committed: 2-space indented JSON with a final newline."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def verdict_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the verdict, as committed at schemas/verdict.schema.json.

    Regenerate the committed copy with ``sla-runner schema verdict``.
    """
    return schema_document(
        Verdict,
        VERDICT_SCHEMA_ID,
        "sla-runner verdict",
        f"The JSON verdict sla-runner writes with --json, format {VERDICT_FORMAT} version "
        f"{VERDICT_FORMAT_VERSION}. status is one of pass, fail, invalid, error, aborted. "
        + EXIT_CODES_DOC,
    )


def verdict_json_schema_text() -> str:
    """The schema as committed: 2-space indented JSON with a final newline."""
    return schema_text(verdict_json_schema())
