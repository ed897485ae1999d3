"""paper: the paper style of the drawings (rnndsl.draw.render), for a publication.

`rnndsl render --style paper` (`render_cell(G, style="paper")`, `render_network(...)`)
draws the same folded cells, unrolled cells and networks as the default style, with
the choices of a figure in a paper, all of them in this module:

- a serif font (Times) in black, white and grays only, so that the figure prints in
  grayscale: inputs filled light gray, states with a double border, outputs with a
  heavier one, parameters and frames gray;
- names as papers write them, by the rule of rnndsl.draw.notation and the spec's
  `notation` statements, as `rnndsl latex` writes them: a cell's vectors and matrices
  bold, its scalars and hyperparameters not; a network's inputs and bound names bold,
  its hyperparameters not; `h` at step t is h_t, in a continuous-time cell y(t);
- functions as `rnndsl latex` names them (notation.FUNCTION_NAMES: σ, tanh, ReLU), numbers
  as papers print them (`1e-3` is 10⁻³, notation.number_latex), layers as calls with
  their hyperparameters by the same rule (`LSTM(units)`);
- a read at a delay dashed and, in a folded cell, labelled with its index (`t−1`;
  unrolled, the names' subscripts give the steps), a read of a tree node's child
  dotted and labelled `k`, and a legend for such edges below the drawing, only where
  there are some;
- no title, docstring or shapes: the paper's caption says what the figure shows.

Every node, cluster and labelled edge also carries its label as LaTeX in a `texlbl`
attribute (`headtexlbl`, `xtexlbl` for a head label, an xlabel), which the TikZ
export (rnndsl.draw.tikz) typesets in place of Graphviz's text.

`Paper` answers the style hooks that the drawings call (rnndsl.draw.folded, unrolled,
network; `Default` of rnndsl.draw.default is the other style and lists them); this module
knows nothing of the drawings' structure beyond the drawing objects those hooks are given.
"""

from __future__ import annotations

from typing import Optional

import graphviz

from ..lang import ast as A
from ..lang.dims import Dim
from ..lang.grid_reads import position_text
from ..lang.schedules import STEP
from . import notation
from .labels import escape, html_label, small
from .notation import BIG_OPERATORS, OPERATION_SYMBOLS, tex_escape

# Times: fontconfig's match in a PDF or PNG (Times, or Nimbus Roman or Liberation Serif, its metric twins;
# Pango takes Graphviz's own alias "Times-Roman" for the generic serif, DejaVu Serif), `font-family="Times"`
# in an SVG.
FONT = "Times"
GRAY = "#666666"  # parameters' edges, frames
FILL = "#e8e8e8"  # inputs: the one fill of the style
SIZE = "11"  # point size of values and functions (an operation's symbol: 13)
SMALL = "9"  # parameters, edge labels, notes, the legend


# ---------------------------------------------------------------- labels


def _math(tex: str) -> str:
    return f"${tex}$"


def _constant(text: str) -> tuple:
    """(HTML, LaTeX text) of a constant: a number in math, anything else as text."""
    number = notation.number(text)
    return (number[0], _math(number[1])) if number else (escape(text), tex_escape(text))


def _symbol(op: str) -> Optional[tuple]:
    """(HTML-like label, LaTeX math) of an operation drawn as a symbol in a circle: `⊙`, `\\odot`; None
    for one that is not, or that a paper names as a function (`pow`)."""
    text, tex = OPERATION_SYMBOLS.get(op, (None, None))
    return (escape(text), tex) if tex is not None else None


def _function(op: str) -> tuple:
    """(HTML-like label, LaTeX math) of a function drawn in a box: `tanh`, `\\operatorname{softmax}`."""
    name = op.split(".", 1)[-1]
    return notation.function_html(name), notation.function_latex(name)


def _dim(d, names: dict) -> tuple:
    """(HTML, LaTeX math) of a dimension (notation.dimension), or of a number standing for one."""
    if not isinstance(d, Dim):
        return notation.number(str(d)) or (escape(d), tex_escape(str(d)))
    return notation.dimension(d, names)


def _type(t, names: dict) -> tuple:
    """(HTML, LaTeX text) of a network edge's type: `seq[2 units]`, its dimensions by `_dim`."""
    dims = getattr(t, "dims", None)
    if dims is None:
        return escape(t), tex_escape(str(t))
    dtype = [t.dtype] if t.dtype != "float" else []
    html_dims = [_dim(d, names)[0] for d in dims]
    tex_dims = ", ".join(_dim(d, names)[1] for d in dims)
    tex = ", ".join(dtype + ([_math(tex_dims)] if dims else []))
    return f"{escape(t.kind)}[{', '.join(dtype + html_dims)}]", f"{tex_escape(t.kind)}[{tex}]"


