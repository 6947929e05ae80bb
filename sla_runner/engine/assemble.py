"""Each scenario's executor, built before the clock starts.

A scenario that sends the same request every time (a mix of endpoints without templates,
extraction or JSON checks, no setup, flow or data: every version-1 spec) is compiled once
and sent as version 1 sent it (:func:`static_parts`). Any other goes through the step layer
(:class:`~sla_runner.engine.layer.ScenarioLayer`): its setup, flow or mix compiled once, its
users' values, rows and cookies kept per user (:func:`scenario_steps`). ``before`` runs once,
before either, and what it extracts every user of every scenario starts with.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from sla_runner.engine.arrivals import OpenArrivals
from sla_runner.engine.executor import Executor
from sla_runner.engine.flows import FlowStep, ScenarioSteps, Think
from sla_runner.engine.http.request import HttpRequest, compile_request
from sla_runner.engine.http.session import HttpTransport
from sla_runner.engine.layer import ScenarioLayer
from sla_runner.engine.statics import plain_endpoint, static_channel
from sla_runner.engine.steps import CompiledStep, StepCompiler
from sla_runner.engine.users import ClosedUsers
from sla_runner.engine.ws import WsChannel, compile_channel, compile_filled_channel
from sla_runner.spec.data import Dealer
from sla_runner.spec.format2 import Spec
from sla_runner.timeline import Timeline

__all__ = ["executor_for", "scenario_steps", "static_parts"]


def think_of(spec: Spec, name: str) -> Think:
    """A scenario's think time in seconds: its closed load's; none for an open one."""
    load = spec.scenarios[name].load
    if load.model != "closed":
        return (0.0, 0.0)
    return (load.think_time.min.seconds, load.think_time.max.seconds)


def executor_for(
    spec: Spec,
    timeline: Timeline,
    requests: Mapping[str, HttpRequest],
    channels: list[WsChannel],
    *,
    seed: int | None = None,
    steps: ScenarioSteps | None = None,
) -> Executor:
    """The executor of one scenario's load model: sending ``requests`` as compiled, or its
    ``steps`` through the step layer."""
    load = spec.scenarios[timeline.name].load
    if timeline.model == "closed":
        think = think_of(spec, timeline.name)
        return ClosedUsers(timeline, requests, channels, think, seed=seed, steps=steps)
    return OpenArrivals(timeline, requests, load.max_in_flight, steps=steps, seed=seed)


def static_parts(spec: Spec, name: str) -> dict[str, HttpRequest] | None:
    """Scenario ``name``'s requests compiled once, when it sends the same request every
    time; None when it needs the step layer."""
    scenario = spec.scenarios[name]
    if scenario.flow is not None or scenario.setup or scenario.data:
        return None
    if any(static_channel(spec.channels[c]) is None for c in scenario.channels):
        return None  # a channel filled per user: users with state, through the step layer
    requests: dict[str, HttpRequest] = {}
    for endpoint in scenario.mix or {}:
        plain = plain_endpoint(spec.endpoints[endpoint])
        if plain is None:
            return None
        requests[endpoint] = compile_request(endpoint, plain, spec.target)
    return requests


def channels_of(spec: Spec, name: str) -> list[WsChannel]:
    """Scenario ``name``'s channels, compiled once and shared by its users; one whose
    templates read values is filled for each user after its setup (``fill``)."""
    out = []
    for channel in spec.scenarios[name].channels:
        static = static_channel(spec.channels[channel])
        if static is None:
            out.append(compile_filled_channel(channel, spec.channels[channel], spec.target))
        else:
            out.append(compile_channel(channel, static, spec.target))
    return out


def scenario_steps(
    spec: Spec,
    name: str,
    dealers: Mapping[str, Dealer],
    shared: Mapping[str, Any],
    compiler: StepCompiler,
    seed: int | None,
) -> ScenarioSteps:
    """Scenario ``name``'s work through the step layer: each step with its think time (its
    own, else the scenario's)."""
    rng = random.Random(seed)
    layer = ScenarioLayer(spec, name, dealers, shared=shared, compiler=compiler, rng=rng)
    think = think_of(spec, name)

    def step(compiled: CompiledStep) -> FlowStep:
        maker = compiled.maker
        plain = compiled.request if maker is None else None
        checks = compiled.extraction is not None
        make = None if maker is None else maker.make
        return FlowStep(compiled.name, compiled.think_s or think, compiled, plain, checks, make)

    return ScenarioSteps(
        scenario=name,
        layer=layer,
        setup=tuple(step(c) for c in layer.setup),
        flow=None if layer.flow is None else tuple(step(c) for c in layer.flow),
        mix=None if layer.mix is None else {n: step(c) for n, c in layer.mix.items()},
    )


def prepare(transport: HttpTransport, compiler: StepCompiler, spec: Spec, name: str) -> None:
    """Compile scenario ``name``'s steps (``compiler`` keeps them for its layer) and let the
    transport know every request they send (their static parts)."""
    scenario = spec.scenarios[name]
    steps = compiler.steps([*scenario.setup, *(scenario.flow or []), *(scenario.mix or {})])
    transport.prepare([step.request for step in steps])
