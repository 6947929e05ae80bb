"""Plan → Recording: one anyio task group drives the load the plan describes.

Closed model: a controller keeps ``plan.users_at(t)`` virtual users alive. Each user
has its own HTTP session (its own connection, as a real client has), holds every
declared channel open, and loops over the endpoint mix with think time. Users leaving
on a ramp-down finish their current request first, but stop thinking at once.

Open model: a pacer starts arrival ``k`` at its due time (``plan.segment_arrival``),
on one shared session; latency is measured from the due time, not from when the
generator got round to it, so a slow generator cannot hide a slow service
(coordinated omission). Arrivals that find ``max_in_flight`` requests open are
dropped and counted; arrivals started later than ``LATE_BOUND_NS`` are counted late.
"""

from __future__ import annotations

import gc
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import anyio
from anyio.abc import TaskGroup

from sla_runner.engine.http.outcome import Outcome, Result
from sla_runner.engine.http.request import HttpRequest, compile_request
from sla_runner.engine.http.session import HttpSession, HttpTransport
from sla_runner.engine.sampler import find_process, sample_process, watch_generator
from sla_runner.engine.transports import make_transport
from sla_runner.engine.ws import WsChannel, compile_channel, run_channel
from sla_runner.metrics.recorder import LiveStats, Recorder
from sla_runner.metrics.recording import Recording
from sla_runner.plan import Plan
from sla_runner.spec.models import Spec

CONTROL_TICK_S = 0.01  # how often the closed-model controller adjusts the users
LATE_BOUND_NS = 10_000_000  # an arrival started more than 10 ms after its due time is late
# uvloop's timers count whole milliseconds: a sleep ends up to ~1 ms off. The open-model
# pacer aims this much before the due time, so a send is rarely more than 0.5 ms late;
# one sent early is timed from its actual send (see ``arrival``).
TIMER_SLACK_NS = 500_000
TIMED = frozenset({Outcome.OK, Outcome.STATUS, Outcome.BODY_MISMATCH, Outcome.TIMEOUT})
# A closed-model user whose connection was refused or reset pauses before its next request,
# as a real client does: 10 ms, doubling up to its think time (1 s when it has none), back
# to 10 ms after any answer. A dead service must not turn the users into a busy loop.
BACKOFF_FIRST_S = 0.01
BACKOFF_MAX_S = 1.0

Progress = Callable[[LiveStats], None]


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


@dataclass
class _User:
    uid: int
    leaving: anyio.Event = field(default_factory=anyio.Event)


class _WsSink:
    """Routes the WebSocket client's reports into the recorder."""

    def __init__(self, recorder: Recorder, clock: Callable[[], int]) -> None:
        self._recorder = recorder
        self._clock = clock

    def connect(self, name: str, outcome_key: str, latency_ns: int | None) -> None:
        end = self._clock()
        start = end - (latency_ns or 0)
        self._recorder.request("ws_connect", name, outcome_key, latency_ns, start, end)

    def round_trip(self, name: str, outcome_key: str, latency_ns: int | None) -> None:
        end = self._clock()
        start = end - (latency_ns or 0)
        self._recorder.request("ws", name, outcome_key, latency_ns, start, end)

    def reconnect(self, name: str) -> None:
        self._recorder.reconnect(name)


