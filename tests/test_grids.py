"""Grids end to end: the language of grid cells (`over grid`, positions `h[i-1, j]`, the scan order) and its
diagnostics; grid networks that check, build, train, save and reload, and draw. The cells' numbers against
their papers' equations are tests/test_grid_cells.py's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import rnndsl
from helpers import diagnostics

ROOT = Path(__file__).resolve().parent.parent

# ---------------------------------------------------------------- diagnostics

DIAGNOSTICS = {
    'reads_a_later_row': (
        'cell G(units: int) over grid {\n    input x: [units]\n    h[i, j] = tanh(x[i, j] + h[i+1, j])\n    output h\n}\n',
        'error[E0220]: `h[i+1, j]` reads a position after `i, j`\n  --> spec.rnn:3:32\n   |\n 3 |     h[i, j] = tanh(x[i, j] + h[i+1, j])\n   |                                ^^^^^^ not computed yet: the grid is scanned row by row, left to right\n   = note: read a row above (`i-1`, any `j`), or the same row to the left (`j-1`)'),
    'reads_to_the_right': (
        'cell G(units: int) over grid {\n    input x: [units]\n    h[i, j] = tanh(x[i, j] + h[i, j+1])\n    output h\n}\n',
        'error[E0220]: `h[i, j+1]` reads a position after `i, j`\n  --> spec.rnn:3:32\n   |\n 3 |     h[i, j] = tanh(x[i, j] + h[i, j+1])\n   |                                ^^^^^^ not computed yet: the grid is scanned row by row, left to right\n   = note: read a row above (`i-1`, any `j`), or the same row to the left (`j-1`)'),
    'index_not_a_position': (
        'cell G(units: int) over grid {\n    input x: [units]\n    h[i, j] = tanh(x[i, j] + h[t-1])\n    output h\n}\n',
        'error[E0105]: a grid index is a position `i, j`\n  --> spec.rnn:3:32\n   |\n 3 |     h[i, j] = tanh(x[i, j] + h[t-1])\n   |                                ^^^ write `h[i, j]` or `h[i-1, j]`\n   = note: each of i and j may add or take a whole number: `h[i-1, j+1]` is the position a row above and a column to the right'),
    'index_of_other_names': (
        'cell G(units: int) over grid {\n    input x: [units]\n    h[i, j] = tanh(x[i, j] + h[j, i-1])\n    output h\n}\n',
        'error[E0105]: a grid index is a position `i, j`\n  --> spec.rnn:3:32\n   |\n 3 |     h[i, j] = tanh(x[i, j] + h[j, i-1])\n   |                                ^^^^^^ write `h[i, j]` or `h[i-1, j]`\n   = note: each of i and j may add or take a whole number: `h[i-1, j+1]` is the position a row above and a column to the right'),
    'reads_too_far': (
        'cell G(units: int) over grid {\n    input x: [units]\n    h[i, j] = tanh(x[i, j] + h[i-17, j])\n    output h\n}\n',
        'error[E0105]: `h[i-17, j]` reads too far\n  --> spec.rnn:3:32\n   |\n 3 |     h[i, j] = tanh(x[i, j] + h[i-17, j])\n   |                                ^^^^^^^ a grid cell reads at most 16 rows or columns away'),
    'defined_elsewhere': (
        'cell G(units: int) over grid {\n    input x: [units]\n    h[i-1, j] = tanh(x[i, j])\n    output h\n}\n',
        'error[E0212]: an equation defines `h` at `i, j`\n  --> spec.rnn:3:7\n   |\n 3 |     h[i-1, j] = tanh(x[i, j])\n   |       ^^^^^^ write `h[i, j]`\n   = note: read earlier positions on the right: `h[i-1, j]`'),
    'grid_with_arguments': (
        'cell G(units: int) over grid(2) {\n    input x: [units]\n    h[i, j] = tanh(x[i, j] + h[i-1, j])\n    output h\n}\n',
        "error[E0205]: `over grid` takes no arguments\n  --> spec.rnn:1:20\n   |\n 1 | cell G(units: int) over grid(2) {\n   |                    ^^^^^^^^^^^^ write `over grid`\n   = note: a grid's height and width are its input's: `grid[H, W, d]`"),
    'index_as_a_value': (
        'cell G(units: int) over grid {\n    input x: [units]\n    h[i, j] = tanh(x[i, j] + h[i-1, j] * i)\n    output h\n}\n',
        "error[E0219]: `i` is the cell's index, not a value\n  --> spec.rnn:3:42\n   |\n 3 |     h[i, j] = tanh(x[i, j] + h[i-1, j] * i)\n   |                                          ^ index a value with it: `h[i, j]`"),
    'cycle_at_a_position': (
        'cell G(units: int) over grid {\n    input x: [units]\n    a[i, j] = tanh(x[i, j] + h[i, j])\n    h[i, j] = a[i, j] + h[i-1, j]\n    output h\n}\n',
        'error[E0401]: `a` depends on itself within one step: a[i, j] -> h[i, j] -> a[i, j]\n  --> spec.rnn:4:15\n   |\n 4 |     h[i, j] = a[i, j] + h[i-1, j]\n   |               ^^^^^^^ `a[i, j]` is read by `h`\n  --> spec.rnn:3:30\n   |\n 3 |     a[i, j] = tanh(x[i, j] + h[i, j])\n   |                              ^^^^^^^ `h[i, j]` is read by `a`\n   = note: every cycle needs a delay: read one of these values at an earlier position, such as `h[i-1, j]` or `h[i, j-1]`'),
    'grid_cell_on_a_sequence': (
        'cell G(units: int) over grid {\n    input x: [units]\n    h[i, j] = tanh(x[i, j] + h[i-1, j])\n    output h\n}\n\nnetwork N {\n    input s: seq[4]\n    output G(4)(s)\n}\n',
        'error[E0305]: cell `G` runs over a grid: it takes a grid, found seq[4]\n  --> spec.rnn:9:12\n   |\n 9 |     output G(4)(s)\n   |            ^^^^^^^ `s` is seq[4]'),
    'time_cell_on_a_grid': (
        'cell E(units: int) {\n    input x: [units]\n    h[t] = tanh(x[t] + h[t-1])\n    output h\n}\n\nnetwork N {\n    input g: grid[8, 8, 4]\n    output E(4)(g)\n}\n',
        'error[E0305]: cell `E` runs over time: it takes a seq, found grid[8, 8, 4]\n  --> spec.rnn:9:12\n   |\n 9 |     output E(4)(g)\n   |            ^^^^^^^ `g` is grid[8, 8, 4]'),
    'grid_cell_returns_nodes': (
        'cell G(units: int) over grid {\n    input x: [units]\n    h[i, j] = tanh(x[i, j] + h[i-1, j])\n    output h\n}\n\nnetwork N {\n    input g: grid[8, 8, 4]\n    output G(4, returns=nodes)(g)\n}\n',
        'error[E0305]: cell `G` runs over a grid: it has no nodes to return\n  --> spec.rnn:9:12\n   |\n 9 |     output G(4, returns=nodes)(g)\n   |            ^^^^^^^^^^^^^^^^^^^^^^ returns=nodes\n   = note: `returns=nodes` is for tree cells; a grid cell returns its output at every position (the default), `last` or `states`'),
    'grid_cell_input_size': (
        'cell G(units: int) over grid {\n    input x: [units]\n    h[i, j] = tanh(x[i, j] + h[i-1, j])\n    output h\n}\n\nnetwork N {\n    input g: grid[8, 8, 3]\n    output G(4)(g)\n}\n',
        'error[E0305]: cell `G` input `x` takes grid[H, W, units], found grid[8, 8, 3]\n  --> spec.rnn:9:12\n   |\n 9 |     output G(4)(g)\n   |            ^^^^^^^ `g` is grid[8, 8, 3]\n   = note: `x: [units]` is declared at spec.rnn:2:11'),
    "masked_conv_on_a_sequence": (
        'network N {\n    input s: seq[4]\n    output MaskedConv2D(2)(s)\n}\n',
        'error[E0305]: `MaskedConv2D` takes a grid of feature vectors, grid[H, W, d], found seq[4]\n  --> spec.rnn:3:12\n   |\n 3 |     output MaskedConv2D(2)(s)\n   |            ^^^^^^^^^^^^^^^^^^ applied to seq[4]'),
    "masked_conv_even_kernel": (
        'network N {\n    input g: grid[4, 4, 1]\n    output MaskedConv2D(2, kernel=4)(g)\n}\n',
        'error[E0209]: the kernel of `MaskedConv2D` is an odd number of pixels from 1 to 31, not 4\n  --> spec.rnn:3:12\n   |\n 3 |     output MaskedConv2D(2, kernel=4)(g)\n   |            ^^^^^^^^^^^^^^^^^^^^^^^^^^^^'),
    "masked_conv_unknown_mask": (
        'network N {\n    input g: grid[4, 4, 1]\n    output MaskedConv2D(2, mask=C)(g)\n}\n',
        'error[E0209]: argument `mask` of `MaskedConv2D` must be one of A, B\n  --> spec.rnn:3:33\n   |\n 3 |     output MaskedConv2D(2, mask=C)(g)\n   |                                 ^ not one of those'),
}


@pytest.mark.parametrize("name", sorted(DIAGNOSTICS))
def test_grid_diagnostics(name):
    spec, want = DIAGNOSTICS[name]
    assert diagnostics(spec) == want.rstrip("\n")


# ---------------------------------------------------------------- networks

NETWORK = """import "std/grid.rnn"

