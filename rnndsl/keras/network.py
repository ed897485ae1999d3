"""network: a checked network (or a cell alone) -> a Keras functional model.

`lower(program, name, ...)` builds the model of a network or of a cell and
says which of its recurrent layers took the fused path (`Lowered`), which is
what `describe` reports. A network's layers are lowered in topological order:
the layers of the language by their builders (rnndsl.keras.layers), a cell by
a recurrent layer (Keras's own on the fused path, else a generated cell), a
`Stack` or a `Bidirectional` of one by several or by Keras's wrapper, an
`EncoderDecoder` by rnndsl.keras.seq2seq.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import keras
from keras import ops
import networkx as nx
import numpy as np

from ..lang import ast as A
from ..lang import limits
from ..lang.dims import Dim, int_bindings
from ..lang.errors import ShapeError, SpecErrors, UsageError
from .cell import GeneratedCell, GeneratedRNN, cell_source
from .fused import LAYOUT, Fused, fused_path
from .fused_layer import fused_layer, plain_initializers
from ..lang.hparams import bind, cell_env
from . import optimize
from .interpret import flat_size
from .layers import keras_layer
from .seq2seq import lower_encoder_decoder
from .grid import GridLayer, MirroredGrid
from .tree import TreeLayer


@dataclass(frozen=True)
class Lowered:
    """A model lowered from a spec, and `fused_paths`: {recurrent layer name: (cell name, fused.Fused match)}
    of each of its layers on the fused path (the others run generated cells, which know their own cell)."""

    model: keras.Model
    fused_paths: dict


@dataclass
class Lowering:
    """One model being lowered: what each of its layers needs besides its own arguments.

    `env` binds the hyperparameters of the network (or the cell) being built; `fused` says whether
    cells on the fused path lower to Keras's own layers; `paths` gathers the fused layers made so far,
    as `Lowered.fused_paths`."""

    program: object
    env: dict
    fused: bool = True
    paths: dict = field(default_factory=dict)
    trees: dict = field(default_factory=dict)  # {value: the children tensor of the trees it is a value over}
    shape: object = None  # the children tensor of the trees the layer being applied reads, if any

    def argument(self, v):
        """The value of a layer's or a cell's argument: a dimension's size (an int; lowering binds every
        dimension), a hyperparameter's value for its name, else the value written."""
        if isinstance(v, Dim):
            return int(v.subst(int_bindings(self.env)).value)
        return self.env[v.id] if isinstance(v, A.Name) else v

    def recurrent_layer(self, cell_name: str, hparams: dict, *, input_dim: int, name: str,
                        return_sequences: bool = True, return_state: bool = False, stateful: bool = False,
                        outputs: Optional[list] = None):
        """The recurrent layer of cell `cell_name` with hyperparameters `hparams` ({name: value}), for inputs
        `(batch, T, input_dim)`: Keras's own on the fused path, else a GeneratedRNN. It gives its outputs
        `(batch, T, size)`, or `(batch, size)` for the last step only without `return_sequences`; with
        `return_state`, a list: that and the final states, each `(batch,) + its shape`.

        `outputs` names the values a generated cell gives at each step, side by side (its first output by
        default; a cell on the fused path has one).

        Returns (the layer, the spec's states in the order it takes them as `initial_state` and returns them)."""
        program = self.program
        match = fused_path(program.graphs[cell_name]) if self.fused else None
        if isinstance(match, Fused):
            layer = fused_layer(program, cell_name, match, input_dim=input_dim, return_sequences=return_sequences,
                                return_state=return_state, name=name, stateful=stateful, **hparams)
            self.paths[name] = (cell_name, match)
            return layer, match.keras_states
        cell = GeneratedCell(cell_source(program, cell_name), cell_name, input_dim, hparams, outputs=outputs,
                             name=name)
        rnn = GeneratedRNN(cell, return_sequences=return_sequences, return_state=return_state, stateful=stateful,
                           name=name)
        return rnn, list(program.graphs[cell_name].header.states)


def lower(program, name: str, *, input_size: Optional[int] = None, fused: bool = True, **hparams) -> Lowered:
    """The model of network or cell `name` (see `lower_network`, `lower_cell`), its hyperparameters set by
    keyword; `input_size` is for a cell alone."""
    if name in program.cells:
        return lower_cell(program, name, input_size=input_size, fused=fused, **hparams)
    if input_size is not None:
        raise UsageError(f"`{name}` is a network: its inputs are declared, give no input size")
    return lower_network(program, name, fused=fused, **hparams)


