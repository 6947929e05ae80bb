"""The committed JSON Schema is current, and every spec in specs/ is valid."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from sla_runner.spec.document import load_document
from sla_runner.spec.loader import load_spec_v1 as load_spec
from sla_runner.spec.schema import spec_json_schema, spec_json_schema_text
from tests.support.paths import ROOT
from tests.unit.spec.helpers2 import SHOP

SCHEMA_FILE = ROOT / "schemas" / "sla-spec.schema.json"
# specs/ holds the examples: format 2 (seed-sla.yaml, format2/shop.yaml) and one of format 1
# (demo.yaml, which the demo runs); every command reads both versions.
SPECS = sorted((ROOT / "specs").rglob("*.yaml"))
SCHEMA_REF = "schemas/sla-spec.schema.json"


def test_committed_schema_is_current() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == spec_json_schema_text(), (
        "regenerate it: sla-runner schema > schemas/sla-spec.schema.json"
    )


def test_schema_header_and_threshold_items() -> None:
    schema = spec_json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert "format version 1 or 2" in schema["description"]
    for model, rule in (("Spec", "ThresholdRule"), ("SpecV2", "ThresholdRuleV2")):
        items = schema["$defs"][model]["properties"]["thresholds"]["items"]["anyOf"]
        assert items[0]["type"] == "string"
        assert items[1] == {"$ref": f"#/$defs/{rule}"}
        assert schema["$defs"][model]["additionalProperties"] is False
    json.dumps(schema)


def test_the_version_selects_the_format() -> None:
    """One schema for both versions: version 1 is checked as format 1, version 2 as format
    2, and what one format has and the other not is flagged in the other."""
    v1: dict[str, Any] = yaml.safe_load((ROOT / "specs" / "demo.yaml").read_text(encoding="utf-8"))
    assert editor_check(v1) == []
    v1["version"] = 2
    flagged = editor_check(v1)
    assert any("'load' was unexpected" in line for line in flagged)
    assert any("'scenarios' is a required property" in line for line in flagged)
    v1["version"] = 3
    assert any(line.startswith("['version']") for line in editor_check(v1))
    v2: dict[str, Any] = yaml.safe_load(SHOP)
    assert editor_check(v2) == []
    v2["endpoints"]["list-items"]["weight"] = 3
    v2["scenarios"]["shoppers"]["load"]["stages"][0]["ramp_to"] = "${RAMP_TO:-100}"
    v2["scenarios"]["api"]["load"]["stages"][0]["rate"] = "${RATE:-200/s}"
    assert editor_check(v2) == [
        "['endpoints', 'list-items']: Additional properties are not allowed ('weight' was "
        "unexpected)"
    ]


def test_there_are_specs() -> None:
    names = {str(p.relative_to(ROOT / "specs")) for p in SPECS}
    assert names >= {"demo.yaml", "seed-sla.yaml", "format2/shop.yaml"}


def test_the_shop_example_shows_format_2() -> None:
    loaded = load_document(ROOT / "specs" / "format2" / "shop.yaml", env={})
    assert loaded.version == 2
    spec = loaded.spec
    assert {s.model for s in spec.scenarios.values()} == {"closed", "open"}
    assert [s.request for s in spec.before] == ["catalog"]
    assert loaded.tables["accounts"].source == "data/accounts.csv"
    assert len(loaded.tables["accounts"].rows) >= 20  # a row for each of the 20 shoppers
    assert "pw-01-07919" in loaded.secrets
    assert spec.target.cookies


def editor_check(data: object) -> list[str]:
    """What an editor using the committed schema flags in ``data`` (as YAML loads it)."""
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    return [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(data)]


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: str(p.relative_to(ROOT / "specs")))
def test_spec_is_valid_and_names_the_schema(spec: Path) -> None:
    text = spec.read_text(encoding="utf-8")
    up = "../" * len(spec.relative_to(ROOT).parents[:-1])
    assert text.splitlines()[0] == f"# yaml-language-server: $schema={up}{SCHEMA_REF}"
    loaded = load_document(spec, env={})
    assert loaded.spec.thresholds
    assert editor_check(yaml.safe_load(text)) == []


def test_the_schema_takes_interpolated_values_where_the_loader_does() -> None:
    """users: ${USERS:-5} is a valid spec (a number once interpolated): an editor must not
    flag it, while a plain wrong value is still flagged."""
    data = yaml.safe_load((ROOT / "specs" / "demo.yaml").read_text(encoding="utf-8"))
    stage = data["load"]["stages"][0]
    stage.update(users="${USERS:-5}", duration="${RAMP}")
    data["target"].update(verify_tls="${VERIFY_TLS:-true}", engine="${ENGINE:-raw}")
    assert editor_check(data) == []
    stage.update(users="lots")
    data["target"].update(verify_tls="off")
    flagged = editor_check(data)
    assert len(flagged) == 2
    assert any(line.startswith("['target', 'verify_tls']") for line in flagged)


def test_seed_sla_holds_the_classic_promises() -> None:
    loaded = load_document(ROOT / "specs" / "seed-sla.yaml", env={})
    assert loaded.version == 2  # the template to copy is written in format 2
    spec = loaded.spec
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
