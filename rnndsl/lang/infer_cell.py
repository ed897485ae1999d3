"""infer_cell: a cell's graph typed: every node's `shape` and `dtype`, the cell's signature.

Every node gets `shape` (a tuple of `Dim`, over the cell's int hyperparameters
and free dimensions such as `in`) and `dtype` ("float" or "bool"). A parameter
declared without a shape gets one from its uses: in `W @ x[t] + b` with
`x: [in]` and the sum `[units]`, `W` is `[units, in]` and `b` is `[units]`. The
typed cell's signature goes in its header (`ir.CellSignature`).

Inference runs the operations' shape rules (rnndsl.lang.shape_rules) to a fixed
point. A rule may bind an operand whose shape is still unknown; in the first
phase it binds only parameters (whose shapes nothing else can tell), and only
when no rule can progress does it bind a value's shape from one use, one at a
time.
"""

from __future__ import annotations

from typing import Optional

from . import ast as A
from . import limits
from .checks import dim_of
from .dims import Dim
from .dtypes import check_dtypes
from .errors import ShapeError
from .heads import HeadTyping
from .ir import CellIR, CellSignature, frozen_map
from .ops import OPERATIONS
from .shape_rules import Operand, RuleContext, operator_rule
from .unify import Defer, Fail, Shape, ShapeVar, Unifier, show_shape


