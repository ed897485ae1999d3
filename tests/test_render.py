"""render: typed IR -> Graphviz drawings.

The drawings are checked through their DOT text: which clusters, nodes and
edges they hold and how those are labelled (a read `h[t-1]` is one dashed edge
labelled z⁻¹, a step of an unrolled cell one cluster, a network edge carries its
type). Every spec of the repository is drawn too, folded, unrolled and as a
network, and the SVG parsed.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import graphviz
import pytest

import rnndsl
from rnndsl.cli import main
from rnndsl.lang.errors import UsageError
from rnndsl.lang.errors import LayoutError
from rnndsl.draw.default import delay_label
from rnndsl.draw.render import FORMATS, output, render_cell, render_network

ROOT = Path(__file__).resolve().parent.parent

# ---------------------------------------------------------------- specs

LSTM = '''
cell LSTM(units: int) {
    """Long short-term memory with a forget gate.

    Gates from the input and the previous hidden state."""
    input x: [in]
    param W_i, W_f, W_c, W_o: [units, in]
    param U_i, U_f, U_c, U_o: [units, units]
    param b_i, b_f, b_c, b_o: [units] = 0
    i[t] = sigmoid(W_i @ x[t] + U_i @ h[t-1] + b_i)
    f[t] = sigmoid(W_f @ x[t] + U_f @ h[t-1] + b_f)
    g[t] = tanh(W_c @ x[t] + U_c @ h[t-1] + b_c)
    o[t] = sigmoid(W_o @ x[t] + U_o @ h[t-1] + b_o)
    c[t] = f[t] * c[t-1] + i[t] * g[t]
    h[t] = o[t] * tanh(c[t])
    output h
}
'''

ELMAN = '''
cell Elman(units: int) {
    "Elman network (Elman 1990)."
    input x: [in]
    param W: [units, in]
    param U: [units, units]
    param b: [units] = 0
    h[t] = tanh(W @ x[t] + U @ h[t-1] + b)
    output h
}
'''

GRU = '''
cell GRU(units: int) {
    input x: [in]
    param W_z, W_r, W_h: [units, in]
    param U_z, U_r, U_h: [units, units]
    param b_z, b_r, b_h: [units] = 0
    z[t] = sigmoid(W_z @ x[t] + U_z @ h[t-1] + b_z)
    r[t] = sigmoid(W_r @ x[t] + U_r @ h[t-1] + b_r)
    hh[t] = tanh(W_h @ x[t] + r[t] * (U_h @ h[t-1]) + b_h)
    h[t] = z[t] * h[t-1] + (1 - z[t]) * hh[t]
    output h
}
'''

TREE = '''
cell TreeLSTM(units: int) over tree {
    input x: [in]
    param W_i, W_f, W_u: [units, in]
    param U_i, U_f, U_u: [units, units]
    param b_i, b_f, b_u: [units] = 0
    h_sum[n] = sum(h[k] for k in children(n))
    i[n] = sigmoid(W_i @ x[n] + U_i @ h_sum[n] + b_i)
    u[n] = tanh(W_u @ x[n] + U_u @ h_sum[n] + b_u)
    c[n] = i[n] * u[n] + sum(sigmoid(W_f @ x[n] + U_f @ h[k] + b_f) * c[k] for k in children(n))
    h[n] = tanh(c[n])
    output h
}
'''

CTRNN = '''
cell CTRNN(units: int, dt: float = 0.1) solver rk4 {
    input I: [in]
    param W_in: [units, in]
    param W: [units, units]
    param theta: [units] = 0
    param tau: [units] = 1 constrain positive
    d/dt y = (-y + W @ sigmoid(y - theta) + W_in @ I[t]) / tau
    output y
}
'''

NTM = '''
cell Memory(slots: int = 16, width: int = 8) {
    input x: [in]
    param W_k, W_a: [width, in]
    param W_g: [slots, in]
    state M: [slots, width] = 1e-6
    k[t] = tanh(W_k @ x[t])
    w[t] = softmax(cosine(M[t-1], k[t]) + W_g @ x[t])
    a[t] = tanh(W_a @ x[t])
    M[t] = M[t-1] * (1 - outer(w[t], k[t])) + outer(w[t], a[t])
    r[t] = w[t] @ M[t]
    output r
}
'''

DELAY2 = '''
cell Skip(units: int) {
    input x: [in]
    state h: [units]
    h[t] = tanh(W @ x[t] + U @ h[t-2] + b)
    output h
}
'''

MISC = '''
cell Misc(units: int, alpha: float = 0.5) {
    input x: [units]
    param A: [units, units] ~ orthogonal fixed
    param s: [units]
    state h: [units]
    z[t] = einsum("ij,j->i", A, x[t])
    a[t], b[t] = split(concat(z[t], h[t-1]), 2)
    m[t] = where(a[t] > 0, a[t] ** 2, -b[t])
    h[t] = alpha * m[t] + (1 - alpha) * h[t-1] / s + clip(x[t], -1, 1)
    output h, m
}
'''

NETWORK = LSTM + GRU + '''
network Tagger(vocab: int = 10000, tags: int = 17, units: int = 256) {
    """A tagger: embedding, bidirectional LSTM, stacked GRUs, softmax."""
    input words: seq[int]
    emb  = Embedding(vocab, 128)(words)
    ctx  = Bidirectional(LSTM(units), merge=concat)(emb)
    deep = Stack(GRU(units), depth=2)(ctx)
    output Dense(tags, activation=softmax)(deep)
}
'''

INLINE = {"LSTM": LSTM, "Elman": ELMAN, "GRU": GRU, "TreeLSTM": TREE, "CTRNN": CTRNN,
          "Memory": NTM, "Skip": DELAY2, "Misc": MISC, "Tagger": NETWORK}


def load(text: str):
    return rnndsl.load(text)


def cell_dot(text: str, name: str, unroll=None) -> str:
    program = load(text)
    return render_cell(program.graphs[name], unroll=unroll).source


def edges(dot: str) -> list:
    """(tail, head, attributes) of every edge statement of a DOT text."""
    out = []
    for line in dot.splitlines():
        m = re.match(r'\s*("(?:[^"\\]|\\.)*"|\S+) -> ("(?:[^"\\]|\\.)*"|\S+)(?: \[(.*)\])?\s*$', line)
        if m:
            out.append((m.group(1).strip('"'), m.group(2).strip('"'), m.group(3) or ""))
    return out


def node_line(dot: str, node: str) -> str:
    quoted = f'"{node}"' if not re.fullmatch(r"[A-Za-z_]\w*", node) else node
    for line in dot.splitlines():
        if line.strip().startswith(quoted + " [") or line.strip().startswith(quoted + ' ['):
            return line
    raise AssertionError(f"no node {node} in\n{dot}")


def delay_edges(dot: str, k: int = 1) -> list:
    return [e for e in edges(dot) if f'label="{delay_label(k)}"' in e[2]]


def parse_svg(svg: str):
    return ET.fromstring(svg.encode("utf-8"))


# ---------------------------------------------------------------- folded cells


def test_delay_label():
    assert delay_label(1) == "z⁻¹"
    assert delay_label(2) == "z⁻²"
    assert delay_label(12) == "z⁻¹²"


@pytest.mark.parametrize("name", ["LSTM", "Elman", "GRU", "Memory", "Skip", "Misc"])
def test_one_dashed_z_edge_per_delayed_read(name):
    text = INLINE[name]
    dot = cell_dot(text, name)
    equations = "\n".join(l for l in text.splitlines() if "] =" in l or "d/dt" in l)
    for k in (1, 2):
        found = delay_edges(dot, k)
        assert len(found) == equations.count(f"[t-{k}]"), (k, found)
        assert all("style=dashed" in attrs for _, _, attrs in found)
    # and no other edge is dashed
    dashed = [e for e in edges(dot) if "style=dashed" in e[2]]
    assert len(dashed) == equations.count("[t-1]") + equations.count("[t-2]")


def test_lstm_delays_run_from_the_states_into_their_readers():
    program = load(LSTM)
    G = program.graphs["LSTM"]
    dot = render_cell(G).source
    found = delay_edges(dot)
    assert len(found) == 5
    # h[t-1] four times (into U_i @, U_f @, U_c @, U_o @), c[t-1] once (into f * c)
    ends = []
    for tail, head, attrs in found:
        # feedback edges are written reader -> value with dir=back: the arrow points at the reader
        value, reader = (head, tail) if "dir=back" in attrs else (tail, head)
        ends.append(value)
        assert G.node(reader).kind == "op"
    assert sorted(ends) == ["c", "h", "h", "h", "h"]
    readers = [head if "dir=back" not in attrs else tail for tail, head, attrs in found if "h" in (tail, head)]
    assert {G.node(r).op for r in readers} == {"matmul"}


def test_folded_cell_nodes():
    dot = cell_dot(LSTM, "LSTM")
    assert "subgraph cluster_LSTM" in dot
    assert "<b>LSTM(units)</b>" in dot
    assert "Long short-term memory with a forget gate." in dot  # the docstring's first line
    assert "Gates from the input" not in dot  # ... and only it
    # named values: bold ellipses with their shape; states with a double border
    assert "<b>c</b> <font point-size=\"9\">[units]</font>" in node_line(dot, "c")
    assert "peripheries=2" in node_line(dot, "c") and "peripheries=2" in node_line(dot, "h")
    assert "peripheries" not in node_line(dot, "i")
    assert "style=\"filled,bold\"" in node_line(dot, "i")
    # the input, and the output marker
    assert "shape=ellipse" in node_line(dot, "x") and "[in]" in node_line(dot, "x")
    assert ("h", "%out_h", 'arrowsize=0.6 color="#c0392b"') in edges(dot)
    # parameters small, with their shapes
    assert "fontsize=8" in node_line(dot, "W_i") and "[units, in]" in node_line(dot, "W_i")
    assert "[units, units]" in node_line(dot, "U_o")
    # operations as symbols
    labels = re.findall(r'"%\d+" \[label="([^"]+)"', dot)
    assert labels.count("σ") == 3 and labels.count("·") == 8 and labels.count("⊙") == 3
    assert labels.count("+") == 5  # four gates' W x + U h + b, each one +, and c's +


def test_chains_of_additions_are_one_node():
    dot = cell_dot(ELMAN, "Elman")
    plus = [n for n in re.findall(r'("%\d+") \[label="\+"', dot)]
    assert len(plus) == 1
    into_plus = [e for e in edges(dot) if f'"{e[1]}"' == plus[0]]
    assert len(into_plus) == 3  # W x, U h, b


def test_constant_operand_of_a_subtraction_is_written_in_the_operation():
    dot = cell_dot(GRU, "GRU")
    assert "1 −" in dot
    assert not re.search(r'"#\d+" \[label=1', dot)


def test_second_operand_marked_when_order_matters():
    dot = cell_dot(CTRNN, "CTRNN")
    assert any("headlabel=\"−\"" in attrs and tail == "theta" for tail, _, attrs in edges(dot))
    assert any("headlabel=\"÷\"" in attrs and tail == "tau" for tail, _, attrs in edges(dot))


def test_functions_and_their_arguments():
    dot = cell_dot(MISC, "Misc")
    assert 'einsum<br/><font point-size="8">&quot;ij,j-&gt;i&quot;</font>' in dot
    assert "split<br/>" in dot and "parts=2" in dot
    parts = [(t, h, a) for t, h, a in edges(dot) if "part " in a]
    assert [(h, re.search(r'label="(part \d)"', a).group(1)) for _, h, a in parts] == \
        [("a", "part 1"), ("b", "part 2")]
    assert "label=<&gt; 0>" in dot and "label=<^ 2>" in dot and "label=<−1>" in dot
    assert 'headlabel=then' in dot and 'headlabel=else' in dot
    assert 'headlabel=low' in dot and 'headlabel=high' in dot
    assert "[units, units] fixed" in node_line(dot, "A")
    assert "<i>alpha</i>" in node_line(dot, "alpha")  # a hyperparameter read twice: one node
    assert "output 1" in dot and "output 2" in dot


def test_continuous_state_definition_is_an_integral():
    program = load(CTRNN)
    dot = render_cell(program.graphs["CTRNN"]).source
    integral = [e for e in edges(dot) if 'label="∫"' in e[2]]
    assert len(integral) == 1 and integral[0][1] == "y"
    assert "peripheries=2" in node_line(dot, "y")
    assert "solver rk4, step dt" in dot
    assert not delay_edges(dot)


def test_tree_cell_children_edges():
    program = load(TREE)
    G = program.graphs["TreeLSTM"]
    dot = render_cell(G).source
    children = [e for e in edges(dot) if 'label=children' in e[2]]
    assert len(children) == 3  # h[k] twice, c[k] once
    assert all("style=dashed" in a for _, _, a in children)
    assert "Σ children" in dot
    assert "subgraph cluster_per_child" in dot and "for each child k" in dot
    assert "over tree" in dot


def test_matrix_state():
    dot = cell_dot(NTM, "Memory")
    assert "[slots, width]" in node_line(dot, "M")
    assert "peripheries=2" in node_line(dot, "M")
    assert "outer" in dot and "cosine" in dot and "softmax" in dot
    assert len(delay_edges(dot)) == 2


def test_labels_are_escaped():
    text = '''
    cell Odd(units: int) {
        """Uses <b>tags</b> & "quotes" \\ and a backslash."""
        input x: [in]
        state h: [units]
        h[t] = tanh(W @ x[t] + U @ h[t-1])
        output h
    }
    '''
    program = load(text)
    dot = render_cell(program.graphs["Odd"])
    assert "&lt;b&gt;tags&lt;/b&gt; &amp; &quot;quotes&quot;" in dot.source
    root = parse_svg(output(dot))
    assert root.tag.endswith("svg")
    texts = "".join(el.text or "" for el in root.iter())
    assert '<b>tags</b> & "quotes"' in texts


def test_output_is_deterministic():
    first = cell_dot(LSTM, "LSTM")
    assert cell_dot(LSTM, "LSTM") == first
    assert cell_dot(LSTM, "LSTM", unroll=3) == cell_dot(LSTM, "LSTM", unroll=3)
    program = load(NETWORK)
    a = render_network(program.graphs["Tagger"], program.graphs, expand=["ctx"]).source
    b = render_network(load(NETWORK).graphs["Tagger"], load(NETWORK).graphs, expand=["ctx"]).source
    assert a == b


# ---------------------------------------------------------------- unrolled cells


def test_unrolled_elman():
    dot = cell_dot(ELMAN, "Elman", unroll=3)
    assert len(re.findall(r"subgraph cluster_step_\d+ ", dot)) == 3
    for s in (1, 2, 3):
        assert f"<b>t = {s}</b>" in dot
        assert (f"x[{s}]", f"h[{s}]") in [(t, h) for t, h, _ in edges(dot)]
    assert "h[0]" in dot and "= 0" in node_line(dot, "h[0]")
    steps = [(t, h) for t, h, a in edges(dot) if "xlabel=h" in a]
    assert steps == [("h[0]", "h[1]"), ("h[1]", "h[2]"), ("h[2]", "h[3]")]
    # horizontal: the edges between steps may share a rank
    assert all("minlen=0" in a for _, _, a in edges(dot) if "xlabel=h" in a)
    # parameters are not repeated per step: they are listed once
    assert dot.count("U [units, units]") == 1
    assert "W[1]" not in dot and "U[2]" not in dot


@pytest.mark.parametrize("steps", [1, 3, 5])
def test_number_of_steps(steps):
    dot = cell_dot(LSTM, "LSTM", unroll=steps)
    assert len(re.findall(r"subgraph cluster_step_\d+ ", dot)) == steps
    assert f"h[{steps}]" in dot and f"h[{steps + 1}]" not in dot


def test_unrolled_lstm_reads_the_step_before():
    dot = cell_dot(LSTM, "LSTM", unroll=3)
    pairs = set()
    for tail, head, attrs in edges(dot):
        if "style=invis" in attrs:
            continue
        if "dir=back" in attrs:
            tail, head = head, tail
        pairs.add((tail, head))
    for s in (1, 2, 3):
        for gate in "ifgo":
            assert (f"x[{s}]", f"{gate}[{s}]") in pairs
            assert (f"h[{s - 1}]", f"{gate}[{s}]") in pairs
        assert (f"c[{s - 1}]", f"c[{s}]") in pairs
        assert (f"f[{s}]", f"c[{s}]") in pairs and (f"c[{s}]", f"h[{s}]") in pairs
    assert "c[0]" in dot and "h[0]" in dot and "subgraph cluster_initial" in dot
    # the initial values come from the state declarations
    assert "= 0" in node_line(dot, "c[0]")


def test_unrolled_delay_two_and_initial_values():
    dot = cell_dot(DELAY2, "Skip", unroll=3)
    pairs = [(t, h) for t, h, a in edges(dot) if "label=h" in a]
    assert pairs == [("h[-1]", "h[1]"), ("h[0]", "h[2]"), ("h[1]", "h[3]")]
    memory = cell_dot(NTM, "Memory", unroll=2)
    assert "= 1e-06" in node_line(memory, "M[0]")


def test_unrolled_continuous_state():
    dot = cell_dot(CTRNN, "CTRNN", unroll=3)
    steps = [(t, h) for t, h, a in edges(dot) if "∫" in a]
    assert steps == [("y[0]", "y[1]"), ("y[1]", "y[2]"), ("y[2]", "y[3]")]
    assert ("I[2]", "y[2]") in [(t, h) for t, h, _ in edges(dot)]


def test_flat_delay_edges_are_labelled_after_the_layout():
    # dot lays a flat edge's `label` out as a node outside every step, which made the LSTM
    # fail from 7 steps on ("trouble in init_rank"): their text is an `xlabel`
    for dot in (cell_dot(LSTM, "LSTM", unroll=4), cell_dot(CTRNN, "CTRNN", unroll=4)):
        flat = [a for _, _, a in edges(dot) if "minlen=0" in a and "style=invis" not in a]
        assert len(flat) == 4
        assert all("xlabel=" in a and not re.search(r"(^|\s)label=", a) for a in flat)


@functools.lru_cache(maxsize=None)
def _std_cells() -> dict:
    """{name: graph} of every cell of specs/std that unrolls (tree cells are refused)."""
    cells = {}
    for path in sorted(ROOT.glob("specs/std/*.rnn")):
        for name, G in rnndsl.load(str(path)).graphs.items():
            if G.kind == "cell" and G.header.over != "tree":
                cells.setdefault(name, G)
    return cells


def _positions(svg: str) -> dict:
    """{value: {step: (x, y)}} of the nodes `v[s]` of an unrolled drawing's SVG."""
    ns = "{http://www.w3.org/2000/svg}"
    out: dict = {}
    for g in parse_svg(svg).iter(ns + "g"):
        m = re.fullmatch(r"(.+)\[(-?\d+)\]", g.findtext(ns + "title") or "")
        shape = next(g.iter(ns + "ellipse"), None)
        if g.get("class") == "node" and m and shape is not None:
            out.setdefault(m.group(1), {})[int(m.group(2))] = (float(shape.get("cx")), float(shape.get("cy")))
    return out


