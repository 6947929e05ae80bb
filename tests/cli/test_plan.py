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
        "  steady         20s – 80s            100 users",
        "peak: 100 users",
        "connections needed at most: 100 (100 users × 1: HTTP)",
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
    # A version-1 stage ramps from the previous level: the first one reads as a ramp, the
    # second, at the level the first reached, as that level held; a rate reads as one.
    assert "  ramp           0s – 20s             0 → 50/s\n" in out
    assert "  steady         20s – 80s            50/s\n" in out
    # the requests one arrival each that can be open at once: 50/s for their 10s timeout
    assert "connections needed at most: 501 (50/s × its 10s timeout + 1)\n" in out
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
    assert "connections needed at most: 99 (99 users × 1: HTTP)\n" in out
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
        "    hold           10s – 30s            20 users",
        "  peak: 20 users",
        "  setup: login",
        "  flow: items → items",
        "  channels: prices",
        "scenario probes: open model, from 5s",
        "    probe          5s – 15s             5/s",
        "  arrivals: 50",
        "  endpoint mix: health 100%",
        "run: 30s, peak 20 users, peak 5/s, 50 arrivals",
        "connections needed at most: 90 (shoppers 40: 20 users × 2: HTTP + 1 channel; probes "
        "50: 5/s × its 10s timeout + 1, capped by its 50 arrivals)",
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


WALKED = """\
version: 2
name: demo-shop
sla_version: 1.0.0
target: {base_url: "http://127.0.0.1:9", timeout: 2s}
endpoints:
  list-items: {path: /api/items}
  health: {path: /health}
  slow: {path: /slow, timeout: 3s}
channels:
  prices: {path: /ws/prices, send: ping}
scenarios:
  buyers:
    load: {stages: [{name: steady, duration: 11s, users: 10}]}
    flow: [list-items]
    channels: [prices]
  probes:
    start: 1s
    load: {stages: [{name: probing, duration: 8s, rate: 20/s}]}
    mix: {health: 1, list-items: 1}
  passes:
    load: {stages: [{name: passing, duration: 2s, rate: 4/s}], max_in_flight: 5}
    flow: [list-items, slow]
"""


def test_the_connections_figure_counts_what_can_be_open_at_once_and_says_how(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A walker's plan said 161 for 10 users with a channel each and 20/s over 8 s: every
    open arrival counted as in flight for its timeout plus the connect timeout (which the
    request's one deadline already covers)."""
    out = _plan(tmp_path, capsys, text=WALKED)
    assert out.splitlines()[-1] == (
        "connections needed at most: 66 (buyers 20: 10 users × 2: HTTP + 1 channel; probes "
        "41: 20/s × its 2s timeout + 1; passes 5: every arrival, a pass through its flow "
        "has no set length, capped by max_in_flight 5)"
    )


def test_a_held_stage_reads_as_its_level_and_a_ramp_as_from_to(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A walker read `steady 10s – 40s 20 → 20 users` and `0 → 50 /s` in the plan of the
    shop: a held level reads as held, a ramp as from → to, a rate as rates are written
    elsewhere (50/s). The README shows this plan: it is what `plan` prints."""
    assert run(["plan", str(ROOT / "specs" / "format2" / "shop.yaml")]) == 0
    out = capsys.readouterr().out
    stages = [line.split(maxsplit=4) for line in out.splitlines() if " – " in line]
    assert [(name, level) for name, _a, _dash, _b, level in stages] == [
        ("ramp", "0 → 20 users"),
        ("steady", "20 users"),
        ("down", "20 → 0 users"),
        ("arrive", "0 → 50/s"),
        ("browse", "50/s"),
    ]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = readme.split("$ sla-runner plan specs/format2/shop.yaml\n", 1)[1].split("```")[0]
    assert shown == out
