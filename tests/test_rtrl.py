"""rtrl: exact real-time recurrent learning equals BPTT with the weights held fixed.

For the standard library's Elman, LSTM, GRU, IndRNN and CTRNN cells, a cell with a matrix state, a state read
two steps back, a learned initial state and an output that is no state, and a cell under a Dense readout, the
gradient that RTRL accumulates over a sequence (float64, batch 2) equals tf.GradientTape's over the whole
unrolled layer to 1e-5; the online form's chunks add up to it; the memory figure and the refusal above the
limit, word for word.
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from helpers import float64_layer  # noqa: E402

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

import rnndsl  # noqa: E402
from rnndsl.keras.cell import GeneratedRNN, cell_rnn  # noqa: E402
from rnndsl.lang.errors import UsageError  # noqa: E402
from rnndsl.train.rtrl import (MAX_SENSITIVITIES, RTRL, rtrl_gradients, rtrl_online,  # noqa: E402
                               sensitivity_count)

STD = Path(__file__).resolve().parent.parent / "specs" / "std"
INPUTS, BATCH, STEPS, UNITS = 3, 2, 6, 4

# A cell whose states are a vector read one and two steps back and a matrix, whose initial h is a learned
# parameter, and whose output is a value computed from them, not a state.
MEMORY = """
cell Memory(n: int) {
    input x: [in]
    param W: [n, in] ~ glorot_uniform
    param A: [n, n] ~ orthogonal
    param V: [n, n] ~ glorot_uniform
    param h0: [n] = 0
    state h: [n] = h0
    state M: [n, n] = 0.1
    M[t] = tanh(0.9 * M[t-1] + outer(h[t-1], W @ x[t]))
    h[t] = tanh(A @ h[t-1] + 0.5 * h[t-2] + M[t-1] @ x2[t])
    x2[t] = tanh(W @ x[t])
    y[t] = sigmoid(V @ h[t] + M[t] @ h[t-1])
    output y
}
"""


def squared_error(y_true, y_pred):
    """Per sequence: (batch,)."""
    return tf.reduce_sum((y_true - y_pred) ** 2, axis=-1)


def positive_tau(name, shape, rng):
    """CTRNN's time constants, kept positive as its constraint would keep them."""
    return rng.uniform(0.5, 1.5, size=shape) if name == "tau" else None


def bptt(layer, x, y, loss, readout=None):
    """The reference: the loss summed over steps of its batch mean, and its gradient by tf.GradientTape over
    the whole unrolled layer (and readout)."""
    weights = layer.trainable_weights + (readout.trainable_weights if readout is not None else [])
    with tf.GradientTape() as tape:
        out = layer(x)
        pred = readout(out) if readout is not None else out
        total = tf.add_n([tf.reduce_mean(loss(y[:, t], pred[:, t])) for t in range(x.shape[1])])
    return total, tape.gradient(total, weights)


def agreement(got, want) -> tuple:
    """(max abs difference, max relative difference) over every weight's gradient; each `want` is not zero."""
    worst_abs = worst_rel = 0.0
    for g, w in zip(got, want):
        g, w = np.asarray(g), np.asarray(w)
        assert g.shape == w.shape
        assert np.abs(w).max() > 1e-6, "a weight the loss does not reach: the comparison would prove nothing"
        worst_abs = max(worst_abs, float(np.abs(g - w).max()))
        worst_rel = max(worst_rel, float((np.abs(g - w) / np.maximum(np.abs(w), 1e-12)).max()))
    return worst_abs, worst_rel


def data(seed: int, outputs: int = UNITS):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(BATCH, STEPS, INPUTS)), rng.normal(size=(BATCH, STEPS, outputs))


CELLS = {"Elman": "elman.rnn", "LSTM": "lstm.rnn", "GRU": "gru.rnn", "IndRNN": "indrnn.rnn", "CTRNN": "ctrnn.rnn"}


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_rtrl_gradient_equals_bptt(cell):
    layer, _ = float64_layer(STD / CELLS[cell], cell, INPUTS, {"units": UNITS}, seed=3, draw=positive_tau)
    x, y = data(5)
    got = rtrl_gradients(layer, x, y, squared_error)
    _, want = bptt(layer, x, y, squared_error)
    assert len(got) == len(layer.trainable_weights)
    worst_abs, worst_rel = agreement(got, want)
    assert worst_abs < 1e-5, (cell, worst_abs, worst_rel)


def test_matrix_state_two_step_delay_learned_start_and_an_output_that_is_no_state():
    layer, weights = float64_layer(MEMORY, "Memory", INPUTS, {"n": 3}, seed=11)
    assert layer.cell.state_size == [9, 6]  # M is 3 x 3; h, read two steps back, keeps its last two values
    x, y = data(13, outputs=3)
    got = rtrl_gradients(layer, x, y, squared_error)
    _, want = bptt(layer, x, y, squared_error)
    names = [w.name for w in layer.trainable_weights]
    assert "h0" in names  # reached only through the initial state: P[0] is not zero
    worst_abs, _ = agreement(got, want)
    assert worst_abs < 1e-5


