"""``migrate``: the format-2 text of a version-1 spec file.

The file must be a valid version-1 spec (it is loaded, with ``env``, as ``validate`` would).
The text is written from the file as written, not as interpolated: ``${VAR}`` texts stay
(no environment value ever appears), and so does the comment block at the top (a
``yaml-language-server: $schema=`` line is added when there is none; the schema covers
both versions). Comments further down cannot be carried over, and a line says so.

What changes is what format 2 says otherwise (:mod:`sla_runner.spec.convert` is the same
mapping on models): ``version: 2``; the ``load`` becomes scenario ``default`` (at its place)
with a ``mix`` of the endpoints' weights (``weight`` leaves the endpoints) and every
channel; a stage whose level moves is written ``ramp_to`` (a ramp, as format 1 meant), one
whose level stays ``users``/``rate`` (a hold; a level written with ``${VAR}`` is compared as
written, so the file means the same in every environment); ``think_time`` is dropped from
an open-model load and ``max_in_flight`` from a closed one (neither was ever read there);
a ``{{`` in a field format 2 reads as a template is escaped (``{{{{``), so the same text is sent.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path
from typing import Any

import yaml

from sla_runner.errors import SpecError, SpecIssue
from sla_runner.spec.convert import DEFAULT_SCENARIO, level_of
from sla_runner.spec.document import load_document_text
from sla_runner.spec.jsonpath import JsonPathError, parse_path
from sla_runner.spec.loader import load_spec_text_v1
from sla_runner.spec.models import SpecV1
from sla_runner.spec.rawfile import decode, read_bytes
from sla_runner.spec.templated import map_sites
from sla_runner.spec.templates import escape
from sla_runner.spec.yamlemit import dump
from sla_runner.spec.yamlload import YamlDocument, format_path, parse_yaml

SCHEMA_REF = "../schemas/sla-spec.schema.json"
_SCHEMA_LINE = re.compile(r"^#\s*yaml-language-server:\s*\$schema=")
DROPPED = "# (sla-runner migrate: comments below this header were not carried over)"


def migrate_file(
    path: str | Path, env: Mapping[str, str] | None = None, schema: str = SCHEMA_REF
) -> str:
    """The format-2 text of the version-1 spec file at ``path`` (see the module)."""
    file = Path(path)
    raw = read_bytes(file)
    return migrate_text(decode(raw, str(file)), str(file), env, schema)


def migrate_text(
    text: str,
    filename: str = "<spec>",
    env: Mapping[str, str] | None = None,
    schema: str = SCHEMA_REF,
) -> str:
    """The format-2 text of a version-1 spec; ``schema``: the JSON Schema reference to add
    when the file has none. Raises SpecError when the text is not a valid version-1 spec."""
    document = parse_yaml(text, filename)
    written = document.data
    if written.get("version") == 2:
        mark = document.mark(("version",))
        issue = SpecIssue(mark.line, mark.column, "version", "the file is format version 2 already")
        raise SpecError(filename, [issue])
    if written.get("version") != 1:  # a version it does not read, or none: as validate says
        load_document_text(text, filename, env=env)
    spec = load_spec_text_v1(text, filename, env=env).spec
    _check_channel_paths(document, spec, filename)
    out = dump(_format_2(written, spec))
    if not _same(parse_yaml(out, filename).data, _format_2(written, spec)):  # pragma: no cover
        raise AssertionError("migrate wrote YAML that does not read back as written")
    return _header(text, schema) + out


def _check_channel_paths(document: YamlDocument, spec: SpecV1, filename: str) -> None:
    """Refuse a channel's JSON-field check whose path format 2 cannot write (see JsonFields)."""
    issues = []
    for name, channel in spec.channels.items():
        for path in (channel.expect.json_fields or {}) if channel.expect else {}:
            try:
                parse_path(path)
            except JsonPathError as exc:
                loc = ("channels", name, "expect", "json", path)
                mark = document.mark(loc, key=True)
                keys = ", ".join(repr(k) for k in path.split("."))
                message = (
                    "format 2 reads JSON paths strictly, and this one does not parse "
                    f"({exc.message}); format 1 read it as the keys {keys}, which format 2 "
                    "cannot write: change the check"
                )
                issues.append(SpecIssue(mark.line, mark.column, format_path(loc), message))
    if issues:
        raise SpecError(filename, issues)


def _format_2(written: dict[str, Any], spec: SpecV1) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in written.items():
        if key == "version":
            out[key] = 2
        elif key == "load":
            out["scenarios"] = {DEFAULT_SCENARIO: _scenario(written, spec)}
        elif key in ("endpoints", "channels") and isinstance(value, dict):
            out[key] = {
                name: map_sites(key, {k: v for k, v in item.items() if k != "weight"}, escape)
                for name, item in value.items()
            }
        else:
            out[key] = value
    return out


def _scenario(written: dict[str, Any], spec: SpecV1) -> dict[str, Any]:
    dropped = "think_time" if spec.load.model == "open" else "max_in_flight"
    load: dict[str, Any] = {}
    for key, value in written["load"].items():
        if key == "stages":
            load[key] = _stages(value, spec)
        elif key != dropped:
            load[key] = value
    scenario: dict[str, Any] = {"load": load}
    endpoints = written.get("endpoints") or {}
    if endpoints:
        scenario["mix"] = {name: e.get("weight", 1) for name, e in endpoints.items()}
    if written.get("channels"):
        scenario["channels"] = list(written["channels"])
    return scenario


def _stages(stages: list[dict[str, Any]], spec: SpecV1) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    before: Any = 0  # the previous level as written
    previous = Fraction(0)
    for stage, model in zip(stages, spec.load.stages, strict=True):
        key = "users" if "users" in stage else "rate"
        level = level_of(model)
        value = stage[key]
        if _interpolated(value) or _interpolated(before):
            holds = value == before  # the same ${VAR} text is the same level everywhere
        else:
            holds = level == previous
        written_as = key if holds else "ramp_to"
        out.append({(written_as if k == key else k): v for k, v in stage.items()})
        before, previous = value, level
    return out


def _interpolated(value: Any) -> bool:
    return isinstance(value, str) and "${" in value


def _header(text: str, schema: str) -> str:
    """The comment block at the top of ``text``, with a $schema line, and a note when
    comments further down were dropped."""
    lines = text.splitlines()
    end = 0
    while end < len(lines) and (not lines[end].strip() or lines[end].lstrip().startswith("#")):
        end += 1
    head = lines[:end]
    while head and not head[-1].strip():
        head.pop()
    if not any(_SCHEMA_LINE.match(line) for line in head):
        head = [f"# yaml-language-server: $schema={schema}", *(["#"] if head else []), *head]
    if _has_comments("\n".join(lines[end:])):
        head.append(DROPPED)
    return "\n".join(head) + "\n\n"


def _has_comments(body: str) -> bool:
    """Whether YAML text holds a comment (a ``#`` outside every scalar)."""
    scalars = [
        (token.start_mark.index, token.end_mark.index)
        for token in yaml.scan(body)
        if isinstance(token, yaml.ScalarToken)
    ]
    for match in re.finditer("#", body):
        at = match.start()
        inside = any(start <= at < end for start, end in scalars)
        if not inside and (at == 0 or body[at - 1] in " \t\n"):
            return True
    return False


def _same(a: Any, b: Any) -> bool:
    """Equal as data (NaN equal to itself, 1 and 1.0 told apart as YAML tells them)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(map(_same, a, b))
    return bool(a == b)
