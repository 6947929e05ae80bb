"""Both HTTP transports against the test server: every outcome classified, counts exact."""

from __future__ import annotations

import socket
import time
import tracemalloc
import uuid
from collections import Counter
from typing import Any

import anyio
import pytest

from sla_runner.engine.http.outcome import Outcome, Result
from sla_runner.engine.http.request import HttpRequest, compile_request
from sla_runner.engine.http.session import HttpSession
from sla_runner.engine.transports import make_transport
from sla_runner.spec.models import Endpoint, Target
from tests.conftest import LiveServer

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["raw", "aiohttp", "httpx"])
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def tag() -> str:
    """A query value making a URL unique, so server-side counts belong to one test."""
    return uuid.uuid4().hex[:12]


def target_of(base_url: str, **fields: Any) -> Target:
    return Target.model_validate({"base_url": base_url, **fields})


def request_for(target: Target, path: str, **endpoint: Any) -> HttpRequest:
    return compile_request("ep", Endpoint.model_validate({"path": path, **endpoint}), target)


async def send_once(
    server: LiveServer, engine: str, path: str, *, target: dict[str, Any] | None = None, **ep: Any
) -> Result:
    spec_target = Target.model_validate({"base_url": server.url, "timeout": "3s", **(target or {})})
    session = make_transport(spec_target, engine=engine).session(connections=1)
    try:
        return await session.send(request_for(spec_target, path, **ep))
    finally:
        await session.aclose()


async def test_ok(test_server: LiveServer, engine: str) -> None:
    result = await send_once(test_server, engine, "/ok", expect={"body_contains": "brown fox"})
    assert (result.key, result.status) == ("ok", 200)


@pytest.mark.parametrize(("code", "key"), [(404, "status_404"), (503, "status_503"), (302, "ok")])
async def test_status_by_default_2xx_3xx(
    test_server: LiveServer, engine: str, code: int, key: str
) -> None:
    result = await send_once(test_server, engine, f"/status?code={code}")
    assert (result.key, result.status) == (key, code)


async def test_expected_status_list(test_server: LiveServer, engine: str) -> None:
    good = await send_once(test_server, engine, "/status?code=201", expect={"status": [200, 201]})
    bad = await send_once(test_server, engine, "/status?code=200", expect={"status": 201})
    assert (good.key, bad.key) == ("ok", "status_200")


async def test_body_mismatch(test_server: LiveServer, engine: str) -> None:
    result = await send_once(test_server, engine, "/ok", expect={"body_contains": "lazy dog"})
    assert (result.key, result.status) == ("body_mismatch", 200)


async def test_every_tenth_error_counted_exactly(test_server: LiveServer, engine: str) -> None:
    target = target_of(test_server.url)
    request = request_for(target, "/errors", query={"every": 10, "tag": tag()})
    session = make_transport(target, engine=engine).session(connections=4)
    try:
        keys = Counter([(await session.send(request)).key for _ in range(100)])
    finally:
        await session.aclose()
    assert keys == {"ok": 90, "status_500": 10}
    assert test_server.counts()[request.url.removeprefix(test_server.url)] == 100


async def test_json_body_and_headers_sent(test_server: LiveServer, engine: str) -> None:
    target = {"headers": {"X-Team": "payments", "X-Over": "target"}}
    echoed = await send_once(
        test_server, engine, "/echo", target=target, method="POST", json={"item": 42},
        expect={"body_contains": '{"item":42}'},
    )  # fmt: skip
    headers = await send_once(
        test_server, engine, "/headers", target=target, headers={"x-over": "endpoint"},
        expect={"body_contains": '"x-team": "payments", "x-over": "endpoint"'},
    )  # fmt: skip
    assert (echoed.key, headers.key) == ("ok", "ok")


async def test_credentials_in_the_url_are_basic_auth(test_server: LiveServer, engine: str) -> None:
    base = test_server.url.replace("http://", "http://user:p%40ss@")
    from_url = await send_once(
        test_server, engine, "/headers", target={"base_url": base},
        expect={"body_contains": '"authorization": "Basic dXNlcjpwQHNz"'},  # user:p@ss
    )  # fmt: skip
    explicit = await send_once(
        test_server, engine, "/headers", target={"base_url": base},
        headers={"Authorization": "Bearer spec"},
        expect={"body_contains": '"authorization": "Bearer spec"'},
    )  # fmt: skip
    assert (from_url.key, explicit.key) == ("ok", "ok")


