"""Pydantic validation errors → human messages with YAML positions.

Pydantic says ``Input should be 'GET', 'POST' ...`` at ``('endpoints', 'a', 'method')``;
a person wants ``file:7:13: endpoints.a.method: expected one of GET, POST, ...; got 'GTE'``.
This module rewrites each error's message, maps its ``loc`` to a position in the YAML
(the key for unknown fields, the value otherwise) and merges the per-member errors of a
union into one.
"""

from __future__ import annotations

import typing
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from sla_runner.errors import SpecIssue
from sla_runner.redact import MASK
from sla_runner.spec.checks import unwrap
from sla_runner.spec.fields import NAME_PATTERN
from sla_runner.spec.format2 import TABLE_PATTERN, VAR_PATTERN
from sla_runner.spec.models import ENV_NAME_PATTERN, SpecV1
from sla_runner.spec.suggest import did_you_mean
from sla_runner.spec.yamlload import YamlDocument, YamlPath, format_path

# Unions whose members Pydantic reports one by one; keyed by the field's name.
_UNION_HINTS = {
    "status": "expected a status code (100-599) or a list of status codes",
    "send": "expected text, or JSON written as a mapping or a list",
    "query": "expected a string, number or true/false",
    "ramp_to": "expected a number of users (100) or a rate (400/s)",
}

_KIND_OF_TYPE = {
    "string_type": "a string",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "list_type": "a list",
}

_BOUNDS = {
    "greater_than": ("gt", "above"),
    "greater_than_equal": ("ge", "at least"),
    "less_than": ("lt", "below"),
    "less_than_equal": ("le", "at most"),
}


