"""The tree benchmark of `make bench`: a training step of the Child-Sum Tree-LSTM on a batch of trees.

64 random trees of 15 to 25 nodes (each node's parent drawn among the nodes before it), 32 input
features a node, 128 units; the root's state through Dense(1) to a mean squared error; Adam. Three ways:
  lowered: the spec's ChildSumTreeLSTM in a network, rnndsl's tree layer, `train_on_batch`;
  eager, node by node: the same equations in eager TensorFlow, one node at a time, children first;
  hand-written, level by level: the same equations in a `tf.function` written by hand that runs every
      node of one height at once (the heights computed beforehand in NumPy, as a data pipeline would),
      children's values gathered and summed with segment operations.
The three hold the same weights and train on the same batch.
"""

from __future__ import annotations

import statistics
import time

import keras
import numpy as np
import tensorflow as tf

import rnndsl

TREES, LOW, HIGH, FEATURES, UNITS = 64, 15, 25, 32, 128
GATES = ("i", "f", "o", "u")
SPEC = f'''import "std/treelstm.rnn"
network Trees {{
    input x: tree[{FEATURES}]
    output Dense(1)(ChildSumTreeLSTM({UNITS}, returns=last)(x))
}}
'''


def batch(seed: int = 0) -> tuple:
    """(values (64, N, 32), children (64, N, K), heights (64, N), targets (64, 1)) of random trees."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(LOW, HIGH + 1, TREES)
    parents = [[int(rng.integers(0, j)) for j in range(1, s)] for s in sizes]
    most, arity = int(sizes.max()), max(max(np.bincount(p)) for p in parents)
    children = -np.ones((TREES, most, arity), "int32")
    heights = -np.ones((TREES, most), "int32")
    for t, p in enumerate(parents):
        for child, parent in enumerate(p, 1):
            slot = int((children[t, parent] >= 0).sum())
            children[t, parent, slot] = child
        for node in reversed(range(sizes[t])):  # a child comes after its parent: children first
            kids = children[t, node][children[t, node] >= 0]
            heights[t, node] = 1 + max((heights[t, k] for k in kids), default=-1)
    values = rng.normal(size=(TREES, most, FEATURES)).astype("float32")
    return values, children, heights, rng.normal(size=(TREES, 1)).astype("float32")


def lowered() -> keras.Model:
    model = rnndsl.load(SPEC).build("Trees")
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    return model


class Weights(tf.Module):
    """The Child-Sum Tree-LSTM's weights, as a hand-written implementation holds them."""

    def __init__(self, model: keras.Model):
        super().__init__()
        cell = next(layer for layer in model.layers if hasattr(layer, "weights_by_name"))
        self.w = {n: tf.Variable(w.numpy(), name=n) for n, w in cell.weights_by_name.items()}
        dense = model.layers[-1]
        self.dense = [tf.Variable(dense.kernel.numpy()), tf.Variable(dense.bias.numpy())]
        self.optimizer = keras.optimizers.Adam(1e-3)

    def step_of(self, x, h_sum, h_kids, c_kids, parent, count):
        """One batch of nodes: x (M, 32), the sum of their children's h (M, 128), each child's h and c (E,
        128) with its parent's position in the batch `parent` (E,) -> (h, c) (M, 128)."""
        w = self.w

        def gate(g, recurrent):
            return x @ tf.transpose(w[f"W_{g}"]) + recurrent @ tf.transpose(w[f"U_{g}"]) + w[f"b_{g}"]

        i, o, u = tf.sigmoid(gate("i", h_sum)), tf.sigmoid(gate("o", h_sum)), tf.tanh(gate("u", h_sum))
        f = tf.sigmoid(tf.gather(x @ tf.transpose(w["W_f"]), parent) + h_kids @ tf.transpose(w["U_f"]) + w["b_f"])
        c = i * u + tf.math.unsorted_segment_sum(f * c_kids, parent, count)
        return o * tf.tanh(c), c


