"""online: UORO is unbiased, SnAp-1 exact for a diagonal recurrence and close to RTRL for the others.

UORO (float64): one sequence repeated over a batch gives the mean of as many independent estimates (each
sequence of the batch draws its own signs); over 8 such batches the distance of the mean to exact RTRL's
gradient is within 3 of its standard error (measured from the 8 batches) and within a bound on the gradient's
norm. Measured: Elman, 8 x 4,096 estimates: 0.61 standard errors, 0.34% of the norm (bound 2%); the cell of
tests/test_rtrl.py with a learned initial state, a matrix state and a state read two steps back, whose
estimates vary more, 8 x 2,048: 0.92 standard errors, 3.6% of the norm (bound 10%). A bias of SnAp-1's size
on the same Elman cell and sequence (21% of the norm) would fail both by far.

SnAp-1 (float64, batch 2, 6 steps): for IndRNN (its recurrence diagonal) with a Dense readout it equals RTRL
to 1e-10; the cosines to RTRL's gradient on the cells of tests/test_rtrl.py (seed 3) were Elman 0.98682,
LSTM 0.99797, GRU 0.99907, CTRNNEuler 0.99972; CTRNN (its rk4 step mixes every state within one step, so
that its pattern is full) equals RTRL. The compressed form (gathers) equals a dense masked P.
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

from rnndsl.train.online import UORO, SnAp1, snap1_gradients, uoro_gradients  # noqa: E402
from rnndsl.train.rtrl import RTRL, online_gradients, rtrl_gradients  # noqa: E402
from test_rtrl import MEMORY, positive_tau, squared_error  # noqa: E402

STD = Path(__file__).resolve().parent.parent / "specs" / "std"
INPUTS, BATCH, STEPS, UNITS = 3, 2, 6, 4


def flat(grads) -> np.ndarray:
    return np.concatenate([np.ravel(np.asarray(g)) for g in grads])


def cosine(a, b) -> float:
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def data(seed: int, batch: int = BATCH, outputs: int = UNITS):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(batch, STEPS, INPUTS)), rng.normal(size=(batch, STEPS, outputs))


# ---------------------------------------------------------------- SnAp-1


def test_snap1_is_exact_for_a_diagonal_recurrence():
    layer, _ = float64_layer(STD / "indrnn.rnn", "IndRNN", INPUTS, {"units": UNITS}, seed=3)
    readout = keras.layers.Dense(2, dtype="float64")
    readout.build((None, UNITS))
    x, y = data(5, outputs=2)
    run = SnAp1(layer, squared_error, readout)
    assert run.colours == 1 and int(run.pattern.sum()) == run.pattern.shape[1]  # each parameter: one unit
    got = flat(online_gradients(run, x, y))
    want = flat(rtrl_gradients(layer, x, y, squared_error, readout))
    assert np.abs(want).max() > 1e-3
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)


# (cell, file, colours, the pattern's entries: where a parameter touches a state number within one step)
APPROXIMATE = [("Elman", "elman.rnn", 1, 32), ("LSTM", "lstm.rnn", 2, 224), ("GRU", "gru.rnn", 1, 108),
               ("CTRNNEuler", "ctrnn.rnn", 4, 48)]


@pytest.mark.parametrize("cell, file, colours, entries", APPROXIMATE, ids=[a[0] for a in APPROXIMATE])
def test_snap1_is_close_to_rtrl_but_not_equal(cell, file, colours, entries):
    layer, _ = float64_layer(STD / file, cell, INPUTS, {"units": UNITS}, seed=3, draw=positive_tau)
    x, y = data(5)
    run = SnAp1(layer, squared_error)
    assert (run.colours, int(run.pattern.sum())) == (colours, entries)
    got, want = flat(online_gradients(run, x, y)), flat(rtrl_gradients(layer, x, y, squared_error))
    found = cosine(got, want)
    print(f"SnAp-1 {cell}: cosine to RTRL {found:.5f}")
    assert 0.98 < found < 1 - 1e-9, found


def test_snap1_of_a_cell_whose_one_step_mixes_every_state_is_rtrl():
    layer, _ = float64_layer(STD / "ctrnn.rnn", "CTRNN", INPUTS, {"units": UNITS}, seed=3, draw=positive_tau)
    x, y = data(5)
    run = SnAp1(layer, squared_error)
    assert run.pattern.all() and run.colours == UNITS  # rk4's stages carry every parameter to every unit
    np.testing.assert_allclose(flat(snap1_gradients(layer, x, y, squared_error)),
                               flat(rtrl_gradients(layer, x, y, squared_error)), rtol=0, atol=1e-10)


class MaskedRTRL(RTRL):
    """The dense form of SnAp-1, as a reference: RTRL's P, masked by the pattern at every step."""

    def __init__(self, layer, loss, mask):
        super().__init__(layer, loss)
        self.mask = tf.constant(mask, dtype=layer.cell.compute_dtype)

    def reset(self, batch):
        super().reset(batch)
        self.carry = self.carry * self.mask

    def _advance(self, x_t, y_t, states, P):
        loss, flat_grad, head, new, P = super()._advance(x_t, y_t, states, P)
        return loss, flat_grad, head, new, P * self.mask


