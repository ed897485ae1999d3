"""The encoder-decoder (rnndsl.keras.seq2seq) on Keras's PyTorch and JAX back ends: a model saved under TensorFlow
loads there and gives the same teacher-forced outputs and gradients (one step of SGD), on the step loop
(Bahdanau's attention, generated cells) and on the whole-target path (Luong's, Keras's fused LSTM); scheduled
sampling trains there; greedy and beam decoding through `Stepper` give TensorFlow's tokens; each model saves and
reloads there; and none of it imports TensorFlow.

Each back end is a process of its own (Keras chooses it once, at import): this test saves the models, their
inputs, outputs, gradients and decodings under TensorFlow, and a child process with KERAS_BACKEND set checks them
(tests/test_backends.py does the same for the cells alone)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

import rnndsl
from helpers import backend_env
from rnndsl.keras.seq2seq import decode

SPEC = textwrap.dedent("""
    import "std/cells.rnn"

    network Additive(units: int = 6) {
        input source: seq[3]
        input target: seq[int]
        feats = Masking()(source)
        output EncoderDecoder(GRU(units), PeepholeLSTM(units), vocab=7, embed=5, attention=bahdanau,
                              bridge=dense)(feats, target)
    }
    network Dot(units: int = 6) {
        input source: seq[3]
        input target: seq[int]
        feats = Masking()(source)
        output EncoderDecoder(LSTM(units), LSTM(units), vocab=7, embed=5, attention=luong_dot)(feats, target)
    }
    network Sampled(units: int = 6) {
        input source: seq[3]
        input target: seq[int]
        feats = Masking()(source)
        output EncoderDecoder(LSTM(units), LSTM(units), vocab=7, embed=5, attention=bahdanau,
                              sampling=1.0)(feats, target)
    }
""")
FORCED, SAMPLED = ["Additive", "Dot"], "Sampled"
MAX_LENGTH, BEAM = 6, 3

CHILD = r"""
import json, sys
import numpy as np, keras, rnndsl  # rnndsl: the encoder-decoder's and the generated cells' Keras classes
from rnndsl.keras.seq2seq import decode, decoder_of
folder, backend, forced, sampled, max_length, beam = sys.argv[1:]
max_length, beam = int(max_length), int(beam)
assert keras.backend.backend() == backend
data = np.load(folder + "/data.npz")
source, target, labels = data["source"], data["target"], data["labels"]
numpy = keras.ops.convert_to_numpy
found, models = {}, {}
for name in json.loads(forced):
    model = models[name] = keras.saving.load_model(f"{folder}/{name}.keras")
    want = np.load(f"{folder}/{name}.npz")
    y = numpy(model([source, target]))
    before = [np.array(w.numpy()) for w in model.trainable_weights]
    model.compile(optimizer=keras.optimizers.SGD(1.0), loss="sparse_categorical_crossentropy")
    loss = float(model.train_on_batch([source, target], labels))
    # one step of SGD at rate 1: each weight moved by minus its gradient
    step = [before[i] - model.trainable_weights[i].numpy() for i in range(len(before))]
    for i, w in enumerate(model.trainable_weights):  # back to the saved weights, to decode as TensorFlow did
        w.assign(before[i])
    greedy, beamed = decode(model, {"source": source}, max_length=max_length), \
        decode(model, {"source": source}, beam=beam, max_length=max_length)
    found[name] = {
        "outputs": float(np.abs(y - want["y"]).max()), "loss": loss,
        "gradients": max(float(np.abs(g - want[f"g{i}"]).max()) for i, g in enumerate(step)),
        "greedy tokens": bool(np.array_equal(greedy.tokens, want["greedy"])),
        "beam tokens": bool(np.array_equal(beamed.tokens, want["beam"])),
        "scores": max(float(np.abs(greedy.scores - want["greedy_scores"]).max()),
                      float(np.abs(beamed.scores - want["beam_scores"]).max()))}
