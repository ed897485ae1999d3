"""dtypes: every node of a cell's graph gets its dtype, "float", "bool" or "str".

An op's dtype depends on the op alone (comparisons give bool, the rest float),
so no fixed point is needed; a value takes its equation's, a hyperparameter its
type's. A bool or str where a number is needed is a diagnostic (E0304).
"""

from __future__ import annotations

from .errors import ShapeError
from .operators import OP_SYMBOLS

COMPARISONS = ("lt", "le", "gt", "ge", "eq", "ne")


def check_dtypes(G, operands_of) -> tuple:
    """({node: its dtype} for every node of the cell graph `G`, the diagnostics). `operands_of(node)`:
    [(operand node, Use)] of an op, in argument order."""
    errors: list = []
    dtypes = {node: _own_dtype(G, node) for node in G}
    reported: set = set()
    for node, rec in G.records():
        if rec.kind != "op":
            continue
        operands = [(dtypes[src], use) for src, use in operands_of(node)]
        if rec.op == "where":
            (cond_type, cond_use), *operands = operands
            if cond_type != "bool":
                errors.append(ShapeError(
                    "the condition of `where` is not a comparison", cond_use.span,
                    label=f"a {cond_type} value", notes=["write `where(x > 0, a, b)`"], code="E0304"))
        for t, use in operands:
            _numeric(t, use, rec.op, reported, errors)
    return dtypes, errors


def _own_dtype(G, node, depth: int = 0) -> str:
    rec = G.node(node)
    if rec.kind == "hparam":
        return "float" if rec.type in ("int", "float") else rec.type
    if rec.kind == "const":
        return "bool" if isinstance(rec.value, bool) else "float"
    if rec.kind == "op":
        return "bool" if rec.op in COMPARISONS or rec.op == "tree.leaf" else "float"
    if rec.kind == "value" and depth < len(G):
        src, _ = G.definition(node)
        return _own_dtype(G, src, depth + 1)
    return "float"


def _numeric(t: str, use, op: str, reported: set, errors: list) -> None:
    """A diagnostic for an operand of dtype `t` read where a number is needed, once per edge."""
    if t == "float" or id(use) in reported:
        return
    reported.add(id(use))
    sym = OP_SYMBOLS.get(op, op)
    hint = "use `where(cond, a, b)` to choose by a condition" if t == "bool" else \
        "a str hyperparameter is a setting, not a number"
    errors.append(ShapeError(f"a {t} value in `{sym}`", use.span, label=f"a {t}",
                             notes=[hint], code="E0304"))
