"""The grid benchmark of `make bench`: rnndsl's Row LSTM and Diagonal BiLSTM against the same layers written by hand.

The hand-written layers are what a Keras user writes from the PixelRNN paper (van den Oord, Kalchbrenner &
Kavukcuoglu 2016, section 3) with its equations as specs/std/grid.rnn writes them:
  Row LSTM: the input-to-state part (a 1 x 3 convolution masked to the pixel and the one to its left) for
      the whole image at once, then one row at a time, the state-to-state part a 1-D convolution of width 3
      over the row above's hidden state;
  Diagonal BiLSTM: the input-to-state part (1 x 1) for the whole image at once, skewed so that each
      diagonal is a column; one column at a time, the state-to-state part a convolution of kernel 2 x 1 over
      the previous column (positions that the skew pads are held at 0); unskewed; the second direction over
      the image mirrored left to right, mirrored back and shifted down a row, the two added.
Both hold the spec model's weights (copied in), and `differences` checks that they compute the same loss,
outputs and gradients on one batch.

Timed, in one process, the models taking turns, the median of a full training step (forward, backward, Adam)
after warm-up, each model compiled without and with XLA (`jit_compile`): 64 images of 16 x 16 with 16
features a pixel, 32 units, then Dense(1, sigmoid) at every pixel, binary cross-entropy.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import argparse  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import ops  # noqa: E402

import rnndsl  # noqa: E402
import memory  # noqa: E402 -- bench/memory.py, beside this file: its timing and tables

IMAGES, SIDE, FEATURES, UNITS = 64, 16, 16, 32
GATES = ("o", "f", "i", "g")  # the order of the spec's equations, and of the hand-written layers' gate blocks
LAYERS = {"row": "RowLSTM(units)", "diagonal": "Bidirectional(DiagonalLSTM(units), merge=sum)"}
SPEC = 'import "std/grid.rnn"\n' + "".join(
    f'network {kind.capitalize()}(units: int = {UNITS}) {{\n    input x: grid[{SIDE}, {SIDE}, {FEATURES}]\n'
    f'    output Dense(1, activation=sigmoid)({layer}(x))\n}}\n' for kind, layer in LAYERS.items())


def _gates(z, c_before):
    """The LSTM update of the gates' pre-activations `z` (..., 4 units) in GATES order and the previous cell
    state: (h, c)."""
    o, f, i, g = ops.split(z, 4, axis=-1)
    c = ops.sigmoid(f) * c_before + ops.sigmoid(i) * ops.tanh(g)
    return ops.sigmoid(o) * ops.tanh(c), c


class HandRowLSTM(keras.layers.Layer):
    """Row LSTM: (batch, H, W, d) -> (batch, H, W, units)."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        d, n = input_shape[-1], 4 * self.units
        self.input_kernel = self.add_weight(shape=(2, d, n), name="input_kernel")  # taps j-1, j
        self.state_kernel = self.add_weight(shape=(3, self.units, n), name="state_kernel")  # taps j-1, j, j+1
        self.bias = self.add_weight(shape=(n,), name="bias", initializer="zeros")

    def call(self, x):
        left = ops.pad(x, [[0, 0], [0, 0], [1, 0], [0, 0]])[:, :, :-1]
        z_input = ops.matmul(left, self.input_kernel[0]) + ops.matmul(x, self.input_kernel[1]) + self.bias
        h = c = ops.zeros((ops.shape(x)[0], x.shape[2], self.units), x.dtype)
        rows = []
        for z_row in ops.unstack(z_input, axis=1):  # (one op, whose gradient is one op; slices' are one a row)
            z = z_row + ops.conv(h, self.state_kernel, padding="same")
            h, c = _gates(z, c)
            rows.append(h)
        return ops.stack(rows, axis=1)


