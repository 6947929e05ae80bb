"""Property-based: whatever text or data is thrown at the loader, only SpecError comes out.

Bounded (max_examples, no deadline) so the suite stays quick on a shared machine.
"""

from __future__ import annotations

import copy
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sla_runner.errors import SpecError
from sla_runner.spec.loader import LoadedSpecV1 as LoadedSpec
from sla_runner.spec.loader import load_spec_text_v1 as load_spec_text
from tests.unit.spec.helpers import VALID

BOUNDED = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
VALID_DATA: dict[str, Any] = yaml.safe_load(VALID)


def load_or_spec_error(text: str, env: dict[str, str] | None = None) -> LoadedSpec | None:
    """Load; a SpecError is fine if every issue has a position. Anything else fails."""
    try:
        return load_spec_text(text, "p.yaml", env={} if env is None else env)
    except SpecError as exc:
        error = exc
    assert error.issues
    for issue in error.issues:
        assert issue.line >= 1, issue
        assert issue.column >= 1, issue
        assert issue.message
    assert error.report().endswith("in p.yaml")
    return None


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([0, 10**9, -1, 1.5, float("inf"), float("nan"), 1e308]),
    st.floats(allow_nan=True),
    st.text(max_size=30),
    st.sampled_from(
        [
            "-5s",
            "0s",
            "5s",
            "250ms",
            "1h30m",
            "0/s",
            "50/s",
            "99%",
            "512MB",
            "on",
            "no",
            "2024-01-02",
            "${X}",
            "${X:-1}",
            "$${",
            "p95(http) < 200ms",
            "users >= 0",
            "GET",
            "/x",
            "http://h",
            "ws://h",
            "fast",
            "1e999",
            "9" * 50,
        ]
    ),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)


@BOUNDED
@given(st.text(max_size=400))
def test_random_text(text: str) -> None:
    load_or_spec_error(text)


@BOUNDED
@given(st.binary(max_size=300))
def test_random_bytes_as_text(raw: bytes) -> None:
    load_or_spec_error(raw.decode("utf-8", "replace"))


@BOUNDED
@given(st.dictionaries(st.text(max_size=12), values, max_size=8))
def test_random_yaml_documents(data: dict[str, Any]) -> None:
    load_or_spec_error(yaml.safe_dump(data, allow_unicode=True))


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _paths(value, (*path, i))
    return out


def mutations(base: dict[str, Any], *extra: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Copies of ``base`` with one to four values deleted, replaced (by ``values`` or, when
    given, ``extra`` strategies) or inserted."""
    leaves = st.one_of(values, *extra)

    @st.composite
    def mutated(draw: st.DrawFn) -> dict[str, Any]:
        data = copy.deepcopy(base)
        for _ in range(draw(st.integers(min_value=1, max_value=4))):
            paths = [p for p in _paths(data) if p]
            path = draw(st.sampled_from(paths))
            parent: Any = data
            for part in path[:-1]:
                parent = parent[part]
            action = draw(st.sampled_from(["delete", "replace", "insert"]))
            if action == "delete":
                del parent[path[-1]]
            elif action == "replace":
                parent[path[-1]] = draw(leaves)
            elif isinstance(parent, dict):
                parent[draw(st.text(max_size=10))] = draw(leaves)
            else:
                parent.insert(path[-1], draw(leaves))
        return data

    return mutated()


mutated_specs = mutations(VALID_DATA)


@BOUNDED
@given(mutated_specs)
def test_mutated_specs(data: dict[str, Any]) -> None:
    load_or_spec_error(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))


@BOUNDED
@given(
    st.sampled_from(
        [
            ("users: 100}", "users: VALUE}"),
            ("duration: 20s", "duration: VALUE"),
            ("weight: 3", "weight: VALUE"),
            ("interval: 200ms", "interval: VALUE"),
            ("p95(http) < 200ms", "p95(http) < VALUE"),
        ]
    ),
    st.one_of(
        st.sampled_from(["0", "-1", "1000000000", "-5s", "0s", "0/s", "1e999", "9" * 60]),
        st.integers().map(str),
        st.text(max_size=10).map(repr),
    ),
)
def test_edge_values(site: tuple[str, str], value: str) -> None:
    old, new = site
    load_or_spec_error(VALID.replace(old, new.replace("VALUE", value), 1))


@BOUNDED
@given(st.integers(min_value=0, max_value=len(VALID)), st.text(min_size=1, max_size=8))
def test_random_unicode_spliced_into_a_valid_spec(at: int, noise: str) -> None:
    load_or_spec_error(VALID[:at] + noise + VALID[at:], env={"X": "1"})


def test_the_valid_spec_is_valid() -> None:
    assert load_or_spec_error(VALID) is not None