@pytest.mark.parametrize("chunked", [False, True])
async def test_30mb_body_read_without_keeping_it(
    test_server: LiveServer, engine: str, chunked: bool
) -> None:
    path = f"/body?size=30000000&end=THE-END-{tag()}&chunked={int(chunked)}"
    needle = path.rsplit("end=", 1)[1].split("&", maxsplit=1)[0]
    tracemalloc.start()
    try:
        found = await send_once(test_server, engine, path, expect={"body_contains": needle})
        missing = await send_once(test_server, engine, path, expect={"body_contains": "NOT-THERE"})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (found.key, missing.key) == ("ok", "body_mismatch")
    assert peak < 8_000_000, f"peak {peak:,} bytes: the body was kept"


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("/reset", "reset"),
        ("/half", "reset"),
        ("/chunked-cut", "reset"),
        ("/garbage", "protocol_error"),
        ("/loop", "redirect_blocked"),
    ],
)
async def test_faults_classified(test_server: LiveServer, engine: str, path: str, key: str) -> None:
    result = await send_once(test_server, engine, path)
    assert result.key == key, result.detail
    assert result.detail


async def test_hang_times_out_within_timeout(test_server: LiveServer, engine: str) -> None:
    started = time.monotonic()
    result = await send_once(test_server, engine, "/hang", timeout="300ms")
    elapsed = time.monotonic() - started
    assert result.key == "timeout"
    assert 0.3 <= elapsed < 0.3 + 2.0


async def test_slow_response_times_out(test_server: LiveServer, engine: str) -> None:
    slow = await send_once(test_server, engine, "/delay?ms=600", timeout="200ms")
    fast = await send_once(test_server, engine, "/delay?ms=10", timeout="2s")
    assert (slow.key, fast.key) == ("timeout", "ok")


async def test_connection_refused(engine: str) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    target = target_of(f"http://127.0.0.1:{port}")
    session = make_transport(target, engine=engine).session(connections=1)
    try:
        result = await session.send(request_for(target, "/ok"))
    finally:
        await session.aclose()
    assert result.key == "connect_error", result.detail


async def test_tls_to_a_plain_port_is_a_tls_error(test_server: LiveServer, engine: str) -> None:
    target = target_of(f"https://127.0.0.1:{test_server.port}")
    session = make_transport(target, engine=engine).session(connections=1)
    try:
        result = await session.send(request_for(target, "/ok"))
    finally:
        await session.aclose()
    assert result.key == "tls_error", result.detail


@pytest.mark.parametrize(("verify", "key"), [(True, "tls_error"), (False, "ok")])
async def test_self_signed_certificate(
    test_server: LiveServer, engine: str, verify: bool, key: str
) -> None:
    target = target_of(test_server.tls_url, verify_tls=verify)
    session = make_transport(target, engine=engine).session(connections=1)
    try:
        result = await session.send(request_for(target, "/ok"))
    finally:
        await session.aclose()
    assert result.key == key, result.detail


def other_host(server: LiveServer, path: str) -> str:
    return f"http://localhost:{server.port}{path}"


async def test_redirects(test_server: LiveServer, engine: str) -> None:
    same = await send_once(test_server, engine, "/redirect", query={"to": "/ok"},
                           expect={"status": 200})  # fmt: skip
    to_self = f"{test_server.url}/ok"
    absolute = await send_once(test_server, engine, "/redirect", query={"to": to_self},
                               expect={"status": 200})  # fmt: skip
    blocked = await send_once(test_server, engine, "/redirect",
                              query={"to": other_host(test_server, "/ok")})  # fmt: skip
    allowed = await send_once(
        test_server, engine, "/redirect", query={"to": other_host(test_server, "/ok")},
        target={"allowed_hosts": ["localhost"]}, expect={"status": 200},
    )  # fmt: skip
    unfollowed = await send_once(test_server, engine, "/redirect", query={"to": "/ok"},
                                 target={"follow_redirects": False})  # fmt: skip
    assert [same.key, absolute.key, allowed.key] == ["ok", "ok", "ok"]
    assert (blocked.key, blocked.status) == ("redirect_blocked", 302)
    assert (unfollowed.key, unfollowed.status) == ("ok", 302)


async def test_credentials_not_carried_to_another_host(
    test_server: LiveServer, engine: str
) -> None:
    target = {"headers": {"Authorization": "Bearer s3cret"}, "allowed_hosts": ["localhost"]}
    expect = {"body_contains": "s3cret"}
    here = await send_once(test_server, engine, "/redirect", query={"to": "/headers"},
                           target=target, expect=expect)  # fmt: skip
    there = await send_once(test_server, engine, "/redirect",
                            query={"to": other_host(test_server, "/headers")},
                            target=target, expect=expect)  # fmt: skip
    assert (here.key, there.key) == ("ok", "body_mismatch")


