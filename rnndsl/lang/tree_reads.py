"""tree_reads: what a tree cell's equations read of the tree itself, as EquationResolver checks it.

`h[child(n, i)]` reads a child by its position, in a cell of fixed arity (`over tree(K)`);
`leaf(n)` is whether a node has no children. `reader` is the EquationResolver reading the
equation: its cell, its domain (`over`, `arity`) and its `error`.
"""

from __future__ import annotations

from typing import Optional

from . import ast as A


def child_slot(reader, name: str, idx: A.Call) -> Optional[int]:
    """i of `h[child(n, i)]`: a child by position, in a tree of fixed arity (None after an error)."""
    args = idx.args
    slot = args[1].value if len(args) == 2 else None
    if not (len(args) == 2 and all(a.name is None for a in args) and isinstance(args[0].value, A.Name)
            and args[0].value.id == "n" and isinstance(slot, A.Number) and isinstance(slot.value, int)
            and idx.generator is None):
        reader.error("a child is read by its position: `child(n, i)`", idx.span,
                     label=f"write `{name}[child(n, 0)]`", notes=["i is a whole number, from 0"], code="E0105")
        return None
    if reader.arity is None:
        reader.error(f"`child(n, {slot.value})` needs a tree of fixed arity", idx.span,
                     label="this cell takes any number of children",
                     notes=[f"write `cell {reader.cell.name.id}(...) over tree(2)` for two children a node, "
                            "or read the children in a reduction: "
                            f"`sum({name}[k] for k in children(n))`"], code="E0105")
        return None
    if slot.value >= reader.arity:
        reader.error(f"`child(n, {slot.value})` is past the tree's arity", slot.span,
                     label=f"`over tree({reader.arity})`: children 0 to {reader.arity - 1}", code="E0105")
        return None
    return slot.value


def check_leaf(reader, expr: A.Call) -> None:
    """`leaf(n)`: whether the node has no children, in a tree cell."""
    if reader.over != "tree":
        reader.error("`leaf(n)` needs a tree cell", expr.span, label="this cell runs over time",
                     notes=[f"write `cell {reader.cell.name.id}(...) over tree`"], code="E0222")
    elif len(expr.args) != 1 or expr.generator is not None or expr.args[0].name is not None \
            or not isinstance(expr.args[0].value, A.Name) or expr.args[0].value.id != "n":
        reader.error("`leaf` takes the node: `leaf(n)`", expr.span, label="write `leaf(n)`", code="E0222")
