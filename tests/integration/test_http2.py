"""``http2: true`` endpoints against a real HTTP/2 server (the test server's h2 port).

Every engine hands these endpoints to httpx with HTTP/2 (negotiated by TLS ALPN). The test
server counts each request under its URL and again under its protocol (``h2:<url>`` or
``http/1.1:<url>``), so a run proves its requests were HTTP/2, not merely answered: the h2
port also serves HTTP/1.1 to a client that does not offer ``h2``, and counts it as such.
"""

from __future__ import annotations

import contextlib
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest
import yaml

from sla_runner import api
from sla_runner.engine.http.request import HttpRequest, compile_request
from sla_runner.engine.lifecycle import Engine
from sla_runner.engine.transports import make_transport
from sla_runner.plan import Segment, build_plan
from sla_runner.spec.models import Endpoint, Target
from sla_runner.verdict import Verdict
from tests.conftest import LiveServer
from tests.support.faultkit import count_calls, spec_data, tag

pytestmark = [pytest.mark.load, pytest.mark.timeout(30)]

ENGINES = ["raw", "aiohttp", "httpx"]


def run(data: dict[str, Any], engine: str) -> tuple[Verdict, float]:
    """Load the spec data, run it in this process, return the verdict and the wall time."""
    loaded = api.load_spec_text(yaml.safe_dump(data, sort_keys=False), "http2.yaml", env={})
    started = time.monotonic()
    verdict = api.run_spec(loaded, handle_signals=False, engine=engine)
    return verdict, time.monotonic() - started


def h2_spec(server: LiveServer, endpoints: dict[str, Any], seconds: float = 1.0) -> dict[str, Any]:
    data = spec_data(
        server.h2_url,
        endpoints=endpoints,
        load={
            "stages": [
                {"name": "warm", "duration": "100ms", "users": 2},
                {"name": "steady", "duration": f"{round(seconds * 1000)}ms", "users": 2},
            ],
            "think_time": "10ms",
            "graceful_stop": "2s",
        },
        thresholds=["count(http) > 0"],
    )
    data["target"]["verify_tls"] = False  # the test server's certificate is self-signed
    return data


@pytest.mark.parametrize("engine", ENGINES)
def test_http2_endpoints_counted_exactly_and_served_over_http2(
    test_server: LiveServer, engine: str
) -> None:
    t = tag()
    paths = {
        "ok": f"/ok?t={t}",
        "unavailable": f"/status?code=503&t={t}",
        "post": f"/echo?t={t}",
        "h1": f"/ok?t={t}&via=h1",  # the control: the same port, without http2
    }
    endpoints: dict[str, Any] = {
        "ok": {"path": paths["ok"], "http2": True, "expect": {"body_contains": "brown fox"}},
        "unavailable": {"path": paths["unavailable"], "http2": True},
        "post": {
            "method": "POST",
            "path": paths["post"],
            "json": {"order": 42},
            "http2": True,
            "expect": {"status": 200, "body_contains": '{"order":42}'},
        },
        "h1": {"path": paths["h1"], "expect": {"body_contains": "brown fox"}},
    }
    verdict, took = run(h2_spec(test_server, endpoints), engine)
    assert took < 1.1 + 2 + 3, "the run held past its end and the graceful stop"
    m = verdict.metrics
    assert verdict.status == "pass", verdict.message
    assert m["http.ok"].errors == {}
    assert m["http.post"].errors == {}
    assert m["http.h1"].errors == {}
    assert m["http.unavailable"].errors == {"status_503": m["http.unavailable"].count}
    served = test_server.counts()
    for name, path in paths.items():
        count = m[f"http.{name}"].count
        assert count >= 3, name
        assert served[path] == count, name  # none lost, none invented, none retried
        protocol = "http/1.1" if name == "h1" else "h2"
        other = "h2" if name == "h1" else "http/1.1"
        assert served.get(f"{protocol}:{path}") == count, name
        assert served.get(f"{other}:{path}", 0) == 0, name
    total = m["http"]
    assert total.count == sum(m[f"http.{name}"].count for name in paths)
    assert total.errors == {"status_503": m["http.unavailable"].count}


def _request(target: Target, path: str, **endpoint: Any) -> HttpRequest:
    return compile_request(
        "ep", Endpoint.model_validate({"path": path, "http2": True, **endpoint}), target
    )


@pytest.mark.anyio
@pytest.mark.parametrize("engine", ENGINES)
async def test_concurrent_requests_multiplexed_on_one_connection(
    test_server: LiveServer, engine: str
) -> None:
    """Ten slow requests at once on a session of one connection: over HTTP/1.1 they would take
    ten times as long (one at a time); over HTTP/2 they share the connection as streams."""
    target = Target.model_validate(
        {"base_url": test_server.h2_url, "verify_tls": False, "timeout": "5s"}
    )
    request = _request(target, "/delay", query={"ms": 400, "t": tag()})
    url = request.url.removeprefix(test_server.h2_url)
    before = test_server.counts().get("h2_connections", 0)
    session = make_transport(target, engine=engine).session(connections=1)
    keys: Counter[str] = Counter()

    async def one() -> None:
        keys[(await session.send(request)).key] += 1

    started = time.monotonic()
    try:
        async with anyio.create_task_group() as tg:
            for _ in range(10):
                tg.start_soon(one)
        took = time.monotonic() - started
    finally:
        await session.aclose()
    assert keys == {"ok": 10}
    assert took < 0.4 * 10 / 2, f"{took:.2f}s: the requests were not concurrent"
    assert test_server.protocols(url) == {"http/1.1": 0, "h2": 10}
    assert test_server.counts()["h2_connections"] - before == 1


