"""Every report path is checked before anything runs: `run`, `demo` and `merge` exit 3 at
once with the operating system's reason, send nothing, start nothing, leave nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from sla_runner.cli import run
from tests.support.cli import run_cli


@pytest.fixture
def blocked(tmp_path: Path) -> tuple[Path, str]:
    """A report path under a regular file, and the error it gets."""
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    bad = blocker / "x.json"
    return bad, f"error: cannot write report {bad}: {blocker} is a file, not a directory\n"


def test_demo_checks_its_reports_directory_before_starting_the_service(
    tmp_path: Path, blocked: tuple[Path, str]
) -> None:
    bad, _ = blocked
    result = run_cli("demo", "--reports", bad, timeout_s=30)
    assert result.code == 3, result.output
    blocker = bad.parent
    assert result.stderr == (
        f"error: cannot write report {bad / 'junit.xml'}: {blocker} is a file, not a directory\n"
    )
    assert "demo service" not in result.output  # never started
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_merge_checks_its_reports_before_reading_the_verdicts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], blocked: tuple[Path, str]
) -> None:
    bad, error = blocked
    assert run(["merge", str(tmp_path / "part1.json"), "--junit", str(bad)]) == 3
    assert capsys.readouterr().err == error


def test_the_same_file_for_both_reports_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    same = tmp_path / "report"
    assert run(["merge", str(tmp_path / "p.json"), "--junit", str(same), "--json", str(same)]) == 2
    assert capsys.readouterr().err == (
        f"error: {same} is given for two reports; each needs its own file\n"
    )
