"""graph: bound program -> IR, one typed-record graph per cell and per network (rnndsl.lang.ir).

A cell's `CellIR` has a node per input, parameter, hyperparameter read as a
number, constant, operation and defined value. Node ids are the names for named
things (`x`, `W_i`, `h`), `%k` for operations and `#k` for constants; each node
holds its record (`ir.InputNode`, `ParamNode`, ...), each edge a `Use`. Every
declaration the later passes need travels in the records and the header (shapes
as declared, initializers, constraints, the states' initial values), so no pass
after this one reads the bound program.

A network's `NetworkIR` has a node per input, layer application, final state of
a cell applied with `returns=states`, and output; each edge a `Flow`.
"""

from __future__ import annotations

import itertools
from typing import NamedTuple, Optional

from . import ast as A
from . import ir
from .builtins import CONSTANT_NAMES, FUNCTIONS, KEYWORD_ONLY
from .grid_reads import offset_of
from .operators import BINARY_OPERATORS
from .schedules import schedule_condition, schedule_label
from .bound import BoundCell, BoundNetwork, BoundProgram
from .training import trains


def build(program: BoundProgram) -> dict:
    """{name: graph} for every cell and network of the program."""
    graphs: dict = {}
    for name, cell in program.cells.items():
        graphs[name] = cell_graph(cell)
    for name, net in program.networks.items():
        graphs[name] = network_graph(net)
    return graphs


# ---------------------------------------------------------------- cells


def cell_graph(cell: BoundCell) -> ir.CellIR:
    """The data-flow graph of one step of `cell`."""
    return _CellGraph(cell).build()


class _CellGraph:
    def __init__(self, cell: BoundCell):
        self.cell = cell
        self.G = ir.CellIR()
        self._ids = itertools.count()

    def build(self) -> ir.CellIR:
        cell, G = self.cell, self.G
        states = cell.states
        G.set_header(ir.CellHeader(
            name=cell.name, over=cell.over, arity=cell.arity, index=cell.index, doc=cell.doc,
            file=cell.file, span=cell.span, solver=cell.solver, step=cell.step,
            outputs=tuple(o.id for o in cell.outputs), states=tuple(states), delays=ir.frozen_map(cell.delays),
            hparams=ir.frozen_map(cell.hparams), free_dims=tuple(cell.free_dims),
            notation=ir.frozen_map(cell.notation), written=cell.ast, heads=cell.heads))
        for name, decl in cell.inputs.items():
            G.add(name, ir.InputNode(span=_name_span(decl.names, name), label=name, declared=decl.shape))
        for name, p in cell.params.items():
            G.add(name, ir.ParamNode(span=p.span, label=name, declared=p.shape, implicit=p.implicit,
                                     fixed=p.fixed, init=p.init, constraints=tuple(p.constraints), fit=p.fit))
        for name, v in cell.values.items():
            decl = cell.state_decls.get(name)
            G.add(name, ir.ValueNode(
                span=v.span, label=name, ode=v.ode, state=name in states, delay=cell.delays.get(name, 0),
                init=_state_init(cell, name), declared=decl.shape if decl is not None else None,
                declared_at=decl.span if decl is not None else None))
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
            src = self._expr(stmt.value, None).node
            for i, target in enumerate(stmt.targets):
                self.G.connect(src, target.name.id, ir.Use(arg=0, span=stmt.value.span, role="def", index=i))
            return
        name = stmt.targets[0].name.id if isinstance(stmt, A.Equation) else stmt.name.id
        if isinstance(stmt, A.Equation) and stmt.schedule is not None:
            # `h[t] = e every k`: where(mod(t, k) == 0, e, h[t-1]), the schedule a note on its `where`
            schedule = stmt.schedule
            operands = [self._operand(schedule_condition(schedule), None), self._operand(stmt.value, None),
                        (_Read(name, 1), schedule.span)]
            node = self._op("where", schedule.span, operands, None, schedule=schedule_label(schedule))
            self.G.connect(node, name, ir.Use(arg=0, span=stmt.value.span, role="def"))
            return
        read = self._expr(stmt.value, None)
        self.G.connect(read.node, name, ir.Use(arg=0, delay=read.delay, child=read.child, slot=read.slot,
                                               offset=read.offset, span=stmt.value.span, role="def"))

    def _new(self, prefix: str, record) -> str:
        node = f"{prefix}{next(self._ids)}"
        self.G.add(node, record)
        return node

    def _op(self, op: str, span, operands, gen, label=None, **attrs) -> str:
        node = self._new("%", ir.OpNode(op=op, span=span, label=label or op, attrs=ir.frozen_map(attrs),
                                        per_child=gen is not None))
        for i, (read, use_span) in enumerate(operands):
            self.G.connect(read.node, node, ir.Use(arg=i, delay=read.delay, child=read.child, slot=read.slot,
                                                   offset=read.offset, span=use_span))
        return node

    def _operand(self, expr, gen) -> tuple:
        return self._expr(expr, gen), expr.span

    def _expr(self, expr, gen) -> "_Read":
        """Add `expr` to the graph; returns how its user reads the value it produces."""
        cell = self.cell
        if isinstance(expr, A.Number):
            return _Read(self._new("#", ir.ConstNode(value=expr.value, span=expr.span,
                                                     label=expr.text or str(expr.value))))
        if isinstance(expr, A.Vector):  # entries checked by resolve: numbers, -numbers, hyperparameters
            entries = tuple(_constant(item) for item in expr.items)
            return _Read(self._new("#", ir.ConstNode(value=entries, span=expr.span, label=expr.written())))
        if isinstance(expr, A.Name):
            name = expr.id
            if name in ("true", "false") and name not in cell.params:
                return _Read(self._new("#", ir.ConstNode(value=name == "true", span=expr.span, label=name)))
            if name in cell.hparams and name not in self.G:
                self.G.add(name, ir.HparamNode(span=cell.hparams[name].span, label=name,
                                               type=cell.hparams[name].type))
            return _Read(name)
        if isinstance(expr, A.Indexed):
            name = expr.name.id
            idx = expr.index
            if gen is not None and isinstance(idx, A.Name) and idx.id == gen.var.id:
                return _Read(name, 1, True)
            if isinstance(idx, A.Call):  # `h[child(n, i)]`
                return _Read(name, 1, True, idx.args[1].value.value)
            if isinstance(idx, A.BinOp):
                return _Read(name, idx.right.value)
            if isinstance(idx, A.Position):  # `h[i-1, j]`: a position before this one (resolve checked it)
                offset = offset_of(idx)
                return _Read(name, int(offset != (0, 0)), offset=offset if offset != (0, 0) else None)
            return _Read(name)
        if isinstance(expr, A.UnaryOp):
            if expr.op == "+":
                return self._expr(expr.operand, gen)
            return _Read(self._op("neg", expr.span, [self._operand(expr.operand, gen)], gen, label="-"))
        if isinstance(expr, A.BinOp):
            op = BINARY_OPERATORS[expr.op]
            operands = [self._operand(expr.left, gen), self._operand(expr.right, gen)]
            return _Read(self._op(op, expr.span, operands, gen, label=expr.op))
        if isinstance(expr, A.Call):
            return _Read(self._call(expr, gen))
        raise AssertionError(f"resolve lets through {type(expr).__name__}")

    def _call(self, expr: A.Call, gen) -> str:
        name = expr.func.id
        if name == "leaf":  # `leaf(n)`: the tree's, no operand
            return self._op("tree.leaf", expr.span, [], gen, label="leaf")
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


