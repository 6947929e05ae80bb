"""The public API is what ``sla_runner.__all__`` says, and every name in it exists."""

from __future__ import annotations

import sla_runner


def test_all_is_pinned() -> None:
    assert sorted(sla_runner.__all__) == [
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


def test_every_exported_member_exists_and_is_public() -> None:
    for name in sla_runner.__all__:
        member = getattr(sla_runner, name)
        module = getattr(member, "__module__", "sla_runner")
        assert module.startswith("sla_runner"), (name, module)


def test_errors_carry_their_exit_codes() -> None:
    assert sla_runner.SpecError("x", []).exit_code == 2
    assert sla_runner.UsageError("x").exit_code == 2
    assert sla_runner.PlanError("x").exit_code == 2
    assert sla_runner.VerdictMismatchError("x").exit_code == 2
    assert sla_runner.RunError("x").exit_code == 3
    assert sla_runner.ReportError("x").exit_code == 3