class Masked:
    """A secret value in an error message: shown as ``***`` (header values are secrets)."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return MASK


def _secret_at(loc: YamlPath) -> bool:
    """Whether ``loc`` holds header values (a headers mapping or one value, not a name)."""
    return "headers" in loc and loc[-1:] != ("[key]",)


def shown(value: Any, limit: int = 60) -> str:
    """A short ``repr`` for messages."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def model_at(loc: YamlPath, root: type[BaseModel] = SpecV1) -> type[BaseModel] | None:
    """The model class that validates the mapping at ``loc`` (None when it is not a model)."""
    current: Any = root
    for part in loc:
        current = unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            fields = {(f.alias or name): f for name, f in current.model_fields.items()}
            if not isinstance(part, str) or part not in fields:
                return None
            current = fields[part].annotation
        elif typing.get_origin(current) in (dict, list):
            current = typing.get_args(current)[-1]
        else:
            return None
    current = unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def field_names(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


def _unknown_field(loc: YamlPath, root: type[BaseModel]) -> str:
    model = model_at(loc[:-1], root)
    if model is None:
        return "unknown field"
    moved: dict[str, str] = getattr(model, "moved_fields", {})
    if str(loc[-1]) in moved:
        return moved[str(loc[-1])]
    names = field_names(model)
    return f"unknown field; expected one of {', '.join(names)}" + did_you_mean(str(loc[-1]), names)


def _pattern_message(pattern: str, value: Any, what: str) -> str:
    if pattern == NAME_PATTERN:
        return (
            f"expected a {what} of letters, digits, '-' and '_' (starting with a letter or digit, "
            f"at most 63 characters), got {shown(value)}"
        )
    if pattern == VAR_PATTERN:
        return (
            "expected a variable name of letters, digits and '_' (not starting with a digit, "
            f"at most 63 characters), as {{{{ NAME }}}} reads it, got {shown(value)}"
        )
    if pattern == TABLE_PATTERN:
        return (
            "expected a table name of letters, digits, '-' and '_' (starting with a letter or "
            f"'_', at most 63 characters), as {{{{ TABLE.COLUMN }}}} reads it, got {shown(value)}"
        )
    if pattern == ENV_NAME_PATTERN:
        return f"expected an environment variable name (letters, digits, _), got {shown(value)}"
    return f"expected text matching {pattern}, got {shown(value)}"  # pragma: no cover


def unsupported_version(value: object, versions: tuple[int, ...]) -> str:
    """The message for a ``version`` this sla-runner does not read."""
    return f"unsupported format version {shown(value)}; this sla-runner reads {_versions(versions)}"


def _versions(versions: tuple[int, ...]) -> str:
    if len(versions) == 1:
        return f"version {versions[0]}"
    return "versions " + ", ".join(map(str, versions[:-1])) + f" and {versions[-1]}"


def _message(
    error: ErrorDetails,
    loc: YamlPath,
    root: type[BaseModel] = SpecV1,
    versions: tuple[int, ...] = (1,),
) -> str:
    kind, ctx, value = error["type"], error.get("ctx") or {}, error["input"]
    if kind == "extra_forbidden":
        return _unknown_field(loc, root)
    if kind == "missing":
        return "required field is missing"
    if loc == ("version",) and kind == "literal_error":
        if isinstance(value, str) and value.strip() in {str(v) for v in versions}:
            n = value.strip()
            return f"version is the number {n}, not the text {shown(value)}: write version: {n}"
        return unsupported_version(value, versions)
    if kind == "literal_error":
        expected = str(ctx.get("expected", "")).replace("'", "")
        options = [o.strip() for o in expected.replace(" or ", ", ").split(",")]
        hint = did_you_mean(value, options, cutoff=0.5) if isinstance(value, str) else ""
        return f"expected one of {', '.join(options)}; got {shown(value)}{hint}"
    if kind == "model_type" and len(loc) >= 2 and loc[-2] in ("flow", "setup", "before"):
        return (
            "expected an endpoint name, or a mapping with request (and think_time), "
            f"got {shown(value)}"
        )
    if kind == "model_type" and loc[:1] == ("thresholds",) and len(loc) == 2:
        return (
            "expected a threshold expression like 'p95(http) < 200ms' or a mapping "
            f"with expr, got {shown(value)}"
        )
    if kind in _KIND_OF_TYPE:
        hint = " (quote it to make it a string)" if kind == "string_type" and _scalar(value) else ""
        return f"expected {_KIND_OF_TYPE[kind]}, got {shown(value)}{hint}"
    if kind in _BOUNDS:
        key, words = _BOUNDS[kind]
        bound = ctx.get(key)
        if isinstance(bound, float) and bound.is_integer():
            bound = int(bound)
        return f"must be {words} {bound}, got {shown(value)}"
    if kind == "string_pattern_mismatch":
        what = "name" if loc[-1:] == ("[key]",) or loc[:1] != ("public_vars",) else "variable"
        return _pattern_message(str(ctx.get("pattern")), value, what)
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "too_short":
        return f"needs at least {ctx.get('min_length')} item(s)"
    if kind in ("too_long", "string_too_long"):
        return f"has more than the {ctx.get('max_length')} allowed"
    message = error["msg"]
    return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def _scalar(value: Any) -> bool:
    if isinstance(value, Masked):
        value = value.value
    return isinstance(value, int | float | bool)


def _display_loc(loc: YamlPath, kind: str, document: YamlDocument) -> YamlPath:
    """What to name in the message: the part of ``loc`` the file wrote (plus a missing key)."""
    if loc[-1:] == ("[key]",):
        return loc[:-1]
    known = document.known(loc)
    if kind == "missing" and len(known) == len(loc) - 1:
        return loc
    return known


def issues_from_validation(
    error: ValidationError,
    document: YamlDocument,
    root: type[BaseModel] = SpecV1,
    versions: tuple[int, ...] = (1,),
) -> list[SpecIssue]:
    """One SpecIssue per error; a union's member errors at one place become one issue.
    ``root`` is the model validated; ``versions`` the format versions the caller reads."""
    grouped: dict[YamlPath, list[tuple[ErrorDetails, YamlPath]]] = {}
    for found in error.errors(include_url=False):
        loc: YamlPath = tuple(found["loc"])
        detail = {**found, "input": Masked(found["input"])} if _secret_at(loc) else found
        display = _display_loc(loc, detail["type"], document)
        grouped.setdefault(display, []).append((detail, loc))
    issues: list[SpecIssue] = []
    for display, details in grouped.items():
        on_key = any(d["type"] == "extra_forbidden" or loc[-1:] == ("[key]",) for d, loc in details)
        mark = document.mark(display, key=on_key)
        if len(details) > 1 and all(len(loc) > len(display) for _, loc in details):
            messages = [_union_message(display, details, root)]
        else:
            messages = list(dict.fromkeys(_message(d, loc, root, versions) for d, loc in details))
        for message in messages:
            issues.append(SpecIssue(mark.line, mark.column, format_path(display), message))
    return issues


def _union_message(
    display: YamlPath, details: list[tuple[ErrorDetails, YamlPath]], root: type[BaseModel]
) -> str:
    value = details[0][0]["input"]
    name = next((p for p in reversed(display) if isinstance(p, str)), "")
    parent = display[-2] if len(display) >= 2 else ""
    hint = _UNION_HINTS.get(name) or _UNION_HINTS.get(str(parent))
    if hint:
        return f"{hint}, got {shown(value)}"
    return "; or ".join(dict.fromkeys(_message(d, loc, root) for d, loc in details))
