"""Faults of the service under test, through whole runs (api.run_spec): classified, counted
in the verdict, never a hang, never a crash. Transport-level classification is tested in
test_http_transport.py and test_ws.py; here each fault goes plan → engine → judge.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from sla_runner import api
from sla_runner.verdict import Verdict
from tests.conftest import LiveServer
from tests.support.cli import run_cli
from tests.support.faultkit import spec_data, spec_file, tag

pytestmark = pytest.mark.load

THIRTY_MB = 30 * 1024 * 1024


def run(data: dict[str, Any], **options: Any) -> tuple[Verdict, float]:
    """Load the spec data, run it in this process, return the verdict and the wall time."""
    loaded = api.load_spec_text(yaml.safe_dump(data, sort_keys=False), "faults.yaml", env={})
    started = time.monotonic()
    verdict = api.run_spec(loaded, handle_signals=False, **options)
    return verdict, time.monotonic() - started


def steady(seconds: float, users: int = 4, **load: Any) -> dict[str, Any]:
    return {
        "stages": [
            {"name": "warm", "duration": "100ms", "users": users},
            {"name": "steady", "duration": f"{round(seconds * 1000)}ms", "users": users},
        ],
        "graceful_stop": "3s",
        **load,
    }


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["raw", "aiohttp", "httpx"])
def test_http_faults_under_load(test_server: LiveServer, engine: str) -> None:
    t = tag()
    faults = {
        "ok": (f"/ok?t={t}", None),
        "reset": (f"/reset?t={t}", "reset"),
        "half": (f"/half?t={t}", "reset"),  # the body is cut short
        "slow": (f"/delay?ms=1500&t={t}", "timeout"),
        "hang": (f"/hang?t={t}", "timeout"),
        "big": (f"/body?size={THIRTY_MB}&end=THE-END&t={t}", None),
        "garbage": (f"/garbage?t={t}", "protocol_error"),
        "cut": (f"/chunked-cut?t={t}", "reset"),
    }
    endpoints: dict[str, Any] = {name: {"path": path} for name, (path, _) in faults.items()}
    endpoints["slow"]["timeout"] = endpoints["hang"]["timeout"] = "300ms"
    endpoints["big"]["expect"] = {"body_contains": "THE-END"}
    data = spec_data(
        test_server.url,
        endpoints=endpoints,
        load=steady(2.5, think_time="10ms"),
        thresholds=["success_rate(http) > 99%", "p95(http.ok) < 1s"],
    )
    verdict, took = run(data, engine=engine)
    assert took < 2.6 + 3 + 3, "a fault held the run past its end and the graceful stop"
    assert verdict.status == "fail"
    statuses = [t.status for t in verdict.thresholds]
    assert statuses == ["fail", "pass"]
    served = test_server.counts()
    for name, (path, kind) in faults.items():
        m = verdict.metrics[f"http.{name}"]
        assert m.count >= 1, name
        # Every request is classified, all of one endpoint alike, and none lost or invented.
        assert m.errors == ({kind: m.count} if kind else {}), name
        assert served[path] == m.count, name
    total = verdict.metrics["http"]
    assert sum(total.errors.values()) == sum(sum(m.errors.values()) for m in _endpoints(verdict))


@pytest.mark.parametrize("engine", ["raw", "aiohttp", "httpx"])
def test_no_silent_retries(test_server: LiveServer, engine: str) -> None:
    """Each attempt the service sees is one the verdict counts: a retry would hide faults."""
    path = f"/reset?t={tag()}"
    data = spec_data(
        test_server.url,
        endpoints={"ok": {"path": f"/ok?t={tag()}", "weight": 3}, "reset": {"path": path}},
        load=steady(0.9, users=2, think_time="20ms"),
    )
    verdict, _ = run(data, engine=engine)
    m = verdict.metrics["http.reset"]
    assert m.errors == {"reset": m.count}
    assert test_server.counts()[path] == m.count


def _endpoints(verdict: Verdict) -> list[Any]:
    return [m for name, m in verdict.metrics.items() if name.startswith("http.")]


@pytest.mark.slow
def test_websocket_faults_under_load(test_server: LiveServer) -> None:
    t = tag()
    users, reconnect = 2, 2
    channels: dict[str, dict[str, Any]] = {
        "echo": {"path": f"/ws/echo?t={t}"},
        "closer": {"path": f"/ws/close-after?n=2&t={t}"},
        "refused": {"path": f"/ws/refuse?after=1&t={t}"},  # after the pre-flight
        "garbage": {"path": f"/ws/garbage?t={t}"},
        "silent": {"path": f"/ws/silent?t={t}", "timeout": "300ms"},
    }
    for channel in channels.values():
        channel.update(send="hello", interval="100ms", reconnect=reconnect)
    data = spec_data(
        test_server.url,
        endpoints={},
        channels=channels,
        load=steady(2.5, users=users),
        thresholds=["success_rate(ws.echo) > 99%"],
    )
    verdict, took = run(data)
    assert took < 2.6 + 3 + 3
    assert verdict.status == "pass"
    m = verdict.metrics
    connects = users * (1 + reconnect)  # the first connection and every reconnect, per user
    # close-after?n=2: two round trips answered, the third in flight when the server closes.
    assert m["ws.closer"].count == 3 * connects
    assert m["ws.closer"].errors == {"ws_closed": connects}
    assert m["ws_connect.refused"].errors == {"ws_refused": connects}
    assert "ws.refused" not in m  # no round trip without a connection
    assert m["ws.garbage"].errors == {"protocol_error": connects}
    assert m["ws.garbage"].count == connects
    assert m["ws.silent"].errors == {"timeout": m["ws.silent"].count}
    assert m["ws.silent"].count >= 3 * users
    assert m["ws.echo"].errors == {}
    assert m["ws_connect.silent"].count == users  # a timeout keeps the connection
    reconnects = (verdict.recording or {})["reconnects"]
    assert reconnects == {
        "closer": users * reconnect,
        "garbage": users * reconnect,
        "refused": users * reconnect,
    }
    served = test_server.counts()
    assert served[f"ws:/ws/close-after?n=2&t={t}"] == 3 * connects
    assert served[f"ws:/ws/garbage?t={t}"] == connects
    assert served[f"ws:/ws/echo?t={t}"] == m["ws.echo"].count


@pytest.mark.parametrize("reaped", [True, False], ids=["reaped", "zombie"])
def test_sampled_process_exits_mid_run(test_server: LiveServer, reaped: bool) -> None:
    doomed = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1.0)"])
    reaper = threading.Thread(target=doomed.wait) if reaped else None
    if reaper is not None:
        reaper.start()
    try:
        data = spec_data(
            test_server.url,
            load=steady(2.4, think_time="20ms"),
            thresholds=["max(process.rss) < 1GB", "min(process.rss) > 1MB"],
        )
        data["target"]["process"] = {"pid": doomed.pid, "interval": "50ms"}
        verdict, _ = run(data)
    finally:
        doomed.wait(timeout=10)
        if reaper is not None:
            reaper.join()
    assert verdict.status == "pass", verdict.notes
    assert any(f"process {doomed.pid} exited" in note for note in verdict.notes)
    rss = next(t for t in verdict.thresholds if t.expr.startswith("max"))
    assert 3 <= rss.samples < 40  # sampled every 50 ms for about a second, then no more
    low = next(t for t in verdict.thresholds if t.expr.startswith("min"))
    assert low.status == "pass"  # never judged on the zeros of a dead process


def test_tls_verification_on_by_default(test_server: LiveServer) -> None:
    """The test server's certificate is self-signed: refused before any load."""
    data = spec_data(test_server.tls_url, load=steady(0.9, users=2, think_time="50ms"))
    verdict, _ = run(data)
    assert verdict.status == "error"
    assert verdict.message == (
        f"cannot connect to {test_server.tls_url}: TLS handshake failed: certificate verify "
        "failed: self-signed certificate (target.verify_tls: false skips the check)"
    )
    assert test_server.counts().get(data["endpoints"]["ok"]["path"], 0) == 0
    assert verdict.run.warnings == []