@pytest.mark.parametrize("steps", [8, 12])
def test_every_std_cell_unrolls_over_many_steps(steps):
    cells = _std_cells()
    assert {"LSTM", "MTRNN", "Elman", "CTRNN", "GRU"} <= set(cells)
    for name, G in cells.items():
        at = _positions(output(render_cell(G, unroll=steps)))  # dot failed here (LSTM, MTRNN)
        assert at, name
        for value, where in at.items():
            drawn = [s for s in sorted(where) if s >= 1]
            assert drawn == list(range(1, steps + 1)), (name, value)
            # steps left to right, in order
            xs = [where[s][0] for s in drawn]
            assert xs == sorted(set(xs)), (name, value, xs)
            # a value at one height in every step, its initial state (`h[0]`) too
            ys = [y for _, y in where.values()]
            assert max(ys) - min(ys) < 0.5, (name, value, where)


def test_unrolling_a_tree_cell_is_a_usage_error():
    program = load(TREE)
    with pytest.raises(UsageError) as e:
        render_cell(program.graphs["TreeLSTM"], unroll=3)
    assert e.value.render() == "error: --unroll draws time steps; `TreeLSTM` is a tree cell"


# ---------------------------------------------------------------- networks


def test_network_boxes_and_typed_edges():
    program = load(NETWORK)
    G = program.graphs["Tagger"]
    dot = render_network(G, program.graphs).source
    assert "<b>Tagger(vocab=10000, tags=17, units=256)</b>" in dot
    assert "A tagger: embedding, bidirectional LSTM, stacked GRUs, softmax." in dot
    assert "<b>emb</b> = Embedding(vocab, 128)" in dot
    assert "<b>ctx</b> = Bidirectional(LSTM(units), merge=concat)" in dot
    assert "<b>deep</b> = Stack(GRU(units), depth=2)" in dot
    assert "Dense(tags, activation=softmax)" in dot
    assert "<b>words</b>" in node_line(dot, "words") and "seq[int]" in node_line(dot, "words")
    labels = [re.search(r'label="([^"]*)"', a).group(1) for _, _, a in edges(dot)]
    assert labels == ["seq[int]", "seq[128]", "seq[2*units]", "seq[units]", "seq[tags]"]
    for u, v, flow in G.uses():
        assert f'label="{flow.type}"' in dot
    assert "cluster" not in dot


