"""tree: a tree cell over a batch of trees, one level of nodes at a time (dynamic batching).

A batch of trees is two tensors, as rnndsl.train.trees lays them out:
- `values` `(batch, N, input size)`: each node's inputs side by side (0 where a node has none: an
  inner node of a treebank has no word);
- `children` int32 `(batch, N, K)`: the index, in the same tree, of node j's c-th child; -1 for none.
  Node 0 is the root; a child comes after its parent; nodes past a tree's size are nobody's child.

`TreeLayer` keeps what the nodes have computed in tables of one row per node of the batch, and a last
row that holds the initial states (what a missing child reads in a tree of fixed arity). Each round of
its loop takes every node whose children are all done (the leaves, then their parents, ...) and runs
the cell's step on them as one batch: node-level operations on `(M, ...)` tensors of the round's M
nodes, the body of a reduction over children on `(E, ...)` tensors of their E (node, child) pairs,
reduced per node by segment operations. A batch of trees of height h takes h + 1 rounds, whatever
its size; gradients reach every node through the tables.

That loop (`rounds="ready"`) has shapes known only at run time: TensorFlow's alone runs it. On every other
Keras back end (`rounds="every"`, rnndsl.keras.tree_rounds) each round recomputes every node, in keras.ops
alone, for as many rounds as a tree has node slots (PyTorch: as the batch's height + 1): shapes known when
the step is traced (as JAX's jit needs) and a loop of a fixed trip count (which JAX differentiates), to the
same tables and the same gradients.
"""

from __future__ import annotations


import keras
import networkx as nx
from keras import ops

# TensorFlow is imported in the functions that call it, which run on its back end alone: rnndsl.keras.network
# imports this module on any Keras back end, and neither a model without this layer nor one on another back
# end needs TensorFlow.

from ..lang.ops import root_of_squares
from . import PACKAGE
from .domain_layer import DomainLayer
from .interpret import flat_size
from .tree_rounds import every_node_rounds, slots_reduce

RETURNS = ("nodes", "last", "states")


