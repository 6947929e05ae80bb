"""Format-2 steps for one user, sent by every engine against the real shop: templates filled,
values extracted from bodies, headers and cookies, JSON checks, nothing sent with a value
missing, the shop's own counts."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from sla_runner.engine.http.session import HttpSession
from sla_runner.engine.state import UserState, new_user, next_pass
from sla_runner.engine.steps import StepResult, compile_steps, send_step
from sla_runner.engine.transports import make_transport
from sla_runner.spec.data import Dealer, ScenarioDeal
from sla_runner.spec.document import LoadedDocument, load_document_text
from tests.support.shop import LiveShop, running_shop

pytestmark = pytest.mark.anyio

ENGINES = ["raw", "aiohttp", "httpx"]

SPEC = """\
version: 2
name: steps
sla_version: 1.0.0
target: {{base_url: "{url}", timeout: 3s, cookies: {cookies}, engine: {engine}}}
data:
  accounts: {{file: accounts.csv, unique: true}}
  skus: {{rows: [{{sku: B2}}, {{sku: C3}}]}}
endpoints:
  login:
    method: POST
    path: /login
    json: {{user: "{{{{ accounts.user }}}}", password: "{{{{ accounts.password }}}}"}}
    extract:
      token: {{json: access_token}}
      sid: {{cookie: sid}}
    expect: {{status: 200, json: {{ok: true}}}}
  create-order:
    method: POST
    path: /orders
    headers: {{Authorization: "Bearer {{{{ token }}}}"}}
    json: {{sku: "{{{{ skus.sku }}}}", qty: "{{{{ $pass }}}}"}}
    extract:
      order_id: {{header: Location, regex: "/orders/(\\\\d+)"}}
      id: {{json: id}}
    expect: {{status: 201, json: {{ok: true}}}}
  get-order:
    path: "/orders/{{{{ order_id }}}}"
    headers: {{Authorization: "Bearer {{{{ token }}}}"}}
    extract: {{owner: {{json: user}}, sku: {{json: sku}}, qty: {{json: qty}}}}
    expect: {{status: 200}}
  whoami: {{path: /whoami, expect: {{status: 200}}}}
  whoami-sid:
    path: /whoami
    headers: {{Cookie: "sid={{{{ sid }}}}"}}
    expect: {{status: 200, json: {{user: ann}}}}
  missing-header:
    method: POST
    path: /orders
    headers: {{Authorization: "Bearer {{{{ token }}}}"}}
    extract:
      nothing: {{header: Location, regex: "/carts/(\\\\d+)"}}
      id: {{json: id}}
  wrong-json: {{path: /items, expect: {{json: {{count: 4}}}}}}
scenarios:
  shoppers:
    load: {{stages: [{{duration: 1s, users: 1}}]}}
    data: {{accounts: user, skus: pass}}
    setup: [login]
    flow: [create-order, get-order, whoami, whoami-sid, missing-header, wrong-json]
"""
ACCOUNTS = [("ann", "pw ann/1"), ("bob", "pw&bob=2")]


@pytest.fixture(scope="module")
def accounts_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("steps") / "accounts.csv"
    path.write_text("user,password\n" + "".join(f"{u},{p}\n" for u, p in ACCOUNTS), "utf-8")
    return path


@pytest.fixture(scope="module")
def shop() -> Iterator[LiveShop]:
    with running_shop(ACCOUNTS) as live:
        yield live


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def load(
    shop: LiveShop, accounts_csv: Path, engine: str, *, cookies: bool = True
) -> LoadedDocument:
    text = SPEC.format(url=shop.url, cookies=str(cookies).lower(), engine=engine)
    return load_document_text(text, str(accounts_csv.parent / "steps.yaml"), env={})


class User:
    """One user of the scenario: its state, a session of the spec's engine, the steps."""

    def __init__(self, doc: LoadedDocument, state: UserState) -> None:
        spec = doc.spec
        self.state = state
        scenario = spec.scenarios["shoppers"]
        compiled = compile_steps(spec, [*scenario.setup, *(scenario.flow or [])])
        self.steps = {step.name: step for step in compiled}
        self.session: HttpSession = make_transport(spec.target).session(connections=1)

    async def send(self, name: str) -> StepResult:
        step = self.steps[name]
        return StepResult.of(step, await send_step(step, self.state, self.session))


def deal_of(doc: LoadedDocument) -> ScenarioDeal:
    dealers = {name: Dealer(table) for name, table in doc.tables.items()}
    return ScenarioDeal(dealers, doc.spec.scenarios["shoppers"].data)


