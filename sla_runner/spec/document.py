"""Load a spec file of either format version into the format-2 model.

:func:`load_document` reads ``version`` and loads the file as that format: a version-1 file
exactly as :func:`sla_runner.spec.loader.load_spec_v1` loads it (same checks, same messages),
then converted (:func:`sla_runner.spec.convert.from_v1`); a version-2 file as format 2, with
its data tables read (paths relative to the spec file's folder) and its templates and JSON
paths checked. Every problem is reported in one round, each at its ``file:line:col``; a
problem inside a string (a template name, a JSON path) at its character. A version this
sla-runner does not read (``version: 3``) is the one error reported, at its place: the rest
of the file is of a format it does not know. A missing version is reported, and the rest of
the file is checked as the format its keys suggest (``load`` at the top: format 1;
otherwise format 2).

Secrets: ``${VAR}`` values (unless ``public_vars``, or in ``thresholds`` or ``capacity``:
the contract), every header value, and every value
of a data table read from a file (unless the table is ``public``). A ``${VAR}`` value is
literal text, never a template: where format 2 reads templates, a ``{{`` it holds is
escaped (``{{{{``), so the value is sent exactly as it is.

Segments: a table dealt to users must have at least as many rows as there are segments
(each segment deals its own rows, :class:`sla_runner.spec.data.Dealer`). The file does not
know the segment count, so that is the plan's check, when it is given ``--segment I/N``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sla_runner.errors import SpecIssue
from sla_runner.spec.checks import Loc, under
from sla_runner.spec.convert import from_v1
from sla_runner.spec.crossref2 import Finding, read
from sla_runner.spec.data import DataError, Table, load_table
from sla_runner.spec.format2 import DataTable, Spec
from sla_runner.spec.interpolate import InterpolationError, interpolate_text
from sla_runner.spec.loader import Reading, load_raw, read_spec, spec_secrets, validate
from sla_runner.spec.messages import unsupported_version
from sla_runner.spec.models import SpecV1
from sla_runner.spec.positions import mark_in_scalar, written_offset
from sla_runner.spec.rawfile import decode, read_bytes
from sla_runner.spec.templated import all_findings, sites
from sla_runner.spec.templates import escape, parse_template
from sla_runner.spec.yamlload import format_path, parse_scalar, parse_yaml

__all__ = [
    "VERSIONS",
    "LoadedDocument",
    "LoadedSpec",
    "load_document",
    "load_document_text",
]

VERSIONS = (1, 2)


@dataclass(frozen=True)
class LoadedSpec:
    """A valid spec of either version, as format 2, and the facts a report needs."""

    spec: Spec
    version: int  # the file's format version: 1 or 2
    path: Path
    sha256: str  # of the raw file bytes, before interpolation and overrides
    secrets: frozenset[str]  # values reports must redact
    tables: Mapping[str, Table] = field(default_factory=dict)  # data tables, loaded
    v1: SpecV1 | None = None  # the file's own model, when it is version 1


LoadedDocument = LoadedSpec  # its name before it became what every command loads


def load_document(
    path: str | Path,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, str] | None = None,
) -> LoadedSpec:
    """Read, check and validate the spec at ``path``; raise SpecError listing every problem.

    ``env`` defaults to ``os.environ``; ``overrides`` maps dotted paths
    (``scenarios.shoppers.load.stages[0].users``) to YAML scalars (the CLI's ``--set``)."""
    file = Path(path)
    raw = read_bytes(file)
    return _load(raw, decode(raw, str(file)), file, env, overrides, file.parent)


def load_document_text(
    text: str,
    filename: str = "<spec>",
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, str] | None = None,
    base_dir: Path | None = None,
) -> LoadedSpec:
    """As :func:`load_document`, for text in memory; data files are read relative to
    ``base_dir`` (default: the folder of ``filename``)."""
    raw = text.encode("utf-8", "surrogatepass")
    file = Path(filename)
    return _load(raw, text, file, env, overrides, file.parent if base_dir is None else base_dir)


def _load(
    raw: bytes,
    text: str,
    file: Path,
    env: Mapping[str, str] | None,
    overrides: Mapping[str, str] | None,
    base_dir: Path,
) -> LoadedSpec:
    version = _version_of(text, file, env, overrides)
    if version is None:
        reading = read_spec(raw, text, file, env, overrides, Spec)
        reading.issues[:] = [i for i in reading.issues if i.path == "version"]
        reading.place(("version",), unsupported_version(reading.data.get("version"), VERSIONS))
        reading.finish()
    if version == 1:
        loaded = load_raw(raw, text, file, env, overrides, VERSIONS)
        return LoadedSpec(
            from_v1(loaded.spec), 1, loaded.path, loaded.sha256, loaded.secrets, {}, loaded.spec
        )
    reading = read_spec(raw, text, file, env, overrides, Spec)
    envs = _escape_environment(reading)
    data = reading.data
    spec, errors = validate(reading, Spec, VERSIONS)
    columns: dict[str, tuple[str, ...]] = {}
    tables = _tables(reading, errors, base_dir, columns)
    for finding in all_findings(read(data, errors, columns)):
        _place(reading, finding, envs)
    reading.finish()
    assert spec is not None
    secrets = spec_secrets(reading.interpolated, [spec.target]) | _header_secrets(spec)
    for table in tables.values():
        secrets |= table.secrets()
    return LoadedSpec(spec, 2, file, reading.sha256, secrets, tables)


