"""`Mispredicted`: the steps a predictor failed to predict, as flags (the history compressor's automatizer and
chunker): its diagnostics by text, its flags against NumPy (by class, by a threshold, under a mask), no
gradient through them, and a network that gathers the mispredicted steps for a chunker, trained a step,
saved and reloaded. And `Scatter`, Gather's inverse: against NumPy with and without holding, its gradient,
its diagnostic, and a slow layer over the kept steps scattered back beside a fast one."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from helpers import checked, diagnostics  # noqa: E402

DIAGNOSTICS = {
    'different_sizes': (
        'network N {\n    input x: seq[3]\n    input p: seq[4]\n    output Mispredicted()(x, p)\n}\n',
        "error[E0305]: `Mispredicted` compares each step's input with the prediction made the step before: two float seq[d] of one size, found seq[3] and seq[4]\n  --> spec.rnn:4:12\n   |\n 4 |     output Mispredicted()(x, p)\n   |            ^^^^^^^^^^^^^^^^^^^^ applied to seq[3], seq[4]"),
    'tokens': (
        'network N {\n    input w: seq[int]\n    output Mispredicted()(w, w)\n}\n',
        "error[E0305]: `Mispredicted` compares each step's input with the prediction made the step before: two float seq[d] of one size, found seq[int] and seq[int]\n  --> spec.rnn:3:12\n   |\n 3 |     output Mispredicted()(w, w)\n   |            ^^^^^^^^^^^^^^^^^^^^ applied to seq[int], seq[int]"),
    'a_vec': (
        'network N {\n    input v: vec[3]\n    output Mispredicted()(v, v)\n}\n',
        'error[E0305]: `Mispredicted` takes a sequence, seq[...], found vec[3]\n  --> spec.rnn:3:12\n   |\n 3 |     output Mispredicted()(v, v)\n   |            ^^^^^^^^^^^^^^^^^^^^ applied to vec[3], vec[3]'),
    'threshold_zero': (
        'network N {\n    input x: seq[3]\n    output Mispredicted(threshold=0)(x, x)\n}\n',
        'error[E0209]: `threshold` of `Mispredicted` is above 0, not 0.0\n  --> spec.rnn:3:12\n   |\n 3 |     output Mispredicted(threshold=0)(x, x)\n   |            ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^'),
    'one_input': (
        'network N {\n    input x: seq[3]\n    output x >> Mispredicted()\n}\n',
        'error[E0231]: `Mispredicted` takes 2 inputs, given 1\n  --> spec.rnn:3:12\n   |\n 3 |     output x >> Mispredicted()\n   |            ^^^^^^^^^^^^^^^^^^^'),
}


@pytest.mark.parametrize("name", sorted(DIAGNOSTICS))
def test_diagnostics(name):
    spec, want = DIAGNOSTICS[name]
    assert diagnostics(spec) == want


def flags_reference(x, p, mask, threshold=None):
    """x, p: (T, d), mask: (T,) -> (T,): 1 at step 0 and where p[t-1] missed x[t], 0 at padding."""
    out = np.ones(len(x))
    for t in range(1, len(x)):
        if threshold is None:
            out[t] = float(np.argmax(x[t]) != np.argmax(p[t - 1]))
        else:
            out[t] = float(np.max(np.abs(x[t] - p[t - 1])) > threshold)
    return out * mask


@pytest.mark.parametrize("threshold", [None, 0.3])
def test_the_flags_against_the_reference(threshold):
    from rnndsl.keras.surprise import Mispredicted

    rng = np.random.default_rng(0 if threshold is None else 1)
    x = np.eye(4)[rng.integers(0, 4, (3, 12))].astype("float32")
    if threshold is None:  # a softmax that guesses the next symbol right about half the time
        p = np.roll(x, -1, axis=1) * rng.integers(0, 2, (3, 12, 1)) + rng.uniform(0, 0.4, (3, 12, 4))
    else:
        p = np.roll(x, -1, axis=1) + rng.normal(0, 0.25, (3, 12, 4))
    p = p.astype("float32")
    mask = np.ones((3, 12), bool)
    mask[1, 9:] = mask[2, 4:] = False
    got = np.asarray(Mispredicted(threshold)([x, p], mask=[mask, mask]))[..., 0]
    want = np.stack([flags_reference(x[b], p[b], mask[b], threshold) for b in range(3)])
    np.testing.assert_array_equal(got, want)
    assert 0 < want[0, 1:].sum() < 11  # some steps predicted, some missed


def test_no_gradient_flows_through_the_flags():
    import tensorflow as tf

    from rnndsl.keras.surprise import Mispredicted

    x = tf.constant(np.eye(3)[[0, 1, 2, 0]][None].astype("float32"))
    p = tf.constant(np.full((1, 4, 3), 1 / 3, "float32"))
    with tf.GradientTape() as tape:
        tape.watch([x, p])
        total = tf.reduce_sum(Mispredicted()([x, p]))
    assert all(g is None for g in tape.gradient(total, [x, p]))


COMPRESSOR = """
import "std/lstm.rnn"

