"""Vector literals (issue 16): `[1, -2, k]`, entries numbers or numeric hyperparameters, as a value in a cell's
equations and as the constant initial value of a parameter or a state (filling the last axis, each row alike)."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import checked, diagnostics

tf = pytest.importorskip("tensorflow")

SPEC = """cell V(n: int = 3, k: float = 2) {
    input x: [3]
    param c: [3] = [1, -2, k] fixed
    param P: [2, 3] = [0.5, 1, -1]
    state h: [3] = [0.5, 0, 0]
    state M: [2, 3] = [1, 0, 2]
    M[t] = M[t-1] * 0.5 + P
    h[t] = tanh(x[t] * [1, 0, n] + h[t-1] + c + [1, 1] @ M[t])
    output h
}
"""


def test_a_vector_is_a_constant_of_the_cell():
    from rnndsl.keras.cell import cell_rnn

    layer = cell_rnn(checked(SPEC), "V", input_dim=3, k=-1.5)
    x = np.random.default_rng(0).normal(size=(2, 4, 3)).astype("float32")
    got = np.asarray(layer(x))
    weights = layer.cell.weights_by_name
    np.testing.assert_array_equal(weights["c"].numpy(), [1, -2, -1.5])
    np.testing.assert_array_equal(weights["P"].numpy(), [[0.5, 1, -1], [0.5, 1, -1]])
    assert not weights["c"].trainable and weights["P"].trainable
    h, M, want = np.array([0.5, 0, 0]), np.array([[1.0, 0, 2], [1, 0, 2]]), []
    for t in range(4):
        M = M * 0.5 + weights["P"].numpy()
        h = np.tanh(x[:, t] * np.array([1, 0, 3]) + h + np.array([1, -2, -1.5]) + np.ones(2) @ M)
        want.append(h)
    np.testing.assert_allclose(got, np.stack(want, axis=1), rtol=1e-6, atol=1e-6)


def test_fmt_keeps_a_vector_and_latex_sets_it_as_a_column():
    from rnndsl.lang.fmt import format_text

    assert format_text(SPEC) == SPEC
    text = checked(SPEC).latex("V")
    assert r"\odot \begin{pmatrix}1 & 0 & n\end{pmatrix}^{\top}" in text


@pytest.mark.parametrize("line, message", [
    ("param c: [3] = [1, -2, x] fixed",
     "error[E0209]: a vector's entries are numbers or numeric hyperparameters"),
    ("param c: [3] = [1, 2 * k, 0] fixed",
     "error[E0209]: a vector's entries are numbers or numeric hyperparameters"),
    ("param c: [3] = [1, 2] fixed", "error[E0302]: a vector of 2 entries initialises `c`, whose last axis has 3"),
    ("param c: [n] = [1, 2, 3] fixed",
     "error[E0302]: a vector of 3 entries initialises `c`, whose last axis must then be written as the number 3"),
])
def test_what_a_vector_may_hold_and_fill(line, message):
    assert message in diagnostics(SPEC.replace("param c: [3] = [1, -2, k] fixed", line))


@pytest.mark.parametrize("declared, written", [
    ("state h: [3] = [0.5, 0, 0]", "state h = [3]"),
    ("param c: [3] = [1, -2, k] fixed", "param c = [3]"),
])
def test_a_shape_written_with_equals_is_told_apart(declared, written):
    name = written.split()[1]
    text = diagnostics(SPEC.replace(declared, written))
    assert f"error[E0302]: `{name}` has no shape, and a vector literal initialises it" in text
    assert f"= note: a shape is written with `:`: `{name}: [3]`" in text
