"""Load a spec file: YAML with positions → interpolation → ``--set`` overrides → models.

Every problem found on the way is collected and raised as one :class:`SpecError`, each
issue at its ``file:line:col``, sorted by position. Nothing is printed; nothing exits.
"""

from __future__ import annotations

import hashlib
import os
import re
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from sla_runner.errors import SpecError, SpecIssue
from sla_runner.spec.checks import Loc, unchecked_problems, unwrap
from sla_runner.spec.interpolate import Interpolation, interpolate
from sla_runner.spec.messages import field_names, issues_from_validation, shown
from sla_runner.spec.models import DEFER_REFERENCES, References, SpecV1, reference_problems
from sla_runner.spec.reach import readable_load, users_out_of_reach
from sla_runner.spec.suggest import did_you_mean
from sla_runner.spec.yamlload import (
    YamlDocument,
    YamlPath,
    decode,
    format_path,
    parse_scalar,
    parse_yaml,
    read_bytes,
)

__all__ = [
    "LoadedSpecV1",
    "Reading",
    "load_raw",
    "load_spec_text_v1",
    "load_spec_v1",
    "parse_override_path",
    "read_spec",
    "spec_secrets",
    "validate",
]


@dataclass(frozen=True)
class LoadedSpecV1:
    """A valid spec and the facts a report needs about the file it came from."""

    spec: SpecV1
    path: Path
    sha256: str  # of the raw file bytes, before interpolation and overrides
    secrets: frozenset[str]  # values reports must redact

    @property
    def version(self) -> int:
        """The format version of the file: 1."""
        return 1


def load_spec_v1(
    path: str | Path,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, str] | None = None,
) -> LoadedSpecV1:
    """Read, check and validate the spec at ``path``; raise SpecError listing every problem.

    ``env`` defaults to ``os.environ``. ``overrides`` maps dotted paths
    (``load.stages[0].users``) to values written as YAML scalars (the CLI's ``--set``).
    """
    file = Path(path)
    raw = read_bytes(file)
    return load_raw(raw, decode(raw, str(file)), file, env, overrides)


def load_spec_text_v1(
    text: str,
    filename: str = "<spec>",
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, str] | None = None,
) -> LoadedSpecV1:
    """As :func:`load_spec_v1`, for text already in memory; ``filename`` names it in errors."""
    raw = text.encode("utf-8", "surrogatepass")
    return load_raw(raw, text, Path(filename), env, overrides)


@dataclass
class Reading:
    """A spec file read up to validation: the document with positions, interpolated and
    overridden, and the issues found so far. Shared by both formats' loaders."""

    raw: bytes
    text: str
    file: Path
    document: YamlDocument
    interpolated: Interpolation
    issues: list[SpecIssue]
    overridden: set[YamlPath]

    @property
    def data(self) -> dict[str, Any]:
        return self.interpolated.data

    def place(self, loc: YamlPath, message: str) -> None:
        """Add a problem found at ``loc`` (a trailing ``"[key]"``: at the key), unless the
        same issue is there already."""
        on_key = loc[-1:] == ("[key]",)
        loc = loc[:-1] if on_key else loc
        shown_loc = self.document.known(loc) if loc else ()
        mark = self.document.mark(shown_loc, key=on_key and shown_loc == loc)
        self.add(SpecIssue(mark.line, mark.column, format_path(shown_loc), message))

    def add(self, issue: SpecIssue) -> None:
        if issue not in self.issues:
            self.issues.append(issue)

    def finish(self) -> None:
        """Raise SpecError listing every issue, if there is any."""
        if self.issues:
            raise SpecError(
                str(self.file),
                _finish(self.issues, self.interpolated, self.overridden, self.document),
            )

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()  # of the bytes, before interpolation


def read_spec(
    raw: bytes,
    text: str,
    file: Path,
    env: Mapping[str, str] | None,
    overrides: Mapping[str, str] | None,
    root: type[BaseModel] = SpecV1,
) -> Reading:
    """Parse, interpolate and apply ``overrides`` (their paths checked against ``root``)."""
    document = parse_yaml(text, str(file))
    interpolated = interpolate(document, os.environ if env is None else env)
    issues = [*document.issues, *interpolated.issues]
    overridden = _apply_overrides(interpolated.data, overrides or {}, issues, root)
    document = _with_overrides(document, overridden)
    return Reading(raw, text, file, document, interpolated, issues, overridden)


