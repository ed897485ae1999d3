"""Benchmarks behind `make bench`: rnndsl's lowered cells against hand-written Keras, as ratios.

In one process, after warm-up, the median time of a full training step
(forward, backward, optimizer) on the CPU, batch 64, 100 steps, 32 inputs,
128 units, for:
  LSTM: the spec LSTM on the generated path, on the fused path, keras.layers.LSTM,
        and a hand-written Keras cell (keras.layers.RNN over a Layer with four gate matmuls);
  IndRNN: the spec IndRNN (generated) and a hand-written Keras cell.
And an encoder-decoder with Luong dot attention (LSTM encoder and decoder, 128 units, 20 source
and 20 target steps, 1,000 target tokens): the spec's EncoderDecoder against the same model
hand-written with Keras layers (the encoder's states into the decoder, keras.layers.Attention).
Also the time to lower a network of 24 stacked cells (TensorFlow's import excluded), and the tree
benchmark of bench/trees.py: the Child-Sum Tree-LSTM on 64 trees of 15 to 25 nodes, lowered, against
eager TensorFlow node by node and a level-by-level implementation written by hand; and the memory
benchmark of bench/memory.py: the NTM and the DNC, generated and written by hand, with and without XLA;
the grid benchmark of bench/grids.py: the Row LSTM and the Diagonal BiLSTM against the same layers
written by hand, with and without XLA; the rate benchmark of bench/rates.py: a layer on every k-th step;
the population benchmark of bench/population.py: 64 weight sets evaluated at once; and the back-end
benchmark of bench/backends.py: the spec LSTM
on TensorFlow, PyTorch and JAX.

Prints each time and the ratios, and writes them to bench/RESULTS.md (with `--write`).
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import argparse  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from datetime import date  # noqa: E402
from pathlib import Path  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import rnndsl  # noqa: E402
import backends  # noqa: E402 -- bench/backends.py, beside this file
import grids  # noqa: E402 -- bench/grids.py, beside this file
import memory  # noqa: E402 -- bench/memory.py, beside this file
import population  # noqa: E402 -- bench/population.py, beside this file
import rates  # noqa: E402 -- bench/rates.py, beside this file
import trees  # noqa: E402 -- bench/trees.py, beside this file

tf.get_logger().setLevel("ERROR")  # train_on_batch on several models in turn warns of retracing; it is expected

BATCH, STEPS, INPUTS, UNITS = 64, 100, 32, 128
ROOT = Path(__file__).resolve().parents[1]


class HandLSTMCell(keras.layers.Layer):
    """An LSTM cell as a typical user writes it: four gate matmuls per input and state."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = [units, units]
        self.output_size = units

    def build(self, input_shape):
        d, u = input_shape[-1], self.units
        for g in "ifco":
            setattr(self, f"W_{g}", self.add_weight(name=f"W_{g}", shape=(d, u), initializer="glorot_uniform"))
            setattr(self, f"U_{g}", self.add_weight(name=f"U_{g}", shape=(u, u), initializer="orthogonal"))
            setattr(self, f"b_{g}", self.add_weight(name=f"b_{g}", shape=(u,), initializer="zeros"))

    def call(self, x, states):
        h, c = states
        i = tf.sigmoid(x @ self.W_i + h @ self.U_i + self.b_i)
        f = tf.sigmoid(x @ self.W_f + h @ self.U_f + self.b_f)
        g = tf.tanh(x @ self.W_c + h @ self.U_c + self.b_c)
        o = tf.sigmoid(x @ self.W_o + h @ self.U_o + self.b_o)
        c = f * c + i * g
        h = o * tf.tanh(c)
        return h, [h, c]


