"""`sla-runner validate` and `sla-runner schema`: output and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sla_runner.cli import run
from sla_runner.spec.schema import spec_json_schema
from tests.support.cli import run_cli
from tests.support.paths import ROOT
from tests.unit.spec.helpers import VALID


@pytest.fixture
def good(tmp_path: Path) -> Path:
    path = tmp_path / "good.yaml"
    path.write_text(VALID, encoding="utf-8")
    return path


@pytest.fixture
def bad(tmp_path: Path) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(VALID.replace("timeout: 5s", "").replace("think_time: 100ms", "thinktime: 1s"))
    return path


def test_valid_file(good: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["validate", str(good)]) == 0
    out, err = capsys.readouterr()
    assert out == f"ok: {good} (2 endpoints, 1 channel, 4 thresholds)\n"
    assert err == ""


def test_invalid_file_exit_2_and_every_error(
    good: Path, bad: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["validate", str(bad), str(good)]) == 2
    out, err = capsys.readouterr()
    assert out == f"ok: {good} (2 endpoints, 1 channel, 4 thresholds)\n"
    assert err == (
        f"{bad}:16:3: load.thinktime: unknown field; expected one of stages, think_time, "
        "max_in_flight, graceful_stop; did you mean think_time?\n"
        f"1 error in {bad}\n"
    )


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["validate", str(tmp_path / "nope.yaml")]) == 2
    assert "nope.yaml: cannot read the file: No such file or directory" in capsys.readouterr().err


def test_set_overrides(good: Path, capsys: pytest.CaptureFixture[str]) -> None:
    zero = ["--set", "load.stages[0].users=0", "--set", "thresholds[2]=users >= 99"]
    assert run(["validate", *zero, str(good)]) == 0
    assert run(["validate", "--set", "load.stages[0].users=-1", str(good)]) == 2
    assert "must be at least 0, got -1 (value from --set)" in capsys.readouterr().err
    assert run(["validate", "--set", "nonsense", str(good)]) == 2
    assert "error: --set expects KEY=VALUE, got 'nonsense'" in capsys.readouterr().err
    # Bytes that are not UTF-8 reach argv as surrogate escapes: refused, not a crash later.
    assert run(["validate", "--set", "description=caf\udce9", str(good)]) == 2
    assert "error: --set description: the value is not UTF-8 text" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv", [[], ["validate"], ["bogus"], ["validate", "--nope", "x.yaml"], ["schema", "extra"]]
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert run(argv) == 2
    assert "usage: sla-runner" in capsys.readouterr().err


def test_schema_prints_the_committed_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["schema"]) == 0
    out = capsys.readouterr().out
    assert json.loads(out) == spec_json_schema()
    assert out == (ROOT / "schemas" / "sla-spec.schema.json").read_text(encoding="utf-8")
    assert run(["schema", "spec"]) == 0
    assert capsys.readouterr().out == out


def test_schema_verdict_prints_the_committed_verdict_schema_and_nothing_else() -> None:
    """The regenerate command of schemas/verdict.schema.json, as the README gives it: no
    warning on stderr (``python -m`` of a module the package root imports warns)."""
    done = run_cli("schema", "verdict", env={"PYTHONWARNINGS": "error"})
    assert (done.code, done.stderr) == (0, "")
    assert done.stdout == (ROOT / "schemas" / "verdict.schema.json").read_text(encoding="utf-8")


def test_help_lists_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    """The top-level help gives run's and demo's; each command its own (test_help.py)."""
    assert run(["--help"]) == 0
    out = capsys.readouterr().out
    assert "exit codes of run and demo (COMMAND --help: its own):" in out
    for line in ("0    pass", "1    a threshold failed", "2    invalid spec", "3    the run"):
        assert line in out
    assert "4    invalid run" in out


def test_the_command_validates_the_shipped_specs() -> None:
    specs = sorted(str(p) for p in (ROOT / "specs").glob("*.yaml"))
    done = run_cli("validate", *specs, inherit_env=False)
    assert done.code == 0, done.stderr
    assert done.stdout.count("ok: ") == len(specs)
