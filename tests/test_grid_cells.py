"""Grid cells, lowered by wavefronts (rnndsl.keras.grid), equal their papers' equations evaluated pixel by
pixel in NumPy: forward at every position, and the gradient of a loss over every position with respect to
every parameter, on batches of random grids.

The references below are written from the papers' equations (the docstrings of specs/std/grid.rnn quote
them), one position at a time in row order, in float64; the layer runs in float64 too, so that finite
differences of the reference check its gradients to 1e-5.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import rnndsl
from helpers import central_differences
from rnndsl.keras.cell import cell_source
from rnndsl.keras.grid import GridLayer, wavefronts
from rnndsl.lang.grid_scan import scan_schedule

STD = Path(__file__).resolve().parent.parent / "specs" / "std"


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def at(grid, i, j):
    """The value at (i, j), 0 outside the grid: what a read outside the grid finds (every state starts at 0)."""
    height, width = grid.shape[:2]
    return grid[i, j] if 0 <= i < height and 0 <= j < width else np.zeros(grid.shape[2:])


def pixel_by_pixel(p, x, step):
    """The hidden states `(H, W, units)` of an LSTM over grid x `(H, W, in)`, visiting the positions in row
    order: `step(i, j, h, c)` gives the cell state and the hidden state at (i, j) from those computed before."""
    height, width, _ = x.shape
    units = p["b_i"].shape[0]
    h, c = np.zeros((height, width, units)), np.zeros((height, width, units))
    for i in range(height):
        for j in range(width):
            c[i, j], h[i, j] = step(i, j, h, c)
    return h


def mdlstm(p, x):
    """Graves, Fernandez & Schmidhuber (2007), two dimensions, one forget gate a dimension."""
    def step(i, j, h, c):
        def gate(name, k1, k2, b):
            return p[f"W_{name}"] @ x[i, j] + p[f"U_{k1}"] @ at(h, i - 1, j) + p[f"U_{k2}"] @ at(h, i, j - 1) + p[b]

        ig, f1 = sigmoid(gate("i", "i1", "i2", "b_i")), sigmoid(gate("f1", "f11", "f12", "b_f1"))
        f2, o = sigmoid(gate("f2", "f21", "f22", "b_f2")), sigmoid(gate("o", "o1", "o2", "b_o"))
        cell = ig * np.tanh(gate("g", "g1", "g2", "b_g")) + f1 * at(c, i - 1, j) + f2 * at(c, i, j - 1)
        return cell, o * np.tanh(cell)

    return pixel_by_pixel(p, x, step)


def row_lstm(p, x):
    """van den Oord et al. (2016), the Row LSTM: a row from the row above, convolutions of width 3."""
    def step(i, j, h, c):
        def gate(k):
            return (p[f"W_l{k}"] @ at(x, i, j - 1) + p[f"W_c{k}"] @ x[i, j] + p[f"U_l{k}"] @ at(h, i - 1, j - 1)
                    + p[f"U_c{k}"] @ at(h, i - 1, j) + p[f"U_r{k}"] @ at(h, i - 1, j + 1) + p[f"b_{k}"])

        cell = sigmoid(gate("f")) * at(c, i - 1, j) + sigmoid(gate("i")) * np.tanh(gate("g"))
        return cell, sigmoid(gate("o")) * np.tanh(cell)

    return pixel_by_pixel(p, x, step)


def diagonal_lstm(p, x):
    """van den Oord et al. (2016), one direction of the Diagonal BiLSTM, unskewed: the neighbours above and
    to the left, the left one's cell state."""
    def step(i, j, h, c):
        def gate(k):
            return p[f"W_{k}"] @ x[i, j] + p[f"U_u{k}"] @ at(h, i - 1, j) + p[f"U_l{k}"] @ at(h, i, j - 1) + p[f"b_{k}"]

        cell = sigmoid(gate("f")) * at(c, i, j - 1) + sigmoid(gate("i")) * np.tanh(gate("g"))
        return cell, sigmoid(gate("o")) * np.tanh(cell)

    return pixel_by_pixel(p, x, step)


CELLS = {"MDLSTM": mdlstm, "RowLSTM": row_lstm, "DiagonalLSTM": diagonal_lstm}


def float64_grid_layer(cell: str, inputs: int, units: int, seed: int):
    program = rnndsl.load(STD / "grid.rnn")
    layer = GridLayer(cell_source(program, cell), cell, inputs, {"units": units}, dtype="float64")
    layer.build((None, None, None, inputs))
    rng = np.random.default_rng(seed)
    for w in layer.weights_by_name.values():
        w.assign(rng.normal(scale=0.5, size=w.shape))
    return layer


@pytest.mark.parametrize("cell", sorted(CELLS))
@pytest.mark.parametrize("selected", [True, False], ids=["reads by a 0/1 matrix", "reads one by one"])
def test_a_grid_cell_equals_its_paper_pixel_by_pixel(cell, selected, monkeypatch):
    if not selected:  # a step's reads of the step before each on its own, as in a larger grid
        monkeypatch.setattr("rnndsl.keras.grid.SELECTED_ROWS", 0)
    layer = float64_grid_layer(cell, inputs=2, units=3, seed=1)
    _equals_reference(layer, CELLS[cell], np.random.default_rng(2).normal(size=(2, 3, 4, 2)))


