"""lint: warnings about a spec that checks but may not say what its writer meant (codes W01xx).

    AST --lint--> [SpecWarning]

A warning is a diagnostic like an error (rnndsl.lang.errors.SpecWarning): it points at
the place, says how the text reads and what to write instead. `rnndsl check` prints the
warnings of the file it is given (not of the files it imports) and exits 0, or 1 with
`--deny-warnings`. Each rule is one entry of RULES, a function of one AST node.

- W0101: `@` beside `*` or `/` without parentheses. The three bind equally tight, left
  to right, so `U_h @ f[t] * h[t-1]` is `(U_h @ f[t]) * h[t-1]`, which a paper's
  `U_h (f_t ⊙ h_{t-1})` is not; both check, since each product is defined. A number
  beside a matrix product (`0.5 * W @ x`, `W @ x / 2`) is not warned: either way it is
  the same.
"""

from __future__ import annotations

from .ast import BinOp, Module, Number, Span, walk
from .errors import SpecWarning

_PRODUCTS = ("@", "*", "/")


def lint(module: Module) -> list:
    """Every warning about the expressions of `module`, in source order."""
    found = []
    for node in walk(module):
        for rule in RULES:
            warning = rule(node)
            if warning is not None:
                found.append(warning)
    return found


def mixed_products(node) -> SpecWarning | None:
    """W0101: `a @ b * c` (or `a * b @ c`, `/` for `*`) with no parentheses around the first product."""
    if not (isinstance(node, BinOp) and node.op in _PRODUCTS and isinstance(node.left, BinOp)
            and node.left.op in _PRODUCTS and "@" in (node.op, node.left.op) and node.op != node.left.op):
        return None
    inner = node.left
    if _starts_before(node.span, inner.span):  # `(a @ b) * c`: the parenthesis opens the product
        return None
    # a number times a matrix product (`0.5 * W @ x`, `W @ x / 2`) is the same either way
    if isinstance(inner.left if inner.op != "@" else node.right, Number):
        return None
    a, b, c = inner.left.span.source(), inner.right.span.source(), node.right.span.source()
    first, second = inner.op, node.op
    return SpecWarning(
        f"`{first}` and `{second}` without parentheses: `{a} {first} {b} {second} {c}` reads as "
        f"`({a} {first} {b}) {second} {c}`", node.span, label="parenthesize what you mean",
        notes=[f"`@`, `*` and `/` bind equally tight, left to right: write `({a} {first} {b}) {second} {c}` "
               f"or `{a} {first} ({b} {second} {c})`"], code="W0101")


RULES = (mixed_products,)


def _starts_before(outer: Span, inner: Span) -> bool:
    return (outer.line, outer.column) < (inner.line, inner.column)