# scheduled sampling at p = 1: training reads the drawn tokens past <s>, so the true target changes nothing
model = models[sampled] = keras.saving.load_model(f"{folder}/{sampled}.keras")
layer = decoder_of(model)
other = target.copy()
other[:, 1:] = np.where(target[:, 1:] == 4, 5, 4)
seed = numpy(layer.seed.state)
first = numpy(model([source, target], training=True))
layer.seed.state.assign(seed)
second = numpy(model([source, other], training=True))
model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
losses = [float(model.train_on_batch([source, target], labels)) for _ in range(3)]
found[sampled] = {"losses": losses, "target ignored": float(np.abs(first - second).max())}
for name, model in models.items():
    model.save(f"{folder}/{name}.{backend}.keras")
    again = keras.saving.load_model(f"{folder}/{name}.{backend}.keras")
    found[name]["reloaded"] = float(np.abs(numpy(again([source, target])) - numpy(model([source, target]))).max())
found["tensorflow imported"] = "tensorflow" in sys.modules
print(json.dumps(found))
"""


def _batch(seed=0, batch=4, steps=5, length=6, vocab=7, start=2):
    """Source features (batch, steps, 3), the last rows padded (zeros) in some sequences, decoder input tokens
    (batch, length) starting with <s>, and the labels (the tokens to predict)."""
    rng = np.random.default_rng(seed)
    source = rng.uniform(-1, 1, (batch, steps, 3)).astype("float32")
    for i, n in enumerate([steps, 2, 4, 3][:batch]):
        source[i, n:] = 0.0
    target = rng.integers(4, vocab, (batch, length)).astype("int32")
    target[:, 0] = start
    return source, target, rng.integers(3, vocab, (batch, length)).astype("int32")


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Path:
    """The folder of the models saved under TensorFlow with their data, teacher-forced outputs, the gradients
    of the cross entropy at the labels with respect to the trained weights, and greedy and beam decodings."""
    folder = tmp_path_factory.mktemp("seq2seq_backends")
    program = rnndsl.load(SPEC)
    source, target, labels = _batch()
    np.savez(folder / "data.npz", source=source, target=target, labels=labels)
    for seed, name in enumerate(FORCED + [SAMPLED]):
        keras.utils.set_random_seed(seed)
        model = program.build(name)
        model.save(folder / f"{name}.keras")
        if name == SAMPLED:
            continue
        y = model([source, target])
        with tf.GradientTape() as tape:
            loss = keras.losses.SparseCategoricalCrossentropy()(labels, model([source, target], training=True))
        gradients = [tf.convert_to_tensor(g) for g in tape.gradient(loss, model.trainable_weights)]  # dense
        greedy = decode(model, {"source": source}, max_length=MAX_LENGTH)
        beamed = decode(model, {"source": source}, beam=BEAM, max_length=MAX_LENGTH)
        np.savez(folder / f"{name}.npz", y=np.asarray(y), greedy=greedy.tokens, beam=beamed.tokens,
                 greedy_scores=greedy.scores, beam_scores=beamed.scores,
                 **{f"g{i}": np.asarray(g) for i, g in enumerate(gradients)})
    return folder


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_encoder_decoder_on_another_back_end(saved, backend, tmp_path):
    done = subprocess.run([sys.executable, "-c", CHILD, str(saved), backend, json.dumps(FORCED), SAMPLED,
                           str(MAX_LENGTH), str(BEAM)], capture_output=True, text=True, timeout=600,
                          env=backend_env(backend, tmp_path))
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    print(backend, json.dumps(found))  # the differences, for `pytest -s`
    # loading, teacher forcing, training (with scheduled sampling too), decoding and saving, TensorFlow unimportable
    assert found.pop("tensorflow imported") is False
    for name in FORCED:
        result = found[name]
        assert result["outputs"] < 1e-5, (name, result)  # the same function as under TensorFlow
        assert np.isfinite(result["loss"]) and result["gradients"] < 1e-5, (name, result)  # TensorFlow's gradients
        assert result["greedy tokens"] and result["beam tokens"], (name, result)  # Stepper decodes the same
        assert result["scores"] < 1e-4, (name, result)
        assert result["reloaded"] == 0.0, (name, result)
    sampled = found[SAMPLED]
    assert all(np.isfinite(sampled["losses"])), sampled
    assert sampled["target ignored"] < 1e-6, sampled
    assert sampled["reloaded"] == 0.0, sampled
