"""The Python API: rnndsl.load, Program, the NetworkX graphs and their attributes."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import pytest

import rnndsl
from rnndsl.lang.ast import Span

ROOT = Path(__file__).resolve().parents[1]

LSTM_TEXT = (ROOT / "specs" / "std" / "lstm.rnn").read_text()


def test_load_a_path_and_text():
    from_path = rnndsl.load(ROOT / "specs" / "std" / "lstm.rnn")
    from_text = rnndsl.load(LSTM_TEXT)
    assert list(from_path.cells) == list(from_text.cells) == ["LSTM"]
    assert from_text.file == "<string>"
    assert from_path.file.endswith("specs/std/lstm.rnn")


def test_load_raises_every_error_at_once():
    with pytest.raises(rnndsl.SpecErrors) as info:
        rnndsl.load("cell A(n: int) {\n    input x: [n]\n    h[t] = sigmod(x[t]) + q[t]\n}\n")
    err = info.value
    assert isinstance(err, rnndsl.RnnDslError)
    assert [e.code for e in err.errors] == ["E0218", "E0203", "E0201"]  # source order
    assert str(err).endswith("3 errors found")


def test_load_missing_file_is_a_usage_error(tmp_path):
    with pytest.raises(rnndsl.UsageError, match="no such file"):
        rnndsl.load(tmp_path / "missing.rnn")


def test_cell_graph_nodes_and_edges_carry_spans_and_delays():
    program = rnndsl.load(LSTM_TEXT)
    G = program.graph("LSTM")
    assert isinstance(G, nx.MultiDiGraph)
    assert all(isinstance(rec.span, Span) and rec.span.line > 0 for _, rec in G.records())
    assert all(isinstance(use.span, Span) and use.span.line > 0 for _, _, use in G.uses())
    delayed = sorted((u, G.node(v).op) for u, v, use in G.uses() if use.delay == 1)
    # h[t-1] is read by the four recurrent matmuls, c[t-1] by the forget product
    assert delayed == [("c", "mul")] + [("h", "matmul")] * 4
    assert G.header.states == ("c", "h")
    assert set(G.of_kind("value")) == {"i", "f", "o", "g", "c", "h"}


def test_network_graph_edges_are_typed():
    program = rnndsl.load(ROOT / "examples" / "tagger.rnn")
    G = program.graph("Tagger")
    assert all(flow.type is not None for _, _, flow in G.uses())
    kinds = {rec.kind for _, rec in G.records()}
    assert kinds == {"input", "layer", "output"}


def test_program_lookup_and_unknown_names():
    program = rnndsl.load(ROOT / "examples" / "tagger.rnn")
    assert isinstance(program["Tagger"], rnndsl.program.Network)
    assert isinstance(program["LSTM"], rnndsl.program.Cell)
    with pytest.raises(rnndsl.UsageError, match="no cell or network named `Tager`; did you mean `Tagger`"):
        program.graph("Tager")
    assert program.main == ["Tagger"]
    assert program.default_name() == "Tagger"


def test_program_and_parts_show_as_svg():
    program = rnndsl.load(ROOT / "examples" / "tagger.rnn")
    for obj in (program, program["Tagger"], program["LSTM"]):
        svg = obj._repr_svg_()
        assert "<svg" in svg


def test_render_to_a_file(tmp_path):
    program = rnndsl.load(LSTM_TEXT)
    path = program.render("LSTM", tmp_path / "lstm.dot")
    text = Path(path).read_text()
    assert text.startswith("digraph")


def test_a_lexical_error_alone_is_reported():
    # recovery blanks the bad character and parses the rest; the error must still surface
    with pytest.raises(rnndsl.SpecErrors) as info:
        rnndsl.load("cell A(n: int) {\n    input x: [n]\n    h[t] = tanh(x[t]) ^ 2\n    output h\n}\n")
    assert [e.code for e in info.value.errors] == ["E0118"]


def test_d_over_dt_prefix_of_a_name_is_a_division():
    program = rnndsl.load("cell A(n: int, dtau: float = 2.0, d: float = 1.0) {\n    input x: [n]\n"
                          "    h[t] = x[t] * d/dtau + h[t-1]\n    output h\n}\n")
    G = program.graph("A")
    ops = sorted(G.node(n).op for n in G.of_kind("op"))
    assert ops == ["add", "div", "mul"]


def test_train_takes_a_network_only():
    """Program.train (what `rnndsl train` calls) refuses a cell before it imports TensorFlow."""
    program = rnndsl.load(LSTM_TEXT)
    with pytest.raises(rnndsl.UsageError, match="`LSTM` is not a network: only a network has a `train` block"):
        program.train()
