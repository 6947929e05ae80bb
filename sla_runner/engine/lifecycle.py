"""The run lifecycle: one run of a plan, from the first request to the Recording.

The :class:`Engine` runs ``before`` and builds each scenario's executor before the clock
starts (:mod:`~sla_runner.engine.assemble`: a scenario that sends the same request every
time, as every version-1 spec does, is compiled once; any other goes through the step
layer), then runs them side by side on one clock and one recorder
(:mod:`~sla_runner.engine.users` for a closed scenario, :mod:`~sla_runner.engine.arrivals`
for an open one), each writing to its scenario's sink.
Around the load, in this one place: the background samplers (the service's process, the
generator's own health), progress once a second, fail-fast, the stop (a short grace, then a
hard stop), the drain's length, and the garbage collector's policy while the load runs
(:mod:`~sla_runner.engine.collector`). The Engine is handed the recorder it writes to and closes it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import anyio
from anyio.abc import TaskGroup

from sla_runner import numbers
from sla_runner.engine.assemble import channels_of, executor_for, scenario_steps, static_parts
from sla_runner.engine.assemble import prepare as prepare_steps
from sla_runner.engine.before import compile_before, run_before
from sla_runner.engine.collector import load_collections
from sla_runner.engine.control import Progress, RunControl
from sla_runner.engine.executor import CONTROL_TICK_S, Executor, RunContext
from sla_runner.engine.layer import make_dealers
from sla_runner.engine.sampler import find_process, sample_process, watch_generator
from sla_runner.engine.sources import remote_process, run_sources
from sla_runner.engine.steps import StepCompiler
from sla_runner.engine.transports import make_transport
from sla_runner.errors import RunError
from sla_runner.metrics.recorder import Recorder
from sla_runner.metrics.recording import Recording
from sla_runner.plan import Plan
from sla_runner.spec.convert import AnySpec, as_format2
from sla_runner.spec.data import DataError, Dealer, Table
from sla_runner.timeunits import NS_PER_S

STOP_GRACE_MAX_S = 1.5  # a run stopped early gives what is in flight this long at most
SECOND_CLOSE_DELAY_S = 0.01  # after a second's end, before it is closed for the streams


class Engine:
    """One run of ``plan``. ``recorder``: the sink the run writes to (by default a new one
    for the plan); ``run`` closes it into the Recording."""

    def __init__(
        self,
        spec: AnySpec,
        plan: Plan,
        *,
        recorder: Recorder | None = None,
        engine: str | None = None,
        progress: Progress | None = None,
        control: RunControl | None = None,
        seed: int | None = None,
        tables: Mapping[str, Table] | None = None,
    ) -> None:
        spec = as_format2(spec)
        self.spec = spec
        self.plan = plan
        self.recorder = recorder if recorder is not None else Recorder(plan)
        self.control = control or RunControl()
        self._progress = progress
        transport = self._transport = make_transport(spec.target, engine=engine)
        self._tables = tables if tables is not None else {}
        self._seed = seed
        self._prepared = False
        # Compiled and handed to the transport now, before the clock starts: a static
        # scenario's executor at once; a scenario of steps once before has run (prepare).
        self._compiler = StepCompiler(spec)
        self._executors: list[Executor | None] = []
        self._channels = [channels_of(spec, t.name) for t in plan.scenarios]
        for timeline, channels in zip(plan.scenarios, self._channels, strict=True):
            requests = static_parts(spec, timeline.name)
            if requests is None:
                prepare_steps(transport, self._compiler, spec, timeline.name)
                self._executors.append(None)
                continue
            transport.prepare(requests.values())
            self._executors.append(executor_for(spec, timeline, requests, channels, seed=seed))
        # In-flight requests always get to finish or time out at the end, so the slowest
        # requests are never the ones left out of the figures.
        timeouts = [spec.target.timeout, *(e.timeout for e in spec.endpoints.values())]
        longest = max(t.seconds for t in timeouts if t is not None)
        channel_timeouts = [c.timeout.seconds for c in spec.channels.values()]
        graceful = max(s.load.graceful_stop.seconds for s in spec.scenarios.values())
        drain_s = max(graceful, longest, *channel_timeouts) + 0.5
        self._grace_s = min(graceful, STOP_GRACE_MAX_S)
        self._contexts = [
            RunContext(self.now, self.recorder.scenario(i), transport, self.control, drain_s)
            for i in range(len(plan.scenarios))
        ]
        self._t0 = time.monotonic_ns()
        self._stopped_ns: int | None = None  # when a stop was asked for, if it was
        # Before any load: a process that cannot be found is a RunError the caller reports.
        selector = spec.target.process
        local = selector is not None and not remote_process(spec.target)
        self._process = find_process(selector) if selector is not None and local else None

    def now(self) -> int:
        return time.monotonic_ns() - self._t0

    async def prepare(self) -> None:
        """Before the clock starts: run ``before`` (a failing step is a RunError), then
        give each scenario that needs the step layer its executor, its users starting
        with what ``before`` extracted. ``run`` does it when the caller has not."""
        if self._prepared:
            return
        self._prepared = True
        spec, plan, transport, seed = self.spec, self.plan, self._transport, self._seed
        shared: dict[str, Any] = {}
        if spec.before:
            shared = await run_before(spec, compile_before(spec), transport, seed=seed)
        dealers: dict[str, Dealer] | None = None
        for i, timeline in enumerate(plan.scenarios):
            if self._executors[i] is not None:
                continue
            if dealers is None:
                try:
                    dealers = make_dealers(self._tables, plan.segment)
                except DataError as exc:
                    raise RunError(str(exc)) from None
            work = scenario_steps(spec, timeline.name, dealers, shared, self._compiler, seed)
            channels = self._channels[i]
            self._executors[i] = executor_for(spec, timeline, {}, channels, seed=seed, steps=work)

    @property
    def executors(self) -> list[Executor]:
        """Each scenario's executor, in the plan's order (once prepared)."""
        return [e for e in self._executors if e is not None]

    async def run(self, *, start_at_ns: int | None = None) -> Recording:
        """Drive the plan to its end (or until stopped) and return what was measured.

        ``start_at_ns``: the ``time.monotonic_ns()`` instant the run's clock starts at (it
        waits until then, once prepared): the workers of one run share it, so their
        timelines line up second by second and merge exactly (the clock is the same for
        every process of a host)."""
        plan = self.plan
        await self.prepare()
        if start_at_ns is not None:
            await anyio.sleep(max(start_at_ns - time.monotonic_ns(), 0) / NS_PER_S)
        with load_collections():
            started_at = time.time()
            elapsed = await self._drive(start_at_ns)
        stopped = self._stopped_ns
        if self.control.stop.is_set():
            at = elapsed if stopped is None else stopped
            self.recorder.note(
                # Spelled as the skip reasons and the verdict's message spell the same stop.
                f"the run stopped after {numbers.number(at / NS_PER_S)}s of the "
                f"{numbers.number(plan.duration_ns / NS_PER_S)}s run: "
                f"{self.control.reason}"
            )
        for timeline, executor in zip(plan.scenarios, self.executors, strict=True):
            if executor.refused:
                who = "users" if timeline.model == "closed" else "arrivals"
                self.recorder.note(
                    f"{executor.refused} {who} of scenario {timeline.name} were not started: "
                    "a unique data table ran out of rows"
                )
        interrupted = sum(ctx.interrupted for ctx in self._contexts)
        if interrupted:
            self.recorder.note(
                f"{interrupted} requests were still in flight at the hard stop and are not counted"
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
            if self.recorder.tap is not None:
                self.recorder.tap.started_at = time.time()
                background.start_soon(self._close_seconds)
            background.start_soon(watch_generator, self.recorder)
            background.start_soon(self._report_progress)
            if process is not None and selector is not None:
                interval = selector.interval.seconds
                background.start_soon(sample_process, process, interval, self.recorder, self.now)
            run_sources(background, self.spec.target, self.recorder, self.now)
            if self.control.fail_fast:
                background.start_soon(self._fail_fast)
            async with anyio.create_task_group() as load:
                load.start_soon(self._stop_when_asked, load)
                async with anyio.create_task_group() as executors:
                    for executor, ctx in zip(self.executors, self._contexts, strict=True):
                        executors.start_soon(executor.run, ctx)
                load.cancel_scope.cancel()
            background.cancel_scope.cancel()
        return self.now()

    async def _stop_when_asked(self, load: TaskGroup) -> None:
        await self.control.stop.wait()
        self._stopped_ns = self.now()  # the load stops here; what follows is grace
        # Stopped early: users and in-flight arrivals get a short grace, then everything
        # is cancelled.
        with anyio.move_on_after(self._grace_s):
            while any(executor.active for executor in self.executors):
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

    async def _close_seconds(self) -> None:
        """Close each second of the timeline just after it ends, so the streams get it then
        (the recorder otherwise closes a second when the next operation completes)."""
        while True:
            now = self.now()
            await anyio.sleep((NS_PER_S - now % NS_PER_S) / NS_PER_S + SECOND_CLOSE_DELAY_S)
            self.recorder.live(self.now())

    async def _report_progress(self) -> None:
        if self._progress is None:
            return
        while True:
            await anyio.sleep(1.0)
            self._progress(self.recorder.live(self.now()))
