"""Positions inside a string of the spec: a template's name, a JSON path's bad character.

The YAML builder knows where each value starts; a problem found at an offset into the
value's text (after ``${VAR}`` interpolation) is placed by mapping that offset back to the
text as written (:func:`written_offset`) and then into the file (:func:`mark_in_scalar`),
which follows the value's characters through quotes, escapes and folded lines. Where that
cannot be followed exactly, the value's start is the place: never a wrong line.
"""

from __future__ import annotations

from collections.abc import Mapping

from sla_runner.spec.interpolate import InterpolationError, interpolate_text, token_spans
from sla_runner.spec.yamlbuild import Mark

_MAX_GAP = 400  # characters of quoting or indentation between two of a value's characters


def index_of(text: str, mark: Mark) -> int:
    """The index in ``text`` of a 1-based line and column."""
    start = 0
    for _ in range(mark.line - 1):
        start = text.find("\n", start) + 1
        if start == 0:
            return len(text)
    return min(start + mark.column - 1, len(text))


def mark_of(text: str, index: int) -> Mark:
    before = text[:index]
    return Mark(before.count("\n") + 1, index - (before.rfind("\n") + 1) + 1)


_ESCAPE_LENGTHS = {"x": 4, "u": 6, "U": 10}


def mark_in_scalar(text: str, start: Mark, value: str, offset: int) -> Mark:
    """Where character ``offset`` of ``value`` is, for a scalar that starts at ``start``
    in ``text`` (the file); ``start`` itself when it cannot be followed. Each character is
    looked for after the one before, past quotes, indentation and folded line breaks; in a
    double-quoted scalar an escape (``\\n``, ``\\u0041``) counts as the character it stands for."""
    if not 0 <= offset <= len(value) or not value:
        return start
    at = index_of(text, start)
    quoted = text.startswith('"', at)
    first = last = at - 1 if not quoted else at  # where the character read last begins, ends
    for char in value[: offset + 1] if offset < len(value) else value:
        here = last + 1
        while quoted and text.startswith("\\\n", here):  # an escaped line break: nothing
            here += 2
            while here < len(text) and text[here] in " \t":
                here += 1
        if quoted and text.startswith("\\", here):
            first, last = here, here + _ESCAPE_LENGTHS.get(text[here + 1 : here + 2], 2) - 1
            continue
        first = last = text.find(char, here, here + _MAX_GAP)
        if first < 0:
            return start
    return mark_of(text, first if offset < len(value) else last + 1)


def written_offset(written: str, env: Mapping[str, str], offset: int) -> int | None:
    """The offset in ``written`` (the text as the file has it, with ``${VAR}``) of
    character ``offset`` of its interpolation with ``env``; a character an interpolation
    produced maps to its ``${``. None when ``written`` does not interpolate with ``env``."""
    shift = 0  # final offset − written offset, up to the last boundary
    for start, end in token_spans(written):
        if offset < start + shift:
            return offset - shift
        try:
            before = len(interpolate_text(written[:end], env)[0])
        except InterpolationError:
            return None
        if offset < before:
            return start
        shift = before - end
    return offset - shift