def _within_limits(errors: list) -> None:
    """Raise what `limits` found wrong with the sizes that `build` was given."""
    if errors:
        raise SpecErrors(errors)


def lower_network(program, name: str, *, fused: bool = True, stateful_batch: Optional[int] = None,
                  **overrides) -> Lowered:
    """The Keras functional model of network `name`; `overrides` set its hyperparameters.

    A cell on the fused path (see `rnndsl.keras.fused`) lowers to Keras's own layer
    unless `fused` is False. With `stateful_batch` B, the inputs take batches of
    exactly B, `(B, T, f)`, and every recurrent layer is stateful: each call starts
    from the states the last call ended with (truncated BPTT, rnndsl.train.run).
    """
    G = program.graphs[name]
    env = bind(G, overrides)
    _within_limits(limits.network(limits.given(env), G, program.graphs))
    lowering = Lowering(program, env, fused)
    tensors: dict = {}
    inputs = []
    names: set = set()  # the model's layer names: Keras needs them unique
    for node in G.of_kind("input"):
        info = G.node(node).info
        shape = ((None,) if info.kind in ("seq", "tree") else ()) + tuple(lowering.argument(d) for d in info.dims)
        t = keras.Input(shape=shape, dtype="int32" if info.dtype == "int" else "float32",
                        name=_fresh(node, names), batch_size=stateful_batch)
        tensors[node] = t
        inputs.append(t)
        if info.kind == "tree":  # its shape: each node's children (rnndsl.keras.tree)
            lowering.trees[node] = keras.Input(shape=(None, None), dtype="int32",
                                               name=_fresh(f"{node}_children", names), batch_size=stateful_batch)
            inputs.append(lowering.trees[node])
    for node in nx.topological_sort(G):
        rec = G.node(node)
        if rec.kind != "layer":
            continue
        app = rec.app
        srcs = [tensors[s] for s in app.inputs]
        initial = {state: tensors[v] for state, v in app.initial.items()}
        layer_name = _fresh("_".join(app.names) if app.ports else app.names[0] if app.names else app.id.lower(),
                            names, _layer_names(app, len(srcs), lowering))
        shapes = [lowering.trees[s] for s in app.inputs if s in lowering.trees]
        lowering.shape = shapes[0] if shapes else None
        result = _apply_layer(lowering, app, srcs, initial, layer_name, stateful=stateful_batch is not None,
                              rank=len(rec.type.dims))
        if app.ports:  # returns=states: {state: tensor}
            tensors.update({app.ports[state]: t for state, t in result.items()})
        else:
            tensors[node] = result
            if rec.type.kind == "tree":  # a value at each node of the trees it read
                lowering.trees[node] = lowering.shape
    outputs = [tensors[next(iter(G.predecessors(o)))] for o in G.header.outputs]
    model = keras.Model(inputs if len(inputs) > 1 else inputs[0], outputs if len(outputs) > 1 else outputs[0],
                        name=name)
    plain_initializers(model)
    return Lowered(model, lowering.paths)


def _fresh(name: str, taken: set, named=lambda n: [n]) -> str:
    """`name`, else the first of `name_2`, `name_3`, ... whose layer names `named(n)` are not `taken`; takes them.
    (A layer `n` may name others after itself: a stack's layers `n_1`, `n_2`, ...; Keras needs them unique.)"""
    fresh, k = name, 1
    while any(n in taken for n in named(fresh)):
        k += 1
        fresh = f"{name}_{k}"
    taken.update(named(fresh))
    return fresh


def _layer_names(app, n_inputs: int, lowering: Lowering):
    """The names of the layers that `_apply_layer` makes for `app` if it is named `n`."""
    def named(n: str) -> list:
        out = [n, f"{n}_inputs"] if app.kind in ("cell", "Stack", "Bidirectional") and n_inputs > 1 else [n]
        if app.kind == "Stack":
            out += [f"{n}_{i + 1}" for i in range(lowering.argument(app.args["depth"]))]
        if app.kind == "Bidirectional":  # a grid cell's two directions are layers of their own
            out += [f"{n}_forward", f"{n}_backward", f"{n}_backward_cell"]
        return out

    return named


