"""The embedded demo service: a small real service on loopback for ``specs/demo.yaml``.

Routes: ``GET /api/items`` (a JSON list, 2–8 ms), ``GET /api/items/{id}`` (1–3 ms, 404 for
unknown ids), ``POST /api/orders`` (201, 5–15 ms), ``GET /api/flaky`` (500 with probability
``error_rate``), ``GET /health``, ``GET /stats`` (requests served per route and WebSocket
messages, for accounting), and WebSockets ``/ws/echo`` and ``/ws/prices`` (``{"op":"ping"}``
→ ``{"op":"pong","price":…,"ts":…}``, plus an unsolicited ``{"op":"tick",…}`` every 500 ms).

Latencies are drawn from a log-normal spread clipped to each route's range, so
percentiles look like a real service's rather than a constant.

In-process: ``runner, port = await serve()`` … ``await runner.cleanup()``. As a process:
:func:`main_demo_service` (what ``sla-runner demo-service`` and ``python -m sla_runner.demo``
call) runs until SIGINT or SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import random
import signal
import sys
import time
from collections import Counter
from dataclasses import dataclass, field

from aiohttp import WSMsgType, web

from sla_runner.errors import RunError

LOOPBACK = "127.0.0.1"
TICK_INTERVAL_S = 0.5
ITEMS = [
    {"id": i, "name": name, "price": price}
    for i, (name, price) in enumerate(
        [("teapot", 24.5), ("kettle", 39.0), ("mug", 7.25), ("tray", 15.0), ("whisk", 4.8),
         ("sieve", 6.1), ("scale", 29.9), ("timer", 9.5), ("apron", 18.0), ("jar", 3.4)],
        start=1,
    )
]  # fmt: skip
ITEMS_BY_ID = {item["id"]: item for item in ITEMS}


@dataclass
class DemoState:
    error_rate: float
    rng: random.Random
    requests: Counter[str] = field(default_factory=Counter)
    ws_messages: Counter[str] = field(default_factory=Counter)
    orders: int = 0
    price: float = 100.0
    started: float = field(default_factory=time.time)

    def latency_s(self, low_ms: float, high_ms: float) -> float:
        """A log-normal draw centred between ``low_ms`` and ``high_ms``, clipped to them."""
        median = math.sqrt(low_ms * high_ms)
        drawn = self.rng.lognormvariate(math.log(median), 0.35)
        return min(max(drawn, low_ms), high_ms) / 1000

    def next_price(self) -> float:
        self.price = max(1.0, self.price * (1 + self.rng.gauss(0, 0.002)))
        return round(self.price, 4)


STATE = web.AppKey("state", DemoState)


def _state(request: web.Request) -> DemoState:
    state = request.app[STATE]
    route = request.match_info.route.resource
    state.requests[route.canonical if route is not None else request.path] += 1
    return state


async def list_items(request: web.Request) -> web.Response:
    state = _state(request)
    await asyncio.sleep(state.latency_s(2, 8))
    return web.json_response({"items": ITEMS, "count": len(ITEMS)})


async def get_item(request: web.Request) -> web.Response:
    state = _state(request)
    await asyncio.sleep(state.latency_s(1, 3))
    item_id = request.match_info["id"]
    item = ITEMS_BY_ID.get(int(item_id)) if item_id.isdigit() else None
    if item is None:
        return web.json_response({"error": f"no item {item_id}"}, status=404)
    return web.json_response(item)


async def create_order(request: web.Request) -> web.Response:
    state = _state(request)
    try:
        order = await request.json()
    except ValueError:
        return web.json_response({"error": "expected a JSON body"}, status=400)
    await asyncio.sleep(state.latency_s(5, 15))
    state.orders += 1
    return web.json_response(
        {"order_id": state.orders, "order": order, "status": "created"}, status=201
    )


async def flaky(request: web.Request) -> web.Response:
    state = _state(request)
    await asyncio.sleep(state.latency_s(1, 4))
    if state.rng.random() < state.error_rate:
        return web.json_response({"error": "flaky failure"}, status=500)
    return web.json_response({"ok": True})


async def health(request: web.Request) -> web.Response:
    _state(request)
    return web.json_response({"status": "ok"})


async def stats(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return web.json_response(
        {
            "requests": dict(state.requests),
            "ws_messages": dict(state.ws_messages),
            "orders": state.orders,
            "uptime_s": round(time.time() - state.started, 3),
        }
    )


async def ws_echo(request: web.Request) -> web.WebSocketResponse:
    state = _state(request)
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for message in ws:
        if message.type == WSMsgType.TEXT:
            state.ws_messages["/ws/echo"] += 1
            await ws.send_str(message.data)
        elif message.type == WSMsgType.BINARY:
            state.ws_messages["/ws/echo"] += 1
            await ws.send_bytes(message.data)
    return ws


async def _ticks(ws: web.WebSocketResponse, state: DemoState) -> None:
    while not ws.closed:
        await asyncio.sleep(TICK_INTERVAL_S)
        with contextlib.suppress(ConnectionError):
            await ws.send_str(
                json.dumps({"op": "tick", "price": state.next_price(), "ts": time.time()})
            )


async def ws_prices(request: web.Request) -> web.WebSocketResponse:
    state = _state(request)
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    ticker = asyncio.create_task(_ticks(ws, state))
    try:
        async for message in ws:
            if message.type != WSMsgType.TEXT:
                continue
            state.ws_messages["/ws/prices"] += 1
            try:
                op = json.loads(message.data).get("op")
            except (ValueError, AttributeError):
                op = None
            if op == "ping":
                reply = {"op": "pong", "price": state.next_price(), "ts": time.time()}
            else:
                reply = {"op": "error", "error": 'send {"op": "ping"}'}
            await ws.send_str(json.dumps(reply))
    finally:
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker
    return ws


def make_app(*, error_rate: float = 0.01, seed: int | None = None) -> web.Application:
    if not 0 <= error_rate <= 1:
        raise ValueError(f"error_rate must be between 0 and 1, got {error_rate}")
    app = web.Application()
    app[STATE] = DemoState(error_rate=error_rate, rng=random.Random(seed))
    app.router.add_get("/api/items", list_items)
    app.router.add_get("/api/items/{id}", get_item)
    app.router.add_post("/api/orders", create_order)
    app.router.add_get("/api/flaky", flaky)
    app.router.add_get("/health", health)
    app.router.add_get("/stats", stats)
    app.router.add_get("/ws/echo", ws_echo)
    app.router.add_get("/ws/prices", ws_prices)
    return app


async def serve(
    host: str = LOOPBACK, port: int = 0, *, error_rate: float = 0.01, seed: int | None = None
) -> tuple[web.AppRunner, int]:
    """Start the demo service; returns its runner (``await runner.cleanup()`` stops it) and port."""
    if host not in (LOOPBACK, "localhost", "::1"):
        raise ValueError(f"the demo service listens on loopback only, not {host!r}")
    runner = web.AppRunner(
        make_app(error_rate=error_rate, seed=seed), access_log=None, shutdown_timeout=1.0
    )
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    address = runner.addresses[0]
    return runner, int(address[1])


async def _run_until_signalled(
    port: int, error_rate: float, seed: int | None, *, until_stdin_closes: bool
) -> None:
    loop = asyncio.get_running_loop()
    stopped = asyncio.Event()

    def on_signal(signum: int) -> None:
        if stopped.is_set():  # a second Ctrl-C while shutting down: leave at once
            os._exit(128 + signum)
        stopped.set()

    # Installed before the service starts and kept until it has shut down: a signal never
    # lands as a KeyboardInterrupt in the middle of aiohttp's shutdown.
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        try:
            runner, actual = await serve(port=port, error_rate=error_rate, seed=seed)
        except OSError as exc:
            why = os.strerror(exc.errno) if exc.errno else str(exc)  # not asyncio's wording
            why = why[:1].lower() + why[1:]
            raise RunError(f"cannot listen on {LOOPBACK}:{port}: {why}") from None
        if until_stdin_closes:  # the parent that started us is gone: so is our reason to run
            loop.add_reader(sys.stdin.fileno(), _stop_at_eof, stopped)
        try:
            print(f"demo service listening on http://{LOOPBACK}:{actual}", flush=True)
            await stopped.wait()
        finally:
            if until_stdin_closes:
                loop.remove_reader(sys.stdin.fileno())
            await runner.cleanup()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def _stop_at_eof(stopped: asyncio.Event) -> None:
    try:
        data = os.read(sys.stdin.fileno(), 4096)
    except OSError:
        data = b""
    if not data:
        stopped.set()


def main_demo_service(
    *,
    port: int = 0,
    error_rate: float = 0.01,
    seed: int | None = None,
    until_stdin_closes: bool = False,
) -> int:
    """Run the demo service on 127.0.0.1 until SIGINT or SIGTERM; the exit status (0).

    Prints ``demo service listening on http://127.0.0.1:PORT`` once it accepts connections;
    ``port=0`` picks a free port. A port it cannot listen on is a RunError (exit 3). A second
    SIGINT or SIGTERM while it shuts down ends the process at once (exit 128 + the signal).
    ``until_stdin_closes``: also stop when standard input reaches its end (the parent that
    holds the pipe exited, however abruptly).
    """
    asyncio.run(_run_until_signalled(port, error_rate, seed, until_stdin_closes=until_stdin_closes))
    return 0
