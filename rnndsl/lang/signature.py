"""Signatures of the language's built-in names: their parameters, kinds and defaults.

Argument kinds: "tensor" is any expression; the others must be constants known before
inference: "int" (an integer literal or int hyperparameter), "axis" (an integer literal,
possibly negative), "str" (a string literal), "number" (a literal or numeric hyperparameter),
"bool" (`true` or `false`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

REQUIRED = object()  # the default of a parameter that has none


@dataclass(frozen=True)
class Param:
    name: str
    kind: str = "tensor"
    default: object = REQUIRED


@dataclass(frozen=True)
class Signature:
    params: tuple
    variadic: Optional[str] = None  # kind of extra positional arguments, if any
    reduction: bool = False  # accepts the tree form `f(expr for k in children(n))`

    def names(self) -> list[str]:
        return [p.name for p in self.params]
