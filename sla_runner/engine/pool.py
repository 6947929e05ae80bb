"""``run --workers N``: one run's load carried by N worker processes on one host.

The parent makes the pre-flight checks once, then starts N workers
(:mod:`~sla_runner.engine.worker`), worker ``w`` running part ``w`` of the run's share
(:meth:`~sla_runner.plan.Segment.split`: ``1/1`` in two is ``1/2`` and ``2/2``, the same
segments ``--segment`` runs on separate hosts). Once every worker is ready (its requests
compiled, its transport prepared) the parent gives them all one start instant on the
host's monotonic clock, so their timelines line up second by second and their recordings
merge exactly. Each worker reports its figures once a second;
:class:`~sla_runner.engine.poolparts.LiveCombiner` makes one live line of them. At the
end each worker sends its Recording; the caller merges and judges them once
(:func:`sla_runner.judge.merge.judge_parts`).

Why plain subprocesses (``python -c``, :data:`WORKER_MAIN`) and not ``multiprocessing``: a
fork of a process that has run an event loop is unsafe, and ``spawn`` starts the same
fresh interpreter but re-imports the parent's ``__main__`` (the console script, or
pytest's) and pickles through its own protocol. A plain subprocess costs the same
interpreter start and imports only what a worker needs (about 0.25 s on the 2-core
benchmark machine, paid before the shared start, never inside the run); it gets a session
of its own, so a terminal's Ctrl-C reaches the parent only and the parent stops each worker
exactly once; and the protocol is lines on its stdin and stdout (the worker module says
which), so a worker that dies leaves an end of file, never a half-read object.

A worker that dies (killed, crashed) ends without its recording: the caller judges the run
``invalid``, naming it. The others run on to their end: their figures are real, and
stopping them would make the run ``aborted``. Ctrl-C (or SIGTERM) stops every worker, each
keeping what it measured; a second one kills them and quits at once. ``--fail-fast`` in
one worker stops them all. A worker that has not finished well after the planned end
(:data:`FINISH_SLACK_S`) is killed and named.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import Process
from anyio.streams.buffered import BufferedByteReceiveStream

from sla_runner.engine.control import Progress, RunControl
from sla_runner.engine.execute import check_before_load, has_uvloop, watch_signals
from sla_runner.engine.poolparts import LiveCombiner
from sla_runner.engine.sampler import find_process
from sla_runner.engine.sources import remote_process
from sla_runner.engine.worker import MAX_MESSAGE_BYTES, Job, encode, live_stats
from sla_runner.errors import RunError
from sla_runner.metrics.recorder import LiveStats
from sla_runner.metrics.recording import Recording
from sla_runner.plan import Segment, build_plan
from sla_runner.spec.convert import AnySpec, as_format2
from sla_runner.spec.data import Table
from sla_runner.spec.format2 import Spec
from sla_runner.timeunits import NS_PER_MS, NS_PER_S

START_TIMEOUT_S = 60.0  # for every worker to be ready (a busy machine imports slowly)
START_MARGIN_NS = 100 * NS_PER_MS  # the start message reaches every worker well before
FINISH_SLACK_S = 60.0  # past the planned end, the drain and the stop's grace
# Not ``-m sla_runner.engine.worker``: the module would run as ``__main__``, and the job's
# classes, unpickled from ``sla_runner.engine.worker``, would be another module's.
WORKER_MAIN = "import sys; from sla_runner.engine.worker import main; sys.exit(main())"
PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # the folder that holds sla_runner/


@dataclass
class WorkerOutcome:
    """How one worker ended: with its ``recording``, or ``death`` saying why not."""

    number: int
    count: int
    segment: Segment
    pid: int | None = None
    recording: Recording | None = None
    death: str | None = None

    @property
    def name(self) -> str:
        return f"worker {self.number} of {self.count} (segment {self.segment}, pid {self.pid})"


def _ended(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    if code == 0:
        return "exited without sending its recording"
    return f"exited with code {code} (its error is above, on stderr)"


@dataclass
class _Worker:
    """The parent's handle on one worker process."""

    outcome: WorkerOutcome
    process: Process
    settled: anyio.Event = field(default_factory=anyio.Event)  # ready, failed or ended
    ready: bool = False
    error: str | None = None
    started_ns: int | None = None
    last: LiveStats | None = None
    ended: str | None = None  # how the process ended without its recording

    async def send(self, message: dict[str, Any]) -> None:
        if self.process.stdin is None:
            return
        with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            await self.process.stdin.send(encode(message))  # if it ended, its listener says how

    async def close_input(self) -> None:
        if self.process.stdin is not None:
            await self.process.stdin.aclose()

    def kill(self) -> None:
        if self.process.returncode is None:
            self.process.kill()  # this worker's pid only

    async def listen(self, combiner: LiveCombiner, control: RunControl) -> None:
        """Read the worker's messages until it ends; then say how it ended."""
        assert self.process.stdout is not None
        stream = BufferedByteReceiveStream(self.process.stdout)
        try:
            while True:
                line = await stream.receive_until(b"\n", MAX_MESSAGE_BYTES)
                self._take(json.loads(line), combiner, control)
        except (anyio.IncompleteRead, anyio.EndOfStream, anyio.ClosedResourceError):
            pass
        except (ValueError, KeyError, TypeError) as exc:  # not one of our messages
            self.kill()
            self.error = self.error or f"sent a message that cannot be read: {exc}"
        code = await self.process.wait()
        out = self.outcome
        if out.recording is None and self.error is None:
            self.ended = _ended(code)
            at = ""
            if self.started_ns is not None:
                at = f" at {(time.monotonic_ns() - self.started_ns) / NS_PER_S:.1f}s of the run"
            done = f" after {self.last.done:,} requests and round trips" if self.last else ""
            out.death = f"{out.name} {self.ended}{at}{done}: its share of the load was not measured"
        self.settled.set()
        combiner.drop(out.number)

    def _take(self, message: dict[str, Any], combiner: LiveCombiner, control: RunControl) -> None:
        if "live" in message:
            self.last = live_stats(message["live"])
            combiner.add(self.outcome.number, self.last)
        elif "ready" in message:
            self.ready = True
            self.settled.set()
        elif "error" in message:
            self.error = str(message["error"])
            self.settled.set()
        elif "failed" in message:
            control.fail(str(message["failed"]))
        elif "result" in message:
            self.outcome.recording = Recording.from_dict(message["result"])


