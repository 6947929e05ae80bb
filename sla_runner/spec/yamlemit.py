"""Plain data → YAML text that reads back as the same data, in the style specs are written.

For ``migrate``: the top-level sections as blocks, with a blank line between them; a
collection below them on one line (``{method: GET, path: /items}``, ``[a, b]``) when it fits
in :data:`WIDTH` columns, else as a block. A string is written plain when it reads back
as that string (under the YAML 1.2 core schema :mod:`sla_runner.spec.yamlload` reads, not
YAML 1.1's: ``0o17`` is a number there, ``on`` a string), else in double quotes with JSON
escapes. :func:`dump` checks nothing; :func:`sla_runner.spec.migrate` reads its output back.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from sla_runner.spec.yamlload import plain_reads_as_text

WIDTH = 100
_INDICATORS = set("-?:,[]{}#&*!|>'\"%@`")
_FLOW_SPECIAL = re.compile(r"[,\[\]{}:?]")
# Not printable in YAML (1.1 and 1.2), so written as escapes: C0/C1 controls, the line and
# paragraph separators, the BOM, surrogates and the noncharacters U+FFFE and U+FFFF.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff\ufffe\uffff]")
_FLOW_SECTIONS = ("labels", "public_vars")  # short top-level collections, on one line


def scalar(value: Any, *, flow: bool = False) -> str:
    """One scalar, as YAML that reads back as ``value``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        return repr(value)
    text = str(value)
    if _plain(text, flow):
        return text
    quoted = json.dumps(text, ensure_ascii=False)
    return _UNSAFE.sub(lambda m: f"\\u{ord(m[0]):04x}", quoted)


def _plain(text: str, flow: bool) -> bool:
    return (
        bool(text)
        and text == text.strip()
        and text[0] not in _INDICATORS
        and not _UNSAFE.search(text)
        and ": " not in text
        and " #" not in text
        and not text.endswith(":")
        and not text.startswith(("---", "..."))
        and not (flow and _FLOW_SPECIAL.search(text))
        and plain_reads_as_text(text)
    )


def _flow(value: Any) -> str:
    if isinstance(value, dict):
        items = ", ".join(f"{scalar(k, flow=True)}: {_flow(v)}" for k, v in value.items())
        return "{" + items + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    return scalar(value, flow=True)


def _collection(value: Any) -> bool:
    return isinstance(value, dict | list) and bool(value)


def _mapping(data: dict[str, Any], indent: int, level: int) -> list[str]:
    lines: list[str] = []
    pad = " " * indent
    block = False  # whether the entry before was written as a block
    for key, value in data.items():
        entry = _entry(f"{pad}{scalar(key)}:", value, indent, level + 1, key)
        if level == 0 and lines and (block or len(entry) > 1):
            lines.append("")  # a blank line around each section written as a block
        block = len(entry) > 1
        lines += entry
    return lines


def _entry(head: str, value: Any, indent: int, level: int, key: Any = None) -> list[str]:
    """``head`` (``key:`` or ``-``) followed by ``value``."""
    if not _collection(value):
        return [f"{head} {_flow(value) if isinstance(value, dict | list) else scalar(value)}"]
    one_line = f"{head} {_flow(value)}"
    if (level >= 2 or key in _FLOW_SECTIONS) and len(one_line) <= WIDTH:
        return [one_line]
    if isinstance(value, dict):
        return [head, *_mapping(value, indent + 2, level)]
    lines = [head]
    for item in value:
        lines += _item(item, indent + 2, level)
    return lines


def _item(item: Any, indent: int, level: int) -> list[str]:
    pad = " " * indent
    one_line = f"{pad}- {_flow(item)}"
    if not _collection(item) or len(one_line) <= WIDTH:
        return [one_line]
    if isinstance(item, list):
        return [f"{pad}-", *[line for v in item for line in _item(v, indent + 2, level + 1)]]
    first, *rest = _mapping(item, indent + 2, level + 1)
    return [f"{pad}- {first.lstrip()}", *rest]


def dump(data: dict[str, Any]) -> str:
    """The YAML text of a mapping (see the module)."""
    return "\n".join(_mapping(data, 0, 0)) + "\n"
