"""The generated cell: a Keras RNN cell that runs one step of a spec cell, and the RNN layer over it.

`GeneratedCell` rebuilds from its config alone (the cell's own spec text, its
hyperparameters and input size): `build` creates one weight per parameter,
named as the spec names it; `call` runs one step by the cell's `StepPlan`
(interpret). Every state is carried as a flat vector `(batch, size)`, `size`
being the product of its shape times its delay (the last k values of a value
read at `[t-k]`), in the spec's order. `GeneratedRNN` runs the cell over
sequences with the input-only work done before the loop.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Optional

import keras
import numpy as np
from keras import ops

from ..lang.dims import int_bindings
from ..lang.errors import ShapeError, SpecErrors, UsageError
from ..lang.ir import CellIR
from ..lang.pipeline import check_text
from ..lang.schedules import STEP
from ..lang.specfiles import CarriedTexts
from . import PACKAGE
from ..lang.hparams import cell_env
from .initializers import constant, constraint, initializer
from .interpret import StepPlan, flat_size

# How many compiled cells (spec text, cell name) a process keeps: a model holds many copies of one
# text (a stack of one cell, the cells of a saved model) and a process builds a few models; the
# oldest graph is compiled again when more distinct texts than these are in use.
COMPILED_CELLS = 128


@keras.saving.register_keras_serializable(package=PACKAGE)
class GeneratedCell(keras.layers.Layer):
    """A Keras RNN cell that runs one step of a spec cell.

    Inputs: `(batch, sum of the cell's input sizes)`, the cell's inputs
    concatenated in declaration order. States: a list of `(batch, n)` tensors,
    one per spec state in the spec's order. Output: the first `output`,
    flattened.
    """

    def __init__(self, spec: str, cell: str, input_dim: int, hparams: Optional[dict] = None, hoist: str = "auto",
                 fuse: str = "auto", outputs: Optional[list] = None, **kwargs):
        super().__init__(**kwargs)
        self.spec, self.cell_name, self.input_dim = spec, cell, int(input_dim)
        self.hoist, self.fuse = hoist, fuse
        self.hparams = dict(hparams or {})
        self.G = G = compile_cell(spec, cell)
        self.env = env = cell_env(G, self.hparams, self.input_dim)
        _check_step_count(G, cell, self.compute_dtype, env)
        delays = G.header.delays
        self.state_shapes = {}
        for name in G.header.states:
            shape = self._shape(G.shape(name), env)
            self.state_shapes[name] = (shape, max(delays.get(name, 1), 1))
        # Keras's RNN needs a state: a cell with none (no value read at an earlier step) carries
        # one unused number.
        self.state_size = [flat_size(shape) * depth for shape, depth in self.state_shapes.values()] or [1]
        # What the layer outputs at each step: the cell's first output, or the values asked for, flattened
        # and side by side (to observe a gate or an energy, or to fit a readout; see rnndsl.train.fit).
        self.outputs = list(outputs or G.header.outputs[:1])
        unknown = [n for n in self.outputs if n not in G or G.node(n).kind != "value"]
        if unknown:
            values = G.of_kind("value")
            raise ValueError(f"cell `{cell}` has no value `{unknown[0]}` to output (its values: {', '.join(values)})")
        self.output_shapes = [self._shape(G.shape(n), env) for n in self.outputs]
        self.output_size = sum(flat_size(shape) for shape in self.output_shapes)
        self.input_shapes = [self._shape(s, env) for s in G.signature.inputs.values()]
        self.plan = StepPlan(G, env, hoist, fuse, self.outputs, dtype=self.compute_dtype)

    # ---- shapes

    def _shape(self, dims, env) -> tuple:
        known = int_bindings(env)
        return tuple(d.subst(known).value for d in dims)

    def build(self, input_shape):
        if int(input_shape[-1]) != self.input_dim:
            raise ValueError(f"cell `{self.cell_name}` was made for inputs of size {self.input_dim}, "
                             f"given {input_shape[-1]}")
        self.weights_by_name = cell_weights(self, self.G, self.env)
        super().build(input_shape)

    def get_initial_state(self, batch_size=None):
        if not self.state_shapes:
            return [ops.zeros((batch_size, 1), dtype=self.compute_dtype)]
        states = []
        for name, (shape, depth) in self.state_shapes.items():
            rec = self.G.node(name)  # a value, or an input read at an earlier step (which starts at 0)
            init = initial_value(rec.init if rec.kind == "value" else 0, self.weights_by_name, self.env)
            n = flat_size(shape) * depth
            if not isinstance(init, float):  # a learned initial state, or a vector literal's rows
                flat = ops.reshape(self._held(ops.broadcast_to(init, shape)[None], name), (1, -1))
                flat = ops.tile(flat, (1, depth)) if depth > 1 else flat
                states.append(ops.tile(ops.cast(flat, self.compute_dtype), (batch_size, 1)))
            else:
                states.append(ops.full((batch_size, n), init, dtype=self.compute_dtype))
        return states

    def call(self, inputs, states, training=None):
        return self.plan.step(self, inputs, list(states))

    def flat_states(self, values: list) -> list:
        """States given as values, `(batch,) + shape` each in the spec's order, as the cell carries them.

        A value may be given flat, its entries in the spec's order (`[N, W]` as `N*W` numbers, row by row;
        a value read at `[t-k]` its last k values)."""
        if not self.state_shapes:
            return list(values)
        flat = []
        for value, (name, (shape, depth)) in zip(values, self.state_shapes.items()):
            n = flat_size(shape)
            if len(value.shape) == 2 and value.shape[-1] == n * depth and name not in self.plan.slots_last:
                flat.append(value)
                continue
            value = ops.reshape(self._held(ops.reshape(value, (-1,) + shape), name), (-1, n))
            flat.append(ops.tile(value, (1, depth)) if depth > 1 else value)
        return flat

    def state_values(self, flat: list) -> list:
        """The spec's states as values, from the flat states the cell carries: each its current value."""
        if not self.state_shapes:
            return []
        values = []
        for s, (name, (shape, depth)) in zip(flat, self.state_shapes.items()):
            if name in self.plan.slots_last:  # held (batch, width, slots)
                values.append(ops.transpose(ops.reshape(s, (-1,) + self.plan.held_shape(name, shape)), (0, 2, 1)))
            elif depth > 1 or len(shape) != 1:
                values.append(ops.reshape(s[:, :flat_size(shape)], (-1,) + shape))
            else:
                values.append(s)
        return values

    def _held(self, value, name: str):
        """A state's value `(batch,) + shape` as the loop holds it (a memory slots last: its two axes swapped)."""
        return ops.transpose(value, (0, 2, 1)) if name in self.plan.slots_last else value

    def get_config(self):
        config = super().get_config()
        config.update({"spec": self.spec, "cell": self.cell_name, "input_dim": self.input_dim,
                       "hparams": self.hparams, "hoist": self.hoist, "fuse": self.fuse, "outputs": self.outputs})
        return config


