"""The standard library in specs/: every cell checks, with the states and shapes of its paper."""

from __future__ import annotations

from pathlib import Path

import pytest

import rnndsl

ROOT = Path(__file__).resolve().parents[1]
STD = ROOT / "specs" / "std"


def _sig(cell):
    return {part: {n: "[" + ", ".join(map(str, s)) + "]" for n, s in shapes.items()}
            for part, shapes in cell.signature.items()}


@pytest.fixture(scope="module")
def library():
    return rnndsl.load(STD / "cells.rnn")


def test_every_file_checks():
    files = sorted(STD.glob("*.rnn")) + sorted((ROOT / "examples").glob("*.rnn"))
    assert len(files) >= 13
    for path in files:
        rnndsl.load(path)


def test_cells_rnn_imports_the_whole_library(library):
    assert set(library.cells) == {"ChildSumTreeLSTM", "CTRNN", "CTRNNEuler", "ESN", "ESNReadout", "Hopfield", "ContinuousHopfield", "BAM", "Elman", "GRU", "IndRNN",
                                  "Jordan", "JordanSelf", "LSTM", "NTM", "NTMLSTM", "PeepholeLSTM", "CoupledLSTM",
                                  "GRUResetBefore", "MGU", "GRU1", "GRU2", "GRU3", "FullyRecurrent",
                                  "SecondOrder", "MTRNN", "RMLP", "Memristive", "BinaryTreeLSTM",
                                  "RecursiveNN", "RNTN", "NeuralStack", "NeuralQueue", "DNC", "Clockwork", "HMLSTM"}


