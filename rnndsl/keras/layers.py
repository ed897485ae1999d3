"""The Keras layer of each layer the language names, one builder each, and the activations they take.

`rnndsl.lang.layers.KERAS_LAYERS` says what the language accepts (a layer's
arguments, its type rule, how many inputs it takes); `BUILDERS` here says
what each one lowers to, by the same names: a function from the layer's
arguments (`LayerArgs`) to an unapplied Keras layer. `keras_layer` checks the
arguments' values, builds the layer and applies it to its inputs: one tensor,
or the list of them for a layer of any number of inputs (`arity` None).
"""

from __future__ import annotations

from dataclasses import dataclass

import keras

from ..lang import ast as A
from ..lang.dims import Dim, int_bindings
from ..lang.errors import ShapeError, SpecErrors
from ..lang.layers import KERAS_LAYERS
from . import PACKAGE
from .interpret import activation as registry_function
from .masked_conv import MaskedConv2D
from .rate import AveragePooling1D, Gather, MaxPooling1D, Scatter, Subsample, UpSampling1D
from .surprise import Mispredicted

# ---------------------------------------------------------------- activations

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


_REGISTERED_ACTIVATIONS = {name: _registered_activation(name, registry_function(name))
                           for name in ("gelu", "log", "sqrt", "abs", "square", "sign", "sin", "cos", "step")}


def keras_activation(name: str):
    """What a Keras layer takes as `activation` for an activation of the language (rnndsl.lang.builtins.ACTIVATIONS)."""
    return _KERAS_ACTIVATIONS[name] if name in _KERAS_ACTIVATIONS else _REGISTERED_ACTIVATIONS[name]


# ---------------------------------------------------------------- the layers


@dataclass(frozen=True)
class LayerArgs:
    """A layer's arguments as its builder reads them: `args` as the network wrote them (numbers, Dims,
    hyperparameter names), `env` the hyperparameters' values, `name` the Keras layer's name, `rank` the
    number of axes of each item of the layer's output (`seq[d]`: 1)."""

    args: dict
    env: dict
    name: str
    rank: int

    def value(self, key: str):
        """Argument `key`, a hyperparameter's name read as its value, an int written over hyperparameters
        (`stride=k`, a Dim) as a number."""
        v = self.args[key]
        if isinstance(v, Dim):
            return v.subst(int_bindings(self.env)).value
        return self.env[v.id] if isinstance(v, A.Name) else v

    def size(self, key: str) -> int:
        """Argument `key`, a dimension, as a number (lowering binds every dimension of a network)."""
        return int(Dim.of(self.args[key]).subst(int_bindings(self.env)).value)


def _embedding(a: LayerArgs) -> keras.layers.Layer:
    return keras.layers.Embedding(a.size("input_dim"), a.size("output_dim"), mask_zero=bool(a.value("mask_zero")),
                                  name=a.name)


def _dense(a: LayerArgs) -> keras.layers.Layer:
    return keras.layers.Dense(a.size("units"), activation=keras_activation(a.args["activation"]),
                              use_bias=bool(a.value("use_bias")), name=a.name)


def _concatenate(a: LayerArgs) -> keras.layers.Layer:
    # the axis counts the items' axes (`seq[d]`: 0 is d), not the batch's and the steps'
    axis = a.args["axis"]
    return keras.layers.Concatenate(axis=axis - a.rank if axis >= 0 else axis, name=a.name)


BUILDERS = {
    "Embedding": _embedding,
    "Dense": _dense,
    "Dropout": lambda a: keras.layers.Dropout(float(a.value("rate")), name=a.name),
    "LayerNormalization": lambda a: keras.layers.LayerNormalization(name=a.name),
    "Masking": lambda a: keras.layers.Masking(float(a.value("mask_value")), name=a.name),
    "Activation": lambda a: keras.layers.Activation(keras_activation(a.args["activation"]), name=a.name),
    "Concatenate": _concatenate,
    "Add": lambda a: keras.layers.Add(name=a.name),
    "MaskedConv2D": lambda a: MaskedConv2D(a.size("filters"), int(a.value("kernel")), mask=a.args["mask"],
                                           activation=keras_activation(a.args["activation"]), name=a.name),
    "Subsample": lambda a: Subsample(a.value("stride"), a.value("offset"), name=a.name),
    "AveragePooling1D": lambda a: AveragePooling1D(a.value("pool_size"), a.value("strides"), a.value("padding"),
                                                   name=a.name),
    "MaxPooling1D": lambda a: MaxPooling1D(a.value("pool_size"), a.value("strides"), a.value("padding"), name=a.name),
    "UpSampling1D": lambda a: UpSampling1D(a.value("size"), name=a.name),
    "Gather": lambda a: Gather(bool(a.value("times")), name=a.name),
    "Mispredicted": lambda a: Mispredicted(a.value("threshold"), name=a.name),
    "Scatter": lambda a: Scatter(bool(a.value("hold")), name=a.name),
}


def keras_layer(app, inputs: list, name: str, env: dict, rank: int):
    """The Keras layer of the application `app` of a layer of the language, named `name`, applied to its
    input tensors; each item of its output has `rank` axes. An argument whose value the layer cannot take
    (a hyperparameter's, known only now) is an E0209."""
    if app.layer not in BUILDERS:  # resolve accepts only the layers of KERAS_LAYERS
        raise AssertionError(f"no lowering for layer {app.layer}")
    spec = KERAS_LAYERS[app.layer]
    args = LayerArgs(app.args, env, name, rank)
    problem = spec.valid({k: args.value(k) for k in app.args})
    if problem:
        raise SpecErrors([ShapeError(problem + _from_hyperparameters(app.args, env), None, code="E0209")])
    layer = BUILDERS[app.layer](args)
    return layer(inputs[0] if spec.arity == 1 else inputs)


def _from_hyperparameters(args: dict, env: dict) -> str:
    """` (rate = 1.5)`: the hyperparameters that give a layer's arguments, with their values."""
    names = [v.id for v in args.values() if isinstance(v, A.Name)]
    names += sorted({s for v in args.values() if isinstance(v, Dim) for s in v.symbols() if s in env})
    named = [f"{n} = {env[n]}" for n in names]
    return f" ({', '.join(named)})" if named else ""