def test_network_expanded_layers():
    program = load(NETWORK)
    G = program.graphs["Tagger"]
    dot = render_network(G, program.graphs, expand=["ctx", "Stack_3"]).source
    assert "compound=true" in dot
    assert "subgraph cluster_Bidirectional_2" in dot and "subgraph cluster_Stack_3" in dot
    assert "forward / backward" in dot and "× 2" in dot
    # the cells drawn inside, their node ids prefixed
    assert '"Bidirectional_2/x"' in dot and '"Stack_3/hh"' in dot
    assert '"Bidirectional_2/W_i"' in dot
    # bound shapes: the LSTM's input is the embedding's 128
    assert "[128]" in node_line(dot, "Bidirectional_2/x")
    # the data edges enter and leave the clusters
    es = edges(dot)
    into = [e for e in es if "lhead=cluster_Bidirectional_2" in e[2]]
    assert into and into[0][0] == "Embedding_1" and into[0][1] == "Bidirectional_2/x"
    between = [e for e in es if "ltail=cluster_Bidirectional_2" in e[2]]
    assert between and between[0][0] == "Bidirectional_2/h" and "lhead=cluster_Stack_3" in between[0][2]
    assert 'label="seq[2*units]"' in between[0][2]
    out = [e for e in es if "ltail=cluster_Stack_3" in e[2]]
    assert out and out[0][1] == "Dense_4"
    # the cell drawn once per expanded layer: five z⁻¹ in the LSTM, four in the GRU
    assert len(delay_edges(dot)) == LSTM.count("[t-1]") + GRU.count("[t-1]") == 9
    root = parse_svg(output(render_network(G, program.graphs, expand=["ctx", "deep"])))
    assert root.tag.endswith("svg")


