"""sla-runner: declarative YAML SLA specs, run as real load, judged into JUnit XML and JSON.

The public API is re-exported here; ``tests/unit/test_exported_members.py`` pins it.
"""

from sla_runner._startup import quiet_interrupt

with quiet_interrupt():  # Ctrl-C while the command starts: one line, no traceback
    from sla_runner._version import __version__
    from sla_runner.api import (
        LoadedSpec,
        Plan,
        Recording,
        RunInfo,
        Segment,
        Verdict,
        build_plan,
        execute,
        judge,
        load_spec,
        load_spec_text,
        merge_verdicts,
        run_info,
        run_spec,
        write_reports,
    )
    from sla_runner.errors import (
        PlanError,
        ReportError,
        RunError,
        SlaRunnerError,
        SpecError,
        SpecIssue,
        UsageError,
        VerdictMismatchError,
    )
    from sla_runner.spec.format2 import Spec

__all__ = [
    "LoadedSpec",
    "Plan",
    "PlanError",
    "Recording",
    "ReportError",
    "RunError",
    "RunInfo",
    "Segment",
    "SlaRunnerError",
    "Spec",
    "SpecError",
    "SpecIssue",
    "UsageError",
    "Verdict",
    "VerdictMismatchError",
    "__version__",
    "build_plan",
    "execute",
    "judge",
    "load_spec",
    "load_spec_text",
    "merge_verdicts",
    "run_info",
    "run_spec",
    "write_reports",
]
