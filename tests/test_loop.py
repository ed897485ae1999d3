"""The time loop of generated cells under XLA (rnndsl.keras.loop): it computes what Keras's loop computes,
values and gradients, with masks, `go_backwards`, final states only; and it is the loop XLA gets."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from helpers import checked  # noqa: E402

SPEC = """
cell Gated(units: int) {
    input x: [in]
    param W: [units, in] ~ glorot_uniform
    param U: [units, units] ~ orthogonal
    param V: [units, in] ~ glorot_uniform
    c[t] = tanh(W @ x[t] + U @ h[t-1]) + c[t-1] * sigmoid(V @ x[t])
    h[t] = tanh(c[t])
    y[t] = concat(h[t], c[t])
    output y
}
"""


def _layer(**options):
    """Gated(units=3) on 2 inputs in float64, over the generated loop."""
    from rnndsl.keras.cell import GeneratedCell, GeneratedRNN, cell_source

    cell = GeneratedCell(cell_source(checked(SPEC), "Gated"), "Gated", 2, {"units": 3}, dtype="float64")
    layer = GeneratedRNN(cell, dtype="float64", **options)
    layer.build((None, None, 2))
    return layer


def _run(layer, x, mask, jit: bool):
    """The layer's outputs and the gradient of their sum of squares by its weights, traced with `jit`."""
    import tensorflow as tf

    @tf.function(jit_compile=jit)
    def run(x, mask):
        with tf.GradientTape() as tape:
            out = layer(x, mask=mask)
            flat = tf.concat([tf.reshape(o, (-1,)) for o in tf.nest.flatten(out)], 0)
            loss = tf.reduce_sum(flat ** 2)
        return out, tape.gradient(loss, layer.trainable_weights)

    return run(x, mask)


CASES = {
    "sequences": dict(return_sequences=True),
    "last output": dict(return_sequences=False),
    "states": dict(return_sequences=True, return_state=True),
    "backwards": dict(return_sequences=True, go_backwards=True),
    "masked": dict(return_sequences=True),
    "masked, zero outputs": dict(return_sequences=True, zero_output_for_mask=True),
    "masked backwards, last output": dict(return_sequences=False, go_backwards=True),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_loop_under_xla_computes_what_keras_loop_computes(case, monkeypatch):
    import tensorflow as tf

    from rnndsl.keras import loop

    taken = []
    pushed = loop.pushed_loop
    monkeypatch.setattr(loop, "pushed_loop", lambda *a, **k: taken.append(1) or pushed(*a, **k))
    layer = _layer(**CASES[case])
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(4, 7, 2)))
    mask = None
    if "masked" in case:  # ragged ends, a gap, and a sequence with no step at all
        mask = tf.constant(np.array([[1] * 7, [1] * 4 + [0] * 3, [1, 1, 0, 1, 1, 0, 0], [0] * 7], bool))
    want, want_grads = _run(layer, x, mask, jit=False)  # Keras's loop
    assert not taken
    got, got_grads = _run(layer, x, mask, jit=True)
    assert taken  # XLA's trace took rnndsl's loop
    for a, b in zip(tf.nest.flatten(got), tf.nest.flatten(want), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-10, atol=1e-12)
    for a, b in zip(got_grads, want_grads, strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-9, atol=1e-12)


def test_compiled_by_xla_tells_an_xla_trace_from_others():
    import tensorflow as tf

    from rnndsl.keras.loop import compiled_by_xla

    seen = []

    def probe():
        seen.append(compiled_by_xla())
        return tf.constant(0.0)

    tf.function(probe, jit_compile=True)()
    tf.function(probe, jit_compile=False)()
    probe()
    assert seen == [True, False, False]


def test_a_model_trained_with_xla_takes_the_loop_and_learns(monkeypatch):
    import keras

    import rnndsl
    from rnndsl.keras import loop

    taken = []
    pushed = loop.pushed_loop
    monkeypatch.setattr(loop, "pushed_loop", lambda *a, **k: taken.append(1) or pushed(*a, **k))
    model = rnndsl.load('import "std/lstm.rnn"\nnetwork N {\n    input x: seq[2]\n    output Dense(1)(LSTM(4)(x))\n}\n')\
        .build("N", fused=False)
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse", jit_compile=True)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(16, 9, 2)).astype("float32")
    y = np.cumsum(x[..., :1], axis=1)  # a running sum: needs the recurrence
    first = model.train_on_batch(x, y)
    for _ in range(60):
        last = model.train_on_batch(x, y)
    assert taken and last < 0.5 * first
