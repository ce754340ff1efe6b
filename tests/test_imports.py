"""Imports go one way: no two packages of ``pointsmart`` import each other, directly or inside a
function. A new pair fails here with the lines that make it, so the layering is kept on purpose."""

import ast
from collections import defaultdict
from pathlib import Path

import pointsmart

ROOT = Path(pointsmart.__file__).parent


def _part(module: str) -> str:
    """The first-level package (or top-level module) of ``pointsmart.x.y``: ``x``."""
    return module.split(".")[1]


def _imports(path: Path) -> list[tuple[str, int]]:
    """``(module imported, line)`` for each import of a ``pointsmart`` module in the file."""
    module = ".".join(("pointsmart", *path.relative_to(ROOT).with_suffix("").parts))
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    package = package.removesuffix(".__init__")
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if target == "pointsmart":  # from pointsmart import x / from . import x at the top
                found += [(f"pointsmart.{alias.name}", node.lineno) for alias in node.names]
            elif target.startswith("pointsmart."):
                found.append((target, node.lineno))
        elif isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names if a.name.startswith("pointsmart.")]
    return found


def package_graph() -> dict[tuple[str, str], list[str]]:
    """``(importer, imported) -> ["file:line", ...]`` between first-level parts of the package."""
    edges = defaultdict(list)
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT)
        if relative.parts[0] == "migrations" or relative.name == "__init__.py" and len(relative.parts) == 1:
            continue  # frozen migrations import nothing of ours; the app factory wires every part
        source = relative.parts[0].removesuffix(".py")
        for target, line in _imports(path):
            imported = _part(target)
            if imported != source:
                edges[source, imported].append(f"{relative}:{line}")
    return edges


def test_the_graph_sees_known_imports():
    edges = package_graph()
    assert ("shop", "cards") in edges and ("api", "households") in edges and ("county", "sync") in edges


def test_no_two_packages_import_each_other():
    edges = package_graph()
    pairs = sorted({tuple(sorted(pair)) for pair in edges if (pair[1], pair[0]) in edges})
    assert not pairs, "\n".join(
        f"{a} <-> {b}: {a} imports {b} at {edges[a, b]}, {b} imports {a} at {edges[b, a]}" for a, b in pairs
    )
