"""What a format-2 step keeps of its responses, on every engine, against the test server:
cookies set and sent on every hop of a redirect, the body kept up to its cap, values placed
in paths and queries encoded, headers that cannot be sent never sent."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote, urlencode

import pytest

from sla_runner.api import run_spec
from sla_runner.engine.http.request import MAX_CAPTURED_BODY
from sla_runner.engine.state import UserState, new_user
from sla_runner.engine.steps import StepResult, compile_steps, send_step
from sla_runner.engine.transports import make_transport
from sla_runner.spec.document import LoadedSpec, load_document_text
from sla_runner.spec.format2 import SpecV2
from tests.conftest import LiveServer

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["raw", "aiohttp", "httpx"])
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def spec_of(base_url: str, engine: str, endpoints: dict[str, Any], **target: Any) -> SpecV2:
    """A one-scenario spec whose flow is every endpoint, in order (JSON is YAML)."""
    spec = loaded_of(base_url, engine, endpoints, **target).spec
    assert isinstance(spec, SpecV2)
    return spec


def loaded_of(base_url: str, engine: str, endpoints: dict[str, Any], **target: Any) -> LoadedSpec:
    """:func:`spec_of`'s spec, as loaded (for a whole run)."""
    document = {
        "version": 2,
        "name": "responses",
        "sla_version": "1",
        "target": {"base_url": base_url, "engine": engine, "timeout": "5s", **target},
        "endpoints": endpoints,
        "scenarios": {
            "one": {"load": {"stages": [{"duration": "1s", "users": 1}]}, "flow": list(endpoints)}
        },
    }
    return load_document_text(json.dumps(document), "responses.yaml", env={})


class Sender:
    def __init__(self, spec: SpecV2) -> None:
        self.steps = {step.name: step for step in compile_steps(spec, list(spec.endpoints))}
        self.session = make_transport(spec.target).session(connections=1)
        state = new_user(1, cookies=spec.target.cookies, rng=random.Random(1))
        assert state is not None
        self.state: UserState = state

    async def send(self, name: str) -> StepResult:
        step = self.steps[name]
        return StepResult.of(step, await send_step(step, self.state, self.session))


@pytest.fixture
async def sender_factory() -> AsyncIterator[list[Sender]]:
    made: list[Sender] = []
    yield made
    for sender in made:
        await sender.session.aclose()


def redirect(to: str, **query: str) -> str:
    return "/redirect?" + urlencode({"to": to, **query})


async def test_cookies_are_received_and_sent_on_every_hop_of_a_redirect(
    test_server: LiveServer, engine: str, sender_factory: list[Sender]
) -> None:
    # /a sets a and leads to /b, which needs a, sets b and leads to /headers; every hop a
    # 302 after a POST (a GET from the second hop on).
    chain = redirect(redirect("/headers", cookie="b=2; Path=/", require="a"), cookie="a=1; Path=/")
    spec = spec_of(
        test_server.url, engine,
        {
            "hops": {
                "method": "POST", "path": chain, "json": {"x": 1},
                "headers": {"Cookie": "spec=0"},
                "extract": {"cookie": {"json": "cookie"}, "method": {"json": "content-type"}},
            },
            "again": {"path": "/headers", "extract": {"again": {"json": "cookie"}}},
        },
        cookies=True,
    )  # fmt: skip
    sender = Sender(spec)
    sender_factory.append(sender)
    hops = await sender.send("hops")
    assert hops.result.key == "extract_failed"  # a GET by then: no content-type is sent
    assert hops.reason == "extract method: json content-type not found"
    assert (await sender.send("again")).ok
    assert sender.state.variables == {"again": "a=1; b=2"}
    assert sender.state.jar is not None
    assert len(sender.state.jar) == 2


async def test_the_final_hop_carries_the_spec_cookie_and_the_jar_cookies(
    test_server: LiveServer, engine: str, sender_factory: list[Sender]
) -> None:
    chain = redirect(redirect("/headers", cookie="b=2", require="a"), cookie="a=1")
    spec = spec_of(
        test_server.url, engine,
        {"hops": {"path": chain, "headers": {"Cookie": "spec=0"},
                  "extract": {"cookie": {"json": "cookie"}}}},
        cookies=True,
    )  # fmt: skip
    sender = Sender(spec)
    sender_factory.append(sender)
    outcome = await sender.send("hops")
    assert outcome.ok, outcome.reason
    assert sender.state.variables == {"cookie": "spec=0; a=1; b=2"}


async def test_without_a_jar_no_hop_carries_a_cookie(
    test_server: LiveServer, engine: str, sender_factory: list[Sender]
) -> None:
    chain = redirect(redirect("/headers", require="a"), cookie="a=1")
    spec = spec_of(test_server.url, engine, {"hops": {"path": chain}})
    sender = Sender(spec)
    sender_factory.append(sender)
    outcome = await sender.send("hops")
    assert (outcome.result.key, outcome.reason) == ("status_400", "status 400, expected 2xx or 3xx")