network Stacked {
    input image: grid[6, 5, 1]
    h = MDLSTM(6)(image)
    rows = RowLSTM(5)(h)
    last = DiagonalLSTM(4, returns=last)(rows)
    output Dense(3, activation=softmax)(last)
}

network Small {
    input image: grid[4, 3, 1]
    output Dense(3, activation=softmax)(MDLSTM(4, returns=last)(image))
}
"""


def test_a_grid_network_builds_trains_saves_and_reloads(tmp_path):
    import keras

    program = rnndsl.load(NETWORK)
    stacked = program.build("Stacked")
    assert [tuple(layer.output.shape) for layer in stacked.layers[1:]] == [
        (None, 6, 5, 6), (None, 6, 5, 5), (None, 4), (None, 3)]
    model = program.build("Small")  # trained: a small one, since the traced step unrolls the grid's steps
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 4, 3, 1)).astype("float32")
    y = (x[:, :2].sum(axis=(1, 2, 3)) > 0).astype("int32") + (x[:, 2:].sum(axis=(1, 2, 3)) > 0)
    keras.utils.set_random_seed(0)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    losses = model.fit(x, y, epochs=5, batch_size=8, verbose=0).history["loss"]
    assert stacked(rng.normal(size=(2, 6, 5, 1)).astype("float32")).shape == (2, 3)  # it runs eagerly
    assert losses[-1] < losses[0], losses
    model.save(tmp_path / "digits.keras")
    again = keras.saving.load_model(tmp_path / "digits.keras")
    np.testing.assert_array_equal(again(x).numpy(), model(x).numpy())


def test_a_grid_cell_returns_its_last_position_and_its_states():
    program = rnndsl.load('import "std/grid.rnn"\n')
    every = program.build("MDLSTM", input_size=2, units=3)
    x = np.random.default_rng(1).normal(size=(2, 4, 3, 2)).astype("float32")
    grid = every(x).numpy()
    assert grid.shape == (2, 4, 3, 3)
    from rnndsl.keras.cell import cell_source
    from rnndsl.keras.grid import GridLayer

    source = cell_source(program, "MDLSTM")
    for returns in ("last", "states"):
        layer = GridLayer(source, "MDLSTM", 2, {"units": 3}, returns=returns)
        layer.build(x.shape)
        layer.set_weights(every.layers[1].get_weights())
        got = layer(x)
        if returns == "last":
            np.testing.assert_allclose(got.numpy(), grid[:, -1, -1], atol=1e-6)
        else:
            c, h = (g.numpy() for g in got)  # the cell's states in its order
            np.testing.assert_allclose(h, grid[:, -1, -1], atol=1e-6)
            assert c.shape == (2, 3) and not np.allclose(c, h)


def test_a_grid_cell_needs_the_grid_s_size_when_traced():
    import tensorflow as tf

    program = rnndsl.load('import "std/grid.rnn"\n')
    model = program.build("MDLSTM", input_size=1, units=2)
    traced = tf.function(model, input_signature=[tf.TensorSpec((None, None, None, 1))])
    with pytest.raises(ValueError, match=r"cell `MDLSTM` runs over a grid whose height and width are known when "
                                         r"the model is traced, not \(None, None\): give them in the network's "
                                         r"input type, `grid\[H, W, d\]`"):
        traced.get_concrete_function()


def test_grid_cells_draw_and_typeset_their_positions(tmp_path):
    from rnndsl.cli import main

    spec = ROOT / "specs" / "std" / "grid.rnn"
    assert main(["render", str(spec), "--cell", "MDLSTM", "-o", str(tmp_path / "m.dot")]) == 0
    dot = (tmp_path / "m.dot").read_text()
    assert 'label="[i-1, j]"' in dot and 'label="[i, j-1]"' in dot
    assert main(["latex", str(spec), "--cell", "RowLSTM", "-o", str(tmp_path / "r.tex")]) == 0
    tex = (tmp_path / "r.tex").read_text()
    assert r"\mathbf{h}_{i-1, j+1}" in tex and r"\mathbf{x}_{i, j-1}" in tex and r"\mathbf{c}_{i, j} &=" in tex
    assert main(["render", str(spec), "--cell", "DiagonalLSTM", "-o", str(tmp_path / "d.tex")]) == 0  # paper style
    # the scan order: in a cell's caption, and in the box of a network's grid layer
    assert "over grid, scanned by anti-diagonals, from the top-left corner)" in dot
    assert main(["render", str(spec), "--cell", "RowLSTM", "-o", str(tmp_path / "r.dot")]) == 0
    assert "over grid, scanned a row at a time, from the top)" in (tmp_path / "r.dot").read_text()
    pixels = tmp_path / "pixels.rnn"
    pixels.write_text('import "std/grid.rnn"\n' + "".join(
        f"network {name} {{\n    input image: grid[8, 8, 1]\n    output Dense(1)({layer}(image))\n}}\n"
        for name, layer in (("PixelDiagonalBiLSTM", "Bidirectional(DiagonalLSTM(4), merge=sum)"),
                            ("PixelRowLSTM", "RowLSTM(4)"))), encoding="utf-8")
    assert main(["render", str(pixels), "--network", "PixelDiagonalBiLSTM", "-o", str(tmp_path / "n.dot")]) == 0
    assert ("scan: by anti-diagonals, from the top-left corner; and over the grid mirrored left to right, a row "
            "later") in (tmp_path / "n.dot").read_text()
    assert main(["render", str(pixels), "--network", "PixelRowLSTM", "-o", str(tmp_path / "n.tex")]) == 0
    assert r"{\footnotesize scan: a row at a time, from the top}" in (tmp_path / "n.tex").read_text()


def test_the_scan_is_ordered_by_the_reads_of_its_own_values_alone():
    from rnndsl.lang.grid_scan import scan_offsets, scan_text

    G = rnndsl.load(ODD_READS).graph("Odd")
    assert scan_offsets(G) == ((-1, 1), (0, -1)) and scan_text(G) == "position (i, j) at step 2i + j"
    G = rnndsl.load(ODD_READS.replace("h[i, j-1]", "h[i-1, j]")).graph("Odd")
    assert scan_offsets(G) == ((-1, 0), (-1, 1)) and scan_text(G) == "a row at a time, from the top"
    G = rnndsl.load(ODD_READS.replace("U @ h[i-1, j+1] + V @ h[i, j-1] + x[i-1, j] * h[i, j-1]", "V @ h[i, j-1]")
                    ).graph("Odd")
    assert scan_text(G) == "a column at a time, from the left"  # a[i, j-1] is known before the scan
    G = rnndsl.load(ODD_READS.replace("U @ h[i-1, j+1] + V @ h[i, j-1] + x[i-1, j] * h[i, j-1]", "x[i-1, j]")
                    ).graph("Odd")
    assert scan_offsets(G) == () and scan_text(G) == "every position at once"


ODD_READS = """
cell Odd(units: int) over grid {
    input x: [units]
    param W, U, V: [units, units] ~ glorot_uniform
    param b: [units] = 0
    a[i, j] = W @ x[i, j] + b
    h[i, j] = tanh(a[i, j-1] + U @ h[i-1, j+1] + V @ h[i, j-1] + x[i-1, j] * h[i, j-1])
    output h
}
"""


def test_a_grid_layer_says_what_it_returns():
    from rnndsl.keras.cell import cell_source
    from rnndsl.keras.grid import GridLayer

    source = cell_source(rnndsl.load('import "std/grid.rnn"\n'), "MDLSTM")
    with pytest.raises(ValueError, match=r"^a grid layer returns one of grid, last, states, not 'nodes'$"):
        GridLayer(source, "MDLSTM", 2, {"units": 3}, returns="nodes")


# ---------------------------------------------------------------- masked convolutions

def test_the_masks_see_the_pixels_before_the_centre():
    from rnndsl.keras.masked_conv import raster_mask

    np.testing.assert_array_equal(raster_mask(3, "A"), [[1, 1, 1], [1, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(raster_mask(3, "B"), [[1, 1, 1], [1, 1, 0], [0, 0, 0]])
    np.testing.assert_array_equal(raster_mask(1, "B"), [[1]])


PIXELS = """import "std/grid.rnn"