async def _spawn(outcome: WorkerOutcome) -> _Worker:
    path = os.environ.get("PYTHONPATH")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PACKAGE_ROOT), path]))}
    process = await anyio.open_process(
        [sys.executable, "-c", WORKER_MAIN],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=None,  # the worker's own errors reach the console
        env=env,
        start_new_session=True,
    )
    outcome.pid = process.pid
    return _Worker(outcome, process)


async def _until_settled(workers: Sequence[_Worker], control: RunControl) -> None:
    """Until every worker is ready or has failed, or the run is stopped."""
    async with anyio.create_task_group() as tg:

        async def stop_when_asked() -> None:
            await control.stop.wait()
            tg.cancel_scope.cancel()

        tg.start_soon(stop_when_asked)
        with anyio.move_on_after(START_TIMEOUT_S):
            for worker in workers:
                await worker.settled.wait()
        tg.cancel_scope.cancel()


def _not_started(workers: Sequence[_Worker], control: RunControl) -> RunError | None:
    if control.stop.is_set():
        return RunError(f"{control.reason} before the load started")
    for worker in workers:
        if worker.error is not None:
            return RunError(f"{worker.outcome.name}: {worker.error}")
        if worker.ended is not None:
            return RunError(f"{worker.outcome.name} {worker.ended} before the load started")
        if not worker.ready:
            return RunError(f"{worker.outcome.name} was not ready within {START_TIMEOUT_S:g}s")
    return None


async def _relay_stop(workers: Sequence[_Worker], control: RunControl) -> None:
    await control.stop.wait()
    for worker in workers:
        await worker.send({"stop": control.reason})


async def _watchdog(workers: Sequence[_Worker], limit_s: float) -> None:
    await anyio.sleep(limit_s)
    for worker in workers:
        if worker.process.returncode is None:
            worker.error = f"did not finish within {limit_s:.0f}s of the start and was killed"
            worker.outcome.death = f"{worker.outcome.name} {worker.error}"
            worker.kill()


