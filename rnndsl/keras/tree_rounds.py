"""tree_rounds: a tree layer's rounds in keras.ops alone, on every Keras back end (rnndsl.keras.tree).

On TensorFlow a tree layer runs each round on the nodes whose children are done, a number known only at run
time. JAX's jit needs every shape when it traces, and its reverse mode differentiates a loop whose trip count
is known then (`fori_loop` with Python bounds, which it lowers to a scan), not a `while_loop`. So here each
round recomputes every node of the batch, `(rows, ...)` tensors, from the tables as the round before left
them, and replaces the nodes' rows of every table at once; the initial states' row stays.

Why the result is exact: a leaf reads nothing the tables change, so its row is right after round 1; a node
whose children are right after round r is right after round r + 1. A tree of N node slots is at most N - 1
high: after N rounds every row is the tree's computation, the same function of the weights and the inputs
(before that, a node read its children's rows of the round before, zeros at first), so its gradients are the
tree's too. The cost: N rounds of every node (JAX: the trip count is fixed when traced), where TensorFlow runs
height + 1 rounds of the ready ones; PyTorch runs the loop eagerly, so it runs the batch's height + 1 rounds.

The (node, child) pairs, whose values a reduction's body computes: in a tree of fixed arity K every node's K
slots in order, `(rows * K,)`, a missing child reading the initial states' row, as on TensorFlow; in any other,
one for each row, `(rows,)`: the node as the child of its parent, which the parent's reductions gather by its
children's rows, the missing ones masked out (TensorFlow leaves them out). A node has one parent in a tree, so
the pairs are the tree's whatever its widest node; a node without a parent is a pair nobody reads.
"""

from __future__ import annotations

import keras
from keras import ops

from ..lang.ops import root_of_squares


def every_node_rounds(layer, x, links, tables, weights, rows, size) -> list:
    """The tables of `layer` (a TreeLayer) once every node is computed, each `(rows + 1, its size)` as they came:
    rounds of every node, `size` of them (N, a tree's node slots; a Python int on JAX, so a scan) or as many as
    the batch needs where the loop runs eagerly (`_rounds`).

    x `(rows, input size)`: the nodes' inputs; links `(rows, K)`: their children's rows, -1 for none (in a tree
    of fixed arity K is the arity); weights: the layer's, by spec name, in its compute dtype."""
    present = links >= 0
    if layer.arity is not None:  # a pair for each slot, `(rows * K,)`, a missing child reading the initial row
        k = layer.arity
        child = ops.reshape(ops.where(present, links, rows), (-1,))

        def spread(value):
            return ops.repeat(value, k, axis=0)

        def reduce(how, values, dims):
            return slots_reduce(how, ops.reshape(values, (rows, k) + tuple(ops.shape(values)[1:])), dims)
    else:  # a node is the child of one node at most: a pair for each row, `(rows,)`, the row as its parent's child
        child = ops.arange(rows, dtype="int32")
        parent = _parents(links, rows)
        slot = ops.where(present, links, 0)  # the pair each slot reads (a missing one's is masked out)

        def spread(value):
            return ops.take(value, parent, axis=0)

        def reduce(how, values, dims):
            return present_reduce(how, ops.take(values, slot, axis=0), present)

    def take(table, indices):
        return ops.take(table, indices, axis=0)

    initial = [t[rows:] for t in tables]  # the initial states' row, read by a missing child, never replaced

    def round_(_, tables):
        new = layer._step(x, links, child, dict(zip(layer.kept, tables)), weights, rows,
                          spread=spread, reduce=reduce, take=take)
        return tuple(ops.concatenate([new[n], first], axis=0) for n, first in zip(layer.kept, initial))

    return list(ops.fori_loop(0, _rounds(links, size), round_, tuple(tables)))


