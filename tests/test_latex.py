"""latex and notation: a spec's equations as the LaTeX a paper prints, and its names as papers write them.

The notation rule is checked name by name; the writer on small cells whose LaTeX
is known exactly (the LSTM's gates, a continuous-time cell, a tree cell, scalars
against vectors); `notation` statements and their errors; the `latex` command;
and every cell of specs/ as a standalone document that pdflatex compiles into
one page that is not blank.
"""

from __future__ import annotations

import glob
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from rnndsl.draw import notation
from rnndsl.cli import main
from rnndsl.lang.fmt import format_text as format_source
from rnndsl.program import compile_text, load

ROOT = Path(__file__).resolve().parent.parent


def _latex(text: str, name: str | None = None) -> str:
    return load(text).latex(name)


def _errors(text: str) -> list:
    _, errors = compile_text(text)
    return [e.render() for e in errors]


# ---------------------------------------------------------------- the notation rule


@pytest.mark.parametrize("name, bold, index, expected", [
    ("W_i", True, None, r"\mathbf{W}_i"),
    ("W_in", True, None, r"\mathbf{W}_{\mathrm{in}}"),
    ("W_x_h", True, None, r"\mathbf{W}_{x,h}"),
    ("beta", False, None, r"\beta"),
    ("beta", True, None, r"\bm{\beta}"),
    ("Gamma", False, None, r"\Gamma"),
    ("v_beta", True, None, r"\mathbf{v}_{\beta}"),
    ("h_tilde", True, "t", r"\tilde{\mathbf{h}}_t"),
    ("y_hat_f", True, "t", r"\hat{\mathbf{y}}_{f,t}"),
    ("W1", True, None, r"\mathbf{W}_1"),
    ("h2_f", True, None, r"\mathbf{h}_{2,f}"),
    ("h", True, "t-1", r"\mathbf{h}_{t-1}"),
    ("h_sum", True, "n", r"\mathbf{h}_{\mathrm{sum},n}"),
    ("mem", True, None, r"\mathbf{mem}"),
    ("leak", False, None, r"\mathrm{leak}"),
    ("x", False, None, "x"),
    ("dt", False, None, r"\Delta t"),
])
def test_notation_rule(name, bold, index, expected):
    assert notation.latex(name, bold=bold, index=index) == expected


def test_a_notation_statement_replaces_the_rule_and_keeps_the_index():
    given = {"s": r"\mathcal{S}"}
    assert notation.latex("s", bold=True, notation=given) == r"\mathcal{S}"
    assert notation.latex("s", bold=True, index="t", notation=given) == r"{\mathcal{S}}_{t}"


@pytest.mark.parametrize("name, bold, index, expected", [
    ("W_i", True, None, "<B>W</B><SUB><I>i</I></SUB>"),  # bold upright, as \mathbf
    ("beta", False, None, "β"),
    ("h", True, "t-1", "<B>h</B><SUB><I>t</I>−1</SUB>"),
    ("h_tilde", False, None, "<I>h\u0303</I>"),
    ("h_tilde", True, None, "<B>h\u0303</B>"),
    ("W_in", True, None, "<B>W</B><SUB>in</SUB>"),
])
def test_diagram_labels_follow_the_same_rule(name, bold, index, expected):
    assert notation.html(name, bold=bold, index=index) == expected


def test_latex_to_html_draws_the_common_subset():
    assert notation.latex_to_html(r"\mathbf{W}^{\mathrm{in}}") == "<B>W</B><SUP>in</SUP>"
    assert notation.latex_to_html(r"\tilde{h}_t") == "<I>h\u0303</I><SUB><I>t</I></SUB>"  # the tilde on the h
    assert notation.latex_to_html(r"\tilde{\mathbf{h}}") == "<B>h\u0303</B>"
    assert notation.latex_to_html(r"\alpha<1") == "α&lt;1"


# ---------------------------------------------------------------- cells

LSTM = ROOT / "specs/std/lstm.rnn"


