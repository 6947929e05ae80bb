"""The engine's entry point: preflight checks, signals, the event loop, then the Engine,
handed the recorder it writes to."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Mapping
from importlib.util import find_spec

import anyio

from sla_runner.engine.control import Progress, RunControl
from sla_runner.engine.lifecycle import Engine
from sla_runner.engine.preflight import check_target, ensure_descriptors
from sla_runner.engine.sources import check_sources
from sla_runner.errors import RunError
from sla_runner.metrics.recorder import Recorder
from sla_runner.metrics.recording import Recording
from sla_runner.metrics.tap import Tap
from sla_runner.plan import Plan, connections_needed
from sla_runner.spec.convert import AnySpec as Spec
from sla_runner.spec.data import Table


def has_uvloop() -> bool:
    return sys.platform != "win32" and find_spec("uvloop") is not None


async def watch_signals(control: RunControl, on_quit: Callable[[], None] | None = None) -> None:
    """SIGINT or SIGTERM stops the run (``control.abort``); a second one quits at once,
    after ``on_quit`` (``run --workers``: the workers are killed)."""
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for signum in signals:
            name = signal.Signals(signum).name
            if control.stop.is_set():  # a second Ctrl-C: leave at once
                if on_quit is not None:
                    on_quit()
                sys.stderr.write(f"\n{name} again: quit at once, no reports written\n")
                sys.stderr.flush()
                os._exit(128 + signum)
            control.abort(f"interrupted by {name}")
            sys.stderr.write(f"\n{name}: stopping users; press Ctrl-C again to quit at once\n")


async def execute_async(
    spec: Spec,
    plan: Plan,
    *,
    engine: str | None = None,
    progress: Progress | None = None,
    control: RunControl | None = None,
    handle_signals: bool = False,
    tap: Tap | None = None,
    tables: Mapping[str, Table] | None = None,
    on_start: Callable[[], None] | None = None,
) -> Recording:
    """Check the target answers as the run will use it, run ``before``, then run the plan to
    its end (or until stopped). ``on_start`` is called once the checks and ``before``
    passed, before any load.

    A signal during the checks (a connect can take up to ``connect_timeout``) ends them at
    once with a RunError, so the caller still writes its ``error`` reports.
    """
    control = control or RunControl()
    async with anyio.create_task_group() as tg:
        if handle_signals:
            tg.start_soon(watch_signals, control)
        try:  # a RunError leaves the task group as itself, not wrapped in an ExceptionGroup
            ensure_descriptors(connections_needed(spec, plan))
            await check_before_load(spec, control)
            recorder = Recorder(plan)
            recorder.tap = tap
            runner = Engine(
                spec,
                plan,
                recorder=recorder,
                engine=engine,
                progress=progress,
                control=control,
                tables=tables,
            )
            await runner.prepare()
            if on_start is not None:
                on_start()
        except RunError as exc:
            failure: RunError | None = exc
        else:
            failure = None
            recording = await runner.run()
        tg.cancel_scope.cancel()
    if failure is not None:
        raise failure
    return recording


async def check_before_load(spec: Spec, control: RunControl) -> None:
    """The pre-flight checks (:mod:`~sla_runner.engine.preflight`), cut short by a stop."""
    unreachable: RunError | None = None
    async with anyio.create_task_group() as tg:

        async def stop_when_asked() -> None:
            await control.stop.wait()
            tg.cancel_scope.cancel()

        tg.start_soon(stop_when_asked)
        try:
            await check_target(spec)
            await check_sources(spec.target)
        except RunError as exc:
            unreachable = exc
        tg.cancel_scope.cancel()
    if control.stop.is_set():
        raise RunError(f"{control.reason} before the load started")
    if unreachable is not None:
        raise unreachable


def execute(
    spec: Spec,
    plan: Plan,
    *,
    engine: str | None = None,
    progress: Progress | None = None,
    control: RunControl | None = None,
    handle_signals: bool = True,
    tap: Tap | None = None,
    on_start: Callable[[], None] | None = None,
    tables: Mapping[str, Table] | None = None,
) -> Recording:
    """Run the plan in a fresh event loop (uvloop when installed); ``tables``: the spec's
    data tables, loaded (:class:`~sla_runner.spec.document.LoadedSpec`); ``tap``: the
    streams'."""

    async def main() -> Recording:
        return await execute_async(
            spec,
            plan,
            engine=engine,
            progress=progress,
            control=control,
            handle_signals=handle_signals,
            tap=tap,
            on_start=on_start,
            tables=tables,
        )

    return anyio.run(main, backend="asyncio", backend_options={"use_uvloop": has_uvloop()})
