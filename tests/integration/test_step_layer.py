"""The step layer the executors call (``ScenarioLayer``), and ``before``, against the real
shop: rows dealt one per user across the run, refusals counted, segments dealt disjoint
slices, ``before``'s values given to every user, a failing ``before`` step an exit 3 that
names the step and what came back."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from sla_runner.engine.before import compile_before, run_before
from sla_runner.engine.layer import ScenarioLayer, make_dealers
from sla_runner.engine.steps import StepCompiler
from sla_runner.engine.transports import make_transport
from sla_runner.errors import EXIT_RUN_ERROR, RunError
from sla_runner.plan import Segment
from sla_runner.spec.document import LoadedDocument, load_document_text
from tests.support.shop import LiveShop, running_shop

pytestmark = pytest.mark.anyio

ACCOUNTS = [(f"user{i}", f"secret-pw-{i}") for i in range(5)]

SPEC = """\
version: 2
name: layer
sla_version: 1.0.0
target: {{base_url: "{url}", timeout: 3s, cookies: true}}
data:
  accounts: {{rows: {rows}, unique: true}}
before: [admin-login]
endpoints:
  admin-login:
    method: POST
    path: /login
    json: {{user: user0, password: "{admin_password}"}}
    extract: {{admin_token: {{json: access_token}}}}
    expect: {{status: 200}}
  login:
    method: POST
    path: /login
    json: {{user: "{{{{ accounts.user }}}}", password: "{{{{ accounts.password }}}}"}}
    extract: {{token: {{json: access_token}}}}
    expect: {{status: 200}}
  as-admin:
    path: /whoami
    headers: {{Authorization: "Bearer {{{{ admin_token }}}}"}}
  create-order:
    method: POST
    path: /orders
    headers: {{Authorization: "Bearer {{{{ token }}}}"}}
    expect: {{status: 201}}
scenarios:
  shoppers:
    load: {{stages: [{{duration: 1s, users: 1}}]}}
    data: {{accounts: user}}
    setup: [login]
    flow: [create-order, as-admin]
"""


@pytest.fixture(scope="module")
def shop() -> Iterator[LiveShop]:
    with running_shop(ACCOUNTS) as live:
        yield live


def load(shop: LiveShop, admin_password: str = ACCOUNTS[0][1]) -> LoadedDocument:
    rows = "[" + ", ".join(f"{{user: {u}, password: {p}}}" for u, p in ACCOUNTS) + "]"
    text = SPEC.format(url=shop.url, rows=rows, admin_password=admin_password)
    return load_document_text(text, "layer.yaml", env={})


async def test_each_row_goes_to_one_user_and_running_out_is_counted(shop: LiveShop) -> None:
    shop.reset()
    doc = load(shop)
    spec = doc.spec
    dealers = make_dealers(doc.tables)
    layer = ScenarioLayer(
        spec, "shoppers", dealers, shared={"admin_token": "x"}, compiler=StepCompiler(spec),
        rng=random.Random(1),
    )  # fmt: skip
    assert layer.flow is not None
    assert layer.mix is None
    transport = make_transport(spec.target)
    users = []
    for uid in range(1, len(ACCOUNTS) + 3):
        state = layer.new_user(uid)
        if state is None:
            continue
        users.append(state)
        session = transport.session(connections=1)
        try:
            assert all([(await layer.send(s, state, session)).key == "ok"
                        for s in layer.setup])  # fmt: skip
            assert layer.next_pass(state)
            done = await layer.send(layer.flow[0], state, session)
            assert (done.key, layer.reason(layer.flow[0], done)) == ("ok", "")
        finally:
            await session.aclose()
    assert len(users) == len(ACCOUNTS)
    assert (layer.refused, dealers["accounts"].refused) == (2, 2)
    assert {u.rows["accounts"]["user"] for u in users} == {u for u, _ in ACCOUNTS}
    assert all(u.variables["admin_token"] == "x" for u in users)  # before's value, each user
    stats = shop.stats()
    assert stats["accounts"] == {u: {"logins": 1, "orders": 1} for u, _ in ACCOUNTS}
    assert (stats["unauthorized"], stats["unfilled_templates"]) == (0, 0)


def test_segments_deal_disjoint_slices_of_a_table(shop: LiveShop) -> None:
    doc = load(shop)
    seen: list[list[str]] = []
    for index in (1, 2):
        layer = ScenarioLayer(doc.spec, "shoppers", make_dealers(doc.tables, Segment(index, 2)))
        users: list[str] = []
        while (state := layer.new_user(len(users))) is not None:
            users.append(state.rows["accounts"]["user"])
        assert layer.refused == 1
        seen.append(users)
    assert seen == [["user0", "user2", "user4"], ["user1", "user3"]]


async def test_before_gives_its_values_to_every_user(shop: LiveShop) -> None:
    shop.reset()
    doc = load(shop)
    transport = make_transport(doc.spec.target)
    shared = await run_before(doc.spec, compile_before(doc.spec), transport, seed=1)
    assert set(shared) == {"admin_token"}
    layer = ScenarioLayer(doc.spec, "shoppers", make_dealers(doc.tables), shared=shared)
    state = layer.new_user(1)
    assert state is not None
    assert state.variables == shared
    state.variables["admin_token"] = "own"  # a user's own dict: nobody else sees it
    other = layer.new_user(2)
    assert other is not None
    assert other.variables == shared
    stats = shop.stats()
    assert stats["accounts"] == {"user0": {"logins": 1}}


async def test_a_failing_before_step_is_exit_3_naming_the_step_and_the_answer(
    shop: LiveShop,
) -> None:
    doc = load(shop, admin_password="not-the-password")
    transport = make_transport(doc.spec.target)
    with pytest.raises(RunError) as raised:
        await run_before(doc.spec, compile_before(doc.spec), transport)
    message = str(raised.value)
    assert raised.value.exit_code == EXIT_RUN_ERROR == 3
    assert message.startswith(f"before[0] (admin-login) failed: POST {shop.url}/login answered")
    assert "status 401, expected 200" in message
    assert '"ok":false' in message.replace(" ", "")  # what came back
    assert "\n" not in message
