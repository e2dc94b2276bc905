"""The house's layout (issue 14): no import circles, lower layers never import higher ones, and
the production proxy imports nothing from the simulated world. Read from the source with ast, so
imports inside functions count too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "src" / "playbook"

# From the bottom up; a module may import its own layer and the layers below it only.
LAYERS = (
    (
        "base",
        (
            "types",
            "errors",
            "schemes",
            "config",
            "location",
            "wire",
            "files",
            "traits",
            "mask",
            "fence",
        ),
    ),
    ("parts", ("parse", "chat", "recorder", "embed", "store", "domain")),
    (
        "method",
        (
            "dialogue",
            "roles",
            "learn",
            "evaluate",
            "retrieve",
            "index",
            "neighbours",
            "goal_gate",
            "generate",
        ),
    ),
    ("commands", ("workspace", "runs", "demo", "local", "api", "check", "server", "cli")),
)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """The playbook modules `path` imports, at the top or inside functions ("from a.b import c"
    imports the module a.b.c when there is one, else names of a.b)."""
    found: set[str] = set()
    package = module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" else None
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("playbook")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level and package:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            if base.startswith("playbook"):
                named = {f"{base}.{a.name}" for a in node.names}
                found |= (named & modules) or {base}
    return found & modules


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: imports_of(path, set(modules)) - {name} for name, path in modules.items()}


def test_no_import_circles(graph: dict[str, set[str]]) -> None:
    circles = [c for c in strongly_connected(graph) if len(c) > 1]
    assert not circles, circles


def test_no_module_imports_a_higher_layer(graph: dict[str, set[str]]) -> None:
    upward = [
        (module, imported)
        for module, imported_set in graph.items()
        for imported in imported_set
        if layer_of(imported) > layer_of(module)
    ]
    assert not upward, upward


def test_the_proxy_imports_nothing_from_the_simulated_world(graph: dict[str, set[str]]) -> None:
    proxy = [m for m in graph if m.startswith("playbook.server")]
    assert proxy
    assert not [(m, i) for m in proxy for i in graph[m] if i.startswith("playbook.sim")]


def layer_of(module: str) -> int:
    """The layer of a module by its first name after `playbook.`; a module no layer names (sim,
    the cli_* helpers, ...) is placed by the prefix it shares with one that is."""
    head = module.split(".")[1] if "." in module else module
    for index, (_, names) in enumerate(LAYERS):
        if any(head == n or head.startswith(f"{n}_") for n in names):
            return index
    return len(LAYERS) - 1 if head.startswith("cli") else 0 if head == "playbook" else 2


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm: the import graph's strongly connected components."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components
