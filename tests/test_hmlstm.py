"""The hierarchical multiscale LSTM of the standard library (Chung, Ahn & Bengio 2017): its gradient, which the
straight-through estimator makes something finite differences cannot see, against the paper's equations
written here by hand in TensorFlow (float64) with the same estimator; and its three operations, forced.

The forward pass against NumPy, the paper's cases written as cases, is tests/test_reference.py's."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from helpers import float64_layer  # noqa: E402

tf = pytest.importorskip("tensorflow")

SPEC = Path(__file__).resolve().parent.parent / "specs" / "std" / "hmlstm.rnn"
UNITS, INPUTS, SLOPE = 3, 2, 1.5


def straight_through(p):
    """1 where p > 0.5, else 0; the gradient passed on unchanged."""
    return p + tf.stop_gradient(tf.cast(p > 0.5, p.dtype) - p)


def by_hand(w: dict, x, slope: float = SLOPE):
    """The two-layer HM-LSTM over x: (batch, T, in) -> (batch, T, 2 units), from zero states, as the paper's
    cases with 0/1 boundaries: FLUSH where z^l[t-1] = 1, UPDATE where z^(l-1)[t] = 1, else COPY."""
    batch = x.shape[0]
    zeros = tf.zeros((batch, UNITS), tf.float64)
    z1 = z2 = tf.zeros((batch, 1), tf.float64)
    c1, h1, c2, h2 = zeros, zeros, zeros, zeros

    def gates(s):
        f, i, o, g = tf.split(s, 4, axis=-1)
        return tf.sigmoid(f), tf.sigmoid(i), tf.sigmoid(o), tf.tanh(g)

    def detect(a):
        return straight_through(tf.clip_by_value((slope * a + 1) / 2, 0.0, 1.0))

    ys = []
    for t in range(x.shape[1]):
        xt = x[:, t]
        f, i, o, g = gates(h1 @ tf.transpose(w["U1"]) + z1 * (h2 @ tf.transpose(w["T1"]))
                           + xt @ tf.transpose(w["W1"]) + w["b1"])
        new_z1 = detect(h1 @ w["u1"][:, None] + z1 * (h2 @ w["t1"][:, None]) + xt @ w["w1"][:, None] + w["bz1"])
        c1 = z1 * (i * g) + (1 - z1) * (f * c1 + i * g)  # layer 1 never copies: z^0 = 1
        h1 = o * tf.tanh(c1)
        f, i, o, g = gates(h2 @ tf.transpose(w["U2"]) + new_z1 * (h1 @ tf.transpose(w["W2"])) + w["b2"])
        new_z2 = detect(h2 @ w["u2"][:, None] + new_z1 * (h1 @ w["w2"][:, None]) + w["bz2"])
        flush, update = z2, (1 - z2) * new_z1
        copy = 1 - flush - update
        c2 = flush * (i * g) + update * (f * c2 + i * g) + copy * c2
        h2 = (flush + update) * (o * tf.tanh(c2)) + copy * h2
        z1, z2 = new_z1, new_z2
        ys.append(tf.concat([h1, h2], axis=-1))
    return tf.stack(ys, axis=1)


def _layer(seed: int, draw=None):
    return float64_layer(SPEC, "HMLSTM", INPUTS, {"units": UNITS, "slope": SLOPE}, seed, draw)


def test_the_gradient_is_the_straight_through_estimators_of_the_papers_equations():
    layer, weights = _layer(0)
    x = tf.constant(np.random.default_rng(1).normal(size=(4, 8, INPUTS)))
    R = tf.constant(np.random.default_rng(2).normal(size=(4, 8, 2 * UNITS)))
    trained = {name: w for name, w in weights.items() if w.trainable}
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        ours = tf.reduce_sum(layer(x) * R)
        theirs = tf.reduce_sum(by_hand({k: w.value for k, w in trained.items()}, x) * R)
    np.testing.assert_allclose(float(ours), float(theirs), rtol=1e-12)
    for name, w in trained.items():
        got, want = tape.gradient(ours, w.value), tape.gradient(theirs, w.value)
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-9, atol=1e-12, err_msg=name)
    np.testing.assert_allclose(tape.gradient(ours, x), tape.gradient(theirs, x), rtol=1e-9, atol=1e-12)
    # the estimator carries gradient to the detectors' weights through the boundaries
    assert float(tf.reduce_sum(tf.abs(tape.gradient(ours, weights["bz1"].value)))) > 0


def test_without_boundaries_the_top_layer_copies_and_with_them_it_updates():
    never = dict(bz1=np.array(-50.0), bz2=np.array(-50.0))
    layer, weights = _layer(3, draw=lambda name, shape, rng: never.get(name))
    x = np.random.default_rng(4).normal(size=(2, 6, INPUTS))
    top = np.asarray(layer(x))[..., UNITS:]
    np.testing.assert_array_equal(top, 0.0)  # COPY at every step: h2 holds its start
    always = dict(bz1=np.array(50.0), bz2=np.array(-50.0))
    layer, _ = _layer(3, draw=lambda name, shape, rng: always.get(name))
    top = np.asarray(layer(x))[..., UNITS:]
    assert np.all(np.abs(np.diff(top, axis=1)) > 0)  # UPDATE at every step
