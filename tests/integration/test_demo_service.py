"""The demo service: its routes, latencies' lower bounds, error rate, accounting and shutdown."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from sla_runner.demo.service import serve
from sla_runner.engine.http.request import compile_request
from sla_runner.engine.transports import make_transport
from sla_runner.spec.models import Endpoint, Target
from tests.support.paths import ROOT

pytestmark = pytest.mark.anyio


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def get_json(client: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
    async with client.get(url) as response:
        return response.status, await response.json()


async def test_routes(demo_service: str, client: aiohttp.ClientSession) -> None:
    assert await get_json(client, f"{demo_service}/health") == (200, {"status": "ok"})
    status, listing = await get_json(client, f"{demo_service}/api/items")
    assert status == 200
    assert listing["count"] == len(listing["items"]) == 10
    status, item = await get_json(client, f"{demo_service}/api/items/3")
    assert (status, item["id"]) == (200, 3)
    assert (await get_json(client, f"{demo_service}/api/items/999"))[0] == 404
    assert (await get_json(client, f"{demo_service}/api/items/abc"))[0] == 404
    async with client.post(f"{demo_service}/api/orders", json={"item": 42}) as response:
        created = await response.json()
        assert response.status == 201
    assert created["order"] == {"item": 42}
    assert created["status"] == "created"
    async with client.post(f"{demo_service}/api/orders", data=b"not json") as response:
        assert response.status == 400


async def test_latency_lower_bounds(demo_service: str, client: aiohttp.ClientSession) -> None:
    for path, low_s in [("/api/items", 0.002), ("/api/items/1", 0.001)]:
        for _ in range(5):
            started = time.perf_counter()
            async with client.get(demo_service + path) as response:
                await response.read()
            assert time.perf_counter() - started >= low_s


@pytest.mark.parametrize(("rate", "expected"), [(0.0, 0), (1.0, 60)])
async def test_flaky_error_rate_extremes(
    client: aiohttp.ClientSession, rate: float, expected: int
) -> None:
    runner, port = await serve(error_rate=rate, seed=1)
    try:
        statuses: Counter[int] = Counter()
        for _ in range(60):
            async with client.get(f"http://127.0.0.1:{port}/api/flaky") as response:
                statuses[response.status] += 1
    finally:
        await runner.cleanup()
    assert statuses[500] == expected
    assert statuses[200] == 60 - expected


async def test_flaky_error_rate_seeded(client: aiohttp.ClientSession) -> None:
    async def errors(seed: int) -> int:
        runner, port = await serve(error_rate=0.25, seed=seed)
        try:
            count = 0
            for _ in range(200):
                async with client.get(f"http://127.0.0.1:{port}/api/flaky") as response:
                    count += response.status == 500
            return count
        finally:
            await runner.cleanup()

    first, again = await errors(3), await errors(3)
    assert first == again  # seeded: the same run twice
    assert 20 <= first <= 80  # 25% of 200, far outside chance of missing


async def test_stats_account_for_every_request(demo_service: str) -> None:
    def stats() -> dict[str, Any]:
        import urllib.request  # noqa: PLC0415

        with urllib.request.urlopen(f"{demo_service}/stats", timeout=5) as response:
            requests: dict[str, Any] = json.load(response)["requests"]
            return requests

    before = stats()
    target = Target.model_validate({"base_url": demo_service})
    request = compile_request("one", Endpoint.model_validate({"path": "/api/items/1"}), target)
    session = make_transport(target).session(connections=4)
    try:
        keys = Counter([(await session.send(request)).key for _ in range(40)])
    finally:
        await session.aclose()
    assert keys == {"ok": 40}
    after = stats()
    assert after["/api/items/{id}"] - before.get("/api/items/{id}", 0) == 40


async def test_websockets(demo_service: str, client: aiohttp.ClientSession) -> None:
    ws_base = demo_service.replace("http://", "ws://")
    async with client.ws_connect(f"{ws_base}/ws/echo") as ws:
        await ws.send_str("hi")
        assert await ws.receive_str(timeout=5) == "hi"
        await ws.send_bytes(b"\x00\x01")
        assert await ws.receive_bytes(timeout=5) == b"\x00\x01"
    async with client.ws_connect(f"{ws_base}/ws/prices") as ws:
        await ws.send_str('{"op":"ping"}')
        ops = []
        while "tick" not in ops:  # a tick comes within ~500 ms, unasked
            ops.append(json.loads(await ws.receive_str(timeout=5))["op"])
    assert ops[0] == "pong"


async def test_serve_refuses_other_interfaces() -> None:
    with pytest.raises(ValueError, match="loopback"):
        await serve("0.0.0.0")


def test_process_prints_its_url_and_stops_on_sigint() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "sla_runner.demo", "--port", "0"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("demo service listening on http://127.0.0.1:")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
