"""The generated LSTM, GRU and Elman cells equal PyTorch's nn.LSTM / nn.GRU / nn.RNN, forward and backward.

PyTorch is a test-only dependency (the dev extra); weights are mapped from the
spec's names to PyTorch's stacked layouts.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402
import torch  # noqa: E402

import rnndsl  # noqa: E402
from rnndsl.keras.cell import cell_rnn  # noqa: E402

STD = Path(__file__).resolve().parents[1] / "specs" / "std"
UNITS, INPUTS = 5, 3


def _stack(w, names):
    return torch.tensor(np.concatenate([w[n] for n in names], axis=0))


MAPPINGS = {
    # PyTorch gate order: LSTM i, f, g, o; GRU r, z, n (n is the spec's candidate h).
    "LSTM": ("lstm.rnn", lambda: torch.nn.LSTM(INPUTS, UNITS, batch_first=True), lambda w: {
        "weight_ih_l0": _stack(w, ["W_i", "W_f", "W_c", "W_o"]),
        "weight_hh_l0": _stack(w, ["U_i", "U_f", "U_c", "U_o"]),
        "bias_ih_l0": _stack(w, ["b_i", "b_f", "b_c", "b_o"]),
        "bias_hh_l0": torch.zeros(4 * UNITS)}),
    "GRU": ("gru.rnn", lambda: torch.nn.GRU(INPUTS, UNITS, batch_first=True), lambda w: {
        "weight_ih_l0": _stack(w, ["W_r", "W_z", "W_h"]),
        "weight_hh_l0": _stack(w, ["U_r", "U_z", "U_h"]),
        "bias_ih_l0": _stack(w, ["bx_r", "bx_z", "bx_h"]),
        "bias_hh_l0": _stack(w, ["bh_r", "bh_z", "bh_h"])}),
    "Elman": ("elman.rnn", lambda: torch.nn.RNN(INPUTS, UNITS, batch_first=True), lambda w: {
        "weight_ih_l0": torch.tensor(w["W"]), "weight_hh_l0": torch.tensor(w["U"]),
        "bias_ih_l0": torch.tensor(w["b"]), "bias_hh_l0": torch.zeros(UNITS)}),
}


@pytest.mark.parametrize("cell", sorted(MAPPINGS))
@pytest.mark.parametrize("steps", [1, 4, 9])
def test_generated_cell_equals_pytorch(cell, steps):
    file, make, mapping = MAPPINGS[cell]
    rng = np.random.default_rng(steps)
    layer = cell_rnn(rnndsl.load(STD / file), cell, input_dim=INPUTS, units=UNITS)
    x = rng.normal(size=(2, steps, INPUTS)).astype("float32")
    layer(x)
    for v in layer.cell.weights_by_name.values():
        v.assign(rng.normal(scale=0.4, size=v.shape).astype("float32"))
    weights = {n: v.numpy() for n, v in layer.cell.weights_by_name.items()}
    probe = rng.normal(size=(2, steps, UNITS)).astype("float32")

    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = layer(xt)
        loss = tf.reduce_sum(y * probe)
    ours_dx, *ours_dw = tape.gradient(loss, [xt] + layer.trainable_weights)

    ref = make()
    with torch.no_grad():
        for name, value in mapping(weights).items():
            getattr(ref, name).copy_(value)
    xp = torch.tensor(x, requires_grad=True)
    yp, _ = ref(xp)
    (yp * torch.tensor(probe)).sum().backward()

    np.testing.assert_allclose(y.numpy(), yp.detach().numpy(), atol=1e-5)
    np.testing.assert_allclose(ours_dx.numpy(), xp.grad.numpy(), atol=1e-5)
    # the input weights' gradients, mapped the same way as the weights
    ours = dict(zip([w.name for w in layer.trainable_weights], [g.numpy() for g in ours_dw]))
    np.testing.assert_allclose(mapping(ours)["weight_ih_l0"].numpy(), ref.weight_ih_l0.grad.numpy(), atol=1e-5)
    np.testing.assert_allclose(mapping(ours)["weight_hh_l0"].numpy(), ref.weight_hh_l0.grad.numpy(), atol=1e-5)
