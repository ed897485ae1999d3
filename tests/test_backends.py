"""The generated cells on Keras's PyTorch and JAX back ends: a model saved under TensorFlow loads there and gives
the same outputs and the same gradients (one step of SGD), and saves and reloads there; and `rnndsl train`,
`evaluate` and `predict` run there. The child processes cannot import TensorFlow (tests.helpers.backend_env),
as where it is not installed.

Each back end is a process of its own (Keras chooses it once, at import): this test saves the models, their
outputs and gradients under TensorFlow, and a child process with KERAS_BACKEND set checks them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

import rnndsl
from helpers import backend_env, board_scalars

ROOT = Path(__file__).resolve().parents[1]
STD = ROOT / "specs" / "std"

# (spec file, cell, hyperparameters): a gated cell, a memory with content addressing, a memory with heads
CELLS = [("lstm.rnn", "LSTM", dict(units=4)), ("ntm.rnn", "NTM", dict(controller=6, slots=5, width=3)),
         ("dnc.rnn", "DNC", dict(units=6, out=3, slots=4, width=3, reads=2))]

CHILD = r"""
import json, sys
import numpy as np, keras, rnndsl  # rnndsl: a generated cell's Keras classes
from backend_checks import every_model
folder, backend = sys.argv[1:]
assert keras.backend.backend() == backend
found = every_model(folder, lambda folder, name: np.load(f"{folder}/{name}.x.npy"))
found["tensorflow imported"] = "tensorflow" in sys.modules
print(json.dumps(found))
"""


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Path:
    """The folder of the cells' models saved under TensorFlow, with an input each, the outputs and the gradients
    of a loss (the mean square of the outputs) with respect to the trained weights."""
    folder = tmp_path_factory.mktemp("backends")
    names = []
    for file, cell, hparams in CELLS:
        model = rnndsl.load(STD / file).build(cell, input_size=3, fused=False, **hparams)
        x = np.random.default_rng(0).normal(size=(2, 6, 3)).astype("float32")
        with tf.GradientTape() as tape:
            y = model(x)
            loss = keras.losses.MeanSquaredError()(tf.zeros_like(y), y)
        gradients = tape.gradient(loss, model.trainable_weights)
        np.save(folder / f"{cell}.x.npy", x)
        np.save(folder / f"{cell}.y.npy", np.asarray(y))
        np.savez(folder / f"{cell}.grads.npz", **{f"g{i}": np.asarray(g) for i, g in enumerate(gradients)})
        model.save(folder / f"{cell}.keras")
        names.append(cell)
    (folder / "names.json").write_text(json.dumps(names))
    return folder


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_generated_cells_on_another_back_end(saved, backend, tmp_path):
    done = subprocess.run([sys.executable, "-c", CHILD, str(saved), backend], capture_output=True, text=True,
                          timeout=600, env=backend_env(backend, tmp_path))
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found.pop("tensorflow imported") is False
    for name, result in found.items():
        assert result["outputs"] < 1e-5, (name, result)  # the same function as under TensorFlow
        assert np.isfinite(result["loss"]) and result["gradients"] < 1e-5, (name, result)  # TensorFlow's gradients
        assert result["reloaded"] == 0.0, (name, result)


RUN = """
cell MGU(units: int) {
    input x: [in]
    param W_f, W_h: [units, in] ~ glorot_uniform
    param U_f, U_h: [units, units] ~ orthogonal
    param b_f, b_h: [units] = 0
    f[t] = sigmoid(W_f @ x[t] + U_f @ h[t-1] + b_f)
    h[t] = (1 - f[t]) * h[t-1] + f[t] * tanh(W_h @ x[t] + U_h @ (f[t] * h[t-1]) + b_h)
    output h
}

network Add(units: int = 8) {
    input x: seq[2]
    output Dense(1)(MGU(units, returns=last)(x))
    train {
        data = adding(steps=10, train=512, test=64)
        loss = mse
        optimizer = adam(learning_rate=1e-2, clipnorm=1)
        batch = 32
        epochs = 3
        validation = 0.25
        seed = 3
    }
}
"""


CLI = r"""
import contextlib, io, json, sys
from rnndsl.cli import main
printed = []
for args in json.loads(sys.argv[1]):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(args)
    printed.append([status, out.getvalue(), err.getvalue()])
printed.append("tensorflow" in sys.modules)
print(json.dumps(printed))
"""


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_train_evaluate_and_predict_on_another_back_end(tmp_path, backend):
    """`rnndsl train`, `evaluate` and `predict` of a network of a generated cell, in one process on the back end
    KERAS_BACKEND names: the loss falls, and the saved run reloads there to the figures it was saved with."""
    spec, out = tmp_path / "run.rnn", tmp_path / "run"
    spec.write_text(RUN, encoding="utf-8")
    distributed = tmp_path / "mirrored.rnn"
    distributed.write_text(RUN.replace("seed = 3", "seed = 3\n        strategy = mirrored"), encoding="utf-8")
    np.savez(tmp_path / "x.npz", x=np.random.default_rng(0).uniform(size=(5, 10, 2)).astype("float32"))
    commands = [["train", str(spec), "--out", str(out)], ["evaluate", str(out)],
                ["predict", str(out), "--data", str(tmp_path / "x.npz"), "-o", str(tmp_path / "y.npz")],
                ["export", str(out), "--format", "tflite", "--steps", "10", "-o", str(tmp_path / "m.tflite")],
                ["train", str(distributed), "--out", str(tmp_path / "mirrored")]]
    done = subprocess.run([sys.executable, "-c", CLI, json.dumps(commands)], capture_output=True, text=True,
                          timeout=600, env=backend_env(backend, tmp_path))
    assert done.returncode == 0, done.stderr[-3000:]
    *printed, tensorflow_imported = json.loads(done.stdout.strip().splitlines()[-1])
    assert tensorflow_imported is False
    (trained, trained_out, _), (evaluated, evaluated_out, _), (predicted, _, _), *refused = printed
    assert (trained, evaluated, predicted) == (0, 0, 0), done.stderr[-3000:]
    # what needs TensorFlow says so
    assert refused == [[2, "", f"error: export writes TensorFlow's formats and runs on Keras's TensorFlow back end, "
                                f"not on {backend}: run it with KERAS_BACKEND=tensorflow\n"],
                       [2, "", f"error: `strategy = mirrored` is a tf.distribute strategy: it trains on Keras's "
                               f"TensorFlow back end, not on {backend} (run with KERAS_BACKEND=tensorflow, or train "
                               "on one device with `strategy = default`)\n"]]
    assert "trained Add for 3 epochs" in trained_out
    losses = [float(line.split(",")[1]) for line in (out / "history.csv").read_text().splitlines()[1:]]
    assert losses[-1] < losses[0], losses
    # TensorBoard's figures are history.csv's (which has six digits)
    assert board_scalars(out / "tensorboard" / "train")["epoch_loss"] == pytest.approx(losses, rel=1e-5)
    assert set(board_scalars(out / "tensorboard" / "validation")) == {"epoch_loss"}
    metrics = json.loads((out / "metrics.json").read_text())
    assert evaluated_out == f"test: loss {metrics['test']['loss']:.4g}\n"
    with np.load(tmp_path / "y.npz") as y:
        assert y["outputs"].shape == (5, 1) and np.isfinite(y["outputs"]).all()
