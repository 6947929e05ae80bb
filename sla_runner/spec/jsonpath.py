"""Dotted paths into JSON documents, and the JSON-field checks built on them.

One piece serves WebSocket replies (``channels.*.expect.json``), HTTP responses
(``endpoints.*.expect.json``) and extraction (``extract: {token: {json: data.token}}``).
A leaf module, pure: the loader parses paths to check them, the engine to use them.

Path syntax (:func:`parse_path`): keys separated by dots, each optionally followed by list
indices in brackets: ``data.items[0].id``, ``[0].name`` (a document that is a list),
``rows[-1]`` (negative indices count from the end). A key is any text without ``.``, ``[``
or ``]``. A key of digits also indexes a list (``data.items.0.id``, the form channels
always accepted); ``[N]`` indexes lists only. Paths are split once, when parsed.

Equality (:func:`same_value`): JSON equality, except that ``true``/``false`` never equal the
numbers 1/0 (Python's ``True == 1`` would let ``ok: 1`` pass an ``ok: true`` check).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final

Step = str | int
"""A key (``str``; digits also index a list) or an explicit list index (``int``)."""

_SEGMENT = re.compile(r"(?P<key>[^.\[\]]*)(?P<indices>(?:\[-?\d+\])*)")
_INDEX = re.compile(r"\[(-?\d+)\]")
PREVIEW_CHARS = 40


class JsonPathError(ValueError):
    """A path that cannot be parsed; ``offset`` is where in the path text the problem is,
    ``field`` the key of a :class:`JsonFields` mapping it came from (else ``None``)."""

    def __init__(self, message: str, offset: int, field: str | None = None) -> None:
        super().__init__(message)
        self.message, self.offset, self.field = message, offset, field


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()
"""What :func:`lookup` returns when the path leads nowhere."""


def parse_path(text: str) -> tuple[Step, ...]:
    """The steps of ``text``; raises :class:`JsonPathError` with an offset."""
    if not text:
        raise JsonPathError("empty JSON path: expected a path like data.items[0].id", 0)
    steps: list[Step] = []
    offset = 0
    for i, segment in enumerate(text.split(".")):
        match = _SEGMENT.fullmatch(segment)
        if match is None:
            start = _SEGMENT.match(segment)
            bad = offset + (start.end() if start else 0)
            raise JsonPathError(
                f"bad JSON path {text!r}: expected key[index] segments like items[0]", bad
            )
        key, indices = match["key"], match["indices"]
        if key:
            steps.append(key)
        elif not indices or i > 0:
            raise JsonPathError(f"bad JSON path {text!r}: empty key", offset)
        steps.extend(int(n) for n in _INDEX.findall(indices))
        offset += len(segment) + 1
    return tuple(steps)


def format_path(steps: tuple[Step, ...]) -> str:
    """The path as written by :func:`parse_path`'s syntax (``data.items[0].id``)."""
    out = ""
    for step in steps:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else step)
    return out


def lookup(document: Any, steps: tuple[Step, ...]) -> Any:
    """The value at ``steps`` in ``document``, or :data:`MISSING`."""
    found = document
    for step in steps:
        if isinstance(step, str):
            if isinstance(found, dict) and step in found:
                found = found[step]
                continue
            if not (isinstance(found, list) and step.isdigit()):
                return MISSING
        index = int(step)
        if not isinstance(found, list) or not -len(found) <= index < len(found):
            return MISSING
        found = found[index]
    return found


def same_value(found: Any, want: Any) -> bool:
    """JSON equality where booleans never equal numbers (at any depth)."""
    if isinstance(found, bool) or isinstance(want, bool):
        return found is want
    if isinstance(found, dict) and isinstance(want, dict):
        return found.keys() == want.keys() and all(same_value(found[k], want[k]) for k in want)
    if isinstance(found, list) and isinstance(want, list):
        return len(found) == len(want) and all(map(same_value, found, want))
    return bool(found == want)


def preview(value: Any) -> str:
    """A value as short JSON text for a failure reason."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"


class JsonFields:
    """Checks that a JSON document holds given values at given paths.

    ``JsonFields({"ok": True, "data.count": 3})``. Paths are parsed once. With ``strict``
    a path that does not parse raises :class:`JsonPathError` (its ``field`` naming the key);
    without, it is read as channels always read paths before ``[N]`` existed, split at dots
    into keys (``a..b`` is the keys ``a``, ``""``, ``b``), so a version-1 spec that ran
    before runs the same; the loader checks paths of format 2 with :func:`parse_path`.
    :meth:`check` judges a decoded document and says what failed; calling the object judges
    a raw message (text or bytes; a WebSocket reply), as :mod:`sla_runner.engine.ws` does.
    """

    __slots__ = ("_fields",)

    def __init__(self, fields: Mapping[str, Any], *, strict: bool = False) -> None:
        compiled: list[tuple[str, tuple[Step, ...], Any]] = []
        for path, want in fields.items():
            try:
                steps = parse_path(path)
            except JsonPathError as exc:
                if strict:
                    raise JsonPathError(exc.message, exc.offset, field=path) from None
                steps = tuple(path.split("."))
            compiled.append((path, steps, want))
        self._fields = tuple(compiled)

    def check(self, document: Any) -> str | None:
        """``None`` when every field holds its value, else a short reason for the first miss."""
        for path, steps, want in self._fields:
            found = lookup(document, steps)
            if found is MISSING:
                return f"json {path}: missing"
            if not same_value(found, want):
                return f"json {path}: expected {preview(want)}, got {preview(found)}"
        return None

    def __call__(self, message: str | bytes) -> bool:
        try:
            document = json.loads(message)
        except (ValueError, RecursionError):  # not JSON, or nested beyond the parser
            return False
        return self.check(document) is None