class Engine:
    def __init__(
        self,
        spec: Spec,
        plan: Plan,
        *,
        engine: str | None = None,
        progress: Progress | None = None,
        control: RunControl | None = None,
        seed: int | None = None,
    ) -> None:
        self.spec = spec
        self.plan = plan
        self.recorder = Recorder(plan)
        self.control = control or RunControl()
        self._progress = progress
        self._transport: HttpTransport = make_transport(spec.target, engine=engine)
        self._requests: dict[str, HttpRequest] = {
            name: compile_request(name, ep, spec.target) for name, ep in spec.endpoints.items()
        }
        self._transport.prepare(self._requests.values())
        self._channels: list[WsChannel] = [
            compile_channel(name, ch, spec.target) for name, ch in spec.channels.items()
        ]
        self._sink = _WsSink(self.recorder, self.now)
        self._rng = random.Random(seed)
        self._t0 = time.monotonic_ns()
        self._held = 0  # closed model: users running
        self._in_flight = 0  # open model: requests sent and not yet answered
        self._interrupted = 0
        self._stopped_ns: int | None = None  # when a stop was asked for, if it was
        # Before any load: a process that cannot be found is a RunError the caller reports.
        selector = spec.target.process
        self._process = find_process(selector) if selector is not None else None
        # In-flight requests always get to finish or time out at the end, so the slowest
        # requests are never the ones left out of the figures.
        longest = max(
            [spec.target.timeout.seconds, *(r.timeout_s for r in self._requests.values())]
        )
        channel_timeouts = [c.timeout.seconds for c in spec.channels.values()]
        self._drain_s = max(spec.load.graceful_stop.seconds, longest, *channel_timeouts) + 0.5

    def now(self) -> int:
        return time.monotonic_ns() - self._t0

    async def run(self) -> Recording:
        """Drive the plan to its end (or until stopped) and return what was measured."""
        plan = self.plan
        gc.freeze()  # what exists before the load is never garbage: keep it out of full GCs
        try:
            started_at = time.time()
            elapsed = await self._drive()
        finally:
            gc.unfreeze()  # also when the run raised: a library caller's objects are collected
        stopped = self._stopped_ns
        if self.control.stop.is_set():
            at = elapsed if stopped is None else stopped
            self.recorder.note(
                f"the run stopped at {at / 1e9:.1f}s of {plan.duration_ns / 1e9:g}s: "
                f"{self.control.reason}"
            )
        if self._interrupted:
            self.recorder.note(
                f"{self._interrupted} requests were still in flight at the hard stop "
                "and are not counted"
            )
        return self.recorder.close(
            elapsed_ns=elapsed,
            started_at=started_at,
            finished_at=time.time(),
            aborted=self.control.stop.is_set(),
            stopped_ns=stopped,
        )

    async def _drive(self) -> int:
        """The load and its background tasks; the nanoseconds it took."""
        spec, plan, process = self.spec, self.plan, self._process
        self._t0 = time.monotonic_ns()
        async with anyio.create_task_group() as background:
            background.start_soon(watch_generator, self.recorder)
            background.start_soon(self._report_progress)
            if process is not None and spec.target.process is not None:
                interval = spec.target.process.interval.seconds
                background.start_soon(sample_process, process, interval, self.recorder, self.now)
            if self.control.fail_fast:
                background.start_soon(self._fail_fast)
            async with anyio.create_task_group() as load:
                load.start_soon(self._stop_when_asked, load)
                if plan.model == "closed":
                    await self._drive_closed(load)
                else:
                    await self._drive_open()
                await self._wind_down(load)
            background.cancel_scope.cancel()
        return self.now()

    # -- closed model -------------------------------------------------------------------

    async def _drive_closed(self, tg: TaskGroup) -> None:
        plan, users = self.plan, list[_User]()
        next_uid = 0
        while not self.control.stop.is_set():
            now = self.now()
            if now >= plan.duration_ns:
                break
            want = plan.users_at(now)
            while len(users) < want:
                user = _User(next_uid)
                next_uid += 1
                users.append(user)
                tg.start_soon(self._user, user)
            while len(users) > want:
                users.pop().leaving.set()
            self.recorder.users(self._held, now)
            await anyio.sleep(CONTROL_TICK_S)
        for user in users:
            user.leaving.set()

    async def _user(self, user: _User) -> None:
        session = self._transport.session(connections=1)
        self._held += 1
        try:
            async with anyio.create_task_group() as tg:
                for channel in self._channels:
                    tg.start_soon(self._channel, channel, user)
                if self._requests:
                    await self._iterate(session, user)
                # A user of channels alone holds them until it leaves, or until every
                # channel has given up reconnecting: then it holds nothing and is not counted.
        finally:
            self._held -= 1
            self.recorder.users(self._held, self.now())  # also after the controller stopped
            with anyio.CancelScope(shield=True):
                await session.aclose()

    async def _channel(self, channel: WsChannel, user: _User) -> None:
        await run_channel(channel, self._sink, stop=user.leaving)

    async def _iterate(self, session: HttpSession, user: _User) -> None:
        plan, requests = self.plan, self._requests
        think = self.spec.load.think_time
        lo, hi = think.min.seconds, think.max.seconds
        ok, refused, reset = Outcome.OK, Outcome.CONNECT_ERROR, Outcome.RESET
        longest = hi if hi > 0 else BACKOFF_MAX_S
        first = backoff = min(BACKOFF_FIRST_S, longest)
        i = user.uid
        while not user.leaving.is_set():
            request = requests[plan.endpoint_for(i)]
            i += 1
            start = self.now()
            result = await self._send(session, request)
            self._record(request, result, start, start)
            if result.outcome is not ok:  # the one check a success pays
                if result.outcome is refused or result.outcome is reset:
                    if user.leaving.is_set():
                        break
                    self.recorder.backoff()
                    with anyio.move_on_after(backoff):  # not timed: the next request starts after
                        await user.leaving.wait()
                    backoff = min(backoff * 2, longest)
                else:  # answered: the connection works
                    backoff = first
            else:
                backoff = first
            if hi > 0:  # think, unless told to leave meanwhile
                with anyio.move_on_after(lo if lo == hi else self._rng.uniform(lo, hi)):
                    await user.leaving.wait()

    # -- open model ---------------------------------------------------------------------

    async def _drive_open(self) -> None:
        plan, recorder = self.plan, self.recorder
        limit = self.spec.load.max_in_flight
        session = self._transport.session(connections=limit)

        async def arrival(request: HttpRequest, due: int) -> None:
            # From the due time when the send was late (no coordinated omission); from
            # the send itself when the loop's timer fired it a little early.
            start = min(self.now(), due)
            try:
                result = await self._send(session, request)
            finally:
                self._in_flight -= 1
            end = self._record(request, result, start, due)
            recorder.users(self._in_flight, end)  # what a quiet second after it carries

        n = 0
        try:
            async with anyio.create_task_group() as arrivals:
                try:
                    while not self.control.stop.is_set():
                        nxt = plan.segment_arrival(n)
                        if nxt is None:
                            # No more arrivals, but the plan may go on (a cool-down at 0/s,
                            # sampled like any stage): so does the run, unless stopped.
                            with anyio.move_on_after(max(plan.duration_ns - self.now(), 0) / 1e9):
                                await self.control.stop.wait()
                            break
                        k, due = nxt
                        now = self.now()
                        if due - now > TIMER_SLACK_NS:
                            await anyio.sleep((due - now - TIMER_SLACK_NS) / 1e9)
                            if self.control.stop.is_set():
                                break  # stopped while it waited: this arrival is not made
                            now = self.now()
                        n += 1  # an arrival is planned once it is started or dropped
                        if self._in_flight >= limit:
                            recorder.dropped(now)
                            continue
                        lateness = now - due
                        recorder.send_lateness(lateness, now, late=lateness > LATE_BOUND_NS)
                        self._in_flight += 1
                        recorder.users(self._in_flight, now)
                        arrivals.start_soon(arrival, self._requests[plan.arrival_endpoint(k)], due)
                finally:
                    recorder.generator.planned = n  # also when stopped early
                await self._drain(lambda: self._in_flight == 0)
                arrivals.cancel_scope.cancel()  # before the session closes under them
        finally:
            with anyio.CancelScope(shield=True):
                await session.aclose()

    async def _send(self, session: HttpSession, request: HttpRequest) -> Result:
        try:
            return await session.send(request)
        except anyio.get_cancelled_exc_class():
            self._interrupted += 1
            raise

    def _record(self, request: HttpRequest, result: Result, timed_from: int, due: int) -> int:
        """One request done: timed from ``timed_from`` if it got an answer or timed out.
        Returns when it was done."""
        end = self.now()
        latency = end - timed_from if result.outcome in TIMED else None
        self.recorder.request("http", request.name, result.key, latency, due, end)
        return end

    # -- ending ----------------------------------------------------------------------------

    async def _drain(self, done: Callable[[], bool]) -> None:
        """Let in-flight work finish: ``load.graceful_stop``, and at least the longest timeout."""
        with anyio.move_on_after(self._drain_s):
            while not done():
                await anyio.sleep(CONTROL_TICK_S)

    async def _wind_down(self, load: TaskGroup) -> None:
        if self.plan.model == "closed":
            await self._drain(lambda: self._held == 0)
        load.cancel_scope.cancel()

    async def _stop_when_asked(self, load: TaskGroup) -> None:
        await self.control.stop.wait()
        self._stopped_ns = self.now()  # the load stops here; what follows is grace
        # Stopped early: users and in-flight arrivals get a short grace, then everything
        # is cancelled.
        with anyio.move_on_after(min(self.spec.load.graceful_stop.seconds, 1.5)):
            while self._held or self._in_flight:
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
