"""Training reproductions of results from the papers (issue 4, "Checks against papers").

Each test builds an example network from `examples/`, generates its data,
trains it from a fixed seed, and asserts the paper's threshold. They are
marked `slow`: the default run leaves them out; `make repro` runs them, one
after another, each within 10 minutes on 2 CPU cores. There is no `train`
block in the language yet, so the training loop is here: the built Keras
model is compiled with an optimizer and a loss and fitted.

When RNNDSL_REPRO_RESULTS names a file, each test appends one JSON line to
it (check, metric, value, threshold, seed, seconds), before it asserts, so
that a failing check is recorded too. docs/reproductions.md records the
figures reached.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import pytest

import rnndsl

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _keras(seed: int):
    """Keras (imported here, so that collecting this module in the default run stays fast), seeded."""
    import keras

    keras.utils.set_random_seed(seed)
    return keras


def _record(check: str, metric: str, value, threshold: str, seed, started: float, **extra) -> float:
    """Append this check's figures to $RNNDSL_REPRO_RESULTS (if set); the wall time in seconds."""
    seconds = time.perf_counter() - started
    path = os.environ.get("RNNDSL_REPRO_RESULTS")
    if path:
        line = {"check": check, "metric": metric, "value": value, "threshold": threshold, "seed": seed,
                "seconds": round(seconds, 1), "cpus": os.cpu_count(), "machine": platform.machine(), **extra}
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(line) + "\n")
    return seconds


# --- The adding problem -------------------------------------------------------------------------
#
# Each sequence has T steps of two inputs: a value uniform in [0, 1], and a marker that is 1 at
# two steps (one in the first half of the sequence, one in the second) and 0 elsewhere. The target
# is the sum of the two marked values. Predicting the constant 1 gives the variance of a sum of two
# uniform values, 2/12 = 0.167: the baseline a network must beat.

ADDING_T = 100
ADDING_TRAIN, ADDING_TEST, ADDING_BATCH = 100_000, 10_000, 64


