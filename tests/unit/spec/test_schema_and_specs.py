"""The committed JSON Schema is current, and every spec in specs/ is valid."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sla_runner.spec.loader import load_spec
from sla_runner.spec.schema import spec_json_schema, spec_json_schema_text

ROOT = Path(__file__).resolve().parents[3]
SCHEMA_FILE = ROOT / "schemas" / "sla-spec.schema.json"
SPECS = sorted((ROOT / "specs").glob("*.yaml"))
SCHEMA_LINE = "# yaml-language-server: $schema=../schemas/sla-spec.schema.json"


def test_committed_schema_is_current() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == spec_json_schema_text(), (
        "regenerate it: sla-runner schema > schemas/sla-spec.schema.json"
    )


def test_schema_header_and_threshold_items() -> None:
    schema = spec_json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert "format version 1" in schema["description"]
    items = schema["properties"]["thresholds"]["items"]["anyOf"]
    assert items[0]["type"] == "string"
    assert items[1] == {"$ref": "#/$defs/ThresholdRule"}
    assert schema["additionalProperties"] is False
    json.dumps(schema)


def test_there_are_specs() -> None:
    assert {p.name for p in SPECS} >= {"demo.yaml", "seed-sla.yaml"}


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.name)
def test_spec_is_valid_and_names_the_schema(spec: Path) -> None:
    assert spec.read_text(encoding="utf-8").splitlines()[0] == SCHEMA_LINE
    loaded = load_spec(spec, env={})
    assert loaded.spec.thresholds


def test_seed_sla_holds_the_classic_promises() -> None:
    spec = load_spec(ROOT / "specs" / "seed-sla.yaml", env={}).spec
    texts = {rule.expr.text for rule in spec.thresholds}
    assert texts >= {
        "p95(http) < 200ms",
        "p95(ws.prices) < 50ms",
        "users >= 100",
        "max(process.rss) < 512MB",
        "success_rate(http) > 99%",
    }


def test_demo_spec_is_short() -> None:
    spec = load_spec(ROOT / "specs" / "demo.yaml", env={}).spec
    total_ns = sum(stage.duration.ns for stage in spec.load.stages) + spec.load.graceful_stop.ns
    assert total_ns < 25 * 10**9
    assert spec.target.base_url == "http://127.0.0.1:8765"
    assert any(rule.severity == "warn" and rule.during for rule in spec.thresholds)
