"""grid: a cell `over grid` over a batch of grids, one wavefront of positions at a time.

A grid is `(batch, H, W, input size)`. The cell computes its values at each position (i, j) from its
inputs there and from values at earlier positions, offsets (di, dj) that come before (0, 0) row by row
(rnndsl.lang.grid_reads). Positions that read none of each other can be computed together: with a scan
schedule (a, b), position (i, j) is computed at step a*i + b*j, and a read at offset (di, dj) reaches a
position a*di + b*dj steps earlier. The schedule is the one of fewest steps that makes every offset the
cell reads reach back at least one step:

- reads of the row above alone (`h[i-1, j-1]`, `h[i-1, j]`, `h[i-1, j+1]`: the Row LSTM): (1, 0), one row
  a step, H steps;
- reads above and to the left (`h[i-1, j]`, `h[i, j-1]`: the multi-dimensional LSTM, the Diagonal LSTM):
  (1, 1), the anti-diagonals i + j = s, H + W - 1 steps;
- reads of the row above to the right and of the left (`h[i-1, j+1]`, `h[i, j-1]`): (2, 1);
- further up and to the right: steeper schedules, (a, 1) with a up to W, one position a step.

Every step runs the cell's equations on all its positions in all the batch's grids as one batch of rows,
as a time cell runs one step of all its sequences. A read outside the grid reads the value's initial
state. The steps are unrolled when the step is traced (H and W must be known then): the positions of
each step, and where each read finds its value, are index arrays computed once in NumPy. Only
`keras.ops` is used, so the layer runs on every Keras back end.
"""

from __future__ import annotations

from functools import lru_cache

import keras
import networkx as nx
import numpy as np
from keras import ops

from . import PACKAGE
from .domain_layer import DomainLayer
from .interpret import flat_size

RETURNS = ("grid", "last", "states")


def scan_schedule(offsets, height: int, width: int) -> tuple:
    """(a, b): position (i, j) is computed at step a*i + b*j; the one of fewest steps in which every offset
    (di, dj) that can reach inside an H x W grid reads an earlier step."""
    inside = [(di, dj) for di, dj in offsets if abs(di) < height and abs(dj) < width]
    if not inside:
        return (0, 0)  # nothing read at another position: every position at once
    # b = 1, a = W always works (one position a step); a larger b than 3 never has fewer steps than that
    candidates = [(a, b) for a in range(width + 1) for b in range(4)]
    valid = [(a, b) for a, b in candidates if all(a * di + b * dj <= -1 for di, dj in inside)]
    return min(valid, key=lambda ab: (ab[0] * (height - 1) + ab[1] * (width - 1), ab))


@lru_cache(maxsize=64)
def wavefronts(schedule: tuple, height: int, width: int, offsets: tuple) -> tuple:
    """The steps of a scan: (positions, reads) for each step s, `positions` the flat indices i*W + j of
    its positions in row order, `reads` {offset: (the step read, index into [initial row] + that step's
    positions, index into [a row of zeros] + every position)}: the first for a value (step -1: the initial
    row alone, every position's read falling outside the grid), the second for an input."""
    a, b = schedule
    i, j = np.divmod(np.arange(height * width), width)
    step_of = a * i + b * j
    steps = []
    place = np.zeros(height * width, dtype=np.int64)  # a position's index within its step
    for s in range(int(step_of.max()) + 1):
        positions = np.flatnonzero(step_of == s)
        place[positions] = np.arange(len(positions))
        steps.append(positions)
    plans = []
    for s, positions in enumerate(steps):
        reads = {}
        pi, pj = np.divmod(positions, width)
        for di, dj in offsets:
            qi, qj = pi + di, pj + dj
            inside = (qi >= 0) & (qi < height) & (qj >= 0) & (qj < width)
            source = s + a * di + b * dj
            q = np.where(inside, qi * width + qj, 0)
            flat = np.where(inside, q + 1, 0).astype(np.int32)
            if not inside.any():
                reads[(di, dj)] = (-1, np.zeros(len(positions), dtype=np.int32), flat)
                continue
            reads[(di, dj)] = (source, np.where(inside, place[q] + 1, 0).astype(np.int32), flat)
        plans.append((positions.astype(np.int32), reads))
    return tuple(plans)


