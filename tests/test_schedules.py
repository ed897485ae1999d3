"""Time scales in a cell: the step's number `t` as a value, `mod`, and equations on a schedule (`every k`,
`when c`): what they compute (against NumPy written here from the docs' definitions), the count carried
across calls, RTRL through them, how fmt, LaTeX and diagrams write them, and their diagnostics by text.
The clockwork RNN against its paper's equations is in tests/test_reference.py."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from helpers import checked, diagnostics  # noqa: E402

DIAGNOSTICS = {
    'percent': (
        'cell A(u: int) {\n    input x: [u]\n    h[t] = x[t] * (t % 4)\n    output h\n}\n',
        'error[E0118]: `%` is not an operator\n  --> spec.rnn:3:22\n   |\n 3 |     h[t] = x[t] * (t % 4)\n   |                      ^ write `mod(a, b)` for a remainder\n   = note: `mod(t, 4) == 0` holds at every fourth step'),
    'step_in_continuous_time': (
        'cell C(u: int) solver euler(0.1) {\n    input x: [u]\n    d/dt y = -y + x * t\n    output y\n}\n',
        "error[E0219]: `t` is the number of a step, and this cell runs in continuous time\n  --> spec.rnn:3:23\n   |\n 3 |     d/dt y = -y + x * t\n   |                       ^ a cell with `d/dt` has no steps of its own\n   = note: its solver's steps are not the sequence's: `d/dt y` is integrated between the inputs"),
    'every_on_a_tree': (
        'cell T(u: int) over tree {\n    input x: [u]\n    h[n] = tanh(x[n] + sum(h[k] for k in children(n))) every 2\n    output h\n}\n',
        'error[E0235]: `every` schedules the steps of a cell over time\n  --> spec.rnn:3:56\n   |\n 3 |     h[n] = tanh(x[n] + sum(h[k] for k in children(n))) every 2\n   |                                                        ^^^^^^^ a cell over tree computes every value at every node'),
    'every_in_continuous_time': (
        'cell C(u: int) solver euler(0.1) {\n    input x: [u]\n    d/dt y = -y + x\n    z[t] = tanh(y) every 2\n    output z\n}\n',
        'error[E0235]: `every` schedules the steps of a cell, and this cell runs in continuous time\n  --> spec.rnn:4:20\n   |\n 4 |     z[t] = tanh(y) every 2\n   |                    ^^^^^^^ a cell with `d/dt` integrates between the inputs'),
    'every_on_split': (
        'cell S(u: int) {\n    input x: [u]\n    a[t], b[t] = split(x[t] + a[t-1], 2) every 2\n    output a\n}\n',
        'error[E0235]: `every` holds one value, and this equation defines 2\n  --> spec.rnn:3:42\n   |\n 3 |     a[t], b[t] = split(x[t] + a[t-1], 2) every 2\n   |                                          ^^^^^^^ a schedule on `split`\n   = note: schedule the equations that read the pieces'),
    'every_a_fraction': (
        'cell A(u: int) {\n    input x: [u]\n    h[t] = tanh(x[t] + h[t-1]) every 2.5\n    output h\n}\n',
        'error[E0235]: `every` takes a number of steps\n  --> spec.rnn:3:38\n   |\n 3 |     h[t] = tanh(x[t] + h[t-1]) every 2.5\n   |                                      ^^^ a positive integer, or an int hyperparameter\n   = note: `h[t] = ... every 4` is computed at t = 4, 8, 12, ...; `when` takes a condition: `h[t] = ... when c[t] > 0`'),
    'every_a_value': (
        'cell A(u: int) {\n    input x: [u]\n    h[t] = tanh(x[t] + h[t-1]) every x[t]\n    output h\n}\n',
        'error[E0235]: `every` takes a number of steps\n  --> spec.rnn:3:38\n   |\n 3 |     h[t] = tanh(x[t] + h[t-1]) every x[t]\n   |                                      ^^^^ a positive integer, or an int hyperparameter\n   = note: `h[t] = ... every 4` is computed at t = 4, 8, 12, ...; `when` takes a condition: `h[t] = ... when c[t] > 0`'),
    'every_a_float_hyperparameter': (
        'cell A(u: int, k: float = 2.0) {\n    input x: [u]\n    h[t] = tanh(x[t] + h[t-1]) every k\n    output h\n}\n',
        'error[E0235]: `every` takes a number of steps\n  --> spec.rnn:3:38\n   |\n 3 |     h[t] = tanh(x[t] + h[t-1]) every k\n   |                                      ^ a positive integer, or an int hyperparameter\n   = note: `h[t] = ... every 4` is computed at t = 4, 8, 12, ...; `when` takes a condition: `h[t] = ... when c[t] > 0`'),
    'when_of_another_shape': (
        'cell A(u: int) {\n    input x: [u]\n    param W: [3, u]\n    h[t] = tanh(x[t] + h[t-1]) when W @ x[t] > 0\n    output h\n}\n',
        'error[E0302]: shape mismatch in the schedule `when`: [3] vs [u]\n  --> spec.rnn:4:12\n   |\n 4 |     h[t] = tanh(x[t] + h[t-1]) when W @ x[t] > 0\n   |            ^^^^^^^^^^^^^^^^^^^ [u]\n  --> spec.rnn:4:37\n   |\n 4 |     h[t] = tanh(x[t] + h[t-1]) when W @ x[t] > 0\n   |                                     ^^^^^^^^^^^^ [3]'),
    'when_unknown_name': (
        'cell A(u: int) {\n    input x: [u]\n    h[t] = tanh(x[t] + h[t-1]) when gate[t] > 0\n    output h\n}\n',
        'error[E0201]: unknown value `gate`\n  --> spec.rnn:3:37\n   |\n 3 |     h[t] = tanh(x[t] + h[t-1]) when gate[t] > 0\n   |                                     ^^^^ no input or equation defines it'),
    'own_schedule_in_a_block': (
        'cell A(u: int) {\n    input x: [u]\n    every 2 {\n        h[t] = tanh(x[t] + h[t-1]) when sum(x[t]) > 0\n    }\n'
        '    output h\n}\n',
        "error[E0235]: an equation in an `every` block is computed on the block's schedule\n  --> spec.rnn:4:36\n   |\n 4 |         h[t] = tanh(x[t] + h[t-1]) when sum(x[t]) > 0\n   |                                    ^^^^^^^^^^^^^^^^^^ a schedule of its own\n   = note: write the equation after the block's `}`, with its `when`"),
    # a block's schedule is checked once, whatever the number of its equations
    'a_block_on_a_tree': (
        'cell T(u: int) over tree {\n    input x: [u]\n    every 2 {\n        h[n] = tanh(x[n] + sum(h[k] for k in children(n)))\n'
        '        y[n] = h[n]\n    }\n    output y\n}\n',
        'error[E0235]: `every` schedules the steps of a cell over time\n  --> spec.rnn:3:5\n   |\n 3 |     every 2 {\n   |     ^^^^^^^ a cell over tree computes every value at every node'),
    'a_block_every_fraction': (
        'cell A(u: int) {\n    input x: [u]\n    every 2.5 {\n        h[t] = tanh(x[t] + h[t-1])\n        y[t] = h[t] * 2\n    }\n'
        '    output y\n}\n',
        'error[E0235]: `every` takes a number of steps\n  --> spec.rnn:3:11\n   |\n 3 |     every 2.5 {\n   |           ^^^ a positive integer, or an int hyperparameter\n   = note: `h[t] = ... every 4` is computed at t = 4, 8, 12, ...; `when` takes a condition: `h[t] = ... when c[t] > 0`'),
    'a_block_with_split': (
        'cell S(u: int) {\n    input x: [u]\n    every 2 {\n        a[t], b[t] = split(x[t] + a[t-1], 2)\n    }\n    output a\n}\n',
        'error[E0235]: `every` holds one value, and this equation defines 2\n  --> spec.rnn:4:9\n   |\n 4 |         a[t], b[t] = split(x[t] + a[t-1], 2)\n   |         ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^ a schedule on `split`\n   = note: write the `split` before the block: the equations in it that read the pieces are computed on its schedule'),
    'a_block_in_continuous_time': (
        'cell C(u: int) solver euler(0.1) {\n    input x: [u]\n    d/dt y = -y + x\n    when sum(x) > 0 {\n        z[t] = tanh(y)\n'
        '        w[t] = z[t]\n    }\n    output w\n}\n',
        'error[E0235]: `when` schedules the steps of a cell, and this cell runs in continuous time\n  --> spec.rnn:4:5\n   |\n 4 |     when sum(x) > 0 {\n   |     ^^^^^^^^^^^^^^^ a cell with `d/dt` integrates between the inputs'),
    'a_block_when_unknown_name': (
        'cell A(u: int) {\n    input x: [u]\n    when gate[t] > 0 {\n        h[t] = tanh(x[t] + h[t-1])\n        y[t] = h[t]\n    }\n'
        '    output y\n}\n',
        'error[E0201]: unknown value `gate`\n  --> spec.rnn:3:10\n   |\n 3 |     when gate[t] > 0 {\n   |          ^^^^ no input or equation defines it'),
}


@pytest.mark.parametrize("name", sorted(DIAGNOSTICS))
def test_schedule_diagnostics(name):
    spec, want = DIAGNOSTICS[name]
    assert diagnostics(spec) == want


# A fast layer every step and a slow one every k steps; an event-driven value; the step number as output.
TWO_RATES = """
cell TwoRates(units: int, k: int = 3) {
    input x: [in]
    param W: [units, in] ~ glorot_uniform
    param U: [units, units] ~ orthogonal
    param V: [units, units] ~ orthogonal
    fast[t] = tanh(W @ x[t] + U @ fast[t-1] + V @ slow[t-1])
    slow[t] = tanh(V @ fast[t] + U @ slow[t-1]) every k
    g[t] = tanh(W @ x[t]) when sum(x[t]) > 0
    y[t] = fast[t] + slow[t] + g[t] + 0.01 * t
    output y
}
"""


def two_rates_reference(W, U, V, x, k, start=0):
    """The equations above in NumPy, from the step count `start`: (batch, T, units)."""
    batch, steps, _ = x.shape
    fast = slow = g = np.zeros((batch, W.shape[0]))
    ys = []
    for step in range(steps):
        t = start + step + 1
        xt = x[:, step]
        fast_new = np.tanh(xt @ W.T + fast @ U.T + slow @ V.T)
        slow = np.tanh(fast_new @ V.T + slow @ U.T) if t % k == 0 else slow
        g = np.where(xt.sum(-1, keepdims=True) > 0, np.tanh(xt @ W.T), g)
        fast = fast_new
        ys.append(fast + slow + g + 0.01 * t)
    return np.stack(ys, axis=1)


def _layer(dtype: str = "float32", **options):
    """TwoRates(units=4) on 3 inputs, a GeneratedRNN giving sequences (and `options`: return_state)."""
    from rnndsl.keras.cell import GeneratedCell, GeneratedRNN, cell_source

    cell = GeneratedCell(cell_source(checked(TWO_RATES), "TwoRates"), "TwoRates", 3, {"units": 4}, dtype=dtype)
    return GeneratedRNN(cell, return_sequences=True, dtype=dtype, **options)


def _weights(layer) -> dict:
    return {name: np.asarray(w, dtype=np.float64) for name, w in layer.cell.weights_by_name.items()}


def test_a_schedule_updates_at_its_steps_and_holds_between():
    layer = _layer()
    x = np.random.default_rng(0).normal(size=(2, 10, 3)).astype("float32")
    got = np.asarray(layer(x))
    w = _weights(layer)
    np.testing.assert_allclose(got, two_rates_reference(w["W"], w["U"], w["V"], x, k=3), atol=2e-6)
    assert list(layer.cell.state_shapes) == ["fast", "slow", "g", "t"]  # the count after the cell's own


def test_the_step_count_goes_on_across_calls_as_truncated_bptt_carries_it():
    layer = _layer(return_state=True)
    x = np.random.default_rng(1).normal(size=(2, 10, 3)).astype("float32")
    whole, *_ = layer(x)
    first, *states = layer(x[:, :4])
    np.testing.assert_array_equal(np.asarray(states[-1]), [4.0, 4.0])  # `t` after 4 steps, a scalar per sequence
    second, *_ = layer(x[:, 4:], initial_state=states)
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), whole, atol=1e-6)


def test_a_given_step_count_starts_the_schedule_there():
    layer = _layer(return_state=True)
    x = np.random.default_rng(2).normal(size=(2, 6, 3)).astype("float32")
    layer(x)
    w = _weights(layer)
    zeros = np.zeros((2, 4), "float32")
    out, *_ = layer(x, initial_state=[zeros, zeros, zeros, np.full((2, 1), 7.0, "float32")])
    np.testing.assert_allclose(out, two_rates_reference(w["W"], w["U"], w["V"], x, k=3, start=7), atol=2e-6)


def test_rtrl_through_a_schedule_and_the_step_count_equals_bptt():
    import tensorflow as tf

    from rnndsl.train.rtrl import rtrl_gradients

    layer = _layer(dtype="float64")
    x = np.random.default_rng(3).normal(size=(2, 7, 3))
    y = np.random.default_rng(4).normal(size=(2, 7, 4))
    layer(x)

    def loss(y_true, y_pred):
        return tf.reduce_sum((y_true - y_pred) ** 2, axis=-1)

    with tf.GradientTape() as tape:
        total = tf.reduce_sum(tf.reduce_mean(loss(y, layer(x)), axis=0))
    bptt = tape.gradient(total, layer.trainable_weights)
    rtrl = rtrl_gradients(layer, x, y, loss)
    assert len(rtrl) == len(bptt) == 3
    for a, b in zip(rtrl, bptt):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-9, atol=1e-9)


def test_fmt_keeps_the_schedules():
    from rnndsl.lang.fmt import format_text

    text = TWO_RATES.lstrip()
    assert format_text(text) == text


def test_latex_writes_a_schedule_by_cases():
    from rnndsl.draw.latex import cell_equations

    latex = cell_equations(checked(TWO_RATES).graph("TwoRates"))
    assert ("\\mathbf{slow}_t &= \\begin{cases} \\tanh(\\mathbf{V} \\mathbf{fast}_t + \\mathbf{U} \\mathbf{slow}_{t-1}) "
            "& \\text{if } t \\bmod k = 0 \\\\ \\mathbf{slow}_{t-1} & \\text{otherwise} \\end{cases}") in latex
    assert "\\text{if } \\operatorname{sum}(\\mathbf{x}_t) > 0" in latex
    assert "0.01 t" in latex
    assert "t_t" not in latex  # the counter's own equation is not the user's


def test_a_diagram_notes_the_schedule_on_its_where(tmp_path):
    program = checked(TWO_RATES)
    for style in ("default", "paper"):
        program.render("TwoRates", tmp_path / f"{style}.dot", style=style)
        dot = (tmp_path / f"{style}.dot").read_text()
        assert "every k" in dot and "when" in dot, style
    # the step's number is drawn as `t`, not as a value at step t
    assert '\tt [label=<<I>t</I>> ' in (tmp_path / "paper.dot").read_text()


def test_mod_is_floored_as_python_writes_it():
    spec = """
