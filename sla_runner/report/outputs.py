"""Write every report a run asked for: each one attempted, whatever happened to the others."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sla_runner.errors import EXIT_RUN_ERROR, ReportError
from sla_runner.report.json_report import write_json
from sla_runner.report.junit import write_junit
from sla_runner.verdict import Verdict


@dataclass(frozen=True)
class Reports:
    """What writing a verdict's reports came to: each one asked for, in order, is the path
    written or the error that stopped it."""

    verdict: Verdict
    outcomes: tuple[Path | ReportError, ...]

    @property
    def written(self) -> list[Path]:
        return [o for o in self.outcomes if isinstance(o, Path)]

    @property
    def failed(self) -> list[ReportError]:
        return [o for o in self.outcomes if isinstance(o, ReportError)]

    @property
    def exit_code(self) -> int:
        """The verdict's, or 3 when a report could not be written (whichever is higher)."""
        code = self.verdict.exit_code
        return max(code, EXIT_RUN_ERROR) if self.failed else code

    def closing(self) -> str | None:
        """Why the exit code is not the verdict's, when it is not."""
        if self.exit_code == self.verdict.exit_code:
            return None
        return (
            f"exit code {self.exit_code}: a report could not be written "
            f"(the verdict: {self.verdict.status}, exit code {self.verdict.exit_code})"
        )


def write_each(
    verdict: Verdict,
    *,
    junit: Path | str | None = None,
    json: Path | str | None = None,
    secrets: frozenset[str] = frozenset(),
) -> Reports:
    """Write the JUnit XML and/or JSON verdict atomically, for every status; each one is
    attempted whatever happened to the other."""
    outcomes: list[Path | ReportError] = []
    for path, write in ((junit, write_junit), (json, write_json)):
        if path is None:
            continue
        try:
            outcomes.append(write(path, verdict, secrets=secrets))
        except ReportError as exc:
            outcomes.append(exc)
    return Reports(verdict, tuple(outcomes))


def write_reports(
    verdict: Verdict,
    *,
    junit: Path | str | None = None,
    json: Path | str | None = None,
    secrets: frozenset[str] = frozenset(),
) -> list[Path]:
    """Write the JUnit XML and/or JSON verdict atomically, for every status.

    Both are attempted even when one fails; then a single ReportError names every failure.
    """
    reports = write_each(verdict, junit=junit, json=json, secrets=secrets)
    if reports.failed:
        raise ReportError("; ".join(str(exc) for exc in reports.failed))
    return reports.written