def test_network_expand_errors():
    program = load(NETWORK)
    G = program.graphs["Tagger"]
    with pytest.raises(UsageError, match="no layer `ctz`; did you mean `ctx`"):
        render_network(G, program.graphs, expand=["ctz"])
    with pytest.raises(UsageError, match="Keras layer"):
        render_network(G, program.graphs, expand=["emb"])
    # a single name is one layer, not its letters
    assert "cluster_Bidirectional_2" in render_network(G, program.graphs, expand="ctx").source


# ---------------------------------------------------------------- output


@pytest.mark.parametrize("fmt", FORMATS)
def test_files_written(tmp_path, fmt):
    program = load(LSTM)
    path = tmp_path / f"lstm.{fmt}"
    assert output(render_cell(program.graphs["LSTM"]), path) == path
    data = path.read_bytes()
    assert data
    magic = {"png": b"\x89PNG", "pdf": b"%PDF", "dot": b"digraph", "tex": b"%"}
    if fmt == "svg":
        assert parse_svg(data.decode("utf-8")).tag.endswith("svg")
    else:
        assert data.startswith(magic[fmt])


def test_program_and_cell_render_api(tmp_path):
    program = load(NETWORK)
    svg = program.render("LSTM")
    assert parse_svg(svg).tag.endswith("svg")
    assert program.render("LSTM", format="dot").startswith("digraph LSTM")
    assert "cluster_step_2" in program.render("LSTM", unroll=2, format="dot")
    assert program["Tagger"]._repr_svg_().lstrip().startswith("<?xml")
    out = program.render("Tagger", str(tmp_path / "net.png"), expand=["ctx"])
    assert Path(out).read_bytes().startswith(b"\x89PNG")
    with pytest.raises(UsageError, match="must end in"):
        program.render("LSTM", tmp_path / "lstm.jpg")