@keras.saving.register_keras_serializable(package=PACKAGE)
class GeneratedRNN(keras.layers.RNN):
    """`keras.layers.RNN` over a GeneratedCell, with the cell's input-only work done before the loop.

    States in and out (`initial_state`, `return_state`) are the spec's values in
    the spec's order, each `(batch,) + its shape`: a matrix state `[N, W]` is
    `(batch, N, W)`. A state read at `[t-k]` is given one value, which it holds
    at every earlier step, and returns its last value. (The cell itself carries
    them flat, see GeneratedCell.)
    """

    def __init__(self, cell, *args, **kwargs):
        super().__init__(cell, *args, **kwargs)
        # The loop holds a memory slots last where that pays (memory_plan.slots_last); its states in and out are
        # the spec's values all the same. (A GeneratedCell alone carries every state as the spec lays it out.)
        cell.plan.hold_slots_last()

    def call(self, sequences, initial_state=None, mask=None, training=False):
        plan = self.cell.plan
        frontier = plan.precompute(self.cell, sequences)
        if initial_state is not None:
            initial_state = self.cell.flat_states(initial_state)
        # The weights, read once here rather than at every step (with what the loop computes from them
        # alone), and the loop's stacked sibling matrices.
        plan.loop_weights = plan.loop_values(self.cell)
        plan.loop_stacks = plan.matmuls.stacks(plan.loop_weights)
        try:
            result = super().call(frontier, initial_state=initial_state, mask=mask, training=training)
        finally:
            plan.loop_weights = plan.loop_stacks = None
        if not self.return_state:
            return result
        output, *states = result
        return [output] + self.cell.state_values(states)

    def inner_loop(self, sequences, initial_state, mask, training=False):
        # Under XLA, a loop that pushes the outputs (rnndsl.keras.loop), where Keras's costs time quadratic in
        # the sequence's length to train
        if keras.backend.backend() != "tensorflow" or self.unroll:
            return super().inner_loop(sequences, initial_state, mask, training)
        from .loop import compiled_by_xla, pushed_loop

        if not compiled_by_xla():
            return super().inner_loop(sequences, initial_state, mask, training)
        return pushed_loop(lambda x, states: self.cell(x, states, training=training), sequences, list(initial_state),
                           mask=mask, go_backwards=self.go_backwards, return_all_outputs=self.return_sequences,
                           zero_output_for_mask=self.zero_output_for_mask)

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        shapes = super().compute_output_shape(sequences_shape, initial_state_shape)
        if not self.return_state:
            return shapes
        output, *states = shapes
        return [output] + [(s[0],) + shape for s, (shape, _) in zip(states, self.cell.state_shapes.values())]


# The last step a float of each precision counts exactly (t + 1 rounds back to t past it).
EXACT_STEPS = {"float16": 2048, "bfloat16": 256}


