"""lower: typed IR -> Keras. A generated RNN cell per spec cell, a functional model per network.

The generated cell interprets the cell's typed graph with `keras.ops` (no
generated source, no `eval`): `build` creates one weight per parameter, named
as the spec names it; `call` evaluates the operations of one step in a fixed
topological order of the same-step edges. Every state is carried as a flat
vector `(batch, size)`, `size` being the product of its shape times its delay
(the last k values of a value read at `[t-k]`), in the spec's order.

TensorFlow is imported here and by the passes after this one, never by check,
render or fmt. The cells run on Keras's TensorFlow backend: the hot matmuls
call `tf.linalg.matmul` directly for its transpose flags.
"""

from __future__ import annotations

import math
import numbers
from typing import Optional

import keras
import networkx as nx
import numpy as np
import tensorflow as tf
from keras import ops

from ..lang import ast as A
from ..lang import limits
from . import optimize
from ..lang.dims import Dim, int_bindings, solve_int
from ..lang.errors import ShapeError, SpecErrors, UsageError
from ..lang.graph import operands
from ..lang.layers import KERAS_LAYERS
from ..lang.pipeline import check_text
from ..lang.specfiles import CarriedTexts

COSINE_EPS = 1e-8
PACKAGE = "rnndsl"


# ---------------------------------------------------------------- constants, initializers, constraints


def constant(expr, env: dict) -> float:
    """The value of a constant expression over hyperparameters (numbers, names, + - * / **, unary -), in float64
    as the model computes: past float range an infinity, 0 / 0 a nan; never an exception, and never Python's
    exact arithmetic on integers, which `10 ** 10 ** 10` would keep busy for ever."""
    if isinstance(expr, (int, float)):
        return _real(expr)
    if isinstance(expr, str):
        return _real(env[expr])
    if isinstance(expr, A.Number):
        return _real(expr.value)
    if isinstance(expr, A.Name):
        return _real(env[expr.id])
    if isinstance(expr, A.UnaryOp):
        v = constant(expr.operand, env)
        return -v if expr.op == "-" else v
    if isinstance(expr, A.BinOp):
        a, b = np.float64(constant(expr.left, env)), np.float64(constant(expr.right, env))
        with np.errstate(all="ignore"):
            return float(_ARITHMETIC[expr.op](a, b))
    raise TypeError(f"not a constant: {expr!r}")


_ARITHMETIC = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide, "**": np.power}


@keras.saving.register_keras_serializable(package=PACKAGE)
class Reservoir(keras.initializers.Initializer):
    """A sparse random matrix scaled to a spectral radius (Jaeger 2001): fixed echo-state weights."""

    def __init__(self, density: float = 0.1, spectral_radius: float = 0.9, seed: Optional[int] = None):
        self.density, self.spectral_radius, self.seed = float(density), float(spectral_radius), seed

    def __call__(self, shape, dtype=None):
        rng = np.random.default_rng(self.seed)
        square = len(shape) == 2 and shape[0] == shape[1] and shape[0] > 0
        for _ in range(100):
            w = rng.uniform(-1.0, 1.0, size=shape) * (rng.random(shape) < self.density)
            radius = float(np.max(np.abs(np.linalg.eigvals(w)))) if square else 0.0
            # A small sparse draw can be nilpotent (every eigenvalue 0): it cannot be scaled, draw again.
            if not square or radius > 1e-6:
                break
        if square and radius > 1e-6:
            w *= self.spectral_radius / radius
        return ops.convert_to_tensor(w, dtype=dtype or "float32")

    def get_config(self):
        return {"density": self.density, "spectral_radius": self.spectral_radius, "seed": self.seed}


@keras.saving.register_keras_serializable(package=PACKAGE)
class Positive(keras.constraints.Constraint):
    """Keeps a weight strictly positive (a time constant, a rate)."""

    def __init__(self, eps: float = 1e-6):
        self.eps = eps

    def __call__(self, w):
        return ops.maximum(w, self.eps)

    def get_config(self):
        return {"eps": self.eps}


@keras.saving.register_keras_serializable(package=PACKAGE)
class Clip(keras.constraints.Constraint):
    """Clips every entry to [low, high]; `max_abs(v)` is Clip(-v, v)."""

    def __init__(self, low: float, high: float):
        self.low, self.high = float(low), float(high)

    def __call__(self, w):
        return ops.clip(w, self.low, self.high)

    def get_config(self):
        return {"low": self.low, "high": self.high}


def _initializer(init, rank: int, env: dict):
    if init is None:
        return keras.initializers.GlorotUniform() if rank >= 2 else keras.initializers.Zeros()
    if isinstance(init, A.ConstInit):
        return keras.initializers.Constant(float(constant(init.value, env)))
    from ..lang.builtins import INITIALIZERS

    args = {p.name: p.default for p in INITIALIZERS[init.name.id]}
    names = [p.name for p in INITIALIZERS[init.name.id]]
    for i, arg in enumerate(init.args):
        args[arg.name.id if arg.name is not None else names[i]] = constant(arg.value, env)
    name = init.name.id
    simple = {"glorot_uniform": "GlorotUniform", "glorot_normal": "GlorotNormal", "he_uniform": "HeUniform",
              "he_normal": "HeNormal", "lecun_normal": "LecunNormal", "lecun_uniform": "LecunUniform",
              "orthogonal": "Orthogonal", "identity": "Identity", "zeros": "Zeros", "ones": "Ones"}
    if name in simple:
        return getattr(keras.initializers, simple[name])()
    if name == "constant":
        return keras.initializers.Constant(float(args["value"]))
    if name == "uniform":
        return keras.initializers.RandomUniform(float(args["low"]), float(args["high"]))
    if name == "normal":
        return keras.initializers.RandomNormal(float(args["mean"]), float(args["std"]))
    if name == "truncated_normal":
        return keras.initializers.TruncatedNormal(float(args["mean"]), float(args["std"]))
    if name == "reservoir":
        return Reservoir(args["density"], args["spectral_radius"])
    raise AssertionError(f"resolve lets through initializer {name}")