def _apply_layer(lowering: Lowering, app, srcs, initial, layer_name, *, stateful=False, rank=1):
    """Apply one layer, whose output's items have `rank` axes; a cell's `initial` states ({state: tensor}) go in
    by name. With `returns=states`, the result is {state: tensor of its final value}."""
    if app.kind == "keras":
        return keras_layer(app, srcs, layer_name, lowering.env, rank)
    if app.kind == "EncoderDecoder":
        return lower_encoder_decoder(lowering, app, srcs, layer_name)
    ref = app.cell
    hp = {k: lowering.argument(v) for k, v in ref.args.items()}
    x = srcs[0] if len(srcs) == 1 else keras.layers.Concatenate(name=f"{layer_name}_inputs")(srcs)
    over = lowering.program.graphs[ref.cell].header.over
    if over == "grid" and app.kind == "Bidirectional":
        return _bidirectional_grid(lowering, app, x, hp, layer_name)
    if over in ("tree", "grid"):
        return _apply_tree_cell(lowering, app, x, hp, initial, layer_name)
    sequences = ref.returns == "sequences"
    if app.kind == "cell":
        rnn, order = lowering.recurrent_layer(ref.cell, hp, input_dim=x.shape[-1], name=layer_name,
                                              return_sequences=sequences, return_state=bool(app.ports),
                                              stateful=stateful)
        y = rnn(x, initial_state=[initial[s] for s in order]) if initial else rnn(x)
        return dict(zip(order, y[1:])) if app.ports else y
    if app.kind == "Stack":
        depth = lowering.argument(app.args["depth"])
        for i in range(depth):
            last = i == depth - 1
            x = lowering.recurrent_layer(ref.cell, hp, input_dim=x.shape[-1], name=f"{layer_name}_{i + 1}",
                                         return_sequences=(not last) or sequences, stateful=stateful)[0](x)
        return x
    if app.kind == "Bidirectional":
        rnn, _ = lowering.recurrent_layer(ref.cell, hp, input_dim=x.shape[-1], name=layer_name,
                                          return_sequences=sequences, stateful=stateful)
        return keras.layers.Bidirectional(rnn, merge_mode=app.args["merge"], name=layer_name)(x)
    raise AssertionError(f"no lowering for {app.kind}")


def _bidirectional_grid(lowering: Lowering, app, x, hp: dict, layer_name):
    """A grid cell in both directions (the Diagonal BiLSTM): left to right, and right to left shifted down a row
    (rnndsl.keras.grid.MirroredGrid), merged as `merge` says."""
    ref = app.cell
    spec = cell_source(lowering.program, ref.cell)
    forward = GridLayer(spec, ref.cell, int(x.shape[-1]), hp, name=f"{layer_name}_forward")(x)
    inner = GridLayer(spec, ref.cell, int(x.shape[-1]), hp, name=f"{layer_name}_backward_cell")
    backward = MirroredGrid(inner, name=f"{layer_name}_backward")(x)
    merge = {"concat": keras.layers.Concatenate, "sum": keras.layers.Add, "mul": keras.layers.Multiply,
             "ave": keras.layers.Average}[app.args["merge"]]
    return merge(name=layer_name)([forward, backward])


def _apply_tree_cell(lowering: Lowering, app, x, hp: dict, initial, layer_name):
    """A tree or grid cell (or a stack of one), its hyperparameters `hp` bound, over the trees that `x` is a
    value over (rnndsl.keras.tree), or over the grid `x` (rnndsl.keras.grid)."""
    ref = app.cell
    grid = lowering.program.graphs[ref.cell].header.over == "grid"
    if initial:
        missing = "a read outside the grid" if grid else "a missing child"
        raise SpecErrors([ShapeError(f"a {'grid' if grid else 'tree'} cell's initial states are its spec's: "
                                     f"`{ref.cell}` takes none by keyword",
                                     app.span, label=", ".join(f"{s}=" for s in initial),
                                     notes=[f"{missing} reads the initial state: `state h: [units] = h0` "
                                            "in the cell, `h0` a constant or a parameter"], code="E0602")])
    every = "grid" if grid else "nodes"
    returns = every if ref.returns == "sequences" else ref.returns
    spec = cell_source(lowering.program, ref.cell)
    depth = lowering.argument(app.args["depth"]) if app.kind == "Stack" else 1
    for i in range(depth):
        last = i == depth - 1
        name = f"{layer_name}_{i + 1}" if app.kind == "Stack" else layer_name
        if grid:
            x = GridLayer(spec, ref.cell, int(x.shape[-1]), hp, returns if last else every, name=name)(x)
            continue
        layer = TreeLayer(spec, ref.cell, int(x.shape[-1]), hp, returns if last else "nodes", name=name)
        x = layer([x, lowering.shape])
    if returns == "states":
        return dict(zip(lowering.program.graphs[ref.cell].header.states, x))
    return x