def _finish_limit_s(spec: Spec, duration_ns: int) -> float:
    timeouts = [ep.timeout.seconds for ep in spec.endpoints.values() if ep.timeout is not None]
    timeouts += [ch.timeout.seconds for ch in spec.channels.values()]
    longest = max([spec.target.timeout.seconds, *timeouts])
    graceful = max(s.load.graceful_stop.seconds for s in spec.scenarios.values())
    return duration_ns / NS_PER_S + graceful + longest + FINISH_SLACK_S


async def run_workers_async(
    spec: AnySpec,
    segments: Sequence[Segment],
    *,
    engine: str | None = None,
    progress: Progress | None = None,
    control: RunControl | None = None,
    handle_signals: bool = False,
    on_start: Callable[[], None] | None = None,
    tables: Mapping[str, Table] | None = None,
) -> list[WorkerOutcome]:
    """Check the target once (then call ``on_start``), run one worker per segment from one
    start instant, and return how each ended. RunError when the run could not start (the
    checks failed, a worker could not prepare its share, or the run was stopped before the
    load)."""
    control = control or RunControl()
    workers: list[_Worker] = []

    def kill_all() -> None:
        for worker in workers:
            worker.kill()

    try:
        async with anyio.create_task_group() as tg:
            if handle_signals:
                tg.start_soon(watch_signals, control, kill_all)
            job = Job(as_format2(spec), Segment(), engine, control.fail_fast, tables=tables)
            failure = await _carry_out(job, segments, progress, control, workers, on_start)
            tg.cancel_scope.cancel()
    finally:
        kill_all()  # only ever needed when something above failed unexpectedly
    if failure is not None:
        raise failure
    return [worker.outcome for worker in workers]


async def _carry_out(
    base: Job,
    segments: Sequence[Segment],
    progress: Progress | None,
    control: RunControl,
    workers: list[_Worker],
    on_start: Callable[[], None] | None,
) -> RunError | None:
    """``base``'s job carried by one worker per segment, from the checks to the end."""
    spec = base.spec
    try:
        await check_before_load(spec, control)
        if spec.target.process is not None and not remote_process(spec.target):
            find_process(spec.target.process)  # the first worker samples it
    except RunError as exc:
        return exc
    if on_start is not None:
        on_start()
    count = len(segments)
    combiner = LiveCombiner(range(1, count + 1), progress)
    failure: RunError | None = None
    async with anyio.create_task_group() as crew:
        for number, segment in enumerate(segments, 1):
            worker = await _spawn(WorkerOutcome(number, count, segment))
            workers.append(worker)
            crew.start_soon(worker.listen, combiner, control)
            job = replace(base, segment=segment, sample_process=number == 1)
            await worker.send(job.message())
        await _until_settled(workers, control)
        failure = _not_started(workers, control)
        if failure is not None:
            for worker in workers:
                await worker.close_input()  # a worker that reads the end of its input leaves
            with anyio.move_on_after(START_TIMEOUT_S):
                for worker in workers:
                    await worker.process.wait()
            for worker in workers:
                worker.kill()  # one that did not leave by then
            return failure
        start_ns = time.monotonic_ns() + START_MARGIN_NS
        for worker in workers:
            worker.started_ns = start_ns
            await worker.send({"start_ns": start_ns})
        async with anyio.create_task_group() as steering:
            steering.start_soon(_relay_stop, workers, control)
            duration_ns = build_plan(spec, segments[0], base.tables).duration_ns
            steering.start_soon(_watchdog, workers, _finish_limit_s(spec, duration_ns))
            for worker in workers:
                await worker.settled.wait()
                await worker.process.wait()
            steering.cancel_scope.cancel()
    return failure


def run_workers(
    spec: AnySpec,
    segments: Sequence[Segment],
    *,
    engine: str | None = None,
    progress: Progress | None = None,
    control: RunControl | None = None,
    handle_signals: bool = True,
    on_start: Callable[[], None] | None = None,
    tables: Mapping[str, Table] | None = None,
) -> list[WorkerOutcome]:
    """:func:`run_workers_async` in a fresh event loop (uvloop when installed)."""

    async def main() -> list[WorkerOutcome]:
        return await run_workers_async(
            spec,
            segments,
            engine=engine,
            progress=progress,
            control=control,
            handle_signals=handle_signals,
            on_start=on_start,
            tables=tables,
        )

    return anyio.run(main, backend="asyncio", backend_options={"use_uvloop": has_uvloop()})


__all__ = ["WorkerOutcome", "run_workers", "run_workers_async"]
