"""CTC (rnndsl.keras.ctc) and the sequence metrics (rnndsl.keras.sequence_metrics) on Keras's PyTorch and JAX back
ends: the loss and its gradient equal TensorFlow's, with frame lengths from a Keras mask and from a (batch, T)
sample weight; the label error rate equals the NumPy reference (greedy_decode, label_error_rate); the sequence
metrics equal TensorFlow's; a tiny model compiled with the loss and the metric trains with `fit` (XLA-compiled on
JAX) and evaluates to the reference figures; a target too long for its frames gives what the module's docstring
says for each back end; and TensorFlow is never imported.

Each back end is a process of its own (Keras chooses it once, at import): this test computes the expected figures
under TensorFlow (and with the NumPy references) and saves them with the inputs; a child process with
KERAS_BACKEND set computes the same on its back end and prints them."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from backend_checks import sequence_metric_figures
from helpers import backend_env
from rnndsl.keras import ctc

B, T, C = 5, 7, 4  # 3 classes + blank
LENGTHS = np.array([7, 4, 6, 5, 3])  # real frames of each example, a prefix
TARGETS = [[0, 1, 2], [1, 1], [2], [0, 2, 0, 1], []]  # each fits in its frames (an empty one too)
IMPOSSIBLE = [[0, 0, 0], [0, 1, 2, 0], [1, 2]]  # in 3 frames: need 5, 4, 2 (the last one fits)
FIT = dict(n=32, T=8, features=3, classes=2)  # the tiny model's data

CHILD = r"""
import json, sys
import numpy as np, keras
from keras import ops
from rnndsl.keras import ctc
from backend_checks import sequence_metric_figures
folder, backend = sys.argv[1:]
assert keras.backend.backend() == backend
case = dict(np.load(folder + "/case.npz"))
num = lambda x: np.asarray(ops.convert_to_numpy(x), np.float64).tolist()
found = {}

# the loss: frames from a (batch, T) sample weight, from the Keras mask of a Masking layer's output
losses = ctc.CTCLoss(reduction=None)
found["nll by weight"] = num(losses(case["targets"], case["probs"], sample_weight=case["mask"]))
found["nll by mask"] = num(losses(case["targets"], keras.layers.Masking(0.0)(case["padded"])))
found["mean by weight"] = num(ctc.CTCLoss()(case["targets"], case["probs"], sample_weight=case["mask"]))


def gradient(f, x):  # of a scalar function of logits
    if backend == "jax":
        import jax
        return num(jax.grad(f)(x))
    import torch
    x = torch.tensor(x, requires_grad=True)
    f(x).backward()
    return num(x.grad)


# the gradient of the mean loss with respect to the logits
found["gradient"] = gradient(lambda x: ctc.CTCLoss(from_logits=True)(case["targets"], x, sample_weight=case["mask"]),
                             case["logits"])
# targets that cannot fit in their frames, and one that can
impossible = ctc.CTCLoss(from_logits=True, reduction=None)
found["impossible"] = num(impossible(case["impossible_targets"], case["impossible_logits"]))
found["impossible gradient"] = gradient(lambda x: ops.sum(impossible(case["impossible_targets"], x)),
                                        case["impossible_logits"])

# the label error rate, two batches, with a frame mask whose row of zeros drops an example
metric = ctc.LabelErrorRate()
for k in range(2):
    metric.update_state(case[f"ler_targets{k}"], case[f"ler_probs{k}"], sample_weight=case[f"ler_mask{k}"])
found["ler"] = num(metric.result())

# the sequence metrics: binary targets and class ids; no weights, (batch, T) and (batch,) weights
found.update(sequence_metric_figures(case, num))

# a tiny model trains (JAX compiles the step, the metric in it); then evaluate reads the frames from the mask
x, y, mask = case["fit_x"], case["fit_y"], case["fit_mask"]
init = keras.initializers.GlorotUniform(seed=0)  # not keras.utils.set_random_seed: it imports TensorFlow
classes_and_blank = x.shape[-1]  # the frames are noisy one-hot codes of the symbols
model = keras.Sequential([keras.Input(x.shape[1:]), keras.layers.Masking(0.0),
                          keras.layers.Dense(classes_and_blank, activation="softmax", kernel_initializer=init)])
