"""The package's layering, read from its source: which stage may import which, no cycles, no
private names across modules, and modules and classes of a readable size.

Imports inside functions count: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parent.parent / "rnndsl"
MAX_MODULE_LINES = 500
MAX_CLASS_LINES = 250

# What each stage may import of rnndsl's others (the top-level modules are the driver:
# program, cli, explain, and the package's __init__).
ALLOWED = {
    "lang": set(),
    "draw": {"lang"},
    "keras": {"lang"},
    "train": {"lang", "keras"},
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _package_of(module: str) -> str:
    """The module's containing package (itself for a package's __init__)."""
    return module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]


def _absolute(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = _package_of(module).split(".")
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(module: str):
    """[(imported rnndsl module, names taken from it, line)] of every import in `module`."""
    tree = ast.parse(MODULES[module].read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, [], node.lineno) for a in node.names if a.name.split(".")[0] == "rnndsl"]
        elif isinstance(node, ast.ImportFrom):
            target = _absolute(module, node)
            if target.split(".")[0] != "rnndsl":
                continue
            names = []
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                if sub in MODULES:
                    found.append((sub, [], node.lineno))
                else:
                    names.append(alias.name)
            if names:
                found.append((target, names, node.lineno))
    return found


def _stage(module: str) -> str:
    """`lang`, `draw`, `keras` or `train` for a module of those packages; `driver` for the others."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in ALLOWED else "driver"


def _graph() -> nx.DiGraph:
    g = nx.DiGraph()
    for module in MODULES:
        g.add_node(module)
        for target, _names, _line in _imports(module):
            if target in MODULES and target != module:
                g.add_edge(module, target)
    return g


@pytest.mark.parametrize("stage", sorted(ALLOWED))
def test_a_stage_imports_only_the_stages_below_it(stage):
    wrong = []
    for module in MODULES:
        if _stage(module) != stage:
            continue
        for target, _names, line in _imports(module):
            other = _stage(target) if target in MODULES else "driver"
            if other != stage and other not in ALLOWED[stage]:
                wrong.append(f"{MODULES[module].relative_to(ROOT.parent)}:{line} imports {target}")
    assert not wrong, "\n".join(wrong)


def test_the_front_end_never_imports_a_back_end_library():
    heavy = ("tensorflow", "keras", "torch", "jax", "graphviz")
    wrong = []
    for module, path in MODULES.items():
        if _stage(module) != "lang":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
            wrong += [f"{module}:{node.lineno} imports {n}" for n in names if n.split(".")[0] in heavy]
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles():
    cycles = [sorted(c) for c in nx.strongly_connected_components(_graph()) if len(c) > 1]
    assert not cycles, cycles


def test_no_private_names_across_modules():
    wrong = []
    for module, path in MODULES.items():
        aliases = {}  # local name -> rnndsl module it stands for
        for target, names, line in _imports(module):
            if target == module:
                continue
            wrong += [f"{module}:{line} imports {target}.{n}" for n in names
                      if n.startswith("_") and not n.startswith("__")]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                target = _absolute(module, node)
                for a in node.names:
                    if f"{target}.{a.name}" in MODULES:
                        aliases[a.asname or a.name] = f"{target}.{a.name}"
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.asname and a.name in MODULES:
                        aliases[a.asname] = a.name
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                    and node.value.id in aliases and node.attr.startswith("_") and not node.attr.startswith("__"):
                wrong.append(f"{module}:{node.lineno} reads {aliases[node.value.id]}.{node.attr}")
    assert not wrong, "\n".join(wrong)


def test_modules_and_classes_are_of_a_readable_size():
    wrong = []
    for module, path in MODULES.items():
        text = path.read_text()
        lines = text.count("\n")
        if lines > MAX_MODULE_LINES:
            wrong.append(f"{module}: {lines} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef) and node.end_lineno - node.lineno + 1 > MAX_CLASS_LINES:
                wrong.append(f"{module}.{node.name}: {node.end_lineno - node.lineno + 1} lines")
    assert not wrong, "\n".join(wrong)


def test_the_checks_see_the_whole_package():
    # A layering test that found no modules would pass vacuously.
    stages = {_stage(m) for m in MODULES}
    assert stages == {"lang", "draw", "keras", "train", "driver"}, stages
    assert len(MODULES) > 30
    assert _graph().number_of_edges() > 50


def _raw_ir_reads(tree: ast.AST) -> list:
    """Line numbers where a module reads a graph's attribute dicts: `X.graph[...]`, `X.nodes[...]`,
    `X.edges[...]`, `X.nodes(data=...)`, `X.edges(data=...)`."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute) \
                and node.value.attr in ("graph", "nodes", "edges"):
            lines.append(node.lineno)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in ("nodes", "edges", "in_edges", "out_edges") \
                and any(k.arg == "data" for k in node.keywords):
            lines.append(node.lineno)
    return sorted(lines)


def test_the_ir_is_read_through_its_records():
    """Past rnndsl.lang.ir, a node, an edge or a header is read as its frozen record (`ir.node(n).shape`,
    `ir.operands(n)`, `ir.header.states`), never as a NetworkX attribute dict."""
    wrong = [f"{module}:{line}" for module, path in MODULES.items() if module != "rnndsl.lang.ir"
             for line in _raw_ir_reads(ast.parse(path.read_text()))]
    assert not wrong, "string reads of the IR's attributes:\n" + "\n".join(wrong)
    assert _raw_ir_reads(ast.parse("G.nodes[n]['shape']\nG.graph['states']\nG.edges(data=True)\n")) == [1, 2, 3]
