"""`merge` given what is not a verdict: a clear error naming the file, exit 3, no report."""

from __future__ import annotations

from pathlib import Path

import pytest

from sla_runner.cli import run


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"a": 1}\n', "not an sla-runner verdict (no format 'sla-runner/verdict')"),
        (b"# a README\n", "not a JSON verdict: Expecting value: line 1 column 1 (char 0)"),
        (b"\xff\xfe", "not a JSON verdict: not UTF-8 text (invalid start byte)"),
    ],
)
def test_merge_refuses_what_is_not_a_verdict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, message: str
) -> None:
    given = tmp_path / "given.json"
    given.write_bytes(content)
    out = tmp_path / "merged.json"
    assert run(["merge", str(given), "--json", str(out)]) == 3
    captured = capsys.readouterr()
    assert captured.err == f"error: {given}: {message}\n"
    assert not out.exists()


def test_merge_of_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.json"
    assert run(["merge", str(missing)]) == 3
    assert capsys.readouterr().err == (
        f"error: {missing}: cannot read the verdict: No such file or directory\n"
    )