def eager_step(weights: Weights, values, children, targets) -> float:
    """A training step in eager TensorFlow, one node at a time."""
    variables = list(weights.w.values()) + weights.dense
    with tf.GradientTape() as tape:
        roots = []
        for t in range(TREES):
            h, c = {}, {}
            nodes = [j for j in range(values.shape[1]) if j == 0 or (children[t] == j).any()]
            for j in reversed(nodes):
                kids = [int(k) for k in children[t, j] if k >= 0]
                x = values[t, j:j + 1]
                zero = tf.zeros((1, UNITS))
                h_kids = tf.concat([h[k] for k in kids], 0) if kids else tf.zeros((0, UNITS))
                c_kids = tf.concat([c[k] for k in kids], 0) if kids else tf.zeros((0, UNITS))
                h_sum = tf.reduce_sum(h_kids, 0, keepdims=True) if kids else zero
                h[j], c[j] = weights.step_of(x, h_sum, h_kids, c_kids, tf.zeros(len(kids), "int32"), 1)
            roots.append(h[0])
        out = tf.concat(roots, 0) @ weights.dense[0] + weights.dense[1]
        loss = tf.reduce_mean(tf.square(out - targets))
    weights.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
    return float(loss)


def hand_level_step(weights: Weights):
    """A training step by hand: every node of one height at once, heights 0, 1, ... (a tf.function)."""
    variables = list(weights.w.values()) + weights.dense

    @tf.function
    def step(values, children, heights, targets):
        batch_size, size = tf.shape(values)[0], tf.shape(values)[1]
        rows = batch_size * size
        x_all = tf.reshape(values, (rows, FEATURES))
        offsets = tf.reshape(tf.range(batch_size) * size, (-1, 1, 1))
        links = tf.reshape(tf.where(children >= 0, children + offsets, -1), (rows, -1))
        flat_heights = tf.reshape(heights, [-1])
        with tf.GradientTape() as tape:
            h = tf.zeros((rows, UNITS))
            c = tf.zeros((rows, UNITS))
            for level in tf.range(tf.reduce_max(flat_heights) + 1):
                nodes = tf.cast(tf.where(flat_heights == level)[:, 0], "int32")
                kids = tf.gather(links, nodes)
                pairs = tf.where(kids >= 0)
                parent = tf.cast(pairs[:, 0], "int32")
                child = tf.gather_nd(kids, pairs)
                h_kids, c_kids = tf.gather(h, child), tf.gather(c, child)
                count = tf.shape(nodes)[0]
                h_sum = tf.math.unsorted_segment_sum(h_kids, parent, count)
                h_new, c_new = weights.step_of(tf.gather(x_all, nodes), h_sum, h_kids, c_kids, parent, count)
                h = tf.tensor_scatter_nd_update(h, nodes[:, None], h_new)
                c = tf.tensor_scatter_nd_update(c, nodes[:, None], c_new)
            roots = tf.gather(h, tf.range(batch_size) * size)
            out = roots @ weights.dense[0] + weights.dense[1]
            loss = tf.reduce_mean(tf.square(out - targets))
        weights.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    return step


def times(repeats: int, eager_repeats: int = 3) -> dict:
    """Median step time of each way (seconds), after warm-up; the compiled two take turns."""
    values, children, heights, targets = batch()
    model = lowered()
    hand = hand_level_step(Weights(model))
    eager = Weights(model)
    compiled = {
        "spec ChildSumTreeLSTM, tree layer": lambda: model.train_on_batch([values, children], targets),
        "hand-written TensorFlow, level by level": lambda: hand(values, children, heights, targets),
    }
    for run in compiled.values():
        for _ in range(3):
            run()
    found: dict = {name: [] for name in compiled}
    for _ in range(repeats):
        for name, run in compiled.items():
            t0 = time.perf_counter()
            run()
            found[name].append(time.perf_counter() - t0)
    eager_step(eager, values, children, targets)  # warm-up
    found["eager TensorFlow, node by node"] = []
    for _ in range(eager_repeats):
        t0 = time.perf_counter()
        eager_step(eager, values, children, targets)
        found["eager TensorFlow, node by node"].append(time.perf_counter() - t0)
    return {name: statistics.median(t) for name, t in found.items()}


def same_loss() -> float:
    """The largest difference between the three ways' first losses on one batch (they hold the same weights)."""
    values, children, heights, targets = batch(1)
    model = lowered()
    first = float(model.evaluate([values, children], targets, verbose=0))
    hand = float(hand_level_step(Weights(model))(values, children, heights, targets))
    eager = eager_step(Weights(model), values, children, targets)
    return max(abs(first - hand), abs(first - eager))