def _constraint(constraints: tuple, env: dict):
    if not constraints:
        return None
    c = constraints[-1]  # resolve allows a list; the last one binds
    args = [constant(a.value, env) for a in c.args]
    name = c.name.id
    if name == "positive":
        return Positive()
    if name == "nonneg":
        return keras.constraints.NonNeg()
    if name == "unit_norm":
        return keras.constraints.UnitNorm(axis=0)
    if name == "max_norm":
        return keras.constraints.MaxNorm(float(args[0]), axis=0)
    if name == "max_abs":
        return Clip(-abs(float(args[0])), abs(float(args[0])))
    if name == "clip":
        return Clip(float(args[0]), float(args[1]))
    raise AssertionError(f"resolve lets through constraint {name}")


# ---------------------------------------------------------------- the generated cell


def _size(shape) -> int:
    return int(math.prod(shape)) if shape else 1


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
        self.G = G = _compile_cell(spec, cell)
        self.env = env = cell_env(G, self.hparams, self.input_dim)
        delays = G.graph["delays"]
        self.state_shapes = {}
        for name in G.graph["states"]:
            shape = self._shape(G.nodes[name]["shape"], env)
            self.state_shapes[name] = (shape, max(delays.get(name, 1), 1))
        # Keras's RNN needs a state: a cell with none (no value read at an earlier step) carries
        # one unused number.
        self.state_size = [_size(shape) * depth for shape, depth in self.state_shapes.values()] or [1]
        # What the layer outputs at each step: the cell's first output, or the values asked for, flattened
        # and side by side (to observe a gate or an energy, or to fit a readout; see rnndsl.train.fit).
        self.outputs = list(outputs or G.graph["outputs"][:1])
        unknown = [n for n in self.outputs if n not in G or G.nodes[n]["kind"] != "value"]
        if unknown:
            values = [n for n, d in G.nodes(data=True) if d["kind"] == "value"]
            raise ValueError(f"cell `{cell}` has no value `{unknown[0]}` to output (its values: {', '.join(values)})")
        self.output_shapes = [self._shape(G.nodes[n]["shape"], env) for n in self.outputs]
        self.output_size = sum(_size(shape) for shape in self.output_shapes)
        self.input_shapes = [self._shape(s, env) for s in G.graph["signature"]["inputs"].values()]
        self._plan = _Plan(G, env, hoist, fuse, self.outputs)

    # ---- shapes

    def _shape(self, dims, env) -> tuple:
        known = int_bindings(env)
        return tuple(d.subst(known).value for d in dims)

    def build(self, input_shape):
        if int(input_shape[-1]) != self.input_dim:
            raise ValueError(f"cell `{self.cell_name}` was made for inputs of size {self.input_dim}, "
                             f"given {input_shape[-1]}")
        G, env = self.G, self.env
        self.weights_by_name = {}
        for name, dims in G.graph["signature"]["params"].items():
            data = G.nodes[name]
            shape = self._shape(dims, env)
            self.weights_by_name[name] = self.add_weight(
                name=name, shape=shape, initializer=_initializer(data["init"], len(shape), env),
                constraint=_constraint(data["constraints"], env),
                trainable=not (data["fixed"] or data.get("fit")))
        super().build(input_shape)

    def get_initial_state(self, batch_size=None):
        if not self.state_shapes:
            return [ops.zeros((batch_size, 1), dtype=self.compute_dtype)]
        states = []
        for name, (shape, depth) in self.state_shapes.items():
            init = self.G.nodes[name].get("init", 0)
            n = _size(shape) * depth
            if isinstance(init, str) and init in self.weights_by_name:  # a learned initial state
                flat = ops.reshape(self.weights_by_name[init], (1, -1))
                flat = ops.tile(flat, (1, depth)) if depth > 1 else flat
                states.append(ops.tile(ops.cast(flat, self.compute_dtype), (batch_size, 1)))
            else:
                value = float(constant(init, self.env)) if not isinstance(init, (int, float)) else float(init)
                states.append(ops.full((batch_size, n), value, dtype=self.compute_dtype))
        return states

    def call(self, inputs, states, training=None):
        return self._plan.step(self, inputs, list(states))

    def flat_states(self, values: list) -> list:
        """States given as values, `(batch,) + shape` each in the spec's order, as the cell carries them.

        A value already flat (as `get_initial_state` gives them) is kept."""
        if not self.state_shapes:
            return list(values)
        flat = []
        for value, (shape, depth) in zip(values, self.state_shapes.values()):
            n = _size(shape)
            if len(value.shape) == 2 and value.shape[-1] == n * depth:
                flat.append(value)
                continue
            value = ops.reshape(value, (-1, n))
            flat.append(ops.tile(value, (1, depth)) if depth > 1 else value)
        return flat

    def state_values(self, flat: list) -> list:
        """The spec's states as values, from the flat states the cell carries: each its current value."""
        if not self.state_shapes:
            return []
        return [ops.reshape(s[:, :_size(shape)], (-1,) + shape) if depth > 1 or len(shape) != 1 else s
                for s, (shape, depth) in zip(flat, self.state_shapes.values())]

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

    def call(self, sequences, initial_state=None, mask=None, training=False):
        plan = self.cell._plan
        frontier = plan.precompute(self.cell, sequences)
        if initial_state is not None:
            initial_state = self.cell.flat_states(initial_state)
        # The loop's stacked sibling matrices, stacked once here rather than at every step.
        plan.loop_stacks = plan.stacks(self.cell, plan.step_groups)
        try:
            result = super().call(frontier, initial_state=initial_state, mask=mask, training=training)
        finally:
            plan.loop_stacks = None
        if not self.return_state:
            return result
        output, *states = result
        return [output] + self.cell.state_values(states)

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        shapes = super().compute_output_shape(sequences_shape, initial_state_shape)
        if not self.return_state:
            return shapes
        output, *states = shapes
        return [output] + [(s[0],) + shape for s, (shape, _) in zip(states, self.cell.state_shapes.values())]


_COMPILED: dict = {}


def _compile_cell(spec: str, cell: str) -> nx.MultiDiGraph:
    """The typed graph of `cell` in the spec text `spec` (kept per text: a model holds many copies).

    The text comes from a saved model's config as often as from rnndsl itself, so it is
    compiled hermetically: it may import nothing (`CarriedTexts` of none; a cell's text
    needs no other), and it is held to the front end's limits like any spec."""
    key = (spec, cell)
    if key not in _COMPILED:
        checked, errors = check_text(spec, f"<{cell}>", finder=CarriedTexts())
        if errors:
            raise SpecErrors(errors)
        if cell not in checked.bound.cells:
            raise UsageError(f"the saved spec text defines no cell `{cell}`")
        _COMPILED[key] = checked.graphs[cell]
    return _COMPILED[key]


