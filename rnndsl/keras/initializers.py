"""Initializers and constraints of a spec's parameters, and the constants they are written with.

`initializer(init, rank, env)` and `constraint(constraints, env)` give the
Keras object for a parameter's `~ init` and `constraint` clauses, their
arguments evaluated over the hyperparameters `env` by `constant`. The classes
here are registered with Keras under rnndsl's package, so a saved model that
names them loads.
"""

from __future__ import annotations

import math
from typing import Optional

import keras
import numpy as np
from keras import ops

from ..lang import ast as A
from ..lang.builtins import INITIALIZERS
from . import PACKAGE


def constant(expr, env: dict) -> float:
    """The value of a constant expression over hyperparameters (numbers, names, + - * / **, unary -; a vector
    literal, an array), in float64
    as the model computes: past float range an infinity, 0 / 0 a nan; never an exception, and never Python's
    exact arithmetic on integers, which `10 ** 10 ** 10` would keep busy for ever."""
    if isinstance(expr, (int, float)):
        return real(expr)
    if isinstance(expr, str):
        return real(env[expr])
    if isinstance(expr, A.Number):
        return real(expr.value)
    if isinstance(expr, A.Name):
        return real(env[expr.id])
    if isinstance(expr, A.UnaryOp):
        v = constant(expr.operand, env)
        return -v if expr.op == "-" else v
    if isinstance(expr, A.Vector):
        return np.array([constant(item, env) for item in expr.items])
    if isinstance(expr, A.BinOp):
        a, b = np.float64(constant(expr.left, env)), np.float64(constant(expr.right, env))
        with np.errstate(all="ignore"):
            return float(_ARITHMETIC[expr.op](a, b))
    raise TypeError(f"not a constant: {expr!r}")


def real(value) -> float:
    """A spec number as a float; an integer beyond float range is an infinity, as a float literal is."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def constant_value(value, env: dict, dtype: str = "float32"):
    """A graph constant's value: a number as a float, a vector literal (a tuple of numbers and hyperparameter
    names) as an array of `dtype` (an array is not a weak type: of the compute dtype, it promotes nothing)."""
    if isinstance(value, tuple):
        return np.array([real(env[e]) if isinstance(e, str) else real(e) for e in value], dtype=dtype)
    return real(value)


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


@keras.saving.register_keras_serializable(package=PACKAGE)
class PerHead(keras.initializers.Initializer):
    """Initializes a parameter with heads, `[heads, ...]`, head by head: each head drawn on its own by the
    initializer of config `part`, which sees one head's shape (its fans are one head's, as if each head's
    parameter were written alone)."""

    def __init__(self, part):
        self.part = part

    def __call__(self, shape, dtype=None):
        # a fresh initializer per head: a Keras initializer with a seed gives the same draw at every call
        return ops.stack([keras.initializers.deserialize(self.part)(tuple(shape[1:]), dtype=dtype or "float32")
                          for _ in range(shape[0])])

    def get_config(self):
        return {"part": self.part}


def initializer(init, rank: int, env: dict, heads: bool = False) -> keras.initializers.Initializer:
    """The initializer of a parameter; of one with heads (`[heads, ...]`), each head's own (PerHead)."""
    if heads:
        return PerHead(keras.initializers.serialize(initializer(init, rank - 1, env)))
    return _initializer(init, rank, env)


def _initializer(init, rank: int, env: dict) -> keras.initializers.Initializer:
    """The Keras initializer of a parameter of `rank` axes from its `~ init` clause (None: Glorot uniform for a
    matrix, zeros for a vector or a scalar); arguments are constants over the hyperparameters `env`."""
    if init is None:
        return keras.initializers.GlorotUniform() if rank >= 2 else keras.initializers.Zeros()
    if isinstance(init, A.ConstInit):
        value = constant(init.value, env)
        # a vector literal fills the last axis (Constant broadcasts it over the shape), as a list in its config
        return keras.initializers.Constant(value.tolist() if isinstance(value, np.ndarray) else float(value))
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


def constraint(constraints: tuple, env: dict, heads: bool = False) -> Optional[keras.constraints.Constraint]:
    """The Keras constraint of a parameter from its constraint clauses (the last one binds), or None; the
    norms of a parameter with heads are each head's (their axis is past the head axis)."""
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
        return keras.constraints.UnitNorm(axis=int(heads))
    if name == "max_norm":
        return keras.constraints.MaxNorm(float(args[0]), axis=int(heads))
    if name == "max_abs":
        return Clip(-abs(float(args[0])), abs(float(args[0])))
    if name == "clip":
        return Clip(float(args[0]), float(args[1]))
    raise AssertionError(f"resolve lets through constraint {name}")
