"""dtypes: every node of a cell's graph gets its dtype, "float", "bool" or "str".

An op's dtype depends on the op alone (comparisons give bool, the rest float),
so no fixed point is needed; a value takes its equation's, a hyperparameter its
type's. A bool or str where a number is needed is a diagnostic (E0304).
"""

from __future__ import annotations

from .errors import ShapeError
from .operators import OP_SYMBOLS

COMPARISONS = ("lt", "le", "gt", "ge", "eq", "ne")


def check_dtypes(G, operands_of) -> list:
    """Set `dtype` on every node of the cell graph `G`; the diagnostics. `operands_of(node)`:
    [(operand node, edge data)] of an op, in argument order."""
    errors: list = []
    for node, data in G.nodes(data=True):
        data["dtype"] = _own_dtype(G, node, data)
    reported: set = set()
    for node, data in G.nodes(data=True):
        if data["kind"] != "op":
            continue
        operands = [(G.nodes[src]["dtype"], edge) for src, edge in operands_of(node)]
        if data["op"] == "where":
            (cond_type, cond_edge), *operands = operands
            if cond_type != "bool":
                errors.append(ShapeError(
                    "the condition of `where` is not a comparison", cond_edge["span"],
                    label=f"a {cond_type} value", notes=["write `where(x > 0, a, b)`"], code="E0304"))
        for t, edge in operands:
            _numeric(t, edge, data["op"], reported, errors)
    return errors


def _own_dtype(G, node, data, depth: int = 0) -> str:
    kind = data["kind"]
    if kind == "hparam":
        return "float" if data["type"] in ("int", "float") else data["type"]
    if kind == "const":
        return "bool" if isinstance(data["value"], bool) else "float"
    if kind == "op":
        return "bool" if data["op"] in COMPARISONS else "float"
    if kind == "value" and depth < len(G):
        src = next(u for u, _, d in G.in_edges(node, data=True) if d.get("role") == "def")
        return _own_dtype(G, src, G.nodes[src], depth + 1)
    return "float"


def _numeric(t: str, edge: dict, op: str, reported: set, errors: list) -> None:
    """A diagnostic for an operand of dtype `t` read where a number is needed, once per edge."""
    if t == "float" or id(edge) in reported:
        return
    reported.add(id(edge))
    sym = OP_SYMBOLS.get(op, op)
    hint = "use `where(cond, a, b)` to choose by a condition" if t == "bool" else \
        "a str hyperparameter is a setting, not a number"
    errors.append(ShapeError(f"a {t} value in `{sym}`", edge["span"], label=f"a {t}",
                             notes=[hint], code="E0304"))