def test_the_compressed_form_equals_the_dense_masked_one():
    layer, _ = float64_layer(MEMORY, "Memory", INPUTS, {"n": 3}, seed=11)  # two states, a learned initial h
    x, y = data(13, outputs=3)
    run = SnAp1(layer, squared_error)
    assert run.colours > 1
    got = flat(online_gradients(run, x, y))
    want = flat(online_gradients(MaskedRTRL(layer, squared_error, run.pattern), x, y))
    exact = flat(rtrl_gradients(layer, x, y, squared_error))
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)
    assert np.abs(got - exact).max() > 1e-4  # the mask dropped something: the agreement is not RTRL's


# ---------------------------------------------------------------- UORO


@pytest.mark.parametrize("cell, within", [("Elman", 0.02), ("Memory", 0.1)])
def test_uoro_is_unbiased(cell, within):
    if cell == "Elman":
        layer, _ = float64_layer(STD / "elman.rnn", "Elman", INPUTS, {"units": UNITS}, seed=3)
        x, y = data(5, batch=1)
    else:
        layer, _ = float64_layer(MEMORY, "Memory", INPUTS, {"n": 3}, seed=3)
        x, y = data(5, batch=1, outputs=3)
    want = flat(rtrl_gradients(layer, x, y, squared_error))
    copies = 4096 if cell == "Elman" else 2048  # the cell with two states costs more a step
    repeated = np.repeat(x, copies, axis=0), np.repeat(y, copies, axis=0)
    run = UORO(layer, squared_error, seed=0)  # one stepper (traced once): each run draws on from its generator
    means = np.array([flat(online_gradients(run, *repeated)) for _ in range(8)])
    mean, standard_error = means.mean(axis=0), means.std(axis=0, ddof=1) / np.sqrt(len(means))
    distance = np.linalg.norm(mean - want)
    relative = distance / np.linalg.norm(want)
    print(f"UORO {cell}: |mean - RTRL| = {relative:.4f} of |RTRL|, {distance / np.linalg.norm(standard_error):.2f} "
          "standard errors")
    assert distance < 3 * np.linalg.norm(standard_error), (distance, np.linalg.norm(standard_error))
    assert relative < within
    # one estimate alone is far off: the agreement is of the mean
    single = flat(uoro_gradients(layer, x, y, squared_error, seed=0))
    assert np.linalg.norm(single - want) > 0.2 * np.linalg.norm(want)


def test_uoro_repeats_with_its_seed():
    layer, _ = float64_layer(STD / "elman.rnn", "Elman", INPUTS, {"units": UNITS}, seed=3)
    x, y = data(5)
    a, b = (flat(uoro_gradients(layer, x, y, squared_error, seed=4)) for _ in range(2))
    c = flat(uoro_gradients(layer, x, y, squared_error, seed=5))
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 1e-3
