"""Tree cells, lowered level by level (rnndsl.keras.tree), equal their papers' equations evaluated
node by node in NumPy: forward at every node, and the gradient of a loss over every node with respect
to every parameter and every node's input, on batches of random trees of different shapes.

The references below are written from the papers' equations (the docstrings of
specs/std/treelstm.rnn and specs/std/recursive.rnn quote them), one node at a time, children
first, in float64; the layer runs in float64 too, so that finite differences of the reference
check its gradients to 1e-5.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import rnndsl
from rnndsl.keras.cell import cell_source
from rnndsl.keras.tree import TreeLayer

STD = Path(__file__).resolve().parent.parent / "specs" / "std"


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


# ---------------------------------------------------------------- random trees


def random_trees(rng, count: int, most: int, arity=None) -> list:
    """`count` trees of 1 to `most` nodes, each a list of child lists, node 0 the root, a child after its
    parent. With an `arity`, each node has that many slots, -1 where a child is missing (a slot may be
    empty before a full one)."""
    trees = []
    for _ in range(count):
        size = int(rng.integers(1, most + 1))
        if arity is None:
            children = [[] for _ in range(size)]
            for node in range(1, size):
                children[int(rng.integers(0, node))].append(node)
        else:
            children = [[-1] * arity for _ in range(size)]
            for node in range(1, size):
                free = [(p, s) for p in range(node) for s in range(arity) if children[p][s] < 0]
                p, s = free[int(rng.integers(0, len(free)))]
                children[p][s] = node
        trees.append(children)
    return trees


def arrays(trees, inputs) -> tuple:
    """(values (n, N, d), children (n, N, K)) of the trees, padded (see rnndsl.keras.tree)."""
    n, most = len(trees), max(len(t) for t in trees)
    k = max(1, max(len(c) for t in trees for c in t))
    values = np.zeros((n, most, inputs[0].shape[-1]))
    children = -np.ones((n, most, k), "int32")
    for i, (tree, x) in enumerate(zip(trees, inputs)):
        values[i, :len(tree)] = x
        for j, kids in enumerate(tree):
            children[i, j, :len(kids)] = kids
    return values, children


# ---------------------------------------------------------------- the papers' equations, node by node


def child_sum_tree_lstm(p, x, children, units):
    """Tai et al. (2015), eqs. 2-8: the Child-Sum Tree-LSTM."""
    h, c = {}, {}
    for j in reversed(range(len(children))):
        kids = children[j]
        h_tilde = sum((h[k] for k in kids), np.zeros(units))
        i = sigmoid(p["W_i"] @ x[j] + p["U_i"] @ h_tilde + p["b_i"])
        o = sigmoid(p["W_o"] @ x[j] + p["U_o"] @ h_tilde + p["b_o"])
        u = np.tanh(p["W_u"] @ x[j] + p["U_u"] @ h_tilde + p["b_u"])
        f = {k: sigmoid(p["W_f"] @ x[j] + p["U_f"] @ h[k] + p["b_f"]) for k in kids}
        c[j] = i * u + sum((f[k] * c[k] for k in kids), np.zeros(units))
        h[j] = o * np.tanh(c[j])
    return np.stack([h[j] for j in range(len(children))])


def binary_tree_lstm(p, x, children, units):
    """Tai et al. (2015), eqs. 9-14 with N = 2: each child through its own block of U."""
    h, c = {-1: np.zeros(units)}, {-1: np.zeros(units)}  # a missing child: the initial states
    for j in reversed(range(len(children))):
        left, right = children[j]

        def through(U):
            return U[:, :units] @ h[left] + U[:, units:] @ h[right]

        i = sigmoid(p["W_i"] @ x[j] + through(p["U_i"]) + p["b_i"])
        f_left = sigmoid(p["W_f"] @ x[j] + through(p["U_fl"]) + p["b_f"])
        f_right = sigmoid(p["W_f"] @ x[j] + through(p["U_fr"]) + p["b_f"])
        o = sigmoid(p["W_o"] @ x[j] + through(p["U_o"]) + p["b_o"])
        u = np.tanh(p["W_u"] @ x[j] + through(p["U_u"]) + p["b_u"])
        c[j] = i * u + f_left * c[left] + f_right * c[right]
        h[j] = o * np.tanh(c[j])
    return np.stack([h[j] for j in range(len(children))])


def recursive_nn(p, x, children, units):
    """Socher et al. (2011): a leaf is its word's vector; p = tanh(W [c1; c2] + b)."""
    h = {-1: np.zeros(units)}
    for j in reversed(range(len(children))):
        left, right = children[j]
        leaf = left < 0 and right < 0
        h[j] = x[j] if leaf else np.tanh(p["W"] @ np.concatenate([h[left], h[right]]) + p["b"])
    return np.stack([h[j] for j in range(len(children))])


def rntn(p, x, children, units):
    """Socher et al. (2013), eq. 6 (with a bias): p = tanh([b; c]^T V^[1:d] [b; c] + W [b; c] + bias)."""
    h = {-1: np.zeros(units)}
    for j in reversed(range(len(children))):
        left, right = children[j]
        if left < 0 and right < 0:
            h[j] = x[j]
            continue
        z = np.concatenate([h[left], h[right]])
        bilinear = np.array([z @ p["V"][k] @ z for k in range(units)])
        h[j] = np.tanh(bilinear + p["W"] @ z + p["b"])
    return np.stack([h[j] for j in range(len(children))])


