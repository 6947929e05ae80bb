"""psutil sampling: the service's process (memory, CPU) and the generator itself."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import anyio
import psutil

from sla_runner.errors import RunError
from sla_runner.metrics.recorder import Recorder
from sla_runner.spec.models import ProcessSelector

Clock = Callable[[], int]  # nanoseconds since the start of the run

LOOP_LAG_PROBE_S = 0.05
GENERATOR_CPU_EVERY_S = 0.5


def find_process(selector: ProcessSelector) -> psutil.Process:
    """The process a spec names, or a RunError saying what was looked for."""
    try:
        if selector.pid is not None:
            return psutil.Process(selector.pid)
        if selector.pid_file is not None:
            return _from_pid_file(Path(selector.pid_file))
        if selector.port is not None:
            return _listening_on(selector.port)
        assert selector.name is not None
        return _by_name(selector.name)
    except psutil.NoSuchProcess as exc:
        raise RunError(f"target.process: no process with pid {exc.pid}") from None
    except psutil.AccessDenied as exc:
        raise RunError(f"target.process: not allowed to read process {exc.pid}") from None


def _from_pid_file(path: Path) -> psutil.Process:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise RunError(f"target.process.pid_file: cannot read {path}: {exc.strerror}") from None
    if not text.isdigit():
        raise RunError(f"target.process.pid_file: {path} does not hold a pid (found {text[:20]!r})")
    return psutil.Process(int(text))


def _listening_on(port: int) -> psutil.Process:
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
            if conn.pid is None:
                raise RunError(
                    f"target.process.port: a process listens on port {port}, "
                    "but this user may not see which; give its pid instead"
                )
            return psutil.Process(conn.pid)
    raise RunError(f"target.process.port: no process is listening on port {port}")


def _by_name(name: str) -> psutil.Process:
    me = psutil.Process().pid
    found = []
    for proc in psutil.process_iter(["pid", "name", "cmdline"]):
        if proc.pid == me:
            continue
        cmdline = " ".join(proc.info.get("cmdline") or [])
        if proc.info.get("name") == name or (name in cmdline and "sla-runner" not in cmdline):
            found.append(proc)
    if not found:
        raise RunError(f"target.process.name: no process named or running {name!r}")
    if len(found) > 1:
        pids = ", ".join(str(p.pid) for p in found[:10])
        raise RunError(f"target.process.name: {name!r} matches {len(found)} processes ({pids})")
    return found[0]


async def sample_process(
    proc: psutil.Process, interval_s: float, recorder: Recorder, clock: Clock
) -> None:
    """Sample RSS and CPU until cancelled; a process that exits is noted, not fatal.

    An exited process its parent has not reaped yet (a zombie) still answers with zero
    memory: it counts as exited, or the memory thresholds would be judged on zeros. So does
    a pid that another process has taken since: status(), memory_info() and cpu_percent()
    read whatever process holds the pid now; is_running() compares its start time.
    """
    try:
        proc.cpu_percent(None)  # the first call primes the counter
        while True:
            await anyio.sleep(interval_s)
            with proc.oneshot():
                if not proc.is_running():
                    raise psutil.NoSuchProcess(proc.pid)
                if proc.status() == psutil.STATUS_ZOMBIE:
                    raise psutil.ZombieProcess(proc.pid)
                rss = proc.memory_info().rss
                cpu = proc.cpu_percent(None)
            now = clock()
            recorder.gauge("process.rss", rss, now)
            recorder.gauge("process.cpu", cpu, now)
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        recorder.note(
            f"the sampled process {proc.pid} exited at {clock() / 1e9:.1f}s; "
            "process thresholds are judged on the samples taken before"
        )


async def watch_generator(recorder: Recorder) -> None:
    """The generator's own health: event-loop lag (probe every 50 ms) and CPU."""
    me = psutil.Process()
    me.cpu_percent(None)
    next_cpu = time.monotonic() + GENERATOR_CPU_EVERY_S
    while True:
        before = time.monotonic_ns()
        await anyio.sleep(LOOP_LAG_PROBE_S)
        lag = time.monotonic_ns() - before - int(LOOP_LAG_PROBE_S * 1e9)
        recorder.loop_lag(max(lag, 0))
        if time.monotonic() >= next_cpu:
            recorder.generator_cpu(me.cpu_percent(None))
            next_cpu += GENERATOR_CPU_EVERY_S