@keras.saving.register_keras_serializable(package=PACKAGE)
class GridLayer(DomainLayer):
    """A grid cell applied to a batch of grids `(batch, H, W, input size)` ->

    - `returns="grid"`: `(batch, H, W, output size)`, the cell's first output at every position;
    - `returns="last"`: `(batch, output size)`, at the last position, (H - 1, W - 1);
    - `returns="states"`: each state's value there, `(batch,) + its shape`, in the cell's order."""

    RETURNS, DOMAIN = RETURNS, "grid"

    def _setup(self):
        G = self.G
        self.offsets = tuple(sorted({use.offset for _, _, use in G.uses() if use.offset is not None}))
        # Values at other positions come from earlier steps, so a step is acyclic without those edges.
        step = nx.DiGraph((u, v) for u, v, use in G.uses() if use.offset is None)
        step.add_nodes_from(G)
        self.order = [n for n in nx.topological_sort(step) if G.node(n).kind in ("op", "value")]
        self.batched = _batched(G, self.order)

    def call(self, values):
        height, width = values.shape[1], values.shape[2]
        if height is None or width is None:
            raise ValueError(f"cell `{self.cell_name}` runs over a grid whose height and width are known when the "
                             f"model is traced, not {tuple(values.shape[1:3])}: give them in the network's "
                             "input type, `grid[H, W, d]`")
        dtype = self.compute_dtype
        batch = ops.shape(values)[0]
        x = ops.cast(ops.reshape(values, (batch, height * width, self.input_dim)), dtype)
        weights = {n: ops.cast(w, dtype) for n, w in self.weights_by_name.items()}
        initial = {n: ops.expand_dims(self._initial_row(n, weights), 0) for n in self.kept}  # (1, 1, size)
        schedule = scan_schedule(self.offsets, height, width)
        plans = wavefronts(schedule, height, width, self.offsets)
        done = []  # each step's kept values, `(batch, its positions, size)`
        for positions, reads in plans:
            done.append(self._step(x, positions, reads, done, initial, weights, batch))
        # the output at every position, from the steps' order back to row order
        order = np.concatenate([positions for positions, _ in plans])
        back = np.argsort(order).astype(np.int32)

        def whole(name):
            return ops.take(ops.concatenate([d[name] for d in done], axis=1), back, axis=1)

        if self.returns == "grid":
            return ops.reshape(whole(self.output_name), (batch, height, width, -1))
        if self.returns == "last":
            return whole(self.output_name)[:, -1]
        return [ops.reshape(whole(n)[:, -1], (-1,) + self.shape_of[n]) for n in self.states]

    def _step(self, x, positions, reads, done, initial, weights, batch) -> dict:
        """The kept values at one step's M positions, each `(batch, M, its size)`."""
        G = self.G
        m = len(positions)
        rows = batch * m
        env = dict(weights)
        env.update(self.constants)
        env.update(self._inputs(ops.reshape(ops.take(x, positions, axis=1), (rows, self.input_dim))))
        zero_input = ops.zeros((batch, 1, self.input_dim), x.dtype)

        def read(u, use):
            if use.offset is None:
                return env[u]
            source, index, flat = reads[use.offset]
            if u in self.inputs_in_order:  # an input at another position: 0 outside the grid
                table = ops.concatenate([zero_input, x], axis=1)
                return self._inputs(ops.reshape(ops.take(table, flat, axis=1), (rows, self.input_dim)))[u]
            start = ops.broadcast_to(initial[u], (batch, 1, ops.shape(initial[u])[-1]))
            table = start if source < 0 else ops.concatenate([start, done[source][u]], axis=1)
            return ops.reshape(ops.take(table, index, axis=1), (rows,) + self.shape_of[u])

        for n in self.order:
            rec = G.node(n)
            uses = self.operands[n]
            if rec.kind == "value":
                (u, use), = uses
                v = read(u, use)
                env[n] = v[use.index] if use.index is not None else v
                continue
            values = [read(u, use) for u, use in uses]
            env[n] = self._apply(rec, uses, values, [self.batched.get(u, False) or use.offset is not None
                                                     for u, use in uses])
        return {name: ops.reshape(v, (batch, m, -1)) for name, v in self._kept_rows(env, rows).items()}

    def compute_output_shape(self, input_shape):
        size = flat_size(self.shape_of[self.output_name])
        if self.returns == "grid":
            return tuple(input_shape[:3]) + (size,)
        if self.returns == "last":
            return (input_shape[0], size)
        return [(input_shape[0],) + self.shape_of[n] for n in self.states]


def _batched(G, order) -> dict:
    """Whether each node's value has the row axis in front: inputs, and what reads an input or a value at
    another position, do; a parameter, a constant, and what is computed of those alone do not."""
    batched = {n: rec.kind == "input" for n, rec in G.records()}
    for n in order:
        batched[n] = any(batched[u] or use.offset is not None for u, use in G.operands(n))
    return batched


@keras.saving.register_keras_serializable(package=PACKAGE)
class MirroredGrid(keras.layers.Layer):
    """The right-to-left direction of a bidirectional grid layer (the Diagonal BiLSTM's second direction, van
    den Oord et al. 2016): `layer` (a GridLayer returning every position) runs over the grid mirrored left to
    right, its output is mirrored back and shifted down one row (the top row 0), so that the output at (i, j)
    has read rows up to i - 1 alone, all of them before (i, j) in the scan order. `(batch, H, W, d)` ->
    `(batch, H, W, units)`."""

    def __init__(self, layer, **kwargs):
        super().__init__(**kwargs)
        self.layer = layer if isinstance(layer, keras.layers.Layer) else keras.saving.deserialize_keras_object(layer)

    def build(self, input_shape):
        if not self.layer.built:
            self.layer.build(input_shape)
        super().build(input_shape)

    def call(self, values):
        mirrored = ops.flip(self.layer(ops.flip(values, axis=2)), axis=2)
        return ops.concatenate([ops.zeros_like(mirrored[:, :1]), mirrored[:, :-1]], axis=1)

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def get_config(self):
        config = super().get_config()
        config["layer"] = keras.saving.serialize_keras_object(self.layer)
        return config
