"""The error tree. Each error class carries the exit code the CLI turns it into."""

from __future__ import annotations

from dataclasses import dataclass

EXIT_PASS = 0
EXIT_FAIL = 1
EXIT_USAGE = 2
EXIT_RUN_ERROR = 3
EXIT_INVALID_RUN = 4
EXIT_INTERRUPTED = 130  # 128 + SIGINT: quit at once (a second Ctrl-C), nothing written


class SlaRunnerError(Exception):
    """Base of every error sla-runner raises on purpose."""

    exit_code: int = EXIT_RUN_ERROR


@dataclass(frozen=True, order=True)
class SpecIssue:
    """One problem found in a spec file, with its place."""

    line: int  # 1-based; 0 when the position is unknown
    column: int  # 1-based; 0 when the position is unknown
    path: str  # e.g. "endpoints.list-items.methd" or "thresholds[0]"; "" for the document
    message: str

    def format(self, filename: str) -> str:
        where = f"{filename}:{self.line}:{self.column}" if self.line else filename
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class SpecError(SlaRunnerError):
    """A spec file is invalid. Carries every issue found, sorted by position."""

    exit_code = EXIT_USAGE

    def __init__(self, filename: str, issues: list[SpecIssue]) -> None:
        self.filename = filename
        self.issues = sorted(issues)
        super().__init__(self.report())

    def report(self) -> str:
        lines = [issue.format(self.filename) for issue in self.issues]
        n = len(self.issues)
        lines.append(f"{n} error{'s' if n != 1 else ''} in {self.filename}")
        return "\n".join(lines)


class UsageError(SlaRunnerError):
    """The command line is invalid: an option, an argument or their combination (a
    ``--segment`` that is not ``i/N``, ``--set`` without ``=``, one path for two reports).
    Nothing was run. Only for what was typed: a spec, a plan or verdicts that cannot be
    used have their own classes."""

    exit_code = EXIT_USAGE


class PlanError(SlaRunnerError):
    """The spec's load cannot be built into a plan (e.g. endpoint weights whose mix would
    not come round within the requests a plan can hold). Nothing was run."""

    exit_code = EXIT_USAGE


class VerdictMismatchError(SlaRunnerError):
    """Verdicts that do not belong together cannot be merged: of another spec (or a
    ``--spec`` that is not theirs), run with other ``--set`` overrides, split differently,
    a segment twice, a whole run among segments, a verdict with no recording (a run that
    was not carried out), recordings of other stages. Nothing was judged."""

    exit_code = EXIT_USAGE


class RunError(SlaRunnerError):
    """The run could not be carried out (target unreachable, process not found, ...)."""

    exit_code = EXIT_RUN_ERROR


class ReportError(SlaRunnerError):
    """A report could not be read or written."""

    exit_code = EXIT_RUN_ERROR