def skew(x):
    """(batch, H, W, d) -> (batch, H, W + H - 1, d): row i moved i columns right, so that each anti-diagonal
    i + j = s is the column s (the rest 0)."""
    _, height, width, d = x.shape
    flat = ops.reshape(ops.pad(x, [[0, 0], [0, 0], [0, height], [0, 0]]), (-1, height * (width + height), d))
    return ops.reshape(flat[:, :-height], (-1, height, width + height - 1, d))


def unskew(x, width: int):
    """skew's inverse: (batch, H, W + H - 1, d) -> (batch, H, W, d)."""
    _, height, skewed, d = x.shape
    flat = ops.pad(ops.reshape(x, (-1, height * skewed, d)), [[0, 0], [0, height], [0, 0]])
    return ops.reshape(flat, (-1, height, skewed + 1, d))[:, :, :width]


class HandDiagonalLSTM(keras.layers.Layer):
    """One direction of the Diagonal BiLSTM, from the top-left corner: (batch, H, W, d) -> (batch, H, W, units)."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        d, n = input_shape[-1], 4 * self.units
        self.input_kernel = self.add_weight(shape=(d, n), name="input_kernel")
        self.state_kernel = self.add_weight(shape=(2 * self.units, n), name="state_kernel")  # [above; left]
        self.bias = self.add_weight(shape=(n,), name="bias", initializer="zeros")

    def call(self, x):
        _, height, width, _ = x.shape
        z_input = skew(ops.matmul(x, self.input_kernel) + self.bias)
        # which positions of each skewed column are in the image: i <= s < i + W
        i, s = np.arange(height)[:, None], np.arange(width + height - 1)[None, :]
        inside = ops.convert_to_tensor(((s >= i) & (s < i + width)).astype("float32")[None, :, :, None])
        h = c = ops.zeros((ops.shape(x)[0], height, self.units), x.dtype)
        columns = []
        for z_column, kept in zip(ops.unstack(z_input, axis=2), ops.unstack(inside, axis=2)):
            above = ops.pad(h, [[0, 0], [1, 0], [0, 0]])[:, :-1]
            z = z_column + ops.matmul(ops.concatenate([above, h], axis=-1), self.state_kernel)
            h, c = _gates(z, c)
            h, c = h * kept, c * kept
            columns.append(h)
        return unskew(ops.stack(columns, axis=2), width)


class HandDiagonalBiLSTM(keras.layers.Layer):
    """Two HandDiagonalLSTMs, the second over the image mirrored left to right, its output mirrored back and
    shifted down a row; added. (batch, H, W, d) -> (batch, H, W, units)."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.forward, self.backward = HandDiagonalLSTM(units), HandDiagonalLSTM(units)

    def call(self, x):
        mirrored = ops.flip(self.backward(ops.flip(x, axis=2)), axis=2)
        return self.forward(x) + ops.pad(mirrored, [[0, 0], [1, 0], [0, 0], [0, 0]])[:, :-1]


def spec_model(kind: str, jit: bool) -> keras.Model:
    model = rnndsl.load(SPEC).build(kind.capitalize())
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy", jit_compile=jit)
    return model


def hand_model(kind: str, jit: bool) -> keras.Model:
    x = keras.Input((SIDE, SIDE, FEATURES))
    layer = HandRowLSTM(UNITS) if kind == "row" else HandDiagonalBiLSTM(UNITS)
    model = keras.Model(x, keras.layers.Dense(1, activation="sigmoid")(layer(x)))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy", jit_compile=jit)
    return model


def _stack(weights: dict, pattern: str):
    """The spec's per-gate matrices `[units, in]` named by `pattern` (with {g} for the gate), side by side
    in GATES order, as `[in, 4 units]`."""
    return np.concatenate([weights[pattern.format(g=g)].numpy().T for g in GATES], axis=1)


def _bias(weights: dict):
    return np.concatenate([weights[f"b_{g}"].numpy() for g in GATES])