async def test_303_after_post_becomes_get(test_server: LiveServer, engine: str) -> None:
    result = await send_once(test_server, engine, "/redirect", method="POST", json={"a": 1},
                             query={"to": "/echo", "code": 303},
                             expect={"body_contains": "a"})  # fmt: skip
    assert result.key == "body_mismatch"  # GET /echo has no body to echo


async def test_cancellation_propagates_and_session_survives(
    test_server: LiveServer, engine: str
) -> None:
    target = target_of(test_server.url, timeout="30s")
    session = make_transport(target, engine=engine).session(connections=1)
    returned: list[Result] = []
    started = time.monotonic()
    try:
        with anyio.move_on_after(0.2) as scope:
            returned.append(await session.send(request_for(target, "/hang")))
        after = await session.send(request_for(target, "/ok"))
    finally:
        await session.aclose()
    assert scope.cancelled_caught
    assert not returned
    assert time.monotonic() - started < 5
    assert after.key == "ok"


async def test_keep_alive_and_connection_limit(test_server: LiveServer, engine: str) -> None:
    target = target_of(test_server.url)
    before = test_server.counts()["connections"]
    reuse = make_transport(target, engine=engine).session(connections=1)
    wide = make_transport(target, engine=engine).session(connections=6)
    try:
        for _ in range(20):
            assert (await reuse.send(request_for(target, "/ok"))).key == "ok"
        slow = request_for(target, "/delay", query={"ms": 150, "tag": tag()})
        async with anyio.create_task_group() as tg:
            for _ in range(6):
                tg.start_soon(_expect_ok, wide, slow)
    finally:
        await reuse.aclose()
        await wide.aclose()
    opened = test_server.counts()["connections"] - before - 1  # this counts() call opens one
    assert opened == 1 + 6


async def test_a_timeout_costs_only_its_own_connection(
    test_server: LiveServer, engine: str
) -> None:
    """Two keep-alive connections; a request times out on one (it is closed: the response
    may still come); the next request reuses the other, nothing else is reconnected."""
    target = target_of(test_server.url)
    session = make_transport(target, engine=engine).session(connections=2)
    slow = request_for(target, "/delay", query={"ms": 400, "tag": tag()}, timeout="100ms")
    ok = request_for(target, "/delay", query={"ms": 50, "tag": tag()})
    before = test_server.counts()["connections"]
    try:
        async with anyio.create_task_group() as tg:
            for _ in range(2):
                tg.start_soon(_expect_ok, session, ok)  # both connections open, both idle
        timed_out = await session.send(slow)
        after = await session.send(ok)
    finally:
        await session.aclose()
    opened = test_server.counts()["connections"] - before - 1  # this counts() call opens one
    assert (timed_out.key, after.key) == ("timeout", "ok")
    assert opened == 2


async def _expect_ok(session: HttpSession, request: HttpRequest) -> None:
    result = await session.send(request)
    assert result.outcome is Outcome.OK, result


@pytest.mark.load
async def test_concurrent_load_accounted_exactly(test_server: LiveServer, engine: str) -> None:
    target = target_of(test_server.url)
    request = request_for(target, "/errors", query={"every": 50, "tag": tag()})
    session = make_transport(target, engine=engine).session(connections=20)
    keys: Counter[str] = Counter()

    async def worker() -> None:
        for _ in range(100):
            keys[(await session.send(request)).key] += 1

    try:
        async with anyio.create_task_group() as tg:
            for _ in range(20):
                tg.start_soon(worker)
    finally:
        await session.aclose()
    assert keys == {"ok": 1960, "status_500": 40}
    assert test_server.counts()[request.url.removeprefix(test_server.url)] == 2000


@pytest.mark.parametrize("tls", [False, True])
async def test_http2_endpoints_go_through_httpx(
    test_server: LiveServer, engine: str, tls: bool
) -> None:
    # The main ports speak HTTP/1.1 only, so this checks the routing and the clean close of
    # the lazily opened HTTP/2 client, ALPN falling back to HTTP/1.1; test_http2.py runs
    # these endpoints against the test server's real HTTP/2 port.
    base = test_server.tls_url if tls else test_server.url
    target = target_of(base, verify_tls=False)
    session = make_transport(target, engine=engine).session(connections=2)
    try:
        h2 = await session.send(request_for(target, "/ok", http2=True))
        h1 = await session.send(request_for(target, "/ok"))
    finally:
        await session.aclose()
    assert (h2.key, h1.key) == ("ok", "ok")