def _equals_reference(layer, reference, xs):
    """`layer` on the grids `xs` equals `reference(params, grid)` forward, to 1e-12, and in the gradient of
    sum(y * R) with respect to every parameter, against central differences of the reference, to 1e-5."""
    import tensorflow as tf

    params = {n: np.array(w.numpy()) for n, w in layer.weights_by_name.items()}
    y = layer(xs).numpy()
    for b in range(len(xs)):
        np.testing.assert_allclose(y[b], reference(params, xs[b]), rtol=0, atol=1e-12)
    R = np.random.default_rng(3).normal(size=y.shape)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(xs) * R)
    got = dict(zip(layer.weights_by_name, tape.gradient(loss, list(layer.weights_by_name.values()))))

    def loss_of():
        return float(sum((reference(params, xs[b]) * R[b]).sum() for b in range(len(xs))))

    for name in layer.weights_by_name:
        want = central_differences(loss_of, params[name], 1e-6)
        assert np.abs(want).max() > 1e-6, name  # every weight reaches the loss
        np.testing.assert_allclose(np.asarray(got[name]), want, rtol=1e-5, atol=1e-8, err_msg=name)


ODD = """
cell Odd(units: int) over grid {
    input x: [units]
    param W, U, V: [units, units] ~ glorot_uniform
    param b, h0: [units] = 0
    state h: [units] = h0
    a[i, j] = W @ x[i, j] + b
    h[i, j] = tanh(a[i, j-1] + U @ h[i-1, j+1] + V @ h[i, j-1] + x[i-1, j] * h[i, j-1])
    output h
}
"""


def odd(p, x):
    """The cell ODD, position by position in row order: a value of the inputs alone (`a`) read to the left
    (0 outside), an input read above (0 outside), the state read above to the right and to the left (its
    learned initial state `h0` outside)."""
    height, width, _ = x.shape
    a = x @ p["W"].T + p["b"]
    h = np.zeros(x.shape)

    def read(grid, i, j, outside):
        return grid[i, j] if 0 <= i < height and 0 <= j < width else outside

    zero = np.zeros(x.shape[-1])
    for i in range(height):
        for j in range(width):
            left = read(h, i, j - 1, p["h0"])
            h[i, j] = np.tanh(read(a, i, j - 1, zero) + p["U"] @ read(h, i - 1, j + 1, p["h0"]) + p["V"] @ left
                              + read(x, i - 1, j, zero) * left)
    return h


def test_the_scan_plan_keeps_what_reads_the_inputs_alone_out_of_the_steps():
    """The scan computes before it what reads only the inputs (at any position), so that only reads of its
    own values order it: the Row LSTM's scan is a row a step (its `x[i, j-1]` does not make it one position
    a step), and each of its steps is one matmul (the three reads of the row above by the four gates' twelve
    matrices, side by side). A cell of stranger reads (a value of the inputs read to the left, an input read
    above, a state above to the right with a learned initial state) equals its pixel-by-pixel loop."""
    from rnndsl.keras.grid_plan import grid_plan, rewritten

    program = rnndsl.load(STD / "grid.rnn")
    G = rewritten(program.graph("RowLSTM"), ["c", "h"])
    plan = grid_plan(G, ["c", "h"])
    assert plan.scan_offsets == ((-1, -1), (-1, 0), (-1, 1)) and scan_schedule(plan.scan_offsets, 16, 16) == (1, 0)
    step_matmuls = [n for n in plan.step_order if G.node(n).kind == "op" and G.node(n).op == "matmul"]
    (group,) = plan.step_groups
    assert len(step_matmuls) == 4 and group in plan.step_sums  # and the frontier's block added before the split
    assert sorted(group.nodes) == sorted(step_matmuls)  # one matmul by the four gates' stacked matrices
    assert all(G.node(n).kind != "op" or G.node(n).op != "matmul" for n in plan.step_order if n not in group.nodes)
    layer = GridLayer(ODD, "Odd", 3, {"units": 3}, dtype="float64")
    layer.build((None, None, None, 3))
    rng = np.random.default_rng(4)
    for w in layer.weights_by_name.values():
        w.assign(rng.normal(scale=0.5, size=w.shape))
    assert layer.plan.scan_offsets == ((-1, 1), (0, -1)) and ("a", (0, -1)) in layer.plan.frontier
    _equals_reference(layer, odd, np.random.default_rng(5).normal(size=(2, 4, 5, 3)))


@pytest.mark.parametrize("offsets, schedule, steps", [
    (((-1, -1), (-1, 0), (-1, 1)), (1, 0), 5),  # the row above: a row a step
    (((-1, 0), (0, -1)), (1, 1), 5 + 6 - 1),  # above and left: the anti-diagonals
    (((-1, 1), (0, -1)), (2, 1), 2 * 4 + 5 + 1),  # above-right and left
    (((-1, 3), (0, -1)), (4, 1), 4 * 4 + 5 + 1),  # fewer steps than one position a step (30) still
    (((0, -1),), (0, 1), 6),  # the left alone: a column a step
    ((), (0, 0), 1),  # nothing read elsewhere: every position at once
    (((-1, 9), (0, -1)), (0, 1), 6),  # a read always outside the 5 x 6 grid constrains nothing
])
def test_the_scan_schedule_is_the_one_of_fewest_steps(offsets, schedule, steps):
    assert scan_schedule(offsets, 5, 6) == schedule
    plans = wavefronts(schedule, 5, 6, tuple(offsets))
    assert len(plans) == steps
    seen = np.concatenate([positions for positions, _ in plans])
    assert sorted(seen) == list(range(30))  # every position once
    step_of = {int(p): s for s, (positions, _) in enumerate(plans) for p in positions}
    for s, (positions, reads) in enumerate(plans):
        for offset, (source, index) in reads.items():
            assert source < s  # a read reaches an earlier step, or the initial state (-1)
            for p, k in zip(positions, index):
                i, j = divmod(int(p), 6)
                qi, qj = i + offset[0], j + offset[1]
                if 0 <= qi < 5 and 0 <= qj < 6:
                    assert k >= 1 and step_of[qi * 6 + qj] == source and plans[source][0][k - 1] == qi * 6 + qj
                else:
                    assert k == 0
