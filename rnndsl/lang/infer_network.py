"""infer_network: a network's graph typed: each layer application's output, each edge's value.

Each layer application gets the `NetType` of its output and every edge the type
of the value on it. A cell applied in a network is instantiated: its
hyperparameters take the application's values and its free dimensions are
bound from the input's type (`instances` on the layer's node).
"""

from __future__ import annotations

import itertools
from dataclasses import replace

from . import ast as A
from . import limits
from .dims import Dim, int_bindings, shape_str
from .errors import ShapeError, did_you_mean
from .ir import NetworkIR
from .layers import ENCODER_DECODER, KERAS_LAYERS, LayerTypeError, NetType, merged_dims
from .unify import Fail, Unifier, fresh_dim, show_shape


class NetworkInference:
    """Types the network graph `G` in place (a copy the caller made); `graphs` holds the typed cells it applies."""

    def __init__(self, G: NetworkIR, graphs: dict):
        self.G = G
        self.header = G.header
        self.inputs = {n: G.node(n).info for n in G.of_kind("input")}
        self.graphs = graphs
        self.u = Unifier()
        self.errors: list = []
        self.types: dict = {}
        self.bindings: dict = {}  # cell application id -> the cell's dimension symbols as it binds them
        self.instances: dict = {}  # application id -> [(cell, binding)]: each cell it applies, as bound

    def run(self) -> list:
        G = self.G
        for name, info in self.inputs.items():
            self._input_dims(name, info)
            self.types[name] = NetType(info.kind, info.dims, info.dtype)
        for app in (rec.app for _, rec in G.layers()):
            inputs = [self.types.get(src) for src in app.inputs]
            if any(t is None for t in inputs):
                continue  # an earlier layer failed
            try:
                self.types[app.id] = self._apply(app, inputs)
                self._states(app)
            except Fail as f:
                self.errors.append(f.error)
        for node in G.of_kind("output"):
            src = next(iter(G.predecessors(node)))
            if src in self.types:
                self.types[node] = self.types[src]
        for node, t in self.types.items():
            G.replace_node(node, type=self._resolved(t))

        def typed(u, v, flow):
            source = v if G.node(v).kind == "state" else u  # a final state's edge has the state's type
            return replace(flow, type=self._resolved(self.types[source])) if source in self.types else None

        G.replace_edges(typed)
        for app_id, instances in self.instances.items():
            G.replace_node(app_id, instances=tuple((cell, {k: self.u.dim(d) for k, d in binding.items()})
                                                   for cell, binding in instances))
        return self.errors + limits.network(limits.at_defaults(self.header.hparams), G, self.graphs)

    def _input_dims(self, name: str, info) -> None:
        """A network input's sizes are integers and int hyperparameters: nothing else binds them when the
        network is built (a grid's height and width excepted: a grid's size may vary, as a sequence's length)."""
        sizes = info.dims[2:] if info.kind == "grid" else info.dims
        for symbol in sorted(set().union(*(d.symbols() for d in sizes)) - set(self.header.hparams)):
            self.errors.append(ShapeError(
                f"unknown dimension `{symbol}` in the type of input `{name}`", info.span,
                label=f"`{symbol}` is not a hyperparameter of `{self.header.name}`",
                notes=did_you_mean(symbol, self.header.hparams) + [
                    f"a network's sizes are integers and its int hyperparameters: "
                    f"`network {self.header.name}({symbol}: int = ...)`"], code="E0201"))

    def _states(self, app):
        """Types of a cell's final states (`returns=states`), and the check of its given initial states."""
        if not (app.ports or app.initial):
            return
        cell_graph = self.graphs[app.cell.cell]
        sub = self.bindings[app.id]
        for state in cell_graph.header.states:
            dims = tuple(self.u.dim(d.subst(sub)) for d in cell_graph.node(state).shape)
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
                    where = f"`{src}`" if src in self.inputs or src in self.header.values else "its value"
                    for name, value in self.header.values.items():
                        where = f"`{name}`" if value == src else where
                    raise Fail(ShapeError(
                        f"initial state `{state}` of `{app.layer}` takes {self._resolved(want)}, found {got}",
                        app.span, label=f"{where} is {got}",
                        notes=[f"`{state}` is {shape_str(cell_graph.node(state).shape)} in cell "
                               f"`{app.cell.cell}`"], code="E0305"))

    def _resolved(self, t: NetType) -> NetType:
        return NetType(t.kind, tuple(self.u.dim(d) for d in t.dims), t.dtype)

    def _describe(self, app, i) -> str:
        src = app.inputs[i]
        return f"`{src}`" if src in self.inputs or src in self.header.values else "its input"

    def _apply(self, app, inputs: list) -> NetType:
        if app.kind == "keras":
            spec = KERAS_LAYERS[app.layer]
            self._valid(app, spec)
            try:
                return spec.rule(app.args, inputs)
            except LayerTypeError as e:
                raise Fail(ShapeError(str(e), app.span, label=f"applied to {', '.join(map(str, inputs))}",
                                      code="E0305"))
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
            cell_type = t if app.cell.returns in ("sequences", "nodes") else NetType("vec", t.dims, t.dtype)
        elif app.kind == "Bidirectional":
            _check_bidirectional(self.graphs.get(app.cell.cell), app)
            t = self._cell(app, app.cell, inputs)
            cell_type = NetType(t.kind, merged_dims(app.args["merge"], t.dims), t.dtype)
        elif app.kind == ENCODER_DECODER:
            cell_type = self._encoder_decoder(app, inputs)
        return cell_type

    def _valid(self, app, spec) -> None:
        """A Keras layer's arguments as `check` knows them (a hyperparameter at its default) are valid."""
        hparams = self.header.hparams
        named = [v.id for v in app.args.values() if isinstance(v, A.Name)]
        # an int argument written over hyperparameters (`stride=k`) is a Dim: its value at their defaults, if known
        defaults = int_bindings({h: hyper.default for h, hyper in hparams.items() if hyper.type == "int"})
        named += sorted({s for v in app.args.values() if isinstance(v, Dim) for s in v.symbols() if s in defaults})
        problem = spec.valid({k: hparams[v.id].default if isinstance(v, A.Name) else
                              v.subst(defaults).value if isinstance(v, Dim) else v for k, v in app.args.items()})
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
            raise Fail(ShapeError(f"`{ENCODER_DECODER}` reads the target as tokens, seq[int], found {target}",
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
                raise Fail(ShapeError(f"the {role} of `{ENCODER_DECODER}` gives {t}: attention and the output "
                                       "layer read one vector per step", app.span, code="E0305"))
        if args["attention"] == "luong_dot" and not self.u.unify_dim(memory.dims[0], out.dims[0]):
            raise Fail(ShapeError(
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
            return tuple(self.u.dim(d.subst(binding)) for d in G.node(state).shape)

        for state in decoder.header.states:
            want = shape(decoder, state, decoder_binding)
            if state not in encoder.header.states:
                raise Fail(ShapeError(
                    f"`bridge=copy` starts the decoder's state `{state}` from the encoder's final `{state}`, "
                    f"but cell `{app.args['encoder'].cell}` has no state `{state}` "
                    f"(its states: {', '.join(encoder.header.states) or 'none'})", app.span,
                    label="bridge=copy", notes=["use `bridge=dense` (a learned map of the encoder's final "
                                                "states), or `bridge=none`"], code="E0305"))
            got = shape(encoder, state, encoder_binding)
            if len(got) != len(want) or not all(self.u.unify_dim(a, b) for a, b in zip(got, want)):
                raise Fail(ShapeError(
                    f"`bridge=copy` starts the decoder's state `{state}` [{', '.join(map(str, want))}] from the "
                    f"encoder's final `{state}` [{', '.join(map(str, got))}]: the sizes differ", app.span,
                    label="bridge=copy", notes=["use `bridge=dense`, a learned map between the sizes"],
                    code="E0305"))

    def _cell(self, app, ref, inputs: list) -> NetType:
        G = self.graphs.get(ref.cell)
        signature = G.signature if G is not None else None
        if signature is None:
            raise Fail(ShapeError(f"cell `{ref.cell}` has errors", app.span, code="E0305"))
        header = G.header
        sub = {}
        for hp, value in ref.args.items():
            if header.hparams[hp].type == "int" and value is not None:
                sub[hp] = Dim.of(value) if isinstance(value, (int, Dim)) else value
        free = {f: fresh_dim(f + ".") for f in header.free_dims}
        sub.update(free)
        self.bindings[app.id] = sub
        kind = _domain_kind(header.over, ref, app)
        spatial = ()  # a grid's height and width, which a grid cell keeps
        bound_notes = []
        for (iname, ishape), t, i in zip(signature.inputs.items(), inputs, itertools.count()):
            where = self._describe(app, i)
            if t.kind != kind:
                raise Fail(ShapeError(
                    f"cell `{ref.cell}` runs {RUNS[kind]}: it takes a {kind}, found {t}", app.span,
                    label=f"{where} is {t}", code="E0305"))
            if t.dtype != "float":
                raise Fail(ShapeError(
                    f"cell `{ref.cell}` takes float features, found {t}", app.span, label=f"{where} is {t}",
                    notes=["embed tokens first: `Embedding(vocab, 128)(words)`"], code="E0305"))
            expected = tuple(d.subst(sub) for d in ishape)
            features = t.dims
            if kind == "grid":  # `grid[H, W, d...]`: the cell reads d... at each position
                spatial, features = t.dims[:2], t.dims[2:]
            if len(expected) != len(features) or not all(self.u.unify_dim(a, b) for a, b in zip(expected, features)):
                shown = "[" + ("H, W, " if kind == "grid" else "") + ", ".join(
                    str(d).replace("?", "").split(".")[0] if d.variables() else str(d)
                                        for d in ishape) + "]"
                raise Fail(ShapeError(
                    f"cell `{ref.cell}` input `{iname}` takes {kind}{shown}, found {t}", app.span,
                    label=f"{where} is {t}",
                    notes=[f"`{iname}: {shape_str(ishape)}` is declared at "
                           f"{G.node(iname).span}"] + bound_notes, code="E0305"))
            for f, var in free.items():
                value = self.u.dim(var)
                if not value.variables():
                    bound_notes.append(f"`{f}` is bound to {value} by `{ref.cell}` at {app.span}")
        (out_name, out_shape), *_ = signature.outputs.items()
        dims = tuple(self.u.dim(d.subst(sub)) for d in out_shape)
        if any(d.variables() for d in dims):
            raise Fail(ShapeError(f"cannot infer the output of `{ref.cell}`: {show_shape(dims)}", app.span,
                                   code="E0303"))
        self.instances.setdefault(app.id, []).append((ref.cell, sub))
        if ref.returns in ("sequences", "nodes"):
            return NetType(kind, spatial + dims, "float")
        return NetType("vec", dims, "float")


# what a cell's values are a sequence of, by its domain (`over`), and how the messages say it
KIND = {"time": "seq", "tree": "tree", "grid": "grid"}
RUNS = {"seq": "over time", "tree": "over trees", "grid": "over a grid"}


def _domain_kind(over: str, ref, app) -> str:
    """The kind of network value (`seq`, `tree`, `grid`) a cell over `over` reads; E0305 where it is asked for
    nodes (`returns=nodes`) and is no tree cell."""
    kind = KIND[over]
    if ref.returns == "nodes" and kind != "tree":
        runs, which = ("over a grid", "grid") if kind == "grid" else ("over time", "time")
        raise Fail(ShapeError(f"cell `{ref.cell}` runs {runs}: it has no nodes to return", app.span,
                              label="returns=nodes",
                              notes=[f"`returns=nodes` is for tree cells; a {which} cell returns "
                                     + ("its output at every position (the default)" if kind == "grid"
                                        else "`sequences`") + ", `last` or `states`"], code="E0305"))
    return kind


def _check_bidirectional(cell, app) -> None:
    """E0305 for `Bidirectional` of a cell that has no second direction: a tree cell; a grid cell asked for its
    last position or states."""
    if cell is not None and cell.header.over == "tree":
        raise Fail(ShapeError(f"cell `{app.cell.cell}` runs over trees, which have no backward direction",
                              app.span, label="Bidirectional",
                              notes=["a tree cell reads a node's children: apply it alone"], code="E0305"))
    if cell is not None and cell.header.over == "grid" and app.cell.returns not in ("sequences", "nodes"):
        raise Fail(ShapeError(f"a bidirectional grid cell gives its output at every position, not "
                              f"`returns={app.cell.returns}`", app.span, label="Bidirectional",
                              notes=["its second direction runs right to left and is shifted down a row: "
                                     "it has no last position of its own"], code="E0305"))