network Compressor(symbols: int = 5, units: int = 8) {
    input x: seq[symbols]
    guess = LSTM(units)(x) >> Dense(symbols, activation=softmax)
    flags = Mispredicted()(x, guess)
    chunk = Gather(times=true)(x, flags)
    answer = LSTM(units, returns=last)(chunk) >> Dense(2, activation=softmax)
    output guess, answer
}
"""


def test_a_chunker_of_the_mispredicted_steps_trains_saves_and_reloads(tmp_path):
    import keras

    model = checked(COMPRESSOR).build("Compressor")
    rng = np.random.default_rng(2)
    x = np.eye(5)[rng.integers(0, 5, (4, 10))].astype("float32")
    next_symbol = np.roll(x.argmax(-1), -1, axis=1)
    label = rng.integers(0, 2, 4)
    model.compile(optimizer="adam", loss=["sparse_categorical_crossentropy", "sparse_categorical_crossentropy"])
    before = [np.asarray(w).copy() for w in model.trainable_weights]
    model.train_on_batch(x, [next_symbol, label])
    moved = [not np.allclose(a, np.asarray(b)) for a, b in zip(before, model.trainable_weights)]
    assert all(moved)  # both networks learn, each from its own loss, in one model
    model.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras")
    for a, b in zip(model(x), again(x)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-6)


def scatter_reference(values, flags, hold=True):
    """values (T', d), flags (T,) -> (T, d): the k-th flagged step gets values[k], held (or not) until the next."""
    out = np.zeros((len(flags),) + values.shape[1:])
    k = -1
    for t, flag in enumerate(flags):
        if flag:
            k += 1
            out[t] = values[k]
        elif hold and k >= 0:
            out[t] = values[k]
    return out


@pytest.mark.parametrize("hold", [True, False])
def test_scatter_puts_each_kept_step_back_at_its_time(hold):
    import tensorflow as tf

    from rnndsl.keras.rate import Gather, Scatter

    rng = np.random.default_rng(3)
    x = rng.normal(size=(3, 9, 2)).astype("float32")
    flags = rng.integers(0, 2, (3, 9, 1)).astype("float32")
    flags[2] = 0  # a sequence with nothing kept: all 0
    values = np.cumsum(x, axis=1)  # what a layer after Gather might give, one per kept step
    got = np.asarray(Scatter(hold)([values, flags]))
    want = np.stack([scatter_reference(values[b], flags[b, :, 0], hold) for b in range(3)])
    np.testing.assert_allclose(got, want)
    # Gather then Scatter without hold gives back the kept steps, at their times
    back = np.asarray(Scatter(False)([Gather()([x, flags]), flags]))
    np.testing.assert_allclose(back, x * flags)
    v = tf.constant(values)
    with tf.GradientTape() as tape:
        tape.watch(v)
        total = tf.reduce_sum(Scatter(hold)([v, flags]))
    counts = np.stack([scatter_reference(np.eye(9), flags[b, :, 0], hold).sum(0) for b in range(3)])
    np.testing.assert_allclose(np.asarray(tape.gradient(total, v)), np.repeat(counts[:, :, None], 2, axis=2))


TWO_LEVELS = """
import "std/lstm.rnn"

network TwoLevel(units: int = 6) {
    input x: seq[4]
    input flags: seq[1]
    fast = LSTM(units)(x)
    slow = Scatter()(Gather()(fast, flags) >> LSTM(units), flags)
    output Concatenate()(fast, slow) >> Dense(2)
}
"""


def test_a_slow_layer_on_the_kept_steps_scattered_back_saves_and_reloads(tmp_path):
    import keras

    model = checked(TWO_LEVELS).build("TwoLevel")
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 7, 4)).astype("float32")
    flags = rng.integers(0, 2, (2, 7, 1)).astype("float32")
    out = np.asarray(model([x, flags]))
    assert out.shape == (2, 7, 2)
    model.save(tmp_path / "m.keras")
    np.testing.assert_allclose(np.asarray(keras.models.load_model(tmp_path / "m.keras")([x, flags])), out, atol=1e-6)


def test_scatter_diagnostics():
    spec = "network N {\n    input x: seq[3]\n    input f: seq[2]\n    output Scatter()(x, f)\n}\n"
    assert diagnostics(spec) == (
        "error[E0305]: the second input of `Scatter` is the flags `Gather` read, one number a step (seq[int], seq[1]), "
        "found seq[2]\n  --> spec.rnn:4:12\n   |\n 4 |     output Scatter()(x, f)\n   |            "
        "^^^^^^^^^^^^^^^ applied to seq[3], seq[2]")
