"""Write every report a run asked for: each one attempted, whatever happened to the others."""

from __future__ import annotations

from pathlib import Path

from sla_runner.errors import ReportError
from sla_runner.report.json_report import write_json
from sla_runner.report.junit import write_junit
from sla_runner.verdict import Verdict


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
    written: list[Path] = []
    problems: list[str] = []
    for path, write in ((junit, write_junit), (json, write_json)):
        if path is None:
            continue
        try:
            written.append(write(path, verdict, secrets=secrets))
        except ReportError as exc:
            problems.append(str(exc))
    if problems:
        raise ReportError("; ".join(problems))
    return written
