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

import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.nodes import Node, ScalarNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner

from sla_runner.errors import SpecError, SpecIssue
from sla_runner.spec.rawfile import MAX_BYTES, decode, read_bytes, too_large_issue
from sla_runner.spec.yamlbuild import (
    MAX_DEPTH,
    MAX_NODES,
    TAG_PREFIX,
    BuildAborted,
    Builder,
    Mark,
    YamlPath,
    check_expansion,
    format_path,
    issue_at,
    to_mark,
)

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_NODES",
    "Mark",
    "YamlDocument",
    "YamlPath",
    "decode",
    "format_path",
    "parse_scalar",
    "parse_yaml",
    "plain_reads_as_text",
    "read_bytes",
]


@dataclass(frozen=True)
class YamlDocument:
    """Plain data (dict/list/str/int/float/bool/None) and the position of every part of it."""

    data: dict[str, Any]
    keys: dict[YamlPath, Mark] = field(default_factory=dict)
    values: dict[YamlPath, Mark] = field(default_factory=dict)
    # Problems that leave the rest readable (a duplicate key, a refused tag), and the
    # paths whose values could not be read: what fails there follows from those problems.
    issues: list[SpecIssue] = field(default_factory=list)
    unreadable: frozenset[YamlPath] = frozenset()

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
        (TAG_PREFIX + "bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
        (TAG_PREFIX + "int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
        (
            TAG_PREFIX + "float",
            r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
            r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
            "-+.0123456789",
        ),
        (TAG_PREFIX + "null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ]
    table: dict[str | None, list[tuple[str, re.Pattern[str]]]] = {}
    for tag, pattern, first in rules:
        for char in first:
            table.setdefault(char or None, []).append((tag, re.compile(pattern)))
    return table


class _CoreResolver(BaseResolver):
    yaml_implicit_resolvers = _core_schema_resolvers()


def plain_reads_as_text(text: str) -> bool:
    """Whether ``text`` written as a plain scalar reads back as that string (not as a
    number, a boolean or null), under the YAML 1.2 core schema this loader uses."""
    rules = _CoreResolver.yaml_implicit_resolvers.get(text[:1] or None, [])
    return not any(pattern.match(text) for _, pattern in rules)


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


def _index_mark(text: str, index: int) -> Mark:
    before = text[:index]
    return Mark(before.count("\n") + 1, index - (before.rfind("\n") + 1) + 1)


def parse_yaml(text: str, filename: str) -> YamlDocument:
    """YAML text → :class:`YamlDocument` whose root is a mapping, or raise SpecError.

    Problems that leave the rest of the file readable are kept in the document's
    ``issues``, so that the loader reports them with everything else in one round."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise SpecError(filename, [too_large_issue(len(text.encode("utf-8", "surrogatepass")))])
    if "\0" in text:
        raise SpecError(filename, [SpecIssue(1, 1, "", "binary text (it contains NUL characters)")])
    try:
        root = _compose(text)
    except _TooDeep as exc:
        message = f"nesting deeper than {MAX_DEPTH} levels"
        raise SpecError(filename, [issue_at(to_mark(exc.mark), message)]) from None
    except yaml.reader.ReaderError as exc:
        where = _index_mark(text, exc.position)
        char = exc.character if isinstance(exc.character, str) else chr(exc.character)
        message = f"character U+{ord(char):04X} is not allowed in YAML (a control character?)"
        raise SpecError(filename, [issue_at(where, message)]) from None
    except yaml.MarkedYAMLError as exc:
        issue = _syntax_issue(exc, text)
        lines = text.splitlines()
        if 0 < issue.line <= len(lines) and "${" in lines[issue.line - 1]:
            hint = "; inside [...] or {...}, quote a value that holds ${...}"
            issue = SpecIssue(issue.line, issue.column, issue.path, issue.message + hint)
        raise SpecError(filename, [issue]) from None
    except yaml.YAMLError as exc:  # pragma: no cover - every composer error is marked
        raise SpecError(filename, [SpecIssue(1, 1, "", f"invalid YAML: {exc}")]) from None
    if root is None:
        raise SpecError(filename, [SpecIssue(1, 1, "", "the file is empty; expected a spec")])
    builder = Builder()
    try:
        check_expansion(root)
        data = builder.build(root, ())
    except BuildAborted as exc:
        raise SpecError(filename, [exc.issue]) from None
    if not isinstance(data, dict):
        what = "nothing" if data is None else f"a {_kind(data)}"
        message = f"a spec must be a mapping of keys (version, name, target, ...), got {what}"
        issues = [*builder.issues, issue_at(to_mark(root.start_mark), message)]
        raise SpecError(filename, builder.issues if builder.unreadable == {()} else issues)
    return YamlDocument(
        data, builder.keys, builder.values, builder.issues, frozenset(builder.unreadable)
    )


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "list"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "string"


def _syntax_issue(exc: yaml.MarkedYAMLError, text: str) -> SpecIssue:
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or "invalid YAML"
    if mark is not None and "'\\t'" in problem:  # PyYAML: found character '\t' that cannot ...
        line = text.splitlines()[mark.line] if mark.line < len(text.splitlines()) else ""
        if not line[: mark.column].strip():
            return issue_at(to_mark(mark), "a tab in the indentation; use spaces, not tabs")
        return issue_at(to_mark(mark), "a tab where YAML needs a space; use spaces, not tabs")
    if problem.startswith("but found another document"):
        return issue_at(
            to_mark(mark), "a spec file holds one YAML document; found a second ('---')"
        )
    if exc.context:
        problem = f"{problem} ({exc.context}"
        if exc.context_mark is not None and exc.context_mark is not mark:
            problem += f" at line {exc.context_mark.line + 1}, column {exc.context_mark.column + 1}"
        problem += ")"
    return issue_at(to_mark(mark), f"invalid YAML: {problem}")


def parse_scalar(text: str) -> Any:
    """One YAML scalar (``5``, ``true``, ``250ms``, ``"quoted"``) as the spec loader reads it;
    anything that is not a plain scalar is returned as the text itself."""
    try:
        node = _compose(text)
    except (yaml.YAMLError, _TooDeep):
        return text
    if not isinstance(node, ScalarNode):
        return text
    builder = Builder()
    value = builder.build(node, ())
    return text if builder.issues else value
