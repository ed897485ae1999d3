"""resolve_network: one network's names bound, a `BoundNetwork`.

A name in a network is a hyperparameter, an input, a bound value, a cell, or a
layer that rnndsl.lang.layers knows. Its statements are read in order: inputs
with their types, bindings of data-flow expressions (`x >> LSTM(64)`,
`Dense(10)(x)`), outputs; the layers themselves are rnndsl.lang.network_layers'.
The train block is rnndsl.lang.training's.
"""

from __future__ import annotations

from typing import Optional

from . import ast as A
from . import training
from .bound import Application, BoundNetwork, NetInputInfo
from .checks import Reporter, dim_of, resolve_hparams
from .errors import did_you_mean
from .layers import DTYPES, ENCODER_DECODER, KERAS_LAYERS, KINDS, WRAPPERS
from .network_layers import LayerApplier
from .notation import check_notations
from .train_rules import rtrl_network


def resolve_network(net: A.Network, file: str, cell_asts: dict, cells: dict, networks=frozenset()) -> tuple:
    """(BoundNetwork, []) for a network without errors, else (None, its errors). `cell_asts`: every cell
    in scope, even those with errors; `cells`: the bound ones; `networks`: the names of the program's
    networks (a layer so named is not unknown, but a network)."""
    return NetworkResolver(net, file, cell_asts, cells, networks).run()


