"""graph: bound program -> IR, one NetworkX graph per cell and per network.

A cell graph (`nx.MultiDiGraph`) has a node per input, parameter,
hyperparameter, constant, operation and defined value. Node ids are the
names for named things (`x`, `W_i`, `h`), `%k` for operations and `#k` for
constants. Node attributes:

    kind   "input" | "param" | "hparam" | "const" | "op" | "value"
    span   where it is written (for an op: the whole expression)
    op     for ops: "add" "sub" "mul" "div" "matmul" "pow" "neg" "pos", a comparison
           ("lt" ...), "copy", or a built-in function's name; "children.sum" etc.
           for reductions over tree children
    attrs  for ops: constant arguments ({"axis": -1}, {"parts": 2}, {"subscripts": ...})
    per_child  True for ops inside a reduction over children (computed per child)
    value  for consts: the number
    ode, state, delay   for values: a `d/dt` state; read at an earlier step; largest delay

Edges run from an operand to its user and carry `arg` (the operand's position),
`delay` (0 for `h[t]`, k for `h[t-k]`), `child` (a child's value in a tree
cell), `span` (where the operand is read) and, on the edge into a value,
`role="def"` (with `index` for `split`'s pieces).

A network graph (`nx.MultiDiGraph`) has a node per input (`kind="input"`),
layer application (`kind="layer"`, `app` = the `Application`; after inference
`instances`, each cell it applies as `(cell, {cell symbol: network Dim})`), final state
of a cell applied with `returns=states` (`kind="state"`, `app`, `state`) and
output (`kind="output"`). Edges carry `span`, after inference `type`, and
either `arg` (an input's position) or `state` (an initial state into a
cell, or a final state out of it).

The graph's own attributes (`G.graph`) hold the cell's or network's name,
kind, docstring, file and declarations.
"""

from __future__ import annotations

import itertools

import networkx as nx

from . import ast as A
from .builtins import FUNCTIONS, KEYWORD_ONLY
from .operators import BINARY_OPERATORS
from .bound import BoundCell, BoundNetwork, BoundProgram



def operands(G, node) -> list:
    """[(operand node, edge data)] of `node`, in argument order."""
    edges = [(u, d) for u, keyed in G.pred[node].items() for d in keyed.values()]
    return sorted(edges, key=lambda e: e[1]["arg"])


def build(program: BoundProgram) -> dict:
    """{name: graph} for every cell and network of the program."""
    graphs: dict[str, nx.MultiDiGraph] = {}
    for name, cell in program.cells.items():
        graphs[name] = cell_graph(cell)
    for name, net in program.networks.items():
        graphs[name] = network_graph(net)
    return graphs


# ---------------------------------------------------------------- cells


def cell_graph(cell: BoundCell) -> nx.MultiDiGraph:
    """The data-flow graph of one step of `cell`."""
    return _CellGraph(cell).build()


