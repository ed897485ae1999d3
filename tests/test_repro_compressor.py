"""The neural history compressor (Schmidhuber 1992) against a single Elman network (issue 19).

The sequences are predictable but for rare symbols: a cycle through symbols 0..4 from a random phase, 60
steps, with one cue, symbol 5 or 6, inserted at step 1 to 5. The answer at the end is which cue it was: a
lag of 54 to 59 steps. The compressor of examples/compressor.rnn trains its automatizer (next symbol) and
its chunker (the answer, from the steps the automatizer mispredicted, with their times) at once; the single
Elman network of about as many parameters (938 against 937) trains as long, on the same batches. Marked
`slow`: `make repro` runs it (about 2 minutes on 2 cores)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

import rnndsl
from test_repro import _keras, _record

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
STEPS, CYCLE, EPOCHS, BATCH, SEED = 60, 5, 6, 32, 0


def sequences(n: int, rng: np.random.Generator) -> tuple:
    """(symbols `(n, STEPS + 1)` ints, answers `(n,)`): the inputs are the first STEPS symbols, and each input's
    next symbol is the automatizer's target."""
    symbols = np.zeros((n, STEPS + 1), int)
    answers = rng.integers(0, 2, n)
    for i in range(n):
        phase, at = rng.integers(0, CYCLE), rng.integers(1, 6)
        cycle = [(phase + k) % CYCLE for k in range(STEPS + 1)]
        symbols[i] = cycle[:at] + [CYCLE + answers[i]] + cycle[at:STEPS]
    return symbols, answers


def test_the_history_compressor_bridges_a_long_lag_a_single_elman_network_does_not():
    started = time.perf_counter()
    rng = np.random.default_rng(SEED)
    train, answers = sequences(3000, rng)
    test, test_answers = sequences(500, rng)
    x, x_test = np.eye(7, dtype="float32")[train[:, :STEPS]], np.eye(7, dtype="float32")[test[:, :STEPS]]
    program = rnndsl.load(EXAMPLES / "compressor.rnn")

    keras = _keras(SEED)
    compressor = program.build("Compressor")
    compressor.compile(optimizer=keras.optimizers.Adam(3e-3), loss=["sparse_categorical_crossentropy"] * 2)
    compressor.fit(x, [train[:, 1:], answers], batch_size=BATCH, epochs=EPOCHS, verbose=0)
    guess, answer = compressor.predict(x_test, verbose=0)
    accuracy = float((answer.argmax(-1) == test_answers).mean())
    flags = [layer for layer in compressor.layers if type(layer).__name__ == "Mispredicted"][0]
    chunked = float(np.asarray(flags([x_test, guess]))[..., 0].mean())  # the steps the chunker reads
    compressor_seconds = time.perf_counter() - started

    keras = _keras(SEED)
    single = program.build("SingleElman", units=26)
    single.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy")
    single.fit(x, answers, batch_size=BATCH, epochs=EPOCHS, verbose=0)
    single_accuracy = float((single.predict(x_test, verbose=0).argmax(-1) == test_answers).mean())

    _record("history compressor: automatizer and chunker (Elman 16 each)", "test accuracy of the answer",
            accuracy, ">= 0.95, chunker reading <= 1/5 of the steps", SEED, started,
            chunker_steps=round(chunked, 4), single_elman_accuracy=single_accuracy,
            parameters={"compressor": compressor.count_params(), "single": single.count_params()},
            compressor_seconds=round(compressor_seconds, 1))
    assert compressor.count_params() == 937 and single.count_params() == 938
    assert chunked <= 0.2, f"the chunker reads {chunked:.3f} of the steps"
    assert accuracy >= 0.95, f"the compressor's test accuracy is {accuracy}"
    print(f"compressor {accuracy:.3f} reading {chunked:.3f} of the steps; single Elman {single_accuracy:.3f}")