def _rounds(links, size):
    """How many rounds: `size`, the most a tree of that many node slots needs, where the loop is traced (JAX, and
    TensorFlow when it runs this way); on PyTorch, which runs it eagerly, what this batch needs: the height of its
    tallest tree + 1 (at most `size`: children that make no tree end there too)."""
    if keras.backend.backend() != "torch":
        return size
    present = links >= 0
    slot = ops.where(present, links, 0)
    height = ops.zeros(ops.shape(links)[:1], "int32")  # a lower bound on each node's height, exact at the end
    for done in range(1, size + 1):
        above = ops.max(ops.where(present, ops.take(height, slot, axis=0) + 1, 0), axis=1)
        if not bool(ops.any(above != height)):  # every node's height is known: `done` rounds computed it
            return done
        height = above
    return size


def _parents(links, rows):
    """`(rows,)` int32: each row's parent's row, where `links` `(rows, K)` names it a child; 0 where none does
    (a root's or padding's pair, which no node reads). A row named twice (no tree) gets a row all the same."""
    k = ops.shape(links)[1]
    node = ops.reshape(ops.broadcast_to(ops.arange(rows, dtype="int32")[:, None], (rows, k)), (-1,))
    # a missing child's slot goes to an extra segment, dropped; a row is at most one slot's child
    named = ops.segment_sum(node, ops.reshape(ops.where(links >= 0, links, rows), (-1,)), num_segments=rows + 1)
    return ops.clip(ops.cast(named[:rows], "int32"), 0, rows - 1)


def slots_reduce(how: str, per_node, dims):
    """A reduction over every one of a node's K slots (a tree of fixed arity): `per_node` `(M, K) + shape` ->
    `(M,) + shape`; `concat` puts the K side by side along the last axis, `(M,) + shape[:-1] + (K * shape[-1],)`
    (`(M, K)` for scalars). `dims`: the spec shape of what is reduced."""
    if how == "concat":
        if len(dims) == 0:
            return per_node
        moved = ops.moveaxis(per_node, 1, -2)
        return ops.reshape(moved, (ops.shape(per_node)[0],) + tuple(ops.shape(moved)[1:-2]) + (-1,))
    return _SLOTS[how](per_node)


def present_reduce(how: str, per_node, present):
    """A reduction over the children present (any arity): `per_node` `(M, K) + shape`, `present` `(M, K)` bool ->
    `(M,) + shape`; over no children it gives 0 (a product, 1), as TensorFlow's segment reductions here do.

    What a missing slot holds is replaced before the reduction (`where`), so it gets no gradient."""
    present = ops.reshape(present, tuple(ops.shape(present)) + (1,) * (len(per_node.shape) - 2))
    if how in ("sum", "mean", "norm"):
        summed = ops.sum(ops.where(present, ops.square(per_node) if how == "norm" else per_node, 0), axis=1)
        if how == "norm":
            return root_of_squares(ops, summed)
        if how == "mean":
            return summed / ops.maximum(ops.sum(ops.cast(present, per_node.dtype), axis=1), 1)
        return summed
    if how == "prod":
        return ops.prod(ops.where(present, per_node, 1), axis=1)
    # max, min: the missing slots read what never wins (±inf for floats), and a node without children gets 0
    floats = "float" in keras.backend.standardize_dtype(per_node.dtype)
    if how == "max":
        reduced = ops.max(ops.where(present, per_node, float("-inf") if floats else ops.min(per_node)), axis=1)
    else:
        reduced = ops.min(ops.where(present, per_node, float("inf") if floats else ops.max(per_node)), axis=1)
    return ops.where(ops.any(present, axis=1), reduced, 0)


# a reduction over every slot: (M, K) + shape -> (M,) + shape
_SLOTS = {"sum": lambda v: ops.sum(v, axis=1), "mean": lambda v: ops.mean(v, axis=1),
          "max": lambda v: ops.max(v, axis=1), "min": lambda v: ops.min(v, axis=1),
          "prod": lambda v: ops.prod(v, axis=1), "norm": lambda v: root_of_squares(ops, ops.sum(ops.square(v), axis=1))}
