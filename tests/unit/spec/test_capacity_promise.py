"""Format 2's ``capacity`` key: a scenario's promised load, checked against the scenarios."""

from __future__ import annotations

import pytest

from sla_runner.errors import SpecError
from sla_runner.spec.document import load_document_text
from sla_runner.spec.format2 import SpecV2

BASE = """\
version: 2
name: x
sla_version: 1.0.0
target: {base_url: "http://127.0.0.1:1"}
endpoints: {a: {method: GET, path: /}}
scenarios:
  shoppers: {load: {stages: [{duration: 5s, users: 10}]}, mix: {a: 1}}
  api: {load: {stages: [{duration: 5s, rate: 10/s}]}, mix: {a: 1}}
"""
ONE = BASE.replace("  api: {load: {stages: [{duration: 5s, rate: 10/s}]}, mix: {a: 1}}\n", "")


def promise(text: str, base: str = BASE) -> SpecV2:
    return load_document_text(f"{base}capacity: {text}\n", "s.yaml").spec


def problems(text: str, base: str = BASE) -> list[str]:
    with pytest.raises(SpecError) as caught:
        promise(text, base)
    return [issue.format("s.yaml") for issue in caught.value.issues]


def test_users_for_a_closed_scenario_and_a_rate_for_an_open_one() -> None:
    closed = promise('{scenario: shoppers, users: ">= 100"}').capacity
    assert closed is not None
    assert (closed.scenario, closed.users, closed.level, closed.model) == (
        "shoppers",
        100,
        100,
        "closed",
    )
    opened = promise('{scenario: api, rate: ">= 30000/m"}').capacity
    assert opened is not None
    assert (opened.level, opened.model) == (500, "open")


def test_it_writes_back_as_it_was_written() -> None:
    spec = promise('{scenario: api, rate: ">=500/s"}')
    written = spec.model_dump(mode="json", by_alias=True, exclude_unset=True)["capacity"]
    assert written == {"scenario": "api", "rate": ">= 500/s"}
    assert SpecV2.model_validate(spec.model_dump(by_alias=True, exclude_unset=True)) == spec


def test_the_only_scenario_need_not_be_named() -> None:
    only = promise('{users: ">= 5"}', ONE).capacity
    assert only is not None
    assert only.scenario is None
    assert only.level == 5


def test_a_spec_without_it_promises_nothing() -> None:
    assert load_document_text(BASE, "s.yaml").spec.capacity is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '{users: ">= 100"}',
            "s.yaml:9:11: capacity: name the scenario (scenario: NAME); the spec has api, shoppers",
        ),
        (
            '{scenario: api, users: ">= 100"}',
            "s.yaml:9:34: capacity.users: scenario 'api' has the open model: promise its "
            "rate: '>= 500/s'",
        ),
        (
            '{scenario: shopers, users: ">= 100"}',
            "s.yaml:9:22: capacity.scenario: no scenario named 'shopers'; declared: api, "
            "shoppers; did you mean shoppers?",
        ),
        (
            '{scenario: shoppers, users: "> 100"}',
            "s.yaml:9:39: capacity.users: expected '>= 100' (users), got '> 100'",
        ),
        (
            '{scenario: shoppers, users: ">= 1.5"}',
            "s.yaml:9:39: capacity.users: expected a whole number of users, like '>= 100', "
            "got '1.5'",
        ),
        (
            "{scenario: shoppers}",
            "s.yaml:9:11: capacity: give exactly one of users (closed model) or rate (open model)",
        ),
        (
            '{scenario: api, rate: ">= 0/s"}',
            "s.yaml:9:33: capacity.rate: a capacity is above 0/s, got 0/s",
        ),
        ('{scenario: api, rate: ">= fast"}', "s.yaml:9:33: capacity.rate:"),
        ("{scenario: shoppers, users: 100}", "s.yaml:9:39: capacity.users: expected '>= 100'"),
        ('{scenario: api, rate: ">= 5/s", user: 3}', "s.yaml:9:43: capacity.user: unknown field"),
    ],
)
def test_a_promise_that_does_not_fit_the_spec_is_an_error_at_its_place(
    text: str, expected: str
) -> None:
    found = problems(text)
    assert len(found) == 1, found
    assert found[0].startswith(expected), found
