"""Property-based, format 2: whatever is thrown at load_document, only SpecError comes out,
every issue with a position. Bounded (max_examples, no deadline)."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import given
from hypothesis import strategies as st

from sla_runner.errors import SpecError
from sla_runner.spec.document import LoadedDocument, load_document_text
from tests.unit.spec.helpers2 import SHOP
from tests.unit.spec.test_properties import BOUNDED, mutations, values

SHOP_DATA: dict[str, Any] = yaml.safe_load(SHOP)


def load_or_spec_error(text: str) -> LoadedDocument | None:
    try:
        return load_document_text(text, "p.yaml", env={})
    except SpecError as exc:
        error = exc
    assert error.issues
    for issue in error.issues:
        assert issue.line >= 1, issue
        assert issue.column >= 1, issue
        assert issue.message
    return None


template_texts = st.one_of(
    st.text(alphabet="{}$ ab.()1,-_", max_size=24),
    st.sampled_from(
        ["{{ token }}", "{{ accounts.user }}", "{{ $randint(1,2) }}", "{{", "}}", "{{{{ x }}"]
    ),
)


mutated = mutations(SHOP_DATA, template_texts)


@BOUNDED
@given(mutated)
def test_mutated_format_2_specs(data: dict[str, Any]) -> None:
    load_or_spec_error(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))


@BOUNDED
@given(st.dictionaries(st.text(max_size=12), values, max_size=8))
def test_random_documents_of_version_2(data: dict[str, Any]) -> None:
    load_or_spec_error(yaml.safe_dump({"version": 2, **data}, allow_unicode=True))


@BOUNDED
@given(st.integers(min_value=0, max_value=len(SHOP)), st.text(min_size=1, max_size=8))
def test_random_unicode_spliced_into_a_valid_format_2_spec(at: int, noise: str) -> None:
    load_or_spec_error(SHOP[:at] + noise + SHOP[at:])


def test_the_valid_spec_is_valid() -> None:
    assert load_or_spec_error(SHOP) is not None
