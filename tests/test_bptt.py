"""`bptt = truncated(k)`: a stateful model trained on chunks of k steps, its states carried across chunks.

The carry: a stateful model run chunk by chunk gives the outputs of the whole-sequence model, and is
back at its initial states after `reset_states`. The cut: the loss of a chunk has no gradient with
respect to the inputs of earlier chunks, and its gradient with respect to the weights is that of the
chunk run alone from the carried states held constant. Then `rnndsl train` with truncated BPTT: its
run's folder, --resume, and its errors. The slow test trains 10,000-step sequences in chunks of 100.
"""

from __future__ import annotations

import csv
import json
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import rnndsl  # noqa: E402
from rnndsl.cli import main  # noqa: E402

# A generated cell (no fused path) whose state starts at 0.5, not 0, and is read two steps back: a reset
# must restore 0.5 in both of the values the cell carries for h.
DELAY2 = """
cell Delay2(units: int) {
    input x: [in]
    param W: [units, in] ~ glorot_uniform
    param U, V: [units, units] ~ orthogonal
    param b: [units] = 0
    state h: [units] = 0.5
    h[t] = tanh(W @ x[t] + U @ h[t-1] + 0.5 * V @ h[t-2] + b)
    output h
}
"""

NETWORK = ('import "std/lstm.rnn"\nimport "std/gru.rnn"\nimport "std/elman.rnn"\n' + DELAY2 + """
network N(units: int = 4) {
    input x: seq[3]
    h = LSTM(units)(x) >> Stack(GRU(units), depth=2) >> Delay2(units)
    output Dense(2)(h)
}

network E(units: int = 4) {
    input x: seq[3]
    h = Elman(units)(x)
    output Dense(1)(h)
}
""")

BATCH = 3


def _pair(network: str, fused: bool):
    """(the model of any batch, the stateful model of batch BATCH with the same weights)."""
    import keras

    from rnndsl.keras.network import lower_network

    program = rnndsl.load(NETWORK)
    keras.utils.set_random_seed(0)
    whole = lower_network(program, network, fused=fused).model
    stateful = lower_network(program, network, fused=fused, stateful_batch=BATCH).model
    assert [w.shape for w in whole.weights] == [w.shape for w in stateful.weights]
    stateful.set_weights(whole.get_weights())
    return whole, stateful


def _inputs(seed: int, steps: int = 25):
    return np.random.default_rng(seed).normal(size=(BATCH, steps, 3)).astype("float32")


def _chunked(model, x, k: int):
    """The stateful model's outputs over x, k steps a call, side by side."""
    return np.concatenate([np.asarray(model(x[:, i:i + k])) for i in range(0, x.shape[1], k)], axis=1)


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "generated"])
def test_chunks_with_carried_states_give_the_whole_sequence(fused):
    """LSTM >> Stack(GRU, 2) >> Delay2: chunks of 10, 10 and 5 steps give the outputs of the 25 steps."""
    from rnndsl.train.bptt import reset_states

    whole, stateful = _pair("N", fused)
    stateful_layers = [layer for layer in stateful.layers if getattr(layer, "stateful", False)]
    assert len(stateful_layers) == 4 and tuple(stateful.inputs[0].shape) == (BATCH, None, 3)
    first, second = _inputs(1), _inputs(2)
    reset_states(stateful)
    np.testing.assert_allclose(_chunked(stateful, first, 10), np.asarray(whole(first)), atol=1e-5)
    # the states are reset between batches of sequences: the next batch starts afresh
    reset_states(stateful)
    np.testing.assert_allclose(_chunked(stateful, second, 10), np.asarray(whole(second)), atol=1e-5)
    # ... and without the reset it would not (the check can fail)
    assert np.abs(_chunked(stateful, first, 10) - np.asarray(whole(first))).max() > 1e-3


