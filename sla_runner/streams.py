"""What a run streams while it goes (``--out ndjson=PATH``, ``--out hdr=PATH``,
``--metrics-port``): the choice, and the one place that opens each output and closes it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from sla_runner.engine.live import LiveServer
from sla_runner.metrics.tap import SecondSink, Tap
from sla_runner.report.stream import HdrLogStream, NdjsonStream

__all__ = ["Streams", "open_streams"]


@dataclass(frozen=True)
class Streams:
    """The streams asked for: files written second by second, and a live /metrics."""

    ndjson: Path | None = None
    hdr: Path | None = None
    metrics_port: int | None = None
    metrics_host: str = "0.0.0.0"

    def __bool__(self) -> bool:
        return any(x is not None for x in (self.ndjson, self.hdr, self.metrics_port))


@contextmanager
def open_streams(streams: Streams | None) -> Iterator[Tap | None]:
    """A Tap feeding every stream asked for (None when none is), closed at the end.

    A port that cannot be listened on is a RunError (exit 3), before any load."""
    if not streams:
        yield None
        return
    with ExitStack() as stack:
        sinks: list[SecondSink] = []
        if streams.metrics_port is not None:
            server = LiveServer(streams.metrics_port, streams.metrics_host)
            stack.callback(server.close)
            sinks.append(server.metrics)
        for path, kind in ((streams.ndjson, NdjsonStream), (streams.hdr, HdrLogStream)):
            if path is not None:
                stream = kind(path)
                stack.callback(stream.close)
                sinks.append(stream)
        yield Tap(sinks)
