"""A service whose capacity is known by construction: K workers, a fixed service time.

Every request to ``/work`` waits for one of ``--workers`` K workers, holds it for
``--service-ms`` S, and answers 200. Below K/S requests per second nothing waits and the
latency is S; above it requests queue and the latency grows without bound (open model), or
as the users (closed model, no think time: K users hold every worker, each more one waits).
So the capacity of a threshold ``p95(http) < L`` with S < L < 2S is K/S arrivals per second.

Real HTTP/1.1 (keep-alive) on 127.0.0.1, in its own process (``python -m
tests.support.capacity_service --workers K --service-ms S [--port P]``, any free port by
default): it prints ``listening PORT`` and exits when its stdin closes (Ctrl-D) or on
Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import threading


class Workers:
    def __init__(self, workers: int, service_s: float) -> None:
        self.pool = asyncio.Semaphore(workers)
        self.service_s = service_s
        self.writers: set[asyncio.StreamWriter] = set()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                if length:
                    await reader.readexactly(length)
                path = head.split(b" ", 2)[1] if head.count(b" ") >= 2 else b""
                status, body = (
                    (b"200 OK", b"done\n") if path == b"/work" else (b"404 Not Found", b"")
                )
                if path == b"/work":
                    async with self.pool:
                        await asyncio.sleep(self.service_s)
                writer.write(
                    b"HTTP/1.1 "
                    + status
                    + b"\r\nContent-Length: "
                    + str(len(body)).encode()
                    + b"\r\n\r\n"
                    + body
                )
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            self.writers.discard(writer)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


async def serve(workers: int, service_ms: float, port: int = 0) -> None:
    app = Workers(workers, service_ms / 1000)
    server = await asyncio.start_server(app.handle, "127.0.0.1", port, backlog=1024)
    print("listening", server.sockets[0].getsockname()[1], flush=True)
    loop, closed = asyncio.get_running_loop(), asyncio.Event()

    def wait_for_eof() -> None:  # a daemon thread: Ctrl-C does not wait for it
        sys.stdin.read()
        loop.call_soon_threadsafe(closed.set)

    threading.Thread(target=wait_for_eof, daemon=True).start()
    await closed.wait()
    server.close()
    for writer in list(app.writers):
        writer.transport.abort()
    await server.wait_closed()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.support.capacity_service")
    parser.add_argument("--workers", type=int, required=True)
    parser.add_argument("--service-ms", type=float, required=True)
    parser.add_argument("--port", type=int, default=0, help="on 127.0.0.1 (default: any free)")
    args = parser.parse_args()
    service = serve(args.workers, args.service_ms, args.port)
    try:
        try:
            import uvloop  # noqa: PLC0415

            uvloop.run(service)
        except ImportError:
            asyncio.run(service)
    except KeyboardInterrupt:  # Ctrl-C in the terminal it was started from
        pass


if __name__ == "__main__":
    main()
