"""The shop test service itself, driven with real requests: logins, tokens, orders, counts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from tests.support.shop import LiveShop, running_shop

ACCOUNTS = [("ann", "pw-ann"), ("bob", "pw-bob")]


@pytest.fixture(scope="module")
def shop() -> Iterator[LiveShop]:
    with running_shop(ACCOUNTS) as live:
        yield live


@pytest.fixture
def client(shop: LiveShop) -> Iterator[httpx.Client]:
    shop.reset()
    with httpx.Client(base_url=shop.url, timeout=5) as c:
        yield c


def login(client: httpx.Client, user: str, password: str) -> str:
    response = client.post("/login", json={"user": user, "password": password})
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def test_login_gives_a_token_and_a_session_cookie(shop: LiveShop, client: httpx.Client) -> None:
    response = client.post("/login", json={"user": "ann", "password": "pw-ann"})
    assert response.status_code == 200
    body = response.json()
    assert (body["ok"], body["user"], len(body["access_token"]) > 10) == (True, "ann", True)
    assert response.headers["set-cookie"].startswith("sid=")
    assert client.get("/whoami").json() == {"user": "ann"}  # httpx sends the cookie back
    assert client.post("/login", json={"user": "ann", "password": "no"}).status_code == 401
    assert client.post("/login", json={"user": "eve", "password": "x"}).status_code == 401
    assert client.post("/login", content=b"not json").status_code == 400
    stats = shop.stats()
    assert stats["accounts"] == {"ann": {"logins": 1, "failed_logins": 1}}
    assert stats["paths"] == {"POST /login": 4, "GET /whoami": 1}


def test_orders_need_the_token_and_belong_to_their_account(
    shop: LiveShop, client: httpx.Client
) -> None:
    ann, bob = login(client, "ann", "pw-ann"), login(client, "bob", "pw-bob")
    created = client.post(
        "/orders", json={"sku": "B2", "qty": 2}, headers={"Authorization": f"Bearer {ann}"}
    )
    assert created.status_code == 201
    order_id = created.json()["id"]
    assert created.headers["location"] == f"/orders/{order_id}"
    mine = client.get(f"/orders/{order_id}", headers={"Authorization": f"Bearer {ann}"})
    assert mine.json() == {"id": order_id, "user": "ann", "sku": "B2", "qty": 2}
    theirs = client.get(f"/orders/{order_id}", headers={"Authorization": f"Bearer {bob}"})
    assert theirs.status_code == 404
    assert client.get("/orders/999", headers={"Authorization": f"Bearer {ann}"}).status_code == 404
    assert client.post("/orders").status_code == 401
    assert client.post("/orders", headers={"Authorization": "Bearer forged"}).status_code == 401
    assert client.get(f"/orders/{order_id}").status_code == 401
    bad_sku = client.post("/orders", json={"sku": "Z9"}, headers={"Authorization": f"Bearer {ann}"})
    assert bad_sku.status_code == 400
    stats = shop.stats()
    assert (stats["unauthorized"], stats["orders"]) == (3, 1)
    assert stats["accounts"]["ann"] == {"logins": 1, "orders": 1}
    assert stats["accounts"]["bob"] == {"logins": 1}
    assert stats["paths"]["GET /orders/{id}"] == 4
    assert stats["paths"]["POST /orders"] == 4


def test_items(shop: LiveShop, client: httpx.Client) -> None:
    listing = client.get("/items").json()
    assert listing["count"] == len(listing["items"]) == 3
    assert client.get("/items/C3").json()["name"] == "cheese"
    assert client.get("/items/nope").status_code == 404
    assert client.get("/no/such/path").status_code == 404
    assert shop.stats()["paths"] == {
        "GET /items": 1, "GET /items/{sku}": 2, "GET (unmatched)": 1,
    }  # fmt: skip


def test_requests_with_unfilled_templates_are_counted(shop: LiveShop, client: httpx.Client) -> None:
    client.get("/items/{{ sku }}")  # percent-encoded by the client: counted once decoded
    client.get("/items", params={"q": "}}"})
    client.get("/items", headers={"X-Token": "Bearer {{ token }}"})
    client.post("/login", json={"user": "{{ accounts.user }}", "password": "x"})
    client.post("/login", content=b"user={{x}}")
    client.post("/login", json={"user": "ann", "password": "pw-ann", "n": {"a": {"b": 1}}})
    client.get("/items")
    stats = shop.stats()
    assert stats["unfilled_templates"] == 5  # not the JSON whose text ends in }}}
    assert stats["unfilled_samples"] == [
        "GET /items/%7B%7B%20sku%20%7D%7D: path",
        "GET /items?q=%7D%7D: path",
        "GET /items: header X-Token",
        "POST /login: body",
        "POST /login: body",
    ]


def test_websocket_prices_answers_ping_with_pong(shop: LiveShop) -> None:
    shop.reset()
    with connect(f"{shop.ws_url}/ws/prices", open_timeout=5) as ws:
        ws.send('{"op":"ping"}')
        assert json.loads(ws.recv(timeout=5)) == {"op": "pong"}
        ws.send("hello")
        assert json.loads(ws.recv(timeout=5)) == {"op": "error"}
    stats = shop.stats()
    assert (stats["ws_messages"], stats["paths"]) == (2, {"GET /ws/prices": 1})


def test_accounts_from_a_csv_file(tmp_path: Path) -> None:
    accounts = tmp_path / "accounts.csv"
    accounts.write_text("user,password\ncat,pw-cat\n", encoding="utf-8")
    with running_shop(accounts) as live, httpx.Client(base_url=live.url, timeout=5) as c:
        assert login(c, "cat", "pw-cat")
        assert c.post("/login", json={"user": "ann", "password": "pw-ann"}).status_code == 401
