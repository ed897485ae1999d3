"""grid: a cell `over grid` over a batch of grids, one wavefront of positions at a time.

A grid is `(batch, H, W, input size)`. The cell computes its values at each position (i, j) from its
inputs there and from values at earlier positions (rnndsl.lang.grid_reads). What it computes of its inputs
alone runs for every position at once, before the scan; the rest runs in the scan, whose steps are the
wavefronts of its schedule (a, b): position (i, j) at step a*i + b*j, the schedule of fewest steps in which
every read of the scan's own values reaches an earlier step (rnndsl.lang.grid_scan): a row a step for the
Row LSTM, an anti-diagonal a step for the multi-dimensional and the Diagonal LSTM. How the work splits, and
which matmuls run as one, is rnndsl.keras.grid_plan's.

Every step runs the cell's equations on all its positions in all the batch's grids as one batch of rows,
as a time cell runs one step of all its sequences; values are kept positions first, `(positions, batch,
size)`, so that a step's reads of an earlier one are slices or one small matmul, not gathers. A read
outside the grid reads the value's initial state. The steps are unrolled when the step is traced (H and W
must be known then): the positions of each step, and where each read finds its value, are index arrays
computed once in NumPy. Only `keras.ops` is used (TensorFlow's gather where it is the back end), so the
layer runs on every Keras back end.
"""

from __future__ import annotations

from functools import lru_cache

import keras
import numpy as np
from keras import ops

from . import PACKAGE
from .domain_layer import DomainLayer, as_rows
from ..lang.dims import int_bindings
from ..lang.grid_scan import scan_schedule
from .grid_plan import grid_plan, rewritten
from .interpret import flat_size, gather
from .step_matmuls import sibling_values, split_along, stacked_params

RETURNS = ("grid", "last", "states")
SELECTED_ROWS = 64  # a step's reads of an earlier one by a 0/1 matrix up to this many positions (GridLayer._joined)


@lru_cache(maxsize=64)
def wavefronts(schedule: tuple, height: int, width: int, offsets: tuple) -> tuple:
    """The steps of a scan: (positions, reads) for each step s, `positions` the flat indices i*W + j of its
    positions in row order, `reads` {offset: (the step read, index into [initial row] + that step's
    positions)} for a value read at an earlier position (step -1: the initial row alone, every position's
    read falling outside the grid)."""
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
        for offset in offsets:
            inside, q = _moved(positions, offset, height, width)
            if not inside.any():
                reads[offset] = (-1, np.zeros(len(positions), dtype=np.int32))
                continue
            source = s + a * offset[0] + b * offset[1]
            reads[offset] = (source, np.where(inside, place[q] + 1, 0).astype(np.int32))
        plans.append((positions.astype(np.int32), reads))
    return tuple(plans)


@lru_cache(maxsize=64)
def whole_grid_reads(height: int, width: int, offsets: tuple) -> dict:
    """{offset: for every position in row order, the index of the position at that offset from it in
    [outside] + every position (0 where it falls outside the grid)}."""
    positions = np.arange(height * width)
    reads = {}
    for offset in offsets:
        inside, q = _moved(positions, offset, height, width)
        reads[offset] = np.where(inside, q + 1, 0).astype(np.int32)
    return reads


def _moved(positions, offset, height: int, width: int) -> tuple:
    """(whether the position at `offset` from each of `positions` (flat, i*W + j) is in the grid, its flat
    index there (0 where not))."""
    pi, pj = np.divmod(positions, width)
    qi, qj = pi + offset[0], pj + offset[1]
    inside = (qi >= 0) & (qi < height) & (qj >= 0) & (qj < width)
    return inside, np.where(inside, qi * width + qj, 0)


