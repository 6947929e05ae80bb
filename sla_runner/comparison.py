"""A run compared with a baseline, format ``sla-runner/comparison`` version 1: frozen
Pydantic models, as :mod:`sla_runner.verdict` holds the verdict's.

The JSON document is ``Comparison.model_dump(mode="json")``; its JSON Schema, committed at
``schemas/comparison.schema.json``, is :func:`comparison_json_schema`. How figures are
compared is :mod:`sla_runner.judge.compare`.
"""

from __future__ import annotations

from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from sla_runner.errors import EXIT_FAIL, EXIT_PASS
from sla_runner.verdict import VerdictStatus, schema_document, schema_text

ComparisonFormat = Literal["sla-runner/comparison"]
ComparisonFormatVersion = Literal[1]
COMPARISON_FORMAT: Final[ComparisonFormat] = "sla-runner/comparison"
COMPARISON_FORMAT_VERSION: Final[ComparisonFormatVersion] = 1

Figure = Literal["p50", "p95", "p99", "success_rate", "throughput"]
FigureStatus = Literal["regressed", "held", "improved"]

COMPARISON_EXIT_CODES_DOC = (
    "Exit codes of sla-runner compare: 0 no figure got worse beyond the tolerance; 1 a "
    "regression (some figure did); 2 the verdicts are of different specs or plans (unless "
    "--allow-spec-change), or one has no figures to compare, or the command line is "
    "invalid; 3 a verdict could not be read or a report could not be written."
)


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class VerdictRef(_Model):
    """Which verdict was compared."""

    path: str = Field(description="the verdict file as given")
    spec: str = Field(description="the spec's name")
    sla_version: str
    sha256: str = Field(description="hex SHA-256 of the spec file the verdict judged")
    status: VerdictStatus
    started_at: str | None
    segment: str


class ComparedFigure(_Model):
    """One figure of one metric, in the baseline and in the new run."""

    name: str = Field(description="as a threshold names it: p95(http.list-items), …")
    metric: str = Field(description="the metric, endpoint or channel, as the verdict's keys")
    scenario: str | None = Field(
        None,
        description="a run of several scenarios (spec format 2): the scenario whose own "
        "figures these are (the verdict's scenarios); null for the whole run's",
    )
    figure: Figure
    unit: Literal["ms", "%", "/s"]
    baseline: float
    new: float
    change: float = Field(description="new minus baseline, in unit")
    change_pct: float | None = Field(
        description="the change as a percentage of the baseline; null when the baseline is 0 "
        "and for the success rate (a percentage itself: its change is in points)"
    )
    allowed: float = Field(
        description="how much worse (in unit) the figure may get before it is a regression: "
        "the tolerance, or the noise floor where that is larger"
    )
    status: FigureStatus = Field(
        description="regressed: worse by more than allowed; improved: better by more than "
        "allowed; held: neither. A percentile or success rate is worse by how far the new "
        "run's interval lies beyond the baseline's (for a percentile new_interval's low end "
        "minus baseline_interval's high end), so that sampling error is never a regression"
    )
    message: str
    baseline_count: int | None = Field(
        None, description="the samples the baseline measured (null in documents before it)"
    )
    new_count: int | None = Field(None, description="the samples the new run measured")
    baseline_interval: tuple[float, float] | None = Field(
        None,
        description="the 95% confidence interval of the baseline's figure, in unit: of a "
        "percentile from its HDR histogram (the figure itself when the verdict has none), of "
        "the success rate Wilson's; null for the throughput",
    )
    new_interval: tuple[float, float] | None = Field(
        None, description="the 95% confidence interval of the new run's figure"
    )


class UnresolvedFigure(_Model):
    """A percentile one of the runs has too few samples to resolve: not compared, never a
    regression."""

    name: str = Field(description="as a threshold names it: p99(http.list-items), …")
    metric: str
    scenario: str | None = None
    figure: Figure
    unit: Literal["ms"]
    baseline: float
    new: float
    baseline_count: int
    new_count: int
    needed: int = Field(
        description="the samples each run needs for this percentile to be compared: "
        "min_samples_beyond of them beyond it (p50 20, p95 200, p99 1000)"
    )
    message: str


class Comparison(_Model):
    """A new run's figures compared with a baseline's, metric by metric."""

    format: ComparisonFormat = COMPARISON_FORMAT
    format_version: ComparisonFormatVersion = COMPARISON_FORMAT_VERSION
    status: Literal["ok", "regression"]
    tolerance_pct: float = Field(description="how much worse a figure may get, in percent")
    noise_floor_ms: float = Field(
        description="latency changes up to this many ms are never a regression"
    )
    success_floor_pct: float = Field(
        description="success-rate drops up to this many percentage points are never a regression"
    )
    baseline: VerdictRef
    new: VerdictRef
    spec_changes: list[str] = Field(
        default_factory=list,
        description="how the specs or plans differ (compared anyway: --allow-spec-change)",
    )
    figures: list[ComparedFigure] = Field(default_factory=list)
    min_samples_beyond: int = Field(
        10,
        description="a percentile is compared only when each run has at least this many "
        "samples beyond it; else it is listed in unresolved",
    )
    confidence_pct: float = Field(
        95.0, description="the confidence of the percentiles' intervals, in percent"
    )
    unresolved: list[UnresolvedFigure] = Field(
        default_factory=list,
        description="percentiles not compared: not enough samples to resolve them",
    )
    notes: list[str] = Field(
        default_factory=list,
        description="what was not compared and why (a metric in one verdict only), and "
        "verdicts whose figures cannot judge the service",
    )

    @computed_field(  # type: ignore[prop-decorator]
        description="the exit code sla-runner compare gives: 1 for a regression, else 0"
    )
    @property
    def exit_code(self) -> int:
        return EXIT_FAIL if self.status == "regression" else EXIT_PASS

    @property
    def regressed(self) -> list[ComparedFigure]:
        return [f for f in self.figures if f.status == "regressed"]


COMPARISON_SCHEMA_ID = "urn:sla-runner:schema:comparison:v1"


def comparison_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the comparison, as committed at
    schemas/comparison.schema.json (regenerate: ``sla-runner schema comparison``)."""
    return schema_document(
        Comparison,
        COMPARISON_SCHEMA_ID,
        "sla-runner comparison",
        f"What sla-runner compare --json writes, format {COMPARISON_FORMAT} version "
        f"{COMPARISON_FORMAT_VERSION}: a run's figures against a baseline's. "
        + COMPARISON_EXIT_CODES_DOC,
    )


def comparison_json_schema_text() -> str:
    """The schema as committed: 2-space indented JSON with a final newline."""
    return schema_text(comparison_json_schema())
