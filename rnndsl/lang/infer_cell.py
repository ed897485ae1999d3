"""infer_cell: a cell's graph typed: every node's `shape` and `dtype`, the cell's signature.

Every node gets `shape` (a tuple of `Dim`, over the cell's int hyperparameters
and free dimensions such as `in`) and `dtype` ("float" or "bool"). A parameter
declared without a shape gets one from its uses: in `W @ x[t] + b` with
`x: [in]` and the sum `[units]`, `W` is `[units, in]` and `b` is `[units]`. The
typed cell's signature goes in `G.graph["signature"]`.

Inference runs the operations' shape rules (rnndsl.lang.shape_rules) to a fixed
point. A rule may bind an operand whose shape is still unknown; in the first
phase it binds only parameters (whose shapes nothing else can tell), and only
when no rule can progress does it bind a value's shape from one use, one at a
time.
"""

from __future__ import annotations

from typing import Optional

import networkx as nx

from . import ast as A
from . import limits
from .checks import dim_of
from .dtypes import check_dtypes
from .errors import ShapeError
from .graph import operands
from .ops import OPERATIONS
from .shape_rules import Operand, RuleContext, operator_rule
from .unify import Defer, Fail, Shape, ShapeVar, Unifier, show_shape


class CellInference:
    """Types the graph `G` of the bound cell `cell`; `run()` gives the diagnostics."""

    def __init__(self, G: nx.MultiDiGraph, cell):
        self.G = G
        self.cell = cell
        self.u = Unifier()
        self.shapes: dict = {}
        self.errors: list = []
        self._in_cache: dict = {}

    def run(self) -> list:
        G, cell = self.G, self.cell
        known = dict(cell.hparams)
        known.update({f: f for f in cell.free_dims})
        declared_errors: list = []

        def declared(shape: Optional[A.Shape]) -> Shape:
            if shape is None:
                return ShapeVar()
            dims = [dim_of(d, known, declared_errors) for d in shape.dims]
            return tuple(dims) if all(d is not None for d in dims) else ShapeVar()

        for node, data in G.nodes(data=True):
            kind = data["kind"]
            if kind == "input":
                self.shapes[node] = declared(cell.inputs[node].shape)
            elif kind == "param":
                self.shapes[node] = declared(cell.params[node].shape)
            elif kind in ("hparam", "const"):
                self.shapes[node] = ()
            elif kind == "value":
                decl = cell.state_decls.get(node)
                self.shapes[node] = declared(decl.shape if decl is not None else None)
            else:
                self.shapes[node] = ShapeVar()
        ops = [n for n, d in G.nodes(data=True) if d["kind"] == "op"]
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
                    self.errors.append(f.error)
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
        self.errors += check_dtypes(self.G, self._inputs)
        self._finish(pending)
        if not self.errors:
            self.errors += limits.cell(limits.at_defaults(cell.hparams), G)
        return self.errors

    def _define_values(self):
        """A value has the shape of its equation's right side."""
        for u, v, data in self.G.edges(data=True):
            if data.get("role") == "def" and not self.u.unify(self.shapes[v], self.shapes[u]):
                self._conflict_def(v, u)

    def _conflict_def(self, value: str, src: str):
        decl = self.cell.state_decls.get(value)
        got = self.u.shape(self.shapes[src])
        want = self.u.shape(self.shapes[value])
        edge = next(d for _, _, d in self.G.in_edges(value, data=True) if d.get("role") == "def")
        notes = [f"`{value}` is declared {show_shape(want)} at {decl.span}"] if decl is not None else []
        self.errors.append(ShapeError(
            f"the equation of `{value}` gives {show_shape(got)}, but `{value}` is {show_shape(want)}",
            edge["span"], label=show_shape(got), notes=notes, code="E0302"))

    def _value_conflict(self, node, result):
        data = self.G.nodes[node]
        self.errors.append(ShapeError(
            f"`{data['label']}` gives {show_shape(self.u.shape(result))} where "
            f"{show_shape(self.u.shape(self.shapes[node]))} is needed", data["span"],
            label=show_shape(self.u.shape(result)), code="E0302"))

    # ---- rules

    def _operands(self, node, phase) -> list:
        out = []
        for src, data in self._inputs(node):
            kind = self.G.nodes[src]["kind"]
            bindable = phase >= 2 or (kind == "param")
            out.append(Operand(src, self.u.shape(self.shapes[src]), data["span"], bindable))
        return out

    def _inputs(self, node) -> list:
        """[(operand node, edge data)] of an op, in argument order (computed once: edges never change)."""
        if node not in self._in_cache:
            self._in_cache[node] = operands(self.G, node)
        return self._in_cache[node]

    def _rule(self, node, phase) -> Optional[Shape]:
        """The shape the op `node` gives, by its rule."""
        data = self.G.nodes[node]
        op = data["op"]
        rule = OPERATIONS[op].shape if op in OPERATIONS else operator_rule(op)
        return rule(RuleContext(self.u, self.G, node), self._operands(node, phase), data.get("attrs", {}))

    def _finish(self, pending):
        G, cell = self.G, self.cell
        for node in G:
            shape = self.u.shape(self.shapes[node])
            G.nodes[node]["shape"] = shape if isinstance(shape, tuple) else None
        if self.errors:
            return
        for name, p in cell.params.items():
            shape = G.nodes[name]["shape"]
            if shape is None or any(d.variables() for d in shape):
                known = show_shape(shape) if shape is not None else "[?]"
                self.errors.append(ShapeError(
                    f"cannot infer the shape of parameter `{name}`", p.span, label=f"known so far: {known}",
                    notes=[f"declare it: `param {name}: {known if shape is not None else '[...]'}`"],
                    code="E0303"))
        for name in cell.values:
            shape = G.nodes[name]["shape"]
            if not self.errors and (shape is None or any(d.variables() for d in shape)):
                self.errors.append(ShapeError(
                    f"cannot infer the shape of `{name}`", G.nodes[name]["span"],
                    label="nothing fixes its shape",
                    notes=[f"declare it: `state {name}: [...]`, or give a parameter it uses a shape"],
                    code="E0303"))
        for node in pending:
            data = G.nodes[node]
            if self.errors:
                break
            self.errors.append(ShapeError(f"cannot infer the shape of `{data['label']}`", data["span"],
                                          label="operands of unknown shape", code="E0303"))
        if self.errors:
            return
        shapes = {n: G.nodes[n]["shape"] for n in G}
        G.graph["signature"] = {
            "inputs": {n: shapes[n] for n in cell.inputs},
            "params": {n: shapes[n] for n in cell.params},
            "states": {n: shapes[n] for n in G.graph["states"]},
            "outputs": {n: shapes[n] for n in G.graph["outputs"]},
        }
