"""infer: IR -> typed IR. Shapes and dtypes by unification over symbolic dimensions.

For a cell, every node gets `shape` (a tuple of `Dim`, over the cell's int
hyperparameters and free dimensions such as `in`) and `dtype` ("float" or
"bool"). A parameter declared without a shape gets one from its uses: in
`W @ x[t] + b` with `x: [in]` and the sum `[units]`, `W` is `[units, in]` and `b`
is `[units]`. The typed cell's signature goes in `G.graph["signature"]`.

For a network, each layer application gets the `NetType` of its output and
every edge the type of the value on it. A cell applied in a network is
instantiated: its hyperparameters take the application's values and its free
dimensions are bound from the input's type.

Both are then held to the limits on sizes (rnndsl.lang.limits) with their
hyperparameters at their defaults.

Inference runs the operations' shape rules to a fixed point. A rule may bind
an operand whose shape is still unknown; in the first phase it binds only
parameters (whose shapes nothing else can tell), and only when no rule can
progress does it bind a value's shape from one use, one at a time.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from typing import Optional, Union

import networkx as nx

from . import ast as A
from . import limits
from .builtins import ELEMENTWISE
from .dims import Dim, shape_str, solve
from .errors import RnnDslError, ShapeError, did_you_mean
from .graph import OP_SYMBOLS, operands
from .layers import ENCODER_DECODER, KERAS_LAYERS, LayerTypeError, NetType, merged_dims
from .bound import BoundProgram
from .checks import dim_of

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


class _Defer(Exception):
    """A rule cannot decide yet: an operand's shape is unknown."""


class _Fail(Exception):
    def __init__(self, error: RnnDslError):
        self.error = error


# ---------------------------------------------------------------- entry


def infer(program: BoundProgram, graphs: dict) -> list:
    """Type every cell, then every network; returns the diagnostics."""
    errors: list[RnnDslError] = []
    for name, cell in program.cells.items():
        errors += _CellInference(graphs[name], cell).run()
    for name, net in program.networks.items():
        errors += _NetworkInference(graphs[name], net, graphs).run()
    return errors


# ---------------------------------------------------------------- cells


@dataclass
class Operand:
    node: str
    shape: Shape
    span: A.Span
    bindable: bool