cell M(u: int) {
    input x: [u]
    y[t] = mod(x[t], 3) + mod(-x[t], 3)
    output y
}
"""
    from rnndsl.keras.cell import cell_rnn

    layer = cell_rnn(checked(spec), "M", input_dim=4, u=4)
    x = np.array([[[-4.0, -1.0, 2.0, 7.0]]], "float32")
    np.testing.assert_array_equal(np.asarray(layer(x))[0, 0], np.mod(x[0, 0], 3) + np.mod(-x[0, 0], 3))


def test_a_cell_that_counts_its_steps_refuses_a_float_too_short_to_count_them():
    import keras

    from rnndsl.keras.cell import GeneratedCell, cell_source
    from rnndsl.lang.errors import UsageError

    policy = keras.mixed_precision.dtype_policy()
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    try:
        with pytest.raises(UsageError) as refused:
            GeneratedCell(cell_source(checked(TWO_RATES), "TwoRates"), "TwoRates", 3, {"units": 4})
    finally:
        keras.mixed_precision.set_dtype_policy(policy)
    assert str(refused.value) == (
        "error: cell `TwoRates` reads the step's number `t`, which it counts in its precision, float16 here, exact "
        "only up to step 2,048: compute the cell in float32 (train without --mixed-precision)")


def test_every_refuses_a_hyperparameter_under_one_step():
    from rnndsl.keras.cell import GeneratedCell, cell_source
    from rnndsl.lang.errors import UsageError

    with pytest.raises(UsageError) as refused:
        GeneratedCell(cell_source(checked(TWO_RATES), "TwoRates"), "TwoRates", 3, {"units": 4, "k": 0})
    assert str(refused.value) == ("error: cell `TwoRates` updates a value `every k` steps, and k = 0: a number of "
                                  "steps is at least 1")


# The same cell with its schedules on blocks: a block gives each of its equations its schedule.
TWO_RATES_IN_BLOCKS = """
cell TwoRates(units: int, k: int = 3) {
    input x: [in]
    param W: [units, in] ~ glorot_uniform
    param U: [units, units] ~ orthogonal
    param V: [units, units] ~ orthogonal
    fast[t] = tanh(W @ x[t] + U @ fast[t-1] + V @ slow[t-1])
    every k {  # the slow layer
        slow[t] = tanh(V @ fast[t] + U @ slow[t-1])
    }
    when sum(x[t]) > 0 {
        g[t] = tanh(W @ x[t])
    }
    y[t] = fast[t] + slow[t] + g[t] + 0.01 * t
    output y
}
"""


def test_a_schedule_block_is_its_equations_each_on_its_schedule():
    from rnndsl.lang.irprint import print_ir

    assert print_ir(checked(TWO_RATES_IN_BLOCKS).graph("TwoRates")) == print_ir(checked(TWO_RATES).graph("TwoRates"))


def test_a_block_of_several_equations_updates_them_together():
    from rnndsl.keras.cell import cell_rnn

    spec = """
