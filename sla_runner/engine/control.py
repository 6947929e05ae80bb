"""How a caller steers a run: stop it early, have it stop itself, watch it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import anyio

from sla_runner.metrics.recorder import LiveStats

Progress = Callable[[LiveStats], None]
"""Called once a second during the load with the latest figures."""


@dataclass
class RunControl:
    """Lets the caller stop a run early (Ctrl-C, SIGTERM, --fail-fast).

    ``fail_fast``: the engine stops the run itself (and sets ``failed``) once a whole second
    of the run passes in which requests or round trips completed and not one succeeded.
    """

    stop: anyio.Event = field(default_factory=anyio.Event)
    reason: str = ""
    fail_fast: bool = False
    failed: bool = False  # stopped by fail-fast, not by the caller

    def abort(self, reason: str) -> None:
        if not self.stop.is_set():
            self.reason = reason
            self.stop.set()

    def fail(self, reason: str) -> None:
        if not self.stop.is_set():
            self.failed = True
            self.abort(reason)