@keras.saving.register_keras_serializable(package=PACKAGE)
class GridLayer(DomainLayer):
    """A grid cell applied to a batch of grids `(batch, H, W, input size)` ->

    - `returns="grid"`: `(batch, H, W, output size)`, the cell's first output at every position;
    - `returns="last"`: `(batch, output size)`, at the last position, (H - 1, W - 1);
    - `returns="states"`: each state's value there, `(batch,) + its shape`, in the cell's order."""

    RETURNS, DOMAIN = RETURNS, "grid"

    def _setup(self):
        self.offsets = tuple(sorted({use.offset for _, _, use in self.G.uses() if use.offset is not None}))
        self.G = G = rewritten(self.G, self.kept)
        self.operands = {n: G.operands(n) for n in G}
        known = int_bindings(self.env)
        self.shape_of.update({n: tuple(d.subst(known).value for d in G.shape(n)) for n in G
                              if n not in self.shape_of and G.shape(n) is not None})
        self.plan = plan = grid_plan(G, self.kept)
        self.batched = plan.batched
        self.group_of = {n: g for g in plan.hoisted_groups + plan.step_groups for n in g.nodes}
        # the values whose initial state is 0: outside the grid they read zeros
        # what each step keeps for later ones and for the output: an input read elsewhere is read before the scan
        self.scanned = [n for n in self.kept if n not in self.inputs_in_order]
        self.zero_start = {n for n in self.kept if G.node(n).kind == "value"
                           and isinstance(G.node(n).init, (int, float)) and G.node(n).init == 0}

    def call(self, values):
        height, width = values.shape[1], values.shape[2]
        if height is None or width is None:
            raise ValueError(f"cell `{self.cell_name}` runs over a grid whose height and width are known when the "
                             f"model is traced, not {tuple(values.shape[1:3])}: give them in the network's "
                             "input type, `grid[H, W, d]`")
        dtype = self.compute_dtype
        batch = ops.shape(values)[0]
        # position-major, `(H * W, batch, size)`: a step's positions are gathered along the first axis, whose
        # gradient is a scatter of rows (along another axis it is transposes and a scatter)
        x = ops.cast(ops.transpose(ops.reshape(values, (batch, height * width, self.input_dim)), (1, 0, 2)), dtype)
        weights = {n: ops.cast(w, dtype) for n, w in self.weights_by_name.items()}
        # what every step reads alike: the weights, constants, invariants and the stacked sibling matrices
        fixed = self._evaluate(dict(weights, **self.constants), self.plan.invariants, lambda u, use: None)
        fixed.update({g: stacked_params(g, fixed) for g in self.plan.hoisted_groups + self.plan.step_groups})
        initial = {n: ops.expand_dims(self._initial_row(n, fixed), 0) for n in self.scanned}  # (1, 1, size)
        scanned = self.plan.scan_offsets
        plans = wavefronts(scan_schedule(scanned, height, width), height, width, scanned)
        order = np.concatenate([positions for positions, _ in plans])
        ahead = self._frontier(x, fixed, initial, batch, height, width, order, [len(p) for p, _ in plans])
        done = []  # each step's kept values, `(its positions, batch, size)`
        for (positions, reads), given in zip(plans, ahead):
            done.append(self._step(given, len(positions), reads, done, initial, fixed, batch))

        if self.returns == "grid":  # from the steps' order back to row order, batch first
            every = _reordered(ops.concatenate([d[self.output_name] for d in done], axis=0), np.argsort(order))
            return ops.reshape(ops.transpose(every, (1, 0, 2)), (batch, height, width, -1))
        # the last step's last position is (H - 1, W - 1), the last in row order
        last = dict(done[-1], **self._inputs(x[-1]))
        if self.returns == "last":
            return last[self.output_name][-1]
        return [ops.reshape(last[n] if n in self.inputs_in_order else last[n][-1], (-1,) + self.shape_of[n])
                for n in self.states]

    def _frontier(self, x, fixed, initial, batch, height, width, order, sizes) -> list:
        """What each step reads of the inputs and of the work done before the scan: for each step, {(node,
        offset): its value at the step's positions, `(rows,) + its shape`}. The hoisted work runs on every
        position of every grid at once, `H * W * batch` rows; a read at another position gathers over the
        whole grid (an input reads 0 outside it, a value its initial state)."""
        frontier = self.plan.frontier
        if not frontier:
            return [{} for _ in sizes]
        rows = height * width * batch
        every = whole_grid_reads(height, width, self.offsets)
        env = dict(fixed)
        env.update(self._inputs(ops.reshape(x, (rows, self.input_dim))))

        def at(u, offset):
            """`u` at `offset` from every position: `(H * W, batch, its size)`."""
            flat = ops.reshape(env[u], (height * width, batch, -1))
            if offset is None:
                return flat
            return _rows_at(flat, every[offset], None if u in self.inputs_in_order or u in self.zero_start
                            else initial[u])

        env = self._evaluate(env, self.plan.hoisted,
                             lambda u, use: None if use.offset is None else ops.reshape(at(u, use.offset), (rows, -1)))
        # a step group's added values are one block (GridPlan.step_sums), side by side; each other value its own
        blocks = [self.plan.sums[g][1] for g in self.plan.step_sums]
        blocks += [(key,) for key in frontier[sum(len(keys) for keys in blocks):]]
        # each block cut into the steps along the positions (in the steps' order): one split a block, not a
        # slice a step (each slice's gradient is as large as the whole)
        cuts = []
        for keys in blocks:
            packed = tuple(u for u, _ in keys)
            if packed in env:  # the sums of a group before the scan, as they were computed: side by side
                block = ops.reshape(env[packed], (height * width, batch, -1))
            else:
                parts = [at(u, offset) for u, offset in keys]
                block = parts[0] if len(parts) == 1 else ops.concatenate(parts, axis=-1)
            cuts.append(split_along(_reordered(block, order), sizes, axis=0))
        out = []
        for k, m in enumerate(sizes):
            step = {}
            for keys, cut in zip(blocks, cuts):
                v = ops.reshape(cut[k], (m * batch, -1))
                step[keys if len(keys) > 1 else keys[0]] = v if len(keys) > 1 else as_rows(v, self.shape_of[keys[0][0]])
            out.append(step)
        return out

    def _step(self, given, m, reads, done, initial, fixed, batch) -> dict:
        """The kept values at one step's `m` positions, each `(m, batch, its size)`; `given` the step's frontier."""
        rows = m * batch
        found: dict = {}

        def read(u, use):
            key = (u, use.offset)
            if key in given:
                return given[key]
            if use.offset is None:
                return None
            if key not in found:  # a value at an earlier step, each read once a step
                source, index = reads[use.offset]
                v = (ops.broadcast_to(initial[u], (m, batch, flat_size(self.shape_of[u]))) if source < 0
                     else _rows_at(done[source][u], index, None if u in self.zero_start else initial[u]))
                found[key] = ops.reshape(v, (rows,) + self.shape_of[u])
            return found[key]

        env = dict(fixed)
        # the frontier's values read at the position itself by name, and the blocks of GridPlan.step_sums
        env.update({key[0] if isinstance(key[0], str) else key: v for key, v in given.items()
                    if not isinstance(key[0], str) or key[1] is None})
        for n, (u, offsets) in self.plan.joined.items():
            joined = self._joined(u, offsets, reads, done, m, batch)
            if joined is not None:
                env[n] = joined
        env = self._evaluate(env, self.plan.step_order, read)
        return {name: ops.reshape(v, (m, batch, -1)) for name, v in self._kept_rows(env, rows, self.scanned).items()}

    def _joined(self, u, offsets, reads, done, m, batch):
        """`u` at `offsets` from each of a step's `m` positions, side by side, `(m * batch, offsets * size)`, by
        one matmul: the rows of a 0/1 matrix pick each read's position of the step read (a row of zeros
        outside the grid) from that step's values. For the Row LSTM's three reads of the row above, that is
        one op and one op of gradient, where slices, pads and a concatenation are several each. Where the
        reads reach different steps, the initial state is not 0, or the step read has over SELECTED_ROWS
        positions (the matrix's cost grows with their product): None, each read on its own."""
        sources = {reads[o][0] for o in offsets}
        source = sources.pop()
        if sources or source < 0 or u not in self.zero_start or done[source][u].shape[0] > SELECTED_ROWS:
            return None
        before = done[source][u]  # (n, batch, size)
        picks = np.concatenate([_selection(reads[o][1], before.shape[0]) for o in offsets])  # (reads * m, n)
        v = ops.matmul(ops.cast(ops.convert_to_tensor(picks), before.dtype), ops.reshape(before, (before.shape[0], -1)))
        v = ops.transpose(ops.reshape(v, (len(offsets), m, batch, -1)), (1, 2, 0, 3))
        return ops.reshape(v, (m * batch, -1))

    def _evaluate(self, env: dict, nodes, read) -> dict:
        """`env` with the values of `nodes` (ops and values, in order) added; `read(u, use)` gives an operand
        that `env` does not hold by name (read at another position, or a step's frontier), or None."""
        G = self.G

        def operand(u, use):
            found = read(u, use)
            return env[u] if found is None else found

        computed = set()  # the sibling groups computed

        for n in nodes:
            if n in env:  # computed with its sibling matmuls
                continue
            rec = G.node(n)
            uses = self.operands[n]
            group = self.group_of.get(n)
            if group is not None:
                if group in computed:  # with an earlier member
                    continue
                computed.add(group)
                first, *_ = group.nodes
                v, use = next((u, use) for u, use in G.operands(first) if u == group.operand[0])
                adds, keys = self.plan.sums.get(group, ((), ()))
                # what the members' adds add: the frontier's block in a step, parameters before the scan
                if not keys:
                    plus = None
                elif keys in env:  # in a step, the frontier's block
                    plus = env[keys]
                else:  # before the scan, parameters (a bias a member)
                    plus = ops.concatenate([env[u] for u, _ in keys], axis=-1)
                if plus is None:
                    env.update(sibling_values(group, operand(v, use), env[group], self.shape_of))
                    continue
                found = sibling_values(group, operand(v, use), env[group], self.shape_of, plus=plus)
                env.update({add: found[m] for add, m in zip(adds, group.nodes)})
                env[adds] = found[None]  # side by side, before the split (unused, it costs nothing in a graph)
                continue
            values = [operand(u, use) for u, use in uses]
            if rec.kind == "value":
                (_, use), = uses
                env[n] = values[0][use.index] if use.index is not None else values[0]
                continue
            env[n] = self._apply(rec, uses, values, [self.batched.get(u, False) or use.offset is not None
                                                     for u, use in uses])
        return env

    def compute_output_shape(self, input_shape):
        size = flat_size(self.shape_of[self.output_name])
        if self.returns == "grid":
            return tuple(input_shape[:3]) + (size,)
        if self.returns == "last":
            return (input_shape[0], size)
        return [(input_shape[0],) + self.shape_of[n] for n in self.states]


