"""`demo-service` and `demo` as real processes: a port in use, a value out of range and a
double Ctrl-C each end in one line and the documented exit code, never a traceback; the
demo's service child never outlives the runner.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.support.cli import run_cli, spawn_cli
from tests.support.faultkit import free_port, read_json, spec_file
from tests.support.paths import ROOT

pytestmark = pytest.mark.load

LISTENING = "demo service (pid "


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_demo_service_on_a_port_in_use(busy_port: int) -> None:
    run = run_cli("demo-service", "--port", str(busy_port), timeout_s=30)
    assert run.code == 3, run.output
    assert run.stderr == f"error: cannot listen on 127.0.0.1:{busy_port}: address already in use\n"


OUT_OF_RANGE = [
    ("--error-rate", "5", "expected a share from 0 to 1 (0.01 is 1%), got '5'"),
    ("--error-rate", "nan", "expected a share from 0 to 1 (0.01 is 1%), got 'nan'"),
]


@pytest.mark.parametrize(
    ("command", "option", "value", "expected"),
    [
        *(("demo-service", *case) for case in OUT_OF_RANGE),
        *(("demo", *case) for case in OUT_OF_RANGE),
        ("demo-service", "--port", "70000", "expected a port from 0 to 65535, got '70000'"),
    ],
)
def test_values_out_of_range_are_usage_errors(
    command: str, option: str, value: str, expected: str
) -> None:
    run = run_cli(command, option, value, timeout_s=30)
    assert run.code == 2, run.output
    assert "Traceback" not in run.output
    assert (
        run.stderr.splitlines()[-1] == f"sla-runner {command}: error: argument {option}: {expected}"
    )


def test_the_error_rate_help_states_its_range_and_default() -> None:
    for command in ("demo-service", "demo"):
        run = run_cli(command, "--help", timeout_s=30)
        assert " ".join(run.stdout.split()).count("from 0 to 1 (default: 0.01)") == 1, run.stdout


def _start_demo(tmp_path: Path) -> tuple[subprocess.Popen[str], psutil.Process]:
    """`sla-runner demo` in a session of its own (as a terminal's foreground job), once its
    load reaches the service; returns it and the service child."""
    proc = spawn_cli("demo", "--reports", tmp_path / "reports", new_session=True)
    assert proc.stderr is not None
    first = proc.stderr.readline()
    assert first.startswith(LISTENING), first
    child = psutil.Process(int(first.removeprefix(LISTENING).split(")")[0]))
    url = first.rsplit(" ", 1)[1].strip()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{url}/stats", timeout=5) as response:
            if sum(json.load(response)["requests"].values()) > 50:
                return proc, child
        time.sleep(0.1)
    proc.kill()
    pytest.fail("the demo's load never reached its service")


def _ctrl_c(proc: subprocess.Popen[str]) -> None:
    """What a terminal does on Ctrl-C: SIGINT to the foreground job's process group."""
    os.killpg(proc.pid, signal.SIGINT)


def _gone(child: psutil.Process, within_s: float) -> bool:
    try:
        child.wait(timeout=within_s)
    except psutil.TimeoutExpired:
        return False
    return True


@pytest.mark.slow
def test_ctrl_c_of_demo_aborts_writes_the_reports_and_stops_the_service(tmp_path: Path) -> None:
    proc, child = _start_demo(tmp_path)
    _ctrl_c(proc)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 3, stdout + stderr
    assert "Traceback" not in stderr
    assert read_json(tmp_path / "reports" / "verdict.json")["status"] == "aborted"
    assert _gone(child, 5)


@pytest.mark.slow
def test_double_ctrl_c_of_demo_quits_at_once_in_one_line(tmp_path: Path) -> None:
    proc, child = _start_demo(tmp_path)
    _ctrl_c(proc)
    time.sleep(0.2)
    _ctrl_c(proc)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 128 + signal.SIGINT, stdout + stderr
    assert "Traceback" not in stderr
    assert "InvalidStateError" not in stderr  # the service child's, once
    assert stderr.rstrip().splitlines()[-1] in (
        "SIGINT again: quit at once, no reports written",  # during the load's grace
        "interrupted: quit at once",  # once the load had ended, while judging
    )
    assert _gone(child, 5), "the demo service outlived the runner"


def _other_spec(tmp_path: Path, **extra: object) -> Path:
    """A spec of its own, aimed at a port nothing listens on and at another process."""
    data: dict[str, object] = {
        "version": 1,
        "name": "other",
        "sla_version": "1.0.0",
        "target": {"base_url": f"http://127.0.0.1:{free_port()}", "process": {"pid": 1}},
        "endpoints": {"items": {"path": "/api/items", "expect": {"status": 200}}},
        "load": {
            "stages": [{"duration": "100ms", "users": 2}, {"duration": "1s", "users": 2}],
            "think_time": "20ms",
        },
        "thresholds": ["success_rate(http) > 99%", "max(process.rss) < 1GB"],
        **extra,
    }
    return spec_file(tmp_path, data, "other.yaml")


@pytest.mark.slow
def test_demo_with_another_spec_aims_it_at_the_demo_service(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    run = run_cli("demo", "--spec", _other_spec(tmp_path), "--reports", reports, "--quiet")
    assert run.code == 0, run.output
    verdict = read_json(reports / "verdict.json")
    url = run.stderr.split(" listening on ", 1)[1].split()[0]
    assert verdict["run"]["base_url"] == url
    assert verdict["run"]["overrides"] == {
        "target.base_url": url,
        "target.process.pid": "null",
        "target.process.port": url.rsplit(":", 1)[1],
    }
    assert "the spec was run with --set overrides of: target.base_url" in " ".join(
        verdict["run"]["warnings"]
    )
    assert verdict["metrics"]["http"]["errors"] == {}
    assert verdict["metrics"]["http"]["count"] > 10
    assert verdict["metrics"]["process.rss"]["count"] > 0  # the demo service, sampled


def test_demo_refuses_a_spec_it_cannot_aim(tmp_path: Path) -> None:
    elsewhere = {"items": {"url": "http://127.0.0.1:9/api/items"}}
    run = run_cli("demo", "--spec", _other_spec(tmp_path, endpoints=elsewhere), timeout_s=30)
    assert run.code == 2, run.output
    assert run.stderr == (
        "error: demo --spec: endpoints.items has a url: of its own, which would not go to the "
        "demo service; give it a path: instead\n"
    )
    spec = _other_spec(tmp_path)
    run = run_cli("demo", "--spec", spec, "--set", "target.base_url=http://x", timeout_s=30)
    assert run.code == 2, run.output
    assert run.stderr.startswith(
        "error: demo aims the spec at the demo service itself; --set target.base_url cannot"
    )


DEV_ONLY = ("pytest", "hypothesis", "xmlschema", "junitparser", "jsonschema", "mypy", "ruff")
BLOCK_DEV = f"""
import importlib.abc, sys
class NoDev(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {DEV_ONLY!r}:
            raise ImportError(f"{{name}} is a [dev] extra")
        return None
sys.meta_path.insert(0, NoDev())
"""


@pytest.mark.slow
def test_the_demo_needs_no_dev_extra(tmp_path: Path) -> None:
    """README: `pip install -e .` (no [dev]) then `sla-runner demo`; here a shortened demo
    runs with every [dev]-only package unimportable."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    demo = "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/sla-runner demo"
    assert f"\n{demo}\n" in readme
    assert (
        "\npython3 -m venv .venv && .venv/bin/pip install -e '.[dev]' && bash .ci/test\n" in readme
    )
    short = [f"load.stages[{i}].duration={d}" for i, d in enumerate(("300ms", "700ms", "200ms"))]
    sets = [arg for item in short for arg in ("--set", item)]
    run = run_cli("demo", "--reports", tmp_path, "--quiet", *sets, prelude=BLOCK_DEV)
    assert run.code in (0, 1), run.output  # judged: the short load may miss `users >= 20`
    assert "Traceback" not in run.output
    assert read_json(tmp_path / "verdict.json")["metrics"]["http"]["count"] > 0