def _value(v, names: dict) -> tuple:
    """(HTML, LaTeX math) of an argument value: a hyperparameter's name by the notation rule, a number
    as papers print it, a keyword (`concat`, `softmax`) upright."""
    if isinstance(v, bool):
        return ("true", "\\mathrm{true}") if v else ("false", "\\mathrm{false}")
    if isinstance(v, A.Name):
        return notation.html(v.id, False, None, names), notation.latex(v.id, False, None, names)
    if isinstance(v, Dim):
        return _dim(v, names)
    if isinstance(v, A.String):
        return escape(f'"{v.value}"'), f"\\text{{``{tex_escape(v.value)}''}}"
    if isinstance(v, A.Number):
        text = v.text or str(v.value)
    elif isinstance(v, float):
        text = repr(v)
    elif isinstance(v, str):
        return escape(v), f"\\mathrm{{{tex_escape(v)}}}"
    else:
        text = str(v)
    return notation.number(text) or (escape(text), f"\\text{{{tex_escape(text)}}}")


def _call(call, names: dict) -> tuple:
    """(HTML, LaTeX math) of a layer's call (rnndsl.draw.network's `Call`): `LSTM(units)`, the layer upright,
    its hyperparameters by `_value`, as `rnndsl latex` writes it."""
    return (call.text(head=escape, keyword=lambda k: f"{escape(k)}=", value=lambda v: _value(v, names)[0]),
            call.text(head=lambda h: f"\\operatorname{{{tex_escape(h)}}}",
                      keyword=lambda k: f"\\mathrm{{{tex_escape(k)}}}{{=}}",
                      value=lambda v: _value(v, names)[1]))


def _note(pieces: tuple, names: dict) -> tuple:
    """(HTML, LaTeX text) of an opened layer's note: its text pieces, with a value between each two."""
    html_text, tex = "", ""
    for i, piece in enumerate(pieces):
        if i % 2:
            value = _value(piece, names)
            html_text, tex = html_text + value[0], tex + _math(value[1])
        else:
            html_text, tex = html_text + escape(piece), tex + tex_escape(piece)
    return html_text, tex


def _value_attrs(rec, output: bool) -> dict:
    """An input's or a value's ellipse (`rec`: its record): inputs filled, states doubled, outputs heavier."""
    attrs = dict(shape="ellipse", margin="0.04,0.02", height="0.34")
    if rec.kind == "input":
        attrs.update(style="filled", fillcolor=FILL)
    if getattr(rec, "state", False):
        attrs["peripheries"] = "2"
    if output:
        attrs["penwidth"] = "1.6"
    return attrs


def _graph(name: str) -> graphviz.Digraph:
    return graphviz.Digraph(
        name=name,
        graph_attr=dict(fontname=FONT, fontsize=SMALL, nodesep="0.2", ranksep="0.3",
                        newrank="true", mclimit="10", remincross="true"),
        node_attr=dict(fontname=FONT, fontsize=SIZE, penwidth="0.8"),
        edge_attr=dict(fontname=FONT, fontsize=SMALL, penwidth="0.8", arrowsize="0.6"),
    )


def _legend(index: str, delays, children: bool) -> dict:
    """The legend of a drawing's dashed and dotted edges: graph attributes that set it as the
    drawing's label, below it on the right. A row per kind of edge: a sample of its line, and what it
    reads. `texlbl` holds the rows' text as LaTeX, one line per row (rnndsl.draw.tikz sets them on the rows)."""
    tree = index != "t"
    rows = [("", "same node" if tree else "same step", f" (<I>{index}</I>)", f" (${index}$)")]
    words = {1: "one step earlier", 2: "two steps earlier", 3: "three steps earlier"}
    for k in sorted(delays):
        rows.append(("dashed", words.get(k, f"{k} steps earlier"),
                     f" ({notation.index_html(f'{index}-{k}')})", f" (${index}-{k}$)"))
    if children:
        rows.append(("dotted", "each child", f" <I>k</I> ∈ <I>C</I>(<I>{index}</I>)",
                     f" $k \\in C({index})$"))
    cells = []
    for dash, text, html_math, _ in rows:
        style = f' STYLE="{dash}"' if dash else ""
        # the sample: the lower border of a cell of its own, in the middle of the row's height
        sample = (f'<TABLE BORDER="0" CELLSPACING="0" CELLPADDING="0"><TR><TD WIDTH="24" HEIGHT="5" '
                  f'FIXEDSIZE="TRUE" SIDES="B" BORDER="1"{style}></TD></TR></TABLE>')
        cells.append(f'<TR><TD>{sample}</TD><TD ALIGN="LEFT">{escape(text)}{html_math}</TD></TR>')
    table = ('<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="1" CELLPADDING="1">' + "".join(cells)
             + "</TABLE>")
    return dict(label=html_label(table), labelloc="b", labeljust="r", fontsize=SMALL,
                texlbl=" \\\\ ".join(tex_escape(text) + tex for _, text, _, tex in rows))


