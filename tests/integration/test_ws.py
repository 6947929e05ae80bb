"""The WebSocket client against the test server and the demo service: exact counts per outcome."""

from __future__ import annotations

import functools
import json
import socket
import ssl
import time
import urllib.request
import uuid
from collections import Counter
from typing import Any

import anyio
import pytest

from sla_runner.engine.ws import WsChannel, compile_channel, run_channel
from sla_runner.spec.models import Channel, Target
from tests.conftest import LiveServer
from tests.support.faultkit import count_calls

pytestmark = pytest.mark.anyio


class Sink:
    """Records every report; sets ``stop`` after ``limit`` round trips."""

    def __init__(self, limit: int | None = None) -> None:
        self.limit = limit
        self.stop = anyio.Event()
        self.connects: list[tuple[str, int | None]] = []
        self.round_trips: list[tuple[str, int | None]] = []
        self.reconnects = 0

    def connect(self, name: str, outcome: str, latency_ns: int | None) -> None:
        self.connects.append((outcome, latency_ns))

    def round_trip(self, name: str, outcome: str, latency_ns: int | None) -> None:
        self.round_trips.append((outcome, latency_ns))
        if self.limit is not None and len(self.round_trips) >= self.limit:
            self.stop.set()

    def reconnect(self, name: str) -> None:
        self.reconnects += 1

    def connect_keys(self) -> Counter[str]:
        return Counter(key for key, _ in self.connects)

    def trip_keys(self) -> Counter[str]:
        return Counter(key for key, _ in self.round_trips)


def channel(base_url: str, path: str, **fields: Any) -> WsChannel:
    spec = Channel.model_validate({"path": path, "send": "hello", "interval": "5ms", **fields})
    return compile_channel("chan", spec, Target.model_validate({"base_url": base_url}))


async def drive(ch: WsChannel, limit: int | None = None, deadline_s: float = 10) -> Sink:
    sink = Sink(limit)
    with anyio.fail_after(deadline_s):
        await run_channel(ch, sink, stop=sink.stop)
    return sink


def tag() -> str:
    return uuid.uuid4().hex[:12]


async def test_echo_round_trips_counted_exactly(test_server: LiveServer) -> None:
    path = f"/ws/echo?tag={tag()}"
    sink = await drive(channel(test_server.url, path, expect={"contains": "hello"}), limit=25)
    assert sink.trip_keys() == {"ok": 25}
    assert sink.connect_keys() == {"ok": 1}
    assert (sink.connects[0][1] or 0) > 0
    assert all((latency or 0) > 0 for _, latency in sink.round_trips)
    assert sink.reconnects == 0
    assert test_server.counts()[f"ws:{path}"] == 25


async def test_close_mid_run_reconnects_and_counts_in_flight(test_server: LiveServer) -> None:
    path = f"/ws/close-after?n=3&tag={tag()}"
    sink = await drive(channel(test_server.url, path, reconnect=2))  # ends when reconnects run out
    assert sink.connect_keys() == {"ok": 3}
    assert sink.trip_keys() == {"ok": 9, "ws_closed": 3}
    assert sink.reconnects == 2
    assert test_server.counts()[f"ws:{path}"] == 12


async def test_a_late_reply_is_not_taken_as_the_next_round_trips(test_server: LiveServer) -> None:
    # Every echo takes 20 ms, the 3rd 700 ms, in order: the 3rd times out (300 ms), and so
    # does the 4th, sent at 300 ms and answered at 720 ms behind it.
    path = f"/ws/late?base=20&at=3&ms=700&tag={tag()}"
    ch = channel(test_server.url, path, timeout="300ms", interval="50ms")
    sink = await drive(ch, limit=10)
    assert sink.trip_keys() == {"ok": 8, "timeout": 2}
    ok = [latency for key, latency in sink.round_trips if key == "ok"]
    # Had the late echo answered the 4th message, the 5th would take the 4th's waiting
    # echo and read as well under the service's 20 ms.
    assert min(latency or 0 for latency in ok) >= 19_000_000


async def test_failed_connects_and_closes_have_no_latency(test_server: LiveServer) -> None:
    sink = await drive(channel(test_server.url, "/ws/refuse", reconnect=1))
    assert sink.connects == [("ws_refused", None), ("ws_refused", None)]
    closer = await drive(channel(test_server.url, f"/ws/close-after?n=1&tag={tag()}", reconnect=0))
    assert ("ws_closed", None) in closer.round_trips


async def test_silent_server_times_out(test_server: LiveServer) -> None:
    ch = channel(test_server.url, "/ws/silent", timeout="150ms", reconnect=0)
    sink = await drive(ch, limit=3)
    assert sink.trip_keys() == {"timeout": 3}
    assert all((latency or 0) >= 150_000_000 for _, latency in sink.round_trips)
    assert sink.connect_keys() == {"ok": 1}


async def test_refused_upgrade(test_server: LiveServer) -> None:
    sink = await drive(channel(test_server.url, "/ws/refuse", reconnect=2))
    assert sink.connect_keys() == {"ws_refused": 3}
    assert sink.reconnects == 2
    assert sink.round_trips == []


