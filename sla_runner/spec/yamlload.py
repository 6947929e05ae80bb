"""Safe YAML loading that remembers where every key and value was written.

PyYAML's own loaders have traps for a contract format: they keep the last of two
duplicate keys, read ``on``/``no`` as booleans and ``2024-01-02`` as a date, build
arbitrary objects from tags, and expand alias bombs without limit. This module composes
the node graph with PyYAML and builds plain Python data itself:

- YAML 1.2 core schema: only ``true``/``false`` are booleans; no timestamps, no merge keys;
- every mapping key and value gets its position (``YamlDocument.keys``/``.values``), so a
  Pydantic ``loc`` maps back to ``file:line:col``;
- duplicate keys, tags other than the plain ones, recursive aliases are errors;
- guards, each a clear :class:`SpecIssue`: empty file, not a mapping, binary file, file too
  large (refused before it is read), nesting too deep, too many nodes after alias expansion
  ("billion laughs"), YAML syntax errors with their mark.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner

from sla_runner.errors import SpecError, SpecIssue

MAX_BYTES = 1_000_000
MAX_DEPTH = 64
MAX_NODES = 100_000

YamlPath = tuple[str | int, ...]

_TAG = "tag:yaml.org,2002:"
_PLAIN_TAGS = {_TAG + t for t in ("str", "int", "float", "bool", "null", "seq", "map")}


@dataclass(frozen=True, order=True)
class Mark:
    """A 1-based position in the file."""

    line: int
    column: int


@dataclass(frozen=True)
class YamlDocument:
    """Plain data (dict/list/str/int/float/bool/None) and the position of every part of it."""

    data: dict[str, Any]
    keys: dict[YamlPath, Mark] = field(default_factory=dict)
    values: dict[YamlPath, Mark] = field(default_factory=dict)

    def known(self, path: YamlPath) -> YamlPath:
        """The longest prefix of ``path`` that exists in the document."""
        for end in range(len(path), 0, -1):
            if path[:end] in self.values:
                return path[:end]
        return ()

    def mark(self, path: YamlPath, *, key: bool = False) -> Mark:
        """Where ``path`` (or its nearest written ancestor) is; its key when ``key``."""
        found = self.known(path)
        if key and found == path and found in self.keys:
            return self.keys[found]
        return self.values.get(found, Mark(1, 1))


def _core_schema_resolvers() -> dict[str | None, list[tuple[str, re.Pattern[str]]]]:
    """YAML 1.2 core schema implicit types (https://yaml.org/spec/1.2.2/#1032-tag-resolution)."""
    rules = [
        (_TAG + "bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
        (_TAG + "int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
        (
            _TAG + "float",
            r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
            r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
            "-+.0123456789",
        ),
        (_TAG + "null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ]
    table: dict[str | None, list[tuple[str, re.Pattern[str]]]] = {}
    for tag, pattern, first in rules:
        for char in first:
            table.setdefault(char or None, []).append((tag, re.compile(pattern)))
    return table


class _CoreResolver(BaseResolver):
    yaml_implicit_resolvers = _core_schema_resolvers()


class _TooDeep(Exception):
    def __init__(self, mark: yaml.Mark) -> None:
        self.mark = mark


class _Composer(Reader, Scanner, Parser, Composer, _CoreResolver):
    """PyYAML's pure-Python composer with a depth guard (it recurses once per level)."""

    def __init__(self, text: str) -> None:
        Reader.__init__(self, text)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)
        _CoreResolver.__init__(self)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH + 1:  # + 1: a scalar below the deepest collection
                raise _TooDeep(self.peek_event().start_mark)  # type: ignore[no-untyped-call]
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _compose(text: str) -> Node | None:
    composer = _Composer(text)
    try:
        return composer.get_single_node()
    finally:
        composer.dispose()


def _mark(mark: yaml.Mark | None) -> Mark:
    return Mark(mark.line + 1, mark.column + 1) if mark is not None else Mark(1, 1)


def _issue(mark: Mark, message: str, path: str = "") -> SpecIssue:
    return SpecIssue(mark.line, mark.column, path, message)


def format_path(path: YamlPath) -> str:
    """``("endpoints", "list-items", "methd")`` → ``endpoints.list-items.methd``;
    ``("thresholds", 0)`` → ``thresholds[0]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _tag_name(tag: str) -> str:
    return "!!" + tag[len(_TAG) :] if tag.startswith(_TAG) else tag


class _Builder:
    """Turns the node graph into plain data, recording positions and problems."""

    def __init__(self) -> None:
        self.keys: dict[YamlPath, Mark] = {}
        self.values: dict[YamlPath, Mark] = {}
        self.issues: list[SpecIssue] = []
        self.nodes = 0
        self._active: set[int] = set()

    def build(self, node: Node, path: YamlPath) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _Abort(
                _issue(
                    _mark(node.start_mark),
                    f"the document expands to more than {MAX_NODES:,} values "
                    "(aliases repeated too often?); refusing to load it",
                    format_path(path),
                )
            )
        if len(path) > MAX_DEPTH:
            raise _Abort(
                _issue(
                    _mark(node.start_mark),
                    f"nesting deeper than {MAX_DEPTH} levels",
                    format_path(path),
                )
            )
        self.values.setdefault(path, _mark(node.start_mark))
        if node.tag not in _PLAIN_TAGS:
            self.issues.append(
                _issue(
                    _mark(node.start_mark),
                    f"tag {_tag_name(node.tag)} is not allowed; a spec holds only strings, "
                    "numbers, true/false, null, lists and mappings",
                    format_path(path),
                )
            )
            return None
        if isinstance(node, ScalarNode):
            return self._scalar(node, path)
        if id(node) in self._active:
            raise _Abort(
                _issue(_mark(node.start_mark), "an alias refers to itself", format_path(path))
            )
        self._active.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
            assert isinstance(node, MappingNode)
            return self._mapping(node, path)
        finally:
            self._active.discard(id(node))

    def _mapping(self, node: MappingNode, path: YamlPath) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key_mark = _mark(key_node.start_mark)
            if not isinstance(key_node, ScalarNode) or key_node.tag not in _PLAIN_TAGS:
                self.issues.append(
                    _issue(key_mark, "a mapping key must be a plain string", format_path(path))
                )
                continue
            key = str(key_node.value)
            child = (*path, key)
            if key in out:
                first = self.keys[child]
                self.issues.append(
                    _issue(
                        key_mark,
                        f"duplicate key {key!r} (first at line {first.line}, "
                        f"column {first.column})",
                        format_path(child),
                    )
                )
                continue
            self.keys[child] = key_mark
            out[key] = self.build(value_node, child)
        return out

    def _scalar(self, node: ScalarNode, path: YamlPath) -> Any:
        tag, text = node.tag, str(node.value)
        try:
            if tag == _TAG + "str":
                return text
            if tag == _TAG + "null":
                if text not in ("", "~", "null", "Null", "NULL"):
                    raise ValueError
                return None
            if tag == _TAG + "bool":
                if text.lower() not in ("true", "false"):
                    raise ValueError
                return text.lower() == "true"
            if tag == _TAG + "int":
                return _int(text)
            return _float(text)
        except ValueError:
            self.issues.append(
                _issue(
                    _mark(node.start_mark),
                    f"cannot read {_short(text)} as {_tag_name(tag)}",
                    format_path(path),
                )
            )
            return None


def _int(text: str) -> int:
    digits = text.lstrip("+-")
    if len(digits) > 30:
        raise ValueError
    if digits.startswith("0o"):
        value = int(digits[2:], 8)
    elif digits.startswith("0x"):
        value = int(digits[2:], 16)
    else:
        value = int(digits, 10)
    return -value if text.startswith("-") else value


def _float(text: str) -> float:
    lowered = text.lower()
    if lowered.endswith(".inf"):
        return -math.inf if lowered.startswith("-") else math.inf
    if lowered == ".nan":
        return math.nan
    if len(text) > 100:
        raise ValueError
    return float(text)


def _short(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "…")


def _check_expansion(root: Node) -> None:
    """Refuse a graph whose aliases expand past MAX_NODES values, before expanding it.

    Each distinct node is sized once (memoised), so a billion-laughs document of a few
    hundred bytes costs a few hundred steps here.
    """
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: Node, path: YamlPath) -> int:
        known = sizes.get(id(node))
        if known is not None:
            return known
        if id(node) in active:
            raise _Abort(
                _issue(_mark(node.start_mark), "an alias refers to itself", format_path(path))
            )
        total = 1
        if isinstance(node, SequenceNode | MappingNode):
            active.add(id(node))
            children: list[tuple[YamlPath, Node]] = (
                [((*path, i), item) for i, item in enumerate(node.value)]
                if isinstance(node, SequenceNode)
                else [((*path, str(k.value)), v) for k, v in node.value]
            )
            for child_path, child in children:
                total += size(child, child_path)
                if total > MAX_NODES:
                    raise _Abort(
                        _issue(
                            _mark(node.start_mark),
                            f"aliases expand this document to more than {MAX_NODES:,} values; "
                            "refusing to load it",
                            format_path(path),
                        )
                    )
            active.discard(id(node))
        sizes[id(node)] = total
        return total

    size(root, ())


class _Abort(Exception):
    def __init__(self, issue: SpecIssue) -> None:
        self.issue = issue


def decode(raw: bytes, filename: str) -> str:
    """Bytes → text, refusing binary and non-UTF-8 files and files over MAX_BYTES."""
    if len(raw) > MAX_BYTES:
        raise SpecError(filename, [_too_large(len(raw))])
    if b"\0" in raw:
        line = raw.count(b"\n", 0, raw.index(b"\0")) + 1
        raise SpecError(
            filename,
            [SpecIssue(line, 1, "", "binary file (it contains NUL bytes); expected YAML text")],
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        column = len(before[before.rfind(b"\n") + 1 :].decode("utf-8", "replace")) + 1
        message = f"not UTF-8 text (byte 0x{raw[exc.start]:02x}); expected a UTF-8 YAML file"
        raise SpecError(filename, [SpecIssue(line, column, "", message)]) from None


def _too_large(size: int) -> SpecIssue:
    return SpecIssue(
        0, 0, "", f"file is too large ({size:,} bytes); a spec may be at most {MAX_BYTES:,} bytes"
    )


def read_bytes(path: Path) -> bytes:
    """The file's bytes; a file over MAX_BYTES is refused without reading it all."""
    name = str(path)
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_BYTES + 1)
            if len(raw) > MAX_BYTES:
                size = max(path.stat().st_size, len(raw))
                raise SpecError(name, [_too_large(size)])
            return raw
    except IsADirectoryError:
        raise SpecError(name, [SpecIssue(0, 0, "", "is a directory, not a spec file")]) from None
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        raise SpecError(name, [SpecIssue(0, 0, "", f"cannot read the file: {reason}")]) from None


def _index_mark(text: str, index: int) -> Mark:
    before = text[:index]
    return Mark(before.count("\n") + 1, index - (before.rfind("\n") + 1) + 1)


def parse_yaml(text: str, filename: str) -> YamlDocument:
    """YAML text → :class:`YamlDocument` whose root is a mapping, or raise SpecError."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise SpecError(filename, [_too_large(len(text.encode("utf-8", "surrogatepass")))])
    if "\0" in text:
        raise SpecError(filename, [SpecIssue(1, 1, "", "binary text (it contains NUL characters)")])
    try:
        root = _compose(text)
    except _TooDeep as exc:
        message = f"nesting deeper than {MAX_DEPTH} levels"
        raise SpecError(filename, [_issue(_mark(exc.mark), message)]) from None
    except yaml.reader.ReaderError as exc:
        where = _index_mark(text, exc.position)
        char = exc.character if isinstance(exc.character, str) else chr(exc.character)
        message = f"character U+{ord(char):04X} is not allowed in YAML (a control character?)"
        raise SpecError(filename, [_issue(where, message)]) from None
    except yaml.MarkedYAMLError as exc:
        issue = _syntax_issue(exc)
        lines = text.splitlines()
        if 0 < issue.line <= len(lines) and "${" in lines[issue.line - 1]:
            hint = "; inside [...] or {...}, quote a value that holds ${...}"
            issue = SpecIssue(issue.line, issue.column, issue.path, issue.message + hint)
        raise SpecError(filename, [issue]) from None
    except yaml.YAMLError as exc:  # pragma: no cover - every composer error is marked
        raise SpecError(filename, [SpecIssue(1, 1, "", f"invalid YAML: {exc}")]) from None
    if root is None:
        raise SpecError(filename, [SpecIssue(1, 1, "", "the file is empty; expected a spec")])
    builder = _Builder()
    try:
        _check_expansion(root)
        data = builder.build(root, ())
    except _Abort as exc:
        raise SpecError(filename, [exc.issue]) from None
    if builder.issues:
        raise SpecError(filename, builder.issues)
    if not isinstance(data, dict):
        what = "nothing" if data is None else f"a {_kind(data)}"
        message = f"a spec must be a mapping of keys (version, name, target, ...), got {what}"
        raise SpecError(filename, [_issue(_mark(root.start_mark), message)])
    return YamlDocument(data, builder.keys, builder.values)


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "list"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "string"


def _syntax_issue(exc: yaml.MarkedYAMLError) -> SpecIssue:
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or "invalid YAML"
    if problem.startswith("but found another document"):
        return _issue(_mark(mark), "a spec file holds one YAML document; found a second ('---')")
    if exc.context:
        problem = f"{problem} ({exc.context}"
        if exc.context_mark is not None and exc.context_mark is not mark:
            problem += f" at line {exc.context_mark.line + 1}, column {exc.context_mark.column + 1}"
        problem += ")"
    return _issue(_mark(mark), f"invalid YAML: {problem}")


def parse_scalar(text: str) -> Any:
    """One YAML scalar (``5``, ``true``, ``250ms``, ``"quoted"``) as the spec loader reads it;
    anything that is not a plain scalar is returned as the text itself."""
    try:
        node = _compose(text)
    except (yaml.YAMLError, _TooDeep):
        return text
    if not isinstance(node, ScalarNode):
        return text
    builder = _Builder()
    value = builder.build(node, ())
    return text if builder.issues else value
