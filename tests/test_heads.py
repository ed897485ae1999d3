"""A cell's heads (issue 16): `heads reads` makes every parameter or state whose shape begins with `reads` one
value per head, written once; what is computed from such values is computed per head, and `stack_heads` reads
the heads together. The lowered cell equals a NumPy loop over the heads, in values and gradients; each head is
initialised on its own; the errors name what is wrong."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import checked, diagnostics, float64_layer, gradient_matches_reference

tf = pytest.importorskip("tensorflow")

SPEC = """cell ReadHeads(units: int = 4, width: int = 3, slots: int = 5, reads: int = 2) {
    heads reads
    input x: [units]
    param W_k: [reads, width, units]
    param b_k: [reads, width] = 0.1
    param g: [reads] = 0.5
    param M: [slots, width]
    param W_s: [slots, units]
    param W_r: [units, reads*width]
    state r: [reads, width]
    k[t] = tanh(W_k @ x[t] + b_k)
    w[t] = softmax(M @ k[t] + cosine(M, W_k @ x[t]))
    s[t] = where(W_s @ x[t] > 0, w[t], 0.5 * w[t])
    r[t] = s[t] @ M + g * r[t-1]
    q[t] = sum(stack_heads(transpose(W_k) @ b_k), axis=0)
    h[t] = tanh(x[t] + W_r @ flatten(stack_heads(r[t])) + q[t])
    output h
}
"""


def read_heads(p, xs):
    """h `(steps, units)` of one sequence `(steps, units)`, head by head: head i's parameters are `p[name][i]`."""
    reads, width = p["W_k"].shape[:2]
    r = np.zeros((reads, width))
    out = []
    for x in xs:
        new_r = np.zeros_like(r)
        q = sum(p["W_k"][i].T @ p["b_k"][i] for i in range(reads))
        for i in range(reads):
            k = np.tanh(p["W_k"][i] @ x + p["b_k"][i])
            key = p["W_k"][i] @ x
            cos = p["M"] @ key / np.maximum(np.linalg.norm(p["M"], axis=1) * np.linalg.norm(key), 1e-8)
            z = p["M"] @ k + cos
            w = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
            s = np.where(p["W_s"] @ x > 0, w, 0.5 * w)
            new_r[i] = s @ p["M"] + p["g"][i] * r[i]
        r = new_r
        out.append(np.tanh(x + p["W_r"] @ r.ravel() + q))
    return np.stack(out)


def test_heads_are_an_axis_of_the_ir():
    from rnndsl.lang.irprint import print_ir

    text = print_ir(checked(SPEC).graphs["ReadHeads"])
    assert text.splitlines()[0].endswith("over time heads reads")
    for line in ["param W_k : heads [reads, width, units]", "param M : [slots, width]",
                 "value w : heads [reads, slots]", "value r : heads [reads, width], state, delay 1, init 0",
                 "value h : [units]", "= stack_heads(%"]:
        assert line in text, line
    assert "param W_r : [units, reads*width]" in text


def test_the_lowered_heads_are_a_loop_over_the_heads(tmp_path):
    path = tmp_path / "heads.rnn"
    path.write_text(SPEC)
    layer, weights = float64_layer(path, "ReadHeads", 4, {}, seed=0)
    xs = np.random.default_rng(1).normal(size=(3, 5, 4))
    got = np.asarray(layer(xs))
    params = {n: np.array(w.numpy()) for n, w in weights.items()}
    for b in range(3):
        np.testing.assert_allclose(got[b], read_heads(params, xs[b]), rtol=1e-10, atol=1e-12)
    gradient_matches_reference(layer, weights, xs[:2], read_heads, seed=2)  # W_s only decides: no gradient


