"""Thresholds over windows end to end: ``sla-runner run`` against a real local service with
slow episodes by the clock (:mod:`tests.support.episodes`). One 24 s run carries them all:
a 5 s slow episode that a whole-run p95 hides and a 6 s window catches, a 2 s spike that
``for: 10s`` lets pass and a 15 s stall that it fails; the runner's counts equal the
service's own."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from junitparser import JUnitXml

from tests.conftest import ChildProcess
from tests.support.cli import run_cli

pytestmark = [pytest.mark.load, pytest.mark.slow]

SLOW_MS = 400
EPISODES = {"/a": (8, 13, SLOW_MS), "/b": (6, 8, SLOW_MS), "/c": (4, 19, SLOW_MS)}


@contextmanager
def episodes(given: dict[str, tuple[int, int, int]]) -> Iterator[str]:
    """The service of :mod:`tests.support.episodes`, its clock from its first request."""
    child = ChildProcess(["-m", "tests.support.episodes", json.dumps(given)])
    try:
        yield f"http://127.0.0.1:{child.first_line}"
    finally:
        child.stop()


@pytest.fixture
def service() -> Iterator[str]:
    with episodes(EPISODES) as url:
        yield url


def served(url: str) -> dict[str, int]:
    with urllib.request.urlopen(f"{url}/count", timeout=5) as reply:
        counts: dict[str, int] = json.loads(reply.read())
    return counts


def scenario(endpoint: str, seconds: int = 24) -> dict[str, object]:
    return {
        "load": {
            "stages": [{"name": f"{endpoint}-steady", "duration": f"{seconds}s", "users": 2}],
            "think_time": "50ms",
            "graceful_stop": "2s",
        },
        "mix": {endpoint: 1},
    }


def test_windows_catch_what_the_whole_run_hides_and_for_tells_a_spike_from_a_stall(
    service: str, tmp_path: Path
) -> None:
    spec = {
        "version": 2,
        "name": "windows-e2e",
        "sla_version": "1.0.0",
        "target": {"base_url": service, "timeout": "3s"},
        "endpoints": {name: {"path": f"/{name}"} for name in "abc"},
        "scenarios": {"episode": scenario("a"), "spike": scenario("b"), "stall": scenario("c")},
        "thresholds": [
            "p95(http.a) < 200ms",
            {"expr": "p95(http.a) < 200ms", "window": "6s"},
            {"expr": "p95(http.b) < 200ms", "for": "10s"},
            {"expr": "p95(http.c) < 200ms", "for": "10s"},
        ],
    }
    path = tmp_path / "windows.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    verdict_path, junit_path = tmp_path / "v.json", tmp_path / "j.xml"
    run = run_cli("run", path, "--json", verdict_path, "--junit", junit_path, timeout_s=90)
    assert run.code == 1, run.output
    verdict = json.loads(verdict_path.read_text())
    whole, window, spike, stall = verdict["thresholds"]

    # A 5 s episode among 24 s: under 5% of the requests, so the whole run's p95 passes...
    assert whole["status"] == "pass", whole["message"]
    # ... and the 6 s window holding most of it fails, naming the window and its figure.
    assert window["status"] == "fail", window["message"]
    assert window["id"] == "p95(http.a) < 200ms (window 6s)"
    bad = [w for w in window["windows"] if not w["passed"]]
    assert [(w["start_s"], w["end_s"]) for w in bad] == [(6.0, 12.0)], window["windows"]
    assert bad[0]["observed"] >= SLOW_MS
    assert window["message"].startswith("window 00:06–00:12: p95(http.a) = ")
    assert len(window["windows"]) == 4

    # A 2 s spike is not a sustained breach; a 15 s stall is.
    assert spike["status"] == "pass", spike["message"]
    assert all((w["end_s"] - w["start_s"]) <= 4 for w in spike["windows"]), spike["windows"]
    assert stall["status"] == "fail", stall["message"]
    longest = max(stall["windows"], key=lambda w: w["end_s"] - w["start_s"])
    assert 13 <= longest["end_s"] - longest["start_s"] <= 17, stall["windows"]
    assert stall["observed"] >= SLOW_MS

    # Every request the runner counted, the service answered, and the other way round.
    counts = served(service)
    for name in "abc":
        assert verdict["metrics"][f"http.{name}"]["count"] == counts[f"/{name}"]

    cases = {case.name for suite in JUnitXml.fromfile(str(junit_path)) for case in suite}
    assert {
        "p95(http.a) < 200ms",
        "p95(http.a) < 200ms (window 6s)",
        "p95(http.b) < 200ms (for 10s)",
        "p95(http.c) < 200ms (for 10s)",
    } <= cases
    assert "p95(http.a) < 200ms (window 6s): window 00:06–00:12" in run.stdout


def test_workers_add_their_seconds_so_the_windows_are_the_whole_runs(tmp_path: Path) -> None:
    """run --workers 2: each worker records its users' seconds; the parent adds second k to
    second k, so the window holding the episode fails on the merged figures."""
    with episodes({"/w": (4, 9, SLOW_MS)}) as url:
        spec = {
            "version": 2,
            "name": "windows-workers",
            "sla_version": "1.0.0",
            "target": {"base_url": url, "timeout": "3s"},
            "endpoints": {"w": {"path": "/w"}},
            "scenarios": {"episode": scenario("w", seconds=15)},
            "thresholds": [{"expr": "p95(http) < 200ms", "window": "5s"}],
        }
        path = tmp_path / "workers.yaml"
        path.write_text(yaml.safe_dump(spec, sort_keys=False))
        out = tmp_path / "v.json"
        run = run_cli("run", path, "--workers", "2", "--json", out, timeout_s=90)
        counts = served(url)
    assert run.code == 1, run.output
    verdict = json.loads(out.read_text())
    (window,) = verdict["thresholds"]
    assert window["status"] == "fail", window["message"]
    assert [w["passed"] for w in window["windows"]] == [True, False, True], window["windows"]
    assert verdict["metrics"]["http"]["count"] == counts["/w"]
    assert window["samples"] == counts["/w"]
    assert sum(w["samples"] for w in window["windows"]) == counts["/w"]