def adding_data(n: int, rng: np.random.Generator, steps: int = ADDING_T):
    """(x: [n, steps, 2] values and markers, y: [n, 1] sums of the two marked values)."""
    values = rng.uniform(0.0, 1.0, size=(n, steps)).astype("float32")
    markers = np.zeros((n, steps), "float32")
    rows = np.arange(n)
    markers[rows, rng.integers(0, steps // 2, size=n)] = 1.0
    markers[rows, rng.integers(steps // 2, steps, size=n)] = 1.0
    x = np.stack([values, markers], axis=-1)
    y = (values * markers).sum(axis=1, keepdims=True)
    return x, y


def _adding(network: str, seed: int, epochs: int, learning_rate: float, **hyperparameters) -> float:
    """Train `network` of examples/adding.rnn on fresh data; its test MSE."""
    keras = _keras(seed)
    rng = np.random.default_rng(seed)
    x, y = adding_data(ADDING_TRAIN, rng)
    x_test, y_test = adding_data(ADDING_TEST, rng)
    assert abs(float(np.mean((y_test - 1.0) ** 2)) - 2 / 12) < 0.01  # the constant baseline
    model = rnndsl.load(EXAMPLES / "adding.rnn").build(network, **hyperparameters)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate, clipnorm=1.0), loss="mse")
    model.fit(x, y, batch_size=ADDING_BATCH, epochs=epochs, verbose=0)
    return float(model.evaluate(x_test, y_test, batch_size=1000, verbose=0))


# The LSTM and the tanh control train alike: 32 units, Adam 1e-3, 6 epochs of 100,000 sequences.
ADDING_EPOCHS, ADDING_LR = 6, 1e-3


def test_adding_problem_lstm():
    started, seed = time.perf_counter(), 0
    mse = _adding("AddingLSTM", seed, ADDING_EPOCHS, ADDING_LR, units=32)
    _record("adding, T=100: LSTM(32)", "test MSE", mse, "< 0.01", seed, started)
    assert mse < 0.01


def test_adding_problem_indrnn():
    """Two layers of 128 IndRNN units, the recurrent weights bounded by 2 ** (1/T) (Li et al. 2018)."""
    started, seed = time.perf_counter(), 0
    mse = _adding("AddingIndRNN", seed, 4, 3e-4, units=128, recurrent_max_abs=2 ** (1 / ADDING_T))
    _record("adding, T=100: 2 x IndRNN(128)", "test MSE", mse, "< 0.05", seed, started)
    assert mse < 0.05


def test_adding_problem_tanh_control_fails():
    """A randomly initialised tanh RNN (std Elman), trained as the LSTM is, stays above 0.05.

    It does at this seed; over seeds 0-7 it did in 5 of 8 (docs/reproductions.md): with Adam and
    clipped gradients a tanh RNN sometimes learns the adding problem at T = 100."""
    started, seed = time.perf_counter(), 0
    mse = _adding("AddingTanh", seed, ADDING_EPOCHS, ADDING_LR, units=32)
    _record("adding, T=100: tanh RNN (Elman 32) control", "test MSE", mse, "> 0.05", seed, started)
    assert mse > 0.05


# --- The embedded Reber grammar -----------------------------------------------------------------
#
# A Reber string walks the grammar's graph from B to E, choosing each branch with probability 1/2.
# An embedded Reber string is B, then T or P, then a Reber string, then the same T or P again,
# then E: to predict the symbol before last, the network must remember the second symbol across
# the whole inner string. After each symbol the network says, with one logistic output per symbol,
# which symbols may come next; a string is predicted correctly when, at every step, the outputs
# above 0.5 are exactly the grammar's legal next symbols.

SYMBOLS = "BTPSXVE"
# state -> (symbol, next state) for each branch; state 1 follows the inner B, 0 is the end.
REBER = {1: (("T", 2), ("P", 3)), 2: (("S", 2), ("X", 4)), 3: (("T", 3), ("V", 5)),
         4: (("X", 3), ("S", 6)), 5: (("P", 4), ("V", 6)), 6: (("E", 0),)}


def embedded_reber(rng: np.random.Generator):
    """(symbols, legal): an embedded Reber string, and for each of its symbols but the last the set
    of symbols that may follow it."""
    arm = "TP"[rng.integers(2)]
    symbols, legal = ["B", arm, "B"], [{"T", "P"}, {"B"}, {"T", "P"}]
    state = 1
    while state:
        branches = REBER[state]
        symbol, state = branches[rng.integers(len(branches))]
        symbols.append(symbol)
        legal.append({s for s, _ in REBER[state]} if state else {arm})
    symbols += [arm, "E"]
    legal.append({"E"})
    assert len(legal) == len(symbols) - 1
    return symbols, legal


def encode_reber(strings, length: int):
    """(x one-hot symbols, y legal next symbols, w 1 at real steps and 0 at padding), each
    [n, length, ...]: the input is a string less its last symbol, padded at the end."""
    n = len(strings)
    x = np.zeros((n, length, len(SYMBOLS)), "float32")
    y = np.zeros((n, length, len(SYMBOLS)), "float32")
    w = np.zeros((n, length), "float32")
    for i, (symbols, legal) in enumerate(strings):
        for t, (symbol, nexts) in enumerate(zip(symbols, legal)):
            x[i, t, SYMBOLS.index(symbol)] = 1.0
            y[i, t, [SYMBOLS.index(s) for s in nexts]] = 1.0
            w[i, t] = 1.0
    return x, y, w


def test_embedded_reber_grammar_lstm():
    """An LSTM of 8 cells predicts all 256 test strings correctly in at least 8 of 10 seeds.

    To fit 10 seeds in the time, the 10 networks train side by side in one Keras model: ten
    copies of ReberLSTM, each initialised from its own seed, read the same batches, and their
    outputs are concatenated. Each copy's loss depends only on its own weights, and Adam scales
    each weight's step by its own gradient's moments, so each copy trains as it would alone on
    this data stream."""
    started, seeds, data_seed = time.perf_counter(), range(10), 1997
    rng = np.random.default_rng(data_seed)
    train = [embedded_reber(rng) for _ in range(4000)]
    test = [embedded_reber(rng) for _ in range(256)]
    length = max(len(s) for s, _ in train + test) - 1
    x, y, w = encode_reber(train, length)
    x_test, y_test, w_test = encode_reber(test, length)

    program = rnndsl.load(EXAMPLES / "reber.rnn")
    keras = _keras(data_seed)
    copies = []
    for seed in seeds:
        keras.utils.set_random_seed(seed)
        net = program.build("ReberLSTM", units=8)
        copies.append(keras.Model(net.input, net.output, name=f"seed_{seed}"))  # unique names
    x_in = keras.Input((None, len(SYMBOLS)))
    model = keras.Model(x_in, keras.layers.Concatenate()([c(x_in) for c in copies]))
    epochs, batch = 40, 32
    schedule = keras.optimizers.schedules.CosineDecay(1e-2, epochs * (len(train) // batch), alpha=0.05)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss="binary_crossentropy")
    model.fit(x, np.tile(y, (1, 1, len(seeds))), sample_weight=w, batch_size=batch, epochs=epochs,
              verbose=0)

    marked = model.predict(x_test, batch_size=256, verbose=0).reshape(*y_test.shape[:2], len(seeds), -1) > 0.5
    step_ok = (marked == (y_test[:, :, None, :] > 0.5)).all(axis=-1) | (w_test[:, :, None] == 0)
    strings_ok = step_ok.all(axis=1).sum(axis=0)  # per seed, of 256
    solved = int((strings_ok == len(test)).sum())
    _record("embedded Reber grammar: LSTM(8)", "seeds with all 256 test strings correct", solved,
            ">= 8 of 10", f"init {seeds.start}-{seeds.stop - 1}, data {data_seed}", started,
            strings_correct_per_seed=strings_ok.tolist())
    assert solved >= 8, f"test strings predicted correctly, per seed: {strings_ok.tolist()}"


# --- Row-by-row digits --------------------------------------------------------------------------


def test_digits_row_by_row_gru():
    """scikit-learn's 8x8 digits, 8 rows of 8 pixels per image: GRU(64) reaches >= 95% on a 25% hold-out."""
    datasets = pytest.importorskip("sklearn.datasets", reason="the digits come from scikit-learn")
    started, seed = time.perf_counter(), 0
    digits = datasets.load_digits()
    x = (digits.images / 16.0).astype("float32")  # [1797, 8, 8]: one step per row, intensities in [0, 1]
    y = digits.target.astype("int64")
    order = np.random.default_rng(seed).permutation(len(x))
    held_out = len(x) // 4
    test, train = order[:held_out], order[held_out:]

    keras = _keras(seed)
    model = rnndsl.load(EXAMPLES / "digits.rnn").build("DigitsGRU", units=64)
    epochs, batch = 100, 32
    schedule = keras.optimizers.schedules.CosineDecay(3e-3, epochs * -(-len(train) // batch), alpha=0.05)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x[train], y[train], batch_size=batch, epochs=epochs, verbose=0)
    _, accuracy = model.evaluate(x[test], y[test], batch_size=len(test), verbose=0)
    _record("row-by-row digits: GRU(64)", "hold-out accuracy", float(accuracy), ">= 0.95", seed, started,
            held_out=len(test))
    assert accuracy >= 0.95
