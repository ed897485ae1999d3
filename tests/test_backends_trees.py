"""Tree layers (rnndsl.keras.tree) on Keras's PyTorch and JAX back ends: tree networks of the standard library saved
under TensorFlow load there and give the same outputs and the same gradients (one step of SGD) on a batch of
trees of different shapes with padding, save and reload there, and run without importing TensorFlow. On
TensorFlow, the rounds those back ends run (every node each round, rnndsl.keras.tree_rounds) equal TensorFlow's
own (the nodes whose children are done) in outputs and gradients.

Each back end is a process of its own (Keras chooses it once, at import), as in tests/test_backends.py: this test
saves the models, their inputs, outputs and gradients under TensorFlow, and a child process checks them."""

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
from helpers import backend_env
from rnndsl.keras.cell import cell_source
from rnndsl.keras.tree import TreeLayer
from test_tree_cells import CELLS as PAPER_CELLS, _case

# a reduction over any number of children (with a gate per child), ordered children with `concat` and
# `child(n, i)`, and `leaf(n)`; the root's output, every node's, the root's states
NETWORKS = '''import "std/treelstm.rnn"
import "std/recursive.rnn"

network Sum(units: int = 4) {
    input x: tree[3]
    output Dense(2)(ChildSumTreeLSTM(units, returns=last)(x))
}

network Binary(units: int = 4) {
    input x: tree[3]
    output BinaryTreeLSTM(units)(x)
}

network Leaves(units: int = 4) {
    input x: tree[3]
    c, h = BinaryTreeLSTM(units, returns=states)(RecursiveNN(3)(x))
    output h
}
'''


def _trees(arity: int, chain: bool = True) -> np.ndarray:
    """Children `(4, 7, arity)` of four trees of different shapes, -1 for none and past a tree's size: a bushy
    one, a chain (the tallest a tree of 7 can be; without `chain`, a root and its child), a lone leaf, and one
    with an empty slot before a full one."""
    children = -np.ones((4, 7, arity), "int32")
    if arity == 2:
        children[0, 0], children[0, 1], children[0, 2] = [1, 2], [3, 4], [5, -1]
    else:
        children[0, 0], children[0, 1] = [1, 2, 3], [4, 5, -1]
    for j in range(6 if chain else 1):
        children[1, j, 0] = j + 1
    children[3, 0, :2], children[3, 1, :2] = [-1, 1], [2, 3]
    return children


def _inputs(name: str) -> list:
    rng = np.random.default_rng(len(name))
    # Leaves: trees of 3 levels in 7 node slots (PyTorch runs the rounds they need, 3, not 7)
    children = _trees(3 if name == "Sum" else 2, chain=name != "Leaves")
    return [rng.normal(size=children.shape[:2] + (3,)).astype("float32"), children]  # padding nodes' values too


def _outputs_and_gradients(model, inputs) -> tuple:
    """The model's outputs and the gradients of the mean square of them with respect to its trained weights."""
    with tf.GradientTape() as tape:
        y = model(inputs)
        loss = keras.losses.MeanSquaredError()(tf.zeros_like(y), y)
    return np.asarray(y), [np.asarray(g) for g in tape.gradient(loss, model.trainable_weights)]


def _rounds(model, rounds: str) -> None:
    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, TreeLayer):
            layer.rounds = rounds


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Path:
    """The folder of the networks saved under TensorFlow, each with its inputs, its outputs and the gradients of
    a loss (the mean square of the outputs) with respect to its trained weights."""
    folder = tmp_path_factory.mktemp("backends_trees")
    program = rnndsl.load(NETWORKS)
    for name in ("Sum", "Binary", "Leaves"):
        model = program.build(name)
        inputs = _inputs(name)
        y, gradients = _outputs_and_gradients(model, inputs)
        np.savez(folder / f"{name}.x.npz", values=inputs[0], children=inputs[1])
        np.save(folder / f"{name}.y.npy", y)
        np.savez(folder / f"{name}.grads.npz", **{f"g{i}": g for i, g in enumerate(gradients)})
        model.save(folder / f"{name}.keras")
    (folder / "names.json").write_text(json.dumps(["Sum", "Binary", "Leaves"]))
    return folder


