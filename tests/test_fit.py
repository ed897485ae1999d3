"""Closed-form fits (`fit hebbian`, `fit ridge`), associative recall to a fixed point, and `rnndsl fit`.

Each fit is compared with the formula written out in NumPy here; recall with
an independent NumPy run of the same update rule.
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import rnndsl  # noqa: E402
from helpers import diagnostics  # noqa: E402
from rnndsl.train import fit, recall as memory  # noqa: E402
from rnndsl.cli import main  # noqa: E402
from rnndsl.keras.cell import cell_rnn  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
STD = ROOT / "specs" / "std"
RNG = np.random.default_rng(11)


def _layer(file, cell, input_dim, **hparams):
    layer = cell_rnn(rnndsl.load(STD / file), cell, input_dim=input_dim, **hparams)
    layer(np.zeros((1, 1, input_dim), "float32"))
    return layer


def _bipolar(*shape):
    return RNG.choice([-1.0, 1.0], size=shape)


# ---------------------------------------------------------------- hebbian


def test_hopfield_stores_patterns_by_hebbs_rule():
    layer = _layer("hopfield.rnn", "Hopfield", 16, units=16)
    assert [v.name for v in layer.trainable_weights] == []  # fitted and fixed parameters are not trained
    X = _bipolar(3, 16)
    (done,) = fit.store(layer, {"s": X})
    assert str(done) == f"{layer.name}/W: hebbian, 3 patterns of `s`"
    want = sum(np.outer(x, x) for x in X) / 16
    np.fill_diagonal(want, 0)
    np.testing.assert_allclose(layer.cell.weights_by_name["W"].numpy(), want, atol=1e-7)


def test_bam_stores_pairs_through_one_matrix():
    layer = _layer("hopfield.rnn", "BAM", 0, n=8, m=5)
    X, Y = _bipolar(2, 8), _bipolar(2, 5)
    fit.store(layer, {"x": X, "y": Y})
    want = sum(np.outer(y, x) for x, y in zip(X, Y)) / 8  # hetero-association: no diagonal removed
    np.testing.assert_allclose(layer.cell.weights_by_name["W"].numpy(), want, atol=1e-7)
    recalled = memory.recall(layer, X, max_sweeps=10)
    assert recalled.converged.all() and np.array_equal(recalled.state, X)


def test_continuous_hopfield_stores_patterns_of_its_output():
    layer = _layer("hopfield.rnn", "ContinuousHopfield", 6, units=6)
    X = _bipolar(2, 6) * 0.9
    fit.store(layer, {"V": X})
    want = sum(np.outer(x, x) for x in X) / 6
    np.fill_diagonal(want, 0)
    np.testing.assert_allclose(layer.cell.weights_by_name["W"].numpy(), want, atol=1e-7)


def test_hebbian_data_errors():
    layer = _layer("hopfield.rnn", "BAM", 0, n=8, m=5)
    with pytest.raises(ValueError, match=r"^`fit hebbian` of `W` stores pairs of patterns of `x` and `y`: give `y`$"):
        fit.store(layer, {"x": _bipolar(2, 8)})
    with pytest.raises(ValueError, match=r"^patterns of `x` and `y` must be \(count, size\) arrays of one count, "
                                         r"given \(2, 8\) and \(3, 5\)$"):
        fit.store(layer, {"x": _bipolar(2, 8), "y": _bipolar(3, 5)})
    hopfield = _layer("hopfield.rnn", "Hopfield", 16, units=16)
    with pytest.raises(ValueError, match=r"^patterns give `W` the shape \(8, 8\); the layer has \(16, 16\)$"):
        fit.store(hopfield, {"s": _bipolar(2, 8)})


def test_hebbian_needs_one_product_into_a_state():
    program = rnndsl.load("""
        cell Two(n: int) {
            input x: [n]
            param W: [n, n] = 0 fit hebbian
            a[t] = tanh(W @ x[t] + W @ a[t-1])
            output a
        }
    """)
    layer = cell_rnn(program, "Two", input_dim=3, n=3)
    layer(np.zeros((1, 1, 3), "float32"))
    with pytest.raises(ValueError, match=r"^`fit hebbian` needs `W` in one product `W @ a` into a state, or into a "
                                         r"value that a state reads; found: `W @ a` into state `a`; `W @ x` into state `a`$"):
        fit.store(layer, {"a": np.ones((1, 3))})


# ---------------------------------------------------------------- recall


def _numpy_recall(W, probe, orders):
    """Hopfield's asynchronous rule, unit by unit in the given orders (one per sweep), in NumPy."""
    s = probe.copy()
    for order in orders:
        before = s.copy()
        for i in order:
            s[:, i] = np.where(s @ W[i] >= 0, 1.0, -1.0)
        if np.array_equal(before, s):
            break
    return s


