"""The run lifecycle: one run of a plan, from the first request to the Recording.

The :class:`Engine` compiles the spec's requests and channels, prepares the transport
before the clock starts, and runs its executor (:mod:`~sla_runner.engine.users` for the
closed model, :mod:`~sla_runner.engine.arrivals` for the open one) with the run's shared
context. Around the load, in this one place: the background samplers (the service's
process, the generator's own health), progress once a second, fail-fast, the stop (a short
grace, then a hard stop), the drain's length, and the garbage collector kept off what
existed before the load. The Engine is handed the recorder it writes to and closes it.
"""

from __future__ import annotations

import gc
import time

import anyio
from anyio.abc import TaskGroup

from sla_runner import numbers
from sla_runner.engine.arrivals import OpenArrivals
from sla_runner.engine.control import Progress, RunControl
from sla_runner.engine.executor import CONTROL_TICK_S, Executor, RunContext
from sla_runner.engine.http.request import HttpRequest, compile_request
from sla_runner.engine.sampler import find_process, sample_process, watch_generator
from sla_runner.engine.transports import make_transport
from sla_runner.engine.users import ClosedUsers
from sla_runner.engine.ws import WsChannel, compile_channel
from sla_runner.metrics.recorder import Recorder
from sla_runner.metrics.recording import Recording
from sla_runner.plan import Plan
from sla_runner.spec.models import Spec
from sla_runner.timeunits import NS_PER_S

STOP_GRACE_MAX_S = 1.5  # a run stopped early gives what is in flight this long at most


def executor_for(
    spec: Spec,
    plan: Plan,
    requests: dict[str, HttpRequest],
    channels: list[WsChannel],
    *,
    seed: int | None = None,
) -> Executor:
    """The executor of the plan's load model."""
    load = spec.load
    if plan.model == "closed":
        think = (load.think_time.min.seconds, load.think_time.max.seconds)
        return ClosedUsers(plan, requests, channels, think, seed=seed)
    return OpenArrivals(plan, requests, load.max_in_flight)


class Engine:
    """One run of ``plan``. ``recorder``: the sink the run writes to (by default a new one
    for the plan); ``run`` closes it into the Recording."""

    def __init__(
        self,
        spec: Spec,
        plan: Plan,
        *,
        recorder: Recorder | None = None,
        engine: str | None = None,
        progress: Progress | None = None,
        control: RunControl | None = None,
        seed: int | None = None,
    ) -> None:
        self.spec = spec
        self.plan = plan
        self.recorder = recorder if recorder is not None else Recorder(plan)
        self.control = control or RunControl()
        self._progress = progress
        transport = make_transport(spec.target, engine=engine)
        requests = {
            name: compile_request(name, ep, spec.target) for name, ep in spec.endpoints.items()
        }
        transport.prepare(requests.values())
        channels = [compile_channel(name, ch, spec.target) for name, ch in spec.channels.items()]
        # One executor per run today; scenarios will each bring their own, run side by side
        # on this recorder and clock.
        self._executors = [executor_for(spec, plan, requests, channels, seed=seed)]
        # In-flight requests always get to finish or time out at the end, so the slowest
        # requests are never the ones left out of the figures.
        longest = max([spec.target.timeout.seconds, *(r.timeout_s for r in requests.values())])
        channel_timeouts = [c.timeout.seconds for c in spec.channels.values()]
        drain_s = max(spec.load.graceful_stop.seconds, longest, *channel_timeouts) + 0.5
        self._ctx = RunContext(self.now, self.recorder, transport, self.control, drain_s)
        self._t0 = time.monotonic_ns()
        self._stopped_ns: int | None = None  # when a stop was asked for, if it was
        # Before any load: a process that cannot be found is a RunError the caller reports.
        selector = spec.target.process
        self._process = find_process(selector) if selector is not None else None

    def now(self) -> int:
        return time.monotonic_ns() - self._t0

    async def run(self, *, start_at_ns: int | None = None) -> Recording:
        """Drive the plan to its end (or until stopped) and return what was measured.

        ``start_at_ns``: the ``time.monotonic_ns()`` instant the run's clock starts at (it
        waits until then): the workers of one run share it, so their timelines line up
        second by second and merge exactly (the clock is the same for every process of a
        host)."""
        plan = self.plan
        if start_at_ns is not None:
            await anyio.sleep(max(start_at_ns - time.monotonic_ns(), 0) / NS_PER_S)
        gc.freeze()  # what exists before the load is never garbage: keep it out of full GCs
        try:
            started_at = time.time()
            elapsed = await self._drive(start_at_ns)
        finally:
            gc.unfreeze()  # also when the run raised: a library caller's objects are collected
        stopped = self._stopped_ns
        if self.control.stop.is_set():
            at = elapsed if stopped is None else stopped
            self.recorder.note(
                # Spelled as the skip reasons and the verdict's message spell the same stop.
                f"the run stopped after {numbers.number(at / NS_PER_S)}s of the "
                f"{numbers.number(plan.duration_ns / NS_PER_S)}s run: "
                f"{self.control.reason}"
            )
        if self._ctx.interrupted:
            self.recorder.note(
                f"{self._ctx.interrupted} requests were still in flight at the hard stop "
                "and are not counted"
            )
        return self.recorder.close(
            elapsed_ns=elapsed,
            started_at=started_at,
            finished_at=time.time(),
            aborted=self.control.stop.is_set(),
            stopped_ns=stopped,
        )

    async def _drive(self, start_at_ns: int | None) -> int:
        """The load and its background tasks; the nanoseconds it took."""
        process, selector = self._process, self.spec.target.process
        self._t0 = time.monotonic_ns() if start_at_ns is None else start_at_ns
        async with anyio.create_task_group() as background:
            background.start_soon(watch_generator, self.recorder)
            background.start_soon(self._report_progress)
            if process is not None and selector is not None:
                interval = selector.interval.seconds
                background.start_soon(sample_process, process, interval, self.recorder, self.now)
            if self.control.fail_fast:
                background.start_soon(self._fail_fast)
            async with anyio.create_task_group() as load:
                load.start_soon(self._stop_when_asked, load)
                async with anyio.create_task_group() as executors:
                    for executor in self._executors:
                        executors.start_soon(executor.run, self._ctx)
                load.cancel_scope.cancel()
            background.cancel_scope.cancel()
        return self.now()

    async def _stop_when_asked(self, load: TaskGroup) -> None:
        await self.control.stop.wait()
        self._stopped_ns = self.now()  # the load stops here; what follows is grace
        # Stopped early: users and in-flight arrivals get a short grace, then everything
        # is cancelled.
        with anyio.move_on_after(min(self.spec.load.graceful_stop.seconds, STOP_GRACE_MAX_S)):
            while any(executor.active for executor in self._executors):
                await anyio.sleep(CONTROL_TICK_S)
        load.cancel_scope.cancel()

    async def _fail_fast(self) -> None:
        """Stop the run once a whole second ends with attempts completed and none succeeded."""
        before = self.recorder.live(self.now())
        while True:
            await anyio.sleep(1.0)
            now = self.recorder.live(self.now())
            attempts = now.done - before.done
            if attempts and now.errors - before.errors == attempts:
                self.control.fail(
                    f"--fail-fast: none of the {attempts} requests and round trips that "
                    f"completed in the second before {now.elapsed_s:.1f}s succeeded"
                )
                return
            before = now

    async def _report_progress(self) -> None:
        if self._progress is None:
            return
        while True:
            await anyio.sleep(1.0)
            self._progress(self.recorder.live(self.now()))
