"""The JSON Schema of spec formats 1 and 2, generated from the models.

One schema serves both versions: a file's ``version`` selects the model it is checked
against (``if``/``then``), so an editor pointed at it completes and checks either format.
The committed copy, ``schemas/sla-spec.schema.json``, is checked current by a test.
Regenerate it with::

    sla-runner schema > schemas/sla-spec.schema.json
"""

from __future__ import annotations

import json
from typing import Any

from pydantic.json_schema import models_json_schema

from sla_runner.spec.format2 import Spec
from sla_runner.spec.models import SpecV1

SCHEMA_ID = "urn:sla-runner:schema:spec"
SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


# A string holding ${VAR} or ${VAR:-default}: any value may be written so, and is checked
# after interpolation. The schema lets it stand where a number, a yes/no, a choice or a
# string of a set shape (250ms, 50/s) is expected, so an editor does not flag it.
INTERPOLATED = {
    "type": "string",
    "pattern": r"\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}",
    "description": "${VAR} or ${VAR:-default}, checked once interpolated",
}
_KEEP_OUTSIDE = ("title", "description", "default", "examples")


def _interpolable(node: Any) -> Any:
    """``node`` with every shaped value (numbers, booleans, enums, patterned strings) also
    accepting an interpolated string."""
    if isinstance(node, list):
        return [_interpolable(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _interpolable(value) for key, value in node.items()}
    shaped = out.get("type") in ("integer", "number", "boolean") or (
        out.get("type") == "string" and ("pattern" in out or "enum" in out)
    )
    if not shaped:
        return out
    outside = {k: out.pop(k) for k in _KEEP_OUTSIDE if k in out}
    return {**outside, "anyOf": [out, {"$ref": "#/$defs/Interpolated"}]}


# The definitions keep the names they had when format 1's model was ``Spec`` and format 2's
# ``SpecV2`` (schemas that refer to ``#/$defs/Spec`` keep meaning format 1).
DEF_NAMES = {"SpecV1": "Spec", "Spec": "SpecV2"}


def _renamed(node: Any) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                head, _, name = value.rpartition("/")
                out[key] = f"{head}/{DEF_NAMES.get(name, name)}"
            else:
                out[key] = _renamed(value)
        return out
    if isinstance(node, list):
        return [_renamed(item) for item in node]
    return node


def spec_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) that editors and CI use to check a spec file."""
    refs, body = models_json_schema(
        [(SpecV1, "validation"), (Spec, "validation")], ref_template="#/$defs/{model}"
    )
    defs = _renamed(_interpolable(body["$defs"]))
    for old, new in sorted(DEF_NAMES.items()):  # "Spec" → "SpecV2" before "SpecV1" → "Spec"
        defs[new] = {**defs.pop(old), "title": new}
    defs = dict(sorted(defs.items()))
    defs["Interpolated"] = INTERPOLATED
    by_version = {
        1: _renamed(refs[(SpecV1, "validation")]),
        2: _renamed(refs[(Spec, "validation")]),
    }
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": SCHEMA_ID,
        "title": "sla-runner spec",
        "description": (
            "An SLA spec for sla-runner, format version 1 or 2 (the file's version says "
            "which): the target service, its endpoints and WebSocket channels, the load to "
            "drive (format 2: scenarios, each a load model with a flow or a mix) and the "
            "thresholds to hold. Values such as durations (250ms), sizes (512MB), rates "
            "(50/s) and percents (99%) carry explicit units; ${VAR} and ${VAR:-default} are "
            "interpolated from the environment before validation."
        ),
        "type": "object",
        "required": ["version"],
        "properties": {
            "version": {"enum": list(by_version), "description": "format version of the file"}
        },
        "allOf": [
            {
                "if": {"properties": {"version": {"const": version}}, "required": ["version"]},
                "then": ref,
            }
            for version, ref in by_version.items()
        ],
        "$defs": defs,
    }


def spec_json_schema_text() -> str:
    """The schema as committed: 2-space indented JSON with a final newline."""
    return json.dumps(spec_json_schema(), indent=2, ensure_ascii=False) + "\n"