def test_a_readout_gets_its_gradient_directly():
    layer, _ = float64_layer(STD / "gru.rnn", "GRU", INPUTS, {"units": UNITS}, seed=17)
    readout = keras.layers.Dense(5, dtype="float64")
    readout.build((None, UNITS))
    readout.set_weights([np.random.default_rng(19).normal(size=(UNITS, 5)), np.full(5, 0.1)])
    x = np.random.default_rng(23).normal(size=(BATCH, STEPS, INPUTS))
    labels = np.random.default_rng(29).integers(0, 5, size=(BATCH, STEPS))

    def cross_entropy(y_true, y_pred):
        return keras.losses.sparse_categorical_crossentropy(y_true, y_pred, from_logits=True)

    got = rtrl_gradients(layer, x, labels, cross_entropy, readout=readout)
    _, want = bptt(layer, x, labels, cross_entropy, readout)
    assert len(got) == len(layer.trainable_weights) + 2  # the Dense kernel and bias come last
    worst_abs, _ = agreement(got, want)
    assert worst_abs < 1e-5


def test_online_chunks_add_up_to_the_whole_and_the_loss():
    layer, _ = float64_layer(STD / "lstm.rnn", "LSTM", INPUTS, {"units": UNITS}, seed=31)
    x, y = data(37)
    x, y = x[:, :5], y[:, :5]
    chunks = list(rtrl_online(layer, x, y, squared_error, every=2))
    assert [c.steps for c in chunks] == [2, 4, 5]
    total, want = bptt(layer, x, y, squared_error)
    np.testing.assert_allclose(sum(float(c.loss) for c in chunks), float(total), rtol=1e-12)
    summed = [sum(np.asarray(c.gradients[i]) for c in chunks) for i in range(len(want))]
    assert agreement(summed, want)[0] < 1e-5
    # the first chunk is the gradient of the first two steps' losses alone
    _, first = bptt(layer, x[:, :2], y[:, :2], squared_error)
    assert agreement(chunks[0].gradients, first)[0] < 1e-5


def test_online_steps_read_the_weights_as_they_are_updated():
    layer, weights = float64_layer(STD / "elman.rnn", "Elman", INPUTS, {"units": UNITS}, seed=41)
    x, y = data(43)
    run = RTRL(layer, squared_error)
    run.reset(BATCH)
    first, _ = run.step(x[:, 0], y[:, 0])
    run.reset(BATCH)
    weights["W"].assign(weights["W"] * 2.0)
    again, _ = run.step(x[:, 0], y[:, 0])
    assert abs(float(first) - float(again)) > 1e-3


def test_the_memory_figure_and_the_refusal_above_the_limit():
    lstm, _ = float64_layer(STD / "lstm.rnn", "LSTM", INPUTS, {"units": UNITS}, seed=1)
    elman, _ = float64_layer(STD / "elman.rnn", "Elman", INPUTS, {"units": UNITS}, seed=1)
    assert sensitivity_count(lstm) == 8 * 4 * (4 * 3 + 4 * 4 + 4)  # states h, c; W_*, U_*, b_* of 4 gates
    assert sensitivity_count(elman) == 4 * (4 * 3 + 4 * 4 + 4)
    x, y = data(2)
    with pytest.raises(UsageError) as caught:
        rtrl_gradients(lstm, x, y, squared_error, limit=2000)
    assert str(caught.value) == (
        "error: exact RTRL of `LSTM` carries 8 state numbers x 128 parameters x a batch of 2 = 2,048 sensitivities "
        "(0.0 MiB in float32), over the limit of 2,000 (rnndsl.train.rtrl.MAX_SENSITIVITIES): use fewer units or a "
        "smaller batch, or train by BPTT")
    assert len(rtrl_gradients(lstm, x, y, squared_error, limit=2048)) == 12  # at the limit it runs
    big = cell_rnn(rnndsl.load(STD / "lstm.rnn"), "LSTM", input_dim=128, units=128)
    big.build((None, None, 128))
    assert sensitivity_count(big) * 1 > MAX_SENSITIVITIES
    with pytest.raises(UsageError) as caught:
        RTRL(big, squared_error).reset(1)
    assert str(caught.value) == (
        "error: exact RTRL of `LSTM` carries 256 state numbers x 131,584 parameters x a batch of 1 = 33,685,504 "
        "sensitivities (128.5 MiB in float32), over the limit of 33,554,432 (rnndsl.train.rtrl.MAX_SENSITIVITIES): "
        "use fewer units or a smaller batch, or train by BPTT")


def test_a_layer_that_is_not_a_generated_cell_or_runs_backward_is_refused():
    fused = keras.layers.LSTM(4, return_sequences=True, name="fused")
    fused.build((None, None, 3))
    with pytest.raises(UsageError) as caught:
        sensitivity_count(fused)
    assert str(caught.value) == ("error: RTRL runs a generated cell one step at a time, but `fused` is a LSTM: "
                                 "build it with rnndsl.keras.cell.cell_rnn")
    layer = cell_rnn(rnndsl.load(STD / "elman.rnn"), "Elman", input_dim=3, units=4)
    backward = GeneratedRNN(layer.cell, return_sequences=True, go_backwards=True, name="back")
    backward.build((None, None, 3))
    with pytest.raises(UsageError) as caught:
        RTRL(backward, squared_error)
    assert str(caught.value) == ("error: RTRL carries its sensitivities forward in time, but `back` reads its "
                                 "sequences backward: reverse them before, and give go_backwards=False")