EXPECTED = {
    "Elman": {"states": {"h": "[units]"}, "outputs": {"h": "[units]"}},
    "Jordan": {"states": {"y": "[out]"}, "outputs": {"y": "[out]"}},
    "LSTM": {"states": {"c": "[units]", "h": "[units]"}, "outputs": {"h": "[units]"}},
    "GRU": {"states": {"h": "[units]"}, "outputs": {"h": "[units]"}},
    "IndRNN": {"states": {"h": "[units]"}, "outputs": {"h": "[units]"}},
    "Clockwork": {"states": {"h": "[units]", "t": "[]"}, "outputs": {"h": "[units]"}},
    "HMLSTM": {"states": {"z1": "[]", "c1": "[units]", "h1": "[units]", "z2": "[]", "c2": "[units]", "h2": "[units]"},
               "outputs": {"y": "[2*units]", "z1": "[]", "z2": "[]"}},
    "CTRNN": {"states": {"y": "[units]"}, "outputs": {"y": "[units]"}},
    "CTRNNEuler": {"states": {"y": "[units]"}, "outputs": {"y": "[units]"}},
    "ESN": {"states": {"h": "[units]"}, "outputs": {"h": "[units]"}},
    "ChildSumTreeLSTM": {"states": {"c": "[units]", "h": "[units]"}, "outputs": {"h": "[units]"}},
    "BinaryTreeLSTM": {"states": {"c": "[units]", "h": "[units]"}, "outputs": {"h": "[units]"}},
    "RecursiveNN": {"states": {"h": "[units]"}, "outputs": {"h": "[units]"}},
    "RNTN": {"states": {"h": "[units]"}, "outputs": {"h": "[units]"}},
    "JordanSelf": {"states": {"s": "[out]", "y": "[out]"}, "outputs": {"y": "[out]"}},
    "FullyRecurrent": {"states": {"h": "[units]"}, "outputs": {"h": "[units]"}},
    "SecondOrder": {"states": {"h": "[units]"}, "outputs": {"h": "[units]"}},
    "MTRNN": {"states": {"u_f": "[fast]", "u_s": "[slow]"}, "outputs": {"y_f": "[fast]", "y_s": "[slow]"}},
    "RMLP": {"states": {"h1": "[hidden1]", "h2": "[hidden2]"}, "outputs": {"y": "[out]"}},
    "Memristive": {"states": {"w": "[units]"}, "outputs": {"w": "[units]"}},
    "NTM": {"states": {"ctrl": "[controller]", "w": "[slots]", "M": "[slots, width]", "r": "[width]"},
            "outputs": {"y": "[controller + width]"}},
    "NTMLSTM": {"states": {"c": "[controller]", "h": "[controller]", "w_w": "[slots]", "w_r": "[slots]",
                           "M": "[slots, width]", "r": "[width]"}, "outputs": {"y": "[controller + width]"}},
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_states_and_outputs(library, name):
    sig = _sig(library.cells[name])
    for part, shapes in EXPECTED[name].items():
        assert sig[part] == shapes
    assert sig["inputs"] in ({"x": "[in]"}, {"I": "[in]"}, {"x": "[units]"})  # a word vector at a leaf: [units]


def test_gru_is_the_reset_after_form(library):
    G = library.graph("GRU")
    # r multiplies the recurrent term (U_h @ h[t-1] + bh_h), not h[t-1] itself
    (r_use,) = [v for v, _ in G.users("r")]
    operands = {u for u, _ in G.operands(r_use)}
    assert "r" in operands
    assert any(G.node(u).kind == "op" and G.node(u).op == "add" for u in operands)


def test_indrnn_recurrent_weight_is_a_vector_with_a_bound(library):
    G = library.graph("IndRNN")
    assert [str(d) for d in G.node("u").shape] == ["units"]
    assert [c.name.id for c in G.node("u").constraints] == ["max_abs"]


def test_esn_reservoir_is_fixed(library):
    G = library.graph("ESN")
    assert G.node("W").fixed and G.node("W_in").fixed
    assert G.node("W").init.name.id == "reservoir"


def test_ctrnn_is_continuous(library):
    G = library.graph("CTRNN")
    assert G.header.solver == "rk4"
    assert G.node("y").ode


def test_tree_lstm_reads_children(library):
    G = library.graph("ChildSumTreeLSTM")
    child_reads = sorted(u for u, _, use in G.uses() if use.child)
    assert child_reads == ["c", "h", "h"]
    assert G.header.over == "tree"


def test_fully_recurrent_mask_is_fixed_and_all_ones(library):
    G = library.graph("FullyRecurrent")
    assert G.node("M").fixed and not G.node("U").fixed
    assert [str(d) for d in G.node("M").shape] == ["units", "units"]


def test_second_order_weight_is_a_tensor_over_state_and_input(library):
    G = library.graph("SecondOrder")
    assert [str(d) for d in G.node("W").shape] == ["units", "units", "in"]


def test_mtrnn_input_reaches_only_the_fast_units(library):
    """Within a step x feeds u_f, never u_s: the slow units hear of the input only through the fast ones."""
    import networkx as nx

    G = library.graph("MTRNN")
    now = nx.DiGraph([(u, v) for u, v, use in G.uses() if not use.delay])
    assert nx.has_path(now, "x", "u_f")
    assert not nx.has_path(now, "x", "u_s")


def test_memristive_is_continuous_with_a_fixed_projector(library):
    G = library.graph("Memristive")
    assert G.header.solver == "rk4"
    assert G.node("w").ode
    assert G.node("Omega").fixed and G.node("Omega").init.name.id == "identity"


# Every cell of the library builds alone to a Keras model, saved and reloaded, with its hyperparameters
# that have no default set to 4 and an input of 3 features where they leave the input size open.
BUILDABLE = sorted(rnndsl.load(STD / "cells.rnn").cells)


@pytest.mark.parametrize("cell", BUILDABLE)
def test_every_cell_builds_alone(cell, library, tmp_path, capsys):
    import numpy as np

    from rnndsl.cli import main

    hparams = library.graph(cell).header.hparams.values()
    sets = [a for h in hparams if h.default is None for a in ("--set", f"{h.name}=4")]
    out = tmp_path / f"{cell}.keras"
    args = ["build", str(STD / "cells.rnn"), "--cell", cell, *sets, "-o", str(out)]
    if main(args) != 0:  # the input size is open: give it
        assert "give the input size (--input-size N)" in capsys.readouterr().err
        assert main(args + ["--input-size", "3"]) == 0, capsys.readouterr().err
    assert f"wrote {out}" in capsys.readouterr().out
    import keras

    model = keras.models.load_model(out)
    if len(model.inputs) == 2:  # a tree cell: each node's inputs, and its children (here a chain of 5)
        x = np.random.default_rng(0).uniform(-1, 1, size=(2, 5, model.input_shape[0][-1])).astype("float32")
        y = np.asarray(model([x, np.array([[[1], [2], [3], [4], [-1]]] * 2, "int32")]))
    else:  # every output of the cell (the MTRNN has two)
        x = np.random.default_rng(0).uniform(-1, 1, size=(2, 5, model.input_shape[-1])).astype("float32")
        found = model(x)
        found = found if isinstance(found, list) else [found]
        assert len(found) == len(library.graph(cell).header.outputs)
        y = np.concatenate([np.asarray(o).reshape(2, 5, -1) for o in found], axis=-1)
    assert y.shape[:2] == (2, 5) and np.isfinite(y).all()
