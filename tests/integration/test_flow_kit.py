"""Format 2's runtime pieces together, against the shop: rows dealt from a data file, templates
filled from them and from extracted values, a cookie jar per user, and the shop's own counts.

No engine here (a later phase wires these into it): a plain HTTP client plays each user.
"""

from __future__ import annotations

import http.client
import json
import random
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from sla_runner.engine.cookies import CookieJar
from sla_runner.engine.extract import Extraction, Failure, Response
from sla_runner.spec.data import Dealer, ScenarioDeal, load_table
from sla_runner.spec.templates import RenderState, parse_json_template, parse_template
from tests.support.shop import LiveShop, running_shop

USERS = 4


@pytest.fixture(scope="module")
def accounts_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "accounts.csv"
    rows = "".join(f'user-{i},"p,w ""{i}"""\n' for i in range(USERS))
    path.write_text("user,password\n" + rows, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def shop(accounts_csv: Path) -> Iterator[LiveShop]:
    with running_shop(accounts_csv) as live:
        yield live


class User:
    """One virtual user: its template state, cookie jar and connection to the shop."""

    def __init__(self, shop: LiveShop, number: int) -> None:
        self.base = shop.url
        self.state = RenderState(number, random.Random(number), lambda: 1_700_000_000_000)
        self.jar = CookieJar()
        self.connection = http.client.HTTPConnection("127.0.0.1", shop.port, timeout=5)

    def step(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
        extraction: Extraction | None = None,
    ) -> tuple[int, Any, Failure | None]:
        url = self.base + parse_template(path).render(self.state, quote=True)
        sent = {k: parse_template(v).render(self.state) for k, v in (headers or {}).items()}
        payload = None
        if body is not None:
            payload = parse_json_template(body).render_bytes(self.state)
            sent["Content-Type"] = "application/json"
        if (cookie := self.jar.header(url)) is not None:
            sent["Cookie"] = cookie
        self.connection.request(method, url.removeprefix(self.base), payload, sent)
        answer = self.connection.getresponse()
        raw = answer.read()
        self.jar.receive(url, answer.headers.get_all("Set-Cookie") or [])
        failed = None
        if extraction is not None:
            got = Response(answer.status, list(answer.headers.items()), raw)
            failed = extraction.apply(got, self.state.variables)
        return answer.status, json.loads(raw), failed


@pytest.fixture
def new_user(shop: LiveShop) -> Iterator[Callable[[int], User]]:
    made: list[User] = []

    def make(number: int) -> User:
        made.append(User(shop, number))
        return made[-1]

    yield make
    for user in made:
        user.connection.close()


LOGIN_BODY = {"user": "{{ accounts.user }}", "password": "{{ accounts.password }}"}
LOGIN = Extraction({"token": {"json": "access_token"}, "sid": {"cookie": "sid"}}, {"ok": True})
ORDER = Extraction(
    {"order_id": {"header": "Location", "regex": r"/orders/(\d+)"}, "id": {"json": "id"}}
)


def test_a_flow_of_templates_extractions_rows_and_cookies(
    shop: LiveShop, accounts_csv: Path, new_user: Callable[[int], User]
) -> None:
    shop.reset()
    accounts = load_table(
        "accounts", file=accounts_csv.name, base_dir=accounts_csv.parent, unique=True
    )
    skus = load_table("skus", rows=[{"sku": "B2"}, {"sku": "C3"}])
    deal = ScenarioDeal(
        {"accounts": Dealer(accounts), "skus": Dealer(skus)}, {"accounts": "user", "skus": "pass"}
    )
    users = [new_user(n) for n in range(1, USERS + 2)]
    started = [u for u in users if deal.deal_user(u.state.rows)]
    assert len(started) == USERS  # one account per user; the last user got none
    for user in started:
        status, _, failed = user.step("POST", "/login", body=LOGIN_BODY, extraction=LOGIN)
        assert (status, failed) == (200, None)
        for _ in range(2):  # two passes, each with the next sku
            assert deal.deal_pass(user.state.rows)
            user.state.pass_number += 1
            status, body, failed = user.step(
                "POST", "/orders", headers={"Authorization": "Bearer {{ token }}"},
                body={"sku": "{{ skus.sku }}", "qty": "{{ $user }}"}, extraction=ORDER,
            )  # fmt: skip
            assert (status, failed) == (201, None)
            assert user.state.variables["id"] == int(user.state.variables["order_id"]) == body["id"]
            status, order, _ = user.step(
                "GET", "/orders/{{ order_id }}", headers={"Authorization": "Bearer {{ token }}"}
            )
            assert status == 200
            assert order["user"] == user.state.rows["accounts"]["user"]
            assert (order["sku"], order["qty"]) == (user.state.rows["skus"]["sku"], user.state.user)
        assert user.step("GET", "/whoami")[:2] == (200, {"user": order["user"]})  # via the jar
    stats = shop.stats()
    assert stats["accounts"] == {
        f"user-{i}": {"logins": 1, "orders": 2} for i in range(USERS)
    }  # every account row used by exactly one user
    assert (stats["unauthorized"], stats["unfilled_templates"]) == (0, 0)
    assert stats["paths"] == {
        "POST /login": USERS, "POST /orders": 2 * USERS, "GET /orders/{id}": 2 * USERS,
        "GET /whoami": USERS,
    }  # fmt: skip


def test_a_failed_login_check_is_a_json_mismatch(new_user: Callable[[int], User]) -> None:
    user = new_user(1)
    user.state.rows["accounts"] = {"user": "user-0", "password": "wrong"}
    status, _, failed = user.step("POST", "/login", body=LOGIN_BODY, extraction=LOGIN)
    assert (status, failed) == (401, Failure("json_mismatch", "json ok: expected true, got false"))
    assert "token" not in user.state.variables
