"""population: P weight sets evaluated in one batched pass give what each gives alone.

A network (an Elman cell under a Dense readout) run by Population for five weight sets equals the model
run five times with each set assigned, outputs and losses; a layer's fixed mask is shared by the members;
an LSTM stepped by Controller one step at a time for three weight sets equals the GeneratedRNN over the
whole sequence with each set; the flat layout round-trips; the refusals, word for word.
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

import rnndsl  # noqa: E402
from rnndsl.keras.cell import cell_rnn  # noqa: E402
from rnndsl.lang.errors import UsageError  # noqa: E402
from rnndsl.program import compile_text  # noqa: E402
from rnndsl.train.population import Controller, Population  # noqa: E402

STD = Path(__file__).resolve().parent.parent / "specs" / "std"
NETWORK = """
import "std/elman.rnn"
network Tiny(units: int = 4) {
    input x: seq[3]
    h = Elman(units, returns=last)(x)
    output Dense(2)(h)
}
"""


def tiny():
    program, errors = compile_text(NETWORK, "tiny.rnn")
    assert not errors
    return program.build("Tiny", fused=False)


def members(population, count, seed):
    return np.random.default_rng(seed).normal(scale=0.7, size=(count, population.dimension))


def test_a_network_population_equals_each_member_alone():
    model = tiny()
    population = Population(model)
    assert population.dimension == 4 * 3 + 4 * 4 + 4 + 4 * 2 + 2
    flat = members(population, 5, 1)
    x = np.random.default_rng(2).normal(size=(6, 7, 3)).astype("float32")
    y = np.random.default_rng(3).normal(size=(6, 2)).astype("float32")
    got = population.outputs(flat, x).numpy()
    losses = population.losses(flat, x, y, "mse")
    assert got.shape == (5, 6, 2) and losses.shape == (5,)
    for i in range(5):
        population.assign(flat[i])
        alone = model(x).numpy()
        np.testing.assert_allclose(got[i], alone, atol=2e-6)
        np.testing.assert_allclose(losses[i], np.mean((alone - y) ** 2), rtol=1e-5)
    # the members differ, so the comparison sees each one's weights
    assert np.abs(got[0] - got[1]).max() > 1e-3
    np.testing.assert_array_equal(population.vector(), flat[4].astype("float32").astype("float64"))


def test_a_layer_with_a_fixed_weight_shares_it_across_the_members():
    layer = cell_rnn(rnndsl.load(STD / "fully_recurrent.rnn"), "FullyRecurrent", input_dim=3, units=4)
    layer.build((None, None, 3))
    layer.cell.weights_by_name["M"].assign(np.tril(np.ones((4, 4))))  # a fixed mask, not searched
    population = Population(layer)
    assert population.dimension == 4 * 3 + 4 * 4 + 4
    flat = members(population, 2, 7)
    x = np.random.default_rng(8).normal(size=(3, 4, 3)).astype("float32")
    got = population.outputs(flat, x).numpy()
    for i in range(2):
        population.assign(flat[i])
        np.testing.assert_allclose(got[i], layer(x).numpy(), atol=2e-6)


def test_a_controller_stepped_for_three_members_equals_the_layer_over_the_sequence():
    layer = cell_rnn(rnndsl.load(STD / "lstm.rnn"), "LSTM", input_dim=3, units=4)
    layer.build((None, None, 3))
    controller = Controller(layer)
    flat = members(controller, 3, 5)
    x = np.random.default_rng(6).normal(size=(2, 5, 3)).astype("float32")

    @tf.function(autograph=False)
    def run(flat):
        weights = controller.split(flat)
        states = controller.initial_state(weights, 2)
        outs = []
        for t in range(5):
            out, states = controller.step(weights, tf.broadcast_to(x[:, t], (3, 2, 3)), states)
            outs.append(out)
        return tf.stack(outs, axis=2)

    got = run(tf.constant(flat)).numpy()
    assert got.shape == (3, 2, 5, 4)
    for i in range(3):
        controller.assign(flat[i])
        np.testing.assert_allclose(got[i], layer(x).numpy(), atol=2e-6)


def test_the_refusals():
    model = tiny()
    population = Population(model)
    with pytest.raises(UsageError) as caught:
        population.outputs(np.zeros((2, 5)), np.zeros((1, 2, 3)))
    assert str(caught.value) == "error: a population of `Tiny` is a matrix (members, 42), given shape (2, 5)"
    with pytest.raises(UsageError) as caught:
        population.assign(np.zeros(3))
    assert str(caught.value) == "error: a weight set of `Tiny` has 42 numbers, given an array of shape (3,)"
    fused = keras.layers.LSTM(4, name="fused")
    fused.build((None, None, 3))
    with pytest.raises(UsageError) as caught:
        Controller(fused)
    assert str(caught.value) == ("error: Controller steps a generated cell, but `fused` is a LSTM: build it with "
                                 "rnndsl.keras.cell.cell_rnn")
    unbuilt = cell_rnn(rnndsl.load(STD / "elman.rnn"), "Elman", input_dim=3, units=4, name="late")
    with pytest.raises(UsageError) as caught:
        Controller(unbuilt)
    assert str(caught.value) == ("error: Controller reads the weights of `late`, which is not built yet: call it "
                                 "on a batch, or build it")
    frozen = keras.layers.Dense(2, trainable=False, name="frozen")
    frozen.build((None, 3))
    with pytest.raises(UsageError) as caught:
        Population(frozen)
    assert str(caught.value) == "error: Population searches the trainable weights of `frozen`, which has none"