class _CellGraph:
    def __init__(self, cell: BoundCell):
        self.cell = cell
        self.G = nx.MultiDiGraph()
        self._ids = itertools.count()

    def build(self) -> nx.MultiDiGraph:
        cell, G = self.cell, self.G
        states = cell.states
        G.graph.update(
            name=cell.name, kind="cell", over=cell.over, index=cell.index, doc=cell.doc,
            file=cell.file, span=cell.span, solver=cell.solver, step=cell.step,
            outputs=[o.id for o in cell.outputs], states=states, delays=dict(cell.delays),
            hparams=cell.hparams, free_dims=cell.free_dims, notation=dict(cell.notation),
        )
        for name, decl in cell.inputs.items():
            G.add_node(name, kind="input", span=_name_span(decl.names, name), label=name)
        for name, p in cell.params.items():
            G.add_node(name, kind="param", span=p.span, label=name, implicit=p.implicit,
                       fixed=p.fixed, init=p.init, constraints=p.constraints, fit=p.fit)
        for name, v in cell.values.items():
            delay = cell.delays.get(name, 0)
            G.add_node(name, kind="value", span=v.span, label=name, ode=v.ode,
                       state=name in states, delay=delay, init=_state_init(cell, name))
        done: set = set()
        for name, v in cell.values.items():
            stmt = v.stmt
            if id(stmt) in done:
                continue
            done.add(id(stmt))
            self._define(stmt)
        return G

    def _define(self, stmt):
        if isinstance(stmt, A.Equation) and len(stmt.targets) > 1:
            # `a[t], b[t] = split(z[t], 2)`: one split op, one piece per target.
            src, _, _ = self._expr(stmt.value, None)
            for i, target in enumerate(stmt.targets):
                self.G.add_edge(src, target.name.id, arg=0, delay=0, child=False, span=stmt.value.span,
                                role="def", index=i)
            return
        name = stmt.targets[0].name.id if isinstance(stmt, A.Equation) else stmt.name.id
        src, delay, child = self._expr(stmt.value, None)
        self.G.add_edge(src, name, arg=0, delay=delay, child=child, span=stmt.value.span, role="def")

    def _new(self, prefix: str, **attrs) -> str:
        node = f"{prefix}{next(self._ids)}"
        self.G.add_node(node, **attrs)
        return node

    def _op(self, op: str, span, operands, gen, label=None, **attrs) -> str:
        node = self._new("%", kind="op", op=op, span=span, label=label or op, attrs=attrs,
                         per_child=gen is not None)
        for i, (src, delay, child, use_span) in enumerate(operands):
            self.G.add_edge(src, node, arg=i, delay=delay, child=child, span=use_span)
        return node

    def _operand(self, expr, gen):
        src, delay, child = self._expr(expr, gen)
        return src, delay, child, expr.span

    def _expr(self, expr, gen):
        """Add `expr` to the graph; returns (node, delay, child) of the value it produces."""
        cell = self.cell
        if isinstance(expr, A.Number):
            node = self._new("#", kind="const", value=expr.value, span=expr.span, label=expr.text or str(expr.value))
            return node, 0, False
        if isinstance(expr, A.Name):
            name = expr.id
            if name in ("true", "false") and name not in cell.params:
                node = self._new("#", kind="const", value=name == "true", span=expr.span, label=name)
                return node, 0, False
            if name in cell.hparams and name not in self.G:
                self.G.add_node(name, kind="hparam", span=cell.hparams[name].span, label=name,
                                type=cell.hparams[name].type)
            return name, 0, False
        if isinstance(expr, A.Indexed):
            name = expr.name.id
            idx = expr.index
            if gen is not None and isinstance(idx, A.Name) and idx.id == gen.var.id:
                return name, 1, True
            if isinstance(idx, A.BinOp):
                return name, idx.right.value, False
            return name, 0, False
        if isinstance(expr, A.UnaryOp):
            if expr.op == "+":
                return self._expr(expr.operand, gen)
            return self._op("neg", expr.span, [self._operand(expr.operand, gen)], gen, label="-"), 0, False
        if isinstance(expr, A.BinOp):
            op = BINARY_OPERATORS[expr.op]
            operands = [self._operand(expr.left, gen), self._operand(expr.right, gen)]
            return self._op(op, expr.span, operands, gen, label=expr.op), 0, False
        if isinstance(expr, A.Call):
            return self._call(expr, gen), 0, False
        raise AssertionError(f"resolve lets through {type(expr).__name__}")

    def _call(self, expr: A.Call, gen) -> str:
        name = expr.func.id
        if expr.generator is not None:
            g = expr.generator
            body = self._operand(g.body, g)
            return self._op(f"children.{name}", expr.span, [body], None, label=f"{name} over children")
        sig = FUNCTIONS[name]
        params = sig.params
        positional = [a for a in expr.args if a.name is None]
        keywords = {a.name.id: a for a in expr.args if a.name is not None}
        attrs = {p.name: p.default for p in params if p.kind != "tensor"}
        operands = []
        for key, (_kind, default) in KEYWORD_ONLY.get(name, {}).items():
            attrs[key] = default
        for i, arg in enumerate(positional):
            kind = params[i].kind if i < len(params) else sig.variadic
            pname = params[i].name if i < len(params) else None
            if kind == "tensor":
                operands.append(self._operand(arg.value, gen))
            else:
                attrs[pname] = _constant(arg.value)
        for key, arg in keywords.items():
            p = next((p for p in params if p.name == key), None)
            if p is not None and p.kind == "tensor":
                operands.append(self._operand(arg.value, gen))
            else:
                attrs[key] = _constant(arg.value)
        return self._op(name, expr.span, operands, gen, label=name, **attrs)


def _constant(expr):
    """A constant argument: a literal's value, or a hyperparameter's name."""
    if isinstance(expr, (A.Number, A.String)):
        return expr.value
    if isinstance(expr, A.UnaryOp) and isinstance(expr.operand, A.Number):
        return -expr.operand.value
    if isinstance(expr, A.Name):
        return expr.id
    return None


def _name_span(names, name):
    return next(n.span for n in names if n.id == name)


def _state_init(cell: BoundCell, name: str):
    decl = cell.state_decls.get(name)
    if decl is None or decl.init is None:
        return 0
    init = decl.init
    if isinstance(init, A.Name):
        return init.id
    return _constant(init) if _constant(init) is not None else init


# ---------------------------------------------------------------- networks


def network_graph(net: BoundNetwork) -> nx.MultiDiGraph:
    """Layers as nodes, values flowing on edges."""
    G = nx.MultiDiGraph()
    G.graph.update(name=net.name, kind="network", doc=net.doc, file=net.file, span=net.span,
                   hparams=net.hparams, outputs=[], notation=dict(net.notation))
    for name, info in net.inputs.items():
        G.add_node(name, kind="input", span=info.span, label=name, info=info)
    for app in net.apps:
        G.add_node(app.id, kind="layer", span=app.span, label=app.layer, app=app)
        for i, src in enumerate(app.inputs):
            G.add_edge(src, app.id, arg=i, span=app.span)
        for state, src in app.initial.items():
            G.add_edge(src, app.id, state=state, span=app.span)
        for state, port in app.ports.items():
            G.add_node(port, kind="state", span=app.span, label=state, app=app, state=state)
            G.add_edge(app.id, port, state=state, span=app.span)
    for i, (value, span) in enumerate(net.outputs):
        node = f"output_{i + 1}" if len(net.outputs) > 1 else "output"
        G.add_node(node, kind="output", span=span, label="output")
        G.add_edge(value, node, arg=0, span=span)
        G.graph["outputs"].append(node)
    return G
