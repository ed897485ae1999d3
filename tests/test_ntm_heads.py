"""The neural Turing machine with an LSTM controller and separate read and write heads (NTMLSTM of
specs/std/ntm.rnn) against its paper's equations (Graves, Wayne & Danihelka 2014, sections 3.1 to 3.3),
written here in NumPy step by step, with loops where the paper has sums: the cosine similarity, the circular
convolution over the shifts, the sharpening, the erase and the add, the read. The lowered cell, in float64,
equals the reference at every step and in the gradient of a loss over every output with respect to every
trainable weight (central differences); it trains 200 steps from adversarial starts (negative start
weightings, sharpening exponents of about 51, sharp content weightings) without a NaN, and `constrain
nonneg` makes both start weightings non-negative from the first step.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from helpers import float64_layer, gradient_matches_reference, train_without_nan
import rnndsl

tf = pytest.importorskip("tensorflow")

STD = Path(__file__).resolve().parent.parent / "specs" / "std"
SIZES = {"controller": 4, "slots": 5, "width": 3, "shifts": 3}
INPUTS, BATCH, STEPS = 3, 2, 6
COSINE_EPS = 1e-8  # the cosine divides by max(|a| |b|, this), as docs/language.md says


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def softplus(z):
    return np.log1p(np.exp(z))


def softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def cosine(M, k):
    """K[M[i], k] = M[i] . k / (|M[i]| |k|) for each row i (eq. 6)."""
    out = np.zeros(M.shape[0])
    for i in range(M.shape[0]):
        dot = sum(M[i, j] * k[j] for j in range(len(k)))
        norms = math.sqrt(sum(m * m for m in M[i])) * math.sqrt(sum(v * v for v in k))
        out[i] = dot / max(norms, COSINE_EPS)
    return out


def rotate(w, s):
    """Eq. 8, w_s[i] = sum_j w[i - j] s[j], the shifts j = -K//2 .. K//2 in the entries 0 .. K-1 of s, indices
    mod N: w_s[i] = sum_j w[(i - j + K//2) mod N] s[j] (entry j of s moves a weighting j - K//2 slots up)."""
    n, k = len(w), len(s)
    return np.array([sum(w[(i - j + k // 2) % n] * s[j] for j in range(k)) for i in range(n)])


def sharpen(w, gamma):
    """Eq. 9, w[i] ** gamma / sum_j w[j] ** gamma, with each power divided by the largest (no underflow)."""
    top = max(w)
    powers = [(v / top) ** gamma for v in w]
    return np.array([p / sum(powers) for p in powers])


def address(p, head, h, M, w_prev):
    """One head's weighting (section 3.3): content, interpolation, rotation, sharpening."""
    key = np.tanh(p[f"W_k_{head}"] @ h + p[f"b_k_{head}"])
    beta = softplus(p[f"v_beta_{head}"] @ h + p[f"b_beta_{head}"])
    g = sigmoid(p[f"v_g_{head}"] @ h + p[f"b_g_{head}"])
    s = softmax(p[f"W_s_{head}"] @ h + p[f"b_s_{head}"])
    gamma = 1 + softplus(p[f"v_gamma_{head}"] @ h + p[f"b_gamma_{head}"])
    w_c = softmax(beta * cosine(M, key))  # eq. 5
    w_g = g * w_c + (1 - g) * w_prev  # eq. 7
    return sharpen(rotate(w_g, s), gamma)


def ntm(p, xs):
    """y `(steps, controller + width)` of one sequence `(steps, in)`."""
    n, width, units = SIZES["slots"], SIZES["width"], SIZES["controller"]
    h, c, r = np.zeros(units), np.zeros(units), np.zeros(width)
    M = np.full((n, width), 1e-6)
    w_w, w_r = p["w0_w"].copy(), p["w0_r"].copy()
    ys = []
    for x in xs:
        z = p["W_x"] @ x + p["W_r"] @ r + p["W_h"] @ h + p["b_h"]
        zi, zf, zg, zo = np.split(z, 4)
        c = sigmoid(zf) * c + sigmoid(zi) * np.tanh(zg)
        h = sigmoid(zo) * np.tanh(c)
        erase = sigmoid(p["W_e"] @ h + p["b_e"])
        add = np.tanh(p["W_a"] @ h + p["b_a"])
        w_w = address(p, "w", h, M, w_w)  # both heads from the old memory
        w_r = address(p, "r", h, M, w_r)
        new_M = np.zeros_like(M)
        for i in range(n):
            for j in range(width):
                erased = M[i, j] * (1 - w_w[i] * erase[j])  # eq. 3
                new_M[i, j] = erased + w_w[i] * add[j]  # eq. 4
        M = new_M
        r = np.array([sum(w_r[i] * M[i, j] for i in range(n)) for j in range(width)])  # eq. 2
        ys.append(np.concatenate([h, r]))
    return np.stack(ys)


def _start_weighting(name, shape, rng):
    """A start weighting drawn positive (the paper's powers need w > 0); other weights as the helper draws them."""
    return rng.uniform(0.05, 1.0, size=shape) if name.startswith("w0_") else None


def _layer(seed: int):
    """The lowered cell in float64 with random weights (start weightings positive), and its weights by name."""
    layer, weights = float64_layer(STD / "ntm.rnn", "NTMLSTM", INPUTS, SIZES, seed, draw=_start_weighting)
    assert all(w.trainable for w in weights.values())  # no fixed weights in this cell
    return layer, weights


def _xs(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(BATCH, STEPS, INPUTS))


def test_the_cell_has_two_heads_with_weights_and_start_weightings_of_their_own():
    layer, weights = _layer(0)
    heads = {name[:-2] for name in weights if name.endswith(("_w", "_r")) and name != "W_r"}  # W_r: reads r
    assert heads == {"W_k", "b_k", "W_s", "b_s", "v_beta", "b_beta", "v_g", "b_g", "v_gamma", "b_gamma", "w0"}
    assert all(f"{n}_w" in weights and f"{n}_r" in weights for n in heads)
    assert {"W_e", "b_e", "W_a", "b_a"} <= set(weights)  # erase and add: the write head's only
    c, w, n = SIZES["controller"], SIZES["width"], SIZES["slots"]
    assert layer.cell.state_size == [c, c, n, n, n * w, w]  # c, h, w_w, w_r, M (flattened), r


def test_the_memory_is_the_paper_s_at_every_step():
    layer, weights = _layer(0)
    xs = _xs(1)
    got = np.asarray(layer(xs))
    params = {n: np.array(w.numpy()) for n, w in weights.items()}  # 0-d arrays: changed in place
    assert got.shape == (BATCH, STEPS, SIZES["controller"] + SIZES["width"])
    for b in range(BATCH):
        want = ntm(params, xs[b])
        assert np.abs(want[:, SIZES["controller"]:]).max() > 1e-2  # the reads are not the start's 1e-6
        np.testing.assert_allclose(got[b], want, rtol=1e-10, atol=1e-12)


def test_the_gradient_is_the_paper_s():
    layer, weights = _layer(2)
    gradient_matches_reference(layer, weights, _xs(3), ntm, seed=4, every_weight=True)


def test_trains_200_steps_from_adversarial_starts_without_nan():
    import keras

    from rnndsl.keras.cell import cell_rnn

    keras.utils.set_random_seed(0)
    layer = cell_rnn(rnndsl.load(STD / "ntm.rnn"), "NTMLSTM", input_dim=4, controller=8, slots=6, width=3)
    model = keras.Sequential([keras.Input((6, 4)), layer, keras.layers.Dense(4)])
    weights = layer.cell.weights_by_name
    w0 = np.full(6, 0.2, "float32")
    w0[1:4] = -0.05  # what Adam once made of an unconstrained start
    for head in ("w", "r"):
        weights[f"w0_{head}"].assign(w0)  # by assign: the constraint applies at the optimizer's step
        weights[f"b_gamma_{head}"].assign(50.0)  # gamma about 51: sharpening a diffuse weighting underflows
        weights[f"b_beta_{head}"].assign(60.0)  # content weightings sharp as a one-hot
    x = np.random.default_rng(0).integers(0, 2, (16, 6, 4)).astype("float32")
    y = x[:, ::-1]  # reverse the sequence: the heads must address
    optimizer = keras.optimizers.Adam(1e-2)
    mse = keras.losses.MeanSquaredError()

    first = train_without_nan(model, x, y, mse, optimizer, steps=1)
    for head in ("w", "r"):
        assert (weights[f"w0_{head}"].numpy() >= 0).all(), head  # `constrain nonneg` from the first step
    losses = first + train_without_nan(model, x, y, mse, optimizer, steps=199)
    assert len(losses) == 200 and losses[-1] < losses[0]
    for head in ("w", "r"):
        assert (weights[f"w0_{head}"].numpy() >= 0).all(), head