def test_a_reset_restores_the_cells_initial_states():
    """Delay2 starts at 0.5 in both carried values of h, not at Keras's zeros."""
    from rnndsl.train.bptt import reset_states

    _, stateful = _pair("N", fused=False)
    stateful(_inputs(3))
    delay2 = stateful.get_layer("h")  # the last of the chain, bound to h
    assert delay2.cell.cell_name == "Delay2"
    assert np.abs(np.asarray(delay2.states[0]) - 0.5).max() > 1e-3  # it ran: not at its start
    reset_states(stateful)
    np.testing.assert_array_equal(np.asarray(delay2.states[0]), np.full((BATCH, 8), 0.5, "float32"))


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "generated"])
def test_gradients_stop_at_the_chunk(fused):
    """The loss of chunk 2 has no gradient with respect to chunk 1's inputs, and its gradient with respect
    to the weights is that of chunk 2 run alone from chunk 1's final states, held constant."""
    import tensorflow as tf

    from rnndsl.train.bptt import reset_states

    whole, stateful = _pair("E", fused)
    x = _inputs(4, steps=20)
    x1, x2 = tf.constant(x[:, :10]), tf.constant(x[:, 10:])
    reset_states(stateful)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([x1, x2])
        stateful(x1)
        carried = [tf.identity(s) for s in stateful.get_layer("h").states]
        loss = tf.reduce_sum(stateful(x2) ** 2)
    assert tape.gradient(loss, x1) is None
    assert np.abs(np.asarray(tape.gradient(loss, x2))).max() > 1e-4
    truncated = tape.gradient(loss, stateful.trainable_weights)

    # the same chunk, run by the stateless model's layers from the carried states as constants
    with tf.GradientTape() as tape:
        h = whole.get_layer("h")(x2, initial_state=carried)
        alone = tf.reduce_sum(whole.layers[-1](h) ** 2)
    reference = tape.gradient(alone, whole.trainable_weights)
    np.testing.assert_allclose(float(loss), float(alone), rtol=1e-6)
    for got, want in zip(truncated, reference):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-6)
    # whole-sequence BPTT does reach back: the loss of the last 10 steps depends on the first 10
    xs = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xs)
        tail = tf.reduce_sum(whole(xs)[:, 10:] ** 2)
    assert np.abs(np.asarray(tape.gradient(tail, xs))[:, :10]).max() > 1e-4


# ---------------------------------------------------------------- rnndsl train with bptt = truncated(k)


def leaky_sums(n: int, steps: int, a: float, seed: int):
    """Inputs ±1 at random, `(n, steps, 1)`; targets the leaky sum y[t] = a y[t-1] + (1 - a) x[t], scaled to
    unit variance: each target depends on about 1 / (1 - a) steps back, more than a chunk when a is near 1."""
    rng = np.random.default_rng(seed)
    x = rng.choice(np.array([-1.0, 1.0], "float32"), size=(n, steps, 1))
    y = np.zeros_like(x)
    acc = np.zeros((n, 1), "float32")
    for t in range(steps):
        acc = a * acc + (1 - a) * x[:, t]
        y[:, t] = acc
    return x, (y / np.sqrt((1 - a) / (1 + a))).astype("float32")


