"""Write every report a run asked for: each one attempted, whatever happened to the others."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sla_runner.comparison import Comparison
from sla_runner.errors import EXIT_FAIL, EXIT_RUN_ERROR, ReportError
from sla_runner.report.comparison import (
    comparison_suite,
    write_comparison_json,
    write_comparison_junit,
)
from sla_runner.report.html import write_html
from sla_runner.report.json_report import write_json
from sla_runner.report.junit import write_junit
from sla_runner.report.markdown import comparison_markdown, verdict_markdown, write_markdown
from sla_runner.verdict import Verdict


@dataclass(frozen=True)
class Reports:
    """What writing a verdict's reports came to: each one asked for, in order, is the path
    written or the error that stopped it."""

    verdict: Verdict
    outcomes: tuple[Path | ReportError, ...]
    comparison: Comparison | None = None

    @property
    def written(self) -> list[Path]:
        return [o for o in self.outcomes if isinstance(o, Path)]

    @property
    def failed(self) -> list[ReportError]:
        return [o for o in self.outcomes if isinstance(o, ReportError)]

    @property
    def exit_code(self) -> int:
        """The verdict's; 1 when it passed but the comparison with a baseline found a
        regression; 3 when a report could not be written (whichever is highest)."""
        code = self.verdict.exit_code
        if self.comparison is not None and self.comparison.regressed:
            code = max(code, EXIT_FAIL)
        return max(code, EXIT_RUN_ERROR) if self.failed else code

    def closing(self) -> str | None:
        """Why the exit code is not the verdict's, when it is not."""
        if self.exit_code == self.verdict.exit_code:
            return None
        if self.failed:
            return (
                f"exit code {self.exit_code}: a report could not be written "
                f"(the verdict: {self.verdict.status}, exit code {self.verdict.exit_code})"
            )
        return (
            f"exit code {self.exit_code}: the run passed, but it regressed against the "
            "baseline (see above)"
        )


def write_each(
    verdict: Verdict,
    *,
    junit: Path | str | None = None,
    json: Path | str | None = None,
    html: Path | str | None = None,
    summary_md: Path | str | None = None,
    comparison: Comparison | None = None,
    secrets: frozenset[str] = frozenset(),
) -> Reports:
    """Write the reports asked for atomically, for every status; each one is attempted
    whatever happened to the others. A ``comparison`` with a baseline adds its cases to
    the JUnit and its section to the HTML and the Markdown summary."""
    more = None if comparison is None else (lambda clean: [comparison_suite(comparison, clean)])
    writers: _Writers = (
        (junit, lambda p: write_junit(p, verdict, secrets=secrets, more=more)),
        (json, lambda p: write_json(p, verdict, secrets=secrets)),
        (html, lambda p: write_html(p, verdict, secrets=secrets, comparison=comparison)),
        (
            summary_md,
            lambda p: write_markdown(
                p, verdict_markdown(verdict, secrets=secrets, comparison=comparison)
            ),
        ),
    )
    return Reports(verdict, _attempt(writers), comparison)


_Writers = tuple[tuple[Path | str | None, Callable[[Path | str], Path]], ...]


def _attempt(writers: _Writers) -> tuple[Path | ReportError, ...]:
    """Each report asked for (a path given), written or the error that stopped it."""
    outcomes: list[Path | ReportError] = []
    for path, write in writers:
        if path is None:
            continue
        try:
            outcomes.append(write(path))
        except ReportError as exc:
            outcomes.append(exc)
    return tuple(outcomes)


def write_comparison(
    comparison: Comparison,
    *,
    json: Path | str | None = None,
    junit: Path | str | None = None,
    summary_md: Path | str | None = None,
    secrets: frozenset[str] = frozenset(),
) -> tuple[Path | ReportError, ...]:
    """``sla-runner compare``'s reports, each attempted whatever happened to the others."""
    return _attempt(
        (
            (json, lambda p: write_comparison_json(p, comparison, secrets=secrets)),
            (junit, lambda p: write_comparison_junit(p, comparison, secrets=secrets)),
            (
                summary_md,
                lambda p: write_markdown(p, comparison_markdown(comparison, secrets=secrets)),
            ),
        )
    )


def write_reports(
    verdict: Verdict,
    *,
    junit: Path | str | None = None,
    json: Path | str | None = None,
    html: Path | str | None = None,
    summary_md: Path | str | None = None,
    comparison: Comparison | None = None,
    secrets: frozenset[str] = frozenset(),
) -> list[Path]:
    """Write the reports asked for (JUnit XML, JSON verdict, HTML, Markdown summary)
    atomically, for every status.

    Each is attempted even when one fails; then a single ReportError names every failure.
    """
    reports = write_each(
        verdict,
        junit=junit,
        json=json,
        html=html,
        summary_md=summary_md,
        comparison=comparison,
        secrets=secrets,
    )
    if reports.failed:
        raise ReportError("; ".join(str(exc) for exc in reports.failed))
    return reports.written