def _header_secrets(spec: Spec) -> frozenset[str]:
    """The header values of endpoints and channels, as sent, when they are fixed text (a
    header filled from a template per request is the run's to redact)."""
    values = set()
    headers = [e.headers for e in spec.endpoints.values()]
    for headers_of in [*headers, *(c.headers for c in spec.channels.values())]:
        for text in headers_of.values():
            template = parse_template(text)
            if template.is_static:
                values.add("".join(p for p in template.parts if isinstance(p, str)))
    return frozenset(v for v in values if v)


def _version_of(
    text: str, file: Path, env: Mapping[str, str] | None, overrides: Mapping[str, str] | None
) -> int | None:
    """The format to read the file as: its version, or what its keys suggest when it has
    none (or it is a supported one written as text); None for a version it does not read."""
    data = parse_yaml(text, str(file)).data
    given = dict(overrides or {})
    written = parse_scalar(given["version"]) if "version" in given else None
    value = written if written is not None else data.get("version")
    if isinstance(value, str) and "${" in value:
        try:
            value = interpolate_text(value, env if env is not None else {})[0]
        except InterpolationError:
            value = None
    if isinstance(value, str) and value.strip() in ("1", "2"):
        value = int(value)
    if value in VERSIONS and not isinstance(value, bool):
        return int(value)
    if value is not None:
        return None
    return 1 if "load" in data and "scenarios" not in data else 2


def _escape_environment(reading: Reading) -> dict[Loc, dict[str, str]]:
    """Escape ``{{`` in every environment value a template took in (see the module);
    return each template's environment as it was interpolated, for placing problems."""
    envs: dict[Loc, dict[str, str]] = {}
    for kind in ("endpoints", "channels"):
        declared = reading.data.get(kind)
        for name, raw in declared.items() if isinstance(declared, dict) else ():
            if not isinstance(raw, dict):
                continue
            for rel, _ in sites(kind, raw):
                loc = (kind, name, *rel)
                env = reading.interpolated.env_of(loc)
                if not env:
                    continue
                escaped = {key: escape(value) for key, value in env.items()}
                envs[loc] = escaped
                if escaped != env:
                    written = reading.interpolated.sources[loc][0]
                    _put(reading.data, loc, interpolate_text(written, escaped)[0])
    return envs


def _put(data: Any, loc: Loc, value: str) -> None:
    for part in loc[:-1]:
        data = data[part]
    data[loc[-1]] = value


def _tables(
    reading: Reading, errors: list[Loc], base_dir: Path, columns: dict[str, tuple[str, ...]]
) -> dict[str, Table]:
    """Every table whose declaration validated, loaded; a problem is an issue at its place.
    ``columns`` gets the columns of each table loaded, or read before its problem."""
    out: dict[str, Table] = {}
    declared = reading.data.get("data")
    for name, raw in declared.items() if isinstance(declared, dict) else ():
        at: Loc = ("data", name)
        if not isinstance(raw, dict) or under(errors, at) or not isinstance(name, str):
            continue
        table = DataTable.model_validate(raw)
        try:
            out[name] = load_table(
                name,
                file=table.file,
                rows=table.rows,
                base_dir=base_dir,
                public=table.public,
                unique=table.unique,
            )
            columns[name] = out[name].columns
        except DataError as exc:
            if exc.columns is not None:
                columns[name] = exc.columns
            if exc.row is not None:
                message = exc.message.removeprefix(f"rows[{exc.row}] ")
                reading.place((*at, "rows", exc.row), message)
            elif table.rows is not None:
                reading.place((*at, "rows"), exc.message.removeprefix("rows: "))
            else:
                reading.place((*at, "file"), exc.message)
    return out


def _place(reading: Reading, finding: Finding, envs: dict[Loc, dict[str, str]]) -> None:
    """An issue at the finding's place: in its string, at its offset, where that is known."""
    loc, offset = finding.loc, finding.offset
    on_key = loc[-1:] == ("[key]",)
    target = loc[:-1] if on_key else loc
    document = reading.document
    overridden = any(target[: len(o)] == o for o in reading.overridden)
    if offset is None or overridden or document.known(target) != target:
        reading.place(loc, finding.message)
        return
    if on_key:
        start, text = document.mark(target, key=True), str(target[-1])
    else:
        start, text = document.mark(target), _at(document.data, target)
        if not isinstance(text, str):
            reading.place(loc, finding.message)
            return
        found = written_offset(text, envs.get(target, {}), offset)
        offset = found if found is not None else 0
    mark = mark_in_scalar(reading.text, start, text, offset)
    reading.add(SpecIssue(mark.line, mark.column, format_path(target), finding.message))


def _at(data: Any, loc: Loc) -> Any:
    for part in loc:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data