class _CellInference:
    def __init__(self, G: nx.MultiDiGraph, cell):
        self.G = G
        self.cell = cell
        self.u = Unifier()
        self.shapes: dict = {}
        self.errors: list = []
        self._in_cache: dict = {}

    def fail(self, message, span, label="", notes=(), trail=(), code="E0302"):
        raise _Fail(ShapeError(message, span, label=label, notes=list(notes), trail=list(trail), code=code))

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
                except _Defer:
                    continue
                except _Fail as f:
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
        self._dtypes()
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
        self.node = node  # the op being typed, for rules that look at its uses (split)
        data = self.G.nodes[node]
        op = data["op"]
        ops = self._operands(node, phase)
        attrs = data.get("attrs", {})
        if op in ("add", "sub", "mul", "div", "pow", "lt", "le", "gt", "ge", "eq", "ne",
                  "maximum", "minimum", "where", "clip"):
            return self._elementwise(data, ops)
        if op == "matmul":
            return self._matmul(data, ops)
        if op.startswith("children.") or op in ("neg", "copy", "softmax", "log_softmax") \
                or _is_unary(op):
            if op in ("softmax", "log_softmax"):
                self._check_axis(data, ops[0], attrs.get("axis"))
            return ops[0].shape
        rule = getattr(self, "_" + op, None)
        if rule is None:
            raise AssertionError(f"no shape rule for {op}")
        return rule(data, ops, attrs)

    def _known(self, o: Operand) -> tuple:
        if isinstance(o.shape, ShapeVar):
            raise _Defer
        return o.shape

    def _bind(self, o: Operand, shape) -> tuple:
        """Give an unknown operand `shape`, if inference may (else defer)."""
        if not o.bindable:
            raise _Defer
        self.u.unify(o.shape, shape)
        return shape

    def _mismatch(self, data, a: Operand, b: Operand, notes=()):
        sym = OP_SYMBOLS.get(data["op"], data["op"])
        what = f"`{sym}`" if data["op"] in OP_SYMBOLS else f"`{sym}(...)`"
        sa, sb = show_shape(self.u.shape(a.shape)), show_shape(self.u.shape(b.shape))
        self.fail(f"shape mismatch in {what}: {sa} vs {sb}", b.span, label=sb,
                  trail=[(a.span, sa)], notes=notes, code="E0302")

    def _elementwise(self, data, ops: list) -> Shape:
        known = [o for o in ops if isinstance(o.shape, tuple)]
        target = next((o for o in known if o.shape != ()), None)
        unknown = [o for o in ops if isinstance(o.shape, ShapeVar)]
        if unknown:
            if target is not None:
                if not all(o.bindable for o in unknown):
                    raise _Defer
                for o in unknown:
                    self.u.unify(o.shape, target.shape)
            else:
                if not all(o.bindable for o in unknown):
                    raise _Defer
                first = unknown[0]
                for o in unknown[1:]:
                    self.u.unify(o.shape, first.shape)
                return first.shape
        if target is None:
            return ()
        for o in ops:
            shape = self.u.shape(o.shape)
            if shape != () and not self.u.unify(shape, target.shape):
                notes = []
                if isinstance(shape, tuple) and len(shape) != len(target.shape):
                    notes = ["element-wise operations take equal shapes, or a scalar with any shape"]
                self._mismatch(data, target, o, notes)
        return self.u.shape(target.shape)

    def _matmul(self, data, ops: list) -> Shape:
        a, b = ops
        if isinstance(a.shape, ShapeVar) and isinstance(b.shape, ShapeVar):
            raise _Defer
        if isinstance(a.shape, ShapeVar):
            (bshape) = b.shape
            if len(bshape) == 1:
                m = fresh_dim()
                self._bind(a, (m, bshape[0]))
                return (m,)
            if len(bshape) == 2:
                m = fresh_dim()
                self._bind(a, (m, bshape[0]))
                return (m, bshape[1])
            self._rank_error(data, a, b)
        if isinstance(b.shape, ShapeVar):
            ashape = a.shape
            if len(ashape) == 2:
                self._bind(b, (ashape[1],))
                return (ashape[0],)
            if len(ashape) == 1:
                k = fresh_dim()
                self._bind(b, (ashape[0], k))
                return (k,)
            self._rank_error(data, a, b)
        ashape, bshape = a.shape, b.shape
        ranks = (len(ashape), len(bshape))
        if ranks not in ((2, 1), (1, 2), (2, 2), (1, 1)):
            self._rank_error(data, a, b)
        inner_a = ashape[-1]
        inner_b = bshape[0]
        if not self.u.unify_dim(inner_a, inner_b):
            sa, sb = show_shape(ashape), show_shape(bshape)
            self.fail(f"shape mismatch in `@`: {sa} @ {sb}", b.span, label=sb, trail=[(a.span, sa)],
                      notes=[f"the left side's last dimension ({inner_a}) must equal the right side's "
                             f"first ({inner_b})"], code="E0302")
        result = tuple(ashape[:-1]) + tuple(bshape[1:])
        return self.u.shape(result)

    def _rank_error(self, data, a, b):
        sa, sb = show_shape(self.u.shape(a.shape)), show_shape(self.u.shape(b.shape))
        self.fail(f"`@` takes matrices and vectors, found {sa} @ {sb}", data["span"],
                  label=f"{sa} @ {sb}", notes=["`W @ x` with W: [m, n] and x: [n] gives [m]"], code="E0301")

    def _check_axis(self, data, o: Operand, axis) -> Optional[int]:
        if axis is None or isinstance(o.shape, ShapeVar):
            return axis
        rank = len(o.shape)
        if not isinstance(axis, int) or not -rank <= axis < rank:
            self.fail(f"axis {axis} is out of range for {show_shape(o.shape)}", data["span"],
                      label=f"rank {rank}", code="E0306")
        return axis % rank

    def _reduce(self, data, ops, attrs):
        x = self._known(ops[0])
        axis = self._check_axis(data, ops[0], attrs.get("axis"))
        if axis is None:
            return ()
        return x[:axis] + x[axis + 1:]

    _sum = _mean = _max = _min = _prod = _norm = _reduce

    def _vectors(self, data, ops, name):
        for o in ops:
            if isinstance(o.shape, tuple) and len(o.shape) != 1:
                self.fail(f"`{name}` takes vectors, found {show_shape(o.shape)}", o.span,
                          label=show_shape(o.shape), code="E0301")

    def _dot(self, data, ops, attrs):
        a, b = ops
        if isinstance(a.shape, ShapeVar) and isinstance(b.shape, ShapeVar):
            raise _Defer
        if isinstance(a.shape, ShapeVar):
            self._bind(a, b.shape)
        if isinstance(b.shape, ShapeVar):
            self._bind(b, a.shape)
        a, b = self._operands_now(ops)
        self._vectors(data, ops, "dot")
        if not self.u.unify(a.shape, b.shape):
            self._mismatch(data, a, b)
        return ()

    def _operands_now(self, ops):
        return [Operand(o.node, self.u.shape(o.shape), o.span, o.bindable) for o in ops]

    def _outer(self, data, ops, attrs):
        shapes = []
        for o in ops:
            if isinstance(o.shape, ShapeVar):
                shapes.append(self._bind(o, (fresh_dim(),)))
            else:
                shapes.append(o.shape)
        self._vectors(data, self._operands_now(ops), "outer")
        return (shapes[0][0], shapes[1][0])

    def _cosine(self, data, ops, attrs):
        m, k = ops
        if isinstance(m.shape, ShapeVar):
            if isinstance(k.shape, ShapeVar):
                raise _Defer
            self._bind(m, k.shape)
        if isinstance(k.shape, ShapeVar):
            self._bind(k, (self.u.shape(m.shape)[-1],))
        m, k = self._operands_now(ops)
        if len(k.shape) != 1 or len(m.shape) not in (1, 2):
            self.fail(f"`cosine` takes a vector or a matrix, and a vector: found {show_shape(m.shape)} "
                      f"and {show_shape(k.shape)}", data["span"], code="E0301")
        if not self.u.unify_dim(m.shape[-1], k.shape[0]):
            self._mismatch(data, m, k, ["a matrix's rows are compared with the vector: [N, W] and [W]"])
        return m.shape[:-1]

    def _circular_conv(self, data, ops, attrs):
        w, s = (self._known(o) for o in ops)
        self._vectors(data, ops, "circular_conv")
        n, k = w[0].value, s[0].value
        if n is not None and k is not None and k > n:
            self.fail(f"the shift distribution has {k} entries for {n} slots", ops[1].span,
                      label=show_shape(s), code="E0302")
        return w

    def _transpose(self, data, ops, attrs):
        x = self._known(ops[0])
        if len(x) != 2:
            self.fail(f"`transpose` takes a matrix, found {show_shape(x)}", ops[0].span, code="E0301")
        return (x[1], x[0])

    def _concat(self, data, ops, attrs):
        shapes = [self._known(o) for o in ops]
        first = shapes[0]
        axis = self._check_axis(data, ops[0], attrs.get("axis", -1))
        total = first[axis]
        for o, shape in zip(ops[1:], shapes[1:]):
            if len(shape) != len(first) or not all(
                self.u.unify_dim(a, b) for i, (a, b) in enumerate(zip(first, shape)) if i != axis
            ):
                self._mismatch(data, ops[0], o, [f"`concat` joins shapes that agree off axis {axis}"])
            total = total + shape[axis]
        return first[:axis] + (total,) + first[axis + 1:]

    def _split(self, data, ops, attrs):
        x = self._known(ops[0])
        axis = self._check_axis(data, ops[0], attrs.get("axis", -1))
        parts = attrs["parts"]
        piece = _divide(x[axis], parts)
        if piece is None:
            self.fail(f"cannot split {show_shape(x)} into {parts} equal parts along axis {axis}",
                      ops[0].span, label=show_shape(x), code="E0302")
        targets = [v for _, v, d in self.G.out_edges(self.node, data=True) if d.get("role") == "def"]
        if len(targets) != (parts if isinstance(parts, int) else len(targets)):
            self.fail(f"`split` into {parts} parts defines {len(targets)} value"
                      f"{'s' if len(targets) != 1 else ''}", data["span"], code="E0302")
        return x[:axis] + (piece,) + x[axis + 1:]

    def _einsum(self, data, ops, attrs):
        spec = attrs["subscripts"]
        inputs, output = _parse_einsum(spec, len(ops), data["span"])
        letters: dict = {}
        for o, subs in zip(ops, inputs):
            if isinstance(o.shape, tuple):
                if len(o.shape) != len(subs):
                    self.fail(f"`einsum` operand `{subs}` has rank {len(subs)}, found {show_shape(o.shape)}",
                              o.span, label=show_shape(o.shape), code="E0301")
                for letter, d in zip(subs, o.shape):
                    if letter in letters and not self.u.unify_dim(letters[letter], d):
                        self.fail(f"`einsum` index `{letter}` has sizes {self.u.dim(letters[letter])} and {d}",
                                  o.span, label=show_shape(o.shape), code="E0302")
                    letters.setdefault(letter, d)
        for o, subs in zip(ops, inputs):
            if isinstance(o.shape, ShapeVar):
                for letter in subs:
                    letters.setdefault(letter, fresh_dim())
                self._bind(o, tuple(letters[c] for c in subs))
        for letter in output:
            if letter not in letters:
                raise _Defer
        return tuple(self.u.dim(letters[c]) for c in output)

    # ---- dtypes and results

    def _dtypes(self):
        """Every node's dtype, and a diagnostic for a bool or str where a number is needed.

        An op's dtype depends on the op alone (comparisons give bool, the rest
        float), so no fixed point is needed; a value takes its equation's.
        """
        G = self.G
        for node, data in G.nodes(data=True):
            data["dtype"] = self._own_dtype(node, data)
        reported: set = set()
        for node, data in G.nodes(data=True):
            if data["kind"] != "op":
                continue
            operands = [(G.nodes[src]["dtype"], edge) for src, edge in self._inputs(node)]
            if data["op"] == "where":
                (cond_type, cond_edge), *operands = operands
                if cond_type != "bool":
                    self.errors.append(ShapeError(
                        "the condition of `where` is not a comparison", cond_edge["span"],
                        label=f"a {cond_type} value", notes=["write `where(x > 0, a, b)`"], code="E0304"))
            for t, edge in operands:
                self._numeric(t, edge, data["op"], reported)

    def _own_dtype(self, node, data, depth: int = 0) -> str:
        kind = data["kind"]
        if kind == "hparam":
            return "float" if data["type"] in ("int", "float") else data["type"]
        if kind == "const":
            return "bool" if isinstance(data["value"], bool) else "float"
        if kind == "op":
            return "bool" if data["op"] in ("lt", "le", "gt", "ge", "eq", "ne") else "float"
        if kind == "value" and depth < len(self.G):
            src = next(u for u, _, d in self.G.in_edges(node, data=True) if d.get("role") == "def")
            return self._own_dtype(src, self.G.nodes[src], depth + 1)
        return "float"

    def _numeric(self, t, edge, op, reported):
        if t == "float" or id(edge) in reported:
            return
        reported.add(id(edge))
        sym = OP_SYMBOLS.get(op, op)
        hint = "use `where(cond, a, b)` to choose by a condition" if t == "bool" else \
            "a str hyperparameter is a setting, not a number"
        self.errors.append(ShapeError(f"a {t} value in `{sym}`", edge["span"], label=f"a {t}",
                                      notes=[hint], code="E0304"))

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