@pytest.mark.parametrize("engine", ENGINES)
def test_slow_http2_responses_time_out(test_server: LiveServer, engine: str) -> None:
    t = tag()
    paths = {"ok": f"/ok?t={t}", "slow": f"/delay?ms=1500&t={t}", "hang": f"/hang?t={t}"}
    endpoints: dict[str, Any] = {
        name: {"path": path, "http2": True, "timeout": "300ms"} for name, path in paths.items()
    }
    verdict, took = run(h2_spec(test_server, endpoints), engine)
    # The run ends on time: no request outlives its timeout, none waits for the slow replies.
    assert took < 1.1 + 0.3 + 2, f"{took:.2f}s"
    m = verdict.metrics
    assert m["http.ok"].errors == {}  # the connection serves on after a stream timed out
    for name in ("slow", "hang"):
        assert m[f"http.{name}"].count >= 2, name
        assert m[f"http.{name}"].errors == {"timeout": m[f"http.{name}"].count}, name
    served = test_server.counts()
    for name, path in paths.items():
        assert served[f"h2:{path}"] == m[f"http.{name}"].count, name
        assert served.get(f"http/1.1:{path}", 0) == 0, name


STREAM_LIMIT = 10  # the test server's MAX_CONCURRENT_STREAMS while it is lowered (else 100)


@contextlib.contextmanager
def _stream_limit(server: LiveServer, streams: int) -> Iterator[None]:
    """New HTTP/2 connections to ``server`` offer ``streams`` streams until the end."""
    with urllib.request.urlopen(f"{server.url}/h2-streams?max={streams}", timeout=5) as answer:
        previous = int(answer.read())
    try:
        yield
    finally:
        urllib.request.urlopen(f"{server.url}/h2-streams?max={previous}", timeout=5).close()


@pytest.mark.anyio
async def test_timeouts_do_not_exhaust_the_stream_limit(test_server: LiveServer) -> None:
    """httpcore sends no RST_STREAM for a request cancelled at its timeout: without the
    session retiring that connection, once the server's stream limit is reached every
    request would be a protocol_error, never sent.

    The server offers 10 streams here, so 11 timeouts pass its limit. Each timeout retires
    its connection, so the next request opens one: its TCP and TLS handshake has 450 ms of
    the 500 ms timeout (with 101 timeouts of 50 ms, a handshake on a busy machine took
    longer than its 45 ms about once in 20 runs, a connect_error)."""
    target = Target.model_validate(
        {"base_url": test_server.h2_url, "verify_tls": False, "timeout": "2s"}
    )
    hang = _request(target, "/hang", query={"t": tag()}, timeout="500ms")
    ok = _request(target, "/ok", query={"t": tag()})
    with _stream_limit(test_server, STREAM_LIMIT):
        session = make_transport(target, engine="httpx").session(connections=1)
        try:
            first = await session.send(ok)
            keys = Counter([(await session.send(hang)).key for _ in range(STREAM_LIMIT + 1)])
            after = await session.send(ok)
        finally:
            await session.aclose()
    assert first.key == "ok"
    assert keys == {"timeout": STREAM_LIMIT + 1}
    assert after.key == "ok", after.detail
    assert (
        test_server.protocols(hang.url.removeprefix(test_server.h2_url))["h2"] == STREAM_LIMIT + 1
    )


@pytest.mark.anyio
@pytest.mark.parametrize("engine", ENGINES)
async def test_sessions_share_one_tls_context(
    test_server: LiveServer, engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every user's session serves its ``http2`` endpoints with the one TLS context the run
    built: loading the CA bundle costs ~15 ms, paid once, not once per virtual user."""
    made = count_calls(monkeypatch, httpx, "create_ssl_context")
    target = Target.model_validate({"base_url": test_server.h2_url, "verify_tls": False})
    request = _request(target, "/ok", query={"t": tag()})
    transport = make_transport(target, engine=engine)
    sessions = [transport.session(connections=1) for _ in range(5)]
    try:
        results = [(await session.send(request)).key for session in sessions]
    finally:
        for session in sessions:
            await session.aclose()
    assert results == ["ok"] * 5
    assert test_server.protocols(request.url.removeprefix(test_server.h2_url))["h2"] == 5
    assert len(made) == 1


@pytest.mark.anyio
@pytest.mark.parametrize("engine", ENGINES)
async def test_prepared_before_the_clock_starts(
    test_server: LiveServer, engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine prepares its transport when it is built: the TLS context and httpx's lazy
    imports (~100 ms together) are not paid by the first request, inside the measured run."""
    made = count_calls(monkeypatch, httpx, "create_ssl_context")
    data = h2_spec(test_server, {"ok": {"path": f"/ok?t={tag()}", "http2": True}})
    loaded = api.load_spec_text(yaml.safe_dump(data, sort_keys=False), "h2.yaml", env={})
    engine_ = Engine(loaded.spec, build_plan(loaded.spec, Segment()), engine=engine)
    assert len(made) == 1
    recording = await engine_.run()
    assert len(made) == 1
    assert recording.series[("http", "ok", 1)].outcomes["ok"] > 0