def lower_cell(program, name: str, *, input_size: Optional[int] = None, fused: bool = True,
               **hparams) -> Lowered:
    """A Keras model of cell `name` alone: its inputs, side by side, `(batch, T, input_size)` ->
    its outputs at every step, `(batch, T) + its shape` each (a list where it has several);
    `hparams` set its hyperparameters.

    `input_size` may be left out when the hyperparameters fix the size of every input (a Hopfield
    network's `[units]`); a cell that reads `[in]` needs it."""
    G, lowering, input_size = _cell_lowering(program, name, input_size, fused, hparams)
    if G.header.over == "grid":  # grids (rnndsl.keras.grid) -> the output at every position
        layer = GridLayer(cell_source(program, name), name, input_size, hparams, name=name.lower())
        x = keras.Input(shape=(None, None, input_size), name=_fresh("_".join(G.signature.inputs) or "grid",
                                                                    {layer.name}))
        return Lowered(keras.Model(x, layer(x), name=name), lowering.paths)
    if G.header.over == "tree":  # nodes' inputs and children (rnndsl.keras.tree) -> every node's output
        layer = TreeLayer(cell_source(program, name), name, input_size, hparams, name=name.lower())
        x = keras.Input(shape=(None, input_size), name=_fresh("_".join(G.signature.inputs) or "nodes", {layer.name}))
        children = keras.Input(shape=(None, None), dtype="int32", name=_fresh("children", {layer.name, x.name}))
        return Lowered(keras.Model([x, children], layer([x, children]), name=name), lowering.paths)
    outputs = list(G.header.outputs)
    layer, _ = lowering.recurrent_layer(name, hparams, input_dim=input_size, name=name.lower(),
                                        outputs=outputs if len(outputs) > 1 else None)
    x = keras.Input(shape=(None, input_size), name=_fresh("_".join(G.signature.inputs) or "steps",
                                                          {layer.name}))
    y = layer(x)
    if len(outputs) > 1:  # every output, each `(batch, T) + its shape`
        y = _each_output(y, layer.cell.output_shapes)
    model = keras.Model(x, y, name=name)
    plain_initializers(model)
    return Lowered(model, lowering.paths)


def cell_layer(program, name: str, *, input_size: Optional[int] = None, fused: bool = True,
               return_sequences: bool = True, **hparams) -> keras.layers.Layer:
    """The recurrent layer of cell `name` (`Program.layer`): Keras's own LSTM / GRU / SimpleRNN on the fused
    path (unless `fused` is False), else a GeneratedRNN; inputs `(batch, T, input_size)` -> the cell's first
    output at every step, `(batch, T, size)`, or at the last alone without `return_sequences`."""
    G, lowering, input_size = _cell_lowering(program, name, input_size, fused, hparams)
    if G.header.over == "tree":
        raise UsageError(f"`{name}` runs over trees, not sequences: build it (Program.build) for a tree layer")
    layer, _ = lowering.recurrent_layer(name, hparams, input_dim=input_size, name=name.lower(),
                                        return_sequences=return_sequences)
    return layer


def rnn_cell(program, name: str, *, input_size: Optional[int] = None, **hparams) -> GeneratedCell:
    """A Keras RNN cell of cell `name` for `keras.layers.RNN` (`Program.cell`): the generated cell, its step
    reading the inputs as they are (only a GeneratedRNN does work before the loop)."""
    G, _, input_size = _cell_lowering(program, name, input_size, False, hparams)
    if G.header.over == "tree":
        raise UsageError(f"`{name}` runs over trees, not sequences: it has no cell for keras.layers.RNN")
    return GeneratedCell(cell_source(program, name), name, input_size, hparams, hoist="never", name=name.lower())


def _cell_lowering(program, name: str, input_size: Optional[int], fused: bool, hparams: dict) -> tuple:
    """(cell `name`'s graph, a Lowering of it, its input size): the size given, or the one its
    hyperparameters fix; a UsageError for a size out of bounds, limits exceeded, a size left open."""
    G = program.graphs[name]
    if input_size is not None and limits.dimension_rule(input_size):
        raise UsageError(f"cell `{name}` is given an input size of {input_size}: "
                         f"{limits.dimension_rule(input_size)}")
    env = cell_env(G, hparams, input_size)
    _within_limits(limits.cell(limits.given(env), G))
    if input_size is None:  # the hyperparameters fix it
        input_size = sum(flat_size([d.subst(int_bindings(env)).value for d in dims])
                         for dims in G.signature.inputs.values())
    return G, Lowering(program, env, fused), input_size