cell Slow(units: int) {
    input x: [in]
    param W: [units, in] ~ glorot_uniform
    param U: [units, units] ~ orthogonal
    every 2 {
        c[t] = tanh(W @ x[t] + U @ c[t-1])
        h[t] = c[t] * h[t-1] + 1
    }
    output h
}
"""
    layer = cell_rnn(checked(spec), "Slow", input_dim=3, units=4)
    x = np.random.default_rng(5).normal(size=(2, 7, 3)).astype("float32")
    got = np.asarray(layer(x))
    W, U = (np.asarray(layer.cell.weights_by_name[n], np.float64) for n in "WU")
    c = h = np.zeros((2, 4))
    for step in range(7):
        if (step + 1) % 2 == 0:
            c = np.tanh(x[:, step] @ W.T + c @ U.T)
            h = c * h + 1
        np.testing.assert_allclose(got[:, step], h, atol=2e-6)


def test_fmt_writes_a_block_one_level_in_with_its_comments():
    from rnndsl.lang.fmt import format_text

    text = TWO_RATES_IN_BLOCKS.lstrip()
    assert format_text(text) == text
    messy = text.replace("    every k {  # the slow layer\n        slow", "    every   k {  # the slow layer\n  slow")
    messy = messy.replace("\n    }\n    when", "\n      }\n    when")
    assert format_text(messy) == text
    inner = text.replace("        g[t] = tanh(W @ x[t])\n", "        g[t] = tanh(W @ x[t])\n        # held otherwise\n")
    assert format_text(inner) == inner
