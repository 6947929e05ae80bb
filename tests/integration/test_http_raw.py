"""The raw transport's edges of HTTP/1.1, against a server that answers with canned bytes.

The shared suites (test_http_transport.py, test_faults_run.py, test_engine.py) run every
engine; these cases need byte-exact responses the test server does not send.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import socket
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import pytest

from sla_runner.engine.http.outcome import Result
from sla_runner.engine.http.raw import RawSession, RawTransport
from sla_runner.engine.http.raw_wire import encode
from sla_runner.engine.http.request import USER_AGENT, compile_request
from sla_runner.engine.transports import make_transport
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


@pytest.mark.parametrize(
    ("url", "target", "host"),
    [
        ("http://h", "/", "h"),
        ("http://h?q=1", "/?q=1", "h"),
        ("http://h/x?", "/x", "h"),
        ("http://h/x??a", "/x??a", "h"),
        ("http://h/x#f?y", "/x", "h"),
        ("HTTP://H:80/x", "/x", "h"),
        ("http://h:81/%41 é", "/%41%20%C3%A9", "h:81"),
        ("http://[::1]:9/x", "/x", "[::1]:9"),
    ],
)
def test_the_request_target_and_host_are_read_as_urlsplit_reads_them(
    url: str, target: str, host: str
) -> None:
    """The origin is parsed once per ``scheme://authority`` (cached) and the path after it
    split per request: twice in a row (the cache cold, then warm) gives the same bytes."""
    for _ in range(2):
        head = encode("GET", url, (), None).data.split(b"\r\n")
        assert head[:2] == [f"GET {target} HTTP/1.1".encode(), f"Host: {host}".encode()]


def test_a_url_that_cannot_be_sent_is_named_whole() -> None:
    for _ in range(2):
        with pytest.raises(ValueError, match="'ftp://h/x'"):
            encode("GET", "ftp://h/x", (), None)
        with pytest.raises(ValueError, match="'http:///x'"):
            encode("GET", "http:///x", (), None)


@pytest.mark.parametrize("tail", [b"H", b"HTTP/1.1 200", b"HTTP/1.1 200 OK\r\nX-A: 1\r\n"])
async def test_the_start_of_an_unasked_response_is_not_reused(tail: bytes) -> None:
    """Surplus bytes that end mid status line fire no callback but on_message_begin."""
    replies = iter([b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" + tail])
    good = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    async with canned(lambda _: (next(replies, good), False)) as server:
        results = await send(server, 3)
    assert keys(results) == ["ok", "ok", "ok"]
    assert server.connections == 2


@contextmanager
def blackhole() -> Iterator[int]:
    """A loopback port whose connects hang: its accept queue (of one) is full."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port: int = listener.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            yield port


async def test_a_send_cancelled_while_connecting_frees_its_slot() -> None:
    """connections=1: A hangs connecting, B waits for the slot; A is cancelled, B goes on."""
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    with blackhole() as port:
        async with canned(lambda _: (reply, False)) as server:
            target = Target.model_validate({"base_url": server.url, "timeout": "10s"})
            hole = Endpoint.model_validate({"url": f"http://127.0.0.1:{port}/"})
            stuck = compile_request("stuck", hole, target)
            good = compile_request("good", Endpoint.model_validate({"path": "/"}), target)
            session = make_transport(target, engine="raw").session(connections=1)
            try:
                first = asyncio.create_task(session.send(stuck))
                await asyncio.sleep(0.1)
                second = asyncio.create_task(session.send(good))
                await asyncio.sleep(0.1)
                assert not second.done()  # waiting for the one slot
                first.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await first
                result = await asyncio.wait_for(second, 5)  # well before its 10 s timeout
            finally:
                await session.aclose()
    assert result.key == "ok"


class CountingSession(RawSession):
    wakes = 0

    def _wake(self) -> None:
        self.wakes += 1
        super()._wake()


async def test_waiters_for_a_slot_are_woken_once_each() -> None:
    """Four sends on one slow connection: each release wakes one waiter, no wake-up storm."""

    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while await reader.readuntil(b"\r\n\r\n"):
                await asyncio.sleep(0.1)  # the others queue for the slot meanwhile
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        writer.close()

    server = await asyncio.start_server(slow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    target = Target.model_validate({"base_url": f"http://127.0.0.1:{port}", "timeout": "5s"})
    request = compile_request("ep", Endpoint.model_validate({"path": "/"}), target)
    transport = make_transport(target, engine="raw")
    assert isinstance(transport, RawTransport)
    session = CountingSession(transport, 1)
    try:
        results = await asyncio.gather(*(session.send(request) for _ in range(4)))
    finally:
        await session.aclose()
        server.close()
        await server.wait_closed()
    assert keys(list(results)) == ["ok"] * 4
    assert session.wakes <= 2 * len(results)


async def test_a_host_without_an_idna_form_is_an_error_result() -> None:
    target = Target.model_validate({"base_url": "http://a..example:1/", "timeout": "2s"})
    request = compile_request("ep", Endpoint.model_validate({"path": "/"}), target)
    session = make_transport(target, engine="raw").session(connections=1)
    try:
        result = await session.send(request)
    finally:
        await session.aclose()
    assert result.key == "error"
    assert "idna" in result.detail


def test_an_international_host_is_sent_in_its_idna_form() -> None:
    wire = encode("GET", "http://bücher.example:8080/", (), None)
    assert wire.origin == ("http", "xn--bcher-kva.example", 8080)
    assert b"\r\nHost: xn--bcher-kva.example:8080\r\n" in wire.data


@pytest.mark.parametrize("wrapped", [True, False], ids=["zlib", "raw"])
async def test_deflate_decoded_whichever_way_it_comes_even_a_byte_at_a_time(
    wrapped: bool,
) -> None:
    text = b"the quick brown fox " * 200
    packer = zlib.compressobj(wbits=zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
    packed = packer.compress(text) + packer.flush()
    chunks = b"".join(b"1\r\n%s\r\n" % packed[i : i + 1] for i in range(len(packed)))
    reply = (
        b"HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\nTransfer-Encoding: chunked\r\n\r\n"
        + chunks
        + b"0\r\n\r\n"
    )
    async with canned(lambda _: (reply, False)) as server:
        results = await send(server, 2, expect={"body_contains": "brown fox the"})
    assert keys(results) == ["ok", "ok"]