class _Read(NamedTuple):
    """How a user reads the value of an expression: node `node`, `delay` steps back (`h[t-2]`: 2), or
    at a child (`child`; `slot`, the child's position where it is read as `h[child(n, i)]`)."""

    node: str
    delay: int = 0
    child: bool = False
    slot: Optional[int] = None
    offset: Optional[tuple] = None  # a grid position before this one, `h[i-1, j]`: (-1, 0) (`delay` is 1)


def _constant(expr):
    """A constant argument: a literal's value, or a hyperparameter's name."""
    if isinstance(expr, (A.Number, A.String)):
        return expr.value
    if isinstance(expr, A.UnaryOp) and isinstance(expr.operand, A.Number):
        return -expr.operand.value
    if isinstance(expr, A.Name):
        return CONSTANT_NAMES.get(expr.id, expr.id)  # `true`, or a hyperparameter's name
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


def network_graph(net: BoundNetwork) -> ir.NetworkIR:
    """Layers as nodes, values flowing on edges."""
    G = ir.NetworkIR()
    outputs = [f"output_{i + 1}" if len(net.outputs) > 1 else "output" for i in range(len(net.outputs))]
    G.set_header(ir.NetworkHeader(name=net.name, doc=net.doc, file=net.file, span=net.span,
                                  hparams=ir.frozen_map(net.hparams), values=ir.frozen_map(net.values),
                                  outputs=tuple(outputs), notation=ir.frozen_map(net.notation),
                                  train=next(iter(trains(net.ast)), None), written=net.ast))
    for name, info in net.inputs.items():
        G.add(name, ir.NetInputNode(span=info.span, label=name, info=info))
    for app in net.apps:
        G.add(app.id, ir.LayerNode(span=app.span, label=app.layer, app=app))
        for i, src in enumerate(app.inputs):
            G.connect(src, app.id, ir.Flow(arg=i, span=app.span))
        for state, src in app.initial.items():
            G.connect(src, app.id, ir.Flow(state=state, span=app.span))
        for state, port in app.ports.items():
            G.add(port, ir.StateNode(span=app.span, label=state, app=app, state=state))
            G.connect(app.id, port, ir.Flow(state=state, span=app.span))
    for node, (value, span) in zip(outputs, net.outputs):
        G.add(node, ir.OutputNode(span=span, label="output"))
        G.connect(value, node, ir.Flow(arg=0, span=span))
    return G