_M = TypeVar("_M", bound=BaseModel)


def validate(
    reading: Reading, root: type[_M], versions: tuple[int, ...]
) -> tuple[_M | None, list[Loc]]:
    """The model of ``reading``'s data, its checks across the spec left to the caller; or
    None, every error an issue, and the locations of the errors (for the caller's checks
    that run on what can be read). The checks of each mapping whose fields did not all
    validate run here, on what can be read of it."""
    try:
        return root.model_validate(reading.data, context={DEFER_REFERENCES: True}), []
    except ValidationError as exc:
        reading.issues.extend(issues_from_validation(exc, reading.document, root, versions))
        errors: list[Loc] = [tuple(e["loc"]) for e in exc.errors(include_url=False)]
        for loc, message in unchecked_problems(root, reading.data, errors):
            reading.place(loc, message)
        return None, errors


def load_raw(
    raw: bytes,
    text: str,
    file: Path,
    env: Mapping[str, str] | None,
    overrides: Mapping[str, str] | None,
    versions: tuple[int, ...] = (1,),
) -> LoadedSpecV1:
    """Load a format-1 spec from its bytes and text (``versions``: those the caller reads,
    for the message about an unsupported one)."""
    reading = read_spec(raw, text, file, env, overrides)
    spec, errors = validate(reading, SpecV1, versions)
    # The cross-references run in the same round, on what can be read.
    refs = References.of(spec) if spec is not None else References.readable(reading.data, errors)
    load = spec.load if spec is not None else readable_load(reading.data, errors)
    for loc, message in [*reference_problems(refs), *users_out_of_reach(load, refs.thresholds)]:
        reading.place(loc, message)
    reading.finish()
    assert spec is not None
    return LoadedSpecV1(
        spec=spec,
        path=file,
        sha256=reading.sha256,
        secrets=_secrets(spec, reading.interpolated),
    )


def _finish(
    issues: list[SpecIssue],
    interpolated: Interpolation,
    overridden: set[YamlPath],
    document: YamlDocument,
) -> list[SpecIssue]:
    """Drop follow-on errors, hide env values, say which values came from --set."""
    paths = {format_path(p): p for p in [*document.values, *overridden]}
    out: list[SpecIssue] = []
    for issue in issues:
        path = paths.get(issue.path, ())
        if issue in document.issues:
            out.append(issue)
            continue
        if any(path[: len(u)] == u for u in document.unreadable):
            continue  # the YAML value could not be read; its own error says why
        if issue not in interpolated.issues and interpolated.follows_from_failure(
            path, issue.message
        ):
            continue  # the value was left uninterpolated; its own error says why
        message = interpolated.redact(path, issue.message)
        if any(path[: len(o)] == o for o in overridden):
            message += " (value from --set)"
        out.append(SpecIssue(issue.line, issue.column, issue.path, message))
    return out


def _secrets(spec: SpecV1, interpolated: Interpolation) -> frozenset[str]:
    return spec_secrets(
        interpolated, [spec.target, *spec.endpoints.values(), *spec.channels.values()]
    )


class _HasHeaders(Protocol):
    @property
    def headers(self) -> dict[str, str]: ...


def spec_secrets(interpolated: Interpolation, parts: Iterable[_HasHeaders]) -> frozenset[str]:
    """What reports must redact: every environment value not public, every header value."""
    values = {v.value for v in interpolated.env_values if v.secret}
    values.update(v for part in parts for v in part.headers.values())
    return frozenset(v for v in values if v)


_PATH_PART = re.compile(r"(?:^|\.)([^.\[\]]+)|\[(\d+)\]")


def parse_override_path(text: str) -> YamlPath:
    """``load.stages[0].users`` → ``("load", "stages", 0, "users")``; ValueError if malformed."""
    parts: list[str | int] = []
    pos = 0
    while pos < len(text):
        match = _PATH_PART.match(text, pos)
        if match is None or (match[0].startswith(".") and pos == 0):
            raise ValueError(
                f"cannot read the path {shown(text)}; expected e.g. load.stages[0].users"
            )
        parts.append(match[1] if match[1] is not None else int(match[2]))
        pos = match.end()
    if not parts or not isinstance(parts[0], str):
        raise ValueError(f"cannot read the path {shown(text)}; expected e.g. target.base_url")
    return tuple(parts)


