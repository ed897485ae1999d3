"""The registry of built-in functions, before any entry: what an entry is (`Operation`), the call a lowering
is given (`LoweringCall`), the registry itself (`OPERATIONS`, `register`), and `np`, the NumPy that the
entries' references use. The entries are in rnndsl.lang.ops, which imports the modules of the others
(rnndsl.lang.ops_sorting); the registry is complete once rnndsl.lang.ops is imported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional, Protocol

from .signature import Signature


class LoweringCall(Protocol):
    """One call being lowered. `args` are tensors, each with a leading batch axis where `batched` says."""

    ops: Any  # keras.ops
    args: list
    batched: list
    ranks: list  # of each argument, batch axis not counted
    attrs: dict  # the constant arguments: {"axis": -1}, {"parts": 2}, {"subscripts": "ij,j->i"}
    dtype: str  # the cell's compute dtype ("float32", "float64"): a tensor made of numbers alone takes it

    def axis(self, name: str = "axis", default: Optional[int] = -1, batched: Optional[bool] = None):
        """Attribute `name` as an axis of the first argument's tensor (past its batch axis when it has one,
        or when `batched` says)."""

    def axes(self):
        """The axes a reduction of the first argument runs over: its `axis`, or all but the batch axis."""

    def size(self, i: int, axis: int) -> int:
        """The size of argument `i`'s dimension `axis`, the hyperparameters bound."""

    def aligned(self) -> list:
        """The arguments with unit axes after the batch axis, so that element-wise ones broadcast."""

    def int_attr(self, name: str) -> int:
        """An `int` attribute, a hyperparameter's name replaced by its value."""


@dataclass(frozen=True)
class Operation:
    """A built-in function of the language."""

    name: str
    signature: Signature
    shape: Callable  # rule(cx, operands, attrs) -> shape (rnndsl.lang.shape_rules)
    lower: Callable[[LoweringCall], Any]
    reference: Callable[..., Any]  # reference(*arrays, **attributes): one example, no batch axis
    latex: str = ""  # the name in LaTeX; "" for \operatorname{name}
    label: str = ""  # the name in a diagram (HTML-like); "" for the name itself
    form: Optional[tuple] = None  # (template, precedence) of a call papers write in a form of their own
    big: Optional[tuple] = None  # (label, LaTeX) of the big operator of a reduction over children: Σ, \sum
    marks: tuple = ()  # (position, text) of the marks on a diagram's operand edges where order matters
    example: tuple = ((4,),)  # the arguments in the registry's tests: a tensor's shape, or a number
    attrs: tuple = ()  # constant arguments in the registry's tests, as (name, value) pairs
    positive: bool = False  # whether the tests draw the tensors above 0 (`log`, `sqrt`)
    # The gradient the lowering gives where it is not the reference's own (a straight-through estimator):
    # gradient(*arrays, cotangent) -> one array per tensor argument. None: the reference's, by differences.
    gradient: Optional[Callable[..., Any]] = None
    # Whether the lowering computes over the trailing axes alone and broadcasts the others: in a cell with
    # heads, an operand shared by the heads is then given a unit head axis instead of a copy for each head.
    broadcasts_heads: bool = False


class _NumPyName:
    """A NumPy function named here and imported when first called: the references serve the tests, and
    the front end (`rnndsl check`) starts without importing NumPy."""

    def __init__(self, path: tuple = ()):
        self._path = path

    def __getattr__(self, name: str) -> "_NumPyName":
        return _NumPyName(self._path + (name,))

    def __call__(self, *args, **kwargs):
        import numpy

        target = numpy
        for name in self._path:
            target = getattr(target, name)
        return target(*args, **kwargs)


np = _NumPyName()

OPERATIONS: dict[str, Operation] = {}


def register(op: Operation) -> Operation:
    """Add `op` to the registry (once)."""
    assert op.name not in OPERATIONS, f"operation `{op.name}` registered twice"
    OPERATIONS[op.name] = op
    return op