CHILD = r"""
import json, sys
import numpy as np, keras, rnndsl  # rnndsl: the tree layer's Keras class
from backend_checks import every_model
folder, backend = sys.argv[1:]
assert keras.backend.backend() == backend


def trees(folder, name):
    with np.load(f"{folder}/{name}.x.npz") as data:
        return [data["values"], data["children"]]


found = every_model(folder, trees)
found["tensorflow imported"] = "tensorflow" in sys.modules
print(json.dumps(found))
"""


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_tree_networks_on_another_back_end(saved, backend, tmp_path):
    done = subprocess.run([sys.executable, "-c", CHILD, str(saved), backend], capture_output=True, text=True,
                          timeout=600, env=backend_env(backend, tmp_path))
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found.pop("tensorflow imported") is False  # TensorFlow cannot be imported there
    for name, result in found.items():
        assert result["outputs"] < 1e-5, (name, result)  # the same function as under TensorFlow
        assert np.isfinite(result["loss"]) and result["gradients"] < 1e-5, (name, result)  # TensorFlow's gradients
        assert result["reloaded"] == 0.0, (name, result)


# ---------------------------------------------------------------- TensorFlow: every node's rounds, its own

def test_every_node_rounds_equal_tensorflow_s_on_the_networks(saved):
    for name in json.loads((saved / "names.json").read_text()):
        model = keras.saving.load_model(saved / f"{name}.keras")
        inputs = _inputs(name)
        _rounds(model, "every")
        y, gradients = _outputs_and_gradients(model, inputs)
        np.testing.assert_allclose(y, np.load(saved / f"{name}.y.npy"), rtol=0, atol=1e-6, err_msg=name)
        want = np.load(saved / f"{name}.grads.npz")
        for i, g in enumerate(gradients):
            np.testing.assert_allclose(g, want[f"g{i}"], rtol=0, atol=1e-6, err_msg=f"{name} g{i}")


def _both_ways(layer, values, children) -> list:
    """[(outputs, gradients) by TensorFlow's rounds, the same by every node's] of `layer`; the gradients of the sum
    of the outputs times a fixed random array, with respect to its weights and the nodes' values."""
    found = []
    for rounds in ("ready", "every"):
        layer.rounds = rounds
        x = tf.constant(values)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer([x, tf.constant(children)])
            loss = tf.reduce_sum(y * np.random.default_rng(0).normal(size=y.shape))
        grads = tape.gradient(loss, list(layer.weights_by_name.values()) + [x])
        found.append((y.numpy(), [np.zeros(v.shape) if g is None else np.asarray(g) for g, v in
                                  zip(grads, list(layer.weights_by_name.values()) + [x])]))
    return found


@pytest.mark.parametrize("name", sorted(PAPER_CELLS))
def test_every_node_rounds_equal_tensorflow_s_on_the_papers_cells(name):
    """tests/test_tree_cells.py's cells and random trees (6 of up to 11 nodes, float64)."""
    layer, _, _, values, children, _ = _case(name, 6)
    (y, gradients), (y_every, gradients_every) = _both_ways(layer, values, children)
    np.testing.assert_allclose(y_every, y, rtol=0, atol=1e-12)
    for g_every, g in zip(gradients_every, gradients):
        np.testing.assert_allclose(g_every, g, rtol=0, atol=1e-12)


REDUCTIONS = """cell R over tree {
    input x: [2]
    param W: [2, 2] ~ glorot_uniform
    state h: [2] = 0
    s[n] = sum(tanh(W @ h[k] + x[n]) * h[k] for k in children(n))
    a[n] = max(h[k] for k in children(n)) + mean(h[k] for k in children(n)) + min(h[k] for k in children(n))
    h[n] = tanh(x[n] + s[n] + a[n] + prod(h[k] + 1 for k in children(n)) + NORM)
    output h
}
"""


@pytest.mark.parametrize("norm", [False, True])
def test_every_node_rounds_reduce_over_the_children_present(norm):
    """Every reduction over any number of children, over none (a leaf) and over some; `norm` over no children
    is 0 with the gradient 0 (the square root's own at 0 would make it NaN)."""
    spec = REDUCTIONS.replace("NORM", "norm(h[k] for k in children(n))" if norm else "0")
    layer = TreeLayer(cell_source(rnndsl.load(spec), "R"), "R", 2, {}, dtype="float64")
    children = _trees(3)
    values = np.random.default_rng(1).normal(size=(4, 7, 2))
    (y, gradients), (y_every, gradients_every) = _both_ways(layer, values, children)
    np.testing.assert_allclose(y_every, y, rtol=0, atol=1e-12)
    for g_every, g in zip(gradients_every, gradients):
        assert np.isfinite(g).all()
        np.testing.assert_allclose(g_every, g, rtol=0, atol=1e-12)
