"""The fused-path predicate (pure, over the IR) and the fused Keras layers it selects."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import zipfile  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import rnndsl  # noqa: E402
from rnndsl.keras.fused import Fused, Generated, fused_path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
STD = ROOT / "specs" / "std"

LSTM_BODY = """
    input x: [in]
    param W_i, W_f, W_c, W_o: [units, in]
    param U_i, U_f, U_c, U_o: [units, units]
    param b_i, b_f, b_c, b_o: [units]
"""


def _decision(text, name="C"):
    return fused_path(rnndsl.load(text).graph(name))


def test_standard_library_decisions():
    program = rnndsl.load(STD / "cells.rnn")
    decisions = {n: str(fused_path(program.graph(n))) for n in program.cells}
    assert decisions["LSTM"] == "fused: keras.layers.LSTM"
    assert decisions["GRU"] == "fused: keras.layers.GRU"
    assert decisions["Elman"] == "fused: keras.layers.SimpleRNN"
    assert decisions["IndRNN"].startswith("generated: parameter `u` is constrained")
    assert decisions["ESN"].startswith("generated: parameter `W_in` is fixed")
    assert decisions["CTRNN"] == "generated: only discrete-time cells over sequences have a fused layer"
    assert decisions["Jordan"].startswith("generated: the equation of `y` is not that of keras.layers.SimpleRNN's "
                                          "template, `h[t] = tanh(W @ x[t] + U @ h[t-1] + b)`")


def test_equations_compare_up_to_renaming_and_commutativity():
    decision = _decision("""
        cell C(n: int) {
            input u: [in]
            param A, B, C, D: [n, in]
            param P, Q, R, S: [n, n]
            param a, b, c, d: [n]
            out[t] = sigmoid(R @ y[t-1] + C @ u[t] + c)
            inp[t] = sigmoid(a + A @ u[t] + P @ y[t-1])
            fgt[t] = sigmoid(B @ u[t] + Q @ y[t-1] + b)
            mem[t] = inp[t] * tanh(D @ u[t] + S @ y[t-1] + d) + mem[t-1] * fgt[t]
            y[t] = tanh(mem[t]) * out[t]
            output y
        }
    """)
    assert isinstance(decision, Fused) and decision.layer == "LSTM"
    assert decision.params == {"W_i": "A", "W_f": "B", "W_c": "D", "W_o": "C", "U_i": "P", "U_f": "Q",
                               "U_c": "S", "U_o": "R", "b_i": "a", "b_f": "b", "b_c": "d", "b_o": "c"}


def test_a_peephole_keeps_the_lstm_off_the_fused_path():
    decision = _decision("cell C(units: int) {" + LSTM_BODY + """
            param p: [units]
            i[t] = sigmoid(W_i @ x[t] + U_i @ h[t-1] + b_i + p * c[t-1])
            f[t] = sigmoid(W_f @ x[t] + U_f @ h[t-1] + b_f)
            g[t] = tanh(W_c @ x[t] + U_c @ h[t-1] + b_c)
            o[t] = sigmoid(W_o @ x[t] + U_o @ h[t-1] + b_o)
            c[t] = f[t] * c[t-1] + i[t] * g[t]
            h[t] = o[t] * tanh(c[t])
            output h
        }
    """)
    assert isinstance(decision, Generated)
    assert decision.reason == ("the equation of `c` is not that of keras.layers.LSTM's template, "
                               "`c[t] = f[t] * c[t-1] + i[t] * g[t]`")
    assert (decision.span.line, decision.span.column) == (12, 13)


def test_a_shared_parameter_does_not_match_two_roles():
    decision = _decision("""
        cell C(units: int) {
            input x: [in]
            param W: [units, in]
            param U: [units, units]
            h[t] = tanh(W @ x[t] + U @ h[t-1] + U @ h[t-1])
            output h
        }
    """)
    assert isinstance(decision, Generated)


def test_fused_false_forces_the_generated_cell():
    text = (STD / "elman.rnn").read_text().replace("cell Elman(units: int)", "cell C(units: int, fused: bool = false)")
    decision = _decision(text)
    assert isinstance(decision, Generated) and decision.reason == "the cell sets `fused = false`"


NETWORK = """
import "std/lstm.rnn"
import "std/gru.rnn"
import "std/elman.rnn"
network N(units: int = 6) {
    input x: seq[3]
    a = Bidirectional(LSTM(units), merge=sum)(x)
    b = a >> Stack(GRU(units), depth=2)
    output b >> Elman(units, returns=last)
}
"""


def test_fused_and_generated_models_give_the_same_outputs():
    from rnndsl.keras.cell import GeneratedCell
    from rnndsl.keras.fused_layer import fused_weights
    from rnndsl.keras.network import lower

    program = rnndsl.load(NETWORK)
    lowered = lower(program, "N")
    fast = lowered.model
    slow = program.build("N", fused=False)
    assert not any(isinstance(getattr(l, "cell", None), GeneratedCell) for l in fast._flatten_layers())
    x = np.random.default_rng(3).normal(size=(2, 5, 3)).astype("float32")
    fast(x), slow(x)
    paths = lowered.fused_paths
    for layer in slow._flatten_layers(include_self=False):
        cell = getattr(layer, "cell", None)
        if not isinstance(cell, GeneratedCell):
            continue
        target = fast.get_layer(layer.name) if layer.name in paths else None
        if target is None:  # inside a Bidirectional: forward_a / backward_a
            bidir = fast.get_layer(layer.path.split("/")[0])
            target = bidir.forward_layer if "forward" in layer.name else bidir.backward_layer
            key = layer.name.removeprefix("forward_").removeprefix("backward_")
        else:
            key = layer.name
        _, match = paths[key]
        target.set_weights(fused_weights(match, {n: v.numpy() for n, v in cell.weights_by_name.items()}))
    np.testing.assert_allclose(fast(x).numpy(), slow(x).numpy(), atol=1e-5)


def test_fused_layers_start_from_the_spec_initializers():
    program = rnndsl.load('import "std/lstm.rnn"\nnetwork N {\n    input x: seq[3]\n    output x >> LSTM(4)\n}\n')
    model = program.build("N")
    kernel, recurrent, bias = model.layers[-1].get_weights()
    np.testing.assert_array_equal(bias, [0] * 4 + [1] * 4 + [0] * 8)  # b_f = 1, the others 0
    # U_* ~ orthogonal: each gate's block of the recurrent kernel is orthogonal
    for g in range(4):
        block = recurrent[:, 4 * g:4 * g + 4]
        np.testing.assert_allclose(block.T @ block, np.eye(4), atol=1e-5)


def test_a_fused_model_loads_where_rnndsl_was_never_imported(tmp_path):
    """Every cell on the fused path: the saved model is plain Keras (its config names no rnndsl class), and a
    process that never imports rnndsl loads it and gives the same outputs."""
    import subprocess
    import sys

    model = rnndsl.load(NETWORK).build("N")
    x = np.random.default_rng(4).normal(size=(2, 5, 3)).astype("float32")
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", model.predict(x, verbose=0))
    model.save(tmp_path / "model.keras")
    with zipfile.ZipFile(tmp_path / "model.keras") as archive:
        assert "rnndsl" not in archive.read("config.json").decode()
    code = ("import sys, keras, numpy as np\n"
            f"model = keras.saving.load_model({str(tmp_path / 'model.keras')!r})\n"
            f"y = model.predict(np.load({str(tmp_path / 'x.npy')!r}), verbose=0)\n"
            "assert 'rnndsl' not in sys.modules\n"
            f"print(float(np.abs(y - np.load({str(tmp_path / 'y.npy')!r})).max()))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert float(done.stdout.strip().splitlines()[-1]) == 0.0


def test_the_initializers_a_fused_model_names():
    """After drawing, a fused layer names the built-in initializer its gates share, else Keras's default for
    that weight: the LSTM's biases (forget gate 1, the others 0) are drawn gate by gate, and named `zeros`."""
    model = rnndsl.load(NETWORK).build("N")
    lstm = model.get_layer("a").forward_layer.cell
    kinds = [type(i).__name__ for i in (lstm.kernel_initializer, lstm.recurrent_initializer, lstm.bias_initializer)]
    assert kinds == ["GlorotUniform", "Orthogonal", "Zeros"], kinds
    units = lstm.units
    np.testing.assert_array_equal(lstm.bias.numpy()[units:2 * units], 1.0)  # drawn as the spec says
    gru = model.get_layer("b_1").cell
    assert type(gru.bias_initializer).__name__ == "Constant" and gru.bias_initializer.value == 0.0