def _is_unary(op: str) -> bool:
    return op in ELEMENTWISE


def _divide(d: Dim, parts) -> Optional[Dim]:
    if isinstance(parts, int):
        return d.exact_div(parts)
    # a symbolic number of parts: every term must carry the symbol
    terms = {}
    for m, c in d.terms.items():
        if parts not in m:
            return None
        rest = list(m)
        rest.remove(parts)
        terms[tuple(rest)] = c
    return Dim(terms)


def _parse_einsum(spec: str, n_operands: int, span) -> tuple:
    """`"ij,j->i"` -> (["ij", "j"], "i"); without `->`, the output is the letters seen once, sorted."""
    text = spec.replace(" ", "")
    if "->" in text:
        lhs, out = text.split("->", 1)
    else:
        lhs, out = text, None
    inputs = lhs.split(",")
    ok = all(s.isalpha() or s == "" for s in inputs) and (out is None or out.isalpha() or out == "")
    if not ok or "->" in (out or ""):
        raise _Fail(ShapeError(f"bad einsum subscripts `{spec}`", span,
                               label="expected letters such as \"ij,j->i\"", code="E0307"))
    if len(inputs) != n_operands:
        raise _Fail(ShapeError(f"einsum subscripts `{spec}` name {len(inputs)} operand"
                               f"{'s' if len(inputs) != 1 else ''}, given {n_operands}", span, code="E0307"))
    if out is None:
        counts: dict = {}
        for c in "".join(inputs):
            counts[c] = counts.get(c, 0) + 1
        out = "".join(sorted(c for c, k in counts.items() if k == 1))
    for c in out:
        if c not in "".join(inputs):
            raise _Fail(ShapeError(f"einsum output index `{c}` is not in any operand", span, code="E0307"))
    return inputs, out