@keras.saving.register_keras_serializable(package=PACKAGE)
class TreeLayer(DomainLayer):
    """A tree cell applied to a batch of trees: `[values, children]` (see the module) ->

    - `returns="nodes"`: `(batch, N, output size)`, the cell's first output at every node (0 at padding);
    - `returns="last"`: `(batch, output size)`, the root's;
    - `returns="states"`: the root's value of each state, `(batch,) + its shape`, in the cell's order."""

    RETURNS, DOMAIN = RETURNS, "tree"

    def _setup(self):
        G = self.G
        self.arity = G.header.arity
        # Children's values are read from the tables, so the step is acyclic without the child edges.
        step = nx.DiGraph((u, v) for u, v, use in G.uses() if not use.child)
        step.add_nodes_from(G)
        self.order = [n for n in nx.topological_sort(step) if G.node(n).kind in ("op", "value")]
        self.per_child = {n for n in G if G.node(n).kind == "op" and G.node(n).per_child}
        self.batched = _batched(G, self.order)
        # How the rounds run (see the module): "ready" where the back end has shapes known at run time,
        # "every" elsewhere. It is no part of the config: a model saved on one back end loads on another.
        self.rounds = "ready" if keras.backend.backend() == "tensorflow" else "every"

    def _features(self, input_shape) -> int:
        return input_shape[0][-1]  # [values, children]

    def compute_mask(self, inputs, mask=None):
        return None  # padding nodes are 0; a data source weighs them 0

    def call(self, inputs, mask=None):
        values, children = inputs
        dtype = self.compute_dtype
        batch, size = ops.shape(values)[0], ops.shape(values)[1]
        rows = batch * size  # the tables' rows; row `rows` is the initial states'
        x = ops.cast(ops.reshape(values, (rows, self.input_dim)), dtype)
        word_mask = mask[0] if isinstance(mask, (list, tuple)) else None
        if word_mask is not None:  # a node without a word has no input (`x[n]` is 0)
            x = x * ops.cast(ops.reshape(word_mask, (rows, 1)), dtype)
        links = self._links(children, batch, size)
        exists = _exists(links, rows, size)
        weights = {n: ops.cast(w, dtype) for n, w in self.weights_by_name.items()}
        tables = [self._table(n, rows, weights) for n in self.kept]
        if self.rounds == "ready":
            tables = self._ready_rounds(x, links, exists, tables, weights, rows, size)
        else:
            tables = every_node_rounds(self, x, links, tables, weights, rows, size)
        found = dict(zip(self.kept, tables))
        if self.returns == "nodes":
            out = found[self.output_name][:rows]
            return ops.reshape(out * ops.cast(exists[:, None], dtype), (batch, size, -1))
        roots = ops.arange(batch) * size
        if self.returns == "last":
            return ops.take(found[self.output_name], roots, axis=0)
        return [ops.reshape(ops.take(found[n], roots, axis=0), (-1,) + self.shape_of[n]) for n in self.states]

    def compute_output_shape(self, input_shape):
        values_shape = input_shape[0]
        if self.returns == "nodes":
            return (values_shape[0], values_shape[1], flat_size(self.shape_of[self.output_name]))
        if self.returns == "last":
            return (values_shape[0], flat_size(self.shape_of[self.output_name]))
        return [(values_shape[0],) + self.shape_of[n] for n in self.states]

    # ---- the tables

    def _links(self, children, batch, size):
        """The children as rows of the tables, `(rows, K)`, -1 for none; in a tree of fixed arity K is the
        arity: fewer slots are padded with -1, slots past it cut (rnndsl's data checks refuse a child there)."""
        children = ops.cast(children, "int32")
        if self.arity is not None:  # `arity` slots of -1 after the data's, then the first `arity` of them
            children = ops.pad(children, [[0, 0], [0, 0], [0, self.arity]], constant_values=-1)[:, :, :self.arity]
        offsets = ops.reshape(ops.arange(batch, dtype="int32") * size, (-1, 1, 1))
        # An index that is no node of the tree is no child (rnndsl's data checks refuse one before it gets here).
        links = ops.where((children >= 0) & (children < size), children + offsets, -1)
        return ops.reshape(links, (batch * size, ops.shape(links)[2]))

    def _table(self, name, rows, weights):
        """The table of value `name`: a row of zeros for each node, then the initial state's row."""
        first = self._initial_row(name, weights)
        return ops.concatenate([ops.zeros((rows, flat_size(self.shape_of[name])), self.compute_dtype), first], axis=0)

    # ---- TensorFlow: the nodes whose children are done, a round each

    def _ready_rounds(self, x, links, exists, tables, weights, rows, size) -> list:
        """The tables once every node is computed, a round for each height (`tf.while_loop`)."""
        import tensorflow as tf

        def unfinished(done, *_):
            return ops.logical_not(ops.all(done))

        def round_(done, *tables):
            child_done = tf.where(links >= 0, tf.gather(done, tf.maximum(links, 0)), True)
            ready = tf.logical_and(tf.logical_not(done), tf.reduce_all(child_done, axis=1))
            nodes = tf.cast(tf.where(ready)[:, 0], "int32")
            new = self._ready_step(nodes, x, links, dict(zip(self.kept, tables)), weights, rows)
            tables = [tf.tensor_scatter_nd_update(t, nodes[:, None], new[n]) for n, t in zip(self.kept, tables)]
            return [tf.logical_or(done, ready), *tables]

        # A node is done when computed; padding counts as done from the start. A tree of N nodes is at
        # most N high: the bound ends the loop on children that are not a tree, too.
        done = tf.logical_not(exists)
        _, *tables = tf.while_loop(unfinished, round_, [done, *tables], maximum_iterations=size + 1)
        return tables

    def _ready_step(self, nodes, x, links, tables, weights, rows) -> dict:
        """The kept values of `nodes` (M,), each `(M, its size)` flat: their (node, child) pairs, E of them, are
        the children present (any arity) or every slot (a fixed arity, a missing child reading the initial row)."""
        import tensorflow as tf

        m = ops.shape(nodes)[0]
        links = tf.gather(links, nodes)  # (M, K)
        if self.arity is None:
            pairs = tf.where(links >= 0)
            parent = tf.cast(pairs[:, 0], "int32")
            child = tf.gather_nd(links, pairs)
        else:
            parent = tf.repeat(tf.range(m), self.arity)
            child = tf.reshape(tf.where(links >= 0, links, rows), [-1])

        def reduce(how, values, dims):
            if self.arity is not None:
                return slots_reduce(how, ops.reshape(values, (m, self.arity) + tuple(ops.shape(values)[1:])), dims)
            return _segment_reduce(how, values, parent, m)

        return self._step(tf.gather(x, nodes), links, child, tables, weights, rows,
                          spread=lambda v: tf.gather(v, parent), reduce=reduce, take=tf.gather)

    # ---- one round, either way

    def _step(self, x, links, child, tables, weights, rows, spread, reduce, take) -> dict:
        """The kept values of a round's M nodes, each `(M, its size)` flat.

        x `(M, input size)`: their inputs; links `(M, K)`: their children's rows, -1 for none; child `(E,)`: the
        row each of their E (node, child) pairs reads (the initial row where a pair has no child); tables: each
        kept value's `(rows + 1, its size)`. How the round pairs its nodes and their children, the way's own:
        `spread(v)` `(M,) + shape -> (E,) + shape`, a node's value once for each of its pairs; `reduce(how, v,
        dims)` `(E,) + shape -> (M,) + shape`, a reduction over children; `take(table, rows)` reads rows."""
        G = self.G
        m = ops.shape(x)[0]
        env = dict(weights)
        env.update(self.constants)
        env.update(self._inputs(x))

        def read(u, use, at_child_level: bool):
            if use.slot is not None:  # `h[child(n, i)]`
                slot = links[:, use.slot]
                return self._value(u, take(tables[u], ops.where(slot >= 0, slot, rows)))
            if use.child:  # `h[k]` in a reduction
                return self._value(u, take(tables[u], child))
            value = env[u]
            if at_child_level and self.batched.get(u, False) and u not in self.per_child:
                return spread(value)  # a node's own value, once for each of its children
            return value

        for n in self.order:
            rec = G.node(n)
            at_child_level = n in self.per_child
            if rec.kind == "value":
                (u, use), = self.operands[n]
                v = read(u, use, False)
                env[n] = v[use.index] if use.index is not None else v
                continue
            if rec.op == "tree.leaf":
                env[n] = ops.all(links < 0, axis=1)
                continue
            uses = self.operands[n]
            values = [read(u, use, at_child_level) for u, use in uses]
            if rec.op.startswith("children."):
                env[n] = reduce(rec.op.removeprefix("children."), values[0], G.shape(uses[0][0]))
                continue
            env[n] = self._apply(rec, uses, values, [self.batched.get(u, False) or use.child for u, use in uses])
        return self._kept_rows(env, m)