def test_each_head_is_initialised_on_its_own():
    from rnndsl.keras.cell import cell_rnn

    layer = cell_rnn(checked(SPEC), "ReadHeads", input_dim=40, units=40, width=30, reads=3)
    layer.build((None, None, 40))
    W = layer.cell.weights_by_name["W_k"].numpy()
    assert W.shape == (3, 30, 40)
    limit = np.sqrt(6 / (30 + 40))  # Glorot uniform of one head's [30, 40], not of [3, 30, 40]
    assert np.abs(W).max() <= limit and np.abs(W).max() > 0.9 * limit
    assert not np.allclose(W[0], W[1]) and not np.allclose(W[1], W[2])
    np.testing.assert_allclose(layer.cell.weights_by_name["b_k"].numpy(), np.full((3, 30), 0.1), rtol=1e-7)


def test_a_cell_with_heads_trains_under_xla():
    """The heads are repeated by broadcasting, not by `broadcast_to` a shape made of the batch size, whose
    gradient XLA cannot compile inside the loop."""
    import keras

    from rnndsl.keras.cell import cell_rnn

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((None, 4)), cell_rnn(checked(SPEC), "ReadHeads", input_dim=4)])
    model.compile(optimizer="adam", loss="mse", jit_compile=True)
    x = np.random.default_rng(0).normal(size=(8, 5, 4)).astype("float32")

    def batches():
        for i in range(0, 8, 4):
            yield x[i:i + 4], np.tanh(x[i:i + 4])

    # batches of any size and length, as `rnndsl train` draws them: the batch size is a tensor, not a number
    spec = tf.TensorSpec((None, None, 4), "float32")
    data = tf.data.Dataset.from_generator(batches, output_signature=(spec, spec))
    losses = model.fit(data.repeat(), steps_per_epoch=2, epochs=4, shuffle=False, verbose=0).history["loss"]
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]


def test_a_model_with_heads_saves_and_reloads(tmp_path):
    import keras

    from rnndsl.keras.cell import cell_rnn

    layer = cell_rnn(checked(SPEC), "ReadHeads", input_dim=4)
    model = keras.Sequential([keras.Input((5, 4)), layer])
    x = np.random.default_rng(0).normal(size=(2, 5, 4)).astype("float32")
    model.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(np.asarray(again(x)), np.asarray(model(x)), rtol=1e-6)


def test_fmt_keeps_the_heads_statement():
    from rnndsl.lang.fmt import format_text

    assert format_text(SPEC) == SPEC


CELL = """cell C(n: int = 3, reads: int = 2, rate: float = 0.5) {{
{body}
    input x: [n]
    param W: [reads, n, n]
    output h
}}
"""


@pytest.mark.parametrize("body, message", [
    ("    head reads\n    h[t] = tanh(x[t])",
     "error[E0234]: unknown statement `head reads`"),
    ("    heads rate\n    h[t] = tanh(x[t])",
     "error[E0206]: `heads rate`: `rate` is not an int hyperparameter of `C`"),
    ("    heads count\n    h[t] = tanh(x[t])",
     "error[E0206]: `heads count`: `count` is not an int hyperparameter of `C`"),
    ("    heads reads\n    heads n\n    h[t] = tanh(x[t])",
     "error[E0204]: a cell has one `heads` statement"),
    ("    h[t] = tanh(sum(stack_heads(W @ x[t]), axis=0))",
     "error[E0301]: `stack_heads` in a cell without heads"),
    ("    heads reads\n    h[t] = tanh(sum(stack_heads(x[t]), axis=0))",
     "error[E0301]: `stack_heads` reads a value with heads, and this one is the same for every head"),
    ("    heads reads\n    h[t] = tanh(W @ x[t] + h[t-1])",
     "error[E0302]: `h` is a state with heads: a state with heads must be declared"),
    ("    heads reads\n    state h: [reads, n]\n    h[t] = tanh(x[t]) + sum(stack_heads(h[t-1]), axis=0)",
     "error[E0302]: `h` is declared with heads ([reads, ...]), but its equation gives one value for all heads"),
])
def test_what_heads_may_be(body, message):
    assert message in diagnostics(CELL.format(body=body))


