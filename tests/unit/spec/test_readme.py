"""The README's format reference is a valid spec, and its error example is real output."""

from __future__ import annotations

from pathlib import Path

from sla_runner.spec.document import load_document_text
from sla_runner.spec.loader import load_spec_text_v1 as load_spec_text
from tests.support.paths import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
GOLDEN = Path(__file__).parent / "golden"


def _blocks(lang: str) -> list[str]:
    """The fenced code blocks whose info string is ``lang``, in order."""
    blocks: list[str] = []
    current: list[str] | None = None
    current_lang = ""
    for line in README.splitlines(keepends=True):
        if current is None and line.startswith("```"):
            current, current_lang = [], line[3:].strip()
        elif current is not None and line.rstrip() == "```":
            if current_lang == lang:
                blocks.append("".join(current))
            current = None
        elif current is not None:
            current.append(line)
    return blocks


def test_annotated_example_is_valid() -> None:
    example = _blocks("yaml")[0]
    loaded = load_spec_text(example, "README.md", env={})
    spec = loaded.spec
    assert set(spec.endpoints) == {"list-items", "create-order"}
    assert len(spec.thresholds) == 7
    assert spec.target.engine == "raw"  # the example shows the default
    assert "Bearer dev" in loaded.secrets


def test_error_example_is_the_golden_report() -> None:
    shown = next(block for block in _blocks("") if "errors in checkout.yaml" in block)
    assert shown == (GOLDEN / "checkout.txt").read_text(encoding="utf-8")


def test_annotated_format_2_example_is_valid() -> None:
    example = next(block for block in _blocks("yaml") if block.startswith("version: 2"))
    loaded = load_document_text(example, "README.md", env={}, base_dir=ROOT / "specs" / "format2")
    spec = loaded.spec
    assert loaded.version == 2
    assert set(spec.scenarios) == {"shoppers", "visitors"}
    assert {s.model for s in spec.scenarios.values()} == {"closed", "open"}
    assert [s.request for s in spec.before] == ["catalog"]
    assert set(loaded.tables) == {"accounts", "skus"}
    assert spec.target.cookies
    assert any(rule.expr.metric == "flow" for rule in spec.thresholds)
    assert any(rule.scenario == "visitors" for rule in spec.thresholds)
