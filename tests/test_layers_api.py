"""Layers from Python: `Program.layer` (a Keras layer of a cell or a network), `Program.cell` (a Keras RNN
cell for `keras.layers.RNN`), and a cell's model giving every output."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from pathlib import Path  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import rnndsl  # noqa: E402
from rnndsl.keras.cell import GeneratedCell, GeneratedRNN  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
STD = ROOT / "specs" / "std"
SPEC = """
import "std/lstm.rnn"
import "std/elman.rnn"
import "std/ntm.rnn"
import "std/treelstm.rnn"
import "std/mtrnn.rnn"
network Tagger(units: int = 6) {
    input x: seq[3]
    output Dense(2)(LSTM(units)(x))
}
"""


@pytest.fixture(scope="module")
def program():
    return rnndsl.load(SPEC)


def _x(steps: int = 5, features: int = 3, seed: int = 0):
    return np.random.default_rng(seed).normal(size=(2, steps, features)).astype("float32")


def test_a_cell_layer_in_ones_own_model(program):
    """Keras's own LSTM on the fused path, a generated layer off it; either trains inside a user's model."""
    fused = program.layer("LSTM", units=4, input_size=3)
    generated = program.layer("LSTM", units=4, input_size=3, fused=False)
    assert isinstance(fused, keras.layers.LSTM) and isinstance(generated, GeneratedRNN)
    for layer in (fused, generated):
        x = keras.Input((None, 3))
        model = keras.Model(x, keras.layers.Dense(1)(layer(x)))
        model.compile(optimizer="adam", loss="mse")
        assert np.isfinite(model.train_on_batch(_x(), np.zeros((2, 5, 1), "float32")))
    last = program.layer("Elman", units=4, input_size=3, return_sequences=False)
    assert tuple(last(_x()).shape) == (2, 4)


def test_a_networks_layer_is_its_model(program):
    layer = program.layer("Tagger", units=5)
    assert isinstance(layer, keras.Model) and tuple(layer(_x()).shape) == (2, 5, 2)


def test_a_cell_in_keras_rnn_is_the_generated_layer():
    """The NTM's generated layer moves work before the loop (a cell with a memory); `Program.cell` reads its
    inputs as they are, and `keras.layers.RNN` over it gives the same outputs with the same weights."""
    program = rnndsl.load(STD / "ntm.rnn")
    sizes = dict(controller=8, slots=6, width=4)
    layer = program.layer("NTM", input_size=3, **sizes)
    assert layer.cell.plan.frontier != list(layer.cell.G.signature.inputs)  # hoisted
    cell = program.cell("NTM", input_size=3, **sizes)
    assert isinstance(cell, GeneratedCell) and cell.plan.frontier == list(cell.G.signature.inputs)
    rnn = keras.layers.RNN(cell, return_sequences=True)
    x = _x()
    expected = layer(x)
    rnn(x)
    for name, w in cell.weights_by_name.items():
        w.assign(layer.cell.weights_by_name[name])
    np.testing.assert_allclose(rnn(x).numpy(), expected.numpy(), atol=1e-6)


def test_a_cell_alone_gives_every_output(program, tmp_path):
    """The MTRNN outputs its fast and its slow units: the cell's model gives both, and saves and reloads."""
    model = program.build("MTRNN", input_size=3, fast=4, slow=2)
    fast, slow = model(_x())
    assert tuple(fast.shape) == (2, 5, 4) and tuple(slow.shape) == (2, 5, 2)
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras")
    for a, b in zip(again(_x()), (fast, slow)):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6)


def test_layer_and_cell_errors(program):
    with pytest.raises(rnndsl.UsageError, match="^error: `Tagger` is a network: its inputs and outputs are "
                                                "declared; input_size and return_sequences are for a cell$"):
        program.layer("Tagger", input_size=3)
    with pytest.raises(rnndsl.UsageError, match="^error: `Tagger` is a network, not a cell: `layer` gives a "
                                                "network's layer$"):
        program.cell("Tagger")
    with pytest.raises(rnndsl.UsageError, match="^error: `ChildSumTreeLSTM` runs over trees, not sequences: it "
                                                "has no cell for keras.layers.RNN$"):
        program.cell("ChildSumTreeLSTM", units=4, input_size=3)
    with pytest.raises(rnndsl.UsageError, match=r"^error: `ChildSumTreeLSTM` runs over trees, not sequences: "
                                                r"build it \(Program.build\) for a tree layer$"):
        program.layer("ChildSumTreeLSTM", units=4, input_size=3)
    with pytest.raises(rnndsl.UsageError, match="^error: no cell or network named `LTSM`"):
        program.layer("LTSM")
    with pytest.raises(rnndsl.UsageError, match="^error: cell `LSTM` reads inputs whose size"):
        program.cell("LSTM", units=4)