def _selection(index, n: int):
    """The 0/1 matrix `(len(index), n)` whose row p picks row index[p] - 1 of n (none where index[p] is 0)."""
    picks = np.zeros((len(index), n))
    inside = np.flatnonzero(index > 0)
    picks[inside, index[inside] - 1] = 1
    return picks


def _rows_at(values, index, outside):
    """`values` `(n, batch, size)` at `index` into [outside] + its n rows: `index.shape + (batch, size)`, the
    row `outside` `(1, 1, size)` (None: zeros) where the index is 0. A gather and a select, not a gather from a
    concatenation, whose gradient is a scatter through the concatenation's (masks and gathers again)."""
    inside = index > 0
    run = np.flatnonzero(inside)
    if outside is None and index.ndim == 1 and len(run) and (np.diff(index[run]) == 1).all() and (
            run[-1] - run[0] + 1 == len(run)):
        # a run of consecutive rows, zeros around it (a shift: the Row LSTM's row above, a diagonal's
        # neighbours): a slice and a pad, whose gradients are a pad and a slice, not a scatter
        first, before, after = int(index[run[0]]) - 1, int(run[0]), len(index) - int(run[-1]) - 1
        piece = values if first == 0 and len(run) == values.shape[0] else values[first:first + len(run)]
        return piece if before == after == 0 else ops.pad(piece, [[before, after], [0, 0], [0, 0]])
    found = gather(values, np.maximum(index - 1, 0).astype(np.int32), axis=0)
    if inside.all():
        return found
    kept = ops.convert_to_tensor(inside[..., None, None])
    return ops.where(kept, found, ops.zeros_like(found) if outside is None else ops.cast(outside, found.dtype))


def _reordered(values, order):
    """`values` `(positions, batch, size)` with its positions in `order`: a gather, none where that is theirs
    already (the Row LSTM's rows)."""
    if (order == np.arange(len(order))).all():
        return values
    return gather(values, order.astype(np.int32), axis=0)


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