# (spec file, cell, reference, arity, input size or None for `units`)
CELLS = {
    "ChildSumTreeLSTM": ("treelstm.rnn", child_sum_tree_lstm, None, 3),
    "BinaryTreeLSTM": ("treelstm.rnn", binary_tree_lstm, 2, 3),
    "RecursiveNN": ("recursive.rnn", recursive_nn, 2, None),
    "RNTN": ("recursive.rnn", rntn, 2, None),
}
UNITS = 4


def _layer(name: str, input_dim: int, returns: str = "nodes") -> TreeLayer:
    file, _, _, _ = CELLS[name]
    program = rnndsl.load(STD / file)
    return TreeLayer(cell_source(program, name), name, input_dim, {"units": UNITS}, returns, dtype="float64")


def _case(name: str, seed: int):
    """A built float64 layer with random weights, a batch of random trees and their inputs."""
    _, reference, arity, inputs = CELLS[name]
    d = inputs or UNITS
    rng = np.random.default_rng(seed)
    trees = random_trees(rng, 6, 11, arity)
    xs = [rng.normal(size=(len(t), d)) for t in trees]
    layer = _layer(name, d)
    values, children = arrays(trees, xs)
    layer([tf.constant(values), tf.constant(children)])
    for w in layer.weights_by_name.values():
        w.assign(rng.normal(scale=0.5, size=w.shape))
    return layer, trees, xs, values, children, reference


@pytest.mark.parametrize("name", sorted(CELLS))
def test_every_node_equals_the_reference(name):
    layer, trees, xs, values, children, reference = _case(name, 1)
    got = layer([tf.constant(values), tf.constant(children)]).numpy()
    params = {n: w.numpy() for n, w in layer.weights_by_name.items()}
    for i, (tree, x) in enumerate(zip(trees, xs)):
        want = reference(params, x, tree, UNITS)
        np.testing.assert_allclose(got[i, :len(tree)], want, atol=1e-10)
        assert not got[i, len(tree):].any()  # padding


@pytest.mark.parametrize("name", sorted(CELLS))
def test_gradients_equal_the_reference_s(name):
    """d loss / d every parameter entry and every node's input, against central differences of the
    NumPy reference; loss = sum over every node of (output * R), R random."""
    layer, trees, xs, values, children, reference = _case(name, 2)
    weights = np.random.default_rng(3).normal(size=(len(trees), values.shape[1], UNITS))
    x = tf.constant(values)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(layer([x, tf.constant(children)]) * weights)
    names = list(layer.weights_by_name)
    got = tape.gradient(loss, [layer.weights_by_name[n] for n in names] + [x])
    params = {n: w.numpy() for n, w in layer.weights_by_name.items()}

    def loss_of(p, inputs):
        return sum(float((reference(p, xi, t, UNITS) * weights[i, :len(t)]).sum())
                   for i, (t, xi) in enumerate(zip(trees, inputs)))

    eps = 1e-6
    for name_, grad in zip(names, got[:-1]):
        want = np.zeros_like(params[name_])
        for index in np.ndindex(want.shape):
            up = {**params, name_: params[name_].copy()}
            down = {**params, name_: params[name_].copy()}
            up[name_][index] += eps
            down[name_][index] -= eps
            want[index] = (loss_of(up, xs) - loss_of(down, xs)) / (2 * eps)
        np.testing.assert_allclose(grad.numpy(), want, rtol=1e-5, atol=1e-7, err_msg=name_)
    grad_x = got[-1].numpy()
    for i, (tree, xi) in enumerate(zip(trees, xs)):
        for j in range(len(tree)):
            for k in range(xi.shape[1]):
                up, down = [a.copy() for a in xs], [a.copy() for a in xs]
                up[i][j, k] += eps
                down[i][j, k] -= eps
                want = (loss_of(params, up) - loss_of(params, down)) / (2 * eps)
                assert grad_x[i, j, k] == pytest.approx(want, rel=1e-5, abs=1e-7)
        assert not grad_x[i, len(tree):].any()


def test_a_batch_computes_each_tree_as_alone():
    layer, trees, xs, values, children, _ = _case("ChildSumTreeLSTM", 4)
    together = layer([tf.constant(values), tf.constant(children)]).numpy()
    for i, tree in enumerate(trees):
        alone = layer([tf.constant(values[i:i + 1, :len(tree)]), tf.constant(children[i:i + 1, :len(tree)])])
        np.testing.assert_allclose(alone.numpy()[0], together[i, :len(tree)], atol=1e-12)


def test_the_root_and_the_root_s_states():
    layer, trees, xs, values, children, reference = _case("BinaryTreeLSTM", 5)
    nodes = layer([tf.constant(values), tf.constant(children)]).numpy()
    config = layer.get_config()
    for returns in ("last", "states"):
        other = TreeLayer.from_config({**config, "returns": returns, "name": f"t_{returns}"})
        other([tf.constant(values), tf.constant(children)])
        for name, w in other.weights_by_name.items():
            w.assign(layer.weights_by_name[name])
        got = other([tf.constant(values), tf.constant(children)])
        if returns == "last":
            np.testing.assert_allclose(got.numpy(), nodes[:, 0], atol=1e-12)
        else:
            assert other.states == ["c", "h"]  # the cell's order (`check --explain` lists it)
            c, h = got
            np.testing.assert_allclose(h.numpy(), nodes[:, 0], atol=1e-12)
            assert c.shape == (len(trees), UNITS)
