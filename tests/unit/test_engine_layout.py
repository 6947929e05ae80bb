"""The engine's layout holds: the HTTP seam knows none of its transports, each transport
imports only the seam, one module picks a transport, and the executors write to the sink
they are handed without importing the metrics engine. Imports inside functions count."""

from __future__ import annotations

import ast
from pathlib import Path

import sla_runner

PACKAGE = Path(sla_runner.__file__).parent
HTTP = "sla_runner.engine.http"
SEAM = {f"{HTTP}.{name}" for name in ("outcome", "request", "redirects", "session")}
TRANSPORTS = {f"{HTTP}.{name}" for name in ("raw", "raw_wire", "aiohttp", "httpx")}
THIRD_PARTY_HTTP = {"aiohttp", "httpx", "httpcore", "httptools", "h2"}


def imports(module: str) -> set[str]:
    """Every module ``module`` imports, at the top or inside a function."""
    path = PACKAGE.parent / (module.replace(".", "/") + ".py")
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


def engine_modules() -> set[str]:
    return {
        ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        for path in (PACKAGE / "engine").rglob("*.py")
        if path.name != "__init__.py"
    }


def test_the_layout_is_what_the_test_knows() -> None:
    assert engine_modules() >= SEAM | TRANSPORTS


def test_the_seam_imports_no_transport() -> None:
    for module in SEAM:
        taken = imports(module)
        top = {name.split(".")[0] for name in taken}
        assert not taken & TRANSPORTS, module
        assert not top & THIRD_PARTY_HTTP, module
        assert {name for name in taken if name.startswith(HTTP)} <= SEAM, module


def test_each_transport_imports_only_the_seam() -> None:
    for module in TRANSPORTS:
        ours = {name for name in imports(module) if name.startswith("sla_runner")}
        own_wire = {f"{HTTP}.raw_wire"} if module == f"{HTTP}.raw" else set()
        assert ours <= SEAM | own_wire | {"sla_runner.spec.models"}, module


def test_one_module_picks_a_transport() -> None:
    pickers = {
        module
        for module in engine_modules() | {"sla_runner.api", "sla_runner.report.progress"}
        if module not in TRANSPORTS and imports(module) & TRANSPORTS
    }
    assert pickers == {"sla_runner.engine.transports"}


def test_executors_write_to_the_sink_they_are_handed() -> None:
    for module in ("sla_runner.engine.users", "sla_runner.engine.arrivals"):
        taken = imports(module)
        assert not {name for name in taken if name.startswith("sla_runner.metrics")}, module
        assert "sla_runner.engine.transports" not in taken, module
        assert "sla_runner.engine.lifecycle" not in taken, module
