"""Every report path is checked before anything runs: `run`, `demo` and `merge` exit 3 at
once with the operating system's reason, send nothing, start nothing, leave nothing."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import threading
import time
from pathlib import Path

import pytest

from sla_runner.cli import run
from sla_runner.judge.verdicts import judge
from sla_runner.report.json_report import write_json
from tests.support.cli import cli_argv, cli_env, run_cli
from tests.support.paths import ROOT
from tests.unit.verdict_data import close, known_run, make_spec, run_info


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


# -- a report path that is not a plain file -------------------------------------------------


@pytest.fixture
def whole_run(tmp_path: Path) -> Path:
    """The JSON verdict of a whole run, which ``merge`` judges again on its own."""
    spec = make_spec(["p95(ws.prices) < 50ms", "max(process.rss) < 512MB"])
    return write_json(tmp_path / "run.json", judge(spec, close(known_run(spec)), run_info()))


def test_merge_follows_a_symlink_and_writes_a_fifo_in_place(
    tmp_path: Path, whole_run: Path
) -> None:
    """``--json link.json`` replaced the link by a file (its target unchanged) and ``--json
    fifo`` replaced the FIFO, its reader getting nothing."""
    real = tmp_path / "real.json"
    real.write_text("old", encoding="utf-8")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    fifo = tmp_path / "junit.fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []

    def reader() -> None:
        with open(fifo, "rb") as f:
            got.append(f.read())

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    result = run_cli("merge", whole_run, "--json", link, "--junit", fifo)
    thread.join(timeout=10)
    assert result.code == 0, result.output
    assert f"wrote {link}\n" in result.stdout
    assert link.is_symlink()
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert json.loads(real.read_text(encoding="utf-8"))["status"] == "pass"
    assert got
    assert got[0].startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<testsuites')


def test_a_report_to_stdout_comes_after_the_summary(tmp_path: Path, whole_run: Path) -> None:
    """k6 writes ``--out json=/dev/stdout``: so does sla-runner, through the descriptor,
    also when stdout is a file. (``stdout`` here is the link /dev/stdout is, made in
    tmp_path: the code before this fix replaced the link with a file.)"""
    stdout = tmp_path / "stdout"
    stdout.symlink_to("/proc/self/fd/1")
    out = tmp_path / "console.txt"
    with open(out, "w", encoding="utf-8") as console:
        done = subprocess.run(
            cli_argv("merge", whole_run, "--json", stdout),
            cwd=ROOT,
            env=cli_env(),
            stdin=subprocess.DEVNULL,
            stdout=console,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    printed = out.read_text(encoding="utf-8")
    summary, _, rest = printed.partition("\n{\n")
    assert summary.splitlines()[-1] == "PASS: 2 of 2 thresholds held (exit code 0)"
    report, _, tail = ("{\n" + rest).rpartition("}\n")
    assert json.loads(report + "}")["status"] == "pass"
    assert tail == f"wrote {stdout}\n"
    assert stdout.is_symlink()


def test_ctrl_c_once_the_summary_named_the_exit_code_does_not_change_it(
    tmp_path: Path, whole_run: Path
) -> None:
    """A Ctrl-C after the summary said 'exit code N' made the process exit 130 anyway,
    without the reports. Here it lands while the JUnit waits for the FIFO's reader."""
    fifo = tmp_path / "junit.fifo"
    os.mkfifo(fifo)
    proc = subprocess.Popen(
        cli_argv("merge", whole_run, "--junit", fifo),
        cwd=ROOT,
        env=cli_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        summary = ""
        while "(exit code 0)" not in summary:
            line = proc.stdout.readline()
            assert line, summary
            summary += line
        proc.send_signal(signal.SIGINT)
        time.sleep(0.5)  # the signal lands while the writer waits for a reader
        reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        try:
            stdout, stderr = proc.communicate(timeout=30)
            junit = b""
            while chunk := os.read(reader, 1 << 16):
                junit += chunk
        finally:
            os.close(reader)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert (proc.returncode, stderr) == (0, "")
    assert f"wrote {fifo}\n" in stdout
    assert junit.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<testsuites')
