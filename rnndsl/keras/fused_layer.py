"""The fused path's layers: Keras's own LSTM / GRU / SimpleRNN for a cell that is exactly one of them.

Which cells are (`rnndsl.keras.fused.fused_path`, without TensorFlow) and how
their parameters lay out in the Keras layer's weights (`LAYOUT`) are decided
there; here the layer is made, each weight initialized gate by gate as the
spec initializes its parameters (`GateStack`), and a cell's weights are laid
out as the layer's. Once a model's weights are drawn, `plain_initializers`
names Keras's own initializers in their place, so that a model whose cells
all took the fused path is plain Keras: it saves and loads without rnndsl.
"""

from __future__ import annotations

from typing import Optional

import keras
import numpy as np

from .cell import GeneratedCell, cell_source
from .fused import LAYOUT
from .initializers import GateStack, initializer


def fused_layer(program, cell_name: str, match, *, input_dim: int, return_sequences: bool = True,
                return_state: bool = False, name: Optional[str] = None, stateful: bool = False,
                **hparams) -> keras.layers.Layer:
    """Keras's own LSTM / GRU / SimpleRNN for a cell on the fused path, initialized as the spec says."""
    probe = GeneratedCell(cell_source(program, cell_name), cell_name, input_dim, hparams)
    G, env = probe.G, probe.env
    units = probe.output_size

    def config(role):
        param = G.node(match.params[role])
        rank = len(param.shape)
        return keras.initializers.serialize(initializer(param.init, rank, env))

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
    layout = LAYOUT[match.layer]

    def side_by_side(roles, transpose):
        if isinstance(roles[0], list):
            return np.stack([side_by_side(row, transpose) for row in roles])
        return np.concatenate([weights[match.params[r]].T if transpose else weights[match.params[r]]
                               for r in roles], axis=-1)

    return [side_by_side(layout["kernel"], True), side_by_side(layout["recurrent_kernel"], True),
            side_by_side(layout["bias"], False)]


# The initializers a fused layer's cell holds, and what Keras itself draws each weight with
_INITIALIZERS = {"kernel_initializer": "glorot_uniform", "recurrent_initializer": "orthogonal",
                 "bias_initializer": "zeros"}


def plain_initializers(model: keras.Model) -> None:
    """Name Keras's own initializers in `model`'s fused layers (a Bidirectional's too), in place of the
    `GateStack`s that drew their weights: the weights stay as drawn, and the model's config names nothing of
    rnndsl, so that it loads where rnndsl was never imported. Each weight's initializer is the one every
    gate shares, where they share a built-in one, else Keras's default for it; it draws the weights only
    of a model made again from its config alone (`keras.models.clone_model`), not of a loaded one."""
    for layer in _layers(model):
        cell = getattr(layer, "cell", None)
        for attribute, default in _INITIALIZERS.items():
            init = getattr(cell, attribute, None)
            if isinstance(init, GateStack):
                setattr(cell, attribute, keras.initializers.get(_shared(init) or default))


def _layers(model):
    """Every layer of `model`, a Bidirectional's two and a nested model's own."""
    for layer in model.layers:
        if isinstance(layer, keras.layers.Bidirectional):
            yield from (layer.forward_layer, layer.backward_layer)
        elif isinstance(layer, keras.Model):
            yield from _layers(layer)
        else:
            yield layer


def _shared(stack: GateStack):
    """The config of the built-in initializer every gate of `stack` is drawn with, if there is one."""
    parts = [c for row in stack.parts for c in row] if stack.parts and isinstance(stack.parts[0], list) \
        else list(stack.parts)
    first = parts[0] if parts else None
    if not isinstance(first, dict) or any(p != first for p in parts):
        return None
    return first if first.get("module") == "keras.initializers" else None