@pytest.mark.parametrize(
    ("size", "key"), [(MAX_CAPTURED_BODY, "ok"), (MAX_CAPTURED_BODY + 1, "extract_failed")]
)
async def test_a_body_is_kept_up_to_its_cap(
    test_server: LiveServer, engine: str, sender_factory: list[Sender], size: int, key: str
) -> None:
    end = f"END-{uuid.uuid4().hex[:8]}"
    spec = spec_of(
        test_server.url, engine,
        {"big": {"path": f"/body?size={size}&end={end}&chunked=1",
                 "extract": {"tail": {"regex": "END-[0-9a-f]+$"}}}},
    )  # fmt: skip
    sender = Sender(spec)
    sender_factory.append(sender)
    outcome = await sender.send("big")
    assert (outcome.result.key, outcome.result.status) == (key, 200)
    if key == "ok":
        assert sender.state.variables == {"tail": end}
    else:
        assert outcome.reason == "the body is over 1024 KiB, the most kept to read values from"
        assert outcome.response is not None
        assert outcome.response.truncated
        assert len(outcome.response.body) == MAX_CAPTURED_BODY


async def test_filled_values_are_encoded_where_they_are_placed(
    test_server: LiveServer, engine: str, sender_factory: list[Sender]
) -> None:
    value = "a b/c?d&e=f#g%h"
    spec = spec_of(
        test_server.url, engine,
        {
            "give": {"method": "POST", "path": "/echo", "body": json.dumps({"v": value}),
                     "headers": {"Content-Type": "application/json"},
                     "extract": {"v": {"json": "v"}}},
            "path": {"path": "/status/{{ v }}", "expect": {"status": 404}},
            "query": {"path": "/errors", "query": {"every": "1000", "tag": "{{ v }}!", "n": 2},
                      "expect": {"status": 200}},
        },
    )  # fmt: skip
    sender = Sender(spec)
    sender_factory.append(sender)
    for name in ("give", "path", "query"):
        outcome = await sender.send(name)
        assert outcome.ok, (name, outcome.reason)
    counts = test_server.counts()
    assert counts[f"/status/{quote(value, safe='')}"] >= 1  # one path segment
    assert counts["/errors?" + urlencode({"every": "1000", "tag": value + "!", "n": 2})] >= 1


async def test_a_header_a_value_would_break_is_not_sent(
    test_server: LiveServer, engine: str, sender_factory: list[Sender]
) -> None:
    tag = uuid.uuid4().hex[:8]
    spec = spec_of(
        test_server.url, engine,
        {
            "give": {"method": "POST", "path": "/echo", "body": "alpha one\nbeta two",
                     "extract": {"text": {"regex": "(?s).+"}}},
            "use": {"path": f"/ok?tag={tag}", "headers": {"X-Text": "<{{ text }}>"}},
        },
    )  # fmt: skip
    sender = Sender(spec)
    sender_factory.append(sender)
    assert (await sender.send("give")).ok
    outcome = await sender.send("use")
    assert (outcome.result.key, outcome.sent) == ("not_sent", False)
    assert outcome.reason == "header X-Text: a filled value holds a line break or NUL; not sent"
    assert "alpha" not in outcome.reason + outcome.result.detail
    assert test_server.counts().get(f"/ok?tag={tag}", 0) == 0


def test_a_run_s_step_that_cannot_be_filled_ends_its_pass_unsent(test_server: LiveServer) -> None:
    """The executors' own path (not ``send_step``): a step whose filled header would break
    fails ``not_sent`` in every pass, nothing of it reaches the server, the pass ends there
    and the step before it is counted as the server counted it."""
    tag = uuid.uuid4().hex[:8]
    loaded = loaded_of(
        test_server.url, "raw",
        {
            "give": {"method": "POST", "path": f"/echo?tag={tag}", "body": "alpha\nbeta",
                     "extract": {"text": {"regex": "(?s).+"}}},
            "use": {"path": f"/ok?tag={tag}", "headers": {"X-Text": "<{{ text }}>"}},
        },
    )  # fmt: skip
    verdict = run_spec(loaded, handle_signals=False)
    flow = verdict.metrics["flow.one"]
    assert flow.count > 0
    assert flow.errors == {"use:not_sent": flow.count}  # every pass ended there
    assert "http.use" not in verdict.metrics or verdict.metrics["http.use"].count == 0
    assert test_server.counts().get(f"/ok?tag={tag}", 0) == 0
    assert verdict.metrics["http.give"].count == test_server.counts()[f"/echo?tag={tag}"]