# ---------------------------------------------------------------- networks


class _NetworkInference:
    def __init__(self, G: nx.MultiDiGraph, net, graphs: dict):
        self.G = G
        self.net = net
        self.graphs = graphs
        self.u = Unifier()
        self.errors: list = []
        self.types: dict = {}
        self.bindings: dict = {}  # cell application id -> the cell's dimension symbols as it binds them
        self.instances: dict = {}  # application id -> [(cell, binding)]: each cell it applies, as bound

    def run(self) -> list:
        G = self.G
        for name, info in self.net.inputs.items():
            self._input_dims(name, info)
            self.types[name] = NetType(info.kind, info.dims, info.dtype)
        for app in self.net.apps:
            inputs = [self.types.get(src) for src in app.inputs]
            if any(t is None for t in inputs):
                continue  # an earlier layer failed
            try:
                self.types[app.id] = self._apply(app, inputs)
                self._states(app)
            except _Fail as f:
                self.errors.append(f.error)
        for node in G:
            if G.nodes[node]["kind"] == "output":
                src = next(iter(G.predecessors(node)))
                if src in self.types:
                    self.types[node] = self.types[src]
        for node, t in self.types.items():
            G.nodes[node]["type"] = self._resolved(t)
        for u, v, data in G.edges(data=True):
            source = v if G.nodes[v]["kind"] == "state" else u  # a final state's edge has the state's type
            if source in self.types:
                data["type"] = self._resolved(self.types[source])
        for app_id, instances in self.instances.items():
            G.nodes[app_id]["instances"] = [(cell, {k: self.u.dim(d) for k, d in binding.items()})
                                            for cell, binding in instances]
        return self.errors + limits.network(limits.at_defaults(self.net.hparams), G, self.graphs)

    def _input_dims(self, name: str, info) -> None:
        """A network input's sizes are integers and int hyperparameters: nothing else binds them when the
        network is built (a grid's height and width excepted: a grid's size may vary, as a sequence's length)."""
        sizes = info.dims[2:] if info.kind == "grid" else info.dims
        for symbol in sorted(set().union(*(d.symbols() for d in sizes)) - set(self.net.hparams)):
            self.errors.append(ShapeError(
                f"unknown dimension `{symbol}` in the type of input `{name}`", info.span,
                label=f"`{symbol}` is not a hyperparameter of `{self.net.name}`",
                notes=did_you_mean(symbol, self.net.hparams) + [
                    f"a network's sizes are integers and its int hyperparameters: "
                    f"`network {self.net.name}({symbol}: int = ...)`"], code="E0201"))

    def _states(self, app):
        """Types of a cell's final states (`returns=states`), and the check of its given initial states."""
        if not (app.ports or app.initial):
            return
        cell_graph = self.graphs[app.cell.cell]
        sub = self.bindings[app.id]
        for state in cell_graph.graph["states"]:
            dims = tuple(self.u.dim(d.subst(sub)) for d in cell_graph.nodes[state]["shape"])
            want = NetType("vec", dims, "float")
            if state in app.ports:
                self.types[app.ports[state]] = want
            if state in app.initial:
                src = app.initial[state]
                got = self.types.get(src)
                if got is None:
                    continue
                if got.kind != "vec" or got.dtype != "float" or len(got.dims) != len(dims) or \
                        not all(self.u.unify_dim(a, b) for a, b in zip(dims, got.dims)):
                    where = f"`{src}`" if src in self.net.inputs or src in self.net.values else "its value"
                    for name, value in self.net.values.items():
                        where = f"`{name}`" if value == src else where
                    raise _Fail(ShapeError(
                        f"initial state `{state}` of `{app.layer}` takes {self._resolved(want)}, found {got}",
                        app.span, label=f"{where} is {got}",
                        notes=[f"`{state}` is {shape_str(cell_graph.nodes[state]['shape'])} in cell "
                               f"`{app.cell.cell}`"], code="E0305"))

    def _resolved(self, t: NetType) -> NetType:
        return NetType(t.kind, tuple(self.u.dim(d) for d in t.dims), t.dtype)

    def _describe(self, app, i) -> str:
        src = app.inputs[i]
        return f"`{src}`" if src in self.net.inputs or src in self.net.values else "its input"

    def _apply(self, app, inputs: list) -> NetType:
        if app.kind == "keras":
            spec = KERAS_LAYERS[app.layer]
            self._valid(app, spec)
            try:
                return spec.rule(app.args, inputs)
            except LayerTypeError as e:
                raise _Fail(ShapeError(str(e), app.span, label=f"applied to {inputs[0]}", code="E0305"))
        cell_type = None
        if app.kind == "cell":
            cell_type = self._cell(app, app.cell, inputs)
        elif app.kind == "Stack":
            depth = app.args["depth"]
            # Every layer but the top returns sequences; the top returns what the cell says. Each layer
            # reads the one below: once a layer gives the type it reads, so does every layer above it,
            # and a stack of any depth is typed in two layers (more only for a cell whose size grows; a
            # depth out of range is limits' to report). A symbolic depth: two more layers show the type
            # that every later layer sees.
            inner = replace(app.cell, returns="sequences")
            t = self._cell(app, inner, inputs)
            for _ in range(min(depth, limits.MAX_DEPTH) - 1 if isinstance(depth, int) else 2):
                below, t = t, self._cell(app, inner, [t])
                if self._resolved(t) == self._resolved(below):
                    break
            cell_type = t if app.cell.returns == "sequences" else NetType("vec", t.dims, t.dtype)
        elif app.kind == "Bidirectional":
            t = self._cell(app, app.cell, inputs)
            cell_type = NetType(t.kind, merged_dims(app.args["merge"], t.dims), t.dtype)
        elif app.kind == ENCODER_DECODER:
            cell_type = self._encoder_decoder(app, inputs)
        return cell_type

    def _valid(self, app, spec) -> None:
        """A Keras layer's arguments as `check` knows them (a hyperparameter at its default) are valid."""
        hparams = self.net.hparams
        named = [v.id for v in app.args.values() if isinstance(v, A.Name)]
        problem = spec.valid({k: hparams[v.id].default if isinstance(v, A.Name) else v for k, v in app.args.items()})
        if problem:  # the layer's type does not depend on it: inference goes on
            self.errors.append(ShapeError(problem, app.span, notes=[
                f"`{h}` = {hparams[h].default} is the default at {hparams[h].span}" for h in named], code="E0209"))

    def _encoder_decoder(self, app, inputs: list) -> NetType:
        """`EncoderDecoder(...)(source, target)`: seq[d] features and seq[int] tokens -> seq[vocab].

        The encoder reads the source; the decoder reads the embedded target, beside the attention's
        context with `bahdanau`; `luong_dot` scores the decoder's output against the encoder's, so
        their sizes agree; `bridge=copy` starts each decoder state from the encoder's final state of
        its name and shape."""
        source, target = inputs
        args = app.args
        if target.kind != "seq" or target.dtype != "int" or target.dims:
            raise _Fail(ShapeError(f"`{ENCODER_DECODER}` reads the target as tokens, seq[int], found {target}",
                                   app.span, label=f"{self._describe(app, 1)} is {target}", code="E0305"))
        memory = self._cell(app, args["encoder"], [source])
        encoder_binding = self.bindings[app.id]
        reads = Dim.of(args["embed"])
        if args["attention"] == "bahdanau":
            reads = reads + memory.dims[-1]
        out = self._cell(app, args["decoder"], [NetType("seq", (reads,), "float")])
        decoder_binding = self.bindings[app.id]
        self.bindings[app.id] = {**encoder_binding, **decoder_binding}
        for role, t in (("encoder", memory), ("decoder", out)):
            if len(t.dims) != 1:
                raise _Fail(ShapeError(f"the {role} of `{ENCODER_DECODER}` gives {t}: attention and the output "
                                       "layer read one vector per step", app.span, code="E0305"))
        if args["attention"] == "luong_dot" and not self.u.unify_dim(memory.dims[0], out.dims[0]):
            raise _Fail(ShapeError(
                f"`attention=luong_dot` scores the decoder's output against the encoder's by their dot product, "
                f"but their sizes differ: {self._resolved(out)} and {self._resolved(memory)}", app.span,
                label="attention=luong_dot",
                notes=["use `attention=luong_general` (a learned matrix between them), or cells of one size"],
                code="E0305"))
        if args["bridge"] == "copy":
            self._copy_bridge(app, encoder_binding, decoder_binding)
        return NetType("seq", (Dim.of(args["vocab"]),), "float")

    def _copy_bridge(self, app, encoder_binding: dict, decoder_binding: dict) -> None:
        """`bridge=copy`: every state of the decoder has an encoder state of its name and shape."""
        encoder, decoder = (self.graphs[app.args[r].cell] for r in ("encoder", "decoder"))

        def shape(G, state, binding):
            return tuple(self.u.dim(d.subst(binding)) for d in G.nodes[state]["shape"])

        for state in decoder.graph["states"]:
            want = shape(decoder, state, decoder_binding)
            if state not in encoder.graph["states"]:
                raise _Fail(ShapeError(
                    f"`bridge=copy` starts the decoder's state `{state}` from the encoder's final `{state}`, "
                    f"but cell `{app.args['encoder'].cell}` has no state `{state}` "
                    f"(its states: {', '.join(encoder.graph['states']) or 'none'})", app.span,
                    label="bridge=copy", notes=["use `bridge=dense` (a learned map of the encoder's final "
                                                "states), or `bridge=none`"], code="E0305"))
            got = shape(encoder, state, encoder_binding)
            if len(got) != len(want) or not all(self.u.unify_dim(a, b) for a, b in zip(got, want)):
                raise _Fail(ShapeError(
                    f"`bridge=copy` starts the decoder's state `{state}` [{', '.join(map(str, want))}] from the "
                    f"encoder's final `{state}` [{', '.join(map(str, got))}]: the sizes differ", app.span,
                    label="bridge=copy", notes=["use `bridge=dense`, a learned map between the sizes"],
                    code="E0305"))

    def _cell(self, app, ref, inputs: list) -> NetType:
        G = self.graphs.get(ref.cell)
        signature = G.graph.get("signature") if G is not None else None
        if signature is None:
            raise _Fail(ShapeError(f"cell `{ref.cell}` has errors", app.span, code="E0305"))
        cell_graph = G.graph
        sub = {}
        for hp, value in ref.args.items():
            if cell_graph["hparams"][hp].type == "int" and value is not None:
                sub[hp] = Dim.of(value) if isinstance(value, (int, Dim)) else value
        free = {f: fresh_dim(f + ".") for f in cell_graph["free_dims"]}
        sub.update(free)
        self.bindings[app.id] = sub
        kind = "tree" if cell_graph["over"] == "tree" else "seq"
        bound_notes = []
        for (iname, ishape), t, i in zip(signature["inputs"].items(), inputs, itertools.count()):
            where = self._describe(app, i)
            if t.kind != kind:
                runs = "over trees" if kind == "tree" else "over time"
                raise _Fail(ShapeError(
                    f"cell `{ref.cell}` runs {runs}: it takes a {kind}, found {t}", app.span,
                    label=f"{where} is {t}", code="E0305"))
            if t.dtype != "float":
                raise _Fail(ShapeError(
                    f"cell `{ref.cell}` takes float features, found {t}", app.span, label=f"{where} is {t}",
                    notes=["embed tokens first: `Embedding(vocab, 128)(words)`"], code="E0305"))
            expected = tuple(d.subst(sub) for d in ishape)
            if len(expected) != len(t.dims) or not all(self.u.unify_dim(a, b) for a, b in zip(expected, t.dims)):
                shown = "[" + ", ".join(str(d).replace("?", "").split(".")[0] if d.variables() else str(d)
                                        for d in ishape) + "]"
                raise _Fail(ShapeError(
                    f"cell `{ref.cell}` input `{iname}` takes {kind}{shown}, found {t}", app.span,
                    label=f"{where} is {t}",
                    notes=[f"`{iname}: {shape_str(ishape)}` is declared at "
                           f"{self.graphs[ref.cell].nodes[iname]['span']}"] + bound_notes, code="E0305"))
            for f, var in free.items():
                value = self.u.dim(var)
                if not value.variables():
                    bound_notes.append(f"`{f}` is bound to {value} by `{ref.cell}` at {app.span}")
        (out_name, out_shape), *_ = signature["outputs"].items()
        dims = tuple(self.u.dim(d.subst(sub)) for d in out_shape)
        if any(d.variables() for d in dims):
            raise _Fail(ShapeError(f"cannot infer the output of `{ref.cell}`: {show_shape(dims)}", app.span,
                                   code="E0303"))
        self.instances.setdefault(app.id, []).append((ref.cell, sub))
        return NetType(kind if ref.returns == "sequences" else "vec", dims, "float")

