"""Shared fixtures: real local servers in their own processes, bound to 127.0.0.1:0.

- ``test_server``: the purpose-built server of :mod:`tests.support.servers` (behaviours and
  faults by path, exact server-side counts), with a TLS port and an HTTP/2 port (TLS, ALPN
  ``h2``) when ``openssl`` is installed.
- ``demo_service``: the embedded demo service, run as ``python -m sla_runner.demo``.

Both start once per test session and stop at its end; each is a child process whose
stdin we hold, so it also ends if pytest dies.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.paths import ROOT

START_TIMEOUT_S = 15.0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class ChildProcess:
    """A server child process that prints one line when it is ready."""

    def __init__(self, argv: Sequence[str]) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, *argv],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], START_TIMEOUT_S)
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            self.stop()
            raise RuntimeError(f"{argv} did not start within {START_TIMEOUT_S}s")
        self.first_line = line.strip()

    def stop(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@dataclass(frozen=True)
class LiveServer:
    """The test server's addresses and its server-side request counts."""

    port: int
    tls_port: int | None
    h2_port: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def tls_url(self) -> str:
        if self.tls_port is None:
            pytest.skip("no TLS port: openssl is not installed")
        return f"https://127.0.0.1:{self.tls_port}"

    @property
    def h2_url(self) -> str:
        """The HTTP/2 port (self-signed TLS; ALPN offers ``h2``, then ``http/1.1``)."""
        if self.h2_port is None:
            pytest.skip("no HTTP/2 port: openssl is not installed")
        return f"https://127.0.0.1:{self.h2_port}"

    def counts(self) -> dict[str, int]:
        """Requests served per exact URL (path and query) over any protocol, and per protocol
        as ``http/1.1:<url>`` and ``h2:<url>``; WebSocket messages as ``ws:<url>``."""
        with urllib.request.urlopen(f"{self.url}/count", timeout=5) as response:
            counts: dict[str, int] = json.load(response)
        return counts

    def protocols(self, url: str) -> dict[str, int]:
        """Requests served for ``url`` (path and query) by protocol: ``http/1.1`` and ``h2``."""
        counts = self.counts()
        return {proto: counts.get(f"{proto}:{url}", 0) for proto in ("http/1.1", "h2")}


def _self_signed(directory: Path) -> tuple[Path, Path] | None:
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    return cert, key


@pytest.fixture(scope="session")
def test_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    argv = ["-m", "tests.support.servers"]
    pair = _self_signed(tmp_path_factory.mktemp("tls"))
    if pair is not None:
        argv += ["--tls-cert", str(pair[0]), "--tls-key", str(pair[1])]
    child = ChildProcess(argv)
    try:
        ports = [int(p) for p in child.first_line.split()[1:]]
        tls, h2 = ports[1:3] if len(ports) == 3 else (None, None)
        yield LiveServer(ports[0], tls, h2)
    finally:
        child.stop()


@pytest.fixture(scope="session")
def demo_service() -> Iterator[str]:
    """The demo service's base URL, e.g. ``http://127.0.0.1:41234`` (seeded, 1% errors)."""
    child = ChildProcess(["-m", "sla_runner.demo", "--port", "0", "--seed", "7"])
    try:
        prefix = "demo service listening on "
        assert child.first_line.startswith(prefix), child.first_line
        yield child.first_line.removeprefix(prefix)
    finally:
        child.stop()
