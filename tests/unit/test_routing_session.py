"""The one redirect loop above the transports, driven by a real hop session that answers
from a function (as httpx's MockTransport): no socket, every hop it was asked for kept."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from sla_runner.engine.http.outcome import Outcome, Result
from sla_runner.engine.http.request import BodyScanner, HttpRequest, compile_request
from sla_runner.engine.http.session import HopSession, Reply, TransportBase
from sla_runner.spec.models import Endpoint, Target

pytestmark = pytest.mark.anyio

Answer = Callable[[HttpRequest], Reply | Result]


class ScriptedHops(HopSession):
    def __init__(self, transport: ScriptedTransport, answer: Answer) -> None:
        super().__init__(transport, 1)
        self.answer = answer
        self.hops: list[tuple[HttpRequest, float]] = []
        self.keeps: list[int | None] = []
        self.closed = False

    async def send_hop(
        self, hop: HttpRequest, deadline: float, keep: int | None = None
    ) -> Reply | Result:
        self.hops.append((hop, deadline))
        self.keeps.append(keep)
        return self.answer(hop)

    async def aclose(self) -> None:
        self.closed = True


class ScriptedTransport(TransportBase):
    def __init__(self, target: Target, answer: Answer, **options: Any) -> None:
        super().__init__(target, **options)
        self.answer = answer
        self.sessions: list[ScriptedHops] = []
        self.prepared: list[HttpRequest] = []

    def hop_session(self, connections: int) -> ScriptedHops:
        session = ScriptedHops(self, self.answer)
        self.sessions.append(session)
        return session

    def _prepare(self, requests: list[HttpRequest]) -> None:
        self.prepared += requests


TARGET = Target.model_validate({"base_url": "http://svc.test", "timeout": "2s"})


def request(path: str, **endpoint: Any) -> HttpRequest:
    return compile_request("ep", Endpoint.model_validate({"path": path, **endpoint}), TARGET)


def path_of(hop: HttpRequest) -> str:
    return hop.url.removeprefix("http://svc.test")


def by_path(replies: dict[str, Reply | Result]) -> Answer:
    return lambda hop: replies[path_of(hop)]


async def test_a_final_first_response_is_judged_after_one_hop() -> None:
    transport = ScriptedTransport(
        TARGET, by_path({"/a": (200, None, None, None), "/b": (503, None, None, None)})
    )
    session = transport.session(connections=1)
    assert await session.send(request("/a")) == Result(Outcome.OK, 200)
    assert await session.send(request("/b")) == Result(Outcome.STATUS, 503)
    assert [path_of(hop) for hop, _ in transport.sessions[0].hops] == ["/a", "/b"]


async def test_redirects_are_followed_hop_by_hop_within_the_one_deadline() -> None:
    found = BodyScanner(b"done")
    found.feed(b"all done")
    replies: dict[str, Reply | Result] = {
        "/a": (307, "/b", None, None),
        "/b": (303, "http://svc.test/c", None, None),
        "/c": (200, None, found, None),
    }
    transport = ScriptedTransport(TARGET, by_path(replies))
    result = await transport.session(connections=1).send(
        request("/a", method="POST", body="x", expect={"body_contains": "done"})
    )
    assert result == Result(Outcome.OK, 200)
    hops = transport.sessions[0].hops
    assert [(path_of(h), h.method, h.body, h.redirects) for h, _ in hops] == [
        ("/a", "POST", b"x", 0),
        ("/b", "POST", b"x", 1),  # 307 keeps the method and the body
        ("/c", "GET", None, 2),  # 303 makes it a GET without one
    ]
    assert len({deadline for _, deadline in hops}) == 1  # one timeout for the whole chain


async def test_the_final_body_verdict_and_the_first_requests_expectations_judge() -> None:
    missing = BodyScanner(b"done")
    missing.feed(b"not yet")
    transport = ScriptedTransport(
        TARGET, by_path({"/a": (302, "/b", None, None), "/b": (201, None, missing, None)})
    )
    session = transport.session(connections=1)
    assert await session.send(request("/a", expect={"body_contains": "done"})) == Result(
        Outcome.BODY_MISMATCH, 201
    )
    assert await session.send(request("/a", expect={"status": 200})) == Result(Outcome.STATUS, 201)


async def test_a_blocked_redirect_or_a_failed_hop_ends_the_request() -> None:
    replies: dict[str, Reply | Result] = {
        "/away": (302, "http://elsewhere.test/", None, None),
        "/reset": (301, "/gone", None, None),
        "/gone": Result(Outcome.RESET, detail="cut"),
    }
    transport = ScriptedTransport(TARGET, by_path(replies))
    session = transport.session(connections=1)
    assert await session.send(request("/away")) == Result(
        Outcome.REDIRECT_BLOCKED, 302, "redirect to http://elsewhere.test/"
    )
    assert await session.send(request("/reset")) == Result(Outcome.RESET, detail="cut")
    assert [path_of(h) for h, _ in transport.sessions[0].hops] == ["/away", "/reset", "/gone"]


async def test_without_follow_redirects_a_redirect_is_the_final_response() -> None:
    target = TARGET.model_copy(update={"follow_redirects": False})
    transport = ScriptedTransport(target, by_path({"/a": (302, "/b", None, None)}))
    assert await transport.session(connections=1).send(request("/a")) == Result(Outcome.OK, 302)
    assert len(transport.sessions[0].hops) == 1


async def test_http2_requests_and_their_redirects_go_to_the_http2_side_opened_once() -> None:
    replies: dict[str, Reply | Result] = {
        "/h1": (200, None, None, None),
        "/h2": (308, "/h2b", None, None),
    }
    replies["/h2b"] = (200, None, None, None)
    h2 = ScriptedTransport(TARGET, by_path(replies))
    made: list[ScriptedTransport] = []

    def http2() -> TransportBase:
        made.append(h2)
        return h2

    h1 = ScriptedTransport(TARGET, by_path(replies), http2=http2)
    h1.prepare([request("/h1")])
    quiet = h1.session(connections=1)
    assert (await quiet.send(request("/h1"))).key == "ok"
    await quiet.aclose()
    assert made == []  # no http2 endpoint, no HTTP/2 side made
    session = h1.session(connections=3)
    for _ in range(2):
        assert (await session.send(request("/h2", http2=True))).key == "ok"
        assert (await session.send(request("/h1"))).key == "ok"
    await session.aclose()
    assert made == [h2]
    assert len(h2.sessions) == 1  # opened on the first http2 request, then reused
    assert [path_of(h) for h, _ in h2.sessions[0].hops] == ["/h2", "/h2b"] * 2
    assert [path_of(h) for h, _ in h1.sessions[1].hops] == ["/h1"] * 2
    assert h1.sessions[1].closed
    assert h2.sessions[0].closed
    h1.prepare([request("/h2", http2=True), request("/h1")])
    assert [path_of(r) for r in h2.prepared] == ["/h2"]
    assert [path_of(r) for r in h1.prepared] == ["/h1", "/h1"]