def _step_name(G, n: str, s) -> tuple:
    """(HTML, LaTeX) of value `n` at step `s`: `h` with subscript `s`."""
    names = G.header.notation
    bold = bool(G.node(n).shape)
    return notation.html(n, bold, str(s), names), _math(notation.latex(n, bold, str(s), names))


def _initial_value(G, src: str) -> tuple:
    """(HTML, LaTeX math) of a state's initial value: a number as papers print it, a parameter or
    hyperparameter (`w0`) by the notation rule."""
    rec = G.node(src)
    if rec.kind == "input":
        return "0", "0"
    init = rec.init
    names = G.header.notation
    if isinstance(init, str):  # a parameter's or a hyperparameter's name
        bold = init in G.nodes and bool(G.node(init).shape)
        return notation.html(init, bold, None, names), notation.latex(init, bold, None, names)
    return _value(init, names)


def _bound(G, name: str) -> tuple:
    """(HTML, LaTeX math) of a network's input or bound name: bold, as `rnndsl latex` writes it."""
    names = G.header.notation
    return notation.html(name, True, None, names), notation.latex(name, True, None, names)


def _layer_label(G, app, call) -> tuple:
    """(HTML, LaTeX) of a layer: `h = LSTM(units)`, its bound names bold."""
    names = G.header.notation
    bound = [_bound(G, n) for n in app.names]
    sep = ", " if app.ports else " = "  # `c, h = ...` binds one name per state
    html_call, tex_call = _call(call, names)
    if not bound:
        return html_call, _math(tex_call)
    return (sep.join(b[0] for b in bound) + " = " + html_call,
            _math(sep.join(b[1] for b in bound) + " = " + tex_call))


# ---------------------------------------------------------------- the style


