"""A worker of ``run --workers N``: one segment of the plan, in a process of its own.

:mod:`sla_runner.engine.pool` starts it (``python -c``, calling :func:`main`) in a
session of its own (a terminal's Ctrl-C reaches the parent only, which tells each worker),
and speaks with it in JSON lines: the parent writes to the worker's stdin; the worker
answers on its stdout, and anything else the process prints goes to stderr.

parent → worker
    ``{"job": …}``        the :class:`Job`: the spec as the parent loaded it (pickled), the
                          worker's segment, the engine, ``--fail-fast``, whether it samples
                          the service (its process and ``target.metrics``: the first worker
                          only)
    ``{"start_ns": T}``   start the clock at the monotonic instant T, the same for every
                          worker, so their timelines line up second by second
    ``{"stop": why}``     stop the users now and keep what was measured
    end of input          the parent is gone: stop, as for ``stop``
worker → parent
    ``{"ready": pid}``    the load is compiled, the transport prepared: waiting for T
    ``{"error": text}``   this share cannot be carried out (before the start)
    ``{"live": {…}}``     once a second, the figures of the last second (``LiveStats``)
    ``{"failed": why}``   ``--fail-fast`` stopped this worker: the parent stops the others
    ``{"result": {…}}``   the Recording, at the end: its per-second histograms only when
                          the parent judges something from them (:func:`keeps_seconds`)

The worker does not repeat the pre-flight checks: the parent made them once, before any
worker started. It raises its own descriptor limit for its share of the connections.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import os
import pickle
import signal
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import anyio

from sla_runner.engine.control import RunControl
from sla_runner.engine.execute import has_uvloop
from sla_runner.engine.lifecycle import Engine
from sla_runner.engine.preflight import ensure_descriptors
from sla_runner.errors import RunError
from sla_runner.metrics.recorder import LiveStats
from sla_runner.plan import Plan, Segment, build_plan, connections_needed
from sla_runner.spec.data import Table
from sla_runner.spec.format2 import Spec
from sla_runner.spec.parts import reads_seconds

MAX_MESSAGE_BYTES = 1 << 30  # a recording of a long run with many endpoints stays far below


@dataclass(frozen=True)
class Job:
    """What one worker runs: ``spec`` (already loaded, overrides applied) at ``segment``."""

    spec: Spec
    segment: Segment
    engine: str | None = None
    fail_fast: bool = False
    sample_process: bool = False  # the first worker reads target.process and .metrics; no other
    tables: Mapping[str, Table] | None = None  # the spec's data tables, as the parent loaded them

    def message(self) -> dict[str, str]:
        # pickle: the parent's own objects, to its own child over a private pipe
        return {"job": base64.b64encode(pickle.dumps(self)).decode("ascii")}

    @staticmethod
    def from_message(message: dict[str, Any]) -> Job:
        job = pickle.loads(base64.b64decode(message["job"]))  # our parent's: see message()
        assert isinstance(job, Job)
        return job


def keeps_seconds(spec: Spec, plan: Plan) -> bool:
    """Whether the parent needs the recording's per-second histograms: only to judge a
    threshold over windows (``window``, ``for``, ``warmup``) or a span holding a stage's
    warmup — as the verdict keeps them only then. Otherwise they stay in the worker: a
    1-hour run of 20 endpoints would send ~21 MB of them for nothing."""
    return reads_seconds(spec.thresholds, (stage.warmup_ns for stage in plan.stages))


def encode(message: dict[str, Any]) -> bytes:
    """One message as one line."""
    return json.dumps(message, separators=(",", ":")).encode("utf-8") + b"\n"


def live_message(stats: LiveStats) -> dict[str, Any]:
    return {"live": dataclasses.asdict(stats)}


def live_stats(data: dict[str, Any]) -> LiveStats:
    return LiveStats(**data)


class Channel:
    """The worker's side of the pipe to the parent: whole lines, written at once. Once the
    parent is gone, messages go nowhere (the end of the worker's input stops the run)."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self.broken = False

    def send(self, message: dict[str, Any]) -> None:
        data = memoryview(encode(message))
        try:
            while data and not self.broken:
                data = data[os.write(self._fd, data) :]
        except OSError:  # EPIPE: the parent is gone
            self.broken = True


async def _stdin() -> asyncio.StreamReader:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=MAX_MESSAGE_BYTES)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin.buffer)
    return reader


async def _receive(reader: asyncio.StreamReader) -> dict[str, Any] | None:
    """The parent's next message, or None when it closed our input."""
    line = await reader.readline()
    if not line.endswith(b"\n"):
        return None
    message: dict[str, Any] = json.loads(line)
    return message


async def _listen(reader: asyncio.StreamReader, control: RunControl) -> None:
    while True:
        message = await _receive(reader)
        if message is None:
            control.abort("the parent process ended")
            return
        if "stop" in message:
            control.abort(str(message["stop"]))


async def _signals(control: RunControl) -> None:
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for signum in signals:
            control.abort(f"worker {os.getpid()} got {signal.Signals(signum).name}")


async def _tell_failure(control: RunControl, send: Callable[[dict[str, Any]], None]) -> None:
    await control.stop.wait()
    if control.failed:
        send({"failed": control.reason})


def _prepare(job: Job, control: RunControl, channel: Channel) -> Engine:
    spec = job.spec
    if not job.sample_process:  # the service's sources are read by the first worker alone
        unread = spec.target.model_copy(update={"process": None, "metrics": None})
        spec = spec.model_copy(update={"target": unread})
    plan = build_plan(spec, job.segment, job.tables)
    ensure_descriptors(connections_needed(spec, plan))

    def progress(stats: LiveStats) -> None:
        channel.send(live_message(stats))

    return Engine(
        spec, plan, engine=job.engine, progress=progress, control=control, tables=job.tables
    )


async def work(channel: Channel) -> None:
    """Take the job, report ready, start at the shared instant, send the recording."""
    reader = await _stdin()
    first = await _receive(reader)
    if first is None:
        return
    job = Job.from_message(first)
    control = RunControl(fail_fast=job.fail_fast)
    try:
        engine = _prepare(job, control, channel)
        await engine.prepare()  # ``before`` and the step layer, before the shared start
    except RunError as exc:
        channel.send({"error": str(exc)})
        return
    channel.send({"ready": os.getpid()})
    start = await _receive(reader)
    if start is None or "start_ns" not in start:
        return  # stopped before the load: the parent reports it
    async with anyio.create_task_group() as tg:
        tg.start_soon(_listen, reader, control)
        tg.start_soon(_signals, control)
        tg.start_soon(_tell_failure, control, channel.send)
        recording = await engine.run(start_at_ns=int(start["start_ns"]))
        tg.cancel_scope.cancel()
    seconds = keeps_seconds(engine.spec, engine.plan)
    channel.send({"result": recording.to_dict(seconds=seconds)})


def main() -> int:
    out = os.dup(1)
    os.dup2(2, 1)  # a stray print goes to stderr, never into the messages
    channel = Channel(out)
    anyio.run(work, channel, backend="asyncio", backend_options={"use_uvloop": has_uvloop()})
    return 1 if channel.broken else 0