def test_missing_dot_is_a_usage_error(monkeypatch, tmp_path):
    program = load(ELMAN)
    dot = render_cell(program.graphs["Elman"])
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(UsageError) as e:
        output(dot, tmp_path / "x.svg")
    assert e.value.render().startswith("error: Graphviz's `dot` is not installed: ")
    assert "\n" not in e.value.render()
    # DOT text needs no Graphviz
    assert output(dot, format="dot").startswith("digraph")


def test_a_failed_layout_is_a_usage_error(tmp_path):
    broken = graphviz.Digraph(body=["a -> {"])  # DOT text that dot rejects
    with pytest.raises(LayoutError) as e:
        output(broken, tmp_path / "x.svg")
    assert isinstance(e.value, UsageError)
    assert re.fullmatch(r"error: Graphviz's `dot` could not lay the drawing out \(exit status 1\): "
                        r"syntax error in line \d+[^;]*; a \.dot output writes the drawing's DOT "
                        r"text without laying it out", e.value.render()), e.value.render()
    assert not (tmp_path / "x.svg").exists()
    with pytest.raises(LayoutError, match="syntax error"):
        output(broken, format="png")


@pytest.mark.skipif(sys.platform == "win32", reason="a shell script stands in for dot")
def test_dot_failing_reaches_the_command_line_as_a_diagnostic(monkeypatch, tmp_path, capsys):
    # a `dot` that fails as dot 2.43 did on the LSTM unrolled over 8 steps: warnings,
    # the error, then a long dump
    fake = tmp_path / "bin" / "dot"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\ncat > /dev/null\n"
                    "echo 'Warning: flat edge between adjacent nodes one of which has a record shape' >&2\n"
                    "echo 'Error: trouble in init_rank' >&2\n"
                    "printf '\\t%%0 8\\n\\th[8] 3\\n' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(fake.parent) + os.pathsep + os.environ["PATH"])
    out = tmp_path / "x.svg"
    code = main(["render", str(ROOT / "specs/std/lstm.rnn"), "--unroll", "8", "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert err == ("error: Graphviz's `dot` could not lay the drawing out (exit status 1): "
                   "trouble in init_rank; a .dot output writes the drawing's DOT text without "
                   "laying it out\n")
    assert not out.exists()


def test_render_does_not_import_tensorflow():
    code = (
        "import sys, rnndsl\n"
        "from rnndsl.draw.render import render_cell, output\n"
        f"p = rnndsl.load({ELMAN!r})\n"
        "output(render_cell(p.graphs['Elman'], unroll=2))\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


# ---------------------------------------------------------------- every spec


def _spec_files() -> list:
    files = sorted(ROOT.glob("specs/**/*.rnn")) + sorted(ROOT.glob("examples/**/*.rnn"))
    return [pytest.param(p, id=str(p.relative_to(ROOT))) for p in files]


def _inline() -> list:
    return [pytest.param(text, id=f"inline-{name}") for name, text in INLINE.items()]


def _draw_all(program) -> int:
    drawn = 0
    for name in program.main or list(program.graphs):
        G = program.graphs[name]
        if G.kind == "network":
            expand = [n for n, layer in G.layers() if layer.app.cell is not None]
            for dot in (render_network(G, program.graphs),
                        render_network(G, program.graphs, expand=expand)):
                assert parse_svg(output(dot)).tag.endswith("svg")
                drawn += 1
            continue
        assert parse_svg(output(render_cell(G))).tag.endswith("svg")
        drawn += 1
        if G.header.over == "tree":
            with pytest.raises(UsageError, match="tree cell"):
                render_cell(G, unroll=3)
        else:
            dot = render_cell(G, unroll=3)
            assert len(re.findall(r"subgraph cluster_step_\d+ ", dot.source)) == 3
            assert parse_svg(output(dot)).tag.endswith("svg")
            drawn += 1
    return drawn


@pytest.mark.parametrize("text", _inline())
def test_draw_inline_specs(text):
    assert _draw_all(load(text)) > 0


@pytest.mark.parametrize("path", _spec_files())
def test_draw_every_spec_file(path):
    program = rnndsl.load(str(path))
    _draw_all(program)
    # every cell the file brings in, imported ones included, draws too
    for name, G in program.graphs.items():
        if G.kind == "cell":
            assert output(render_cell(G), format="dot").startswith("digraph")
