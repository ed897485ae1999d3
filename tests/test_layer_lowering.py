"""The layers of the language lower by a table (rnndsl.keras.layers.BUILDERS): one builder per layer that
rnndsl.lang.layers.KERAS_LAYERS accepts, and nothing else reaches it."""

from __future__ import annotations

import os
from dataclasses import replace

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import rnndsl  # noqa: E402
from rnndsl.keras import rate  # noqa: E402
from rnndsl.keras.layers import BUILDERS, keras_layer  # noqa: E402
from rnndsl.keras.masked_conv import MaskedConv2D  # noqa: E402
from rnndsl.keras.surprise import Mispredicted  # noqa: E402
from rnndsl.lang.layers import KERAS_LAYERS  # noqa: E402

# A network that applies each layer, and the Keras class it lowers to.
EXAMPLES = {
    "Embedding": ("input x: seq[int]", "Embedding(10, 4)(x)", keras.layers.Embedding),
    "Dense": ("input x: vec[3]", "Dense(2, activation=tanh)(x)", keras.layers.Dense),
    "Dropout": ("input x: vec[3]", "Dropout(0.5)(x)", keras.layers.Dropout),
    "LayerNormalization": ("input x: vec[3]", "LayerNormalization()(x)", keras.layers.LayerNormalization),
    "Masking": ("input x: seq[3]", "Masking()(x)", keras.layers.Masking),
    "Activation": ("input x: vec[3]", "Activation(relu)(x)", keras.layers.Activation),
    "Concatenate": ("input x: vec[3]", "Concatenate()(x, x)", keras.layers.Concatenate),
    "Add": ("input x: vec[3]", "Add()(x, x)", keras.layers.Add),
    "MaskedConv2D": ("input x: grid[4, 4, 2]", "MaskedConv2D(3, kernel=3, mask=A)(x)", MaskedConv2D),
    "Subsample": ("input x: seq[3]", "Subsample(2)(x)", rate.Subsample),
    "AveragePooling1D": ("input x: seq[3]", "AveragePooling1D(2)(x)", rate.AveragePooling1D),
    "MaxPooling1D": ("input x: seq[3]", "MaxPooling1D(2, padding=same)(x)", rate.MaxPooling1D),
    "UpSampling1D": ("input x: seq[3]", "UpSampling1D(3)(x)", rate.UpSampling1D),
    "Gather": ("input x: seq[3]\n    input f: seq[int]", "Gather()(x, f)", rate.Gather),
    "Scatter": ("input x: seq[3]\n    input f: seq[int]", "Scatter()(x, f)", rate.Scatter),
    "Mispredicted": ("input x: seq[3]\n    input p: seq[3]", "Mispredicted(threshold=0.5)(x, p)", Mispredicted),
}


def test_every_layer_the_language_accepts_has_exactly_one_lowering():
    assert sorted(BUILDERS) == sorted(KERAS_LAYERS)  # a dict: at most one each
    assert sorted(EXAMPLES) == sorted(KERAS_LAYERS)  # a new layer needs an example below


@pytest.mark.parametrize("layer", sorted(EXAMPLES))
def test_each_layer_lowers_to_its_keras_layer(layer):
    declared, applied, cls = EXAMPLES[layer]
    model = rnndsl.load(f"network N {{\n    {declared}\n    output {applied}\n}}\n").build("N")
    (lowered,) = [l for l in model.layers if not isinstance(l, keras.layers.InputLayer)]
    assert type(lowered) is cls
    x = [np.ones((2,) + tuple(4 if n is None else n for n in t.shape[1:]), t.dtype) for t in model.inputs]
    assert model(x if len(x) > 1 else x[0]).shape[0] == 2


def test_an_unknown_layer_never_reaches_a_builder():
    with pytest.raises(rnndsl.SpecErrors):  # the front end refuses it
        rnndsl.load("network N {\n    input x: vec[3]\n    output Conv1D(2)(x)\n}\n")
    program = rnndsl.load("network N {\n    input x: vec[3]\n    output Dense(2)(x)\n}\n")
    (app,) = [layer.app for _, layer in program.graphs["N"].layers()]
    x = keras.Input((3,))
    assert keras_layer(app, [x], "dense", {}, 1).shape == (None, 2)
    with pytest.raises(AssertionError, match="no lowering for layer Conv1D"):
        keras_layer(replace(app, layer="Conv1D"), [x], "conv", {}, 1)