def _check_step_count(G: CellIR, cell: str, dtype: str, env: dict) -> None:
    """A UsageError where the cell counts its steps (`t`, rnndsl.lang.schedules) in a float too short to, or
    where `every k` is given a hyperparameter's value under 1 (a literal is checked by `rnndsl check`)."""
    for name in G.of_kind("op"):
        schedule = (G.node(name).attrs or {}).get("schedule", "")
        k = schedule.split(" ", 1)[1] if schedule.startswith("every ") else None
        if k in env and not (isinstance(env[k], int) and env[k] >= 1):
            raise UsageError(f"cell `{cell}` updates a value `every {k}` steps, and {k} = {env[k]!r}: a number of "
                             "steps is at least 1")
    if STEP in G.header.states and dtype in EXACT_STEPS:
        raise UsageError(f"cell `{cell}` reads the step's number `t`, which it counts in its precision, {dtype} "
                         f"here, exact only up to step {EXACT_STEPS[dtype]:,}: compute the cell in float32 "
                         "(train without --mixed-precision)")


def cell_weights(layer: keras.layers.Layer, G: CellIR, env: dict) -> dict:
    """{name: weight} of a layer running cell `G`: one weight per parameter, named as the spec names it,
    with its initializer and constraints; not trainable where it is `fixed` or fitted."""
    known = int_bindings(env)
    weights = {}
    for name, dims in G.signature.params.items():
        param = G.node(name)
        shape = tuple(d.subst(known).value for d in dims)
        weights[name] = layer.add_weight(
            name=name, shape=shape, initializer=initializer(param.init, len(shape), env, param.heads),
            constraint=constraint(param.constraints, env, param.heads), trainable=not (param.fixed or param.fit))
    return weights


def initial_value(init, weights: dict, env: dict):
    """A state's initial value: a learned one (the weight of the parameter `init` names), an array (a vector
    literal, of the state's last axis), else a float."""
    if isinstance(init, str) and init in weights:
        return weights[init]
    if isinstance(init, (int, float)):
        return float(init)
    value = constant(init, env)
    return value if isinstance(value, np.ndarray) else float(value)


@lru_cache(maxsize=COMPILED_CELLS)
def compile_cell(spec: str, cell: str) -> CellIR:
    """The typed graph of `cell` in the spec text `spec`; shared by every cell made of that text (a
    model holds many copies of one), and only read.

    The text comes from a saved model's config as often as from rnndsl itself, so it is
    compiled hermetically: it may import nothing (`CarriedTexts` of none; a cell's text
    needs no other), and it is held to the front end's limits like any spec. The result
    depends on the two arguments alone, so the cache (the last COMPILED_CELLS of them)
    changes nothing but the time; a text with errors is not kept."""
    checked, errors = check_text(spec, f"<{cell}>", finder=CarriedTexts())
    if errors:
        raise SpecErrors(errors)
    if checked.graphs.get(cell) is None or checked.graphs[cell].kind != "cell":
        raise UsageError(f"the saved spec text defines no cell `{cell}`")
    return checked.graphs[cell]


def cell_source(program, cell_name: str) -> str:
    """The text of one cell, which compiles on its own (a cell refers to no other item)."""
    span = program.graphs[cell_name].header.written.span
    lines = span.text.split("\n")[span.line - 1:span.end_line]
    lines[-1] = lines[-1][:span.end_column - 1]
    lines[0] = lines[0][span.column - 1:]
    return "\n".join(lines) + "\n"


def cell_rnn(program, cell_name: str, *, input_dim: int, return_sequences: bool = True,
             name: Optional[str] = None, hoist: str = "auto", fuse: str = "auto", outputs: Optional[list] = None,
             **hparams) -> keras.layers.RNN:
    """A `keras.layers.RNN` over the generated cell `cell_name`, for inputs `(batch, T, input_dim)`.

    `outputs` names the values it gives at each step (side by side, flattened); the cell's first output
    by default.
    `hoist` chooses whether input-only work runs before the loop (`optimize.choose_split`), `fuse` whether
    sibling matmuls run as one (`optimize.choose_fusion`)."""
    G = program.graphs[cell_name]
    if G.kind != "cell":
        raise SpecErrors([ShapeError(f"`{cell_name}` is a network, not a cell", G.header.span, code="E0601")])
    if G.header.over == "tree":
        raise SpecErrors([ShapeError(f"`{cell_name}` runs over trees, not sequences: build it alone or in a "
                                     "network (rnndsl.keras.tree)", G.header.span, code="E0601")])
    cell = GeneratedCell(cell_source(program, cell_name), cell_name, input_dim, hparams, hoist, fuse, outputs,
                         name=name or cell_name)
    return GeneratedRNN(cell, return_sequences=return_sequences, name=name)


def observer(layer: GeneratedRNN, values: list) -> GeneratedRNN:
    """A layer running the same cell with the same weights that outputs `values` at each step, side by side."""
    config = layer.cell.get_config()
    config.update(outputs=list(values), name=f"{layer.name}_observer")
    seen = GeneratedRNN(GeneratedCell.from_config(config), return_sequences=True)
    seen.build((None, None, layer.cell.input_dim))
    for name, w in seen.cell.weights_by_name.items():
        w.assign(layer.cell.weights_by_name[name])
    return seen