def test_the_lstm_reads_as_in_the_papers():
    tex = _latex(str(LSTM))
    assert r"\mathbf{i}_t &= \sigma(\mathbf{W}_i \mathbf{x}_t + \mathbf{U}_i \mathbf{h}_{t-1} + \mathbf{b}_i)" in tex
    assert r"\mathbf{c}_t &= \mathbf{f}_t \odot \mathbf{c}_{t-1} + \mathbf{i}_t \odot \mathbf{g}_t" in tex
    assert r"\mathbf{h}_t &= \mathbf{o}_t \odot \tanh(\mathbf{c}_t)" in tex
    assert tex.count(r"\begin{align}") == 1 and tex.count(" \\\\\n") == 5  # six rows
    sep = ",\\allowbreak "  # a line may break between the names of a group
    assert (r"where $\mathbf{x}_t \in \mathbb{R}^{\mathrm{in}}$ is the input; the parameters are "
            rf"$\mathbf{{W}}_i{sep}\mathbf{{W}}_f{sep}\mathbf{{W}}_c{sep}\mathbf{{W}}_o "
            r"\in \mathbb{R}^{\mathrm{units} \times \mathrm{in}}$, ") in tex
    biases = rf"$\mathbf{{b}}_i{sep}\mathbf{{b}}_c{sep}\mathbf{{b}}_o{sep}\mathbf{{b}}_f"
    assert biases + r" \in \mathbb{R}^{\mathrm{units}}$." in tex
    assert tex.startswith("% The cell LSTM of ") and "lstm.rnn, written by rnndsl" in tex.splitlines()[0]


SCALARS = '''
cell Leaky(units: int, leak: float = 0.3) {
    input x: [in]
    param W: [units, in]
    param alpha: [] = 1
    param tau: [units] = 1
    a[t] = alpha * x[t]
    h[t] = (1 - leak) * h[t-1] + leak * tanh(W @ x[t]) / tau + 1e-6 * h[t-1] ** 2 - 2.5e-3
    output h
}
'''


def test_scalars_multiply_by_juxtaposition_vectors_element_wise_and_numbers_read_as_papers_write_them():
    tex = _latex(SCALARS)
    assert r"\mathbf{a}_t &= \alpha \mathbf{x}_t" in tex  # alpha has shape []: not bold, no \odot
    assert (r"\mathbf{h}_t &= \left(1 - \mathrm{leak}\right) \mathbf{h}_{t-1} + "
            r"\frac{\mathrm{leak} \tanh(\mathbf{W} \mathbf{x}_t)}{\bm{\tau}} + "
            r"10^{-6} \mathbf{h}_{t-1}^{2} - 2.5 \times 10^{-3}") in tex
    assert r"$\alpha \in \mathbb{R}$" in tex and r"$\bm{\tau} \in \mathbb{R}^{\mathrm{units}}$" in tex


def test_continuous_time_is_written_with_d_dt_and_values_of_t():
    tex = _latex(str(ROOT / "specs/std/ctrnn.rnn"), "CTRNN")
    assert (r"\frac{d}{dt} \mathbf{y}(t) &= \frac{-\mathbf{y}(t) + \mathbf{W} \sigma(\mathbf{y}(t) - \bm{\theta}) "
            r"+ \mathbf{W}_{\mathrm{in}} \mathbf{I}(t)}{\bm{\tau}}") in tex
    assert r"$\mathbf{I}(t) \in \mathbb{R}^{\mathrm{in}}$ is the input" in tex


def test_a_tree_cell_sums_over_the_children():
    tex = _latex(str(ROOT / "specs/std/treelstm.rnn"))
    assert r"\mathbf{h}_{\mathrm{sum},n} &= \sum_{k \in C(n)} \mathbf{h}_k" in tex
    assert (r"\sum_{k \in C(n)} \sigma(\mathbf{W}_f \mathbf{x}_n + \mathbf{U}_f \mathbf{h}_k + \mathbf{b}_f) "
            r"\odot \mathbf{c}_k") in tex