network Pixels {
    input image: grid[5, 6, 1]
    h = MaskedConv2D(4, kernel=5, mask=A, activation=relu)(image)
    rows = RowLSTM(4)(h)
    diagonals = DiagonalLSTM(4)(Add()(rows, MaskedConv2D(4, kernel=1)(h)))
    both = MDLSTM(4)(diagonals)
    output Dense(1, activation=sigmoid)(MaskedConv2D(4, kernel=3, mask=B)(both))
}
"""


def test_a_pixel_network_reads_only_the_pixels_before_each_one(tmp_path):
    """A PixelRNN-style network (a mask A convolution first, then grid cells, residual connections and mask B
    convolutions): the output at a pixel changes with a pixel before it, never with the pixel itself or one
    after it, which is what lets it model an image pixel by pixel."""
    import keras

    model = rnndsl.load(PIXELS).build("Pixels")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1, 5, 6, 1)).astype("float32")
    y = model(x).numpy()[0, :, :, 0]
    for p in (0, 7, 14, 29):
        changed = x.copy()
        changed[0, p // 6, p % 6, 0] += 3.0
        moved = np.abs(model(changed).numpy()[0, :, :, 0] - y).reshape(-1) > 1e-6
        assert not moved[:p + 1].any(), p  # the pixel itself and every one before it: unchanged
        if p < 29:
            assert moved[p + 1], p  # the next pixel reads it
    model.save(tmp_path / "pixels.keras")
    np.testing.assert_array_equal(keras.saving.load_model(tmp_path / "pixels.keras")(x).numpy(), model(x).numpy())


def test_a_masked_convolution_from_python_says_what_it_takes():
    from rnndsl.keras.masked_conv import MaskedConv2D

    with pytest.raises(ValueError, match=r"^a masked convolution's mask is A or B, not 'C'$"):
        MaskedConv2D(2, 3, mask="C")
    with pytest.raises(ValueError, match=r"^a masked convolution's kernel is an odd number of pixels, not 2$"):
        MaskedConv2D(2, 2)


def test_explain_and_build_say_how_a_grid_cell_runs(tmp_path, capsys):
    from rnndsl.cli import main

    spec = tmp_path / "g.rnn"
    row = (ROOT / "specs" / "std" / "grid.rnn").read_text().split("cell RowLSTM")[1].split("\ncell ")[0]
    spec.write_text(NETWORK.replace('import "std/grid.rnn"', 'import "std/grid.rnn"\n\ncell Rows' + row), "utf-8")
    assert main(["check", str(spec), "--explain"]) == 0
    out = capsys.readouterr().out
    assert "cell Rows(units: int)" in out
    assert "  runs over grid positions, row by row, left to right; reads at [i-1, j-1], [i-1, j], [i-1, j+1], " \
           "[i, j-1]\n" in out  # the input's read at [i, j-1] too
    assert "  lowers:  grid layer: the positions of one wavefront of the scan schedule at once, every grid of a " \
           "batch (the schedule of fewest steps, chosen for the grid's size)\n" in out
    assert main(["build", str(spec), "--network", "Small", "-o", str(tmp_path / "small.keras")]) == 0
    assert ": cell MDLSTM, grid path (wavefronts), " in capsys.readouterr().out


BIDIRECTIONAL = """import "std/grid.rnn"

