"""What the child processes of tests/test_backends*.py compute on another Keras back end, against what the parent
saved under TensorFlow. Imported in those children (tests.helpers.backend_env puts this folder on their path), so it
imports neither TensorFlow nor pytest."""

from __future__ import annotations

import numpy as np


def against_tensorflow(model, x, folder: str, name: str) -> dict:
    """The largest differences from what TensorFlow gave for model `name` of `folder` on input x (its outputs
    `NAME.y.npy`, the gradients of the mean square of its outputs `NAME.grads.npz`), the loss of one step of SGD at
    rate 1 (each weight moved by minus its gradient), and the difference after saving and reloading here."""
    import keras

    y = keras.ops.convert_to_numpy(model(x))
    before = [np.array(w.numpy()) for w in model.trainable_weights]
    model.compile(optimizer=keras.optimizers.SGD(1.0), loss="mse")
    loss = float(model.train_on_batch(x, np.zeros_like(y)))
    step = [before[i] - model.trainable_weights[i].numpy() for i in range(len(before))]
    want = np.load(f"{folder}/{name}.grads.npz")
    gradients = max(float(np.abs(g - want[f"g{i}"]).max()) for i, g in enumerate(step))
    backend = keras.backend.backend()
    model.save(f"{folder}/{name}.{backend}.keras")
    again = keras.saving.load_model(f"{folder}/{name}.{backend}.keras")
    reloaded = float(np.abs(keras.ops.convert_to_numpy(again(x)) - keras.ops.convert_to_numpy(model(x))).max())
    return {"outputs": float(np.abs(y - np.load(f"{folder}/{name}.y.npy")).max()), "loss": loss,
            "gradients": gradients, "reloaded": reloaded}


def sequence_metric_figures(case: dict, number) -> dict:
    """{"KIND WEIGHTING": [wrong bits per sequence, whether each is wrong, [WrongBits, SequenceAccuracy]]} for
    binary targets and class ids (`case["bits_true"]`, ...), with no weights, `(batch, T)` and `(batch,)` weights;
    `number(tensor)` gives a tensor as plain numbers."""
    from rnndsl.keras.sequence_metrics import SequenceAccuracy, WrongBits, wrong_per_sequence

    found = {}
    for kind in ("bits", "ids"):
        y_true, y_pred = case[f"{kind}_true"], case[f"{kind}_pred"]
        for weighting in ("none", "steps", "sequences"):
            weight = None if weighting == "none" else case[f"{kind}_{weighting}"]
            wrong, each = wrong_per_sequence(y_true, y_pred, weight)
            results = []
            for metric in (WrongBits(), SequenceAccuracy()):
                metric.update_state(y_true, y_pred, weight)
                results.append(number(metric.result()))
            found[f"{kind} {weighting}"] = [number(wrong), number(each), results]
    return found


def every_model(folder: str, read_input) -> dict:
    """`against_tensorflow` of every model the parent saved in `folder` (names.json), each on the input
    `read_input(folder, name)` reads."""
    import json

    import keras

    return {name: against_tensorflow(keras.saving.load_model(f"{folder}/{name}.keras"), read_input(folder, name),
                                     folder, name)
            for name in json.loads(open(f"{folder}/names.json").read())}
