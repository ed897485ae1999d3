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
    assert set(library.cells) == {"ChildSumTreeLSTM", "CTRNN", "ESN", "Elman", "GRU", "IndRNN",
                                  "Jordan", "LSTM", "NTM", "PeepholeLSTM", "CoupledLSTM", "GRUResetBefore",
                                  "MGU", "GRU1", "GRU2", "GRU3"}


EXPECTED = {
    "Elman": {"states": {"h": "[units]"}, "outputs": {"h": "[units]"}},
    "Jordan": {"states": {"y": "[out]"}, "outputs": {"y": "[out]"}},
    "LSTM": {"states": {"c": "[units]", "h": "[units]"}, "outputs": {"h": "[units]"}},
    "GRU": {"states": {"h": "[units]"}, "outputs": {"h": "[units]"}},
    "IndRNN": {"states": {"h": "[units]"}, "outputs": {"h": "[units]"}},
    "CTRNN": {"states": {"y": "[units]"}, "outputs": {"y": "[units]"}},
    "ESN": {"states": {"h": "[units]"}, "outputs": {"h": "[units]"}},
    "ChildSumTreeLSTM": {"states": {"c": "[units]", "h": "[units]"}, "outputs": {"h": "[units]"}},
    "NTM": {"states": {"ctrl": "[controller]", "w": "[slots]", "M": "[slots, width]", "r": "[width]"},
            "outputs": {"y": "[controller + width]"}},
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_states_and_outputs(library, name):
    sig = _sig(library.cells[name])
    for part, shapes in EXPECTED[name].items():
        assert sig[part] == shapes
    assert sig["inputs"] in ({"x": "[in]"}, {"I": "[in]"})


def test_gru_is_the_reset_after_form(library):
    G = library.graph("GRU")
    # r multiplies the recurrent term (U_h @ h[t-1] + bh_h), not h[t-1] itself
    (r_use,) = [v for _, v in G.out_edges("r")]
    operands = {u for u, _ in G.in_edges(r_use)}
    assert "r" in operands
    assert any(G.nodes[u].get("op") == "add" for u in operands)


def test_indrnn_recurrent_weight_is_a_vector_with_a_bound(library):
    G = library.graph("IndRNN")
    assert [str(d) for d in G.nodes["u"]["shape"]] == ["units"]
    assert [c.name.id for c in G.nodes["u"]["constraints"]] == ["max_abs"]


def test_esn_reservoir_is_fixed(library):
    G = library.graph("ESN")
    assert G.nodes["W"]["fixed"] and G.nodes["W_in"]["fixed"]
    assert G.nodes["W"]["init"].name.id == "reservoir"


def test_ctrnn_is_continuous(library):
    G = library.graph("CTRNN")
    assert G.graph["solver"] == "rk4"
    assert G.nodes["y"]["ode"]


def test_tree_lstm_reads_children(library):
    G = library.graph("ChildSumTreeLSTM")
    child_reads = sorted(u for u, _, d in G.edges(data=True) if d["child"])
    assert child_reads == ["c", "h", "h"]
    assert G.graph["over"] == "tree"