def _apply_overrides(
    data: dict[str, Any],
    overrides: Mapping[str, str],
    issues: list[SpecIssue],
    root: type[BaseModel],
) -> set[YamlPath]:
    """Set each ``overrides`` path in ``data`` (creating mappings on the way). A key the
    format does not have is an issue naming the key (never its value: it may be a secret)."""
    done: set[YamlPath] = set()
    for key, raw_value in overrides.items():
        try:
            path = parse_override_path(key)
            _check_override_path(path, root)
            _set(data, path, parse_scalar(raw_value))
        except ValueError as exc:
            issues.append(SpecIssue(0, 0, "", f"--set {key}: {exc}"))
            continue
        done.add(path)
    return done


def _with_overrides(document: YamlDocument, overridden: set[YamlPath]) -> YamlDocument:
    """The document with the paths ``--set`` wrote, so that messages name them (each at
    the place of its nearest ancestor in the file)."""
    if not overridden:
        return document
    values = dict(document.values)
    for path in sorted(overridden, key=len):
        for end in range(1, len(path) + 1):
            values.setdefault(path[:end], document.mark(path[:end]))
    return replace(document, values=values)


def _check_override_path(path: YamlPath, root: type[BaseModel]) -> None:
    """ValueError unless every part of ``path`` is a field (or a name, or an index) where
    the spec's models have one. Below free-form values (a JSON body) anything goes."""
    current: Any = root
    for i, part in enumerate(path):
        where = format_path(path[:i]) or "the spec"
        core = unwrap(current)
        origin, args = typing.get_origin(core), typing.get_args(core)
        if core is Any:
            return  # free-form (a JSON body): the data decides
        if origin is list:
            if not isinstance(part, int):
                rest = format_path((0, *path[i:]))
                raise ValueError(f"{where} is a list; give an index, e.g. {where}{rest}")
            current = args[0]
        elif isinstance(part, int):
            if origin is dict or isinstance(core, type):
                raise ValueError(f"{where} is not a list")
            return
        elif origin is dict:
            current = args[1]
        elif isinstance(core, type) and issubclass(core, BaseModel):
            names = field_names(core)
            if part not in names:
                hint = did_you_mean(part, names) or f"; expected one of {', '.join(names)}"
                raise ValueError(f"no field {part!r} in {where}{hint}")
            current = next(
                f.annotation for n, f in core.model_fields.items() if (f.alias or n) == part
            )
        else:
            return  # a scalar, Any or a union: the data decides


def _shorthand(path: YamlPath) -> str | None:
    """At an item of a list whose items may be written as a bare string (a threshold, a
    step): the field that string stands for."""
    if len(path) == 2 and path[0] == "thresholds" and isinstance(path[1], int):
        return "expr"
    if len(path) == 2 and path[0] == "before" and isinstance(path[1], int):
        return "request"
    steps = len(path) == 4 and path[0] == "scenarios" and path[2] in ("flow", "setup")
    return "request" if steps and isinstance(path[3], int) else None


def _set(data: dict[str, Any], path: YamlPath, value: Any) -> None:
    node: Any = data
    parent: Any = None
    for i, part in enumerate(path):
        last = i == len(path) - 1
        where = format_path(path[:i]) or "the spec"
        shorthand = _shorthand(path[:i])
        if isinstance(node, str) and shorthand is not None:
            # a threshold written as a string is a rule's expr, a step an endpoint's name
            node = {shorthand: node}
            parent[path[i - 1]] = node
        if isinstance(part, int):
            if not isinstance(node, list):
                raise ValueError(f"{where} is not a list")
            if part >= len(node):
                raise ValueError(f"{where} has {len(node)} item(s); there is no [{part}]")
            if last:
                node[part] = value
            else:
                parent, node = node, node[part]
            continue
        if not isinstance(node, dict):
            raise ValueError(f"{where} is not a mapping")
        if last:
            node[part] = value
        else:
            parent, node = node, node.setdefault(part, {})


# The names format 1's loader had before every command loaded both versions
# (:func:`sla_runner.spec.document.load_document`).
LoadedSpec = LoadedSpecV1
load_spec = load_spec_v1
load_spec_text = load_spec_text_v1
