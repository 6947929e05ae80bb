"""`plan`: the load a spec plans, without sending anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from sla_runner.cli import run
from tests.support.paths import ROOT

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
    spec = tmp_path / "spec.yaml"
    assert run(["plan", str(spec), "--segment", "3/2"]) == 2
    assert capsys.readouterr().err.startswith("error: --segment: expected a segment like 1/2")


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


SCENARIOS = """\
version: 2
name: side
sla_version: 1.0.0
target: {base_url: "http://127.0.0.1:9"}
endpoints:
  login: {method: POST, path: /login, extract: {token: {json: access_token}}}
  items: {path: /items, headers: {Authorization: "Bearer {{ token }}"}}
  health: {path: /health}
channels:
  prices: {path: /ws/prices, send: ping}
scenarios:
  shoppers:
    load:
      stages:
        - {name: up, duration: 10s, ramp_to: 20}
        - {name: hold, duration: 20s, users: 20}
    setup: [login]
    flow: [items, {request: items, think_time: 1s}]
    channels: [prices]
  probes:
    start: 5s
    load: {stages: [{name: probe, duration: 10s, rate: 5/s}]}
    mix: {health: 1}
"""


def test_plan_shows_every_scenario_s_timeline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _plan(tmp_path, capsys, text=SCENARIOS)
    assert out.splitlines() == [
        "side 1.0.0: 2 scenarios, segment 1/1",
        "scenario shoppers: closed model, from 0s",
        "    up             0s – 10s             0 → 20 users",
        "    hold           10s – 30s            20 → 20 users",
        "  peak: 20 users",
        "  setup: login",
        "  flow: items → items",
        "  channels: prices",
        "scenario probes: open model, from 5s",
        "    probe          5s – 15s             5 → 5 /s",
        "  arrivals: 50",
        "  endpoint mix: health 100%",
        "run: 30s, peak 20 users, peak 5/s, 50 arrivals",
        "connections needed at most: 116",
    ]


@pytest.mark.parametrize("which", ["inline", "demo"])
def test_migrate_prints_format_2_that_validates_and_plans_identically(
    which: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    v1 = tmp_path / "v1.yaml"
    v1.write_text(
        SPEC if which == "inline" else (ROOT / "specs" / "demo.yaml").read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    assert run(["migrate", str(v1)]) == 0
    v2 = tmp_path / "v2.yaml"
    v2.write_text(capsys.readouterr().out, encoding="utf-8")
    assert run(["validate", str(v2)]) == 0
    assert "(version 2: " in capsys.readouterr().out
    plans = []
    for path in (v1, v2):
        assert run(["plan", str(path)]) == 0
        plans.append(capsys.readouterr().out)
    assert plans[0] == plans[1]
    assert run(["migrate", str(v2)]) == 2  # format 2 already
    assert "format version 2 already" in capsys.readouterr().err