class HandIndRNNCell(keras.layers.Layer):
    """IndRNN (Li et al. 2018) as a typical user writes it."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units
        self.output_size = units

    def build(self, input_shape):
        self.W = self.add_weight(name="W", shape=(input_shape[-1], self.units), initializer="glorot_uniform")
        self.u = self.add_weight(name="u", shape=(self.units,), initializer=keras.initializers.RandomUniform(0, 1),
                                 constraint=lambda w: tf.clip_by_value(w, -1.0, 1.0))
        self.b = self.add_weight(name="b", shape=(self.units,), initializer="zeros")

    def call(self, x, states):
        h = tf.nn.relu(x @ self.W + self.u * states[0] + self.b)
        return h, [h]


def _model(rnn_layer) -> keras.Model:
    x = keras.Input((STEPS, INPUTS))
    y = rnn_layer(x)
    model = keras.Model(x, y)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    return model


def _spec_model(spec: str, fused: bool) -> keras.Model:
    program = rnndsl.load(f'import "std/{spec}.rnn"\nnetwork B(units: int = {UNITS}) {{\n'
                          f'    input x: seq[{INPUTS}]\n    output x >> {"LSTM" if spec == "lstm" else "IndRNN"}(units)\n}}\n')
    model = program.build("B", fused=fused)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    return model


VOCAB, SOURCE_STEPS, TARGET_STEPS = 1000, 20, 20


def _spec_seq2seq() -> keras.Model:
    program = rnndsl.load(f'import "std/lstm.rnn"\nnetwork S(units: int = {UNITS}) {{\n'
                          f'    input source: seq[{INPUTS}]\n    input target: seq[int]\n'
                          f'    output EncoderDecoder(LSTM(units), LSTM(units), vocab={VOCAB}, embed={INPUTS}, '
                          f'attention=luong_dot)(source, target)\n}}\n')
    model = program.build("S")
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    return model


def _hand_seq2seq() -> keras.Model:
    """The same encoder-decoder as a Keras user writes it: LSTM states into the decoder, Luong's
    dot attention (keras.layers.Attention), tanh(W_c [context; output]), a softmax layer."""
    source, target = keras.Input((None, INPUTS)), keras.Input((None,), dtype="int32")
    encoded, h, c = keras.layers.LSTM(UNITS, return_sequences=True, return_state=True)(source)
    outputs = keras.layers.LSTM(UNITS, return_sequences=True)(keras.layers.Embedding(VOCAB, INPUTS)(target),
                                                                initial_state=[h, c])
    context = keras.layers.Attention()([outputs, encoded])
    combined = keras.layers.Dense(UNITS, activation="tanh", use_bias=False)(
        keras.layers.Concatenate()([context, outputs]))
    model = keras.Model([source, target], keras.layers.Dense(VOCAB, activation="softmax")(combined))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    return model


def _seq2seq_times(models: dict, repeats: int) -> dict:
    rng = np.random.default_rng(0)
    source = rng.normal(size=(BATCH, SOURCE_STEPS, INPUTS)).astype("float32")
    target = rng.integers(1, VOCAB, (BATCH, TARGET_STEPS)).astype("int32")
    return _turns(models, [source, target], rng.integers(1, VOCAB, (BATCH, TARGET_STEPS)), repeats)


def _times(models: dict, repeats: int) -> dict:
    """Median training-step time of each model; the models take turns, so drift hits all alike."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(BATCH, STEPS, INPUTS)).astype("float32")
    y = rng.normal(size=(BATCH, STEPS, UNITS)).astype("float32")
    return _turns(models, x, y, repeats)


def _turns(models: dict, x, y, repeats: int) -> dict:
    """Median training-step time of each model on (x, y), the models taking turns."""
    for model in models.values():
        for _ in range(3):
            model.train_on_batch(x, y)
    times: dict = {name: [] for name in models}
    for _ in range(repeats):
        for name, model in models.items():
            t0 = time.perf_counter()
            model.train_on_batch(x, y)
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(t) for name, t in times.items()}