model.compile(keras.optimizers.Adam(0.05), loss=ctc.CTCLoss(), metrics=[ctc.LabelErrorRate()])
history = model.fit(x, y, batch_size=8, epochs=8, shuffle=False, verbose=0).history
found["history"] = {k: [float(v) for v in vs] for k, vs in history.items()}
found["evaluated"] = [float(v) for v in model.evaluate(x, y, batch_size=len(x), verbose=0)]
found["fit probs"] = num(model.predict(x, verbose=0))
found["tensorflow imported"] = "tensorflow" in sys.modules
print(json.dumps(found))
"""


def _padded(targets, width):
    return np.array([list(z) + [-1] * (width - len(z)) for z in targets], np.int32)


def _softmax(logits):
    e = np.exp(logits - logits.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _frame_mask(lengths, steps):
    return (np.arange(steps)[None, :] < np.asarray(lengths)[:, None]).astype(np.float32)


def _sequence_metric_cases(rng) -> dict:
    """Binary targets `(3, 4, 2)` and class ids `(3, 4)` with outputs that get some wrong, and their weights."""
    case = {"bits_true": rng.integers(0, 2, size=(3, 4, 2)).astype(np.float32),
            "bits_pred": rng.uniform(size=(3, 4, 2)).astype(np.float32),
            "ids_true": rng.integers(0, 5, size=(4, 4)).astype(np.int32),
            "ids_pred": _softmax(2.0 * rng.normal(size=(4, 4, 5))).astype(np.float32)}
    case["bits_pred"][0] = case["bits_true"][0]  # one sequence all right
    case["ids_pred"][1] = np.eye(5, dtype=np.float32)[case["ids_true"][1]]
    for kind in ("bits", "ids"):
        batch = len(case[f"{kind}_true"])
        case[f"{kind}_steps"] = np.array([[0, 1, 1, 1]] * batch, np.float32)
        case[f"{kind}_sequences"] = rng.uniform(0.5, 2.0, size=batch).astype(np.float32)
    return case


def _fit_data(rng, n, T, features, classes):
    """Noisy one-hot frames of a symbol path, blank included (features = classes + 1), zeros after each
    sequence's real frames (a Masking layer marks them); the target is the real frames' path, collapsed."""
    paths = rng.integers(0, classes + 1, size=(n, T))
    lengths = rng.integers(4, T + 1, size=n)
    mask = _frame_mask(lengths, T)
    x = (np.eye(features)[paths] + 0.3 * rng.normal(size=(n, T, features))) * mask[:, :, None]
    targets = [ctc.collapse(p[:k], classes) for p, k in zip(paths, lengths)]
    return x.astype(np.float32), _padded(targets, T), mask


def _tf_gradient(f, x):
    """The gradient of a scalar function f at x, under TensorFlow."""
    variable = tf.Variable(x)
    with tf.GradientTape() as tape:
        value = f(variable)
    return tape.gradient(value, variable).numpy()


@pytest.fixture(scope="module")
def expected(tmp_path_factory):
    """(folder with case.npz, the figures the child must give): TensorFlow's, and the NumPy references'."""
    rng = np.random.default_rng(17)
    folder = tmp_path_factory.mktemp("backends_ctc")
    logits = 2.0 * rng.normal(size=(B, T, C)).astype(np.float32)
    probs = _softmax(logits).astype(np.float32)
    mask = _frame_mask(LENGTHS, T)
    case = {"logits": logits, "probs": probs, "mask": mask, "targets": _padded(TARGETS, 4),
            "padded": probs * mask[:, :, None],  # padding frames all zeros: a Masking(0) layer marks them
            "impossible_logits": rng.normal(size=(3, 3, C)).astype(np.float32),
            "impossible_targets": _padded(IMPOSSIBLE, 4)}
    want = {}
    losses = ctc.CTCLoss(reduction=None)
    want["nll"] = np.asarray(losses(case["targets"], probs, sample_weight=mask), np.float64)
    want["mean"] = float(ctc.CTCLoss()(case["targets"], probs, sample_weight=mask))
    want["gradient"] = _tf_gradient(lambda x: ctc.CTCLoss(from_logits=True)(case["targets"], x, sample_weight=mask),
                                    logits)
    impossible = ctc.CTCLoss(from_logits=True, reduction=None)
    want["impossible"] = np.asarray(impossible(case["impossible_targets"], case["impossible_logits"]), np.float64)
    want["impossible gradient"] = _tf_gradient(lambda x: tf.reduce_sum(impossible(case["impossible_targets"], x)),
                                               case["impossible_logits"])

    decoded, kept_targets = [], []
    for k in range(2):
        ler_probs = _softmax(3.0 * rng.normal(size=(6, 10, C))).astype(np.float32)
        lengths = rng.integers(1, 11, size=6)
        ler_mask = _frame_mask(lengths, 10)
        ler_mask[k] = 0  # a row of zeros drops its example
        targets = _padded([list(rng.integers(0, C - 1, size=rng.integers(0, 5))) for _ in range(6)], 5)
        case.update({f"ler_probs{k}": ler_probs, f"ler_mask{k}": ler_mask, f"ler_targets{k}": targets})
        kept = np.arange(6) != k
        decoded += ctc.greedy_decode(ler_probs[kept], lengths[kept])
        kept_targets += list(targets[kept])
    want["ler"] = ctc.label_error_rate(decoded, kept_targets)
    assert want["ler"] > 0.3  # random decodings, far from the targets: real edits are counted

    case.update(_sequence_metric_cases(rng))
    want.update(sequence_metric_figures(case, lambda t: np.asarray(t, np.float64).tolist()))

    case["fit_x"], case["fit_y"], case["fit_mask"] = _fit_data(rng, **FIT)
    np.savez(folder / "case.npz", **case)
    return folder, case, want


def test_tensorflow_gives_what_the_docstring_says(expected):
    """The figures the children are held to, under TensorFlow: a target that cannot fit costs about 708."""
    _, case, want = expected
    assert np.all(np.isfinite(want["nll"])) and want["mean"] == pytest.approx(want["nll"].mean(), rel=1e-6)
    assert np.all((want["impossible"][:2] > 700) & (want["impossible"][:2] < 720)), want["impossible"]
    assert np.all(np.isfinite(want["impossible gradient"]))
    assert want["impossible"][2] < 20  # [1, 2] fits in 3 frames
    # the Keras mask gives the frames the sample weight gives
    masked = keras.layers.Masking(0.0)(case["padded"])
    np.testing.assert_allclose(ctc.CTCLoss(reduction=None)(case["targets"], masked), want["nll"], rtol=1e-6)


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_ctc_and_sequence_metrics_on_another_back_end(expected, backend):
    folder, case, want = expected
    done = subprocess.run([sys.executable, "-c", CHILD, str(folder), backend], capture_output=True, text=True,
                          timeout=600, env=backend_env(backend, folder))
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    differences = {}

    for name in ("nll by weight", "nll by mask"):
        differences[name] = float(np.abs(np.array(found[name]) - want["nll"]).max())
    differences["mean"] = abs(found["mean by weight"] - want["mean"])
    differences["gradient"] = float(np.abs(np.array(found["gradient"]) - want["gradient"]).max())
    differences["ler"] = abs(found["ler"] - want["ler"])
    for key in [k for k in want if k.startswith(("bits ", "ids "))]:
        got, wanted = found[key], want[key]
        differences[key] = max(float(np.abs(np.array(g) - np.array(w)).max()) for g, w in zip(got, wanted))
    print(backend, json.dumps(differences))  # pytest -s shows them
    assert max(differences.values()) < 1e-5, differences
    assert np.abs(np.array(found["gradient"])).max() > 1e-2  # a gradient that is not all but zero

    # a target that cannot fit in its frames: what the module's docstring says of each back end
    impossible, gradient = np.array(found["impossible"]), np.array(found["impossible gradient"])
    if backend == "torch":
        assert (impossible[:2] == ctc.IMPOSSIBLE_LOSS).all() and (gradient[:2] == 0).all(), impossible
    else:
        assert np.all((impossible[:2] > 1e5 - 3 * math.log(C)) & (impossible[:2] < 1.1e5)), impossible
        assert np.all(np.isfinite(gradient[:2]))
    # the example that fits is unaffected by its neighbours
    assert impossible[2] == pytest.approx(want["impossible"][2], abs=1e-5)
    np.testing.assert_allclose(gradient[2], want["impossible gradient"][2], atol=1e-5)

    # the tiny model: the loss and the label error rate fell; evaluate gives the reference figures of its outputs
    history = found["history"]
    assert history["loss"][-1] < 0.5 * history["loss"][0], history
    assert history["label_error_rate"][-1] < history["label_error_rate"][0], history
    probs, frames = np.array(found["fit probs"], np.float32), case["fit_mask"].sum(1).astype(np.int32)
    y = case["fit_y"]
    loss, ler = found["evaluated"]
    assert loss == pytest.approx(float(np.mean(ctc.ctc_nll(y, probs, frames))), rel=1e-5)  # TensorFlow's op here
    assert ler == pytest.approx(ctc.label_error_rate(ctc.greedy_decode(probs, frames), y), rel=1e-6)
    assert loss < 0.8 * float(np.mean(ctc.ctc_nll(y, probs)))  # the padding frames did not count

    assert found["tensorflow imported"] is False
