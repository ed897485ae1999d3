"""Golden tests of the IR: what each pass (graph, infer, causality, optimize) makes, in the printer's text.

The small cases are written out here; the standard library's cells and the examples' networks
are pinned in tests/golden/ir/ (regenerate with RNNDSL_UPDATE_GOLDEN=1 after a change you meant,
and read the diff).
"""

from __future__ import annotations

import dataclasses
import os
import textwrap
from pathlib import Path

import pytest

from rnndsl.keras import optimize
from rnndsl.lang import causality, graph, infer
from rnndsl.lang.ir import CellIR, NetworkIR, OpNode, ParamNode
from rnndsl.lang.irprint import print_ir
from rnndsl.lang.parse import parse_file
from rnndsl.lang.pipeline import check_text
from rnndsl.lang.resolve import resolve
from rnndsl.lang.specfiles import SearchPath

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden" / "ir"

ELMAN = """\
cell Elman(units: int) {
    input x: [in]
    param W: [units, in] ~ glorot_uniform
    param U: [units, units] ~ orthogonal
    param b: [units] = 0
    h[t] = tanh(W @ x[t] + U @ h[t-1] + b)
    output h
}
"""


def _graphs(text: str):
    parsed = parse_file(text, "spec.rnn")
    assert not parsed.errors
    bound, errors = resolve(parsed.module, "spec.rnn", None, SearchPath.from_environment(()))
    assert not errors
    return graph.build(bound), bound


def _same(actual: str, expected: str) -> None:
    assert actual == textwrap.dedent(expected).lstrip("\n")


def test_the_graph_pass_makes_one_node_per_declaration_and_operation():
    graphs, _ = _graphs(ELMAN)
    _same(print_ir(graphs["Elman"]), """
        cell Elman(units: int) over time
          input x
          param W ~ glorot_uniform
          param U ~ orthogonal
          param b = 0
          value h, state, delay 1, init 0
          %0 = matmul(W, x)
          %1 = matmul(U, h@t-1)
          %2 = add(%0, %1)
          %3 = add(%2, b)
          %4 = tanh(%3)
          h <- %4
          outputs h
        """)


def test_inference_gives_every_node_its_shape_in_a_copy():
    graphs, bound = _graphs(ELMAN)
    before = print_ir(graphs["Elman"])
    typed, errors = infer.infer(graphs)
    assert errors == []
    assert print_ir(graphs["Elman"]) == before  # the pass returns new graphs
    _same(print_ir(typed["Elman"]), """
        cell Elman(units: int) over time
          input x : [in]
          param W : [units, in] ~ glorot_uniform
          param U : [units, units] ~ orthogonal
          param b : [units] = 0
          value h : [units], state, delay 1, init 0
          %0 = matmul(W, x) : [units]
          %1 = matmul(U, h@t-1) : [units]
          %2 = add(%0, %1) : [units]
          %3 = add(%2, b) : [units]
          %4 = tanh(%3) : [units]
          h <- %4
          outputs h
        """)


def test_records_are_frozen_and_a_pass_puts_new_ones_in_its_copy():
    graphs, _ = _graphs(ELMAN)
    G = graphs["Elman"]
    assert isinstance(G, CellIR) and isinstance(G.node("W"), ParamNode) and isinstance(G.node("%0"), OpNode)
    with pytest.raises(dataclasses.FrozenInstanceError):
        G.node("W").shape = ()
    with pytest.raises(dataclasses.FrozenInstanceError):
        G.header.states = ()
    with pytest.raises(TypeError):
        G.header.delays["h"] = 2  # the header's tables are read-only too
    assert [(src, use.arg, use.delay) for src, use in G.operands("%1")] == [("U", 0, 0), ("h", 1, 1)]
    assert G.definition("h")[0] == "%4" and G.definition("h")[1].defines
    typed, _ = infer.infer(graphs)
    T = typed["Elman"]
    assert G.node("W").shape is None and G.header.signature is None  # the graph given is as it was
    assert [str(d) for d in T.node("W").shape] == ["units", "in"] and T.node("W").dtype == "float"
    assert {part: list(shapes) for part, shapes in T.signature.as_dict().items()} == {
        "inputs": ["x"], "params": ["W", "U", "b"], "states": ["h"], "outputs": ["h"]}


