"""Shared helpers for the tests: compile spec text and render its diagnostics."""

from __future__ import annotations

import textwrap

from rnndsl.program import compile_text


def compile_spec(text: str, file: str = "spec.rnn"):
    """(Program, errors) for `text` (dedented), named `file` in diagnostics."""
    return compile_text(textwrap.dedent(text).lstrip("\n"), file)


def diagnostics(text: str, file: str = "spec.rnn") -> str:
    """Every diagnostic of `text`, rendered, in source order, separated by blank lines."""
    from rnndsl.lang.errors import SpecErrors

    _, errors = compile_spec(text, file)
    assert errors, "expected diagnostics, found none"
    return "\n\n".join(e.render() for e in SpecErrors(errors).errors)


def checked(text: str, file: str = "spec.rnn"):
    """The Program of a spec that must check clean."""
    program, errors = compile_spec(text, file)
    assert not errors, "\n\n".join(e.render() for e in errors)
    return program


def data_error(fn, *args, **kwargs) -> str:
    """The message of the DataError that fn raises; it renders as one line with code E0701."""
    import pytest

    from rnndsl.lang.errors import DataError

    with pytest.raises(DataError) as caught:
        fn(*args, **kwargs)
    rendered = caught.value.render()
    assert "\n" not in rendered and rendered.startswith("error[E0701]: "), rendered
    return caught.value.message


def central_differences(f, value, eps: float):
    """Central differences of the scalar f() in the entries of `value` (float64, changed in place and restored)."""
    import numpy as np

    grad = np.zeros_like(value)
    flat, gflat = value.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        keep = flat[i]
        flat[i] = keep + eps
        up = f()
        flat[i] = keep - eps
        down = f()
        flat[i] = keep
        gflat[i] = (up - down) / (2 * eps)
    return grad


def train_without_nan(model, x, y, loss, optimizer, steps: int = 200) -> list:
    """`steps` training steps of `model` on (x, y); each step's gradients must be finite. The losses."""
    import numpy as np
    import tensorflow as tf

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            value = loss(y, model(x, training=True))
        grads = tape.gradient(value, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return value, tf.reduce_all([tf.reduce_all(tf.math.is_finite(g)) for g in grads])

    losses = []
    for _ in range(steps):
        value, finite = step()
        assert bool(finite), f"a gradient is not finite at step {len(losses) + 1}"
        losses.append(float(value))
    assert np.isfinite(losses).all()
    assert all(np.isfinite(v.numpy()).all() for v in model.weights)
    return losses


def float64_layer(path, cell: str, inputs: int, sizes: dict, seed: int, draw=None):
    """The lowered cell `cell` of the spec file `path` as a GeneratedRNN in float64, its trainable weights drawn
    from normal(0, 0.6) (or `draw(name, shape, rng)` where that gives an array); (layer, weights by name)."""
    import numpy as np

    import rnndsl
    from rnndsl.keras.cell import GeneratedCell, GeneratedRNN, cell_source

    program = rnndsl.load(path)
    made = GeneratedCell(cell_source(program, cell), cell, inputs, sizes, dtype="float64")
    layer = GeneratedRNN(made, return_sequences=True, dtype="float64")
    layer.build((None, None, inputs))
    rng = np.random.default_rng(seed)
    for name, w in made.weights_by_name.items():
        if w.trainable:
            value = draw(name, w.shape, rng) if draw is not None else None
            w.assign(value if value is not None else rng.normal(scale=0.6, size=w.shape))
    return layer, made.weights_by_name


def gradient_matches_reference(layer, weights: dict, xs, reference, seed: int, every_weight: bool = False):
    """The gradient of sum(layer(xs) * R), R random, with respect to every trainable weight equals central
    differences of the same loss over `reference(params, x)` (one sequence `(steps, in)` -> `(steps, out)`),
    to rtol 1e-5; `every_weight`: each weight must also reach the loss."""
    import numpy as np
    import tensorflow as tf

    trained = {n: w for n, w in weights.items() if w.trainable}
    R = np.random.default_rng(seed).normal(size=tuple(layer(xs).shape))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(xs) * R)
    got = dict(zip(trained, tape.gradient(loss, list(trained.values()))))
    params = {n: np.array(w.numpy()) for n, w in weights.items()}  # 0-d arrays: changed in place

    def loss_of():
        return float(sum((reference(params, xs[b]) * R[b]).sum() for b in range(len(xs))))

    for name in trained:
        want = central_differences(loss_of, params[name], 1e-6)
        if every_weight:
            assert np.abs(want).max() > 1e-6, name
        np.testing.assert_allclose(np.asarray(got[name]), want, rtol=1e-5, atol=1e-8, err_msg=name)


def backend_env(backend: str, folder) -> dict:
    """The environment of a child process on Keras's `backend` in which TensorFlow cannot be imported, as where
    it is not installed: a package `tensorflow` in `folder`, first on the path, raises ImportError. (Keras 3.15
    imports TensorFlow wherever it is installed when it saves a model or seeds its random generators, under
    every back end; this is how the tests see rnndsl running without it.)"""
    import os
    from pathlib import Path

    blocked = Path(folder) / "no-tensorflow" / "tensorflow"
    blocked.mkdir(parents=True, exist_ok=True)
    (blocked / "__init__.py").write_text('raise ImportError("tensorflow is not installed (blocked by the test)")\n')
    here = str(Path(__file__).resolve().parent)  # the children import tests/backend_checks.py
    path = os.pathsep.join(p for p in (str(blocked.parent), here, os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": path}


def board_scalars(folder) -> dict:
    """The scalars of the TensorBoard event files in `folder`: {tag: [value, ...] in the order of their steps},
    read record by record (length, its check, the Event proto, its check) with TensorBoard's protos."""
    import struct
    from pathlib import Path

    from tensorboard.compat.proto import event_pb2

    found: dict = {}
    for file in sorted(Path(folder).glob("events.out.tfevents.*")):
        data, at = file.read_bytes(), 0
        while at < len(data):
            (length,) = struct.unpack("<Q", data[at:at + 8])
            event = event_pb2.Event.FromString(data[at + 12:at + 12 + length])
            at += 12 + length + 4
            for value in event.summary.value:
                found.setdefault(value.tag, []).append((event.step, value.simple_value))
    return {tag: [v for _, v in sorted(pairs)] for tag, pairs in found.items()}
