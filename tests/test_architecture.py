"""The layout ARCHITECTURE.md describes is the layout of the code: imports point down its layer table only, there is
no import cycle, the text layers never import torch, and no function body outgrows a screen."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "litft"
MAX_FUNCTION_LINES = 80
TORCH_FREE = ("litft.common", "litft.llm", "litft.data")  # the layers a data command imports


def _layers() -> dict[str, int]:
    """`package -> layer` from the table in ARCHITECTURE.md (rows `| N | `litft.x`, `litft.y` | ... |`)."""
    layers = {}
    for line in (REPO / "ARCHITECTURE.md").read_text(encoding="utf-8").splitlines():
        row = re.match(r"^\|\s*(\d+)\s*\|([^|]*)\|", line)
        if row:
            for package in re.findall(r"`(litft[\w.]*)`", row.group(2)):
                layers[package] = int(row.group(1))
    return layers


LAYERS = _layers()


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py")) if "site" not in path.parts}


def _layer_of(module: str) -> int:
    owners = [package for package in LAYERS if module == package or module.startswith(package + ".")]
    if not owners:
        raise AssertionError(f"{module} belongs to no layer in ARCHITECTURE.md; add its package to the table")
    return LAYERS[max(owners, key=len)]


def _imports(module: str) -> set[str]:
    """Every litft module `module` imports, at the top or inside a function."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names if f"{node.module}.{alias.name}" in MODULES}
    return {name for name in found if name.split(".")[0] == "litft" and name in MODULES}


def test_the_architecture_page_names_every_package():
    assert LAYERS, "ARCHITECTURE.md has no layer table"
    for module in MODULES:
        _layer_of(module)


def test_imports_point_down_the_layers():
    upward = [
        f"{module} (layer {_layer_of(module)}) imports {target} (layer {_layer_of(target)})"
        for module in MODULES
        for target in _imports(module)
        if _layer_of(target) > _layer_of(module)
    ]
    assert not upward, "\n".join(upward)


def test_no_import_cycle():
    graph = {module: _imports(module) - {module} for module in MODULES}
    # A package's __init__ is imported with each of its modules; edges to it from inside the package are not cycles.
    graph = {m: {t for t in targets if not m.startswith(t + ".")} for m, targets in graph.items()}
    state: dict[str, int] = {}
    cycles = []

    def visit(module: str, stack: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                cycles.append(" -> ".join(stack[stack.index(target) :] + [target]))
            elif target not in state:
                visit(target, stack + [target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not cycles, "\n".join(cycles)


@pytest.mark.parametrize("package", TORCH_FREE)
def test_text_layers_never_import_torch(package):
    heavy = []
    for module, path in MODULES.items():
        if module == package or module.startswith(package + "."):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
                names += [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
                heavy += [f"{module}: {n}" for n in names if n.split(".")[0] in ("torch", "litgpt", "lightning")]
    assert not heavy, "\n".join(heavy)


def test_no_function_body_is_longer_than_a_screen():
    long = []
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.body[0].lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{module}.{node.name}: {lines} lines")
    assert not long, "\n".join(long)
