"""A test service with slow episodes by the clock: each path answers at once, except from
second ``start`` to second ``end`` after the first request it served (to any path), when it
takes ``slow_ms`` — a service that stalls for a while and recovers. It counts the requests it
answered per path (``GET /count``: JSON), so a test compares the runner's counts with its own.

Run as ``python -m tests.support.episodes '{"/a": [8, 13, 400]}'``: it prints its port, then
serves on 127.0.0.1 until its stdin closes.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time


class Episodes:
    def __init__(self, episodes: dict[str, tuple[float, float, float]]) -> None:
        self.episodes = episodes
        self.counts: dict[str, int] = {}
        self.t0: float | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                while (header := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    del header
                path = line.split()[1].decode().split("?", 1)[0]
                body = await self.answer(path)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
                await writer.drain()
        except (ConnectionError, IndexError):
            pass
        finally:
            writer.close()

    async def answer(self, path: str) -> bytes:
        if path == "/count":
            return json.dumps(self.counts).encode()
        now = time.monotonic()
        if self.t0 is None:
            self.t0 = now
        start, end, slow_ms = self.episodes.get(path, (0.0, 0.0, 0.0))
        if start <= now - self.t0 < end:
            await asyncio.sleep(slow_ms / 1000)
        self.counts[path] = self.counts.get(path, 0) + 1
        return b"ok"


async def serve(episodes: dict[str, tuple[float, float, float]]) -> None:
    service = Episodes(episodes)
    server = await asyncio.start_server(service.handle, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # until the test closes stdin
    server.close()


def main() -> None:
    raw = json.loads(sys.argv[1])
    asyncio.run(serve({path: (float(a), float(b), float(ms)) for path, (a, b, ms) in raw.items()}))


if __name__ == "__main__":
    main()
