"""unify: shapes that inference does not know yet, and their unification.

A shape is a tuple of `Dim`s, or a `ShapeVar` while even its rank is unknown.
Unknown dimensions are symbols whose names start with `?` (`fresh_dim`); the
`Unifier` binds shape variables and such symbols, and solves linear equations
between dimensions (`2*units = ?3`).
"""

from __future__ import annotations

import itertools
from typing import Union

from .dims import Dim, solve
from .errors import RnnDslError

_fresh = itertools.count(1)


class ShapeVar:
    """A shape not known yet (its rank included)."""

    __slots__ = ("id",)

    def __init__(self):
        self.id = next(_fresh)

    def __repr__(self) -> str:
        return f"ShapeVar({self.id})"


Shape = Union[tuple, ShapeVar]


def fresh_dim(hint: str = "") -> Dim:
    return Dim.sym(f"?{hint}{next(_fresh)}")


def show_shape(shape) -> str:
    """A shape as a spec writes it; unknown dimensions print as `?`."""
    if isinstance(shape, ShapeVar):
        return "[?]"
    return "[" + ", ".join("?" if d.variables() else str(d) for d in shape) + "]"


class Unifier:
    """Union-find over shape variables, and bindings of dimension variables."""

    def __init__(self):
        self.links: dict = {}
        self.dims: dict = {}

    def dim(self, d: Dim) -> Dim:
        for _ in range(32):
            nxt = d.subst(self.dims)
            if nxt == d:
                return d
            d = nxt
        return d

    def shape(self, s: Shape) -> Shape:
        while isinstance(s, ShapeVar) and s in self.links:
            s = self.links[s]
        if isinstance(s, tuple):
            return tuple(self.dim(d) for d in s)
        return s

    def unify(self, a: Shape, b: Shape) -> bool:
        a, b = self.shape(a), self.shape(b)
        if a is b:
            return True
        if isinstance(a, ShapeVar):
            self.links[a] = b
            return True
        if isinstance(b, ShapeVar):
            self.links[b] = a
            return True
        if len(a) != len(b):
            return False
        return all(self.unify_dim(x, y) for x, y in zip(a, b))

    def unify_dim(self, a: Dim, b: Dim) -> bool:
        a, b = self.dim(a), self.dim(b)
        if a == b:
            return True
        for var, value in ((a, b), (b, a)):
            name = var.as_symbol()
            if name is not None and name.startswith("?") and name not in value.symbols():
                self.dims[name] = value
                return True
        solution = solve(a, b)
        if solution is None:
            return False
        var, value = solution
        if var in value.symbols():
            return False
        self.dims[var] = value
        return True


class Defer(Exception):
    """A rule cannot decide yet: an operand's shape is unknown."""


class Fail(Exception):
    """A rule found a type error: `error` is its diagnostic."""

    def __init__(self, error: RnnDslError):
        self.error = error
