"""A small valid spec and helpers that load text and return what went wrong."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from sla_runner.errors import SpecError
from sla_runner.spec.loader import LoadedSpecV1 as LoadedSpec
from sla_runner.spec.loader import load_spec_text_v1 as load_spec_text

VALID = """\
version: 1
name: checkout
sla_version: 1.0.0
target:
  base_url: http://127.0.0.1:8000
  process: {port: 8000}
endpoints:
  list-items: {method: GET, path: /items, weight: 3, expect: {status: 200}}
  create-order: {method: POST, path: /orders, json: {item: 42}, expect: {status: [200, 201]}}
channels:
  prices: {path: /ws/prices, send: '{"op":"ping"}', expect: {contains: pong}, interval: 200ms}
load:
  stages:
    - {name: ramp, duration: 20s, users: 100}
    - {name: steady, duration: 60s, users: 100}
  think_time: 100ms
thresholds:
  - p95(http) < 200ms
  - p95(ws.prices) < 50ms
  - users >= 100
  - {expr: p95(http) < 150ms, during: steady, severity: warn}
"""


def load(
    text: str,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, str] | None = None,
) -> LoadedSpec:
    return load_spec_text(text, "spec.yaml", env={} if env is None else env, overrides=overrides)


def errors(
    text: str,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, str] | None = None,
) -> list[str]:
    """The formatted issues of an invalid spec (fails the test if the spec loads)."""
    with pytest.raises(SpecError) as caught:
        load(text, env, overrides)
    return [issue.format("spec.yaml") for issue in caught.value.issues]


def with_thresholds(*lines: str) -> str:
    """VALID with its thresholds replaced by ``lines`` (each a YAML list item's text)."""
    head = VALID.split("thresholds:", maxsplit=1)[0]
    return head + "thresholds:\n" + "".join(f"  - {line}\n" for line in lines)