def test_async_recall_matches_numpy_and_lowers_the_energy():
    N = 32
    layer = _layer("hopfield.rnn", "Hopfield", N, units=N)
    X = _bipolar(3, N)
    fit.store(layer, {"s": X})
    probe = X * np.where(RNG.random(X.shape) < 0.15, -1.0, 1.0)
    result = memory.recall(layer, probe, schedule="async", max_sweeps=20, seed=3)
    rng = np.random.default_rng(3)
    orders = [rng.permutation(N) for _ in range(result.sweeps)]
    W = layer.cell.weights_by_name["W"].numpy().astype(np.float64)
    np.testing.assert_array_equal(result.state, _numpy_recall(W, probe, orders))
    assert result.converged.all()
    energy = -0.5 * np.einsum("bi,ij,bj->b", result.state, W, result.state)
    np.testing.assert_allclose(result.energy[:, -1], energy, rtol=1e-5)
    assert np.all(np.diff(result.energy, axis=1) <= 1e-5)  # asynchronous updates never raise the energy


def test_stored_patterns_are_recalled_below_capacity():
    N, P = 100, 5  # 0.05 N, well below the capacity of about 0.138 N
    layer = _layer("hopfield.rnn", "Hopfield", N, units=N)
    X = _bipolar(P, N)
    fit.store(layer, {"s": X})
    probe = X * np.where(RNG.random(X.shape) < 0.1, -1.0, 1.0)
    for schedule in ("async", "sync"):
        result = memory.recall(layer, probe, schedule=schedule, max_sweeps=20)
        assert np.array_equal(result.state, X), schedule


def test_recall_errors():
    layer = _layer("lstm.rnn", "LSTM", 3, units=4)
    with pytest.raises(ValueError, match=r"^cell `LSTM` has 2 states; a memory recalls one$"):
        memory.recall(layer, np.ones((1, 4)))
    hopfield = _layer("hopfield.rnn", "Hopfield", 4, units=4)
    with pytest.raises(ValueError, match=r"^schedule must be one of sync, async, not 'random'$"):
        memory.recall(hopfield, np.ones((1, 4)), schedule="random")


# ---------------------------------------------------------------- ridge


def test_ridge_readout_is_the_regularized_least_squares_fit():
    layer = _layer("esn.rnn", "ESNReadout", 2, units=12, out=3, ridge_alpha=1e-3)
    x = RNG.normal(size=(2, 30, 2)).astype("float32")
    y = RNG.normal(size=(2, 30, 3))
    (done,) = fit.ridge(layer, x, y, washout=5)
    assert str(done).startswith(f"{layer.name}/W_out and b_out: ridge (alpha 0.001), 50 steps of `z`")
    # the reservoir states, from an independent NumPy run of the ESN equations
    w = {k: v.numpy().astype(np.float64) for k, v in layer.cell.weights_by_name.items()}
    h = np.zeros((2, 12))
    zs = []
    for t in range(30):
        h = np.tanh(x[:, t] @ w["W_in"].T + h @ w["W"].T)  # leak = 1
        zs.append(np.concatenate([x[:, t], h, np.ones((2, 1))], axis=1))
    Z = np.stack(zs, axis=1)[:, 5:].reshape(-1, 15)
    Y = y[:, 5:].reshape(-1, 3)
    solution = np.linalg.solve(Z.T @ Z + 1e-3 * np.eye(15), Z.T @ Y).T
    # the layer's reservoir runs in float32: its states, and so the solution, agree to about 1e-5 relative
    np.testing.assert_allclose(w["W_out"], solution[:, :14], rtol=1e-3, atol=2e-4)
    np.testing.assert_allclose(w["b_out"], solution[:, 14], rtol=1e-3, atol=2e-4)
    np.testing.assert_allclose(np.asarray(layer(x))[:, 5:].reshape(-1, 3), Z @ solution.T, rtol=1e-4, atol=1e-4)