class Paper:
    """The paper style's answers to the drawings' style hooks (see `default.Default` for the list)."""

    # ---- all drawings

    def legend(self, dot, index: str, delays, children: bool) -> None:
        if delays or children:
            dot.attr(**_legend(index, delays, children))

    # ---- folded cell

    def cell(self, G, draw) -> graphviz.Digraph:
        dot = _graph(G.header.name)
        dot.attr(rankdir="LR")
        draw(dot)
        return dot

    @staticmethod
    def _name(f, node: str, index: Optional[str] = None) -> tuple:
        """(HTML-like label, LaTeX) of a name of the folded drawing `f`: bold when it is a vector or a
        matrix, `y(t)` for a value of a continuous-time cell."""
        names = f.G.header.notation
        bold = bool(f.G.node(node).shape)
        if index is not None and f.G.header.solver is not None:
            return (notation.html(node, bold, None, names) + f"({notation.index_html(index)})",
                    _math(notation.latex(node, bold, None, names) + f"({index})"))
        return notation.html(node, bold, index, names), _math(notation.latex(node, bold, index, names))

    def node(self, f, g, node: str, rec, note: str) -> None:
        kind = rec.kind
        nid = f.id(node)
        if kind in ("input", "value"):
            # the step's number is `t` itself (rnndsl.lang.schedules), not a value at step t
            label, tex = self._name(f, node, None if node == STEP and f.index == STEP else f.index)
            g.node(nid, html_label(label), texlbl=tex, **_value_attrs(rec, node in f.G.header.outputs))
        elif kind in ("param", "hparam"):
            label, tex = self._name(f, node)
            note = note.strip()
            if note:
                label += "<BR/>" + small(escape(note), 7)
                tex += f" \\\\ {{\\scriptsize {tex_escape(note)}}}"
            g.node(nid, html_label(label), texlbl=tex, shape="plaintext", fontsize=SMALL, margin="0.02",
                   height="0.2", width="0.2")
        elif kind == "const":
            label, tex = _constant(str(rec.label))
            g.node(nid, html_label(label), texlbl=tex, shape="plaintext", fontsize=SMALL, margin="0.02",
                   height="0.2", width="0.2")
        else:
            self._op(f, g, node, rec, note)

    def _operand(self, f, src: str) -> tuple:
        """(HTML, LaTeX math) of a constant or hyperparameter written into an operation's label."""
        rec = f.G.node(src)
        if rec.kind == "hparam":
            label, tex = self._name(f, src)
            return label, tex[1:-1]
        text = str(rec.label)
        return notation.number(text) or (escape(text), "\\text{" + tex_escape(text) + "}")

    def _inlined(self, f, node: str, op: str) -> tuple:
        """(HTML, LaTeX math) of an operation with its constant operand: `1 −`, `−1`, `(·)²`."""
        parts = [self._operand(f, src) if src in f.hidden else None for src, _ in f.G.operands(node)]
        if op == "neg":
            html_op, tex_op = _symbol(op)
            return html_op + parts[0][0], tex_op + parts[0][1]
        if op == "pow":
            left, right = parts
            if right is not None:
                return f"(·)<SUP>{right[0]}</SUP>", f"(\\cdot)^{{{right[1]}}}"
            return f"{left[0]}<SUP>(·)</SUP>", f"{{{left[1]}}}^{{(\\cdot)}}"
        html_op, tex_op = _symbol(op) or _function(op)
        html_parts = [p[0] if p else None for p in parts]
        tex_parts = [p[1] if p else None for p in parts]
        return (" ".join(t for t in (html_parts[0], html_op, html_parts[1]) if t is not None),
                " ".join(t for t in (tex_parts[0], tex_op, tex_parts[1]) if t is not None))

    def _op(self, f, g, node: str, rec, notes: str) -> None:
        op = rec.op
        symbol = False
        if op.startswith("children."):
            reduction = op.split(".", 1)[1]
            html_text, tex = BIG_OPERATORS.get(reduction) or _function(reduction)
            html_text += f"<SUB><I>k</I>∈<I>C</I>(<I>{f.index}</I>)</SUB>"
            tex += f"_{{k \\in C({f.index})}}"
        elif node in f.inlined:
            html_text, tex = self._inlined(f, node, op)
        elif _symbol(op) is not None and not notes:
            html_text, tex = _symbol(op)
            symbol = True
        else:
            html_text, tex = _function(op)
        tex = _math(tex)
        if notes:
            html_text += "<BR/>" + small(escape(notes), 7)
            tex += f" \\\\ {{\\scriptsize {tex_escape(notes)}}}"
        if symbol:
            g.node(f.id(node), html_label(html_text), texlbl=tex, shape="circle", width="0.26", height="0.26",
                   fixedsize="true", fontsize="16" if op == "matmul" else "13")
        else:
            g.node(f.id(node), html_label(html_text), texlbl=tex, shape="box", style="rounded", height="0.28",
                   width="0.3", margin="0.06,0.03")

    def per_child(self, f) -> dict:
        return dict(label=html_label("for each child <I>k</I>"), texlbl="for each child $k$", style="rounded",
                    color=GRAY, penwidth="0.6", fontsize=SMALL, fontname=FONT)

    def marker(self, f, g, name: str, text: str) -> None:
        marker = f.id(f"%out_{name}")
        g.node(marker, html_label(escape(text)), texlbl=tex_escape(text), shape="plaintext", fontsize=SMALL)
        g.edge(f.id(name), marker)

    def edge(self, f, u: str, v: str, use, mark: Optional[str]) -> dict:
        G = f.G
        attrs: dict = {}
        if G.node(u).kind in ("param", "hparam", "const"):
            attrs.update(color=GRAY, penwidth="0.5", arrowsize="0.4")
        if mark:
            attrs.update(headlabel=html_label(escape(mark)), headtexlbl=tex_escape(mark),
                         labelfontsize=SMALL, labeldistance="1.6")
        delay = use.delay
        if use.child:
            attrs.update(style="dotted", label=html_label("<I>k</I>"), texlbl="$k$")
        elif delay >= 1:
            index = f"{f.index}-{delay}" if use.offset is None else position_text(use.offset)
            attrs.update(style="dashed", label=html_label(notation.index_html(index)), texlbl=_math(index))
        if use.defines:
            attrs["penwidth"] = "1.2"
            if G.integrated(v):
                attrs.update(label=html_label("∫"), texlbl="$\\displaystyle\\int$", fontsize="14")
            elif use.index is not None:
                attrs.update(label=f"part {use.index + 1}", texlbl=f"part {use.index + 1}")
        return attrs

    # ---- unrolled cell

    def unrolled(self, G, steps: int) -> graphviz.Digraph:
        dot = _graph(f"{G.header.name}_unrolled")
        dot.attr(rankdir="BT", nodesep="0.35", ranksep="0.45")
        return dot

    def initial_frame(self, c) -> None:
        c.attr(label=html_label("initial state"), texlbl="initial state", style="rounded", color=GRAY,
               penwidth="0.6", labelloc="b")

    def initial_node(self, c, node_id: str, G, src: str, idx: int) -> None:
        label, tex = _step_name(G, src, idx)
        value_html, value_tex = _initial_value(G, src)
        if value_tex != tex.strip("$"):  # a parameter `w0` is already written w_0: no `w_0 = w_0`
            label, tex = f"{label} = {value_html}", tex[:-1] + f" = {value_tex}$"
        c.node(node_id, html_label(label), texlbl=tex, shape="ellipse", color=GRAY, margin="0.04,0.02")

    def step_frame(self, c, s: int) -> None:
        c.attr(label=html_label(f"<I>t</I> = {s}"), texlbl=f"$t = {s}$", style="rounded", color=GRAY,
               penwidth="0.6", labelloc="b")  # rankdir=BT: "b" is the top

    def step_node(self, c, node_id: str, G, n: str, s: int) -> None:
        label, tex = _step_name(G, n, s)
        c.node(node_id, html_label(label), texlbl=tex, **_value_attrs(G.node(n), n in G.header.outputs))

    def now_edge(self) -> dict:
        return {}

    def delay_edge(self, src: str, v: str, s: int, k: int, integral: bool) -> dict:
        # dashed, as in the folded drawing, but with no `t−1`: the names' steps say which step is
        # read, and the label would float among the other edges
        attrs = dict(style="dashed")
        if integral:
            attrs.update(label="∫", texlbl="$\\displaystyle\\int$", fontsize="14")
        return attrs

    def shared(self, dot, G, params: list) -> None:
        names = G.header.notation
        names_html = ", ".join(notation.html(n, bool(rec.shape), None, names) for n, rec in params)
        names_tex = ", ".join(_math(notation.latex(n, bool(rec.shape), None, names)) for n, rec in params)
        dot.node("%params", html_label(f"shared by every step:<BR/>{names_html}"), shape="plaintext",
                 texlbl=f"shared by every step: \\\\ {names_tex}", fontsize=SMALL)

    # ---- network

    def network(self, G) -> graphviz.Digraph:
        dot = _graph(G.header.name)
        dot.attr(rankdir="LR", compound="true", nodesep="0.3", ranksep="0.45")
        dot.node_attr.update(fontsize=SMALL)
        return dot

    def network_input(self, dot, G, node: str, rec) -> None:
        label, tex = _bound(G, node)  # the type is on the edges
        dot.node(node, html_label(label), shape="ellipse", style="filled", fillcolor=FILL, texlbl=_math(tex))

    def network_output(self, dot, node: str, rec) -> None:
        dot.node(node, html_label("output"), texlbl="output", shape="ellipse", penwidth="1.6")

    def network_state(self, dot, G, node: str, rec, bound: str) -> None:
        label, tex = _bound(G, bound)
        dot.node(node, html_label(f"{label}<BR/>{small(escape('final ' + rec.state), 8)}"),
                 texlbl=_math(tex) + f" \\\\ {{\\footnotesize final {tex_escape(rec.state)}}}",
                 shape="ellipse")

    def layer(self, dot, G, node: str, app, call, note: str = "") -> None:
        label, tex = _layer_label(G, app, call)
        if note:  # a grid cell's scan
            label += "<BR/>" + small(escape(note), 8)
            tex += f" \\\\ {{\\footnotesize {tex_escape(note)}}}"
        dot.node(node, html_label(label), texlbl=tex, shape="box", style="rounded")

    def layer_frame(self, c, G, app, call, note: tuple, cell_graph) -> None:
        # no docstring: the paper's caption says what the figure shows
        label, tex = _layer_label(G, app, call)
        if note:
            note_html, note_tex = _note(note, G.header.notation)
            label += "<BR/>" + small(note_html, 8)
            tex += f" \\\\ {{\\footnotesize {note_tex}}}"
        c.attr(label=html_label(label), texlbl=tex, style="rounded", color=GRAY, penwidth="0.6", labelloc="t",
               fontname=FONT, fontsize=SMALL)

    def network_edge(self, G, t) -> dict:
        label, tex = _type(t, G.header.notation)
        return dict(label=html_label(label), texlbl=tex)