def leaky_spec(folder: Path, *, n: int = 64, steps: int = 60, a: float = 0.95, k: int = 10, batch: int = 16,
               epochs: int = 5, units: int = 8, layer: str = "LSTM(units)(x)", validation: float = 0.25) -> Path:
    """Leaky sums in train.npz and test.npz (a quarter as many, at least a batch), and a network to learn them
    with `bptt = truncated(k)`."""
    for name, count, seed in (("train", n, 0), ("test", max(n // 4, batch), 1)):
        x, y = leaky_sums(count, steps, a, seed)
        np.savez(folder / f"{name}.npz", x=x, y=y)
    path = folder / "leaky.rnn"
    path.write_text('import "std/lstm.rnn"\n\n'
                    f"network Leaky(units: int = {units}) {{\n    input x: seq[1]\n    h = {layer}\n"
                    "    output Dense(1)(h)\n\n    train {\n"
                    '        data = npz("train.npz", test="test.npz")\n        loss = mse\n'
                    "        optimizer = adam(learning_rate=1e-2)\n"
                    f"        batch = {batch}\n        epochs = {epochs}\n        validation = {validation}\n"
                    f"        bptt = truncated({k})\n    }}\n}}\n", encoding="utf-8")
    return path


def _history(out: Path) -> list:
    with (out / "history.csv").open() as f:
        return list(csv.DictReader(f))


def test_train_in_chunks(tmp_path, capsys):
    """48 sequences of 60 steps (after validation's 16), batches of 16 in chunks of 10: 18 steps an epoch."""
    import keras

    path = leaky_spec(tmp_path)
    out = tmp_path / "run"
    assert main(["train", str(path), "--out", str(out)]) == 0
    assert "18/18" in capsys.readouterr().out
    rows = _history(out)
    assert [r["epoch"] for r in rows] == ["1", "2", "3", "4", "5"] and {"loss", "val_loss"} <= set(rows[0])
    assert float(rows[-1]["loss"]) < 0.5 * float(rows[0]["loss"])
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["validation"]["loss"] == pytest.approx(float(rows[-1]["val_loss"]), rel=1e-4)
    run = json.loads((out / "run.json").read_text())
    assert run["plan"]["bptt"] == {"name": "truncated", "args": {"k": 10}}
    # the saved model is the stateless twin: any batch, whole sequences, the test loss it was saved with
    model = keras.saving.load_model(out / "model.keras")
    assert tuple(model.inputs[0].shape) == (None, None, 1) and not model.get_layer("h").stateful
    test = np.load(tmp_path / "test.npz")
    mse = float(np.mean((np.asarray(model(test["x"])) - test["y"]) ** 2))
    assert mse == pytest.approx(metrics["test"]["loss"], rel=1e-4)
    # the checkpoints hold the stateful model with its optimizer: --resume goes on as one run would
    capsys.readouterr()
    assert main(["train", str(path), "--out", str(tmp_path / "short"), "--epochs", "3"]) == 0
    assert main(["train", str(path), "--out", str(tmp_path / "short"), "--resume"]) == 0
    resumed = keras.saving.load_model(tmp_path / "short" / "model.keras")
    for a, b in zip(model.weights, resumed.weights):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
    assert [r["epoch"] for r in _history(tmp_path / "short")] == ["1", "2", "3", "4", "5"]


TRAIN_ERRORS = [
    (dict(layer="LSTM(units, returns=last)(x)"),
     "truncated BPTT trains on chunks of the sequences, so the output of `Leaky` must be a sequence, one value a "
     "step (seq[...]), not a vec: give its last recurrent layer returns=sequences, or use `bptt = full`"),
    (dict(k=61),
     "`bptt = truncated(61)` cuts sequences into chunks of 61 steps, but the training sequences have 60: use a "
     "smaller k, or `bptt = full`"),
    (dict(layer="Bidirectional(LSTM(units))(x)"),
     "truncated BPTT carries states forward from chunk to chunk, but `h` is Bidirectional: it reads each "
     "sequence backward too; use `bptt = full`"),
    (dict(batch=64),
     "the training split has 48 examples, fewer than a batch (64): truncated BPTT trains on whole batches only"),
]


@pytest.mark.parametrize("change, message", TRAIN_ERRORS, ids=["vec", "long-k", "bidirectional", "batch"])
def test_truncation_errors(tmp_path, capsys, change, message):
    out = tmp_path / "run"
    assert main(["train", str(leaky_spec(tmp_path, epochs=1, **change)), "--out", str(out)]) == 2
    assert capsys.readouterr().err == f"error: {message}\n"
    assert not (out / "checkpoints").exists()


def test_inputs_and_targets_of_other_lengths(tmp_path, capsys):
    path = leaky_spec(tmp_path, epochs=1)
    x, y = leaky_sums(64, 60, 0.95, 0)
    np.savez(tmp_path / "train.npz", x=x, y=y[:, :59])
    assert main(["train", str(path), "--out", str(tmp_path / "run")]) == 1
    assert capsys.readouterr().err == ("error[E0701]: the training data: the targets have shape (48, 59, 1), the "
                                       "model's output (None, 60, 1): 59 steps, not 60\n")


def test_models_that_cannot_carry_states():
    """A recurrent layer that is not stateful, an input without a time axis: check_truncation refuses them."""
    import keras

    from rnndsl.lang.errors import UsageError
    from rnndsl.train.bptt import check_truncation

    steps = keras.Input(batch_shape=(4, None, 1), name="steps")
    plain = keras.Model(steps, keras.layers.Dense(1)(keras.layers.LSTM(2, return_sequences=True, name="enc")(steps)))
    with pytest.raises(UsageError) as e:
        check_truncation(plain, "M")
    assert e.value.message == ("truncated BPTT carries the states of every recurrent layer, but `enc` does not "
                               "carry its states from call to call; use `bptt = full`")
    context = keras.Input(batch_shape=(4, 3), name="context")
    mixed = keras.Model([steps, context], keras.layers.Dense(1)(steps))
    with pytest.raises(UsageError) as e:
        check_truncation(mixed, "M")
    assert e.value.message == ("truncated BPTT cuts every input into chunks of steps, but input `context` is a "
                               "vec, not a sequence; use `bptt = full`")


# ---------------------------------------------------------------- 10,000 steps in chunks of 100


@pytest.mark.slow
def test_ten_thousand_steps_in_chunks_of_a_hundred(tmp_path):
    """LSTM(16) on leaky sums with a = 0.99 (each target reaches about 100 steps back, over chunk borders),
    32 sequences of 10,000 steps, batches of 16 in chunks of 100: 200 steps an epoch, 10 epochs.

    The loss must fall well below the first epoch's; and the states carried across chunks must matter: the
    trained model, its states reset at the start of every chunk instead, does clearly worse on the test set."""
    from test_repro import _record

    from rnndsl.keras.network import lower_network
    from rnndsl.train.bptt import reset_states
    from rnndsl.train.run import plan_of, run

    started = time.perf_counter()
    path = leaky_spec(tmp_path, n=32, steps=10_000, a=0.99, k=100, batch=16, epochs=10, units=16, validation=0)
    program = rnndsl.load(path)
    assert plan_of(program, "Leaky", {}).bptt.args == {"k": 100}
    result = run(program, "Leaky", out=tmp_path / "run", verbose=0)
    losses = [float(r["loss"]) for r in _history(tmp_path / "run")]
    carried = result.metrics["test"]["loss"]

    # the same weights, the states reset before every chunk of 100: what carrying them gave
    test = np.load(tmp_path / "test.npz")
    stateful = lower_network(program, "Leaky", stateful_batch=16).model
    stateful.set_weights(result.model.get_weights())
    errors = []
    for i in range(0, 10_000, 100):
        reset_states(stateful)
        errors.append(np.mean((np.asarray(stateful(test["x"][:, i:i + 100])) - test["y"][:, i:i + 100]) ** 2))
    reset_every_chunk = float(np.mean(errors))

    _record("truncated BPTT, 10,000 steps in chunks of 100: LSTM(16) on leaky sums (a = 0.99)",
            "last / first epoch's training loss", losses[-1] / losses[0], "< 0.25", 0, started,
            losses=[round(v, 5) for v in losses], test_mse=carried, test_mse_states_reset_every_chunk=reset_every_chunk)
    assert losses[-1] < 0.25 * losses[0], losses
    assert carried < 0.5 * reset_every_chunk, (carried, reset_every_chunk)