class NetworkResolver(Reporter):
    """A network's statements, in order: `values` maps each bound name to the id of its value."""

    def __init__(self, net: A.Network, file: str, cell_asts: dict, cells: dict, networks=frozenset()):
        super().__init__([])
        self.net = net
        self.networks = networks
        self.file = file
        self.cell_asts = cell_asts  # every cell in scope, even those with errors
        self.cells = cells
        self.values: dict[str, str] = {}
        self.inputs: dict[str, NetInputInfo] = {}
        self.failed: set = set()  # names whose definition had an error: uses stay quiet

    def run(self):
        self.hparams = resolve_hparams(self.net.hparams, self.errors)
        self.layers = LayerApplier(self.cell_asts, self.cells, self.hparams, self.inputs, self.errors,
                                   self.networks)
        outputs = []
        for stmt in self.net.body:
            if isinstance(stmt, A.NetInput):
                for name in stmt.names:
                    self._input(name, stmt.type)
            elif isinstance(stmt, A.Bind):
                value = self._flow(stmt.value, bound=True)
                if value is None:
                    self.failed.update(n.id for n in stmt.names)
                    continue
                app = self._app(value)
                if app is not None and app.ports:
                    self._bind_states(stmt, app)
                    continue
                if len(stmt.names) != 1:
                    self.error("bind one name to a layer's output", stmt.names[1].span,
                               notes=["a cell applied with `returns=states` binds one name per state"],
                               code="E0214")
                    continue
                name = stmt.names[0]
                if self._defined(name):
                    self.error(f"`{name.id}` is defined twice", name.span, label="second definition",
                               code="E0204")
                    continue
                self.values[name.id] = value
                if app is not None:
                    app.names += (name.id,)
            elif isinstance(stmt, A.NetOutput):
                for expr in stmt.values:
                    value = self._flow(expr)
                    if value is not None:
                        outputs.append((value, expr.span))
        if not outputs and not any(isinstance(s, A.NetOutput) for s in self.net.body):
            self.error(f"network `{self.net.name.id}` has no output", self.net.name.span,
                       label="add `output NAME`", code="E0218")
        self.errors += training.check(self.net, self.hparams)
        for block in training.trains(self.net)[:1]:  # a network `method = rtrl` cannot train (E0807)
            found = rtrl_network(block, self.net.name.id, self.layers.apps, self.inputs, outputs, self.cells)
            self.errors += [found] if found is not None else []
        notation: dict = {}
        if not self.layers.blocked:
            known = [*self.hparams, *self.inputs, *self.values, *sorted(self.failed)]
            notation = check_notations(self.net.body, known, "network", self.errors)
        if self.errors or self.layers.blocked:
            return None, self.errors
        return BoundNetwork(ast=self.net, name=self.net.name.id, file=self.file, doc=self.net.doc,
                            hparams=self.hparams, inputs=self.inputs, apps=self.layers.apps, values=self.values,
                            outputs=outputs, notation=notation), []

    def _bind_states(self, stmt: A.Bind, app: Application):
        """`c, h = LSTM(units, returns=states)(x)`: one name per state, in the cell's order."""
        states = list(app.ports)
        if len(stmt.names) != len(states):
            self.error(f"`{app.layer}` has {len(states)} state{'s' if len(states) != 1 else ''} "
                       f"({', '.join(states)}): bind {len(states)} name{'s' if len(states) != 1 else ''}, "
                       f"given {len(stmt.names)}", stmt.span, code="E0214")
            self.failed.update(n.id for n in stmt.names)
            return
        for name, state in zip(stmt.names, states):
            if self._defined(name):
                self.error(f"`{name.id}` is defined twice", name.span, label="second definition", code="E0204")
                continue
            self.values[name.id] = app.ports[state]
        app.names += tuple(n.id for n in stmt.names)

    def _defined(self, name: A.Name) -> bool:
        return name.id in self.values or name.id in self.hparams

    def _app(self, value_id: str) -> Optional[Application]:
        return next((a for a in self.layers.apps if a.id == value_id), None)

    def _input(self, name: A.Name, typ: A.TypeExpr):
        if self._defined(name):
            self.error(f"`{name.id}` is defined twice", name.span, code="E0204")
            return
        kind = typ.kind.id
        self.failed.add(name.id)  # until the type is known good
        if kind not in KINDS:
            self.error(f"unknown type `{kind}`", typ.kind.span, label="not a kind of value",
                       notes=did_you_mean(kind, KINDS) + ["kinds are seq, vec, tree and grid"], code="E0230")
            return
        items = list(typ.items)
        dtype = "float"
        if items and isinstance(items[0], A.Name) and items[0].id in DTYPES:
            dtype = items.pop(0).id
        dims = []
        free: set = set()
        for item in items:
            d = dim_of(item, self.hparams, self.errors, free=free)
            if d is not None:
                dims.append(d)
        if kind == "grid" and len(dims) < 2:
            self.error("a grid has at least two dimensions: `grid[H, W, ...]`", typ.span, code="E0230")
        if kind in ("seq", "vec", "tree") and not dims and dtype == "float":
            self.error(f"`{kind}[]` has no features", typ.span,
                       label=f"write `{kind}[32]`, or `{kind}[int]` for tokens", code="E0230")
        self.failed.discard(name.id)
        self.values[name.id] = name.id
        self.inputs[name.id] = NetInputInfo(name.id, kind, dtype, tuple(dims), name.span)

    # ---- data flow

    def _flow(self, expr, bound: bool = False) -> Optional[str]:
        """Resolve a data-flow expression; returns the id of the value it produces.

        `bound`: the expression is the right side of a binding, the one place where a cell's states
        (`returns=states`) can be taken apart into names."""
        value = self._flow_value(expr)
        app = self._app(value) if value is not None else None
        if app is not None and app.ports and not bound:
            self.error(f"the states of `{app.layer}` are several values: bind them to names",
                       app.cell.span, label="returns=states",
                       notes=[f"write `{', '.join(app.ports)} = {app.layer}(..., returns=states)(...)`"],
                       code="E0214")
            return None
        return value

    def _flow_value(self, expr) -> Optional[str]:
        if isinstance(expr, A.Name):
            if expr.id in self.values:
                return self.values[expr.id]
            if expr.id in self.failed:
                return None
            if expr.id in self.cell_asts or expr.id in KERAS_LAYERS:
                self.error(f"`{expr.id}` is a layer; apply it to a value", expr.span,
                           label=f"write `{expr.id}(...)(x)` or `x >> {expr.id}(...)`", code="E0227")
                return None
            self.error(f"unknown value `{expr.id}`", expr.span, label="not an input or bound name",
                       notes=did_you_mean(expr.id, self.values), code="E0201")
            return None
        if isinstance(expr, A.BinOp) and expr.op == ">>":
            source = self._flow(expr.left)
            if source is None:
                self.layers.check(expr.right)
                return None
            return self.layers.apply(expr.right, [source], expr.span)
        if isinstance(expr, A.Call) and isinstance(expr.func, A.Call):
            inputs, initial = [], {}
            for arg in expr.args:
                value = self._flow(arg.value)
                if value is None:
                    self.layers.check(expr.func)
                    return None
                if arg.name is None:
                    inputs.append(value)
                elif arg.name.id in initial:
                    self.error(f"initial state `{arg.name.id}` is given twice", arg.name.span, code="E0209")
                    return None
                else:
                    initial[arg.name] = value
            if expr.generator is not None:
                self.error("a layer is applied to values, not to a generator", expr.span, code="E0222")
                return None
            return self.layers.apply(expr.func, inputs, expr.span, initial)
        if isinstance(expr, A.Call) and isinstance(expr.func, A.Name):
            name = expr.func.id
            if name in self.cell_asts or name in KERAS_LAYERS or name in WRAPPERS or name == ENCODER_DECODER:
                self.error(f"`{name}(...)` is a layer; apply it to a value", expr.span,
                           label=f"write `{name}(...)(x)` or `x >> {name}(...)`", code="E0227")
            else:
                self.layers.unknown(expr.func)
            return None
        self.error("a network combines values with layers", expr.span,
                   label="not a layer application",
                   notes=["apply layers: `Dense(10)(x)`, `x >> LSTM(64)`; combine values with "
                          "`Add()(a, b)` or `Concatenate()(a, b)`"], code="E0228")
        return None
