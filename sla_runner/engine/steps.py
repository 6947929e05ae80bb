"""One format-2 step for one user: compiled once (:func:`compile_steps`), sent per user
(:func:`send_step`).

A :class:`CompiledStep` is an endpoint's request, compiled before the clock starts
(:mod:`sla_runner.engine.render`: one static request, or the static parts and a renderer
per template), its ``extract`` and ``expect.json`` compiled
(:class:`~sla_runner.engine.extract.Extraction`), and the step's own think time. Only a
step that extracts or checks JSON keeps its response: the headers always, the body too
when an extractor or a check reads it, up to
:data:`~sla_runner.engine.http.request.MAX_CAPTURED_BODY` (1 MiB; a longer body fails the
step). A step that neither extracts nor checks, with nothing to fill, sends the one request
its endpoint compiled to, as a version-1 endpoint does.

:func:`send_step` fills the request from the user's :class:`~sla_runner.engine.state.UserState`
(a value nothing has set, or a header it cannot send: the step fails with ``not_sent``
and nothing is sent), sends it through the user's session with the user's cookie jar (if
any: every hop of a redirect sends and receives its cookies), then checks the final
response and stores what it extracts in ``state.variables``, all or nothing. It returns the
transport's :class:`~sla_runner.engine.http.outcome.Result`, or the step's own failure
(``extract_failed``, ``json_mismatch``, ``not_sent``): its ``key`` is the counter (``ok``,
``status_404``, ``timeout``, … ``extract_failed``, ``json_mismatch``, ``not_sent``), and
:func:`step_reason` gives a failure's short reason (for findings: ``extract order_id: regex
/orders/(\\d+) found nothing in the Location header``), asked only when a step failed, so a
success allocates nothing more than its result (:class:`StepResult` holds both, for
``before``). Reasons name the step's places and what the response lacked; they hold no
value the request was filled with. The caller times the call (the clock before and after)
and records it as it records any request (``step.name`` is the endpoint); a ``not_sent``
result went nowhere: no request to record, a failed step all the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sla_runner.engine.extract import Extraction
from sla_runner.engine.http.outcome import Captured, Outcome, Result
from sla_runner.engine.http.request import MAX_CAPTURED_BODY, HttpRequest
from sla_runner.engine.http.session import HttpSession
from sla_runner.engine.render import RequestMaker, UnsendableError, compile_endpoint
from sla_runner.engine.state import UserState
from sla_runner.spec.format2 import SpecV2, Step
from sla_runner.spec.templates import UnsetValueError

__all__ = [
    "CompiledStep",
    "StepCompiler",
    "StepResult",
    "compile_steps",
    "finish_step",
    "prepare_step",
    "send_step",
    "step_reason",
]


@dataclass(frozen=True, eq=False)
class CompiledStep:
    """One step, ready to send for any user.

    ``name``: the endpoint (the metric's scope). ``request``: the request as compiled: sent
    as is when ``maker`` is ``None``; otherwise its static parts (its URL and headers show
    the templates), for what must be known before any user exists (``transport.prepare``,
    timeouts, the drain). ``extraction``: the response's checks and extractions (``None``:
    the response is judged by status and ``body_contains`` alone). ``think_s``: the step's
    own think time, ``(min, max)`` in seconds (``None``: the scenario's)."""

    name: str
    request: HttpRequest
    maker: RequestMaker | None
    extraction: Extraction | None
    think_s: tuple[float, float] | None = None

    @property
    def static(self) -> bool:
        """The step sends one request for every user and keeps nothing of the response."""
        return self.maker is None and self.extraction is None


@dataclass(slots=True)
class StepResult:
    """What one step came to. ``result.key`` is the counter; ``reason`` one short line for
    a failure (``""`` on success); ``sent`` false when nothing was sent (``not_sent``)."""

    result: Result
    reason: str = ""
    sent: bool = True

    @classmethod
    def of(cls, step: CompiledStep, result: Result) -> StepResult:
        """What :func:`send_step`'s ``result`` for ``step`` comes to."""
        return cls(result, step_reason(step, result), result.outcome is not Outcome.NOT_SENT)

    @property
    def ok(self) -> bool:
        return self.result.outcome is Outcome.OK

    @property
    def response(self) -> Captured | None:
        """The final response as kept (a step that extracts or checks JSON, or ``before``)."""
        return self.result.response


class StepCompiler:
    """Compiles the steps of one spec; each endpoint's request once, whatever steps name it
    (so a static endpoint is one request object, cached once by the raw transport).
    ``keep_all``: keep every response's headers and body, even of a step that neither
    extracts nor checks (``before``, which shows what came back when a step fails)."""

    def __init__(self, spec: SpecV2, *, keep_all: bool = False) -> None:
        self._spec = spec
        self._keep_all = keep_all
        self._compiled: dict[str, tuple[HttpRequest, RequestMaker | None, Extraction | None]] = {}

    def endpoint(self, name: str) -> tuple[HttpRequest, RequestMaker | None, Extraction | None]:
        compiled = self._compiled.get(name)
        if compiled is not None:
            return compiled
        endpoint = self._spec.endpoints[name]
        extract = {var: e.as_mapping() for var, e in endpoint.extract.items()}
        checks = endpoint.expect.json_fields
        extraction = Extraction(extract, checks) if extract or checks else None
        capture: int | None = None
        if extraction is not None or self._keep_all:
            needs_body = extraction is None or extraction.needs_body
            capture = MAX_CAPTURED_BODY if needs_body else 0
        made = compile_endpoint(name, endpoint, self._spec.target, capture=capture)
        if isinstance(made, RequestMaker):
            compiled = (made.template, made, extraction)
        else:
            compiled = (made, None, extraction)
        self._compiled[name] = compiled
        return compiled

    def step(self, item: Step | str) -> CompiledStep:
        step = Step(request=item) if isinstance(item, str) else item
        request, maker, extraction = self.endpoint(step.request)
        think = step.think_time
        think_s = None if think is None else (think.min.seconds, think.max.seconds)
        return CompiledStep(step.request, request, maker, extraction, think_s)

    def steps(self, items: Sequence[Step | str]) -> list[CompiledStep]:
        return [self.step(item) for item in items]


def compile_steps(
    spec: SpecV2, steps: Sequence[Step | str], *, keep_all: bool = False
) -> list[CompiledStep]:
    """``steps`` (a scenario's ``setup`` or ``flow``, ``before``, or the names of a mix),
    compiled once, before the clock starts. Raises ``KeyError`` for an endpoint the spec
    does not declare (the loader has checked every name)."""
    return StepCompiler(spec, keep_all=keep_all).steps(steps)


def prepare_step(step: CompiledStep, state: UserState) -> HttpRequest | Result:
    """The request ``step`` sends for the user of ``state``, or its ``not_sent`` failure (a
    value nothing has set, a header it cannot send: nothing is sent)."""
    maker = step.maker
    if maker is None:
        return step.request
    try:
        return maker.make(state)
    except (UnsetValueError, UnsendableError) as exc:
        reason = f"{exc}; not sent" if isinstance(exc, UnsetValueError) else str(exc)
        return Result(Outcome.NOT_SENT, detail=reason)


def finish_step(step: CompiledStep, result: Result, state: UserState) -> Result:
    """What the transport's ``result`` for ``step`` comes to: its checks and extractions
    applied (the values stored in ``state.variables``, all or nothing), or their failure."""
    extraction = step.extraction
    if extraction is None or result.outcome is not Outcome.OK:
        return result
    response = result.response
    assert response is not None  # the request asked to keep it, and a response came
    if response.truncated and extraction.needs_body:
        kind = Outcome.JSON_MISMATCH if extraction.checks is not None else Outcome.EXTRACT_FAILED
        reason = (
            f"the body is over {MAX_CAPTURED_BODY // 1024} KiB, the most kept to read values from"
        )
        return Result(kind, result.status, reason, response)
    failed = extraction.apply(response, state.variables)
    if failed is None:
        return result
    return Result(Outcome(failed.kind), result.status, failed.reason, response)


async def send_step(step: CompiledStep, state: UserState, session: HttpSession) -> Result:
    """Send ``step`` for the user of ``state`` through ``session`` and judge what came of it
    (see the module): :func:`prepare_step`, the send with the user's cookie jar,
    :func:`finish_step`. The transport's result, or the step's own failure (``not_sent``,
    ``extract_failed``, ``json_mismatch``, its reason in ``detail``); :func:`step_reason`
    says why any failure failed. Raises only on cancellation."""
    request = prepare_step(step, state)
    if isinstance(request, Result):
        return request
    return finish_step(step, await session.send(request, state.jar), state)


_OWN_REASONS = (Outcome.NOT_SENT, Outcome.EXTRACT_FAILED, Outcome.JSON_MISMATCH)


def step_reason(step: CompiledStep, result: Result) -> str:
    """One short line for a step that failed as ``result`` (:func:`send_step`'s), for
    findings and ``before``'s error; ``""`` for a success."""
    outcome = result.outcome
    if outcome is Outcome.OK:
        return ""
    if outcome in _OWN_REASONS:  # the step's own failure: its reason is the detail
        return result.detail
    return failure_reason(step.request, result)


def failure_reason(request: HttpRequest, result: Result) -> str:
    """One short line for a request that did not succeed."""
    outcome = result.outcome
    if outcome is Outcome.STATUS:
        expected = request.expect_status
        if isinstance(expected, frozenset):
            wanted = ", ".join(str(code) for code in sorted(expected))
        else:
            wanted = "2xx or 3xx"
        return f"status {result.status}, expected {wanted}"
    if outcome is Outcome.BODY_MISMATCH:
        needle = (request.body_contains or b"").decode("utf-8", "replace")
        return f"status {result.status}, but the body does not contain {needle!r}"
    return f"{result.key}: {result.detail}" if result.detail else result.key