def test_functions_dimensions_and_fixed_or_fitted_parameters():
    tex = _latex(str(ROOT / "specs/std/esn.rnn"), "ESNReadout")
    assert r"\mathbf{z}_t &= \left[\mathbf{x}_t; \mathbf{h}_t\right]" in tex  # concat
    assert r"\mathbb{R}^{\mathrm{out} \times (\mathrm{in} + \mathrm{units})}" in tex  # a sum among dimensions
    assert r"are fixed and $\mathbf{W}_{\mathrm{out}}, \mathbf{b}_{\mathrm{out}}$ are computed in closed form" in tex
    ntm = _latex(str(ROOT / "specs/std/ntm.rnn"))
    assert r"\mathbf{w}_{s,t} &= \mathbf{w}_{g,t} \circledast \mathbf{s}_t" in ntm
    assert r"\left(1 - \mathbf{w}_t \mathbf{e}_t^{\top}\right)" in ntm  # outer product


def test_an_element_wise_product_inside_a_matrix_product_keeps_its_parentheses():
    tex = _latex(str(ROOT / "specs/std/fully_recurrent.rnn"))  # (M * U) @ h[t-1]
    assert r"\left(\mathbf{M} \odot \mathbf{U}\right) \mathbf{h}_{t-1}" in tex


TRICKY = '''
cell Tricky(units: int) {
    input x: [units]
    param W: [units, units]
    param s: [] = 2
    param __: [units] = 0
    a[t] = 1e3 ** 2 * x[t] + transpose(W) ** 2 @ x[t] + square(x[t]) ** 2 + pow(x[t], 3) ** 2
    b[t] = (x[t] / s) ** 2 + square(x=x[t]) + transpose(x=W) @ x[t] + abs(x=x[t]) + __
    c[t] = x[t] * -a[t] + W @ -b[t] + einsum("i,i->i", x[t], b[t])
    output c
}

cell LongODE(units: int, dt: float = 0.1) solver rk4 {
    input x: [units]
    param W: [units, units]
    d/dt y = -y + tanh(W @ y + x[t]) + x[t] * y + W @ x[t] + W @ y + y * y + x[t] * x[t] + W @ (x[t] * y)
    output y
}
'''


def test_tricky_expressions_are_parenthesized_escaped_and_compile(tmp_path):
    program = load(TRICKY)
    tex = program.latex("Tricky", standalone=True)
    assert r"\left(10^{3}\right)^{2}" in tex  # no double superscripts
    assert r"\left(\mathbf{W}^{\top}\right)^{2}" in tex and r"\left(\mathbf{x}_t^{2}\right)^{2}" in tex
    assert r"\left(\mathbf{x}_t^{3}\right)^{2}" in tex and r"\left(\frac{\mathbf{x}_t}{s}\right)^{2}" in tex
    assert r"\mathbf{x}_t^{2} + \mathbf{W}^{\top} \mathbf{x}_t + \left|\mathbf{x}_t\right|" in tex  # by keyword
    assert r"\mathbf{x}_t \odot \left(-\mathbf{a}_t\right) + \mathbf{W} \left(-\mathbf{b}_t\right)" in tex
    assert r"\text{i,i-\textgreater{}i}" in tex and r"\mathbf{\_\_}" in tex
    assert "i,i->i" in _pdf_text(tmp_path, tex)  # not "i,i-¿i"
    ode = program.latex("LongODE", standalone=True)
    assert r"\nonumber \\" in ode.split(r"\frac{d}{dt}")[1]  # a long ODE breaks between terms too
    _pdf_text(tmp_path, ode)


def test_a_network_keeps_the_parentheses_of_its_arithmetic_and_names_outputs_apart():
    tex = _latex('''
import "std/lstm.rnn"
network N(units: int = 8, layers: int = 2) {
    input x: seq[4]
    y1 = LSTM(2 * (units + 1))(x)
    g = Dense(units - (layers - 1))(y1)
    output Dense(3)(g), Dense(2)(y1)
}
''')
    assert r"\operatorname{LSTM}(2 \cdot (\mathrm{units} + 1))" in tex
    assert r"\operatorname{Dense}(\mathrm{units} - (\mathrm{layers} - 1))" in tex
    assert r"\hat{\mathbf{y}}_1 &= \operatorname{Dense}(3)" in tex and r"\hat{\mathbf{y}}_2 &=" in tex
    assert r"the outputs are $\hat{\mathbf{y}}_1$ and $\hat{\mathbf{y}}_2$." in tex