def _accelerator() -> bool:
    """Whether TensorFlow sees a GPU or a TPU (where hoisting work out of the loop pays; see optimize)."""
    return bool(tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("TPU"))


class _Plan:
    """How one step runs: what the loop computes, in which order, and what was hoisted out of it."""

    def __init__(self, G: nx.MultiDiGraph, env: dict, hoist: str = "auto", fuse: str = "auto", outputs=()):
        self.G = G = optimize.cse(G)
        self.env = env
        known = int_bindings(env)
        split = optimize.loop_split(G, outputs)
        sizes = {n: _size([d.subst(known).value for d in G.nodes[n]["shape"]])
                 for n in set(split.frontier) | set(G.graph["signature"]["inputs"])}
        split = optimize.choose_split(G, split, sizes, hoist, accelerator=_accelerator())
        self.order, self.step_order, self.frontier = list(split.order), list(split.step_order), list(split.frontier)
        self.batched = split.batched
        self.hoisted_order = [n for n in self.order if n in split.hoisted]
        self.before = list(split.before)  # what precompute evaluates: the frontier and what it reads
        # sibling matmuls run as one (optimize.sibling_matmuls), each stage on its own
        fused = optimize.choose_fusion(fuse, accelerator=_accelerator())
        self.hoisted_groups = optimize.sibling_matmuls(G, self.hoisted_order, self.batched) if fused else []
        self.step_groups = optimize.sibling_matmuls(G, self.step_order, self.batched) if fused else []
        self.group_of = {n: g for g in self.hoisted_groups + self.step_groups for n in g.nodes}
        self.loop_stacks = None  # the step groups' stacked matrices while a GeneratedRNN runs the loop
        self.operands = {n: operands(G, n) for n in G}
        self.states = G.graph["states"]
        self.odes = [n for n in self.states if G.nodes[n].get("ode")]
        self.solver = G.graph["solver"]
        step = G.graph["step"]
        self.dt = float(env[step]) if isinstance(step, str) else (float(step) if step is not None else None)
        self.constants = {n: _real(env[n]) if d["kind"] == "hparam" else _real(d["value"])
                          for n, d in G.nodes(data=True) if d["kind"] in ("hparam", "const")}
        self.frontier_shapes = [tuple(d.subst(known).value for d in G.nodes[n]["shape"]) for n in self.frontier]
        self.sizes = {n: tuple(d.subst(known).value for d in G.nodes[n]["shape"])
                      for n, d in G.nodes(data=True) if d["kind"] == "param"}

    def precompute(self, cell: GeneratedCell, sequences):
        """The frontier's values for every step at once: (batch, T, frontier size)."""
        if self.frontier == list(self.G.graph["signature"]["inputs"]):  # the loop reads the inputs as they are
            return sequences
        batch, steps = ops.shape(sequences)[0], ops.shape(sequences)[1]
        flat = ops.reshape(sequences, (-1, cell.input_dim))
        vals = self._unpack(flat, list(self.G.graph["signature"]["inputs"]), cell.input_shapes)
        vals.update(self._weights(cell))
        env = self._evaluate(vals, {}, {}, self.before)
        parts = [ops.reshape(env[n], (batch, steps, _size(s))) for n, s in zip(self.frontier, self.frontier_shapes)]
        if not parts:  # the loop reads nothing of the inputs (what it computes is invariant)
            return sequences[..., :0]
        return parts[0] if len(parts) == 1 else ops.concatenate(parts, axis=-1)

    def _unpack(self, flat, names, shapes) -> dict:
        """`flat` (batch, sum of sizes) cut into the named values; one split op (each op costs per step)."""
        if not names:  # a cell without inputs (a BAM recalling from its initial state) reads an empty step
            return {}
        parts = [flat] if len(names) == 1 else tf.split(flat, [_size(s) for s in shapes], axis=-1)
        return {name: part if len(shape) == 1 else ops.reshape(part, (-1,) + shape)
                for name, shape, part in zip(names, shapes, parts)}

    def stacks(self, cell, groups) -> dict:
        """Each group's parameter matrices stacked: rows for `P @ v`, columns for `v @ P`."""
        weights = self._weights(cell)
        return {g: ops.concatenate([weights[p] for p in g.params], axis=0 if g.left else 1) for g in groups}

    def _siblings(self, group, v, env) -> dict:
        """The values of a group of sibling matmuls of `v`, by one matmul and a split."""
        stacked = (self.loop_stacks or {}).get(group)
        if stacked is None:
            stacked = ops.concatenate([env[p] for p in group.params], axis=0 if group.left else 1)
        y = tf.linalg.matmul(v, stacked, transpose_b=group.left)
        sizes = [int(self.sizes[p][0 if group.left else 1]) for p in group.params]
        return dict(zip(group.nodes, tf.split(y, sizes, axis=-1)))

    @staticmethod
    def _weights(cell) -> dict:
        return {name: w if w.dtype == cell.compute_dtype else ops.cast(w, cell.compute_dtype)
                for name, w in cell.weights_by_name.items()}

    def step(self, cell: GeneratedCell, inputs, states):
        batch = ops.shape(inputs)[0]
        # the loop's input: the frontier's values (see optimize.loop_split)
        vals = self._unpack(inputs, self.frontier, self.frontier_shapes)
        vals.update(self._weights(cell))
        # delayed values: history[name][k-1] is the value k steps back
        history = {}
        for (name, (shape, depth)), s in zip(cell.state_shapes.items(), states):
            if depth == 1:
                history[name] = [s if len(shape) == 1 else ops.reshape(s, (-1,) + shape)]
                continue
            s = ops.reshape(s, (-1, depth) + shape)
            history[name] = [s[:, k] for k in range(depth)]
        if self.odes:
            current = {n: history[n][0] for n in self.odes}
            derivs = self._derivatives(vals, history, current)
            new = self._integrate(vals, history, current, derivs)
            vals.update(self._evaluate(vals, history, new, self.step_order))
        else:
            vals.update(self._evaluate(vals, history, {}, self.step_order))
        new_states = []
        for name, (shape, depth) in cell.state_shapes.items():
            now = vals[name]
            if not self.batched.get(name, True):
                now = ops.broadcast_to(now, (batch,) + shape)
            if depth == 1:
                new_states.append(now if len(shape) == 1 else ops.reshape(now, (-1, _size(shape))))
                continue
            hist = [now] + history[name][: depth - 1]
            new_states.append(ops.reshape(ops.stack(hist, axis=1), (-1, _size(shape) * depth)))
        outs = [vals[n] if self.batched.get(n, True) else ops.broadcast_to(vals[n], (batch,) + shape)
                for n, shape in zip(cell.outputs, cell.output_shapes)]
        outs = [o if len(shape) == 1 else ops.reshape(o, (-1, _size(shape))) for o, shape in zip(outs, cell.output_shapes)]
        return (outs[0] if len(outs) == 1 else ops.concatenate(outs, axis=-1)), (new_states or states)

    # ---- continuous time

    def _derivatives(self, vals, history, current):
        env = self._evaluate(vals, history, current, self.step_order)
        return {n: env[self._def_source(n)] for n in self.odes}

    def _def_source(self, name):
        return next(u for u, d in self.operands[name] if d.get("role") == "def")

    def _integrate(self, vals, history, y, k1):
        dt = self.dt
        if self.solver == "euler":
            return {n: y[n] + dt * k1[n] for n in self.odes}
        y2 = {n: y[n] + 0.5 * dt * k1[n] for n in self.odes}
        k2 = self._derivatives(vals, history, y2)
        y3 = {n: y[n] + 0.5 * dt * k2[n] for n in self.odes}
        k3 = self._derivatives(vals, history, y3)
        y4 = {n: y[n] + dt * k3[n] for n in self.odes}
        k4 = self._derivatives(vals, history, y4)
        return {n: y[n] + dt / 6.0 * (k1[n] + 2 * k2[n] + 2 * k3[n] + k4[n]) for n in self.odes}

    # ---- one evaluation of the graph

    def _evaluate(self, vals, history, ode_values, nodes):
        """Values of `nodes` (ops and values, in order) for one step; ODE states fixed at `ode_values`."""
        G = self.G
        env = dict(vals)
        env.update(self.constants)
        env.update(ode_values)

        def read(u, d):
            if d["delay"] > 0:
                return history[u][d["delay"] - 1]
            return env[u]

        for n in nodes:
            data = G.nodes[n]
            if n in self.group_of:
                if n not in env:
                    group = self.group_of[n]
                    u, delay = group.operand
                    env.update(self._siblings(group, read(u, {"delay": delay}), env))
                continue
            if data["kind"] == "value":
                if data.get("ode"):
                    continue
                (u, d), = [(u, d) for u, d in self.operands[n]]
                v = read(u, d)
                if "index" in d:
                    v = v[d["index"]]
                env[n] = v
                continue
            args = [read(u, d) for u, d in self.operands[n]]
            flags = [self.batched[u] if d["delay"] == 0 else True for u, d in self.operands[n]]
            shapes = [G.nodes[u]["shape"] for u, _ in self.operands[n]]
            env[n] = _apply(data, args, flags, shapes, self.env)
        return env


