"""render, paper style, and rnndsl.draw.tikz: publication drawings.

Every cell of specs/std and every network of examples/ is drawn in the paper
style, twice, and the two SVGs (and TikZ pictures) compared byte for byte; the
SVG's colours are parsed (black, white and grays only); the legend of the dashed
and dotted edges is there exactly where such edges are. The labels are checked
through the DOT text (notation's HTML-like labels, `texlbl` LaTeX), the TikZ
picture through pdflatex: for the LSTM, a tree cell, a continuous-time cell and
an expanded network the picture is compiled in a minimal document.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import rnndsl
from rnndsl.draw import notation, paper, render
from rnndsl.lang.errors import LayoutError, UsageError
from rnndsl.draw.notation import tex_escape
from rnndsl.draw.render import _stable_pdf, output, render_cell, render_network
from rnndsl.draw.tikz import from_layout

ROOT = Path(__file__).resolve().parent.parent

NOTATION = r'''
cell Gated(units: int) {
    input x: [in]
    param W: [units, in]
    param beta_g: [units] = 1
    notation beta_g = "\\beta"
    notation h = "\\tilde{h}"
    h[t] = tanh(W @ x[t] + beta_g * h[t-1])
    output h
}
'''


# ---------------------------------------------------------------- the drawings


@functools.lru_cache(maxsize=None)
def _program(path: str):
    return rnndsl.load(path)


def _std_files() -> list:
    return sorted(str(p.relative_to(ROOT)) for p in ROOT.glob("specs/std/*.rnn"))


def _example_files() -> list:
    return sorted(str(p.relative_to(ROOT)) for p in ROOT.glob("examples/*.rnn"))


def _own_cells(path: str) -> list:
    """The cells a file defines (not those it imports): every cell of specs/std once."""
    program = _program(str(ROOT / path))
    return [name for name, G in program.graphs.items()
            if G.kind == "cell" and Path(G.header.file).name == Path(path).name]


def _networks(path: str) -> list:
    program = _program(str(ROOT / path))
    return [name for name, G in program.graphs.items() if G.kind == "network"]


def _cell_drawings(path: str, name: str) -> list:
    """The paper drawings of a cell, built from a fresh load: folded, and unrolled over 3 steps."""
    G = rnndsl.load(str(ROOT / path)).graphs[name]
    drawings = [render_cell(G, style="paper")]
    if G.header.over != "tree":
        drawings.append(render_cell(G, unroll=3, style="paper"))
    return drawings


def _openable(G) -> list:
    """The layers of a network that can be drawn opened: those applying a cell."""
    return [n for n, layer in G.layers() if layer.app.cell is not None]


def _network_drawings(path: str, name: str) -> list:
    """The paper drawings of a network, from a fresh load: compact, and every cell layer opened."""
    program = rnndsl.load(str(ROOT / path))
    G = program.graphs[name]
    drawings = [render_network(G, program.graphs, style="paper")]
    if _openable(G):
        drawings.append(render_network(G, program.graphs, expand=_openable(G), style="paper"))
    return drawings


_GRAY = re.compile(r"#([0-9a-fA-F]{2})\1\1")


def _colours(svg: str) -> set:
    """Every colour an SVG paints with: fill, stroke and color attributes and style properties."""
    found = set(re.findall(r'\b(?:fill|stroke|color)="([^"]*)"', svg))
    found |= set(re.findall(r"\b(?:fill|stroke|color)\s*:\s*([^;\"']+)", svg))
    return {c.strip() for c in found}


def _grayscale(colour: str) -> bool:
    return colour.lower() in ("black", "white", "none", "transparent") or bool(_GRAY.fullmatch(colour))


def _reads(G) -> tuple:
    """(the delays at which the cell reads a value, whether it reads a child's value)."""
    delays = {use.delay for _, _, use in G.uses() if use.delay >= 1 and not use.child}
    return delays, any(use.child for _, _, use in G.uses())


# ---------------------------------------------------------------- every cell, every network


@pytest.mark.parametrize("path", [f for f in _std_files() if _own_cells(f)])
def test_every_std_cell_draws_the_same_bytes_in_grays(path):
    for name in _own_cells(path):
        first, second = _cell_drawings(path, name), _cell_drawings(path, name)
        G = _program(str(ROOT / path)).graphs[name]
        delays, children = _reads(G)
        for i, (a, b) in enumerate(zip(first, second)):
            assert a.source == b.source, name
            svg = output(a)
            assert svg.encode() == output(b).encode(), name
            if i == 0:  # the folded drawing (the unrolled one's TikZ is the same code)
                assert output(a, format="tex") == output(b, format="tex"), name
            odd = {c for c in _colours(svg) if not _grayscale(c)}
            assert not odd, (name, odd)
        folded = first[0].source
        # the legend: a row per kind of edge that is not solid, and only where there is one
        assert ("one step earlier" in folded) == (1 in delays), name
        assert ("each child" in folded) == children, name
        assert ("same step" in folded or "same node" in folded) == bool(delays or children), name
        assert folded.count("style=dashed") == sum(
            1 for _, _, use in G.uses() if use.delay >= 1 and not use.child), name


def test_every_std_cell_is_drawn():
    drawn = {name for f in _std_files() for name in _own_cells(f)}
    assert {"LSTM", "GRU", "Elman", "CTRNN", "ChildSumTreeLSTM", "NTM", "MTRNN"} <= drawn
    cells = _program(str(ROOT / "specs/std/cells.rnn")).graphs
    assert {n for n, G in cells.items() if G.kind == "cell"} <= drawn


@pytest.mark.parametrize("path", [f for f in _example_files() if _networks(f)])
def test_every_example_network_draws_the_same_bytes_in_grays(path):
    for name in _networks(path):
        first, second = _network_drawings(path, name), _network_drawings(path, name)
        for a, b in zip(first, second):
            assert a.source == b.source, name
            svg = output(a)
            assert svg.encode() == output(b).encode(), name
            assert output(a, format="tex") == output(b, format="tex"), name
            odd = {c for c in _colours(svg) if not _grayscale(c)}
            assert not odd, (name, odd)
        compact = first[0].source
        assert "cluster" not in compact and "one step earlier" not in compact  # no cell drawn: no legend


# ---------------------------------------------------------------- PDF


def test_pdf_is_the_same_bytes_from_run_to_run(tmp_path, monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    tagger = rnndsl.load(str(ROOT / "examples/tagger.rnn"))
    drawings = [_cell_drawings("specs/std/lstm.rnn", "LSTM")[0],
                _cell_drawings("specs/std/treelstm.rnn", "ChildSumTreeLSTM")[0],
                _cell_drawings("specs/std/ctrnn.rnn", "CTRNN")[1],
                render_network(tagger.graphs["Tagger"], tagger.graphs, expand=["ctx"], style="paper")]
    for i, dot in enumerate(drawings):
        a, b = output(dot, tmp_path / f"{i}a.pdf"), output(dot, tmp_path / f"{i}b.pdf")
        data = Path(a).read_bytes()
        assert data.startswith(b"%PDF")
        assert data == Path(b).read_bytes(), dot.name
        assert b"/CreationDate" not in data  # cairo's date of the run, blanked


def test_pdf_date_from_source_date_epoch(monkeypatch):
    dot = _cell_drawings("specs/std/elman.rnn", "Elman")[0]
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "86400")
    data = output(dot, format="pdf")
    assert b"/CreationDate (D:19700102000000Z)" in data
    assert output(dot, format="pdf") == data


def test_stable_pdf_rewrites_only_the_dates():
    pdf = b"%PDF-1.5\n<< /Producer (cairo) /CreationDate (D:20261201005739+01'00) >>\nxref 123\n"
    blank = _stable_pdf(pdf, None)
    assert len(blank) == len(pdf) and b"CreationDate" not in blank and b"/Producer (cairo)" in blank
    dated = _stable_pdf(pdf, "0")
    assert len(dated) == len(pdf) and b"/CreationDate (D:19700101000000Z)" in dated
    assert _stable_pdf(b"%PDF no date", None) == b"%PDF no date"


def test_same_bytes_in_another_process():
    # hash randomisation and a fresh interpreter change nothing
    code = (
        "import sys, rnndsl\n"
        "from rnndsl.draw.render import render_cell, render_network, output\n"
        "p = rnndsl.load('specs/std/lstm.rnn'); q = rnndsl.load('examples/tagger.rnn')\n"
        "dots = [render_cell(p.graphs['LSTM'], style='paper'),\n"
        "        render_network(q.graphs['Tagger'], q.graphs, expand=['ctx', 'deep'], style='paper')]\n"
        "out = [output(d, format=f).encode() for d in dots for f in ('dot', 'svg', 'tex')]\n"
        "sys.stdout.buffer.write(b'\\0'.join(out))\n"
    )
    runs = [subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2")]
    assert runs[0] == runs[1]
    p, q = rnndsl.load(str(ROOT / "specs/std/lstm.rnn")), rnndsl.load(str(ROOT / "examples/tagger.rnn"))
    here = [render_cell(p.graphs["LSTM"], style="paper"),
            render_network(q.graphs["Tagger"], q.graphs, expand=["ctx", "deep"], style="paper")]
    assert runs[0] == b"\0".join(output(d, format=f).encode() for d in here for f in ("dot", "svg", "tex"))


# ---------------------------------------------------------------- labels


def _lstm():
    return _program(str(ROOT / "specs/std/lstm.rnn")).graphs["LSTM"]


def test_lstm_labels_are_written_as_papers_write_them():
    dot = render_cell(_lstm(), style="paper").source
    assert dot.count("label=<⊙>") == 3 and dot.count("label=<σ>") == 3 and "label=<tanh>" in dot
    # vectors and matrices bold, indices italic; the same names as LaTeX for the TikZ picture
    assert "<B>h</B><SUB><I>t</I></SUB>" in dot and r'texlbl="$\mathbf{h}_t$"' in dot
    assert "<B>W</B><SUB><I>i</I></SUB>" in dot and r'texlbl="$\mathbf{W}_i$"' in dot
    assert r'texlbl="$\odot$"' in dot and r'texlbl="$\sigma$"' in dot and r'texlbl="$\tanh$"' in dot
    # a read one step back: dashed, labelled t−1, in black; the legend says what it is
    delayed = [line for line in dot.splitlines() if "style=dashed" in line]
    assert len(delayed) == 5 and all("label=<<I>t</I>−1>" in line and "color" not in line for line in delayed)
    assert "one step earlier (<I>t</I>−1)" in dot and 'STYLE="dashed"' in dot
    # no shapes, no docstring, no colour
    assert "[units" not in dot and "Hochreiter" not in dot
    assert all(_grayscale(c) for c in re.findall(r'color="?(#?\w+)', dot))
    svg = output(render_cell(_lstm(), style="paper"))
    assert 'font-family="Times"' in svg and "⊙" in svg and "σ" in svg


def test_notation_statements_name_things_in_the_drawing():
    program = rnndsl.load(NOTATION)
    dot = render_cell(program.graphs["Gated"], style="paper")
    assert r'texlbl="$\beta$"' in dot.source and r'texlbl="${\tilde{h}}_{t}$"' in dot.source
    svg = output(dot)
    assert "β" in svg and "\u0303" in svg  # the combining tilde of h̃
    tikz = output(dot, format="tex")
    assert r"{$\beta$}" in tikz and r"{${\tilde{h}}_{t}$}" in tikz
    assert "\\usepackage{bm}" not in tikz.splitlines()[1]  # no bold Greek letter here


def test_bold_greek_letters_need_bm():
    ctrnn = _program(str(ROOT / "specs/std/ctrnn.rnn")).graphs["CTRNN"]
    tikz = output(render_cell(ctrnn, style="paper"), format="tex")
    assert r"\bm{\tau}" in tikz and r"\bm{\theta}" in tikz
    assert tikz.splitlines()[1] == "% Needs \\usepackage{tikz} and \\usepackage{bm} (bold Greek letters)."
    # continuous time: y(t), its definition an integral
    assert r"{$\mathbf{y}(t)$}" in tikz and r"\displaystyle\int" in tikz


def test_tree_cell_reads_of_children_are_dotted():
    tree = _program(str(ROOT / "specs/std/treelstm.rnn")).graphs["ChildSumTreeLSTM"]
    dot = render_cell(tree, style="paper").source
    dotted = [line for line in dot.splitlines() if "style=dotted" in line]
    assert len(dotted) == 3 and all("label=<<I>k</I>>" in line for line in dotted)
    assert "style=dashed" not in dot
    assert "each child <I>k</I> ∈ <I>C</I>(<I>n</I>)" in dot and "same node" in dot
    assert r"\sum_{k \in C(n)}" in dot


def test_unrolled_paper_drawing():
    dot = render_cell(_lstm(), unroll=3, style="paper").source
    assert len(re.findall(r"subgraph cluster_step_\d+ ", dot)) == 3
    assert "<B>h</B><SUB>2</SUB>" in dot and r"$\mathbf{h}_0 = 0$" in dot
    across = [line for line in dot.splitlines() if "style=dashed" in line]
    # a read of the step before is dashed, with no `t−1` on it: the names' steps and the legend say it
    assert len(across) == 15 and not any("label" in line for line in across)  # 5 reads a step, 3 steps
    assert "one step earlier" in dot and "shared by every step" in dot
    assert "#1f5fa8" not in dot and "fillcolor=\"#fb" not in dot
    tikz = output(render_cell(_lstm(), unroll=3, style="paper"), format="tex")
    assert "{$t = 3$}" in tikz and r"{$\mathbf{h}_0 = 0$}" in tikz and "one step earlier" in tikz


def test_expanded_network():
    program = _program(str(ROOT / "examples/tagger.rnn"))
    G = program.graphs["Tagger"]
    dot = render_network(G, program.graphs, expand=["ctx"], style="paper")
    source = dot.source
    assert "subgraph cluster_Bidirectional_2" in source and '"Bidirectional_2/h"' in source
    assert "forward / backward" in source and "one step earlier" in source
    # the types' dimensions and the layers' hyperparameters as `rnndsl latex` writes them
    assert "label=<seq[2\u2009units]>" in source and r'texlbl="seq[$2\,\mathrm{units}$]"' in source
    assert r'texlbl="$\mathbf{emb} = \operatorname{Embedding}(\mathrm{vocab}, 128)$"' in source
    assert "<B>deep</B> = Stack(GRU(units), depth=2)" in source
    compact = render_network(G, program.graphs, style="paper").source
    assert "one step earlier" not in compact and "A tagger" not in compact


def test_default_style_is_unchanged_by_the_paper_style():
    G = _lstm()
    assert render_cell(G).source == render_cell(G, style="default").source
    assert "texlbl" not in render_cell(G).source and "Helvetica" in render_cell(G).source


def test_unknown_style_is_a_usage_error(tmp_path):
    # Q6: from Python as from the command line, one UsageError with the same text
    G = _lstm()
    with pytest.raises(UsageError) as e:
        render_cell(G, style="fancy")
    assert e.value.render() == "error: unknown style `fancy`: use one of default, paper"
    with pytest.raises(UsageError,
                       match="unknown style `Paper`: use one of default, paper; did you mean `paper`"):
        render_cell(G, unroll=2, style="Paper")
    program = _program(str(ROOT / "examples/tagger.rnn"))
    with pytest.raises(UsageError, match="unknown style ``"):
        render_network(program.graphs["Tagger"], program.graphs, style="")
    with pytest.raises(UsageError) as e:
        program.render("Tagger", style="bogus")
    assert e.value.render() == "error: unknown style `bogus`: use one of default, paper"
    with pytest.raises(UsageError) as e:
        _program(str(ROOT / "specs/std/lstm.rnn")).render("LSTM", tmp_path / "x.svg", style="papr")
    assert e.value.render() == "error: unknown style `papr`: use one of default, paper; did you mean `paper`?"
    assert not (tmp_path / "x.svg").exists()
    assert render.check_style("paper") == "paper"


# ---------------------------------------------------------------- as `rnndsl latex` writes them

NETWORK_NOTATION = r"""
cell E(units: int) {
    input x: [in]
    param W: [units, in]
    param U: [units, units]
    param b: [units]
    h[t] = tanh(W @ x[t] + U @ h[t-1] + b)
    output h
}

network Enc(vocab: int = 100, units: int = 8, rate: float = 1e-3) {
    input source: seq[int]
    notation h_enc = "\\mathbf{H}"
    notation units = "n"
    emb = Embedding(vocab, 16)(source)
    h_enc = E(units)(emb)
    output Dense(vocab, activation=softmax)(h_enc)
}
"""


def _labels(dot, attr: str = "texlbl") -> dict:
    """{node id: its `attr`} of the nodes of a drawing's DOT text."""
    return {m.group(1).strip('"'): m.group(3) for m in
            re.finditer(rf'^\s*("[^"]*"|\w+) \[(.*?\b{attr}=)"((?:[^"\\]|\\.)*)"', dot.source, re.M)}


def test_network_names_follow_notation_statements_and_rnndsl_latex():
    # B10: bound names and hyperparameters by the notation rule and the network's `notation`
    # statements; inputs and bound names bold, hyperparameters not, as `rnndsl latex` writes them
    program = rnndsl.load(NETWORK_NOTATION)
    G = program.graphs["Enc"]
    dot = render_network(G, program.graphs, style="paper")
    tex = _labels(dot)
    assert tex["source"] == r"$\mathbf{source}$"
    assert tex["E_2"] == r"$\mathbf{H} = \operatorname{E}(n)$"
    assert tex["Embedding_1"] == r"$\mathbf{emb} = \operatorname{Embedding}(\mathrm{vocab}, 16)$"
    assert "<B>H</B> = E(<I>n</I>)" in dot.source and "label=<<B>source</B>>" in dot.source
    assert "h_enc" not in dot.source.replace("h_enc =", "")  # the bound name is never written raw
    # the types on the edges name their dimensions alike
    assert r'label=<seq[<I>n</I>]> texlbl="seq[$n$]"' in dot.source
    # each layer's label is its row of `rnndsl latex`, without the input it is applied to
    equations = program.latex("Enc").replace("&=", "=")
    for node in ("Embedding_1", "E_2", "Dense_3"):
        assert tex[node][1:-1] + r"\bigl(" in equations, (node, tex[node])
    assert r"\mathbf{source}" in equations
    # an opened layer's frame says the same
    opened = render_network(G, program.graphs, expand=["h_enc"], style="paper")
    assert r'texlbl="$\mathbf{H} = \operatorname{E}(n)$"' in opened.source
    tikz = output(opened, format="tex")
    assert r"{$\mathbf{H} = \operatorname{E}(n)$}" in tikz


def test_network_final_states_and_float_arguments():
    translate = _program(str(ROOT / "examples/translate.rnn"))
    dot = render_network(translate.graphs["Translate"], translate.graphs, style="paper").source
    # `enc_c, enc_h = LSTM(units, returns=states)(...)`: bold names, one per state
    assert r"$\mathbf{enc}_c, \mathbf{enc}_h = \operatorname{LSTM}(\mathrm{units}, " \
           r"\mathrm{returns}{=}\mathrm{states})$" in dot
    assert r'texlbl="$\mathbf{enc}_c$ \\ {\footnotesize final c}"' in dot
    glass = _program(str(ROOT / "examples/mackey_glass.rnn"))
    dot = render_network(glass.graphs["MackeyGlass"], glass.graphs, style="paper").source
    assert "ridge_alpha=10<SUP>−10</SUP>" in dot and r"\mathrm{ridge\_alpha}{=}10^{-10}" in dot


NUMBERS = r"""
cell Small(units: int) {
    input x: [units]
    param w0: [units] ~ uniform(0, 1)
    state s: [units] = w0
    state m: [units] = 1e-6
    m[t] = 1e-3 * m[t-1] + relu(x[t])
    s[t] = tanh(2.5e-2 - s[t-1] + m[t])
    output s
}
"""


def test_numbers_are_printed_as_papers_print_them():
    # B11: `1e-3` is 10^{-3} in the figure as in `rnndsl latex`, in the HTML label 10 to the −3
    program = rnndsl.load(NUMBERS)
    G = program.graphs["Small"]
    dot = render_cell(G, style="paper").source
    assert r'label=<10<SUP>−3</SUP>>' in dot and r'texlbl="$10^{-3}$"' in dot
    # a constant written into its operation's label
    assert r"label=<2.5 × 10<SUP>−2</SUP> −>" in dot and r'texlbl="$2.5 \times 10^{-2} -$"' in dot
    equations = program.latex("Small")
    assert "10^{-3}" in equations and r"2.5 \times 10^{-2}" in equations
    assert "e-" not in "".join(_labels(render_cell(G, style="paper")).values())
    # the initial states: a number, and a parameter by the notation rule
    unrolled = render_cell(G, unroll=2, style="paper").source
    assert r'texlbl="$\mathbf{m}_0 = 10^{-6}$"' in unrolled and "= 10<SUP>−6</SUP>>" in unrolled
    assert r'texlbl="$\mathbf{s}_0 = \mathbf{w}_0$"' in unrolled
    assert "<B>s</B><SUB>0</SUB> = <B>w</B><SUB>0</SUB>" in unrolled
    assert "w0" not in unrolled.replace('"w0"', "")


def test_ntm_initial_states():
    ntm = _program(str(ROOT / "specs/std/ntm.rnn")).graphs["NTM"]
    unrolled = render_cell(ntm, unroll=2, style="paper").source
    assert r"$\mathbf{M}_0 = 10^{-6}$" in unrolled
    # w starts at the parameter w0, which the notation rule writes w_0 too: no "w_0 = w_0"
    assert 'texlbl="$\\mathbf{w}_0$"' in unrolled and r"\mathbf{w}_0 = \mathbf{w}_0" not in unrolled
    assert "1e-06" not in unrolled


FUNCTION_CELL = r"""
cell Funcs(units: int) {
    input x: [units]
    a[t] = relu(x[t]) + softplus(x[t]) + hard_sigmoid(x[t]) + sign(x[t]) + log_softmax(x[t])
    h[t] = gelu(a[t]) + h[t-1]
    output h
}
"""


def test_functions_are_named_as_notation_names_them():
    # Q2: the figure's function names are notation.FUNCTIONS', as `rnndsl latex` writes them
    program = rnndsl.load(FUNCTION_CELL)
    dot = render_cell(program.graphs["Funcs"], style="paper")
    tex = _labels(dot)
    drawn = {}
    for node, rec in program.graphs["Funcs"].records():
        if rec.kind == "op" and rec.op not in ("add",):
            drawn[rec.op] = node
    assert set(drawn) == {"relu", "softplus", "hard_sigmoid", "sign", "log_softmax", "gelu"}
    for name, node in drawn.items():
        assert tex[node] == f"${notation.function_latex(name)}$", name
        assert f"label=<{notation.function_html(name)}>" in dot.source, name
    assert tex[drawn["relu"]] == r"$\operatorname{ReLU}$"
    assert tex[drawn["hard_sigmoid"]] == r"$\sigma_{\mathrm{hard}}$"
    assert "label=<σ<SUB>hard</SUB>>" in dot.source and "label=<sgn>" in dot.source
    equations = program.latex("Funcs")
    for name in drawn:
        assert notation.function_latex(name) in equations, name
    assert not hasattr(render, "_PAPER_FUNCTIONS")
    # \operatorname is amsmath's: the picture says so, and compiles with what it says it needs
    tikz = output(dot, format="tex")
    assert tikz.splitlines()[1] == (r"% Needs \usepackage{tikz} and \usepackage{amsmath} "
                                    r"(\operatorname, \text).")


# ---------------------------------------------------------------- the styles and the modules


def test_the_styles_answer_the_same_hooks():
    # Q7: the paper style's choices live in rnndsl.draw.paper, the default style's in rnndsl.draw.render;
    # the drawings call the same hooks on either
    hooks = {name for name in vars(render.Default) if not name.startswith("_")}
    assert hooks == {name for name in vars(paper.Paper) if not name.startswith("_")}
    assert {"cell", "node", "edge", "unrolled", "step_node", "delay_edge", "network", "layer",
            "legend"} <= hooks


def _imports(module) -> set:
    """The rnndsl modules a module imports, at the top or inside a function."""
    import ast

    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found |= {node.module} if node.module else {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("rnndsl"):
            found.add(node.module.split(".", 1)[-1])
    return found


def test_module_dependencies_are_one_way():
    # Q4: render runs Graphviz and hands its layout to tikz; tikz and paper know nothing of render
    from rnndsl.draw import tikz

    assert "render" not in _imports(tikz) and "render" not in _imports(paper)
    assert {"tikz", "paper"} <= _imports(render)
    assert not hasattr(tikz, "to_tikz")


def test_dot_failed_takes_a_subprocess_error():
    # D7: `_layout` runs dot with subprocess, and `_dot_failed` is given subprocess's error
    import subprocess as sp
    import typing

    assert typing.get_type_hints(render._dot_failed)["e"] is sp.CalledProcessError
    stderr = b"Warning: x\nError: <stdin>: syntax error in line 1\n"
    error = render._dot_failed(sp.CalledProcessError(1, ["dot", "-Tsvg"], stderr=stderr))
    assert isinstance(error, LayoutError)
    assert error.render().startswith("error: Graphviz's `dot` could not lay the drawing out (exit status 1): "
                                     "syntax error in line 1;")


# ---------------------------------------------------------------- TikZ


def test_tikz_picture_follows_the_layout():
    tikz = output(render_cell(_lstm(), style="paper"), format="tex")
    lines = tikz.splitlines()
    assert lines[0] == "% LSTM: laid out by Graphviz, written by rnndsl.draw.tikz."
    assert lines[2] == "\\begin{tikzpicture}[x=1bp, y=1bp]" and lines[-1] == "\\end{tikzpicture}"
    assert "\\documentclass" not in tikz and "\\usepackage" not in "".join(lines[2:])
    # splines as Bézier curves, arrowheads as the polygons Graphviz computed
    assert tikz.count(".. controls") > 40 and tikz.count("-- cycle;") > 40
    # five dashed delay edges (their arrowheads solid), labelled in math; the legend's dashed sample
    assert tikz.count("dash pattern=on 5bp off 2bp") == 5 + 1
    assert tikz.count("{$t-1$}") == 5 and "one step earlier ($t-1$)" in tikz
    # the values' double border (states), the inputs' gray fill
    assert tikz.count(r"{$\mathbf{h}_t$}") == 1 and "fill={rgb,255:red,232;green,232;blue,232}" in tikz
    # numbers with two decimals, nothing else
    assert not re.search(r"\d\.\d{3}", tikz) and not re.search(r"\(\d+,", tikz)


def test_tikz_writes_text_without_latex_labels():
    # the default style has no texlbl: its text is written, escaped, where Graphviz set it
    tikz = output(render_cell(_lstm()), format="tex")
    assert "z$^{-1}$" in tikz and "LSTM(units)" in tikz and "$\\sigma$" in tikz
    assert "draw={rgb,255:red,31;green,95;blue,168}" in tikz  # colours pass through


def test_tex_escape():
    assert tex_escape("W_i & 100% {x} #1 ~ ^") == r"W\_i \& 100\% \{x\} \#1 \~{} \^{}"
    assert tex_escape("z⁻¹") == "z$^{-1}$"
    assert tex_escape("σ(x) ⊙ y − 1") == r"$\sigma$(x) $\odot$ y $-$ 1"
    assert tex_escape("a\\b") == r"a\textbackslash{}b"


def test_tikz_file_written(tmp_path):
    dot = render_cell(_lstm(), style="paper")
    path = tmp_path / "fig.tex"
    assert output(dot, path) == path
    assert path.read_text(encoding="utf-8") == output(dot, format="tex")


def test_tikz_of_a_failed_layout_is_a_usage_error():
    import graphviz

    with pytest.raises(LayoutError, match="syntax error"):
        output(graphviz.Digraph(body=["a -> {"]), format="tex")


def test_from_layout_handles_graphviz_243_quirks():
    # 2.43's JSON writes an edge's (unfilled) spline as `b` and a filled one as `B`, and an HTML
    # table's dashed border as `dashed(dotted,invis,...)`
    layout = {"name": "g", "_subgraph_cnt": 1, "objects": [
        {"name": "cluster_a", "_draw_": [{"op": "c", "color": "#000000"}, {"op": "C", "color": "#eeeeee"},
                                         {"op": "B", "points": [[0, 0], [0, 1], [1, 1], [1, 0]]}]},
        {"name": "a"}, {"name": "b"}],
        "edges": [{"tail": 1, "head": 2, "_draw_": [
            {"op": "S", "style": "dashed(dotted,invis)"},
            {"op": "b", "points": [[0, 0], [1, 2], [3, 4], [5, 6]]}]}]}
    tikz = from_layout(layout)
    assert r"\filldraw[fill={rgb,255:red,238;green,238;blue,238}] (0.00,0.00) .. controls" in tikz
    assert (r"\draw[dash pattern=on 5bp off 2bp] (0.00,0.00) .. controls (1.00,2.00) and (3.00,4.00) .. "
            r"(5.00,6.00);") in tikz


def _pdflatex(tikz: str, where: Path) -> Path:
    pdflatex = shutil.which("pdflatex")
    assert pdflatex, ("pdflatex is not installed: the TikZ tests compile the pictures, and need TeX "
                      "Live (pdflatex with the tikz, bm and amsmath packages: texlive-latex-base, "
                      "texlive-pictures, texlive-latex-recommended)")
    (where / "figure.tex").write_text(tikz, encoding="utf-8")
    # exactly the packages the picture's second line names
    packages = re.findall(r"\\usepackage\{\w+\}", tikz.splitlines()[1])
    (where / "doc.tex").write_text("\\documentclass{article}\n" + "\n".join(packages)
                                   + "\n\\begin{document}\n\\input{figure.tex}\n\\end{document}\n",
                                   encoding="utf-8")
    done = subprocess.run([pdflatex, "-interaction=nonstopmode", "-halt-on-error", "doc.tex"], cwd=where,
                          capture_output=True, text=True, timeout=120)
    errors = [line for line in done.stdout.splitlines() if line.startswith("!")]
    assert done.returncode == 0, f"pdflatex failed ({done.returncode}): {errors}\n{done.stdout[-2000:]}"
    return where / "doc.pdf"


@pytest.mark.parametrize("which", ["lstm", "tree", "ctrnn", "network", "notation", "numbers", "ntm"])
def test_tikz_compiles(which, tmp_path):
    if which == "network":
        program = _program(str(ROOT / "examples/tagger.rnn"))
        dot = render_network(program.graphs["Tagger"], program.graphs, expand=["ctx", "deep"], style="paper")
    elif which == "notation":
        program = rnndsl.load(NETWORK_NOTATION)
        dot = render_network(program.graphs["Enc"], program.graphs, expand=["h_enc"], style="paper")
    elif which == "numbers":
        dot = render_cell(rnndsl.load(NUMBERS).graphs["Small"], unroll=2, style="paper")
    elif which == "ntm":
        dot = render_cell(_program(str(ROOT / "specs/std/ntm.rnn")).graphs["NTM"], style="paper")
    else:
        path, name = {"lstm": ("specs/std/lstm.rnn", "LSTM"),
                      "tree": ("specs/std/treelstm.rnn", "ChildSumTreeLSTM"),
                      "ctrnn": ("specs/std/ctrnn.rnn", "CTRNN")}[which]
        dot = render_cell(_program(str(ROOT / path)).graphs[name], style="paper")
    pdf = _pdflatex(output(dot, format="tex"), tmp_path)
    assert pdf.read_bytes().startswith(b"%PDF")