def _build_time() -> float:
    layers = " >> ".join(["IndRNN(units)"] * 24)
    text = f'import "std/indrnn.rnn"\nnetwork Deep(units: int = 64) {{\n    input x: seq[16]\n    output x >> {layers}\n}}\n'
    t0 = time.perf_counter()
    rnndsl.load(text).build("Deep")
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--write", action="store_true", help="write bench/RESULTS.md")
    args = parser.parse_args()
    rows = {
        "spec LSTM, generated": _spec_model("lstm", fused=False),
        "spec LSTM, fused": _spec_model("lstm", fused=True),
        "keras.layers.LSTM": _model(keras.layers.LSTM(UNITS, return_sequences=True)),
        "hand-written Keras LSTM cell": _model(keras.layers.RNN(HandLSTMCell(UNITS), return_sequences=True)),
        "spec IndRNN, generated": _spec_model("indrnn", fused=False),
        "hand-written Keras IndRNN cell": _model(keras.layers.RNN(HandIndRNNCell(UNITS), return_sequences=True)),
    }
    times = _times(rows, args.repeats)
    times.update(_seq2seq_times({"spec EncoderDecoder, Luong dot": _spec_seq2seq(),
                                 "hand-written Keras encoder-decoder": _hand_seq2seq()}, args.repeats))
    build = _build_time()
    tree_loss = trees.same_loss()
    tree_times = trees.times(args.repeats)
    times.update(tree_times)
    memory_checks = {kind: memory.differences(kind) for kind in ("ntm", "dnc")}
    memory_times = {name: ms / 1000 for name, ms in memory.times(args.repeats).items()}
    times.update(memory_times)
    grid_checks = {kind: grids.differences(kind) for kind in grids.LAYERS}
    grid_times = {name: ms / 1000 for name, ms in grids.times(args.repeats).items()}
    times.update(grid_times)
    rate_times = {name: ms / 1000 for name, ms in rates.times(args.repeats).items()}
    times.update(rate_times)
    population_times = population.times(args.repeats)
    times.update({f"population: {name}": ms / 1000 for name, ms in population_times.items()})
    # each back end in a process of its own (bench/backends.py): fewer repeats, PyTorch's eager loop is slow
    times.update({name: ms / 1000 for name, ms in backends.times(max(3, args.repeats // 3)).items()})
    ratios = {
        "fused spec LSTM / keras.layers.LSTM": times["spec LSTM, fused"] / times["keras.layers.LSTM"],
        "generated spec LSTM / hand-written cell": times["spec LSTM, generated"] / times["hand-written Keras LSTM cell"],
        "generated spec IndRNN / hand-written cell":
            times["spec IndRNN, generated"] / times["hand-written Keras IndRNN cell"],
        "spec encoder-decoder / hand-written Keras":
            times["spec EncoderDecoder, Luong dot"] / times["hand-written Keras encoder-decoder"],
        "spec tree layer / hand-written level by level":
            times["spec ChildSumTreeLSTM, tree layer"] / times["hand-written TensorFlow, level by level"],
        "eager node by node / spec tree layer":
            times["eager TensorFlow, node by node"] / times["spec ChildSumTreeLSTM, tree layer"],
        **memory.ratios({name: t * 1000 for name, t in memory_times.items()}),
        **grids.ratios({name: t * 1000 for name, t in grid_times.items()}),
        **rates.ratios({name: t * 1000 for name, t in rate_times.items()}),
        **{f"population of {population.MEMBERS}, {name}": r for name, r in population.ratios(population_times).items()},
    }
    lines = [f"# Benchmarks ({date.today().isoformat()})", "",
             f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores, {platform.python_version()}, "
             f"TensorFlow {tf.__version__}, Keras {keras.__version__}; CPU only.",
             f"Training step (forward, backward, Adam), batch {BATCH}, {STEPS} steps, {INPUTS} inputs, "
             f"{UNITS} units (the encoder-decoders: {SOURCE_STEPS} source and {TARGET_STEPS} target steps, "
             f"{VOCAB} target tokens); median of {args.repeats} steps after 3 warm-up steps, the models taking "
             "turns, all in one process.",
             f"Trees: the Child-Sum Tree-LSTM, {trees.TREES} trees of {trees.LOW} to {trees.HIGH} nodes, "
             f"{trees.FEATURES} features a node, {trees.UNITS} units, the root through Dense(1), MSE, Adam "
             f"(bench/trees.py); the eager one node by node, median of 3 steps. The three ways' losses on one "
             f"batch agree within {tree_loss:.1e}.",
             f"Memory (bench/memory.py): the NTM of examples/memory.rnn (controller {memory.NTM['controller']}, "
             f"{memory.NTM['slots']} slots of {memory.NTM['width']}; batch {memory.BATCH}, {memory.NTM_STEPS} steps) "
             f"and a DNC ({memory.DNC['units']} units, {memory.DNC['slots']} slots of {memory.DNC['width']}, "
             f"{memory.DNC['reads']} read heads; "
             f"{memory.DNC_STEPS} steps), generated and written by hand as Keras cells, each compiled without and "
             f"with XLA; with the same weights on one batch their losses differ by "
             f"{memory_checks['ntm'][0]:.1e} (NTM) and {memory_checks['dnc'][0]:.1e} (DNC), their gradients by at "
             f"most {max(memory_checks['ntm'][2], memory_checks['dnc'][2]):.1e}.",
             f"Grids (bench/grids.py): the Row LSTM and the Diagonal BiLSTM of specs/std/grid.rnn ({grids.UNITS} "
             f"units) on {grids.IMAGES} images of {grids.SIDE} x {grids.SIDE} with {grids.FEATURES} features a "
             "pixel, Dense(1, sigmoid) at every pixel, binary cross-entropy, against the same layers written by "
             "hand in Keras as the PixelRNN paper computes them (the Row LSTM a row at a time, a convolution over "
             "the row above; the Diagonal BiLSTM skewed, a column at a time), each compiled without and with XLA; "
             "with the same weights on one batch their losses differ by at most "
             f"{max(c[0] for c in grid_checks.values()):.1e}, their outputs by "
             f"{max(c[1] for c in grid_checks.values()):.1e}.",
             f"Rates (bench/rates.py): an LSTM of {rates.UNITS} units on {rates.STEPS} steps of {rates.INPUTS} "
             f"inputs (batch {rates.BATCH}), Dense(1) at every step, on every step against `Subsample(k) >> LSTM >> "
             "UpSampling1D(k)` (fused and generated) and against an LSTM cell whose equations are `every k` (which "
             "computes every step and keeps every k-th); b / (a + b) from the fit time(k) = a + b / k.",
             f"Population (bench/population.py): {population.MEMBERS} weight sets of an Elman network "
             f"({population.UNITS} units, Dense(1)) on {population.BATCH} sequences of {population.STEPS} steps, and "
             f"of the double-pole controller PoleRNN ({population.CONTROLLER_UNITS} units) for {population.ACTIONS} "
             "actions, evaluated in one batched pass (tf.vectorized_map) against one at a time.",
             f"Back ends (bench/backends.py): the spec LSTM above, generated and fused, on Keras's TensorFlow, "
             f"PyTorch and JAX back ends, each in a process of its own, median of {max(3, args.repeats // 3)} "
             "steps after 2 warm-up steps.", "",
             "| model | median step (ms) |", "| --- | --- |"]
    lines += [f"| {name} | {t * 1000:.1f} |" for name, t in times.items()]
    lines += ["", "| ratio | value |", "| --- | --- |"]
    lines += [f"| {name} | {r:.3f} |" for name, r in ratios.items()]
    lines += ["", f"Lowering a network of 24 stacked IndRNN cells (load + build, TensorFlow already imported): "
                  f"{build:.2f} s"]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        results = ROOT / "bench" / "RESULTS.md"
        # A hand-written "## Notes" section (what the profile shows, what was tried) outlives a new run.
        old = results.read_text() if results.exists() else ""
        notes = old[old.index("## Notes"):] if "## Notes" in old else ""
        results.write_text(text + ("\n" + notes if notes else ""))


if __name__ == "__main__":
    main()
