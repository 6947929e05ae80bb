"""Plain data from a composed YAML node graph, with the position of every key and value.

The lower half of :mod:`sla_runner.spec.yamlload`: it turns PyYAML nodes into
dict/list/str/int/float/bool/None, records marks, and reports duplicate keys, tags other
than the plain ones, unreadable scalars, recursive aliases and alias bombs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from sla_runner.errors import SpecIssue

MAX_DEPTH = 64
MAX_NODES = 100_000

YamlPath = tuple[str | int, ...]

TAG_PREFIX = "tag:yaml.org,2002:"
_PLAIN_TAGS = {TAG_PREFIX + t for t in ("str", "int", "float", "bool", "null", "seq", "map")}


@dataclass(frozen=True, order=True)
class Mark:
    """A 1-based position in the file."""

    line: int
    column: int


def to_mark(mark: yaml.Mark | None) -> Mark:
    return Mark(mark.line + 1, mark.column + 1) if mark is not None else Mark(1, 1)


def issue_at(mark: Mark, message: str, path: str = "") -> SpecIssue:
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
    return "!!" + tag[len(TAG_PREFIX) :] if tag.startswith(TAG_PREFIX) else tag


class Unreadable:
    """The value of a node that could not be read (a refused tag, an unreadable scalar):
    its own issue says why; whatever else fails on it there follows from that."""

    def __repr__(self) -> str:
        return "<unreadable>"


class Builder:
    """Turns the node graph into plain data, recording positions and problems."""

    def __init__(self) -> None:
        self.keys: dict[YamlPath, Mark] = {}
        self.values: dict[YamlPath, Mark] = {}
        self.issues: list[SpecIssue] = []
        self.unreadable: set[YamlPath] = set()  # where a value is an Unreadable
        self.nodes = 0
        self._active: set[int] = set()

    def build(self, node: Node, path: YamlPath) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise BuildAborted(
                issue_at(
                    to_mark(node.start_mark),
                    f"the document expands to more than {MAX_NODES:,} values "
                    "(aliases repeated too often?); refusing to load it",
                    format_path(path),
                )
            )
        if len(path) > MAX_DEPTH:
            raise BuildAborted(
                issue_at(
                    to_mark(node.start_mark),
                    f"nesting deeper than {MAX_DEPTH} levels",
                    format_path(path),
                )
            )
        self.values.setdefault(path, to_mark(node.start_mark))
        if node.tag not in _PLAIN_TAGS:
            self.issues.append(
                issue_at(
                    to_mark(node.start_mark),
                    f"tag {_tag_name(node.tag)} is not allowed; a spec holds only strings, "
                    "numbers, true/false, null, lists and mappings",
                    format_path(path),
                )
            )
            self.unreadable.add(path)
            return Unreadable()
        if isinstance(node, ScalarNode):
            return self._scalar(node, path)
        if id(node) in self._active:
            raise BuildAborted(
                issue_at(to_mark(node.start_mark), "an alias refers to itself", format_path(path))
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
            key_mark = to_mark(key_node.start_mark)
            if not isinstance(key_node, ScalarNode) or key_node.tag not in _PLAIN_TAGS:
                self.issues.append(
                    issue_at(key_mark, "a mapping key must be a plain string", format_path(path))
                )
                continue
            key = str(key_node.value)
            child = (*path, key)
            if key in out:
                first = self.keys[child]
                self.issues.append(
                    issue_at(
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
            if tag == TAG_PREFIX + "str":
                return text
            if tag == TAG_PREFIX + "null":
                if text not in ("", "~", "null", "Null", "NULL"):
                    raise ValueError
                return None
            if tag == TAG_PREFIX + "bool":
                if text.lower() not in ("true", "false"):
                    raise ValueError
                return text.lower() == "true"
            if tag == TAG_PREFIX + "int":
                return _int(text)
            return _float(text)
        except ValueError:
            self.issues.append(
                issue_at(
                    to_mark(node.start_mark),
                    f"cannot read {_short(text)} as {_tag_name(tag)}",
                    format_path(path),
                )
            )
            self.unreadable.add(path)
            return Unreadable()


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


def check_expansion(root: Node) -> None:
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
            raise BuildAborted(
                issue_at(to_mark(node.start_mark), "an alias refers to itself", format_path(path))
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
                    raise BuildAborted(
                        issue_at(
                            to_mark(node.start_mark),
                            f"aliases expand this document to more than {MAX_NODES:,} values; "
                            "refusing to load it",
                            format_path(path),
                        )
                    )
            active.discard(id(node))
        sizes[id(node)] = total
        return total

    size(root, ())


class BuildAborted(Exception):
    def __init__(self, issue: SpecIssue) -> None:
        self.issue = issue