def test_the_header_names_the_file_that_defines_the_cell():
    tex = _latex(str(ROOT / "examples/tagger.rnn"), "LSTM")
    assert tex.splitlines()[0].startswith("% The cell LSTM of ") and "std/lstm.rnn" in tex.splitlines()[0]


# ---------------------------------------------------------------- notation statements

NOTED = '''
cell GRUish(units: int) {
    input x: [in]
    param W: [units, in]
    param rate: [] = 0.5
    notation hh = "\\\\tilde{\\\\mathbf{h}}"
    notation rate = "\\\\eta"
    notation in = "d"
    hh[t] = tanh(W @ x[t])
    h[t] = rate * h[t-1] + hh[t]
    output h
}
'''


def test_notation_statements_name_things_in_the_equations_and_the_where_sentence():
    tex = _latex(NOTED)
    assert r"{\tilde{\mathbf{h}}}_{t} &= \tanh(\mathbf{W} \mathbf{x}_t)" in tex
    assert r"\mathbf{h}_t &= \eta \mathbf{h}_{t-1} + {\tilde{\mathbf{h}}}_{t}" in tex
    assert r"\mathbf{W} \in \mathbb{R}^{\mathrm{units} \times d}" in tex


def test_notation_statements_survive_fmt():
    assert format_source(NOTED) == format_source(format_source(NOTED))
    assert 'notation hh = "\\\\tilde{\\\\mathbf{h}}"' in format_source(NOTED)


def _cell_with(line: str) -> str:
    return f"cell C(units: int) {{\n    input x: [in]\n    param W: [units, in]\n    {line}\n" \
           "    h[t] = tanh(W @ x[t] + h[t-1])\n    output h\n}\n"


@pytest.mark.parametrize("line, message, label", [
    ('notation V = "V"', "error[E0232]: notation for `V`, which this cell does not declare",
     "not a name of this cell"),
    ('notation W = "\\tau"', "error[E0233]: the notation for `W` contains a control character (a tab or a newline)",
     "not usable LaTeX"),
    ('notation W = "\\\\mathbf{W"', "error[E0233]: the notation for `W` leaves a brace open", "not usable LaTeX"),
    ('notation W = "W}"', "error[E0233]: the notation for `W` closes a brace it did not open", "not usable LaTeX"),
    ('notation W = "$W$"', "error[E0233]: the notation for `W` contains `$`: give the math itself, without dollar "
     "signs", "not usable LaTeX"),
    ('notation W = " "', "error[E0233]: the notation for `W` is empty", "not usable LaTeX"),
    ('notation W = "W\\\\"', "error[E0233]: the notation for `W` ends in a backslash", "not usable LaTeX"),
    ('notation W = "W^"', "error[E0233]: the notation for `W` ends in `^`, with nothing to raise or lower",
     "not usable LaTeX"),
    ('notation W = "W_"', "error[E0233]: the notation for `W` ends in `_`, with nothing to raise or lower",
     "not usable LaTeX"),
    ('notation W = "100%"', "error[E0233]: the notation for `W` contains `%`, which LaTeX reads as markup: "
     "write `\\\\%`", "not usable LaTeX"),
    ('notation W = "a#"', "error[E0233]: the notation for `W` contains `#`", "not usable LaTeX"),
    ('notation W = "a&b"', "error[E0233]: the notation for `W` contains `&`", "not usable LaTeX"),
    ('notation W = "A"\n    notation W = "B"', "error[E0204]: notation for `W` is given twice", "second notation"),
    ('notaton W = "A"', 'error[E0234]: unknown statement `notaton W = "..."`', "not a statement"),
])
def test_notation_errors(line, message, label):
    errors = _errors(_cell_with(line))
    matching = [e for e in errors if e.startswith(message)]
    assert matching and f"^ {label}" in matching[0], errors


def test_an_escaped_percent_or_brace_is_fine_and_notation_stays_free_as_a_name():
    assert not _errors(_cell_with('notation W = "\\\\{W\\\\}"'))  # escaped braces need no partner
    assert not _errors(_cell_with('notation W = "W^{100\\\\%}"'))
    spec = _cell_with('notation notation = "N"').replace("param W:", "param notation:").replace("W @", "notation @")
    assert not _errors(spec) and r"\tanh(N \mathbf{x}_t + \mathbf{h}_{t-1})" in _latex(spec)
    (error,) = _errors(_cell_with('notaton W = "A"'))
    assert "did you mean `notation`?" in error


