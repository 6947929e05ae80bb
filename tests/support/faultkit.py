"""Helpers for the fault, interruption, secrets and guard tests: whole runs, end to end.

- :func:`spec_file` writes a spec (a dict, dumped as YAML) next to the test.
- :class:`Service` is the test server of :mod:`tests.support.servers` in a process of its
  own that a test may kill (SIGKILL, as a crash) and start again on the same port.
- :func:`free_port` is a loopback port nothing listens on (connections are refused).

The CLI as a subprocess (``run_cli``, ``spawn_cli``) is :mod:`tests.support.cli`.
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from threading import Thread
from typing import Any

import pytest
import yaml

from sla_runner.metrics.recording import Recording
from sla_runner.spec.models import SpecV1
from tests.conftest import ChildProcess, LiveServer


def tag() -> str:
    """A value making a URL unique, so server-side counts belong to one test."""
    return uuid.uuid4().hex[:12]


def spec_data(base_url: str, **sections: Any) -> dict[str, Any]:
    """A spec with sensible small defaults; ``sections`` replace top-level keys."""
    data: dict[str, Any] = {
        "version": 1,
        "name": "faults",
        "sla_version": "1.0.0",
        "target": {"base_url": base_url, "timeout": "2s", "connect_timeout": "2s"},
        "endpoints": {"ok": {"path": f"/ok?t={tag()}"}},
        "load": {
            "stages": [
                {"name": "warm", "duration": "100ms", "users": 2},
                {"name": "steady", "duration": "2s", "users": 2},
            ],
            "think_time": "20ms",
            "graceful_stop": "2s",
        },
        "thresholds": ["success_rate(http) > 99%"],
    }
    data.update(sections)
    return data


def engine_spec(server: LiveServer, name: str, **parts: Any) -> SpecV1:
    """A spec for in-process engine tests: the test server, a 2 s timeout, ``parts`` as given."""
    data: dict[str, Any] = {
        "version": 1,
        "name": name,
        "sla_version": "1",
        "target": {"base_url": server.url, "timeout": "2s"},
    }
    data.update(parts)
    return SpecV1.model_validate(data)


def count(recording: Recording, metric: str, scope: str | None = None) -> int:
    """Operations of ``metric`` (one endpoint or channel, or all) the recording holds."""
    return sum(s.count for s in recording.select(metric, scope, None))


def count_calls(monkeypatch: pytest.MonkeyPatch, owner: object, name: str) -> list[None]:
    """From now on, one entry per call of ``owner.name`` (each call still made)."""
    calls: list[None] = []
    real = getattr(owner, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(None)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)
    return calls


def spec_file(directory: Path, data: dict[str, Any], name: str = "spec.yaml") -> Path:
    path = directory / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@contextlib.contextmanager
def unanswered_port() -> Iterator[int]:
    """A loopback port whose connects hang: its accept queue is full, so the kernel drops
    the SYN (no traffic leaves the machine)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port: int = listener.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=5):  # fills the queue
            yield port


def read_json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def free_port() -> int:
    """A loopback port that was free a moment ago: connecting to it is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class Service:
    """The test server in its own process, which the test may kill and start again."""

    def __init__(self, port: int = 0) -> None:
        self._child: ChildProcess | None = None
        self.port = port
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        assert self._child is None, "already running"
        deadline = time.monotonic() + 5
        while True:
            try:
                self._child = ChildProcess(
                    ["-m", "tests.support.servers", "--port", str(self.port)]
                )
                break
            except RuntimeError:  # the port is not free again yet
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        self.port = int(self._child.first_line.split()[1])

    def kill(self) -> None:
        """SIGKILL, as a crash: no goodbye to the open connections."""
        child, self._child = self._child, None
        assert child is not None, "not running"
        child.proc.kill()
        child.proc.wait(timeout=10)
        child.stop()

    def stop(self) -> None:
        if self._child is not None:
            child, self._child = self._child, None
            child.stop()

    def served(self, url: str) -> int:
        """Requests served for ``url`` (path and query) so far."""
        with urllib.request.urlopen(f"{self.url}/count", timeout=5) as response:
            counts: dict[str, int] = json.load(response)
        return counts.get(url, 0)


def once_served(service: Service, url: str, n: int, action: Callable[[], None]) -> Thread:
    """In a thread: wait until ``service`` has served ``url`` ``n`` times, then ``action()``.

    Tied to the load the service sees, not to the clock, so a slow start of the runner on
    a busy machine does not move the fault to another second of the run.
    """

    def wait_then_act() -> None:
        deadline = time.monotonic() + 30
        while service.served(url) < n and time.monotonic() < deadline:
            time.sleep(0.02)
        action()

    thread = Thread(target=wait_then_act)
    thread.start()
    return thread
