"""A purpose-built test server: deterministic behaviours and faults, by path.

It speaks HTTP/1.1 and WebSocket itself over raw asyncio streams, so a test can ask for
exactly the bytes a broken server sends (a reset, a body cut short, invalid HTTP, an
invalid frame). It runs in its own process (``python -m tests.support.servers``), so its
CPU does not share a GIL with the generator under test; it prints ``listening PORT
[TLS_PORT H2_PORT]`` and exits when its stdin closes.

With a certificate it has two more ports. TLS_PORT speaks HTTP/1.1 over TLS. H2_PORT
offers ``h2`` (then ``http/1.1``) by ALPN: a connection that negotiates ``h2`` is served
by a small HTTP/2 server (:class:`H2Handler`, sans-IO on the ``h2`` package), any other
by the HTTP/1.1 app. Over HTTP/2 the plain paths behave as over HTTP/1.1 (``/ok``,
``/delay``, ``/status``, ``/errors``, ``/echo``, ``/headers``, ``/redirect``, ``/loop``,
``/body``), ``/hang`` never answers (until the client resets the stream), and the
byte-level faults are not served (404).

HTTP paths: ``/ok``, ``/delay?ms=N``, ``/status?code=N``, ``/errors?every=K`` (every K-th
request to that exact URL is a 500), ``/body?size=N&end=TEXT`` (N bytes ending in TEXT;
``chunked=1`` for chunked encoding), ``/echo`` (the request body back), ``/headers`` (the
request headers as JSON), ``/redirect?to=URL&code=302`` (``cookie=SET-COOKIE`` sets a cookie
on the way; ``require=NAME``: a 400 unless the request carries cookie NAME), ``/loop``
(redirects to itself),
``/count`` (JSON: requests served per exact URL over any protocol, and again per
protocol as ``http/1.1:<url>`` and ``h2:<url>``; ``connections`` accepted on any port, of
which ``h2_connections`` negotiated HTTP/2; ``h2_resets``: streams the client reset; each
``/count`` request opens a connection itself and is not counted),
``/h2-streams?max=N`` (the MAX_CONCURRENT_STREAMS each new HTTP/2 connection offers, 100
unless set; answers the previous value), and faults:
``/reset`` (RST), ``/half`` (Content-Length larger than the body sent), ``/hang`` (never
answers), ``/garbage`` (not HTTP), ``/chunked-cut`` (chunked body cut short).

WebSocket paths: ``/ws/echo``, ``/ws/close-after?n=N`` (echoes N messages, closes on the
next one without replying), ``/ws/silent``, ``/ws/garbage`` (answers with an invalid
frame), ``/ws/bad-utf8`` (answers with invalid UTF-8 in a text frame), ``/ws/noise?n=K``
(K unrelated messages before each echo), ``/ws/late?base=B&at=K&ms=N`` (each echo after B
ms, the K-th after N ms, in order), ``/ws/refuse?code=403&after=0`` (``code`` to the
upgrade, once ``after`` upgrades of that exact URL were accepted and echoed). Messages
received are counted under ``ws:<url>``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import json
import socket
import ssl
import struct
import sys
from collections import Counter
from urllib.parse import parse_qs, urlsplit

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
REASONS = {200: "OK", 201: "Created", 302: "Found", 403: "Forbidden", 404: "Not Found"}
CHUNK = 1 << 20

Reply = tuple[int, bytes, tuple[tuple[str, str], ...]]
"""A whole response: status, body and extra headers (Content-Length is added)."""


class Request:
    __slots__ = ("body", "headers", "method", "path", "query", "target")

    def __init__(self, method: str, target: str, headers: dict[str, str], body: bytes) -> None:
        self.method, self.target, self.headers, self.body = method, target, headers, body
        parts = urlsplit(target)
        self.path = parts.path
        self.query = {k: v[0] for k, v in parse_qs(parts.query).items()}


class TestServer:
    __test__ = False  # not a pytest class

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.writers: set[asyncio.StreamWriter] = set()
        self.h2_max_streams = 100  # h2's default

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.add(writer)
        self.counts["connections"] += 1
        try:
            first = b"" if writer.get_extra_info("sslcontext") else await reader.read(1)
            if first == b"\x16":  # a TLS client hello on the plain port: answer in plain HTTP
                respond(writer, 400, b"this port speaks plain HTTP\n")
                return
            while await self._one(reader, writer, first):
                first = b""
        except (
            ConnectionError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            ssl.SSLError,
        ):
            pass
        finally:
            self.writers.discard(writer)
            writer.close()
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                await writer.wait_closed()

    async def handle_h2_port(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """A connection to the HTTP/2 port: HTTP/2 when ALPN chose ``h2``, else HTTP/1.1."""
        tls = writer.get_extra_info("ssl_object")
        if isinstance(tls, ssl.SSLObject) and tls.selected_alpn_protocol() == "h2":
            await H2Handler(self, reader, writer).serve()
        else:
            await self.handle(reader, writer)

    async def _one(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, first: bytes
    ) -> bool:
        try:
            head = first + await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return False
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            if line:
                key, _, value = line.partition(":")
                headers[key.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        body = await reader.readexactly(length) if length else b""
        req = Request(method, target, headers, body)
        self.count(req, "http/1.1")
        if headers.get("upgrade", "").lower() == "websocket":
            await self._websocket(req, reader, writer)
            return False
        keep = await self._http(req, reader, writer)
        return keep and headers.get("connection", "").lower() != "close"

    def count(self, req: Request, protocol: str) -> None:
        """One request served: under its URL (any protocol) and under ``<protocol>:<url>``."""
        if req.path != "/count":
            self.counts[req.target] += 1
            self.counts[f"{protocol}:{req.target}"] += 1

    async def answer(self, req: Request) -> Reply | None:
        """The response to a plain path, the same over HTTP/1.1 and HTTP/2; ``None`` for the
        paths each protocol serves its own way (faults, large bodies) and unknown paths."""
        q, path = req.query, req.path
        if path == "/ok":
            return 200, b"ok: the quick brown fox\n", ()
        if path == "/delay":
            await asyncio.sleep(int(q.get("ms", "0")) / 1000)
            return 200, b"delayed\n", ()
        if path == "/status":
            code = int(q.get("code", "200"))
            return code, f"status {code}\n".encode(), ()
        if path == "/errors":
            failed = self.counts[req.target] % int(q.get("every", "10")) == 0
            return (500, b"error\n", ()) if failed else (200, b"fine\n", ())
        if path == "/echo":
            kind = req.headers.get("content-type", "application/octet-stream")
            return 200, req.body, (("Content-Type", kind),)
        if path == "/headers":
            return 200, json.dumps(req.headers).encode(), (("Content-Type", "application/json"),)
        if path in ("/redirect", "/loop"):
            to = q.get("to", "/ok") if path == "/redirect" else "/loop"
            sent = [c.split("=", 1)[0].strip() for c in req.headers.get("cookie", "").split(";")]
            if "require" in q and q["require"] not in sent:
                return 400, f"no cookie {q['require']}\n".encode(), ()
            extra = (("Set-Cookie", q["cookie"]),) if "cookie" in q else ()
            return int(q.get("code", "302")), b"", (("Location", to), *extra)
        if path == "/count":
            return 200, json.dumps(dict(self.counts)).encode(), ()
        if path == "/h2-streams":
            previous, self.h2_max_streams = self.h2_max_streams, int(q["max"])
            return 200, str(previous).encode(), ()
        return None

    async def _http(
        self, req: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        q, path = req.query, req.path
        reply = await self.answer(req)
        if reply is not None:
            respond(writer, *reply)
        elif path == "/body":
            await send_body(
                writer, int(q.get("size", "0")), q.get("end", "").encode(), "chunked" in q
            )
        elif path == "/reset":
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            return False
        elif path == "/half":
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"h" * 100)
            await writer.drain()
            return False
        elif path == "/hang":
            await reader.read()  # until the client gives up
            return False
        elif path == "/garbage":
            writer.write(b"THIS IS NOT HTTP\r\n\x00\xff\xfe garbage \x01\r\n\r\n")
            await writer.drain()
            return False
        elif path == "/chunked-cut":
            writer.write(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123456789abcdef\r\n"
            )
            await writer.drain()
            return False
        else:
            respond(writer, 404, b"no such path\n")
        await writer.drain()
        return True

    async def _websocket(
        self, req: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        refuse = not req.path.startswith("/ws/")
        if req.path == "/ws/refuse":  # after the first `after` upgrades of this URL (echoed)
            refuse = self.counts[req.target] > int(req.query.get("after", "0"))
        if refuse:
            code = int(req.query.get("code", "403"))
            respond(writer, code, b"upgrade refused\n", (("Connection", "close"),))
            await writer.drain()
            return
        key = req.headers.get("sec-websocket-key", "").encode()
        accept = base64.b64encode(hashlib.sha1(key + WS_GUID).digest()).decode()
        extra = ""
        if "sec-websocket-protocol" in req.headers:
            extra = (
                f"Sec-WebSocket-Protocol: {req.headers['sec-websocket-protocol'].split(',')[0]}\r\n"
            )
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + f"Sec-WebSocket-Accept: {accept}\r\n{extra}\r\n".encode()
        )
        received = 0
        while True:
            opcode, payload = await read_frame(reader)
            if opcode == 0x8:  # close: answer it and end
                writer.write(frame(0x8, payload[:2]))
                await writer.drain()
                return
            if opcode == 0x9:
                writer.write(frame(0xA, payload))
            elif opcode in (0x1, 0x2):
                received += 1
                self.counts["ws:" + req.target] += 1
                if not await self._ws_reply(req, writer, opcode, payload, received):
                    return
            await writer.drain()

    async def _ws_reply(
        self, req: Request, writer: asyncio.StreamWriter, opcode: int, payload: bytes, n: int
    ) -> bool:
        path = req.path
        if path == "/ws/close-after" and n > int(req.query.get("n", "1")):
            writer.write(frame(0x8, struct.pack("!H", 1001) + b"going away"))
            await writer.drain()
            return False
        if path == "/ws/silent":
            return True
        if path == "/ws/late":  # every reply after base ms, the at-th after ms (in order)
            late = n == int(req.query.get("at", "0"))
            await asyncio.sleep(int(req.query.get("ms" if late else "base", "0")) / 1000)
        if path == "/ws/garbage":
            writer.write(b"\x83\x05hello")  # reserved opcode 3
        elif path == "/ws/bad-utf8":
            writer.write(frame(0x1, b"\xff\xfe not utf-8"))
        else:
            for i in range(int(req.query.get("n", "0")) if path == "/ws/noise" else 0):
                writer.write(frame(0x1, f"noise {i}".encode()))
            writer.write(frame(opcode, payload))
        return True


class H2Handler:
    """One HTTP/2 connection: h2's state machine fed from the socket, each request answered
    in a task of its own once its stream ends (so a slow one holds up no other), and
    cancelled when the client resets its stream or the connection ends."""

    def __init__(
        self, app: TestServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.app, self.reader, self.writer = app, reader, writer
        self.conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False, header_encoding=None)
        )
        codes = h2.settings.SettingCodes
        self.conn.local_settings = h2.settings.Settings(  # h2's own, the stream limit set
            client=False,
            initial_values={
                codes.MAX_CONCURRENT_STREAMS: app.h2_max_streams,
                codes.MAX_HEADER_LIST_SIZE: self.conn.DEFAULT_MAX_HEADER_LIST_SIZE,
            },
        )
        self.requests: dict[int, tuple[dict[str, str], bytearray]] = {}
        self.tasks: dict[int, asyncio.Task[None]] = {}
        self.window = asyncio.Event()  # set when the client opens a flow-control window

    def flush(self) -> None:
        data = self.conn.data_to_send()
        if data and not self.writer.is_closing():
            self.writer.write(data)

    async def serve(self) -> None:
        app, writer = self.app, self.writer
        app.writers.add(writer)
        app.counts["connections"] += 1
        app.counts["h2_connections"] += 1
        try:
            self.conn.initiate_connection()
            self.flush()
            while data := await self.reader.read(65536):
                try:
                    events = self.conn.receive_data(data)
                except h2.exceptions.ProtocolError:
                    self.flush()  # h2 queued a GOAWAY
                    break
                if not all(self.on(event) for event in events):
                    break
                self.flush()
                await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            for task in self.tasks.values():
                task.cancel()
            await asyncio.gather(*self.tasks.values(), return_exceptions=True)
            app.writers.discard(writer)
            writer.close()
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                await writer.wait_closed()

    def on(self, event: h2.events.Event) -> bool:
        """Handle one event; ``False`` when the connection is over."""
        if isinstance(event, h2.events.RequestReceived):
            fields = {_text(k).lower(): _text(v) for k, v in event.headers}
            self.requests[event.stream_id] = (fields, bytearray())
        elif isinstance(event, h2.events.DataReceived):
            if event.stream_id in self.requests:
                self.requests[event.stream_id][1].extend(event.data)
            self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        elif isinstance(event, h2.events.StreamEnded) and event.stream_id in self.requests:
            sid = event.stream_id
            fields, body = self.requests.pop(sid)
            headers = {k: v for k, v in fields.items() if not k.startswith(":")}
            req = Request(fields[":method"], fields[":path"], headers, bytes(body))
            task = asyncio.create_task(self.respond(sid, req))
            self.tasks[sid] = task
            task.add_done_callback(lambda _: self.tasks.pop(sid, None))
        elif isinstance(event, h2.events.StreamReset):
            self.app.counts["h2_resets"] += 1
            self.requests.pop(event.stream_id, None)
            if running := self.tasks.get(event.stream_id):
                running.cancel()
        elif isinstance(event, h2.events.WindowUpdated | h2.events.RemoteSettingsChanged):
            self.window.set()
        elif isinstance(event, h2.events.ConnectionTerminated):
            return False
        return True

    async def respond(self, stream_id: int, req: Request) -> None:
        self.app.count(req, "h2")
        reply = await self.app.answer(req)
        if reply is None and req.path == "/hang":
            await asyncio.Event().wait()  # until the stream is reset or the connection ends
        if reply is None and req.path == "/body":
            size, end = int(req.query.get("size", "0")), req.query.get("end", "").encode()
            end = end[:size]
            reply = 200, b"x" * (size - len(end)) + end, ()
        status, body, extra = reply or (404, b"no such path\n", ())
        headers = [(":status", str(status)), ("content-length", str(len(body)))]
        headers += [(k.lower(), v) for k, v in extra]
        # The client may reset the stream or close the connection at any point.
        with contextlib.suppress(h2.exceptions.ProtocolError, ConnectionError):
            self.conn.send_headers(stream_id, headers, end_stream=not body)
            self.flush()
            view = memoryview(body)
            while view:
                window = self.conn.local_flow_control_window(stream_id)
                if window <= 0:
                    self.window.clear()
                    await self.window.wait()
                    continue
                n = min(window, self.conn.max_outbound_frame_size, len(view))
                self.conn.send_data(stream_id, view[:n].tobytes(), end_stream=n == len(view))
                view = view[n:]
                self.flush()
                await self.writer.drain()


def _text(value: bytes | str) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def respond(
    writer: asyncio.StreamWriter,
    status: int,
    body: bytes,
    headers: tuple[tuple[str, str], ...] = (),
) -> None:
    reason = REASONS.get(status, "Error" if status >= 400 else "Status")
    head = f"HTTP/1.1 {status} {reason}\r\nContent-Length: {len(body)}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers)
    writer.write(head.encode() + b"\r\n" + body)


async def send_body(writer: asyncio.StreamWriter, size: int, end: bytes, chunked: bool) -> None:
    end = end[:size]
    if chunked:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    else:
        writer.write(f"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n".encode())
    block, remaining = b"x" * CHUNK, size - len(end)
    while remaining > 0 or end:
        part = block[: min(remaining, CHUNK)] if remaining > 0 else end
        if remaining > 0:
            remaining -= len(part)
        else:
            end = b""
        writer.write(b"%x\r\n%s\r\n" % (len(part), part) if chunked else part)
        await writer.drain()
    if chunked:
        writer.write(b"0\r\n\r\n")


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One client frame (masked), unmasked; continuation frames are joined."""
    opcode, data = 0, b""
    while True:
        b0, b1 = await reader.readexactly(2)
        opcode = opcode or b0 & 0x0F
        length = b1 & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", await reader.readexactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", await reader.readexactly(8))
        mask = await reader.readexactly(4) if b1 & 0x80 else b""
        payload = await reader.readexactly(length)
        if mask:
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        data += payload
        if b0 & 0x80:
            return opcode, data