def test_a_tab_in_a_notation_says_how_to_write_a_backslash():
    (error,) = _errors(_cell_with('notation W = "\\tau"'))
    assert 'write a LaTeX backslash as `\\\\`, as in `notation h_tilde = "\\\\tilde{h}"`' in error


def test_an_unknown_name_in_a_notation_suggests_the_near_one():
    (error,) = _errors(_cell_with('notation WW = "V"'))
    assert "did you mean `W`?" in error


NET = '''
import "std/lstm.rnn"

network Tagger(units: int = 32) {
    input words: seq[int]
    notation words = "\\\\mathbf{w}"
    emb = Embedding(100, 16)(words)
    h = LSTM(units)(emb)
    output h >> Dense(5, activation=softmax)
}
'''


def test_a_network_is_its_bindings_with_layers_as_operators():
    tex = _latex(NET)
    assert r"\mathbf{emb} &= \operatorname{Embedding}(100, 16)\bigl(\mathbf{w}\bigr)" in tex
    assert r"\mathbf{h} &= \operatorname{LSTM}(\mathrm{units})\bigl(\mathbf{emb}\bigr)" in tex
    assert (r"\mathbf{y} &= \operatorname{Dense}(5, \mathrm{activation}{=}\mathrm{softmax})"
            r"\bigl(\mathbf{h}\bigr)") in tex
    assert r"where $\mathbf{w} \in \mathbb{Z}^{T}$ is the input; the output is $\mathbf{y}$." in tex


def test_a_network_notation_for_an_unbound_name_is_an_error():
    errors = _errors(NET.replace("notation words", "notation wrds"))
    assert any(e.startswith("error[E0232]: notation for `wrds`, which this network does not declare")
               for e in errors), errors


def test_an_initial_state_given_by_name_keeps_its_name():
    tex = _latex(str(ROOT / "examples/hopfield.rnn"))
    assert r"\operatorname{Hopfield}(\mathrm{units})\bigl(\mathbf{update}, \mathbf{s}{=}\mathbf{probe}\bigr)" in tex


# ---------------------------------------------------------------- notebooks


def test_notebooks_show_equations_and_diagrams():
    program = load(str(LSTM))
    cell = program["LSTM"]
    math = cell._repr_latex_()
    assert math.startswith("$$\\begin{aligned}") and math.endswith("\\end{aligned}$$")
    assert r"\mathbf{h}_t &= \mathbf{o}_t \odot \tanh(\mathbf{c}_t)" in math
    assert "<svg" in cell._repr_svg_()
    assert program._repr_latex_() == math
    net = load(NET)
    assert net["Tagger"]._repr_latex_().startswith("$$\\begin{aligned}")
    assert r"\mathbf{y} &= \operatorname{Dense}(5, " in net["Tagger"]._repr_latex_()  # the output's row too
    assert "<svg" in net["Tagger"]._repr_svg_()


# ---------------------------------------------------------------- the command


def test_latex_command_writes_to_stdout_or_a_file(tmp_path, capsys):
    spec = tmp_path / "lstm.rnn"
    spec.write_text(LSTM.read_text())
    assert main(["latex", str(spec)]) == 0
    out = capsys.readouterr().out
    assert r"\mathbf{h}_t &= \mathbf{o}_t \odot \tanh(\mathbf{c}_t)" in out
    target = tmp_path / "lstm.tex"
    assert main(["latex", str(spec), "--cell", "LSTM", "--standalone", "-o", str(target)]) == 0
    assert capsys.readouterr().out == f"wrote {target}\n"
    text = target.read_text()
    assert text.startswith("\\documentclass") and text.rstrip().endswith("\\end{document}")


