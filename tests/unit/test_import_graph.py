"""The import graph of ``sla_runner``: no cycles, nothing imports the package root, the
judge and the verdict model import no later stage, leaves import only leaves, and only the
CLI imports the CLI.

The graph is read from the source, not from ``sys.modules``: every ``import`` and
``from … import`` of every module, at module level or deferred inside a function, relative
ones resolved; ``from package import name`` is an edge to ``package.name`` when that is a
module, else to ``package``. Importing ``a.b.c`` also runs ``a/__init__`` and ``a/b/__init__``;
those implicit edges are not drawn (the package root re-exports the API, so every module
would reach it), which is why a test forbids importing the root by name instead.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from tests.support.paths import ROOT

PACKAGE = "sla_runner"

Graph = dict[str, set[str]]


def modules(root: Path, package: str) -> dict[str, Path]:
    """Every module of ``package`` under ``root`` by dotted name (``pkg/__init__.py`` → ``pkg``)."""
    found: dict[str, Path] = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _imported(node: ast.Import | ast.ImportFrom, name: str, is_package: bool) -> Iterator[str]:
    """The dotted names ``node`` (in module ``name``) imports, candidates for edges."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    base = node.module or ""
    if node.level:
        here = name.split(".") if is_package else name.split(".")[:-1]
        up = here[: len(here) - (node.level - 1)]
        base = ".".join([*up, base] if base else up)
    for alias in node.names:
        yield f"{base}.{alias.name}"  # a module when it is one; else its package (below)
        yield base


def import_graph(root: Path, package: str) -> Graph:
    """Module → the modules of ``package`` it imports anywhere in its source."""
    found = modules(root, package)
    graph: Graph = {name: set() for name in found}
    for name, path in found.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            candidates = list(_imported(node, name, path.name == "__init__.py"))
            if isinstance(node, ast.ImportFrom):
                # ``from pkg import mod`` → pkg.mod; ``from pkg import thing`` → pkg.
                pairs = zip(candidates[::2], candidates[1::2], strict=True)
                targets = [full if full in found else base for full, base in pairs]
            else:
                targets = candidates
            graph[name].update(t for t in targets if t in found and t != name)
    return graph


def cycles(graph: Graph) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component: list[str] = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def _shown(found: list[list[str]]) -> str:
    return "\n".join(" <-> ".join(component) for component in found)


# -- the detector itself can fail --------------------------------------------------------


def _package(tmp_path: Path, files: dict[str, str]) -> Graph:
    for relative, text in files.items():
        path = tmp_path / "pkg" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return import_graph(tmp_path, "pkg")


def test_a_deferred_import_closing_a_loop_is_a_cycle(tmp_path: Path) -> None:
    graph = _package(
        tmp_path,
        {
            "__init__.py": "",
            "seam.py": "def pick():\n    from pkg.impl import Impl\n    return Impl\n",
            "impl.py": "from pkg.seam import pick\nclass Impl: ...\n",
            "user.py": "from pkg import seam\n",
        },
    )
    assert graph["pkg.user"] == {"pkg.seam"}
    assert cycles(graph) == [["pkg.impl", "pkg.seam"]]


def test_relative_imports_and_the_package_root_are_resolved(tmp_path: Path) -> None:
    graph = _package(
        tmp_path,
        {
            "__init__.py": "from pkg.api import run\n__version__ = '1'\n",
            "api.py": "from .sub.deep import thing\n",
            "sub/__init__.py": "",
            "sub/deep.py": "from .. import __version__\nthing = __version__\n",
        },
    )
    assert graph["pkg.sub.deep"] == {"pkg"}
    assert cycles(graph) == [["pkg", "pkg.api", "pkg.sub.deep"]]


def test_an_acyclic_package_has_no_cycle(tmp_path: Path) -> None:
    graph = _package(
        tmp_path,
        {"__init__.py": "", "_version.py": "v = '1'\n", "a.py": "from pkg._version import v\n"},
    )
    assert cycles(graph) == []


# -- sla_runner ----------------------------------------------------------------------------


def test_no_import_cycle() -> None:
    found = cycles(import_graph(ROOT, PACKAGE))
    assert not found, _shown(found)


def test_nothing_imports_the_package_root() -> None:
    """The root re-exports the API; a module that reads it (``from sla_runner import
    __version__``) works only while the root sets the name before its own imports."""
    graph = import_graph(ROOT, PACKAGE)
    readers = sorted(name for name, targets in graph.items() if PACKAGE in targets)
    assert readers == [], readers


def _reaches(graph: Graph, name: str, prefixes: tuple[str, ...]) -> list[str]:
    return sorted(t for t in graph[name] if t.startswith(prefixes))


def test_the_judge_and_the_verdict_import_no_later_stage() -> None:
    """spec → plan → engine → metrics → judge → report → cli: the judge and the verdict
    model never read the reports, the engine, the CLI or the library entry points."""
    graph = import_graph(ROOT, PACKAGE)
    later = ("sla_runner.report", "sla_runner.cli", "sla_runner.engine", "sla_runner.api")
    models = ("sla_runner.verdict", "sla_runner.comparison")
    judged = [n for n in graph if n.startswith("sla_runner.judge") or n in models]
    assert judged, "no judge modules found"
    assert {n: _reaches(graph, n, later) for n in judged} == {n: [] for n in judged}


def test_leaves_import_only_leaves() -> None:
    leaves = [
        f"sla_runner.{name}" for name in ("_version", "errors", "numbers", "redact", "timeunits")
    ]
    graph = import_graph(ROOT, PACKAGE)
    assert {n: sorted(graph[n] - set(leaves)) for n in leaves} == {n: [] for n in leaves}


def test_only_the_cli_imports_the_cli() -> None:
    graph = import_graph(ROOT, PACKAGE)
    outside = [
        n for n in graph if not n.startswith("sla_runner.cli") and n != "sla_runner.__main__"
    ]
    assert {n: _reaches(graph, n, ("sla_runner.cli",)) for n in outside} == {n: [] for n in outside}
