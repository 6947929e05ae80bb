"""${VAR} and ${VAR:-default}: values, escapes, errors, and which values are secret."""

from __future__ import annotations

import pytest

from sla_runner.spec.document import load_document_text
from sla_runner.spec.interpolate import (
    EnvValue,
    InterpolationError,
    interpolate,
    interpolate_text,
    token_spans,
)
from sla_runner.spec.yamlload import parse_yaml
from tests.unit.spec.helpers import VALID, errors, load, with_thresholds


@pytest.mark.parametrize(
    ("text", "env", "result"),
    [
        ("plain", {}, "plain"),
        ("${A}", {"A": "x"}, "x"),
        ("a-${A}-b", {"A": "x"}, "a-x-b"),
        ("${A:-dflt}", {}, "dflt"),
        ("${A:-dflt}", {"A": ""}, "dflt"),
        ("${A:-}", {}, ""),
        ("${A}", {"A": ""}, ""),
        ("${A:-http://h:80/p}", {}, "http://h:80/p"),
        ("$${A}", {}, "${A}"),
        ("$$${A}", {"A": "x"}, "$${A}"),  # the escape is read first, left to right
        ("cost: $5", {}, "cost: $5"),
        ("$A", {"A": "x"}, "$A"),
        ("${A}${B}", {"A": "1", "B": "2"}, "12"),
    ],
)
def test_interpolate_text(text: str, env: dict[str, str], result: str) -> None:
    assert interpolate_text(text, env)[0] == result


def test_reports_the_env_values_it_used() -> None:
    _, used = interpolate_text("${A}/${B:-b}/${C:-c}", {"A": "1", "C": "3"})
    assert used == [EnvValue("A", "1", True), EnvValue("C", "3", True)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "${NOPE}",
            "environment variable NOPE is not set; set it, or give a default: ${NOPE:-default}",
        ),
        (
            "${X}${Y}",
            "environment variables X, Y are not set; set it, or give a default: ${X:-default}",
        ),
        (
            "${1X}",
            "bad variable reference '${1X}'; write ${NAME} or ${NAME:-default} "
            "(NAME: letters, digits, _), or $${ for a literal ${",
        ),
        ("${", "unclosed '${'; write ${NAME} or ${NAME:-default}, or $${ for a literal ${"),
        (
            "${A-b}",
            "bad variable reference '${A-b}'; write ${NAME} or ${NAME:-default} "
            "(NAME: letters, digits, _), or $${ for a literal ${",
        ),
    ],
)
def test_errors(text: str, message: str) -> None:
    with pytest.raises(InterpolationError) as caught:
        interpolate_text(text, {})
    assert str(caught.value) == message


def _spec_with_headers(extra: str) -> str:
    return VALID.replace("  process: {port: 8000}\n", f"  process: {{port: 8000}}\n{extra}")


def test_values_become_typed_where_the_model_wants_them() -> None:
    text = VALID.replace("users: 100}\n  think", "users: '${USERS:-7}'}\n  think")
    text = text.replace("users >= 100", "users >= 7")  # what 7 users can hold
    assert load(text).spec.load.stages[1].users == 7
    assert load(text, env={"USERS": "9"}).spec.load.stages[1].users == 9


def test_secrets_are_env_values_and_header_values() -> None:
    text = _spec_with_headers(
        '  headers: {Authorization: "Bearer ${TOKEN}", X-Env: "${ENV_NAME:-staging}"}\n'
    ).replace("base_url: http://127.0.0.1:8000", "base_url: ${BASE_URL}")
    loaded = load(text, env={"TOKEN": "t0k", "BASE_URL": "http://h:1"})
    assert loaded.secrets == frozenset({"t0k", "Bearer t0k", "staging", "http://h:1"})


def test_public_vars_are_not_secret() -> None:
    text = "public_vars: [BASE_URL]\n" + VALID.replace(
        "base_url: http://127.0.0.1:8000", "base_url: ${BASE_URL}"
    )
    loaded = load(text, env={"BASE_URL": "http://h:1"})
    assert loaded.secrets == frozenset()
    assert loaded.spec.public_vars == ["BASE_URL"]


def test_a_threshold_s_values_are_the_contract_and_not_secret() -> None:
    """A threshold's limit is what the verdict judges and reports (``thresholds[].limit`` is
    a number no mask reaches): a value interpolated into a threshold is reported as it is,
    unless the same variable also feeds a place that keeps it secret."""
    text = with_thresholds(
        "'p95(http) < ${LIMIT:-200ms}'", "{expr: 'p99(http) < 1s', during: '${STAGE}'}"
    )
    loaded = load(text, env={"LIMIT": "300ms", "STAGE": "steady"})
    assert loaded.secrets == frozenset()
    assert loaded.spec.thresholds[0].expr.text == "p95(http) < 300ms"
    shared = _spec_with_headers('  headers: {X-Limit: "${LIMIT}"}\n').replace(
        "p95(http) < 200ms", "'p95(http) < ${LIMIT}'"
    )
    assert load(shared, env={"LIMIT": "300ms"}).secrets == frozenset({"300ms"})


def test_a_capacity_promise_is_the_contract_too() -> None:
    text = (
        "version: 2\nname: x\nsla_version: 1.0.0\ntarget: {base_url: 'http://127.0.0.1:1'}\n"
        "endpoints: {a: {method: GET, path: /}}\n"
        "scenarios: {api: {load: {stages: [{duration: 5s, users: 10}]}, mix: {a: 1}}}\n"
        "capacity: {users: '>= ${PROMISED}'}\n"
    )
    loaded = load_document_text(text, "s.yaml", env={"PROMISED": "1200"})
    assert loaded.spec.capacity is not None
    assert loaded.spec.capacity.level == 1200
    assert loaded.secrets == frozenset()


def test_keys_are_not_interpolated() -> None:
    text = VALID.replace("  list-items:", "  x${A}:")
    assert errors(text, env={"A": "1"})[0].startswith(
        "spec.yaml:8:3: endpoints.x${A}: expected a name of letters"
    )


def test_env_values_never_appear_in_errors() -> None:
    text = _spec_with_headers("  timeout: ${T}\n  connect_timeout: 'x-${T}'\n")
    assert errors(text, env={"T": "hunter2"}) == [
        "spec.yaml:7:12: target.timeout: expected a duration like 5s, 250ms or 1h30m, got '${T}'",
        "spec.yaml:8:20: target.connect_timeout: expected a duration like 5s, 250ms or 1h30m, "
        "got 'x-${T}'",
    ]


def test_escape_keeps_a_literal() -> None:
    text = _spec_with_headers("  headers: {X-Template: '$${NOT_A_VAR}'}\n")
    assert load(text).spec.target.headers == {"X-Template": "${NOT_A_VAR}"}


def test_token_spans() -> None:
    text = "a${B}c$${d}${E:-f}"
    assert [text[s:e] for s, e in token_spans(text)] == ["${B}", "$${", "${E:-f}"]


def test_a_value_held_escaped_in_a_template_is_redacted_in_that_spelling_too() -> None:
    """Format 2 escapes {{ in an environment value that fills a template ({{{{): a message
    quoting the escaped text must not show the value either."""
    document = parse_yaml("a: '${T}'\n", "s.yaml")
    done = interpolate(document, {"T": "x{{y"})
    assert done.env_of(("a",)) == {"T": "x{{y"}
    assert done.env_of(("b",)) == {}
    assert done.redact(("a",), "got 'x{{{{y' and x{{y") == "got '${T}' and ${T}"
