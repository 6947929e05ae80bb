"""`merge` on the command line: what is not a verdict is a clear error naming the file
(exit 3, no report); a merge that lacks segments is an invalid run (exit 4)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sla_runner.cli import run
from sla_runner.judge.verdicts import judge
from sla_runner.plan import Segment
from sla_runner.report.json_report import read_verdict, write_json
from tests.support.reports import check_reports
from tests.unit.verdict_data import close, known_run, make_spec, recorder, run_info


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


def test_merge_of_a_lone_segment_is_an_invalid_run_unless_partial_is_allowed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``sla-runner merge seg1.json`` (of 1/2) passed with exit 0: a CI job that lost a host
    went green. It is invalid (exit 4) in every output; --allow-partial judges it."""
    spec = make_spec(["p95(ws.prices) < 50ms", "max(process.rss) < 512MB"])
    rec = known_run(spec, recorder(spec, Segment(1, 2)), part=0, parts=2)
    half = write_json(tmp_path / "seg1.json", judge(spec, close(rec), run_info(segment="1/2")))
    junit, out = tmp_path / "junit.xml", tmp_path / "merged.json"
    assert run(["merge", str(half), "--junit", str(junit), "--json", str(out)]) == 4
    stdout = capsys.readouterr().out
    assert "segment 2/2 is missing" in stdout
    assert "INVALID RUN" in stdout
    verdict = check_reports(junit, out)
    assert (verdict["status"], verdict["exit_code"]) == ("invalid", 4)
    assert verdict["validity"]["reasons"][0].startswith("segment 2/2 is missing")
    assert junit.read_text(encoding="utf-8").count('type="InvalidRun"') == 2
    assert run(["merge", str(half), "--allow-partial", "--json", str(out)]) == 0
    assert "PASS: 2 of 2 thresholds held" in capsys.readouterr().out
    assert read_verdict(out).notes[0].startswith("segment 2/2 is missing")


def test_merge_help_says_what_a_missing_segment_does(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["merge", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "A merge that lacks segments" in text
    assert "is invalid (exit 4)" in text
    assert "--allow-partial" in text
