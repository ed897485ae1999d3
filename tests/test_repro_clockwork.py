"""Training reproduction of the clockwork RNN's sequence generation (issue 19): the networks of
examples/clockwork.rnn. Marked `slow`: `make repro` runs it, within 10 minutes on 2 CPU cores.

Koutník, Greff, Gomez & Schmidhuber (2014), section 4.1: a network that reads no input learns to give one
fixed signal of 320 steps (there, 320 samples of music at 44.1 kHz scaled to [-1, 1]); its weights are the
signal's code. A clockwork RNN, a simple recurrent (Elman) network and an LSTM of about the same number of
parameters are compared by the normalized MSE (the MSE over the signal's variance: 1 for its mean), and the
paper's order, the clockwork RNN best, is the claim checked.

The signal here is made by `waveform` (a chord of three notes with four harmonics each, under an envelope,
sampled at 44.1 kHz), since no recording ships with the repository. The input is the constant 0 at every step.
The copies of the three networks, each initialised from its own seed, train side by side in one Keras model on
the one sequence (as the Reber test's ten LSTMs do): each copy's loss depends on its own weights alone, and Adam
and per-tensor clipping (`clipnorm`) treat each weight by its own gradient, so each trains as it would alone.

docs/reproductions.md records the figures reached.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

import rnndsl
from test_repro import _keras, _record

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
# the sizes trained, examples/clockwork.rnn's defaults: about 980 parameters each (`used_parameters`)
SIZES = {"GenerateClockwork": dict(units=40, modules=8), "GenerateElman": dict(units=30),
         "GenerateLSTM": dict(units=15)}
NETWORKS = tuple(SIZES)
SEEDS = (0, 1)
STEPS, RATE, LEARNING_RATE, CLIPNORM, UPDATES = 320, 44100.0, 3e-3, 1.0, 600


def waveform(steps: int = STEPS, seed: int = 0) -> np.ndarray:
    """A music-like signal of `steps` samples in [-1, 1]: the A major chord (440, 554.37 and 659.26 Hz), each
    note with harmonics 1 to 4 of amplitude 1 / k ** 2 and a phase drawn uniformly from [0, 2 pi) by
    `numpy.random.default_rng(seed)`, sampled at 44.1 kHz (periods of 100, 80 and 67 samples, the fourth
    harmonics 17 to 25), under an envelope that rises over about 20 samples and decays over 400, then scaled
    linearly so that its least value is -1 and its greatest 1."""
    rng = np.random.default_rng(seed)
    seconds = np.arange(steps) / RATE
    y = np.zeros(steps)
    for frequency in (440.0, 554.37, 659.26):
        for k in range(1, 5):
            y += np.sin(2 * np.pi * k * frequency * seconds + rng.uniform(0, 2 * np.pi)) / k ** 2
    n = np.arange(steps)
    y *= (1 - np.exp(-n / 20.0)) * np.exp(-n / 400.0)
    return 2 * (y - y.min()) / (y.max() - y.min()) - 1


def test_waveform_is_fixed_and_spans_minus_one_to_one():
    y = waveform()
    assert y.shape == (STEPS,) and y.min() == -1 and y.max() == 1
    assert np.array_equal(y, waveform())  # deterministic
    assert 0.1 < y.var() < 0.5  # not a near-constant: the normalized MSE's denominator


def _hears(units: int, modules: int) -> np.ndarray:
    """The clockwork cell's recurrent mask as specs/std/clockwork.rnn computes it: unit j is in module
    floor(j * modules / units) of period 2 ** module; unit i hears unit j where T(j) >= T(i)."""
    period = 2.0 ** np.floor(np.arange(units) * modules / units)
    return (period[None, :] >= period[:, None]).astype(int)


def used_parameters(network: str, model) -> int:
    """The parameters the output depends on: all the model's weights but the input weights (the input is
    always 0) and, in the clockwork RNN, the recurrent weights its mask sets to 0."""
    units = SIZES[network]["units"]
    inputs = 4 * units if network == "GenerateLSTM" else units  # one input weight a unit (a gate): in = 1
    masked = 0
    if network == "GenerateClockwork":
        masked = int((_hears(units, SIZES[network]["modules"]) == 0).sum())
    return model.count_params() - inputs - masked


def _draw(target: np.ndarray, produced: dict, path: Path) -> None:
    """The target signal and each network's output (its first seed), one panel a network, to `path`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(produced), 1, figsize=(10, 1.9 * len(produced)), sharex=True, sharey=True)
    for ax, (network, y) in zip(axes, produced.items()):
        ax.plot(target, color="0.6", linewidth=2.2, label="target")
        ax.plot(y, color="C0", linewidth=1.0, label=network)
        ax.legend(loc="upper right", fontsize=8)
    axes[-1].set_xlabel("step")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def test_clockwork_generates_the_signal_best(tmp_path):
    started = time.perf_counter()
    target = waveform()[None, :, None].astype("float32")
    silence = np.zeros_like(target)
    program = rnndsl.load(EXAMPLES / "clockwork.rnn")
    keras = _keras(SEEDS[0])
    import tensorflow as tf  # after _keras: importing it is slow, and collecting this module stays fast
    copies, counts = [], {}
    for network in NETWORKS:
        for seed in SEEDS:
            keras.utils.set_random_seed(seed)
            net = program.build(network, **SIZES[network])
            counts[network] = used_parameters(network, net)
            copies.append(keras.Model(net.input, net.output, name=f"{network}_{seed}"))  # unique names
    x_in = keras.Input((None, 1))
    model = keras.Model(x_in, keras.layers.Concatenate()([c(x_in) for c in copies]))
    model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE, clipnorm=CLIPNORM), loss="mse")
    trained = time.perf_counter()
    model.fit(silence, np.tile(target, (1, 1, len(copies))), batch_size=1, epochs=UPDATES, verbose=0)
    trained = time.perf_counter() - trained
    produced = model.predict(silence, verbose=0)[0]  # (steps, copies)
    nmse = ((produced - target[0]) ** 2).mean(axis=0) / target.var()
    per = {network: nmse[i * len(SEEDS):(i + 1) * len(SEEDS)] for i, network in enumerate(NETWORKS)}
    mean = {network: float(v.mean()) for network, v in per.items()}
    results = os.environ.get("RNNDSL_REPRO_RESULTS")
    figure = (Path(results).parent if results else tmp_path) / "clockwork-generation.png"
    _draw(target[0, :, 0], {network: produced[:, i * len(SEEDS)] for i, network in enumerate(NETWORKS)}, figure)
    _record("sequence generation, 320 steps, no input: Clockwork(40, 8 modules)", "normalized MSE, mean over seeds",
            round(mean["GenerateClockwork"], 5), "the lowest of the three, and < 0.01", f"init {SEEDS[0]}-{SEEDS[-1]}",
            started,
            updates=UPDATES, training_seconds=round(trained, 1), parameters=counts, figure=str(figure),
            nmse_per_seed={network: [round(float(v), 5) for v in values] for network, values in per.items()})
    # the recurrent weights counted out are those the output does not depend on: their gradient is 0
    clockwork = copies[0]
    U = next(w for w in clockwork.weights if w.path.endswith("/U"))
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean((clockwork(silence) - target) ** 2)
    gradient = tape.gradient(loss, U).numpy()
    hears = _hears(**SIZES["GenerateClockwork"]).astype(bool)
    assert not gradient[~hears].any() and np.count_nonzero(gradient[hears]) > 0.9 * hears.sum()
    # the parameter counts match within 5% (docs/reproductions.md gives them)
    assert max(counts.values()) < 1.05 * min(counts.values()), counts
    # the paper's order: the clockwork RNN's error the lowest
    assert mean["GenerateClockwork"] < min(mean["GenerateElman"], mean["GenerateLSTM"]), per
    # and it does give the signal, not only less badly than the others: under 1% of its variance left
    assert mean["GenerateClockwork"] < 0.01, per