def test_inference_reads_the_ir_alone():
    """Whatever a later pass needs of a declaration is in the IR: inference runs on the graphs alone,
    and a network's types come from its cells' graphs, not from the bound program."""
    text = ELMAN + "network N(units: int = 3) {\n    input x: seq[2]\n    output Elman(units)(x)\n}\n"
    graphs, _ = _graphs(text)
    typed, errors = infer.infer(graphs)
    assert errors == []
    N = typed["N"]
    assert isinstance(N, NetworkIR) and N.header.outputs == ("output",)
    (layer, rec), = N.layers()
    assert str(rec.type) == "seq[units]" and [cell for cell, _ in rec.instances] == ["Elman"]


def test_the_causality_check_leaves_the_ir_as_it_found_it():
    graphs, bound = _graphs(ELMAN)
    typed, _ = infer.infer(graphs)
    before = print_ir(typed["Elman"])
    assert causality.check(typed) == []
    assert print_ir(typed["Elman"]) == before


def test_common_subexpressions_merge_into_a_copy():
    checked, errors = check_text("""\
cell Twice(units: int) {
    input x: [in]
    param W: [units, in]
    a[t] = tanh(W @ x[t]) + 1
    b[t] = tanh(W @ x[t]) * 2
    output a, b
}
""")
    assert not errors
    G = checked.graphs["Twice"]
    before = print_ir(G)
    merged = optimize.cse(G)
    assert print_ir(G) == before  # the pass returns a new graph
    _same(print_ir(merged), """
        cell Twice(units: int) over time
          input x : [in]
          param W : [units, in]
          value a : [units]
          value b : [units]
          %0 = matmul(W, x) : [units]
          %1 = tanh(%0) : [units]
          #2 = const 1 : []
          %3 = add(%1, #2) : [units]
          #6 = const 2 : []
          %7 = mul(%1, #6) : [units]
          a <- %3
          b <- %7
          outputs a, b
        """)


def test_a_network_prints_its_layers_types_and_cell_instances():
    checked, errors = check_text("""\
import "std/lstm.rnn"
network Tagger(vocab: int = 50, units: int = 8) {
    input words: seq[int]
    e = Embedding(vocab, 4)(words)
    h = LSTM(units)(e)
    output Dense(3, activation=softmax)(h)
}
""")
    assert not errors
    _same(print_ir(checked.graphs["Tagger"]), """
        network Tagger(vocab: int = 50, units: int = 8)
          input words : seq[] int
          Embedding_1 = keras Embedding(input_dim=vocab, output_dim=4, mask_zero=False)(words) : seq[4] float
          LSTM_2 = cell LSTM(units=units, returns=sequences)(Embedding_1) : seq[units] float
            instance LSTM(units=units, in=4)
          Dense_3 = keras Dense(units=3, activation=softmax, use_bias=True)(LSTM_2) : seq[3] float
          output = output Dense_3 : seq[3] float
        """)


def _golden_cases():
    files = sorted((ROOT / "specs" / "std").glob("*.rnn")) + sorted((ROOT / "examples").glob("*.rnn"))
    return [pytest.param(f, id=f"{f.parent.name}/{f.name}") for f in files]


@pytest.mark.parametrize("path", _golden_cases())
def test_the_ir_of_every_bundled_spec_is_pinned(path):
    checked, errors = check_text(path.read_text(), str(path.relative_to(ROOT)), path.parent)
    assert not errors
    main = [n for n in checked.bound.main_names if n in checked.graphs]
    text = "\n".join(print_ir(checked.graphs[n]) for n in main)
    golden = GOLDEN / f"{path.parent.name}.{path.stem}.txt"
    if os.environ.get("RNNDSL_UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text)
    assert golden.exists(), f"no golden file {golden.name}: run with RNNDSL_UPDATE_GOLDEN=1 and read it"
    assert text == golden.read_text()