def test_tls_verification_off_is_explicit_and_warned(
    test_server: LiveServer, tmp_path: Path
) -> None:
    data = spec_data(test_server.tls_url, load=steady(0.9, users=2, think_time="50ms"))
    data["target"]["verify_tls"] = False
    out = tmp_path / "verdict.json"
    result = run_cli("run", spec_file(tmp_path, data), "--json", out, "--quiet")
    assert result.code == 0, result.output
    assert "Warnings:" in result.stdout
    assert "TLS certificate verification is off" in result.stdout
    verdict = Verdict.model_validate_json(out.read_text(encoding="utf-8"))
    assert verdict.metrics["http"].errors == {}
    assert verdict.run.warnings == [
        "TLS certificate verification is off (target.verify_tls: false)"
    ]


@pytest.mark.parametrize("allowed", [False, True], ids=["blocked", "allowed"])
def test_redirect_to_another_host(test_server: LiveServer, allowed: bool) -> None:
    elsewhere = f"http://localhost:{test_server.port}/ok?t={tag()}"  # same server, other host
    data = spec_data(
        test_server.url,
        endpoints={"hop": {"path": f"/redirect?to={elsewhere}"}},
        load=steady(0.9, users=2, think_time="50ms"),
    )
    if allowed:
        data["target"]["allowed_hosts"] = ["localhost"]
    verdict, _ = run(data)
    http = verdict.metrics["http.hop"]
    assert http.count > 0
    served = test_server.counts().get(
        elsewhere.removeprefix(f"http://localhost:{test_server.port}"), 0
    )
    if allowed:
        assert (verdict.status, http.errors, served) == ("pass", {}, http.count)
    else:
        assert verdict.status == "fail"
        assert http.errors == {"redirect_blocked": http.count}
        assert served == 0  # never sent to the other host
