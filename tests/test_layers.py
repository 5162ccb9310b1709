"""The arrows go one way: tools/ uses server/, never the reverse (but for the wiring module), and no
module imports itself back through a chain of others."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {"server": "seedance_mcp.server", "tools": "seedance_mcp.tools"}
WIRING = "seedance_mcp.server.app"


def _modules() -> dict[str, Path]:
    found = {}
    for folder, package in PACKAGES.items():
        for path in (ROOT / folder).rglob("*.py"):
            parts = path.relative_to(ROOT / folder).with_suffix("").parts
            name = ".".join((package, *parts))
            found[name.removesuffix(".__init__")] = path
    return found


def _imports(path: Path, name: str, modules: dict[str, Path]) -> set[str]:
    """Every project module `path` imports, at the top or inside a function (TYPE_CHECKING included)."""
    out: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, name, modules) for name, path in modules.items()}


def test_nothing_under_server_imports_tools_but_the_wiring_module() -> None:
    graph = _graph()
    backwards = {
        name: sorted(t for t in targets if t.startswith("seedance_mcp.tools"))
        for name, targets in graph.items()
        if name.startswith("seedance_mcp.server") and name != WIRING
    }
    assert {name: targets for name, targets in backwards.items() if targets} == {}
    assert any(t.startswith("seedance_mcp.tools") for t in graph[WIRING])  # the check sees imports at all


def test_there_are_no_import_cycles() -> None:
    graph = _graph()
    # Package __init__ modules re-export their children; an edge child -> package is not a cycle of code.
    edges = {name: {t for t in targets if not name.startswith(t + ".")} for name, targets in graph.items()}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    assert cycles == []
