"""grid_reads: the positions a cell `over grid` reads, as EquationResolver checks them and graph records them.

A grid cell computes its values at position (i, j), row i and column j, and reads a value at an offset
(di, dj) from there: `h[i, j]` (0, 0), `h[i-1, j]` (-1, 0), `h[i-1, j+1]` (-1, 1). The positions are
scanned row by row, each row left to right, so a value may be read at a row above (di < 0, any dj) or to
the left in the same row (di = 0, dj < 0); any other offset reads a position not computed yet. A read
outside the grid reads the value's initial state, as a read before the first step does in time.
"""

from __future__ import annotations

from typing import Optional

from . import ast as A

# the largest |di| or |dj| a cell reads at: a read reaches this many rows or columns away
MAX_OFFSET = 16


def offset_of(idx) -> Optional[tuple]:
    """(di, dj) of a position `i±a, j±b`, or None where `idx` is no such position."""
    if not isinstance(idx, A.Position) or len(idx.items) != 2:
        return None
    found = []
    for item, var in zip(idx.items, ("i", "j")):
        if isinstance(item, A.Name) and item.id == var:
            found.append(0)
        elif isinstance(item, A.BinOp) and item.op in "+-" and isinstance(item.left, A.Name) \
                and item.left.id == var and isinstance(item.right, A.Number) and isinstance(item.right.value, int):
            found.append(item.right.value if item.op == "+" else -item.right.value)
        else:
            return None
    return tuple(found)


def position_text(offset: tuple) -> str:
    """The position at `offset` as an index is written: (-1, 0) is `i-1, j`, (-1, 1) `i-1, j+1`."""
    return ", ".join(var + (f"{d:+d}" if d else "") for var, d in zip(("i", "j"), offset))


def before(offset: tuple) -> bool:
    """Whether the position at `offset` comes before (i, j) in the scan: a row above, or to the left."""
    di, dj = offset
    return di < 0 or (di == 0 and dj < 0)


def grid_delay(reader, name: str, idx) -> Optional[int]:
    """0 for `h[i, j]`, 1 for a position before it (None after an error): `reader` is the EquationResolver."""
    offset = offset_of(idx)
    if offset is None:
        reader.error("a grid index is a position `i, j`", idx.span, label=f"write `{name}[i, j]` or `{name}[i-1, j]`",
                     notes=["each of i and j may add or take a whole number: `h[i-1, j+1]` is the position a row "
                            "above and a column to the right"], code="E0105")
        return None
    if offset == (0, 0):
        return 0
    written = A.Span.source(idx.span) if idx.span.text else "…"
    if max(abs(d) for d in offset) > MAX_OFFSET:
        reader.error(f"`{name}[{written}]` reads too far", idx.span,
                     label=f"a grid cell reads at most {MAX_OFFSET} rows or columns away", code="E0105")
        return None
    if not before(offset):
        reader.error(f"`{name}[{written}]` reads a position after `i, j`", idx.span,
                     label="not computed yet: the grid is scanned row by row, left to right",
                     notes=["read a row above (`i-1`, any `j`), or the same row to the left (`j-1`)"],
                     code="E0220")
        return None
    return 1