def describe(lowered: Lowered) -> str:
    """What `rnndsl build` prints of a lowered model: a line per recurrent layer, with its cell, its path (fused:
    how the spec's parameters lay out in Keras's weights; generated: its weights by spec name with their sizes)."""
    lines = []
    paths = lowered.fused_paths
    for layer in lowered.model._flatten_layers(include_self=False):
        key = layer.name.removeprefix("forward_").removeprefix("backward_")
        if key in paths and not isinstance(layer, keras.layers.Bidirectional):
            name, match = paths[key]
            roles = LAYOUT[match.layer]
            parts = "; ".join(f"{w} = " + " | ".join(match.params[r] for r in _flat(roles[w])) for w in roles)
            total = sum(int(np.prod(w.shape)) for w in layer.weights)
            lines.append(f"{layer.path}: cell {name}, fused path (keras.layers.{match.layer}), {total} parameters: "
                         f"{parts}")
            continue
        if isinstance(layer, (keras.layers.LSTM, keras.layers.GRU, keras.layers.SimpleRNN)):  # a saved model's
            total = sum(int(np.prod(w.shape)) for w in layer.weights)
            lines.append(f"{layer.path}: fused path (keras.layers.{type(layer).__name__}), {total} parameters")
            continue
        if isinstance(layer, GridLayer) and layer.built:
            lines.append(f"{layer.path}: cell {layer.cell_name}, grid path (wavefronts), " + _weights_line(layer))
            continue
        if isinstance(layer, TreeLayer) and layer.built:
            rounds = "level by level" if layer.rounds == "ready" else "every node each round"
            lines.append(f"{layer.path}: cell {layer.cell_name}, tree path ({rounds}), " + _weights_line(layer))
            continue
        cell = getattr(layer, "cell", None)
        if isinstance(cell, GeneratedCell) and cell.built:
            lines.append(f"{layer.path}: cell {cell.cell_name}, generated path, " + _weights_line(cell))
    return "\n".join(lines)


def _weights_line(cell) -> str:
    """`N parameters: W (3, 4)=12, ...` of a generated cell or a tree layer, by spec name."""
    weights = ", ".join(f"{n} {tuple(w.shape)}={int(np.prod(w.shape))}" + _untrained(cell.G.node(n), w)
                        for n, w in cell.weights_by_name.items())
    total = sum(int(np.prod(w.shape)) for w in cell.weights_by_name.values())
    return f"{total} parameters: {weights}"


def xla_pays(model: keras.Model) -> bool:
    """Whether `model` trains faster compiled by XLA (optimize.xla_pays): every recurrent layer a generated
    cell with a memory, and no layer XLA cannot compile (a tree layer's rounds on TensorFlow have shapes known
    only at run time; Keras's fused layers call cuDNN)."""
    cells = []
    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, TreeLayer) or isinstance(layer, (keras.layers.LSTM, keras.layers.GRU,
                                                              keras.layers.SimpleRNN)):
            return False
        if isinstance(layer, GeneratedCell):
            cells.append(layer.G)
        elif isinstance(layer, keras.layers.RNN) and not isinstance(getattr(layer, "cell", None), GeneratedCell):
            return False
    return optimize.xla_pays(cells)


def _untrained(param, weight) -> str:
    """How `describe` marks the weight of `param` (a ParamNode) that gradient descent leaves alone."""
    if param.fit is not None:
        return f" fit {param.fit.name.id}"
    return "" if weight.trainable else " fixed"


def _flat(roles):
    return [r for row in roles for r in (row if isinstance(row, list) else [row])]


def _each_output(y, shapes: list) -> list:
    """The outputs a generated cell gives side by side, `(batch, T, Σ sizes)`, one tensor each: `(batch, T) +
    its shape`."""
    sizes = [flat_size(shape) for shape in shapes]
    parts = ops.split(y, [int(n) for n in np.cumsum(sizes)[:-1]], axis=-1)
    return [part if len(shape) == 1 else keras.layers.Reshape((-1,) + tuple(shape))(part)
            for part, shape in zip(parts, shapes)]