def _real(value) -> float:
    """A spec number as a float; an integer beyond float range is an infinity, as a float literal is."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def _apply(data, args, batched, shapes, env):
    op = data["op"]
    attrs = data.get("attrs", {})
    ranks = [len(s) for s in shapes]
    if op in _BINARY or op in ("where", "clip"):
        args = _align(args, batched, ranks)
    if op in _CONSTANT_ARITHMETIC and all(isinstance(a, (int, float)) for a in args):
        # Two constants (`1 / tau` of a hyperparameter): float64, as `constant` computes, so that
        # `1 / 0` is an infinity in the model rather than Python's ZeroDivisionError.
        with np.errstate(all="ignore"):
            return float(_CONSTANT_ARITHMETIC[op](np.float64(args[0]), np.float64(args[1])))
    if op in _BINARY:
        return _BINARY[op](*args)
    if op in _UNARY:
        return _UNARY[op](args[0])
    if op == "matmul":
        return _matmul(args, batched, ranks)
    if op in ("softmax", "log_softmax"):
        axis = _axis(attrs.get("axis", -1), ranks[0], batched[0])
        return (ops.softmax if op == "softmax" else ops.log_softmax)(args[0], axis=axis)
    if op in ("sum", "mean", "max", "min", "prod", "norm"):
        axis = attrs.get("axis")
        if axis is None:
            axes = tuple(range(1, ranks[0] + 1)) if batched[0] else None
        else:
            axes = _axis(axis, ranks[0], batched[0])
        fn = {"sum": ops.sum, "mean": ops.mean, "max": ops.max, "min": ops.min, "prod": ops.prod}.get(op)
        if op == "norm":
            return ops.sqrt(ops.sum(ops.square(args[0]), axis=axes))
        return fn(args[0], axis=axes)
    if op == "where":
        return ops.where(args[0], args[1], args[2])
    if op == "clip":
        return ops.minimum(ops.maximum(args[0], args[1]), args[2])
    if op == "dot":
        return ops.sum(args[0] * args[1], axis=-1)
    if op == "outer":
        return ops.expand_dims(args[0], -1) * ops.expand_dims(args[1], -2)
    if op == "cosine":
        a, b = args
        if ranks[0] == 2:
            b = ops.expand_dims(b, -2)
        num = ops.sum(a * b, axis=-1)
        den = ops.sqrt(ops.sum(ops.square(a), axis=-1)) * ops.sqrt(ops.sum(ops.square(b), axis=-1))
        return num / ops.maximum(den, COSINE_EPS)
    if op == "circular_conv":
        w, s = args
        k = int(shapes[1][0].subst(int_bindings(env)).value)
        out = 0
        for j in range(k):
            out = out + ops.roll(w, shift=j - k // 2, axis=-1) * s[..., j:j + 1]
        return out
    if op == "transpose":
        return ops.swapaxes(args[0], -1, -2)
    if op == "concat":
        batch_any = any(batched)
        if batch_any:
            n = ops.shape(next(a for a, b in zip(args, batched) if b))[0]
            args = [a if b else ops.broadcast_to(a, (n,) + tuple(ops.shape(a))) for a, b in zip(args, batched)]
        return ops.concatenate(args, axis=_axis(attrs.get("axis", -1), ranks[0], batch_any))
    if op == "split":
        parts = attrs["parts"]
        parts = env[parts] if isinstance(parts, str) else parts
        return ops.split(args[0], int(parts), axis=_axis(attrs.get("axis", -1), ranks[0], batched[0]))
    if op == "einsum":
        return _einsum(attrs["subscripts"], args, batched)
    raise AssertionError(f"no lowering for op {op}")


def _align(args, batched, ranks):
    """Element-wise operands with a batch axis: a lower-rank one gets unit axes after its batch axis.

    (An operand without a batch axis broadcasts from the right as it is: `[n] * (b, n)`.)
    """
    top = max(ranks)
    out = []
    for a, b, r in zip(args, batched, ranks):
        for _ in range(top - r if b else 0):
            a = ops.expand_dims(a, 1)
        out.append(a)
    return out


def _axis(axis: int, rank: int, batched: bool) -> int:
    if axis < 0:
        return axis
    return axis + 1 if batched else axis


def _matmul(args, batched, ranks):
    a, b = args
    # The common cases of a cell, W @ x[t] and x @ W, as one GEMM with no transpose materialized.
    if ranks == [2, 1] and batched == [False, True]:
        return tf.linalg.matmul(b, a, transpose_b=True)
    if ranks == [1, 2] and batched == [True, False]:
        return tf.linalg.matmul(a, b)
    if ranks == [2, 1]:
        sa, sb, so = "ij", "j", "i"
    elif ranks == [1, 2]:
        sa, sb, so = "j", "jk", "k"
    elif ranks == [2, 2]:
        sa, sb, so = "ij", "jk", "ik"
    else:
        sa, sb, so = "j", "j", ""
    pa = ("z" if batched[0] else "") + sa
    pb = ("z" if batched[1] else "") + sb
    po = ("z" if any(batched) else "") + so
    return ops.einsum(f"{pa},{pb}->{po}", a, b)


def _einsum(spec, args, batched):
    text = spec.replace(" ", "")
    lhs, _, out = text.partition("->")
    inputs = lhs.split(",")
    if not _:
        counts = {}
        for c in "".join(inputs):
            counts[c] = counts.get(c, 0) + 1
        out = "".join(sorted(c for c, k in counts.items() if k == 1))
    batch_letter = next(c for c in "ZYXWVUTSRQPONMLKJIHGFEDCBA" if c not in text)
    inputs = [(batch_letter if b else "") + s for s, b in zip(inputs, batched)]
    out = (batch_letter if any(batched) else "") + out
    return ops.einsum(",".join(inputs) + "->" + out, *args)


_BINARY = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b, "pow": lambda a, b: ops.power(a, b),
    "lt": ops.less, "le": ops.less_equal, "gt": ops.greater, "ge": ops.greater_equal,
    "eq": ops.equal, "ne": ops.not_equal, "maximum": ops.maximum, "minimum": ops.minimum,
}
_CONSTANT_ARITHMETIC = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide, "pow": np.power,
                        "maximum": np.maximum, "minimum": np.minimum}
_UNARY = {
    "neg": lambda x: -x, "copy": lambda x: x,
    "sigmoid": ops.sigmoid, "tanh": ops.tanh, "relu": ops.relu, "elu": ops.elu, "selu": ops.selu,
    "gelu": ops.gelu, "silu": ops.silu, "softplus": ops.softplus, "softsign": ops.softsign,
    "hard_sigmoid": ops.hard_sigmoid, "exp": ops.exp, "log": ops.log, "sqrt": ops.sqrt, "abs": ops.abs,
    "square": ops.square, "sign": ops.sign, "sin": ops.sin, "cos": ops.cos,
    "step": lambda x: ops.cast(ops.greater(x, 0), x.dtype),
}


# ---------------------------------------------------------------- activations of layers

# The activations of the language that Keras knows by a name of its own; the rest of the elementwise
# functions are registered below, so that a model with `Dense(3, activation=abs)` saves and reloads.
# (Not gelu: Keras's named one is the exact form, the language's the tanh approximation of `ops.gelu`.)
_KERAS_ACTIVATIONS = {name: name for name in ("sigmoid", "tanh", "relu", "elu", "selu", "silu", "softplus",
                                               "softsign", "hard_sigmoid", "softmax", "log_softmax")}
_KERAS_ACTIVATIONS.update({"exp": "exponential", "linear": None, "none": None})


def _registered_activation(name: str, fn):
    def activation(x):
        return fn(x)

    activation.__name__ = activation.__qualname__ = name
    return keras.saving.register_keras_serializable(package=PACKAGE, name=name)(activation)


_REGISTERED_ACTIVATIONS = {name: _registered_activation(name, _UNARY[name])
                           for name in ("gelu", "log", "sqrt", "abs", "square", "sign", "sin", "cos", "step")}


def keras_activation(name: str):
    """What a Keras layer takes as `activation` for an activation of the language (rnndsl.lang.builtins.ACTIVATIONS)."""
    return _KERAS_ACTIVATIONS[name] if name in _KERAS_ACTIVATIONS else _REGISTERED_ACTIVATIONS[name]


# ---------------------------------------------------------------- layers


def cell_source(program, cell_name: str) -> str:
    """The text of one cell, which compiles on its own (a cell refers to no other item)."""
    span = program.bound.cells[cell_name].ast.span
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
    if G.graph["kind"] != "cell":
        raise SpecErrors([ShapeError(f"`{cell_name}` is a network, not a cell", G.graph["span"], code="E0601")])
    if G.graph["over"] == "tree":
        raise SpecErrors([ShapeError(f"`{cell_name}` runs over trees; tree cells do not lower to Keras yet",
                                     G.graph["span"], code="E0602")])
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


# ---------------------------------------------------------------- networks


def hyperparameters(G, given: dict) -> dict:
    """{name: value} of a network's or cell's hyperparameters: the defaults, then `given`; a UsageError for a
    name it does not declare, a value not of its type, or one left without a value."""
    from ..lang.errors import did_you_mean

    declared = G.graph["hparams"]
    kind = "cell" if G.graph["kind"] == "cell" else "network"
    name = G.graph["name"]
    unknown = [k for k in given if k not in declared]
    if unknown:
        hint = "".join(f"; {n}" for n in did_you_mean(unknown[0], declared))
        raise UsageError(f"{kind} `{name}` has no hyperparameter `{unknown[0]}`{hint}")
    env = {h.name: h.default for h in declared.values()}
    for k, v in given.items():
        typed = _typed(v, declared[k].type)
        if typed is None:
            raise UsageError(f"{kind} `{name}`: `{k}` is {'an' if declared[k].type == 'int' else 'a'} "
                             f"{declared[k].type}, given {v!r}")
        env[k] = typed
    missing = [k for k, v in env.items() if v is None]
    if missing:
        raise UsageError(f"{kind} `{name}` needs a value for {', '.join(missing)} (use --set {missing[0]}=...)")
    return env


def _typed(value, type_name: str):
    """`value` as a value of the hyperparameter type `type_name` (a NumPy number as a Python one), or None."""
    if value is None:
        return None
    if type_name == "bool":
        return bool(value) if isinstance(value, (bool, np.bool_)) else None
    if isinstance(value, (bool, np.bool_)):
        return None
    if type_name == "int":
        return int(value) if isinstance(value, numbers.Integral) else None
    if type_name == "float":
        return float(value) if isinstance(value, numbers.Real) else None
    return value if isinstance(value, str) else None


def cell_env(G, given: dict, input_size: Optional[int] = None) -> dict:
    """The values of cell G's hyperparameters (its defaults, then `given`) and of its free input dimension
    (`in`), solved from the total size of its inputs side by side, `input_size`: which may be left out where
    the hyperparameters fix it. A UsageError where no value fits, or none is given where one is needed."""
    env = hyperparameters(G, given)
    name = G.graph["name"]
    inputs = G.graph["signature"]["inputs"].values()
    total = sum((math.prod((d.subst(int_bindings(env)) for d in dims), start=Dim.const(1)) for dims in inputs),
                Dim.const(0))
    frees = sorted(total.symbols())
    if input_size is None:
        if frees:
            raise UsageError(f"cell `{name}` reads inputs whose size its hyperparameters leave open "
                             f"({', '.join(f'`{d}`' for d in frees)}): give the input size (--input-size N)")
        return env
    if len(frees) > 1:
        raise UsageError(f"cell `{name}` has several free input dimensions: {', '.join(frees)}")
    if not frees:
        if total.value != input_size:
            raise UsageError(f"cell `{name}` reads inputs of total size {total.value} with these hyperparameters, "
                             f"not {input_size}")
        return env
    (free,) = frees
    value = solve_int(total, free, input_size)
    if value is None:
        raise UsageError(f"cell `{name}`: no value of `{free}` gives an input of size {input_size}")
    return {**env, free: value}


def _within_limits(errors: list) -> None:
    """Raise what `limits` found wrong with the sizes that `build` was given."""
    if errors:
        raise SpecErrors(errors)


def build_network(program, name: str, *, fused: bool = True, stateful_batch: Optional[int] = None,
                  **overrides) -> keras.Model:
    """The Keras functional model of network `name`; `overrides` set its hyperparameters.

    A cell on the fused path (see `rnndsl.keras.fused`) lowers to Keras's own layer
    unless `fused` is False. With `stateful_batch` B, the inputs take batches of
    exactly B, `(B, T, f)`, and every recurrent layer is stateful: each call starts
    from the states the last call ended with (truncated BPTT, rnndsl.train.run).
    """
    G = program.graphs[name]
    env = hyperparameters(G, overrides)
    _within_limits(limits.network(limits.given(env), G, program.graphs))
    dims = int_bindings(env)

    def size(d: Dim) -> int:
        return int(d.subst(dims).value)  # check binds every dimension of a network to its hyperparameters

    tensors: dict = {}
    inputs = []
    names: set = set()  # the model's layer names: Keras needs them unique
    paths: dict = {}  # recurrent layer name -> (cell, Fused match or None), for `describe`
    for node, data in G.nodes(data=True):
        if data["kind"] != "input":
            continue
        info = data["info"]
        if info.kind not in ("seq", "vec"):
            raise SpecErrors([ShapeError(f"`{info.kind}` inputs do not lower to Keras yet", info.span, code="E0602")])
        shape = ((None,) if info.kind == "seq" else ()) + tuple(size(d) for d in info.dims)
        t = keras.Input(shape=shape, dtype="int32" if info.dtype == "int" else "float32",
                        name=_fresh(node, names), batch_size=stateful_batch)
        tensors[node] = t
        inputs.append(t)
    for node in nx.topological_sort(G):
        data = G.nodes[node]
        if data["kind"] != "layer":
            continue
        app = data["app"]
        srcs = [tensors[s] for s in app.inputs]
        initial = {state: tensors[v] for state, v in app.initial.items()}
        layer_name = _fresh("_".join(app.names) if app.ports else app.names[0] if app.names else app.id.lower(),
                            names, _layer_names(app, len(srcs), env))
        result = _apply_layer(program, app, srcs, initial, layer_name, env, size, fused, paths,
                              stateful=stateful_batch is not None, rank=len(data["type"].dims))
        if app.ports:  # returns=states: {state: tensor}
            tensors.update({app.ports[state]: t for state, t in result.items()})
        else:
            tensors[node] = result
    outputs = [tensors[next(iter(G.predecessors(o)))] for o in G.graph["outputs"]]
    model = keras.Model(inputs if len(inputs) > 1 else inputs[0], outputs if len(outputs) > 1 else outputs[0],
                        name=name)
    model._rnndsl_paths = paths
    return model


def _fresh(name: str, taken: set, named=lambda n: [n]) -> str:
    """`name`, else the first of `name_2`, `name_3`, ... whose layer names `named(n)` are not `taken`; takes them.
    (A layer `n` may name others after itself: a stack's layers `n_1`, `n_2`, ...; Keras needs them unique.)"""
    fresh, k = name, 1
    while any(n in taken for n in named(fresh)):
        k += 1
        fresh = f"{name}_{k}"
    taken.update(named(fresh))
    return fresh


def _layer_names(app, n_inputs: int, env: dict):
    """The names of the layers that `_apply_layer` makes for `app` if it is named `n`."""
    def named(n: str) -> list:
        out = [n, f"{n}_inputs"] if app.kind in ("cell", "Stack", "Bidirectional") and n_inputs > 1 else [n]
        if app.kind == "Stack":
            out += [f"{n}_{i + 1}" for i in range(_hparam(app.args["depth"], env))]
        return out

    return named


def build_cell(program, name: str, *, input_size: Optional[int] = None, fused: bool = True,
               **hparams) -> keras.Model:
    """A Keras model of cell `name` alone: its inputs, side by side, `(batch, T, input_size)` ->
    its outputs at every step `(batch, T, size)`; `hparams` set its hyperparameters.

    `input_size` may be left out when the hyperparameters fix the size of every input (a Hopfield
    network's `[units]`); a cell that reads `[in]` needs it."""
    G = program.graphs[name]
    if G.graph["over"] == "tree":
        raise SpecErrors([ShapeError(f"`{name}` runs over trees; tree cells do not lower to Keras yet",
                                     G.graph["span"], code="E0602")])
    if input_size is not None and limits.dimension_rule(input_size):
        raise UsageError(f"cell `{name}` is given an input size of {input_size}: "
                         f"{limits.dimension_rule(input_size)}")
    env = cell_env(G, hparams, input_size)
    _within_limits(limits.cell(limits.given(env), G))
    if input_size is None:  # the hyperparameters fix it
        input_size = sum(_size([d.subst(int_bindings(env)).value for d in dims])
                         for dims in G.graph["signature"]["inputs"].values())
    paths: dict = {}
    layer, _ = _rnn(program, name, hparams, True, name.lower(), fused, input_size, paths)
    x = keras.Input(shape=(None, input_size), name=_fresh("_".join(G.graph["signature"]["inputs"]) or "steps",
                                                          {layer.name}))
    model = keras.Model(x, layer(x), name=name)
    model._rnndsl_paths = paths
    return model


def describe(model: keras.Model) -> str:
    """Each generated cell of a built model: its path, and its weights by spec name with their sizes."""
    from .fused import LAYOUT

    lines = []
    paths = getattr(model, "_rnndsl_paths", {})
    for layer in model._flatten_layers(include_self=False):
        key = layer.name.removeprefix("forward_").removeprefix("backward_")
        if key in paths and not isinstance(layer, keras.layers.Bidirectional):
            name, match = paths[key]
            roles = LAYOUT[match.layer]
            parts = "; ".join(f"{w} = " + " | ".join(match.params[r] for r in _flat(roles[w])) for w in roles)
            total = sum(int(np.prod(w.shape)) for w in layer.weights)
            lines.append(f"{layer.path}: cell {name}, fused path (keras.layers.{match.layer}), {total} parameters: "
                         f"{parts}")
            continue
        cell = getattr(layer, "cell", None)
        if isinstance(cell, GeneratedCell) and cell.built:
            weights = ", ".join(f"{n} {tuple(w.shape)}={int(np.prod(w.shape))}" + _untrained(cell.G.nodes[n], w)
                                for n, w in cell.weights_by_name.items())
            total = sum(int(np.prod(w.shape)) for w in cell.weights_by_name.values())
            lines.append(f"{layer.path}: cell {cell.cell_name}, generated path, {total} parameters: {weights}")
    return "\n".join(lines)


def _untrained(data, weight) -> str:
    """How `describe` marks a weight that gradient descent leaves alone."""
    if data.get("fit") is not None:
        return f" fit {data['fit'].name.id}"
    return "" if weight.trainable else " fixed"


def _value(v, env):
    return env[v.id] if isinstance(v, A.Name) else v


def _apply_layer(program, app, srcs, initial, layer_name, env, size, fused, paths, *, stateful=False, rank=1):
    """Apply one layer, whose output's items have `rank` axes; a cell's `initial` states ({state: tensor}) go in
    by name. With `returns=states`, the result is {state: tensor of its final value}."""
    args = app.args
    if app.kind == "keras":
        L = app.layer
        problem = KERAS_LAYERS[L].valid({k: _value(v, env) for k, v in args.items()})
        if problem:
            raise SpecErrors([ShapeError(problem + _from_hyperparameters(args, env), None, code="E0209")])
        if L == "Embedding":
            layer = keras.layers.Embedding(size(Dim.of(args["input_dim"])), size(Dim.of(args["output_dim"])),
                                           mask_zero=bool(_value(args["mask_zero"], env)), name=layer_name)
        elif L == "Dense":
            layer = keras.layers.Dense(size(Dim.of(args["units"])), activation=keras_activation(args["activation"]),
                                       use_bias=bool(_value(args["use_bias"], env)), name=layer_name)
        elif L == "Dropout":
            layer = keras.layers.Dropout(float(_value(args["rate"], env)), name=layer_name)
        elif L == "LayerNormalization":
            layer = keras.layers.LayerNormalization(name=layer_name)
        elif L == "Masking":
            layer = keras.layers.Masking(float(_value(args["mask_value"], env)), name=layer_name)
        elif L == "Activation":
            layer = keras.layers.Activation(keras_activation(args["activation"]), name=layer_name)
        elif L == "Concatenate":
            # the axis counts the items' axes (`seq[d]`: 0 is d), not the batch's and the steps'
            axis = args["axis"] - rank if args["axis"] >= 0 else args["axis"]
            return keras.layers.Concatenate(axis=axis, name=layer_name)(srcs)
        elif L == "Add":
            return keras.layers.Add(name=layer_name)(srcs)
        else:
            raise AssertionError(f"no lowering for layer {L}")
        return layer(srcs[0])
    if app.kind == "EncoderDecoder":
        from .seq2seq import lower_encoder_decoder

        return lower_encoder_decoder(program, app, srcs, layer_name, env, fused, paths)
    ref = app.cell
    hp = {k: _hparam(v, env) for k, v in ref.args.items()}
    x = srcs[0] if len(srcs) == 1 else keras.layers.Concatenate(name=f"{layer_name}_inputs")(srcs)
    if app.kind == "cell":
        rnn, order = _rnn(program, ref.cell, hp, ref.returns == "sequences", layer_name, fused, x.shape[-1], paths,
                          return_state=bool(app.ports), stateful=stateful)
        y = rnn(x, initial_state=[initial[s] for s in order]) if initial else rnn(x)
        return dict(zip(order, y[1:])) if app.ports else y
    if app.kind == "Stack":
        depth = _hparam(args["depth"], env)
        for i in range(depth):
            last = i == depth - 1
            x = _rnn(program, ref.cell, hp, (not last) or ref.returns == "sequences", f"{layer_name}_{i + 1}",
                     fused, x.shape[-1], paths, stateful=stateful)[0](x)
        return x
    if app.kind == "Bidirectional":
        rnn = _rnn(program, ref.cell, hp, ref.returns == "sequences", layer_name, fused, x.shape[-1], paths,
                   stateful=stateful)[0]
        return keras.layers.Bidirectional(rnn, merge_mode=args["merge"], name=layer_name)(x)
    raise AssertionError(f"no lowering for {app.kind}")


def _from_hyperparameters(args: dict, env: dict) -> str:
    """` (rate = 1.5)`: the hyperparameters that give a layer's arguments, with their values."""
    named = [f"{v.id} = {env[v.id]}" for v in args.values() if isinstance(v, A.Name)]
    return f" ({', '.join(named)})" if named else ""


def _flat(roles):
    return [r for row in roles for r in (row if isinstance(row, list) else [row])]


def _hparam(v, env):
    if isinstance(v, Dim):
        known = int_bindings(env)
        return int(v.subst(known).value)
    return _value(v, env)


def _rnn(program, cell_name, hp, return_sequences, layer_name, fused, input_dim, paths, return_state=False,
         stateful=False):
    """The recurrent layer of one cell, Keras's own on the fused path, else a generated cell; and the order in
    which it takes and returns the spec's states."""
    from .fused import Fused, fused_path

    match = fused_path(program.graphs[cell_name]) if fused else None
    if isinstance(match, Fused):
        layer = fused_layer(program, cell_name, match, input_dim=input_dim, return_sequences=return_sequences,
                            return_state=return_state, name=layer_name, stateful=stateful, **hp)
        paths[layer_name] = (cell_name, match)
        return layer, match.keras_states
    cell = GeneratedCell(cell_source(program, cell_name), cell_name, input_dim, hp, name=layer_name)
    rnn = GeneratedRNN(cell, return_sequences=return_sequences, return_state=return_state, stateful=stateful,
                       name=layer_name)
    return rnn, list(program.graphs[cell_name].graph["states"])


# ---------------------------------------------------------------- the fused path


@keras.saving.register_keras_serializable(package=PACKAGE)
class GateStack(keras.initializers.Initializer):
    """Initializes a fused Keras weight gate by gate, each gate with its spec parameter's initializer.

    `parts` is a list of initializer configs (a list of lists for a 2-D bias,
    one row per list); `transpose` turns each spec matrix `[units, in]` into
    Keras's `[in, units]` before the gates are put side by side.
    """

    def __init__(self, parts, transpose: bool = False):
        self.parts, self.transpose = parts, transpose

    def _row(self, configs, rows: int, width: int, dtype):
        blocks = []
        for config in configs:
            init = keras.initializers.deserialize(config)
            if self.transpose:
                blocks.append(ops.transpose(init((width, rows), dtype=dtype)))
            else:
                blocks.append(init((width,), dtype=dtype))
        return ops.concatenate(blocks, axis=-1)

    def __call__(self, shape, dtype=None):
        dtype = dtype or "float32"
        if self.parts and isinstance(self.parts[0], list):  # a 2-D bias: one row per list
            width = shape[-1] // len(self.parts[0])
            return ops.stack([self._row(row, 0, width, dtype) for row in self.parts])
        width = shape[-1] // len(self.parts)
        return self._row(self.parts, shape[0] if self.transpose else 0, width, dtype)

    def get_config(self):
        return {"parts": self.parts, "transpose": self.transpose}


def fused_layer(program, cell_name: str, match, *, input_dim: int, return_sequences: bool = True,
                return_state: bool = False, name: Optional[str] = None, stateful: bool = False,
                **hparams) -> keras.layers.Layer:
    """Keras's own LSTM / GRU / SimpleRNN for a cell on the fused path, initialized as the spec says."""
    from .fused import LAYOUT

    probe = GeneratedCell(cell_source(program, cell_name), cell_name, input_dim, hparams)
    G, env = probe.G, probe.env
    units = probe.output_size

    def config(role):
        node = G.nodes[match.params[role]]
        rank = len(node["shape"])
        return keras.initializers.serialize(_initializer(node["init"], rank, env))

    def stack(roles, transpose):
        parts = [[config(r) for r in row] for row in roles] if isinstance(roles[0], list) else \
            [config(r) for r in roles]
        return GateStack(parts, transpose)

    layout = LAYOUT[match.layer]
    common = dict(units=units, return_sequences=return_sequences, return_state=return_state, name=name,
                  stateful=stateful,
                  kernel_initializer=stack(layout["kernel"], True),
                  recurrent_initializer=stack(layout["recurrent_kernel"], True),
                  bias_initializer=stack(layout["bias"], False))
    if match.layer == "LSTM":
        return keras.layers.LSTM(unit_forget_bias=False, **common)
    if match.layer == "GRU":
        return keras.layers.GRU(reset_after=True, **common)
    return keras.layers.SimpleRNN(**common)


def fused_weights(match, weights: dict) -> list:
    """Spec parameters (name -> array) laid out as the fused Keras layer's [kernel, recurrent, bias]."""
    from .fused import LAYOUT

    layout = LAYOUT[match.layer]

    def side_by_side(roles, transpose):
        if isinstance(roles[0], list):
            return np.stack([side_by_side(row, transpose) for row in roles])
        return np.concatenate([weights[match.params[r]].T if transpose else weights[match.params[r]]
                               for r in roles], axis=-1)

    return [side_by_side(layout["kernel"], True), side_by_side(layout["recurrent_kernel"], True),
            side_by_side(layout["bias"], False)]
