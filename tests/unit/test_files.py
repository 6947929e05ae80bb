"""Reports are written atomically, into directories created as needed, or fail clearly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sla_runner.errors import ReportError, UsageError
from sla_runner.report.files import check_writable, write_atomic
from sla_runner.report.outputs import write_reports
from tests.unit.verdict_data import verdict_of


def test_writes_and_creates_parent_directories(tmp_path: Path) -> None:
    target = tmp_path / "reports" / "nested" / "junit.xml"
    assert write_atomic(target, "ünïcode ✓\n") == target
    assert target.read_text(encoding="utf-8") == "ünïcode ✓\n"


def test_replaces_an_existing_file_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    target = tmp_path / "verdict.json"
    target.write_text("old", encoding="utf-8")
    write_atomic(target, "new")
    assert target.read_text(encoding="utf-8") == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["verdict.json"]


def test_a_path_under_a_file_is_a_report_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x", encoding="utf-8")
    with pytest.raises(ReportError, match=r"cannot write report .*not-a-dir/out\.json") as info:
        write_atomic(blocker / "out.json", "{}")
    assert info.value.exit_code == 3
    assert str(info.value).endswith(f"{blocker} is a file, not a directory")


def test_a_directory_as_target_is_a_report_error(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="it is a directory"):
        write_atomic(tmp_path, "{}")
    assert list(tmp_path.iterdir()) == []


def test_write_reports_attempts_every_report(tmp_path: Path) -> None:
    verdict = verdict_of("fail")
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    with pytest.raises(ReportError, match=r"cannot write report .*junit\.xml"):
        write_reports(verdict, junit=blocker / "junit.xml", json=tmp_path / "r" / "verdict.json")
    assert (tmp_path / "r" / "verdict.json").is_file()
    written = write_reports(verdict, junit=tmp_path / "j.xml", json=None)
    assert written == [tmp_path / "j.xml"]


def test_a_lone_surrogate_does_not_lose_the_report(tmp_path: Path) -> None:
    """An environment value that was not UTF-8 reaches Python as a lone surrogate: the JSON
    report is written with it escaped, and reads back as the same text."""
    text = json.dumps({"note": "caf\udce9"}, ensure_ascii=False)
    path = write_atomic(tmp_path / "v.json", text)
    assert json.loads(path.read_text(encoding="utf-8")) == {"note": "caf\udce9"}


def test_the_check_before_a_run_leaves_nothing_behind(tmp_path: Path) -> None:
    check_writable(tmp_path / "a" / "b" / "junit.xml", tmp_path / "verdict.json", None)
    assert list(tmp_path.iterdir()) == []  # neither the directories it made nor a probe


def test_the_check_gives_the_reason_the_write_would(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x", encoding="utf-8")
    with pytest.raises(ReportError) as info:
        check_writable(tmp_path / "fine.json", blocker / "deeper" / "out.json")
    assert str(info.value) == (
        f"cannot write report {blocker}/deeper/out.json: {blocker} is a file, not a directory"
    )
    with pytest.raises(ReportError, match=r"^cannot write report .*: it is a directory$"):
        check_writable(tmp_path)
    with pytest.raises(ReportError, match=r"^cannot write report /proc/x\.json: No such file"):
        check_writable("/proc/x.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not-a-dir"]


def test_one_file_for_two_reports_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="is given for two reports"):
        check_writable(tmp_path / "r.json", tmp_path / "x" / ".." / "r.json")
