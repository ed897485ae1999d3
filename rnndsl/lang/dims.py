"""Symbolic dimensions: integer polynomials over named sizes.

A `Dim` is `2*units + in`, `units*units`, or `32`. Symbols are the int
hyperparameters and free dimension names of a spec; inference adds variables,
whose names start with `?`. Dims are immutable and hashable; `str()` prints
them the way a spec writes them.
"""

from __future__ import annotations

from typing import Iterable, Mapping, Optional, Union

Monomial = tuple  # sorted symbol names, repeated for powers; () is the constant term


class Dim:
    __slots__ = ("terms", "_hash", "_symbols")

    def __init__(self, terms: Mapping[Monomial, int]):
        self.terms = {m: c for m, c in terms.items() if c != 0}
        self._hash = hash(frozenset(self.terms.items()))
        self._symbols = frozenset(s for m in self.terms for s in m)

    # ---- construction

    @staticmethod
    def const(n: int) -> "Dim":
        return Dim({(): n})

    @staticmethod
    def sym(name: str) -> "Dim":
        return Dim({(name,): 1})

    @staticmethod
    def of(x: Union["Dim", int]) -> "Dim":
        return x if isinstance(x, Dim) else Dim.const(int(x))

    # ---- arithmetic

    def __add__(self, other) -> "Dim":
        other = Dim.of(other)
        terms = dict(self.terms)
        for m, c in other.terms.items():
            terms[m] = terms.get(m, 0) + c
        return Dim(terms)

    __radd__ = __add__

    def __neg__(self) -> "Dim":
        return Dim({m: -c for m, c in self.terms.items()})

    def __sub__(self, other) -> "Dim":
        return self + (-Dim.of(other))

    def __rsub__(self, other) -> "Dim":
        return Dim.of(other) - self

    def __mul__(self, other) -> "Dim":
        other = Dim.of(other)
        terms: dict = {}
        for m1, c1 in self.terms.items():
            for m2, c2 in other.terms.items():
                m = tuple(sorted(m1 + m2))
                terms[m] = terms.get(m, 0) + c1 * c2
        return Dim(terms)

    __rmul__ = __mul__

    def exact_div(self, k: int) -> Optional["Dim"]:
        """`self / k` when every coefficient divides by k, else None."""
        if k == 0 or any(c % k for c in self.terms.values()):
            return None
        return Dim({m: c // k for m, c in self.terms.items()})

    # ---- queries

    def __eq__(self, other) -> bool:
        if isinstance(other, int):
            other = Dim.const(other)
        return isinstance(other, Dim) and self.terms == other.terms

    def __hash__(self) -> int:
        return self._hash

    @property
    def value(self) -> Optional[int]:
        """The integer, when the dim has no symbols."""
        if not self.terms:
            return 0
        if set(self.terms) == {()}:
            return self.terms[()]
        return None

    def symbols(self) -> frozenset:
        return self._symbols

    def variables(self) -> set:
        return {s for s in self.symbols() if s.startswith("?")}

    def as_symbol(self) -> Optional[str]:
        """The symbol's name when the dim is exactly one symbol."""
        if len(self.terms) == 1:
            ((m, c),) = self.terms.items()
            if c == 1 and len(m) == 1:
                return m[0]
        return None

    def subst(self, mapping: Mapping[str, "Dim"]) -> "Dim":
        # Look the few symbols up in the mapping, not the mapping in the symbols: inference's mapping
        # grows with every layer of a network, and `isdisjoint` walks all of it.
        if not any(s in mapping for s in self._symbols):
            return self
        out = Dim.const(0)
        for m, c in self.terms.items():
            term = Dim.const(c)
            for s in m:
                term = term * (mapping[s] if s in mapping else Dim.sym(s))
            out = out + term
        return out

    # ---- printing

    def __str__(self) -> str:
        if not self.terms:
            return "0"
        parts = []
        for m, c in sorted(self.terms.items(), key=term_order):
            body = "*".join(m)
            if not body:
                text = str(abs(c))
            elif abs(c) == 1:
                text = body
            else:
                text = f"{abs(c)}*{body}"
            sign = "-" if c < 0 else "+"
            parts.append((sign, text))
        first_sign, first = parts[0]
        out = ("-" if first_sign == "-" else "") + first
        for sign, text in parts[1:]:
            out += f" {sign} {text}"
        return out

    def __repr__(self) -> str:
        return f"Dim({self})"


def term_order(item):
    m, _ = item
    return (len(m) == 0, -len(m), m)


def shape_str(dims: Iterable[Dim]) -> str:
    return "[" + ", ".join(str(d) for d in dims) + "]"


def solve(a: Dim, b: Dim) -> Optional[tuple]:
    """A binding (variable, dim) that makes `a == b`, when one exists and is unique.

    Solvable when `a - b` has exactly one variable, appearing once, linearly,
    with coefficient +1 or -1. Returns None otherwise.
    """
    diff = a - b
    variables = diff.variables()
    if len(variables) != 1:
        return None
    (v,) = variables
    linear = diff.terms.get((v,))
    if linear not in (1, -1) or any(v in m for m in diff.terms if m != (v,)):
        return None
    rest = diff - Dim({(v,): linear})
    return v, (-rest if linear == 1 else rest)


def solve_int(poly: Dim, symbol: str, n: int) -> Optional[int]:
    """The integer value >= 1 of `symbol` that makes `poly`, a polynomial in `symbol` alone, equal `n`; None
    when there is none. Linear: solved exactly. Of a higher degree (`in*in`): found by bisection, which
    assumes what the sizes of a shape do, that it grows with `symbol`."""
    if all(len(m) <= 1 for m in poly.terms):  # a*symbol + b
        a, b = poly.terms.get((symbol,), 0), poly.terms.get((), 0)
        if a == 0 or (n - b) % a or (n - b) // a < 1:
            return None
        return (n - b) // a

    def at(v: int) -> int:
        return poly.subst({symbol: Dim.const(v)}).value

    low, high = 1, max(n, 1)
    while low < high:
        mid = (low + high) // 2
        low, high = (mid + 1, high) if at(mid) < n else (low, mid)
    return low if at(low) == n else None


def int_bindings(values: Mapping) -> dict:
    """{name: Dim} of the integers among `values` (bools are not): what the symbols of a shape stand for."""
    return {k: Dim.const(int(v)) for k, v in values.items() if isinstance(v, int) and not isinstance(v, bool)}
