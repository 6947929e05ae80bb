"""Guards: bad input through the CLI (exit 2 with a position, nothing run) and the
file-descriptor guard (refused up front under a lowered RLIMIT_NOFILE, naming the limit).

Loader-level fuzzing lives in tests/unit/spec/test_properties.py and YAML guards (object
tags, alias bombs, nesting) in tests/unit/spec/test_yamlload.py; here the same inputs go
through ``sla-runner run``, where any exception other than a SpecError would surface as
another exit code or a traceback, and the plan is built from whatever the loader accepts.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sla_runner.engine.preflight import FD_RESERVE
from sla_runner.errors import SpecError
from sla_runner.plan import build_plan, connections_needed
from sla_runner.spec.loader import load_spec_text_v1 as load_spec_text
from tests.conftest import LiveServer
from tests.support.cli import run_cli
from tests.support.faultkit import free_port, spec_data, spec_file, tag

FD_LIMIT = 256


def _with_load(base_url: str, stage: dict[str, Any], **load: Any) -> dict[str, Any]:
    return spec_data(base_url, load={"stages": [{"duration": "1s", **stage}], **load})


BAD_LOADS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "1e9 users": ({"users": 10**9}, {}),
    "1e30 users": ({"users": 10**30}, {}),
    "negative users": ({"users": -1}, {}),
    "negative duration": ({"users": 1, "duration": "-5s"}, {}),
    "zero duration": ({"users": 1, "duration": "0s"}, {}),
    "huge duration": ({"users": 1, "duration": "9" * 30 + "h"}, {}),
    "huge rate": ({"rate": "1000000000000/s"}, {}),
    "negative rate": ({"rate": "-5/s"}, {}),
    "1e999 rate": ({"rate": "1e999/s"}, {}),
    "huge max_in_flight": ({"rate": "5/s"}, {"max_in_flight": 10**12}),
    "zero max_in_flight": ({"rate": "5/s"}, {"max_in_flight": 0}),
    "nan think time": ({"users": 1}, {"think_time": ".nan"}),
}


@pytest.mark.parametrize("case", BAD_LOADS, ids=list(BAD_LOADS))
def test_bad_load_is_a_spec_error_with_a_position(tmp_path: Path, case: str) -> None:
    stage, load = BAD_LOADS[case]
    # A free port: were the spec accepted, the run would end in exit 3, not 2.
    spec = spec_file(tmp_path, _with_load(f"http://127.0.0.1:{free_port()}", stage, **load))
    run = run_cli("run", spec, "--quiet", "--json", tmp_path / "v.json")
    assert run.code == 2, run.output
    assert re.search(rf"^{re.escape(str(spec))}:\d+:\d+: load\.", run.stderr, re.M), run.stderr
    assert "Traceback" not in run.output
    assert not (tmp_path / "v.json").exists()  # nothing was run


@pytest.mark.parametrize("stage", [{"users": 0}, {"rate": "0/s"}], ids=["0 users", "0/s"])
def test_no_load_at_all_is_a_spec_error(tmp_path: Path, stage: dict[str, Any]) -> None:
    spec = spec_file(tmp_path, _with_load(f"http://127.0.0.1:{free_port()}", stage))
    run = run_cli("validate", spec)
    assert run.code == 2, run.output
    assert re.search(r":\d+:\d+: load\.stages", run.stderr), run.stderr


def test_yaml_object_tags_are_refused_by_run(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        yaml.safe_dump(spec_data("http://127.0.0.1:1"), sort_keys=False)
        + f"labels: !!python/object/apply:os.system ['touch {marker}']\n",
        encoding="utf-8",
    )
    run = run_cli("run", spec, "--quiet")
    assert run.code == 2, run.output
    assert re.search(r"spec\.yaml:\d+:\d+:", run.stderr), run.stderr
    assert not marker.exists()


def test_alias_bomb_is_refused_by_run(tmp_path: Path) -> None:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    spec = tmp_path / "spec.yaml"
    spec.write_text("\n".join(lines) + "\n", encoding="utf-8")
    run = run_cli("run", spec, "--quiet", timeout_s=30)
    assert run.code == 2, run.output
    assert run.elapsed_s < 20
    assert "Traceback" not in run.output


# --- what the loader accepts, the plan and the guards take without an exception ----------

users = st.integers(min_value=0, max_value=1_000_000)
durations = st.sampled_from(["1ms", "250ms", "1s", "59m", "720h"])
rates = st.sampled_from(["0/s", "1/s", "0.001/s", "3000/m", "10000000/s"])


@st.composite
def extreme_loads(draw: st.DrawFn) -> dict[str, Any]:
    closed = draw(st.booleans())
    n = draw(st.integers(min_value=1, max_value=4))
    stages = [
        {
            "duration": draw(durations),
            **({"users": draw(users)} if closed else {"rate": draw(rates)}),
        }
        for _ in range(n)
    ]
    load: dict[str, Any] = {"stages": stages}
    if draw(st.booleans()):
        load["max_in_flight"] = draw(st.integers(min_value=1, max_value=1_000_000))
    return load


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(extreme_loads())
def test_accepted_extremes_plan_without_error(load: dict[str, Any]) -> None:
    text = yaml.safe_dump(spec_data("http://127.0.0.1:1", load=load), sort_keys=False)
    try:
        loaded = load_spec_text(text, "x.yaml", env={})
    except SpecError:
        return
    plan = build_plan(loaded.spec)
    assert connections_needed(loaded.spec, plan) >= 0
    assert plan.duration_ns > 0


# --- file descriptors --------------------------------------------------------------------

LOWER_LIMIT = (
    f"import resource\nresource.setrlimit(resource.RLIMIT_NOFILE, ({FD_LIMIT}, {FD_LIMIT}))"
)


def _run_limited(tmp_path: Path, data: dict[str, Any]) -> Any:
    out = tmp_path / "v.json"
    return run_cli("run", spec_file(tmp_path, data), "--quiet", "--json", out, prelude=LOWER_LIMIT)


@pytest.mark.parametrize("model", ["closed", "open"])
def test_more_connections_than_descriptors_is_refused_up_front(
    test_server: LiveServer, tmp_path: Path, model: str
) -> None:
    path = f"/ok?t={tag()}"
    data = spec_data(test_server.url, endpoints={"ok": {"path": path}})
    if model == "closed":
        # a ramp to 1,000 then a hold: the plan holds 1,000 users (a ramp alone holds 999)
        ramp = {"duration": "1s", "users": 1000}
        data["load"] = {"stages": [ramp, dict(ramp)]}
        needed = 1000 + FD_RESERVE
    else:  # 500/s for requests that last 2 s at most (connecting included): 1,001 in flight
        ramp = {"duration": "1s", "rate": "500/s"}
        data["load"] = {"stages": [ramp, {**ramp, "duration": "3s"}]}  # 1,750 arrivals
        needed = 1001 + FD_RESERVE
    run = _run_limited(tmp_path, data)
    assert run.code == 3, run.output
    assert f"needs about {needed:,} open files" in run.stdout
    assert f"at most {FD_LIMIT}" in run.stdout
    assert f"ulimit -n {needed}" in run.stdout
    assert "Traceback" not in run.output
    assert test_server.counts().get(path, 0) == 0  # refused before any request


@pytest.mark.load
@pytest.mark.parametrize("model", ["closed", "open"])
def test_a_load_within_the_descriptor_limit_runs(
    test_server: LiveServer, tmp_path: Path, model: str
) -> None:
    data = spec_data(test_server.url)
    if model == "closed":
        data["load"] = {
            "stages": [{"duration": "100ms", "users": 100}, {"duration": "1s", "users": 100}],
            "think_time": "50ms",
        }
    else:  # the default max_in_flight (10,000) is not what a 20/s load needs
        data["load"] = {"stages": [{"duration": "1s", "rate": "20/s"}]}
    run = _run_limited(tmp_path, data)
    assert run.code == 0, run.output
