"""The raw transport's edges of HTTP/1.1, against a server that answers with canned bytes.

The shared suites (test_http_transport.py, test_faults_run.py, test_engine.py) run every
engine; these cases need byte-exact responses the test server does not send.
"""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from sla_runner.engine.http_raw_wire import encode
from sla_runner.engine.transport import USER_AGENT, Result, compile_request, make_transport
from sla_runner.spec.models import Endpoint, Target

pytestmark = pytest.mark.anyio

Reply = Callable[[bytes], tuple[bytes, bool]]  # request head → (response bytes, close after)


class Canned:
    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.connections = 0
        self.requests: list[bytes] = []


@asynccontextmanager
async def canned(reply: Reply) -> AsyncIterator[Canned]:
    state: list[Canned] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        state[0].connections += 1
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                state[0].requests.append(head)
                data, close = reply(head)
                writer.write(data)
                await writer.drain()
                if close:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            await writer.wait_closed()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    state.append(Canned(server.sockets[0].getsockname()[1]))
    try:
        yield state[0]
    finally:
        server.close()
        await server.wait_closed()


async def send(server: Canned, times: int = 1, **endpoint: Any) -> list[Result]:
    target = Target.model_validate({"base_url": server.url, "timeout": "2s", "engine": "raw"})
    request = compile_request("ep", Endpoint.model_validate({"path": "/", **endpoint}), target)
    session = make_transport(target).session(connections=1)
    try:
        return [await session.send(request) for _ in range(times)]
    finally:
        await session.aclose()


def keys(results: list[Result]) -> list[str]:
    return [r.key for r in results]


async def test_body_until_close() -> None:
    reply = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nno length, ends at close"
    async with canned(lambda _: (reply, True)) as server:
        results = await send(server, 2, expect={"body_contains": "ends at close"})
    assert keys(results) == ["ok", "ok"]
    assert server.connections == 2


async def test_head_has_no_body_and_keeps_the_connection() -> None:
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n"
    async with canned(lambda _: (reply, False)) as server:
        results = await send(server, 3, method="HEAD")
    assert keys(results) == ["ok", "ok", "ok"]
    assert server.connections == 1


async def test_informational_responses_ignored_and_204_reused() -> None:
    def reply(head: bytes) -> tuple[bytes, bool]:
        return b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n", False

    async with canned(reply) as server:
        results = await send(server, 3)
    assert [(r.key, r.status) for r in results] == [("ok", 204)] * 3
    assert server.connections == 1


async def test_connection_close_is_not_reused() -> None:
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
    async with canned(lambda _: (reply, True)) as server:
        results = await send(server, 3)
    assert keys(results) == ["ok", "ok", "ok"]
    assert server.connections == 3


@pytest.mark.parametrize("chunked", [False, True])
async def test_gzip_decoded_only_for_body_contains(chunked: bool) -> None:
    packed = gzip.compress(b"the quick brown fox " * 1000)
    if chunked:
        framing = b"Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n" % (len(packed), packed)
    else:
        framing = b"Content-Length: %d\r\n\r\n%s" % (len(packed), packed)
    reply = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n" + framing
    async with canned(lambda _: (reply, False)) as server:
        found = await send(server, expect={"body_contains": "brown fox the"})
        plain = await send(server)
    assert keys(found + plain) == ["ok", "ok"]
    assert b"accept-encoding" not in b"".join(server.requests).lower()


async def test_broken_gzip_is_a_protocol_error() -> None:
    reply = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 9\r\n\r\nnot gzip!"
    async with canned(lambda _: (reply, False)) as server:
        results = await send(server, expect={"body_contains": "x"})
    assert keys(results) == ["protocol_error"]


async def test_extra_bytes_after_a_response_are_not_reused() -> None:
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokSURPLUS"
    async with canned(lambda _: (reply, False)) as server:
        results = await send(server, 3)
    assert keys(results) == ["ok", "ok", "ok"]
    assert server.connections == 3


def test_request_serialised_once_with_defaults_and_overrides() -> None:
    wire = encode("POST", "http://example.test:8080/a b?q=1", (("X-A", "1"),), b"{}")
    assert wire.origin == ("http", "example.test", 8080)
    assert wire.data == (
        b"POST /a%20b?q=1 HTTP/1.1\r\nHost: example.test:8080\r\n"
        + f"User-Agent: {USER_AGENT}\r\n".encode()
        + b"Accept: */*\r\nX-A: 1\r\nContent-Length: 2\r\n\r\n{}"
    )
    own = encode("PUT", "https://h/", (("Host", "x"), ("user-agent", "me")), None)
    assert own.data == b"PUT / HTTP/1.1\r\nAccept: */*\r\nHost: x\r\nuser-agent: me\r\n" + (
        b"Content-Length: 0\r\n\r\n"
    )
    assert own.origin == ("https", "h", 443)
    with pytest.raises(ValueError, match="cannot be sent"):
        encode("GET", "http://h/", (("X-Bad", "a\r\nInjected: 1"),), None)