@pytest.mark.parametrize("line, note", [
    ("ouptut h", "= note: did you mean `output`?"),
    ("head h", "= note: did you mean `heads`?"),
    ("count h", "= note: a cell's heads are counted by `heads NAME`, NAME an int hyperparameter"),
])
def test_a_statement_of_two_words_is_heads_or_output(line, note):
    text = diagnostics(f"cell C(n: int = 3) {{\n    input x: [n]\n    h[t] = tanh(x[t])\n    {line}\n"
                       "    output h\n}\n")
    assert f"error[E0234]: unknown statement `{line}`" in text and note in text


def test_a_tree_cell_has_no_heads():
    text = diagnostics("""cell T(n: int = 3, reads: int = 2) over tree {
    heads reads
    input x: [n]
    h[t] = tanh(x[t] + sum(h[children]))
    output h
}
""")
    assert "error[E0206]: a cell over a tree has no heads" in text


def test_diagrams_and_latex_show_the_heads():
    from rnndsl.draw.render import render_cell

    program = checked(SPEC)
    dot = render_cell(program.graphs["ReadHeads"]).source
    assert "×reads [width, units]" in dot  # W_k: one [width, units] matrix per head
    assert "×reads [width]" in dot and "×reads [slots]" in dot
    assert "[slots, width]" in dot  # M, shared by the heads
    text = program.latex("ReadHeads")
    assert r"\mathbf{k}_t^{(i)} &= \tanh(\mathbf{W}_k^{(i)} \mathbf{x}_t + \mathbf{b}_k^{(i)})" in text
    assert r"\mathbf{W}_k^{(i)} \in \mathbb{R}^{\mathrm{width} \times \mathrm{units}}" in text
    assert r"$i = 1, \dots, \mathrm{reads}$ counts the heads" in text
    assert r"\operatorname{vec} \left[\mathbf{r}_t^{(i)}\right]_{i}" in text


@pytest.mark.parametrize("hoist, fuse", [("always", "always"), ("never", "never"), ("always", "never")])
def test_every_plan_of_a_cell_with_heads_computes_the_same(hoist, fuse):
    """Work hoisted out of the loop (`W_k @ x[t]`, for every step at once) and sibling matmuls run as one (the
    rows of `W_k` with those of other parameters) give what the loop over the heads gives."""
    from rnndsl.keras.cell import cell_rnn

    spec = SPEC.replace("h[t] = tanh(x[t] + W_r", "u[t] = W_u @ h[t-1]\n    h[t] = tanh(x[t] + W_r").replace(
        "k[t] = tanh(W_k @ x[t] + b_k)", "k[t] = tanh(W_k @ x[t] + b_k + W_h @ h[t-1] + u[t])").replace(
        "param M: [slots, width]", "param M: [slots, width]\n    param W_h: [reads, width, units]\n"
        "    param W_u: [width, units]")
    program = checked(spec)
    x = np.random.default_rng(3).normal(size=(2, 5, 4)).astype("float32")
    found = []
    for plan in [("never", "never"), (hoist, fuse)]:
        import keras

        keras.utils.set_random_seed(0)
        layer = cell_rnn(program, "ReadHeads", input_dim=4, hoist=plan[0], fuse=plan[1])
        found.append(np.asarray(layer(x)))
    np.testing.assert_allclose(found[1], found[0], rtol=1e-5, atol=1e-6)


def test_norm_constraints_hold_per_head():
    import keras

    from rnndsl.keras.cell import cell_rnn

    spec = SPEC.replace("param W_k: [reads, width, units]", "param W_k: [reads, width, units] constrain unit_norm")
    layer = cell_rnn(checked(spec), "ReadHeads", input_dim=4)
    model = keras.Sequential([keras.Input((5, 4)), layer])
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
    x = np.random.default_rng(0).normal(size=(4, 5, 4)).astype("float32")
    model.train_on_batch(x, np.tanh(x))
    W = layer.cell.weights_by_name["W_k"].numpy()
    np.testing.assert_allclose(np.linalg.norm(W, axis=1), np.ones((2, 4)), rtol=1e-5)  # each head's columns