network Both {
    input image: grid[5, 4, 1]
    h = MaskedConv2D(3, kernel=3, mask=A)(image)
    both = Bidirectional(DiagonalLSTM(3), merge=sum)(h)
    output Dense(1)(both)
}
"""


def test_a_bidirectional_grid_cell_is_the_diagonal_bilstm(tmp_path):
    """Bidirectional over a grid cell: the cell left to right, plus the cell right to left (over the mirrored
    grid, mirrored back) shifted down one row, as the Diagonal BiLSTM adds them; the network's output at a pixel
    still reads only the pixels before it."""
    import keras

    model = rnndsl.load(BIDIRECTIONAL).build("Both")
    layers = {layer.name: layer for layer in model.layers}
    x = np.random.default_rng(2).normal(size=(2, 5, 4, 1)).astype("float32")
    h = layers["h"](x)
    forward = layers["both_forward"](h).numpy()
    cell = layers["both_backward"].layer
    mirrored = cell(h.numpy()[:, :, ::-1]).numpy()[:, :, ::-1]
    backward = np.concatenate([np.zeros_like(mirrored[:, :1]), mirrored[:, :-1]], axis=1)
    np.testing.assert_allclose(layers["both"]([forward, layers["both_backward"](h)]).numpy(), forward + backward,
                               atol=1e-6)
    y = model(x).numpy()[0, :, :, 0]
    for p in (0, 5, 10, 19):
        changed = x.copy()
        changed[0, p // 4, p % 4, 0] += 3.0
        moved = np.abs(model(changed).numpy()[0, :, :, 0] - y).reshape(-1) > 1e-6
        assert not moved[:p + 1].any(), p
    model.save(tmp_path / "both.keras")
    np.testing.assert_array_equal(keras.saving.load_model(tmp_path / "both.keras")(x).numpy(), model(x).numpy())
    bad = BIDIRECTIONAL.replace("DiagonalLSTM(3)", "DiagonalLSTM(3, returns=last)")
    assert diagnostics(bad) == (
        "error[E0305]: a bidirectional grid cell gives its output at every position, not `returns=last`\n"
        "  --> spec.rnn:6:12\n   |\n 6 |     both = Bidirectional(DiagonalLSTM(3, returns=last), merge=sum)(h)\n"
        "   |            ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^ Bidirectional\n"
        "   = note: its second direction runs right to left and is shifted down a row: it has no last position of "
        "its own")


# ---------------------------------------------------------------- grid data

DIGITS = """network Pixels {
    input image: grid[8, 8, 1]
    h = MaskedConv2D(4, kernel=3, mask=A, activation=relu)(image)
    output Dense(1, activation=sigmoid)(MaskedConv2D(4, kernel=1, mask=B, activation=relu)(h))
    train {
        data = digits(form="grid", binarize=true, target="pixels", test=0.25)
        loss = binary_cross_entropy
        optimizer = adam(learning_rate=1e-2)
        batch = 64
        epochs = 2
    }
}
"""


def test_binarized_digits_as_grids_train_evaluate_and_predict(tmp_path, capsys):
    """`digits(form="grid", binarize=true, target="pixels")`: the 8 x 8 digits as grids of 0 and 1, each its
    own target (a model of the images, pixel by pixel); `rnndsl train`, `evaluate` and `predict` take them."""
    from rnndsl.cli import main
    from rnndsl.train.sources import load

    data = load("digits", {"form": "grid", "binarize": True, "target": "pixels", "test": 0.25}, base=tmp_path, seed=0)
    x, y = data.train.inputs[0], data.train.targets
    assert x.shape == (1348, 8, 8, 1) and set(np.unique(x)) == {0.0, 1.0} and (y == x).all()
    assert data.test.size == 449
    spec = tmp_path / "digits.rnn"
    spec.write_text(DIGITS, encoding="utf-8")
    assert main(["train", str(spec), "--out", str(tmp_path / "run")]) == 0
    assert main(["evaluate", str(tmp_path / "run")]) == 0
    np.savez(tmp_path / "x.npz", image=x[:3])
    predicted = tmp_path / "y.npz"
    assert main(["predict", str(tmp_path / "run"), "--data", str(tmp_path / "x.npz"), "-o", str(predicted)]) == 0
    with np.load(predicted) as found:
        assert found["outputs"].shape == (3, 8, 8, 1)
    capsys.readouterr()
    sheet = tmp_path / "samples.png"
    assert main(["predict", str(tmp_path / "run"), "--sample", "4", "-o", str(sheet)]) == 0
    assert capsys.readouterr().out == f"wrote {sheet}: 4 images drawn pixel by pixel\n"
    import matplotlib.pyplot as plt

    drawn = plt.imread(sheet)  # 2 x 2 images of 8 x 8 pixels and a pixel of gap, each pixel 4 x 4
    assert drawn.shape[:2] == (4 * (2 * 9 + 1), 4 * (2 * 9 + 1))
    for args, message in (
            (["--sample", "4", "-o", str(tmp_path / "s.npz")], f"--sample writes a .png image; `{tmp_path / 's.npz'}` "
                                                                "does not end in .png"),
            (["--sample", "4", "--data", str(tmp_path / "x.npz"), "-o", str(sheet)],
             "--sample draws images from the model alone: give no --data"),
            (["--sample", "0", "-o", str(sheet)], "--sample draws 1 to 1024 images, not 0"),
            (["-o", str(predicted)], "predict reads its inputs from --data IN.npz (or draws images with --sample N)")):
        assert main(["predict", str(tmp_path / "run"), *args]) == 2
        assert capsys.readouterr().err == f"error: {message}\n"
    bad = DIGITS.replace('form="grid", ', "")
    assert diagnostics(bad) == (
        'error[E0806]: `digits`: `target="pixels"` models the images pixel by pixel, as grids: give `form="grid"` '
        'too\n  --> spec.rnn:6:16\n   |\n 6 |         data = digits(binarize=true, target="pixels", test=0.25)\n'
        "   |                ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^")


def test_sampling_needs_a_model_of_images():
    import keras

    from rnndsl.lang.errors import UsageError
    from rnndsl.train.sampling import sample_images

    x = keras.Input((3,))
    vector = keras.Model(x, keras.layers.Dense(2)(x))
    with pytest.raises(UsageError, match=r"^error: --sample draws images from a model of one grid input of one "
                                         r"channel, grid\[H, W, 1\]; this model's inputs are \(3,\)$"):
        sample_images(vector, 2)
    image = keras.Input((4, 4, 1))
    pooled = keras.Model(image, keras.layers.Dense(2)(keras.layers.Flatten()(image)))
    with pytest.raises(UsageError, match=r"^error: --sample needs the model's output at every pixel, \(4, 4, K\); this "
                                         r"model gives \(2,\)$"):
        sample_images(pooled, 2)


def test_sampling_draws_each_pixel_from_a_softmax_over_levels():
    """A model whose output at every pixel is a softmax over 256 levels (level k is the intensity k / 255):
    `sample_images` draws each pixel from it. Here the model reads nothing (a 1 x 1 mask A convolution) and
    its biases put the mass on levels 51 and 204, half each: every pixel drawn is one of the two, and both
    come up about as often."""
    from rnndsl.train.sampling import sample_images

    model = rnndsl.load("""network Levels {
    input image: grid[3, 4, 1]
    output Dense(256, activation=softmax)(MaskedConv2D(2, kernel=1, mask=A)(image))
}
""").build("Levels")
    dense = model.layers[-1]
    bias = np.full(256, -30.0, "float32")
    bias[[51, 204]] = 0.0
    dense.set_weights([np.zeros_like(dense.get_weights()[0]), bias])
    drawn = sample_images(model, 50, seed=1)
    assert drawn.shape == (50, 3, 4)
    assert set(np.round(np.unique(drawn) * 255).astype(int)) == {51, 204}
    assert 0.4 < np.mean(np.isclose(drawn, 51 / 255)) < 0.6