# a reduction over children by segments: the name of its function in tf.math
_SEGMENT = {"sum": "unsorted_segment_sum", "prod": "unsorted_segment_prod", "max": "unsorted_segment_max",
            "min": "unsorted_segment_min"}


def _segment_reduce(how: str, values, parent, m):
    """A reduction over the children present (TensorFlow): `values` `(E,) + shape`, pair e a child of node
    `parent[e]` of M, into `(M,) + shape`; over no children it gives 0 (a product, 1)."""
    import tensorflow as tf

    count = tf.math.unsorted_segment_sum(tf.ones_like(parent, values.dtype), parent, m)
    count = ops.reshape(count, (-1,) + (1,) * (len(values.shape) - 1))
    if how == "mean":
        return tf.math.unsorted_segment_sum(values, parent, m) / ops.maximum(count, 1)
    if how == "norm":
        return root_of_squares(ops, tf.math.unsorted_segment_sum(ops.square(values), parent, m))
    reduced = getattr(tf.math, _SEGMENT[how])(values, parent, m)
    return tf.where(count > 0, reduced, 0.0) if how in ("max", "min") else reduced


def _batched(G, order) -> dict:
    """Whether each node's value has the node axis in front: inputs, and what reads an input, a child or
    the tree (`leaf(n)`), do; a parameter, a constant, and what is computed of those alone do not."""
    batched = {n: rec.kind == "input" for n, rec in G.records()}
    for n in order:
        batched[n] = G.node(n).kind == "op" and G.node(n).op == "tree.leaf" or any(
            batched[u] or use.child for u, use in G.operands(n))
    return batched


def _exists(links, rows, size):
    """`(rows,)` bool: whether each row is a node of a tree (a root, or someone's child) or padding."""
    found = ops.reshape(links, (-1,))
    # how many times each row is a child; a missing child (-1) counts in an extra row, dropped
    times = ops.segment_sum(ops.ones_like(found), ops.where(found >= 0, found, rows), num_segments=rows + 1)
    return ops.logical_or(times[:rows] > 0, ops.arange(rows) % size == 0)