class CellInference:
    """Types the cell graph `G` in place (a copy the caller made); `run()` gives the diagnostics."""

    def __init__(self, G: CellIR):
        self.G = G
        self.u = Unifier()
        self.shapes: dict = {}
        self.errors: list = []
        self._in_cache: dict = {}

    def run(self) -> list:
        G, header = self.G, self.G.header
        known = dict(header.hparams)
        known.update({f: f for f in header.free_dims})
        declared_errors: list = []

        def declared(shape: Optional[A.Shape]) -> Shape:
            if shape is None:
                return ShapeVar()
            dims = [dim_of(d, known, declared_errors) for d in shape.dims]
            return tuple(dims) if all(d is not None for d in dims) else ShapeVar()

        for node, rec in G.records():
            if rec.kind in ("input", "param", "value"):
                self.shapes[node] = declared(rec.declared)
            elif rec.kind in ("hparam", "const"):
                vector = rec.kind == "const" and isinstance(rec.value, tuple)
                self.shapes[node] = (Dim.const(len(rec.value)),) if vector else ()
            else:
                self.shapes[node] = ShapeVar()
        self.heads = HeadTyping(G, header.heads, self.shapes) if header.heads else None
        ops = G.of_kind("op")
        self._define_values()
        pending = list(ops)
        phase = 1
        while pending:
            progressed = False
            for node in list(pending):
                try:
                    result = self._rule(node, phase)
                except Defer:
                    continue
                except Fail as f:
                    self.errors.append(_with_declarations(f.error, G, node, self.u, self.shapes))
                    result = None
                pending.remove(node)
                progressed = True
                if result is not None and not self.u.unify(self.shapes[node], result):
                    self._value_conflict(node, result)
                if phase == 2:
                    break
            phase = 1 if progressed else phase + 1
            if phase > 2:
                break
        if self.heads is not None:  # first: a state's heads explain the shape errors they lead to
            self.errors = self.heads.mismatches() + self.errors
        dtypes, errors = check_dtypes(self.G, self._inputs)
        self.errors += errors
        self._finish(pending, dtypes)
        if not self.errors:
            self.errors += limits.cell(limits.at_defaults(header.hparams), G)
        return self.errors

    def _define_values(self):
        """A value has the shape of its equation's right side."""
        for u, v, use in self.G.uses():
            if use.defines and not self.u.unify(self.shapes[v], self.shapes[u]):
                self._conflict_def(v, u)

    def _conflict_def(self, value: str, src: str):
        declared_at = self.G.node(value).declared_at
        got = self.u.shape(self.shapes[src])
        want = self.u.shape(self.shapes[value])
        _, use = self.G.definition(value)
        notes = [f"`{value}` is declared {show_shape(want)} at {declared_at}"] if declared_at is not None else []
        self.errors.append(ShapeError(
            f"the equation of `{value}` gives {show_shape(got)}, but `{value}` is {show_shape(want)}",
            use.span, label=show_shape(got), notes=notes, code="E0302"))

    def _value_conflict(self, node, result):
        rec = self.G.node(node)
        self.errors.append(ShapeError(
            f"`{rec.label}` gives {show_shape(self.u.shape(result))} where "
            f"{show_shape(self.u.shape(self.shapes[node]))} is needed", rec.span,
            label=show_shape(self.u.shape(result)), code="E0302"))

    # ---- rules

    def _operands(self, node, phase) -> list:
        out = []
        for src, use in self._inputs(node):
            bindable = phase >= 2 or self.G.node(src).kind == "param"
            out.append(Operand(src, self.u.shape(self.shapes[src]), use.span, bindable))
        return out

    def _inputs(self, node) -> list:
        """[(operand node, Use)] of an op, in argument order (computed once: edges never change)."""
        if node not in self._in_cache:
            self._in_cache[node] = self.G.operands(node)
        return self._in_cache[node]

    def _rule(self, node, phase) -> Optional[Shape]:
        """The shape the op `node` gives, by its rule."""
        rec = self.G.node(node)
        rule = OPERATIONS[rec.op].shape if rec.op in OPERATIONS else operator_rule(rec.op)
        cx, operands = RuleContext(self.u, self.G, node), self._operands(node, phase)
        if self.heads is not None:
            return self.heads.apply(cx, rule, operands, rec.attrs)
        return rule(cx, operands, rec.attrs)

    def _has_heads(self, node) -> bool:
        if self.heads is None:
            return False
        try:
            return self.heads.of(node)
        except Defer:
            return False

    def _finish(self, pending, dtypes: dict):
        G = self.G
        for node in G:
            shape = self.u.shape(self.shapes[node])
            G.replace_node(node, shape=shape if isinstance(shape, tuple) else None, dtype=dtypes[node],
                           heads=self._has_heads(node))
        if self.errors:
            return
        for name in G.of_kind("param"):
            shape, span = G.node(name).shape, G.node(name).span
            if shape is None or any(d.variables() for d in shape):
                known = show_shape(shape) if shape is not None else "[?]"
                self.errors.append(ShapeError(
                    f"cannot infer the shape of parameter `{name}`", span, label=f"known so far: {known}",
                    notes=[f"declare it: `param {name}: {known if shape is not None else '[...]'}`"],
                    code="E0303"))
        for name in G.of_kind("value"):
            shape = G.node(name).shape
            if not self.errors and (shape is None or any(d.variables() for d in shape)):
                self.errors.append(ShapeError(
                    f"cannot infer the shape of `{name}`", G.node(name).span,
                    label="nothing fixes its shape",
                    notes=[f"declare it: `state {name}: [...]`, or give a parameter it uses a shape"],
                    code="E0303"))
        for node in pending:
            rec = G.node(node)
            if self.errors:
                break
            self.errors.append(ShapeError(f"cannot infer the shape of `{rec.label}`", rec.span,
                                          label="operands of unknown shape", code="E0303"))
        if self.errors:
            return

        def shapes(names):
            return frozen_map((n, G.node(n).shape) for n in names)

        G.with_header(signature=CellSignature(
            inputs=shapes(G.of_kind("input")), params=shapes(G.of_kind("param")),
            states=shapes(G.header.states), outputs=shapes(G.header.outputs)))


def _with_declarations(error: ShapeError, G: CellIR, node: str, u: Unifier, shapes: dict) -> ShapeError:
    """`error`, a shape mismatch found typing op `node`, with a place added for each parameter operand whose
    shape its declaration fixed (`param U_h: [units, in]`): the line that caused the error, which may be
    far from the uses it is found at."""
    if error.code != "E0302":
        return error
    for operand, _ in G.operands(node):
        rec = G.node(operand)
        if rec.kind != "param" or rec.declared is None:
            continue
        span = rec.declared.span
        if all(span != place for place, _ in error.trail) and span != error.span:
            error.trail.append((span, f"`{operand}` is declared {show_shape(u.shape(shapes[operand]))} here"))
    return error
