"""`plan`: the load a spec plans, without sending anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from sla_runner.cli import run

SPEC = """\
version: 1
name: planned
sla_version: 1.0.0
target: {base_url: "http://127.0.0.1:9"}
endpoints:
  a: {path: /a, weight: 3}
  b: {path: /b}
load:
  stages:
    - {name: ramp, duration: 20s, users: 100}
    - {name: steady, duration: 1m, users: 100}
"""


def _plan(tmp_path: Path, capsys: pytest.CaptureFixture[str], *args: str, text: str = SPEC) -> str:
    spec = tmp_path / "spec.yaml"
    spec.write_text(text, encoding="utf-8")
    assert run(["plan", str(spec), *args]) == 0
    return capsys.readouterr().out


def test_plan_prints_stages_peak_connections_and_mix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _plan(tmp_path, capsys)
    assert out.splitlines() == [
        "planned 1.0.0: closed model, segment 1/1",
        "  ramp           0s – 20s             0 → 100 users",
        "  steady         20s – 80s            100 → 100 users",
        "peak: 100 users",
        "connections needed at most: 100",
        "endpoint mix: a 75%, b 25%",
    ]


def test_plan_of_a_segment_and_of_the_open_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "peak: 34 users" in _plan(tmp_path, capsys, "--segment", "1/3")
    open_model = SPEC.replace("users: 100", "rate: 50/s")
    out = _plan(tmp_path, capsys, text=open_model)
    assert "open model" in out
    assert "arrivals: 3,500" in out  # 500 on the ramp from 0, then 3,000


def test_plan_prints_a_lopsided_mix_exactly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _plan(tmp_path, capsys, text=SPEC.replace("weight: 3", "weight: 2000"))
    assert "endpoint mix: a 99.95%, b 0.04998%" in out  # 2000 : 1, exactly


def test_plan_states_the_peak_held_and_refuses_a_segment_without_load(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A plan that ends on a ramp to 100 holds 99 at most; `plan` said "peak: 100 users"."""
    ending = SPEC.replace("    - {name: steady, duration: 1m, users: 100}\n", "")
    out = _plan(tmp_path, capsys, text=ending)
    assert "peak: 99 users held (it reaches 100 only at 20s, as the run ends)\n" in out
    assert "connections needed at most: 99\n" in out
    assert run(["plan", str(tmp_path / "spec.yaml"), "--segment", "100/100"]) == 2
    assert capsys.readouterr().err == (
        "error: segment 100/100 carries no load: the plan holds at most 99 users, dealt one "
        "by one to 100 segments, so segment 100/100 gets none; split the load in at most 99 "
        "segments\n"
    )
