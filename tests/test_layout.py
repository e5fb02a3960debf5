"""The package's shape (issue 19): the pipeline's folders import downwards only, no module
imports another's private names, and there is no import cycle, counting every import (module
level, inside functions, and those only for type checkers)."""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "kannot"

# each folder may import its own modules and those of the folders listed (the pipeline's order)
ALLOWED = {
    "source": set(),
    "rules": set(),  # what words mean and what is judged: data the facts are read with
    "facts": {"source", "rules"},
    "build": {"source", "facts", "store"},
    "store": {"source", "facts", "build", "index", "analysis", "rules"},
    "index": {"source", "facts", "build", "store", "rules"},
    "analysis": {"source", "facts", "build", "index", "rules"},
    "report": {"source", "facts", "analysis", "rules"},
}
FRONT_ENDS = {"cli", "lsp", "patch", "why"}  # import anything but each other's cycles; nothing imports them


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> list[tuple[str, str | None, int]]:
    """(imported kannot module, imported name or None, line) of every import in ``path``."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            mod = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                full = f"{mod}.{alias.name}"
                if full in MODULES:
                    out.append((full, None, node.lineno))
                elif mod in MODULES:
                    out.append((mod, alias.name, node.lineno))
        elif isinstance(node, ast.Import):
            out.extend((a.name, None, node.lineno) for a in node.names if a.name in MODULES)
    return out


GRAPH = {name: {m for m, _n, _l in _imports(name, path)} - {name} for name, path in MODULES.items()}


def _folder(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_no_import_cycle():
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(GRAPH[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    assert cycles == []


def test_no_private_name_imported_from_another_module():
    bad = [f"{name}:{line} imports {mod}.{n}" for name, path in MODULES.items()
           for mod, n, line in _imports(name, path)
           if n is not None and n.startswith("_") and not n.startswith("__")]
    bad += [f"{name} imports the private module {mod}" for name, deps in GRAPH.items() for mod in deps
            if mod.rpartition(".")[2].startswith("_") and not mod.endswith("__init__")]
    assert bad == []


def test_folders_import_down_the_pipeline_only():
    bad = []
    for name, deps in GRAPH.items():
        folder = _folder(name)
        for dep in deps:
            target = _folder(dep)
            if dep == "kannot" or target == folder:
                continue
            if target in FRONT_ENDS and folder not in FRONT_ENDS and name != "kannot.__main__":
                bad.append(f"{name} imports the front end {dep}")
            elif folder in ALLOWED and target not in ALLOWED[folder]:
                bad.append(f"{name} ({folder}/) imports {dep} ({target}/)")
    assert bad == []
