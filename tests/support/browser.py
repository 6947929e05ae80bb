"""A real browser for the HTML report's tests: Debian's headless Chromium, driven over the
DevTools protocol with the ``websockets`` client we already depend on (no downloaded
browser, no driver package).

:func:`chromium` finds the browser or skips the test saying why (``.ci/run`` installs the
``chromium`` package). :class:`Browser` starts it with networking features off and a
throw-away profile, opens a page, collects every console error, uncaught exception and
log entry of level error (a Content-Security-Policy violation is one), evaluates
JavaScript, moves the mouse and takes screenshots. :func:`png_pixels` decodes a PNG with
zlib alone, for the not-blank check.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import re
import select
import shutil
import signal
import struct
import subprocess
import tempfile
import time
import urllib.request
import zlib
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest
from websockets.sync.client import ClientConnection, connect

START_TIMEOUT_S = 20.0
STEP_TIMEOUT_S = 15.0


def chromium() -> str:
    """The Chromium executable, or a skip that says why there is none."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    reason = "Chromium is not installed: `apt-get install -y chromium` (.ci/run does)"
    if shutil.which("apt-get") is None:
        reason += "; apt-get is not available on this machine"
    pytest.skip(reason)


class Browser:
    """Headless Chromium with one page, driven over the DevTools protocol."""

    def __init__(self, width: int = 1280, height: int = 2000) -> None:
        self._profile = tempfile.TemporaryDirectory(prefix="sla-chromium-")
        self._proc = subprocess.Popen(
            [
                chromium(),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--no-first-run",
                "--no-default-browser-check",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                f"--user-data-dir={self._profile.name}",
                f"--window-size={width},{height}",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its helpers (zygotes, crash handlers) stopped with it
        )
        self._ids = itertools.count(1)
        self.errors: list[str] = []
        try:
            port = self._devtools_port()
            page = self._page_socket(port)
            # Entered as a context (closed in close()): websockets 17 warns otherwise.
            self._ws: ClientConnection = connect(page, max_size=64 * 1024 * 1024).__enter__()
            for domain in ("Page", "Runtime", "Log"):
                self.call(f"{domain}.enable")
        except BaseException:
            self.close()
            raise

    def _devtools_port(self) -> int:
        assert self._proc.stderr is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        seen = []
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self._proc.stderr], [], [], 0.5)
            if not ready:
                if self._proc.poll() is not None:
                    break
                continue
            line = self._proc.stderr.readline()
            seen.append(line)
            match = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line)
            if match:
                return int(match[1])
        raise RuntimeError("Chromium did not open its DevTools port:\n" + "".join(seen[-20:]))

    @staticmethod
    def _page_socket(port: int) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as answer:
            targets: list[dict[str, Any]] = json.load(answer)
        return next(str(t["webSocketDebuggerUrl"]) for t in targets if t["type"] == "page")

    # -- the protocol -------------------------------------------------------------------

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one command and wait for its answer, keeping the events on the way."""
        ident = next(self._ids)
        self._ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        deadline = time.monotonic() + STEP_TIMEOUT_S
        while True:
            message = self._receive(deadline)
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            self._event(message)

    def _receive(self, deadline: float) -> dict[str, Any]:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("Chromium did not answer in time")
        message: dict[str, Any] = json.loads(self._ws.recv(timeout=left))
        return message

    def _event(self, message: dict[str, Any]) -> None:
        method, params = message.get("method"), message.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            self.errors.append(
                f"exception: {details.get('exception', details).get('description', details)}"
            )
        elif method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
            texts = [str(a.get("value", a.get("description", ""))) for a in params["args"]]
            self.errors.append("console.error: " + " ".join(texts))
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            entry = params["entry"]
            self.errors.append(f"{entry['source']}: {entry['text']} {entry.get('url', '')}")

    # -- what a test does ---------------------------------------------------------------

    def open(self, url: str) -> None:
        """Load ``url`` and wait for its load event (and a moment for late errors)."""
        self.call("Page.navigate", url=url)
        deadline = time.monotonic() + STEP_TIMEOUT_S
        while True:
            message = self._receive(deadline)
            if message.get("method") == "Page.loadEventFired":
                break
            self._event(message)
        self.evaluate("new Promise(r => requestAnimationFrame(() => setTimeout(r, 50)))")

    def evaluate(self, expression: str) -> Any:
        result = self.call(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def move_mouse(self, x: float, y: float) -> None:
        self.call("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=y)

    def screenshot(self, path: Path, clip: tuple[float, float, float, float] | None = None) -> Path:
        """A PNG of the viewport, or of ``clip`` (x, y, width, height in page pixels)."""
        params: dict[str, Any] = {"format": "png", "captureBeyondViewport": clip is not None}
        if clip is not None:
            x, y, w, h = clip
            params["clip"] = {"x": x, "y": y, "width": w, "height": h, "scale": 1}
        data = self.call("Page.captureScreenshot", **params)["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        ws = getattr(self, "_ws", None)
        if ws is not None:
            ws.close()
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._proc.pid, sig)  # the browser and every helper it started
            try:
                self._proc.wait(timeout=10)
                break
            except subprocess.TimeoutExpired:
                continue
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._proc.pid, signal.SIGKILL)  # a helper that outlived the browser
        if self._proc.stderr is not None:
            self._proc.stderr.close()
        self._profile.cleanup()

    def __enter__(self) -> Browser:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


# -- PNG, read with zlib alone ----------------------------------------------------------


def png_pixels(path: Path) -> tuple[int, int, list[bytes]]:
    """Width, height and the rows of RGB(A) bytes of an 8-bit truecolour PNG (what
    Chromium writes), its filters undone."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert depth == 8, f"bit depth {depth}"
    channels = {2: 3, 6: 4}[colour]
    raw = zlib.decompress(idat)
    stride = width * channels
    rows: list[bytes] = []
    prior = bytearray(stride)
    for r in range(height):
        kind = raw[r * (stride + 1)]
        line = bytearray(raw[r * (stride + 1) + 1 : (r + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = prior[i]
            corner = prior[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                pred = left if pa <= pb and pa <= pc else (up if pb <= pc else corner)
                line[i] = (line[i] + pred) & 0xFF
        rows.append(bytes(line))
        prior = line
    return width, height, [bytes(row[: width * channels : 1]) for row in rows]


def colours(path: Path, step: int = 4) -> tuple[int, float]:
    """How many distinct colours a PNG holds (sampling every ``step``-th pixel each way),
    and the share of the sampled pixels that are not white."""
    width, _, rows = png_pixels(path)
    channels = len(rows[0]) // width if rows else 3
    seen: set[bytes] = set()
    ink = total = 0
    for row in rows[::step]:
        for x in range(0, width, step):
            pixel = row[x * channels : x * channels + 3]
            seen.add(pixel)
            total += 1
            ink += pixel != b"\xff\xff\xff"
    return len(seen), ink / max(total, 1)