def test_ridge_needs_a_readout_fed_from_outside_the_output():
    program = rnndsl.load("""
        cell Feedback(n: int) {
            input x: [n]
            param W_out: [n, n] = 0 fit ridge
            h[t] = tanh(x[t] + y[t-1])
            y[t] = W_out @ h[t]
            output y
        }
        cell Squashed(n: int) {
            input x: [n]
            param W_out: [n, n] = 0 fit ridge
            y[t] = tanh(W_out @ x[t])
            output y
        }
    """)
    with pytest.raises(ValueError, match=r"^`fit ridge` of `W_out`: the readout's input `h` depends on the output "
                                         r"`y`; feed the output back as an input instead"):
        fit.ridge_roles(program.graph("Feedback"))
    with pytest.raises(ValueError, match=r"^`fit ridge` needs the output's equation to be `y\[t\] = P @ z\[t\]` or "
                                         r"`P @ z\[t\] \+ b`, with P \(and b\) the parameters that are `fit ridge`: W_out$"):
        fit.ridge_roles(program.graph("Squashed"))


# ---------------------------------------------------------------- the language and the command


def test_an_unknown_fit_is_a_diagnostic():
    assert diagnostics("""
cell A(n: int) {
    input x: [n]
    param W: [n, n] fit hebian
    h[t] = tanh(W @ x[t] + h[t-1])
    output h
}
""") == """\
error[E0210]: unknown fit `hebian`
  --> spec.rnn:3:25
   |
 3 |     param W: [n, n] fit hebian
   |                         ^^^^^^ not a closed-form fit
   = note: did you mean `hebbian`?
   = note: fits are hebbian, ridge"""


def test_fit_command(tmp_path, capsys):
    X = _bipolar(4, 200)
    np.savez(tmp_path / "patterns.npz", s=X)
    out = tmp_path / "memory.keras"
    assert main(["fit", str(ROOT / "examples" / "hopfield.rnn"), "--data", str(tmp_path / "patterns.npz"),
                 "-o", str(out)]) == 0
    assert "fitted hopfield_1/W: hebbian, 4 patterns of `s`" in capsys.readouterr().out
    import keras

    model = keras.saving.load_model(out)
    W = model.get_layer("hopfield_1").cell.weights_by_name["W"].numpy()
    assert np.allclose(W, W.T) and np.allclose(np.diag(W), 0) and not np.allclose(W, 0)
    np.savez(tmp_path / "series.npz", series=np.zeros((1, 20, 1)))
    assert main(["fit", str(ROOT / "examples" / "mackey_glass.rnn"), "--set", "units=10",
                 "--data", str(tmp_path / "series.npz"), "-o", str(out)]) == 1
    assert capsys.readouterr().err.strip() == (f"error[E0701]: {tmp_path / 'series.npz'}: layer `esnreadout_1` has a "
                                               "ridge readout: give its `targets`")
    assert main(["fit", str(ROOT / "examples" / "tagger.rnn"), "--data", str(tmp_path / "series.npz"),
                 "-o", str(out)]) == 1
    assert capsys.readouterr().err.strip() == ("error[E0701]: `Tagger` has no parameter declared `fit`: "
                                               "nothing to fit")
    assert main(["fit", str(ROOT / "examples" / "hopfield.rnn"), "--data", str(tmp_path / "none.npz"),
                 "-o", str(out)]) == 2
    assert capsys.readouterr().err.startswith(f"error: cannot read {tmp_path / 'none.npz'}: ")