@pytest.mark.parametrize(
    ("path", "key"), [("/ws/garbage", "protocol_error"), ("/ws/bad-utf8", "ws_bad_reply")]
)
async def test_invalid_frames(test_server: LiveServer, path: str, key: str) -> None:
    sink = await drive(channel(test_server.url, path, reconnect=1))
    assert sink.trip_keys() == {key: 2}
    assert sink.connect_keys() == {"ok": 2}
    assert sink.reconnects == 1


async def test_connect_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sink = await drive(channel(f"http://127.0.0.1:{port}", "/ws/echo", reconnect=0))
    assert sink.connect_keys() == {"connect_error": 1}


async def test_expect_skips_unrelated_messages(test_server: LiveServer) -> None:
    path = f"/ws/noise?n=3&tag={tag()}"
    text = channel(test_server.url, path, expect={"contains": "hello"})
    fields = channel(test_server.url, path, send={"op": "ping", "n": 1},
                     expect={"json": {"op": "ping", "n": 1}})  # fmt: skip
    assert (await drive(text, limit=10)).trip_keys() == {"ok": 10}
    assert (await drive(fields, limit=10)).trip_keys() == {"ok": 10}
    assert test_server.counts()[f"ws:{path}"] == 20


async def test_stop_ends_a_long_interval_promptly(test_server: LiveServer) -> None:
    sink = Sink()
    ch = channel(test_server.url, "/ws/echo", interval="30s")
    started = time.monotonic()
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: run_channel(ch, sink, stop=sink.stop))
            await anyio.sleep(0.3)
            sink.stop.set()
    assert time.monotonic() - started < 5
    assert sink.trip_keys() == {"ok": 1}  # sent at once, then waiting out the interval


async def test_cancellation_closes_promptly(test_server: LiveServer) -> None:
    ch = channel(test_server.url, "/ws/silent", timeout="30s")
    sink = Sink()
    started = time.monotonic()
    with anyio.move_on_after(0.3) as scope:
        await run_channel(ch, sink)
    assert scope.cancelled_caught
    assert time.monotonic() - started < 3
    assert sink.connect_keys() == {"ok": 1}
    assert sink.round_trips == []  # the one in flight was abandoned, not counted


async def test_prices_json_expect_on_demo_service(demo_service: str) -> None:
    def prices_messages() -> int:
        with urllib.request.urlopen(f"{demo_service}/stats", timeout=5) as response:
            return int(json.load(response)["ws_messages"].get("/ws/prices", 0))

    before = prices_messages()
    ch = channel(demo_service, "/ws/prices", send={"op": "ping"}, interval="200ms",
                 expect={"json": {"op": "pong"}})  # fmt: skip
    sink = await drive(ch, limit=6)  # 1.2 s: the ticks every 500 ms arrive in between
    assert sink.trip_keys() == {"ok": 6}
    assert prices_messages() - before == 6


@pytest.mark.load
async def test_many_connections_accounted_exactly(test_server: LiveServer) -> None:
    path = f"/ws/echo?tag={tag()}"
    ch = channel(test_server.url, path, interval="0s")
    sinks = [Sink(limit=100) for _ in range(20)]
    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            for sink in sinks:
                tg.start_soon(functools.partial(run_channel, ch, sink, stop=sink.stop))
    assert sum((s.trip_keys() for s in sinks), Counter()) == {"ok": 2000}
    assert test_server.counts()[f"ws:{path}"] == 2000


async def test_wss_verifies_the_certificate_by_default(test_server: LiveServer) -> None:
    """The test server's certificate is self-signed: refused unless the spec turns it off."""
    path = f"/ws/echo?tag={tag()}"
    sink = await drive(channel(test_server.tls_url, path, reconnect=0), limit=1, deadline_s=5)
    assert sink.connect_keys() == {"tls_error": 1}
    assert test_server.counts().get(f"ws:{path}", 0) == 0


async def test_wss_connections_share_one_tls_context(
    test_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every user's connection to a wss channel uses the context the channel was compiled
    with: loading the CA bundle costs ~15 ms, paid once, not once per connection."""
    made = count_calls(monkeypatch, ssl, "create_default_context")
    path = f"/ws/echo?tag={tag()}"
    spec = Channel.model_validate({"path": path, "send": "hello", "interval": "5ms"})
    target = Target.model_validate({"base_url": test_server.tls_url, "verify_tls": False})
    ch = compile_channel("chan", spec, target)
    sinks = [Sink(limit=3) for _ in range(4)]
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            for sink in sinks:
                tg.start_soon(functools.partial(run_channel, ch, sink, stop=sink.stop))
    assert sum((s.connect_keys() for s in sinks), Counter()) == {"ok": 4}
    assert sum((s.trip_keys() for s in sinks), Counter()) == {"ok": 12}
    assert test_server.counts()[f"ws:{path}"] == 12
    assert len(made) == 1