@pytest.mark.parametrize("argv, message", [
    (["--cell", "LSTN"], "has no cell named `LSTN`; did you mean `LSTM`?"),
    (["--network", "LSTM"], "has no network named `LSTM`"),
    (["-o", "x.pdf"], "cannot write `.pdf`: the output must end in .tex"),
    (["-o", "no/such/dir/x.tex"], "cannot write no/such/dir/x.tex"),
])
def test_latex_command_errors(tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    Path("lstm.rnn").write_text(LSTM.read_text())
    assert main(["latex", "lstm.rnn", *argv]) == 2
    assert message in capsys.readouterr().err


def test_latex_command_reports_spec_errors(tmp_path, capsys):
    spec = tmp_path / "bad.rnn"
    spec.write_text(_cell_with('notation V = "V"'))
    assert main(["latex", str(spec)]) == 1
    assert "E0232" in capsys.readouterr().err


# ---------------------------------------------------------------- pdflatex


def _pdf_text(tmp_path: Path, document: str) -> str:
    """Compile a standalone document with pdflatex; the text of its PDF."""
    (tmp_path / "doc.tex").write_text(document, encoding="utf-8")
    run = subprocess.run([_tool("pdflatex"), "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, [line for line in run.stdout.splitlines() if line.startswith("!")]
    return subprocess.run([_tool("pdftotext"), str(tmp_path / "doc.pdf"), "-"], capture_output=True, text=True,
                          check=True).stdout


def _tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"`{name}` is not installed: `make test` installs TeX Live and poppler-utils (`make tex`)"
    return path


def _cells_of_specs() -> list:
    cases = []
    for path in sorted(glob.glob(str(ROOT / "specs/**/*.rnn"), recursive=True)):
        program = load(path)
        cases += [(Path(path).relative_to(ROOT).as_posix(), name) for name in program.main
                  if name in program.cells]
    return cases


CELLS = _cells_of_specs()


def test_every_cell_of_specs_is_checked():
    names = {name for _, name in CELLS}
    assert {"LSTM", "GRU", "CTRNN", "ChildSumTreeLSTM", "NTM", "Hopfield", "ESN"} <= names and len(CELLS) >= 25


@pytest.mark.parametrize("spec, cell", CELLS, ids=[c for _, c in CELLS])
def test_every_cell_compiles_with_pdflatex_to_one_page(tmp_path, spec, cell):
    pdflatex = _tool("pdflatex")
    tex = tmp_path / f"{cell}.tex"
    assert main(["latex", str(ROOT / spec), "--cell", cell, "--standalone", "-o", str(tex)]) == 0
    run = subprocess.run([pdflatex, "-interaction=nonstopmode", "-halt-on-error", tex.name], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    log = [line for line in run.stdout.splitlines() if line.startswith("!")]
    assert run.returncode == 0, log or run.stdout[-2000:]
    pdf = tmp_path / f"{cell}.pdf"
    assert pdf.read_bytes()[:5] == b"%PDF-"
    info = subprocess.run([_tool("pdfinfo"), str(pdf)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"^Pages:\s+1$", info, re.M), info
    assert "Overfull" not in (tmp_path / f"{cell}.log").read_text(errors="replace"), "an equation runs off the page"
    text = subprocess.run([_tool("pdftotext"), str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert cell in text and "where" in text


def test_the_lstm_page_has_ink_where_the_equations_are(tmp_path):
    tex = tmp_path / "lstm.tex"
    tex.write_text(load(str(ROOT / "specs/std/lstm.rnn")).latex("LSTM", standalone=True))
    subprocess.run([_tool("pdflatex"), "-interaction=nonstopmode", "-halt-on-error", tex.name], cwd=tmp_path,
                   capture_output=True, check=True, timeout=120)
    subprocess.run([_tool("pdftoppm"), "-r", "72", "-gray", "-singlefile", "lstm.pdf", "page"], cwd=tmp_path,
                   check=True)
    pgm = (tmp_path / "page.pgm").read_bytes()
    # binary PGM: "P5\n<w> <h>\n<max>\n" then one byte a pixel
    header, width, height, maxval, pixels = pgm.split(maxsplit=4)
    assert header == b"P5"
    dark = sum(1 for b in pixels[: int(width) * int(height)] if b < 128)
    assert dark > 800, "the page is blank"  # the LSTM's six rows and its `where` make about 1,600
