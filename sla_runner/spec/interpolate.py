"""``${VAR}`` and ``${VAR:-default}`` in the string values of a spec.

Rules:

- ``${NAME}`` is replaced by the variable's value; unset is an error naming NAME.
- ``${NAME:-default}`` uses ``default`` when NAME is unset or empty (as the shell does);
  the default is literal text (no nesting).
- ``$${`` is a literal ``${``; a ``$`` anywhere else is kept as it is.
- Only string values are interpolated, never keys. A value that becomes ``100`` still
  validates as a number where the spec expects one.

Secrets: every value taken from the environment is a secret for reporting purposes unless
the spec names its variable under ``public_vars``, or the value went into ``thresholds``
or ``capacity`` (:data:`CONTRACT_KEYS`): they are the contract the verdict judges, a
threshold's limit is reported as a number (``thresholds[].limit``) that no mask reaches,
and a contract whose expression reads ``p95(http) < ***`` says nothing. A variable that
also feeds a place that keeps it secret (a header, a URL) stays masked everywhere.
Defaults are written in the file, so they are not secret. Error messages never show a
value taken from the environment: they show the ``${NAME}`` text that was written instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sla_runner.errors import SpecIssue
from sla_runner.spec.templates import escape
from sla_runner.spec.yamlload import YamlDocument, YamlPath, format_path

_TOKEN = re.compile(r"\$\$\{|\$\{(?P<body>[^}]*)\}|\$\{")
_BODY = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>.*))?", re.DOTALL)

PUBLIC_VARS_KEY = "public_vars"
CONTRACT_KEYS = frozenset({"thresholds", "capacity"})
"""Top-level keys whose interpolated values are reported as they are: the contract."""


class InterpolationError(ValueError):
    """A ``${...}`` that cannot be resolved; the message never holds a variable's value."""


@dataclass(frozen=True)
class EnvValue:
    """One value taken from the environment, where it went and whether it is secret."""

    name: str
    value: str
    secret: bool


def interpolate_text(text: str, env: Mapping[str, str]) -> tuple[str, list[EnvValue]]:
    """Interpolate one string; return it and the environment values it took in.

    ``secret`` is left True on every EnvValue; :func:`interpolate` applies ``public_vars``.
    """
    if "$" not in text:
        return text, []
    used: list[EnvValue] = []
    missing: list[str] = []

    def replace(match: re.Match[str]) -> str:
        token = match[0]
        if token == "$${":
            return "${"
        body = match["body"]
        if body is None:
            raise InterpolationError(
                "unclosed '${'; write ${NAME} or ${NAME:-default}, or $${ for a literal ${"
            )
        parsed = _BODY.fullmatch(body)
        if parsed is None:
            shown = body if len(body) <= 40 else body[:40] + "…"
            raise InterpolationError(
                f"bad variable reference '${{{shown}}}'; write ${{NAME}} or "
                "${NAME:-default} (NAME: letters, digits, _), or $${ for a literal ${"
            )
        name, default = parsed["name"], parsed["default"]
        value = env.get(name)
        if default is not None and not value:
            return default
        if value is None:
            missing.append(name)
            return token
        used.append(EnvValue(name, value, secret=True))
        return value

    result = _TOKEN.sub(replace, text)
    if missing:
        names = list(dict.fromkeys(missing))
        first = names[0]
        subject = (
            f"environment variable {first} is not set"
            if len(names) == 1
            else f"environment variables {', '.join(names)} are not set"
        )
        raise InterpolationError(f"{subject}; set it, or give a default: ${{{first}:-default}}")
    return result, used


def token_spans(text: str) -> list[tuple[int, int]]:
    """Where each ``${...}`` (or ``$${``) is in ``text``: (start, end) pairs, in order."""
    return [m.span() for m in _TOKEN.finditer(text)]


@dataclass
class Interpolation:
    """The outcome of interpolating a whole document."""

    data: dict[str, Any]
    issues: list[SpecIssue] = field(default_factory=list)
    # path of each interpolated string → (text as written, env values it took in)
    sources: dict[YamlPath, tuple[str, list[EnvValue]]] = field(default_factory=dict)
    # path of each string that could not be interpolated → its text, left as written
    failed: dict[YamlPath, str] = field(default_factory=dict)

    def follows_from_failure(self, path: YamlPath, message: str) -> bool:
        """Whether an error at ``path`` is only the echo of a value left uninterpolated."""
        for where, written in self.failed.items():
            if path[: len(where)] == where:
                return True
            if where[: len(path)] == path and written in message:
                return True
        return False

    @property
    def env_values(self) -> list[EnvValue]:
        return [v for _, values in self.sources.values() for v in values]

    def redact(self, path: YamlPath, message: str) -> str:
        """``message`` with every env value on a path overlapping ``path`` shown as written."""
        for where, (written, values) in self.sources.items():
            if where[: len(path)] != path and path[: len(where)] != where:
                continue
            interpolated = _apply(written, values)
            if interpolated and interpolated in message:
                message = message.replace(interpolated, written)
            for value in sorted(values, key=lambda v: -len(escape(v.value))):
                if value.value:
                    # as format 2 holds it in a template ({{ doubled}}), and as it is
                    for spelling in dict.fromkeys((escape(value.value), value.value)):
                        message = message.replace(spelling, "${" + value.name + "}")
        return message

    def env_of(self, path: YamlPath) -> dict[str, str]:
        """The environment values the string at ``path`` took in, by name."""
        return {v.name: v.value for v in self.sources.get(path, ("", []))[1]}


def _apply(written: str, values: list[EnvValue]) -> str:
    env = {v.name: v.value for v in values}
    try:
        return interpolate_text(written, env)[0]
    except InterpolationError:
        return ""


def interpolate(document: YamlDocument, env: Mapping[str, str]) -> Interpolation:
    """Interpolate every string value of ``document``; collect every problem."""
    public = document.data.get(PUBLIC_VARS_KEY)
    public_names = {v for v in public if isinstance(v, str)} if isinstance(public, list) else set()
    out = Interpolation(data={})

    def walk(value: Any, path: YamlPath) -> Any:
        if isinstance(value, dict):
            return {k: walk(v, (*path, k)) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, (*path, i)) for i, v in enumerate(value)]
        if not isinstance(value, str) or path[:1] == (PUBLIC_VARS_KEY,):
            return value
        try:
            text, used = interpolate_text(value, env)
        except InterpolationError as exc:
            mark = document.mark(path)
            out.issues.append(SpecIssue(mark.line, mark.column, format_path(path), str(exc)))
            out.failed[path] = value
            return value
        if used:
            contract = bool(path) and path[0] in CONTRACT_KEYS
            marked = [
                EnvValue(v.name, v.value, not contract and v.name not in public_names) for v in used
            ]
            out.sources[path] = (value, marked)
        return text

    out.data = walk(document.data, ())
    return out