def frame(opcode: int, payload: bytes) -> bytes:
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, n)
    elif n < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return head + payload


async def serve(port: int, cert: str | None, key: str | None) -> None:
    app = TestServer()
    server = await asyncio.start_server(app.handle, "127.0.0.1", port, limit=1 << 16)
    ports = [server.sockets[0].getsockname()[1]]
    servers = [server]
    if cert and key:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        tls = await asyncio.start_server(app.handle, "127.0.0.1", 0, ssl=context)
        h2_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        h2_context.load_cert_chain(cert, key)
        h2_context.set_alpn_protocols(["h2", "http/1.1"])
        h2_port = await asyncio.start_server(app.handle_h2_port, "127.0.0.1", 0, ssl=h2_context)
        for s in (tls, h2_port):
            ports.append(s.sockets[0].getsockname()[1])
            servers.append(s)
    print("listening", *ports, flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes our stdin
    for s in servers:
        s.close()
    for writer in list(app.writers):
        writer.transport.abort()
    for s in servers:
        await s.wait_closed()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.support.servers")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    args = parser.parse_args()
    try:
        import uvloop  # noqa: PLC0415

        uvloop.run(serve(args.port, args.tls_cert, args.tls_key))
    except ImportError:
        asyncio.run(serve(args.port, args.tls_cert, args.tls_key))


if __name__ == "__main__":
    main()
