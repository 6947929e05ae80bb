"""``before``: the steps run once per run (per segment), before the clock starts.

:func:`run_before` sends the spec's ``before`` steps in order, as one user with one session
(and, with ``target.cookies``, one cookie jar, which no other user sees), outside every
metric. What the steps extract is returned: every user of every scenario starts with those
values (:func:`sla_runner.engine.state.new_user`). A step that fails stops the run before
any load: a :class:`~sla_runner.errors.RunError` (exit 3) in one line naming the step and
what came back, e.g.::

    before[0] (admin-login) failed: POST http://127.0.0.1:8080/login answered status 401,
    expected 200; the body began: {"ok":false,"error":"bad credentials"}

The line never holds what the failed request was filled with or what earlier steps
extracted (``***`` in their place, as in reports); the run's own secrets (header values,
``${VAR}`` values, data files) are the reports' to mask, as for every message.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from sla_runner.engine.http.session import HttpTransport
from sla_runner.engine.state import new_user
from sla_runner.engine.steps import CompiledStep, StepCompiler, StepResult, send_step
from sla_runner.errors import RunError
from sla_runner.redact import redact, redact_url
from sla_runner.spec.format2 import SpecV2

__all__ = ["SNIPPET_CHARS", "compile_before", "run_before"]

SNIPPET_CHARS = 200  # of a failed step's body, in the error


def compile_before(spec: SpecV2) -> list[CompiledStep]:
    """The spec's ``before`` steps, compiled to keep every response (for the error)."""
    return StepCompiler(spec, keep_all=True).steps(spec.before)


async def run_before(
    spec: SpecV2,
    steps: list[CompiledStep],
    transport: HttpTransport,
    *,
    seed: int | None = None,
) -> dict[str, Any]:
    """Run ``steps`` (:func:`compile_before`) once, in order; the values they extracted.
    Raises RunError naming the first step that failed (see the module)."""
    state = new_user(0, cookies=spec.target.cookies, rng=random.Random(seed))
    assert state is not None  # before deals no table
    session = transport.session(connections=1)
    try:
        for index, step in enumerate(steps):
            outcome = StepResult.of(step, await send_step(step, state, session))
            if not outcome.ok:
                raise RunError(_failure(index, step, outcome, state.variables))
    finally:
        await session.aclose()
    return dict(state.variables)


def _failure(
    index: int, step: CompiledStep, outcome: StepResult, variables: Mapping[str, Any]
) -> str:
    request = step.request
    where = redact_url(request.url)
    head = f"before[{index}] ({step.name}) failed: {request.method} {where}"
    result = outcome.result
    if not outcome.sent:
        text = f"{head} was not sent: {outcome.reason}"
    elif result.status is None:
        text = f"{head} got no answer: {outcome.reason}"
    elif outcome.reason.startswith("status "):  # an unexpected status or body
        text = f"{head} answered {outcome.reason}{_snippet(outcome)}"
    else:  # a check or an extraction
        text = f"{head} answered status {result.status}, but {outcome.reason}{_snippet(outcome)}"
    extracted = [v if isinstance(v, str) else str(v) for v in variables.values()]
    return redact(" ".join(text.split()), extracted)


def _snippet(outcome: StepResult) -> str:
    response = outcome.response
    if response is None or not response.body:
        return "; the body was empty" if response is not None else ""
    text = response.body[: SNIPPET_CHARS * 4].decode("utf-8", "replace")
    if len(text) > SNIPPET_CHARS or response.truncated:
        text = text[:SNIPPET_CHARS] + "…"
    return f"; the body began: {text}" if text.endswith("…") else f"; the body: {text}"
