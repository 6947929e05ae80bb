"""Load a spec file: YAML with positions → interpolation → ``--set`` overrides → models.

Every problem found on the way is collected and raised as one :class:`SpecError`, each
issue at its ``file:line:col``, sorted by position. Nothing is printed; nothing exits.
"""

from __future__ import annotations

import hashlib
import os
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from sla_runner.errors import SpecError, SpecIssue
from sla_runner.spec.checks import Loc, unchecked_problems, unwrap
from sla_runner.spec.interpolate import Interpolation, interpolate
from sla_runner.spec.messages import field_names, issues_from_validation, shown
from sla_runner.spec.models import (
    DEFER_REFERENCES,
    Load,
    References,
    Spec,
    reference_problems,
)
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

__all__ = ["LoadedSpec", "load_spec", "load_spec_text", "parse_override_path"]


@dataclass(frozen=True)
class LoadedSpec:
    """A valid spec and the facts a report needs about the file it came from."""

    spec: Spec
    path: Path
    sha256: str  # of the raw file bytes, before interpolation and overrides
    secrets: frozenset[str]  # values reports must redact


def load_spec(
    path: str | Path,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, str] | None = None,
) -> LoadedSpec:
    """Read, check and validate the spec at ``path``; raise SpecError listing every problem.

    ``env`` defaults to ``os.environ``. ``overrides`` maps dotted paths
    (``load.stages[0].users``) to values written as YAML scalars (the CLI's ``--set``).
    """
    file = Path(path)
    raw = read_bytes(file)
    return _load(raw, decode(raw, str(file)), file, env, overrides)


def load_spec_text(
    text: str,
    filename: str = "<spec>",
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, str] | None = None,
) -> LoadedSpec:
    """As :func:`load_spec`, for text already in memory; ``filename`` names it in errors."""
    raw = text.encode("utf-8", "surrogatepass")
    return _load(raw, text, Path(filename), env, overrides)


def _load(
    raw: bytes,
    text: str,
    file: Path,
    env: Mapping[str, str] | None,
    overrides: Mapping[str, str] | None,
) -> LoadedSpec:
    name = str(file)
    document = parse_yaml(text, name)
    interpolated = interpolate(document, os.environ if env is None else env)
    issues = [*document.issues, *interpolated.issues]
    overridden = _apply_overrides(interpolated.data, overrides or {}, issues)
    document = _with_overrides(document, overridden)
    spec: Spec | None = None
    load: Load | None
    try:
        spec = Spec.model_validate(interpolated.data, context={DEFER_REFERENCES: True})
        refs, load = References.of(spec), spec.load
        problems = reference_problems(refs)
    except ValidationError as exc:
        issues.extend(issues_from_validation(exc, document))
        # Every check runs in the same round, on what can be read: the checks of a mapping
        # whose fields did not all validate, and the cross-references.
        errors: list[Loc] = [tuple(e["loc"]) for e in exc.errors(include_url=False)]
        problems = unchecked_problems(Spec, interpolated.data, errors)
        refs = References.readable(interpolated.data, errors)
        problems += reference_problems(refs)
        load = readable_load(interpolated.data, errors)
    problems += users_out_of_reach(load, refs.thresholds)
    for loc, message in problems:
        shown_loc = document.known(loc) if loc else ()
        mark = document.mark(shown_loc)
        issue = SpecIssue(mark.line, mark.column, format_path(shown_loc), message)
        if issue not in issues:
            issues.append(issue)
    if issues:
        raise SpecError(name, _finish(issues, interpolated, overridden, document))
    assert spec is not None
    return LoadedSpec(
        spec=spec,
        path=file,
        sha256=hashlib.sha256(raw).hexdigest(),
        secrets=_secrets(spec, interpolated),
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


def _secrets(spec: Spec, interpolated: Interpolation) -> frozenset[str]:
    values = {v.value for v in interpolated.env_values if v.secret}
    headers = [
        spec.target.headers,
        *(e.headers for e in spec.endpoints.values()),
        *(c.headers for c in spec.channels.values()),
    ]
    values.update(v for h in headers for v in h.values())
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
    data: dict[str, Any], overrides: Mapping[str, str], issues: list[SpecIssue]
) -> set[YamlPath]:
    """Set each ``overrides`` path in ``data`` (creating mappings on the way). A key the
    format does not have is an issue naming the key (never its value: it may be a secret)."""
    done: set[YamlPath] = set()
    for key, raw_value in overrides.items():
        try:
            path = parse_override_path(key)
            _check_override_path(path)
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


def _check_override_path(path: YamlPath) -> None:
    """ValueError unless every part of ``path`` is a field (or a name, or an index) where
    the spec's models have one. Below free-form values (a JSON body) anything goes."""
    current: Any = Spec
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


def _set(data: dict[str, Any], path: YamlPath, value: Any) -> None:
    node: Any = data
    for i, part in enumerate(path):
        last = i == len(path) - 1
        where = format_path(path[:i]) or "the spec"
        if isinstance(node, str) and path[:1] == ("thresholds",) and i == 2:
            node = {"expr": node}  # a threshold written as a string is a rule's expr
            data["thresholds"][path[1]] = node
        if isinstance(part, int):
            if not isinstance(node, list):
                raise ValueError(f"{where} is not a list")
            if part >= len(node):
                raise ValueError(f"{where} has {len(node)} item(s); there is no [{part}]")
            if last:
                node[part] = value
            else:
                node = node[part]
            continue
        if not isinstance(node, dict):
            raise ValueError(f"{where} is not a mapping")
        if last:
            node[part] = value
        else:
            node = node.setdefault(part, {})
