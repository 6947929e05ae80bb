"""Whole error reports, compared with the files in golden/ (``x.yaml`` → ``x.txt``).

To accept a deliberate change of wording, rewrite a .txt with the report it now gets
and review the diff.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sla_runner.errors import SpecError
from sla_runner.spec.loader import load_spec_text_v1 as load_spec_text

GOLDEN = Path(__file__).parent / "golden"
ENV = {"TOKEN": "s3cr3t-t0ken", "BASE_URL": "not-a-url", "TIMEOUT": "fast", "USERS": "many"}


@pytest.mark.parametrize("spec", sorted(GOLDEN.glob("*.yaml")), ids=lambda p: p.stem)
def test_report_matches_golden(spec: Path) -> None:
    with pytest.raises(SpecError) as caught:
        load_spec_text(spec.read_text(encoding="utf-8"), spec.name, env=ENV)
    report = caught.value.report() + "\n"
    assert report == spec.with_suffix(".txt").read_text(encoding="utf-8")
    for secret in ("s3cr3t-t0ken", "not-a-url", "many"):
        assert secret not in report
