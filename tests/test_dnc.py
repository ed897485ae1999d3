"""The differentiable neural computer of specs/std/dnc.rnn against its paper's equations (Graves et al. 2016,
Methods), written here in NumPy step by step with loops where the paper has sums and products: the
allocation by sorting the usage, the temporal link matrix with its precedence, two read heads one after
the other with their three read modes. The
lowered cell, in float64, equals the reference at every step and in the gradient of a loss over every output
with respect to every trainable weight (central differences); it trains 200 steps from adversarial starts
without a NaN.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from helpers import float64_layer, gradient_matches_reference, train_without_nan
import rnndsl

tf = pytest.importorskip("tensorflow")

STD = Path(__file__).resolve().parent.parent / "specs" / "std"
SIZES = {"units": 4, "out": 2, "slots": 5, "width": 3, "reads": 2}
INPUTS, BATCH, STEPS = 3, 2, 6


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def oneplus(z):
    return 1 + np.log1p(np.exp(z))


def softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def content(M, k, beta):
    """C(M, k, beta): a softmax over the rows of M of beta times their cosine similarity with k."""
    cos = M @ k / np.maximum(np.linalg.norm(M, axis=1) * np.linalg.norm(k), 1e-8)
    return softmax(beta * cos)


def allocation(u):
    """a[phi_j] = (1 - u[phi_j]) prod_{i<j} u[phi_i], phi the slots by increasing usage (ties: slot order)."""
    a, product = np.zeros_like(u), 1.0
    for j in np.argsort(u, kind="stable"):
        a[j] = (1 - u[j]) * product
        product *= u[j]
    return a


def dnc(p, xs):
    """y `(steps, out)` of one sequence `(steps, in)`; read head i's parameters are `p[name][i]`."""
    n, w, units, heads = SIZES["slots"], SIZES["width"], SIZES["units"], SIZES["reads"]
    h, c, r = np.zeros(units), np.zeros(units), np.zeros((heads, w))
    M, L = np.full((n, w), 1e-6), np.zeros((n, n))
    usage, w_w, w_r, prec = np.zeros(n), np.zeros(n), np.zeros((heads, n)), np.zeros(n)
    ys = []
    for x in xs:
        z = p["W_x"] @ x + p["W_r"] @ r.ravel() + p["W_h"] @ h + p["b_h"]
        zi, zf, zg, zo = np.split(z, 4)
        c = sigmoid(zf) * c + sigmoid(zi) * np.tanh(zg)
        h = sigmoid(zo) * np.tanh(c)
        k_w, beta_w = np.tanh(p["W_kw"] @ h + p["b_kw"]), oneplus(p["v_bw"] @ h + p["b_bw"])
        erase, write = sigmoid(p["W_e"] @ h + p["b_e"]), p["W_v"] @ h + p["b_v"]
        g_a, g_w = (sigmoid(p[f"v_{g}"] @ h + p[f"b_{g}"]) for g in ("ga", "gw"))
        retention = np.ones(n)
        for i in range(heads):  # w_r: the last step's
            retention *= 1 - sigmoid(p["v_f"][i] @ h + p["b_f"][i]) * w_r[i]
        usage = (usage + w_w - usage * w_w) * retention  # w_w: the last step's
        w_w = g_w * (g_a * allocation(usage) + (1 - g_a) * content(M, k_w, beta_w))
        M = M * (1 - np.outer(w_w, erase)) + np.outer(w_w, write)
        new_L = np.zeros((n, n))
        for i in range(n):
            for j in range(n):
                if i != j:
                    new_L[i, j] = (1 - w_w[i] - w_w[j]) * L[i, j] + w_w[i] * prec[j]
        L = new_L
        prec = (1 - w_w.sum()) * prec + w_w
        new_w_r = np.zeros((heads, n))
        for i in range(heads):
            k_r, beta_r = np.tanh(p["W_kr"][i] @ h + p["b_kr"][i]), oneplus(p["v_br"][i] @ h + p["b_br"][i])
            pi_b, pi_c, pi_f = softmax(p["W_pi"][i] @ h + p["b_pi"][i])
            forward, backward = L @ w_r[i], L.T @ w_r[i]
            new_w_r[i] = pi_b * backward + pi_c * content(M, k_r, beta_r) + pi_f * forward
        w_r = new_w_r
        r = w_r @ M  # row i: M^T w_r[i]
        ys.append(p["W_y"] @ np.concatenate([h, r.ravel()]) + p["b_y"])
    return np.stack(ys)


def _layer(seed: int):
    """The lowered cell in float64 with random weights (the fixed ones kept), and its weights by name."""
    return float64_layer(STD / "dnc.rnn", "DNC", INPUTS, SIZES, seed)


def _xs(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(BATCH, STEPS, INPUTS))


def test_the_memory_is_the_paper_s_at_every_step():
    layer, weights = _layer(0)
    xs = _xs(1)
    got = np.asarray(layer(xs))
    params = {n: np.array(w.numpy()) for n, w in weights.items()}  # 0-d arrays: changed in place
    for b in range(BATCH):
        np.testing.assert_allclose(got[b], dnc(params, xs[b]), rtol=1e-10, atol=1e-12)


def test_the_gradient_is_the_paper_s():
    layer, weights = _layer(2)
    gradient_matches_reference(layer, weights, _xs(3), dnc, seed=4)


def test_trains_200_steps_from_adversarial_starts_without_nan():
    import keras

    from rnndsl.keras.cell import cell_rnn

    keras.utils.set_random_seed(0)
    layer = cell_rnn(rnndsl.load(STD / "dnc.rnn"), "DNC", input_dim=4, units=16, out=4, slots=8, width=6,
                      reads=2)
    model = keras.Sequential([keras.Input((8, 4)), layer])
    weights = layer.cell.weights_by_name
    for name in ("b_br", "b_bw"):  # content weightings sharp as a one-hot: their gradients vanish or explode
        weights[name].assign(np.full(weights[name].shape, 60.0))
    for name in ("b_f", "b_ga", "b_gw"):
        weights[name].assign(np.full(weights[name].shape, -30.0))  # gates shut
    x = np.random.default_rng(0).integers(0, 2, (16, 8, 4)).astype("float32")
    losses = train_without_nan(model, x, x[:, ::-1], keras.losses.MeanSquaredError(), keras.optimizers.Adam(0.05))
    assert losses[-1] < losses[0]
    np.testing.assert_array_equal(weights["one"].numpy(), 1.0)  # fixed: not trained
    np.testing.assert_array_equal(weights["I"].numpy(), np.eye(8))