def user_of(doc: LoadedDocument, deal: ScenarioDeal, uid: int = 1) -> User:
    state = new_user(uid, deal=deal, cookies=doc.spec.target.cookies, rng=random.Random(uid))
    assert state is not None
    return User(doc, state)


async def test_a_login_gives_a_token_and_a_cookie_that_later_steps_send(
    shop: LiveShop, accounts_csv: Path, engine: str
) -> None:
    shop.reset()
    doc = load(shop, accounts_csv, engine)
    deal = deal_of(doc)
    users = [user_of(doc, deal, uid) for uid in (1, 2)]
    assert new_user(3, deal=deal) is None  # a unique table ran out: no third user
    try:
        for user, (name, _) in zip(users, ACCOUNTS, strict=True):
            login = await user.send("login")
            assert (login.result.key, login.reason, login.sent) == ("ok", "", True)
            assert set(user.state.variables) == {"token", "sid"}
            for pass_number, sku in ((1, "B2"), (2, "C3")):  # a skus row and an order per pass
                assert next_pass(user.state)
                created = await user.send("create-order")
                assert created.result.key == "ok", created.reason
                variables = user.state.variables
                assert variables["id"] == int(variables["order_id"])  # JSON keeps its type
                order = await user.send("get-order")
                assert (order.result.key, order.result.status) == ("ok", 200)
                assert (variables["owner"], variables["sku"], variables["qty"]) == (
                    name, sku, pass_number,  # {{ $pass }}, alone in a JSON leaf: a number
                )  # fmt: skip
            assert (await user.send("whoami")).ok  # the jar sends the login's sid
            sid = await user.send("whoami-sid")  # the extracted sid, and a JSON check
            assert (sid.result.key, sid.reason) == (
                ("ok", "")
                if name == "ann"
                else ("json_mismatch", 'json user: expected "ann", got "bob"')
            )
    finally:
        for user in users:
            await user.session.aclose()
    stats = shop.stats()
    assert stats["accounts"] == {u: {"logins": 1, "orders": 2} for u, _ in ACCOUNTS}
    assert stats["paths"] == {
        "POST /login": 2, "POST /orders": 4, "GET /orders/{id}": 4, "GET /whoami": 4,
    }  # fmt: skip
    assert (stats["unauthorized"], stats["unfilled_templates"]) == (0, 0)


async def test_a_failed_extraction_or_check_fails_the_step_and_stores_nothing(
    shop: LiveShop, accounts_csv: Path, engine: str
) -> None:
    doc = load(shop, accounts_csv, engine)
    user = user_of(doc, deal_of(doc))
    try:
        assert (await user.send("login")).ok
        assert next_pass(user.state)
        assert (await user.send("create-order")).ok
        before = dict(user.state.variables)
        missed = await user.send("missing-header")  # 201, a Location of /orders/N
        assert (missed.result.key, missed.result.status) == ("extract_failed", 201)
        assert missed.reason == (
            r"extract nothing: regex /carts/(\d+) found nothing in the Location header"
        )
        assert user.state.variables == before  # id was found, but all or nothing
        wrong = await user.send("wrong-json")
        assert (wrong.result.key, wrong.reason) == (
            "json_mismatch",
            "json count: expected 4, got 3",
        )
    finally:
        await user.session.aclose()


async def test_a_value_not_set_sends_no_request(
    shop: LiveShop, accounts_csv: Path, engine: str
) -> None:
    shop.reset()
    doc = load(shop, accounts_csv, engine)
    user = user_of(doc, deal_of(doc))  # no login: no token, no order
    try:
        assert next_pass(user.state)
        for name, missing in (("create-order", "token"), ("get-order", "order_id")):
            outcome = await user.send(name)
            assert (outcome.result.key, outcome.sent) == ("not_sent", False)
            assert outcome.reason == f"{{{{ {missing} }}}} is used before any step set it; not sent"
    finally:
        await user.session.aclose()
    stats = shop.stats()
    assert (stats["paths"], stats["unfilled_templates"], stats["unauthorized"]) == ({}, 0, 0)


async def test_without_cookies_a_user_keeps_none(
    shop: LiveShop, accounts_csv: Path, engine: str
) -> None:
    doc = load(shop, accounts_csv, engine, cookies=False)
    user = user_of(doc, deal_of(doc))
    assert user.state.jar is None
    try:
        assert (await user.send("login")).ok  # a Set-Cookie the transport must not keep
        anonymous = await user.send("whoami")
        assert (anonymous.result.key, anonymous.reason) == (
            "status_401",
            "status 401, expected 200",
        )
        assert (await user.send("whoami-sid")).ok  # the extracted value, sent by the spec
    finally:
        await user.session.aclose()