def copy_weights(kind: str, spec: keras.Model, hand: keras.Model) -> None:
    """Give the hand-written model the spec model's weights."""
    grids = [layer for layer in spec.layers if hasattr(layer, "weights_by_name") or hasattr(layer, "layer")]
    hand_layer = hand.layers[1]
    if kind == "row":
        w = grids[0].weights_by_name
        hand_layer.set_weights([np.stack([_stack(w, "W_l{g}"), _stack(w, "W_c{g}")]),
                                np.stack([_stack(w, "U_l{g}"), _stack(w, "U_c{g}"), _stack(w, "U_r{g}")]), _bias(w)])
    else:
        for grid, half in zip(grids, (hand_layer.forward, hand_layer.backward)):
            w = (grid.layer if hasattr(grid, "layer") else grid).weights_by_name
            half.set_weights([_stack(w, "W_{g}"), np.concatenate([_stack(w, "U_u{g}"), _stack(w, "U_l{g}")]),
                              _bias(w)])
    hand.layers[-1].set_weights(spec.layers[-1].get_weights())


def batch(seed: int = 0) -> tuple:
    """(images (64, 16, 16, 16) of normal features, binary targets (64, 16, 16, 1))."""
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(IMAGES, SIDE, SIDE, FEATURES)).astype("float32"),
            (rng.random((IMAGES, SIDE, SIDE, 1)) < 0.5).astype("float32"))


def differences(kind: str) -> tuple:
    """(|loss difference|, largest |output difference|, largest |gradient difference|) of the spec model and
    the hand-written one holding its weights, on one batch (gradients of the weights the two share: the
    output layer's)."""
    import tensorflow as tf

    spec, hand = spec_model(kind, False), hand_model(kind, False)
    copy_weights(kind, spec, hand)
    x, y = batch()
    found = []
    for model in (spec, hand):
        with tf.GradientTape() as tape:
            out = model(x)
            loss = keras.losses.binary_crossentropy(y, out)
            loss = ops.mean(loss)
        found.append((float(loss), out.numpy(), [g.numpy() for g in tape.gradient(loss, model.layers[-1].weights)]))
    (l1, o1, g1), (l2, o2, g2) = found
    return abs(l1 - l2), float(np.abs(o1 - o2).max()), max(float(np.abs(a - b).max()) for a, b in zip(g1, g2))


def times(repeats: int, settings=(False, True)) -> dict:
    """{"spec Row LSTM, XLA off": ms, ...}: the median training step of the spec and hand-written layers."""
    x, y = batch()
    steps = {}
    for kind, title in (("row", "Row LSTM"), ("diagonal", "Diagonal BiLSTM")):
        for who, make in (("spec", spec_model), ("hand-written", hand_model)):
            for jit in settings:
                model = make(kind, jit)
                steps[f"{who} {title}, XLA {'on' if jit else 'off'}"] = (
                    lambda model=model: model.train_on_batch(x, y))
    return {name: 1000 * t for name, t in memory.turns(steps, repeats).items()}


def ratios(found: dict) -> dict:
    """spec / hand-written: at each one's best setting (the faster of XLA off and on), and at each setting."""
    out = {}
    for title in ("Row LSTM", "Diagonal BiLSTM"):
        settings = [s for s in ("off", "on") if f"spec {title}, XLA {s}" in found]
        best = {who: min(found[f"{who} {title}, XLA {s}"] for s in settings) for who in ("spec", "hand-written")}
        out[f"{title}: spec / hand-written, each at its best"] = best["spec"] / best["hand-written"]
        for s in settings:
            out[f"{title}: spec / hand-written, XLA {s}"] = found[f"spec {title}, XLA {s}"] / found[
                f"hand-written {title}, XLA {s}"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--no-xla", action="store_true", help="time without XLA only")
    args = parser.parse_args()
    for kind in LAYERS:
        loss, outputs, gradients = differences(kind)
        print(f"{kind}: spec against hand-written, same weights, one batch: |loss difference| {loss:.1e}, "
              f"largest |output difference| {outputs:.1e}, largest |gradient difference| {gradients:.1e}")
    found = times(args.repeats, (False,) if args.no_xla else (False, True))
    print()
    memory.print_tables(found, ratios(found))


if __name__ == "__main__":
    main()
