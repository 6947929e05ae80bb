"""The shop: a real service for format 2's end-to-end tests, counting everything server-side.

Run in its own process (``python -m tests.support.shop --account ann:pw-ann ...`` or
``--accounts FILE``, a CSV with ``user,password`` columns or a JSON list of ``{user,
password}`` objects); it prints ``listening PORT`` and exits when its stdin closes. From a
test, :func:`running_shop` starts it and gives a :class:`LiveShop`.

HTTP (JSON bodies):

- ``POST /login`` ``{"user", "password"}``: 200 ``{"access_token", "ok": true, "user"}``
  and a host-only ``sid`` cookie (``Path=/; HttpOnly``); wrong credentials: 401
  ``{"ok": false}``; a body that is not such JSON: 400.
- ``GET /items``: ``{"items": [...], "count"}``; ``GET /items/{sku}``: the item, or 404.
- ``POST /orders`` (``Authorization: Bearer TOKEN``; optional body ``{"sku", "qty"}``, an
  unknown sku is 400): 201, ``Location: /orders/<id>``, ``{"id", "ok": true}``.
- ``GET /orders/{id}`` (bearer token): the order; 404 unless the caller's account made it.
- ``GET /whoami`` (the ``sid`` cookie): ``{"user"}``.
- A missing or unknown token or session is 401, counted as ``unauthorized``.
- Cookie test routes: ``GET /cookies/set?c=SET-COOKIE&c=...`` answers with each ``c`` as
  a ``Set-Cookie`` header; ``GET /cookies/echo...`` (any path that starts so) returns
  ``{"cookie": the Cookie header or null, "host"}``.
- ``GET /stats``: the counts (not counted itself): ``paths`` (``"METHOD /route/{param}"``,
  by route; a path no route serves is ``"METHOD (unmatched)"``), ``accounts`` (per user:
  ``logins``, ``failed_logins``, ``orders``), ``unauthorized``, ``orders``, ``ws_messages``,
  ``unfilled_templates`` (requests with ``{{`` or ``}}`` in the path or query, raw or
  percent-decoded, in a header name or value, or in the body: in a JSON body's strings
  and keys, since ``}}`` is ordinary in JSON text such as ``{"a":{"b":1}}``; in any other
  body's text) with the first ``unfilled_samples``. ``DELETE /stats`` zeroes the counts.

WebSocket ``/ws/prices``: ``{"op":"ping"}`` is answered ``{"op":"pong"}``, anything else
``{"op":"error"}``; each message counts in ``ws_messages``.

WebSocket ``/ws/feed?token=TOKEN`` (a login's token; else 401 before the upgrade, counted as
``unauthorized``): counted per account as ``ws_connects``, and ``ws_wrong_header`` unless
the ``X-Account`` header names the token's account. Each message (counted in
``ws_messages``) is answered ``{"op":"pong"}`` when it is ``{"user": the account, "at":
a number not below the connection's last, "id": a text this account never sent}``
(counted per account as ``ws_pings``), else ``{"op":"error"}`` (``ws_wrong``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import secrets
import sys
import urllib.request
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from aiohttp import WSMsgType, web

ITEMS = (
    {"sku": "A1", "name": "apple", "price": 3.5},
    {"sku": "B2", "name": "bread", "price": 2},
    {"sku": "C3", "name": "cheese", "price": 7.25},
)
SAMPLES = 10
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Shop:
    accounts: dict[str, str]
    tokens: dict[str, str] = field(default_factory=dict)  # token -> user
    sessions: dict[str, str] = field(default_factory=dict)  # sid -> user
    orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    paths: Counter[str] = field(default_factory=Counter)
    per_account: dict[str, Counter[str]] = field(default_factory=dict)
    totals: Counter[str] = field(default_factory=Counter)
    samples: list[str] = field(default_factory=list)
    ws_ids: dict[str, set[str]] = field(default_factory=dict)  # account -> ids it sent

    def stats(self) -> dict[str, Any]:
        return {
            "paths": dict(self.paths),
            "accounts": {user: dict(c) for user, c in self.per_account.items()},
            "unauthorized": self.totals["unauthorized"],
            "orders": self.totals["orders"],
            "ws_messages": self.totals["ws_messages"],
            "unfilled_templates": self.totals["unfilled_templates"],
            "unfilled_samples": list(self.samples),
        }

    def reset(self) -> None:
        self.paths.clear()
        self.per_account.clear()
        self.totals.clear()
        self.samples.clear()
        self.ws_ids.clear()

    def count(self, user: str, what: str) -> None:
        self.per_account.setdefault(user, Counter())[what] += 1

    def unauthorized(self, why: str) -> web.Response:
        self.totals["unauthorized"] += 1
        return web.json_response({"ok": False, "error": why}, status=401)

    def bearer(self, request: web.Request) -> str | None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        return self.tokens.get(token) if scheme.lower() == "bearer" else None

    @web.middleware
    async def counting(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path == "/stats":
            return await handler(request)
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "(unmatched)"
        self.paths[f"{request.method} {route}"] += 1
        unfilled = unfilled_template(request, await request.read())
        if unfilled is not None:
            self.totals["unfilled_templates"] += 1
            if len(self.samples) < SAMPLES:
                self.samples.append(f"{request.method} {request.raw_path}: {unfilled}")
        return await handler(request)

    async def login(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
            user, password = body["user"], body["password"]
        except (ValueError, TypeError, KeyError):
            return web.json_response(
                {"ok": False, "error": "expected {user, password}"}, status=400
            )
        if self.accounts.get(user) != password:
            if user in self.accounts:
                self.count(user, "failed_logins")
            return web.json_response({"ok": False, "error": "bad credentials"}, status=401)
        self.count(user, "logins")
        token, sid = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        self.tokens[token], self.sessions[sid] = user, user
        response = web.json_response({"access_token": token, "ok": True, "user": user})
        response.headers["Set-Cookie"] = f"sid={sid}; Path=/; HttpOnly"
        return response

    async def items(self, request: web.Request) -> web.Response:
        return web.json_response({"items": ITEMS, "count": len(ITEMS)})

    async def item(self, request: web.Request) -> web.Response:
        sku = request.match_info["sku"]
        found = next((i for i in ITEMS if i["sku"] == sku), None)
        if found is None:
            return web.json_response({"ok": False, "error": "no such item"}, status=404)
        return web.json_response(found)

    async def create_order(self, request: web.Request) -> web.Response:
        user = self.bearer(request)
        if user is None:
            return self.unauthorized("a valid bearer token is required")
        body: Any = {}
        if raw := await request.read():  # read once already, by the counting middleware
            try:
                body = json.loads(raw)
            except ValueError:
                return web.json_response({"ok": False, "error": "not JSON"}, status=400)
        sku = body.get("sku", "A1") if isinstance(body, dict) else None
        if sku not in {i["sku"] for i in ITEMS}:
            return web.json_response({"ok": False, "error": "unknown sku"}, status=400)
        order_id = len(self.orders) + 1
        self.orders[order_id] = {
            "id": order_id,
            "user": user,
            "sku": sku,
            "qty": body.get("qty", 1),
        }
        self.count(user, "orders")
        self.totals["orders"] += 1
        return web.json_response(
            {"id": order_id, "ok": True}, status=201, headers={"Location": f"/orders/{order_id}"}
        )

    async def get_order(self, request: web.Request) -> web.Response:
        user = self.bearer(request)
        if user is None:
            return self.unauthorized("a valid bearer token is required")
        given = request.match_info["id"]
        order = self.orders.get(int(given)) if given.isdigit() else None
        if order is None or order["user"] != user:
            return web.json_response({"ok": False, "error": "no such order"}, status=404)
        return web.json_response(order)

    async def whoami(self, request: web.Request) -> web.Response:
        user = self.sessions.get(request.cookies.get("sid", ""))
        if user is None:
            return self.unauthorized("a valid sid cookie is required")
        return web.json_response({"user": user})

    async def set_cookies(self, request: web.Request) -> web.Response:
        response = web.json_response({"ok": True})
        for value in request.query.getall("c", []):
            response.headers.add("Set-Cookie", value)
        return response

    async def echo_cookies(self, request: web.Request) -> web.Response:
        cookie = request.headers.get("Cookie")
        return web.json_response({"cookie": cookie, "host": request.headers.get("Host")})

    async def prices(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for message in ws:
            if message.type != WSMsgType.TEXT:
                continue
            self.totals["ws_messages"] += 1
            try:
                ping = json.loads(message.data) == {"op": "ping"}
            except ValueError:
                ping = False
            await ws.send_str('{"op":"pong"}' if ping else '{"op":"error"}')
        return ws

    async def feed(self, request: web.Request) -> web.StreamResponse:
        user = self.tokens.get(request.query.get("token", ""))
        if user is None:
            return self.unauthorized("no valid token on the connect")
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.count(user, "ws_connects")
        if request.headers.get("X-Account") != user:
            self.count(user, "ws_wrong_header")
        ids, last = self.ws_ids.setdefault(user, set()), 0
        async for message in ws:
            if message.type != WSMsgType.TEXT:
                continue
            self.totals["ws_messages"] += 1
            try:
                data = json.loads(message.data)
            except ValueError:
                data = None
            at = data.get("at") if isinstance(data, dict) else None
            sent_id = data.get("id") if isinstance(data, dict) else None
            ok = (
                isinstance(data, dict)
                and data.get("user") == user
                and isinstance(at, int)
                and at >= last
                and isinstance(sent_id, str)
                and sent_id not in ids
            )
            if ok:
                assert isinstance(at, int)
                assert isinstance(sent_id, str)
                last = at
                ids.add(sent_id)
            self.count(user, "ws_pings" if ok else "ws_wrong")
            await ws.send_str('{"op":"pong"}' if ok else '{"op":"error"}')
        return ws

    async def get_stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.stats())

    async def reset_stats(self, request: web.Request) -> web.Response:
        self.reset()
        return web.json_response({"ok": True})


def unfilled_template(request: web.Request, body: bytes) -> str | None:
    """Where the request carries ``{{`` or ``}}`` (see the module), or ``None``."""
    for text in (request.raw_path, unquote(request.raw_path)):
        if _braces(text):
            return "path"
    for key, value in request.headers.items():
        if _braces(key) or _braces(value):
            return f"header {key}"
    text = body.decode("utf-8", "replace")
    try:
        document = json.loads(text) if body else None
    except ValueError:
        return "body" if _braces(text) else None
    return "body" if any(_braces(s) for s in _strings(document)) else None


def _braces(text: str) -> bool:
    return "{{" in text or "}}" in text


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def make_app(shop: Shop) -> web.Application:
    app = web.Application(middlewares=[shop.counting])
    app.router.add_post("/login", shop.login)
    app.router.add_get("/items", shop.items)
    app.router.add_get("/items/{sku}", shop.item)
    app.router.add_post("/orders", shop.create_order)
    app.router.add_get("/orders/{id}", shop.get_order)
    app.router.add_get("/whoami", shop.whoami)
    app.router.add_get("/cookies/set", shop.set_cookies)
    app.router.add_get("/cookies/echo{tail:.*}", shop.echo_cookies)
    app.router.add_get("/ws/prices", shop.prices)
    app.router.add_get("/ws/feed", shop.feed)
    app.router.add_get("/stats", shop.get_stats)
    app.router.add_delete("/stats", shop.reset_stats)
    return app


def read_accounts(path: Path) -> dict[str, str]:
    """``user → password`` from a CSV (``user,password`` header) or a JSON list of objects."""
    if path.suffix.lower() == ".json":
        rows = json.loads(path.read_text(encoding="utf-8"))
    else:
        with path.open(encoding="utf-8-sig", newline="") as f:
            rows = list(csv.DictReader(f))
    return {str(row["user"]): str(row["password"]) for row in rows}


async def serve(port: int, accounts: dict[str, str]) -> None:
    runner = web.AppRunner(make_app(Shop(accounts)), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    print("listening", runner.addresses[0][1], flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.support.shop")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--accounts", type=Path, help="CSV (user,password) or JSON list")
    parser.add_argument("--account", action="append", default=[], help="USER:PASSWORD")
    args = parser.parse_args()
    accounts = read_accounts(args.accounts) if args.accounts else {}
    accounts.update(pair.split(":", 1) for pair in args.account)
    try:
        import uvloop  # noqa: PLC0415

        uvloop.run(serve(args.port, accounts))
    except ImportError:
        asyncio.run(serve(args.port, accounts))


@dataclass(frozen=True)
class LiveShop:
    """A running shop: its address and its server-side counts."""

    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.url}/stats", timeout=5) as response:
            stats: dict[str, Any] = json.load(response)
        return stats

    def reset(self) -> None:
        request = urllib.request.Request(f"{self.url}/stats", method="DELETE")
        with urllib.request.urlopen(request, timeout=5):
            pass


@contextlib.contextmanager
def running_shop(accounts: Sequence[tuple[str, str]] | Path) -> Iterator[LiveShop]:
    """Start a shop in its own process with ``accounts`` (pairs, or a CSV/JSON file) and
    stop it on exit. In a test module::

        @pytest.fixture(scope="module")
        def shop() -> Iterator[LiveShop]:
            with running_shop([("ann", "pw-ann")]) as live:
                yield live
    """
    from tests.conftest import ChildProcess  # noqa: PLC0415  (pytest imports conftest first)

    argv = ["-m", "tests.support.shop"]
    if isinstance(accounts, Path):
        argv += ["--accounts", str(accounts)]
    else:
        argv += [f"--account={user}:{password}" for user, password in accounts]
    child = ChildProcess(argv)
    try:
        word, port = child.first_line.split()
        assert word == "listening", child.first_line
        yield LiveShop(int(port))
    finally:
        child.stop()


if __name__ == "__main__":
    main()
