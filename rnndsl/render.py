"""render: typed IR -> Graphviz drawings (folded cells, unrolled cells, networks).

Three drawings, each a `graphviz.Digraph` built from a typed graph:

- `render_cell(G)`: the cell folded, one step of its equations. Inputs are
  filled ellipses, named values (equation results) bold ellipses with their
  shape, states with a double border, outputs red with an `output` marker.
  Operations are small circles (`+ − ⊙ ÷ · σ`) or boxes (`tanh`, `softmax`,
  `Σ children` ...); parameters, hyperparameters and constants are small text
  beside the operation that reads them. A read at a delay, `h[t-1]`, is a
  dashed edge labelled `z⁻¹` from `h` back into the operation; a tree cell's
  read of a child is a dashed edge labelled `children`; the definition of a
  continuous state (`d/dt y = ...`) is labelled `∫`.
- `render_cell(G, unroll=K)`: K steps left to right, one cluster per step,
  values only (`h[1]`, `x[2]`): an edge from each value to each value whose
  equation reads it; a read k steps back comes from step s-k, or from an
  initial-state node `h[0]`. Parameters are shared and listed once.
- `render_network(G, graphs, expand)`: a box per layer application, typed
  edges; an expanded layer is a cluster holding its cell's folded drawing.

Each drawing comes in two styles. `style="default"` is the screen style above:
colour, shapes beside the names, the docstring as a caption. `style="paper"` is
drawn for a publication: a serif font (Times), names as papers write them
(rnndsl.notation: bold vectors and matrices, italic indices, Greek letters, the
spec's `notation` statements), black, white and grays only, a read at a delay
dashed *and* labelled with its index (`t−1`), a child read dotted and labelled
`k`, and a legend for those edges below the drawing, only where there are some.
Every node and labelled edge of the paper style also carries its label as LaTeX
in a `texlbl` attribute (`headtexlbl`, `xtexlbl` for a head label, an xlabel),
which the TikZ export (rnndsl.tikz) typesets in place of Graphviz's text.

`output(dot, path, format)` lays a drawing out with Graphviz's `dot` and writes
it (SVG, PDF, PNG, the DOT text, or TikZ for a `.tex`). The output of a spec is
the same bytes from run to run: the DOT text is built in the graphs' order, and
the one field that varies, the creation date cairo writes into a PDF, is
rewritten (see `_stable_pdf`). A `dot` that is missing or fails is a one-line
`UsageError` (`LayoutError`).
"""

from __future__ import annotations

import html
import os
import re
import subprocess
import textwrap
import time
from pathlib import Path
from typing import Optional

import graphviz
import networkx as nx

from . import ast as A
from . import notation
from .notation import tex_escape
from .builtins import FUNCTIONS, KEYWORD_ONLY, REQUIRED
from .dims import Dim
from .errors import LayoutError, UsageError, did_you_mean
from .layers import CELL_KEYWORDS, ENCODER_DECODER, ENCODER_DECODER_PARAMS, KERAS_LAYERS, WRAPPERS

FORMATS = ("svg", "pdf", "png", "dot", "tex")
STYLES = ("default", "paper")

FONT = "Helvetica,Arial,sans-serif"
SMALL = 8  # point size of parameters, hyperparameters, constants, notes

INPUT_FILL = "#e3eefa"
INPUT_LINE = "#3a6ea5"
VALUE_FILL = "#fffdf2"
OUTPUT_LINE = "#c0392b"
OUTPUT_FILL = "#fdecea"
DELAY = "#1f5fa8"
CHILD = "#7b3fa0"
FAINT = "#666666"
LAYER_FILL = "#f4f4f4"
CLUSTER_FILL = "#fbfbfb"

_SYMBOLS = {
    "add": "+", "sub": "−", "mul": "⊙", "div": "÷", "matmul": "·", "pow": "^",
    "neg": "−", "pos": "+", "lt": "<", "le": "≤", "gt": ">", "ge": "≥", "eq": "=",
    "ne": "≠", "copy": "=", "sigmoid": "σ",
}
_CHILD_REDUCTIONS = {"sum": "Σ children", "prod": "Π children", "mean": "mean children",
                     "max": "max children", "min": "min children", "norm": "norm children"}
# Operations whose operand order matters: the marks on their operands' edges, by position.
_OPERAND_MARKS = {"sub": {1: "−"}, "div": {1: "÷"}, "pow": {1: "exp"},
                  **{c: {1: "rhs"} for c in ("lt", "le", "gt", "ge", "eq", "ne")},
                  "where": {1: "then", 2: "else"}, "clip": {1: "low", 2: "high"}}
# Binary operations among those, whose constant operand is written in the label: `1 −`.
_INLINE = ("sub", "div", "pow", "lt", "le", "gt", "ge", "eq", "ne")
_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


# ---------------------------------------------------------------- small helpers


def _h(text) -> str:
    """Text made safe for a Graphviz HTML-like label."""
    return html.escape(str(text), quote=True)


def _html(body: str) -> str:
    """An HTML-like label (the graphviz package passes `<...>` through unquoted)."""
    return f"<{body}>"


def _small(text: str, size: int = SMALL, color: Optional[str] = None) -> str:
    c = f' color="{color}"' if color else ""
    return f'<font point-size="{size}"{c}>{text}</font>'


def delay_label(k: int) -> str:
    """`z⁻¹`, `z⁻²`, ...: the label of a read k steps back."""
    return "z⁻" + str(k).translate(_SUPERSCRIPT)


def _shape(shape, subst: Optional[dict] = None) -> str:
    if shape is None:
        return "[?]"
    dims = [d.subst(subst) if subst and isinstance(d, Dim) else d for d in shape]
    return "[" + ", ".join(str(d) for d in dims) + "]"


def _summary(doc: Optional[str], width: int = 78, most: int = 4) -> list:
    """The summary of a docstring (its first paragraph), as at most `most` wrapped lines."""
    if not doc:
        return []
    paragraph = []
    for line in doc.strip().splitlines():
        if not line.strip():
            break
        paragraph.append(line.strip())
    lines = textwrap.wrap(" ".join(paragraph), width)
    if len(lines) > most:
        lines = lines[:most]
        lines[-1] = lines[-1].rstrip(" .,;:") + " …"
    return lines


def _value(v) -> str:
    """An argument value as a spec writes it."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, A.Name):
        return v.id
    if isinstance(v, A.Number):
        return v.text or str(v.value)
    if isinstance(v, A.String):
        return f'"{v.value}"'
    if isinstance(v, float):
        return repr(v)
    return str(v)


def _title(G) -> str:
    """`LSTM(units)`, `CTRNN(units, dt=0.1)`: a cell's or network's name and hyperparameters."""
    items = []
    for name, hp in G.graph.get("hparams", {}).items():
        items.append(name if hp.default is None else f"{name}={_value(hp.default)}")
    return f"{G.graph['name']}({', '.join(items)})"


def _caption(G, extra: str = "") -> str:
    """The HTML label of a cell cluster or a network: title, notes and docstring summary."""
    rows = [f"<b>{_h(_title(G))}</b>" + (_small(_h(extra), 10) if extra else "")]
    rows += [_small(_h(line), 9, FAINT) for line in _summary(G.graph.get("doc"))]
    return "<br/>".join(rows)


# ---------------------------------------------------------------- folded cell


def _param_note(data) -> str:
    """What a parameter's label adds: ` fixed`, ` fit hebbian` (not trained by gradient descent)."""
    note = " fixed" if data.get("fixed") else ""
    return note + (f" fit {data['fit'].name.id}" if data.get("fit") is not None else "")


class _Folded:
    """The folded drawing of one cell, into a (sub)graph, node ids prefixed by `prefix`."""

    def __init__(self, G, prefix: str = "", subst: Optional[dict] = None, markers: bool = True):
        self.G = G
        self.p = prefix
        self.subst = subst or {}
        self.markers = markers
        self.rep = self._merge_chains()
        self.inlined = self._inline_constants()
        self.hidden = {src for op in self.inlined for src in G.predecessors(op)
                       if G.nodes[src]["kind"] in ("const", "hparam") and G.out_degree(src) == 1}

    def id(self, node: str) -> str:
        return self.p + node

    def _merge_chains(self) -> dict:
        """`a + b + c` parses as `(a + b) + c`: draw it as one `+` with three operands.

        An add (or mul) whose single use is another add (mul) on the same side of a
        children reduction is merged into it. Returns {op: the op drawn for it}.
        """
        G = self.G
        rep = {}
        for node, data in G.nodes(data=True):
            if data["kind"] != "op" or data["op"] not in ("add", "mul"):
                continue
            outs = list(G.out_edges(node, data=True))
            if len(outs) != 1:
                continue
            _, user, edata = outs[0]
            udata = G.nodes[user]
            if (udata["kind"] == "op" and udata["op"] == data["op"] and edata.get("delay", 0) == 0
                    and udata.get("per_child") == data.get("per_child")):
                rep[node] = user

        def find(n):
            while n in rep:
                n = rep[n]
            return n

        return {n: find(n) for n in G.nodes}

    def _inline_constants(self) -> dict:
        """`1 - z`: a constant or hyperparameter operand of an operation whose operand order
        matters, read only there, is written into the operation's label. Returns {op: [text
        of operand 0 or None, text of operand 1 or None]}; the inlined nodes are not drawn."""
        G = self.G
        out = {}
        for node, data in G.nodes(data=True):
            if data["kind"] != "op" or data["op"] not in _INLINE + ("neg",) or self.rep[node] != node:
                continue
            edges = sorted(G.in_edges(node, data=True), key=lambda e: e[2].get("arg", 0))
            if len(edges) != (1 if data["op"] == "neg" else 2):
                continue
            texts = [None, None]
            for i, (src, _, _) in enumerate(edges):
                sdata = G.nodes[src]
                if sdata["kind"] in ("const", "hparam") and G.out_degree(src) == 1:
                    texts[i] = str(sdata.get("label", src))
            if texts != [None, None]:
                out[node] = texts
        return out

    # ---- nodes

    def draw(self, g: graphviz.Digraph) -> None:
        G = self.G
        per_child = [n for n, d in G.nodes(data=True)
                     if d["kind"] == "op" and d.get("per_child") and self.rep[n] == n]
        hidden = self.hidden
        for node, data in G.nodes(data=True):
            if data["kind"] == "op" and (self.rep[node] != node or node in per_child):
                continue
            if node in hidden:
                continue
            self._node(g, node, data)
        if per_child:
            with g.subgraph(name=f"cluster_{self.p}per_child") as sub:
                sub.attr(**self._per_child_attrs())
                for node in per_child:
                    self._node(sub, node, G.nodes[node])
        for u, v, key, data in G.edges(keys=True, data=True):
            self._edge(g, u, v, data)
        if self.markers:
            outputs = G.graph.get("outputs", [])
            for i, name in enumerate(outputs):
                self._marker(g, name, "output" if len(outputs) == 1 else f"output {i + 1}")

    def _per_child_attrs(self) -> dict:
        return dict(label=_html(_small("for each child k", 9, CHILD)), style="dashed,rounded",
                    color=CHILD, fontname=FONT)

    def _marker(self, g, name: str, text: str) -> None:
        """The `output` marker of output `name`: a word at the end of an arrow."""
        marker = self.id(f"%out_{name}")
        g.node(marker, _html(f"<b>{text}</b>"), shape="plaintext", fontcolor=OUTPUT_LINE,
               fontsize="10", fontname=FONT)
        g.edge(self.id(name), marker, color=OUTPUT_LINE, arrowsize="0.6")

    def _node(self, g, node, data) -> None:
        kind = data["kind"]
        nid = self.id(node)
        shape = _shape(data.get("shape"), self.subst)
        if kind == "input":
            g.node(nid, _html(f"<b>{_h(node)}</b> {_small(_h(shape), 9)}"), shape="ellipse",
                   style="filled", fillcolor=INPUT_FILL, color=INPUT_LINE, fontname=FONT,
                   tooltip=f"input {node}: {shape}")
        elif kind == "value":
            self._value_node(g, node, data, shape)
        elif kind == "param":
            note = _param_note(data)
            label = f"{_h(node)}<br/>{_small(_h(shape) + note, SMALL - 1)}"
            g.node(nid, _html(label), shape="plaintext", fontsize=str(SMALL), fontcolor=FAINT,
                   fontname=FONT, margin="0.02", height="0.2", width="0.2",
                   tooltip=f"param {node}: {shape}")
        elif kind == "hparam":
            g.node(nid, _html(f"<i>{_h(node)}</i>"), shape="plaintext", fontsize=str(SMALL),
                   fontcolor=FAINT, fontname=FONT, margin="0.02", height="0.2", width="0.2",
                   tooltip=f"hyperparameter {node}")
        elif kind == "const":
            g.node(nid, _h(data.get("label", data.get("value"))), shape="plaintext",
                   fontsize=str(SMALL), fontcolor=FAINT, fontname=FONT, margin="0.02",
                   height="0.2", width="0.2")
        else:
            self._op_node(g, node, data)

    def _value_node(self, g, node, data, shape) -> None:
        outputs = self.G.graph.get("outputs", [])
        is_out = node in outputs
        attrs = dict(shape="ellipse", style="filled,bold", fillcolor=VALUE_FILL, penwidth="1.6",
                     fontname=FONT)
        what = "value"
        if data.get("state"):
            attrs["peripheries"] = "2"
            what = "continuous state" if data.get("ode") else "state"
        if is_out:
            attrs.update(color=OUTPUT_LINE, fillcolor=OUTPUT_FILL)
            what = "output " + what
        g.node(self.id(node), _html(f"<b>{_h(node)}</b> {_small(_h(shape), 9)}"),
               tooltip=f"{what} {node}: {shape}", **attrs)

    def _op_node(self, g, node, data) -> None:
        op = data["op"]
        attrs = data.get("attrs") or {}
        if op.startswith("children."):
            text = _CHILD_REDUCTIONS.get(op.split(".", 1)[1], op.replace(".", " "))
        else:
            text = _SYMBOLS.get(op, op)
        notes = _op_notes(op, attrs)
        if node in self.inlined:
            if op == "neg":
                text = text + self.inlined[node][0]  # `−1`
            else:
                left, right = self.inlined[node]
                text = " ".join(t for t in (left, text, right) if t is not None)
        symbol = op in _SYMBOLS and not notes and node not in self.inlined
        if symbol:
            g.node(self.id(node), _h(text), shape="circle", width="0.3", height="0.3",
                   fixedsize="true", fontsize="13" if op != "matmul" else "18", fontname=FONT,
                   tooltip=op)
        else:
            label = _h(text) + ("<br/>" + _small(_h(notes)) if notes else "")
            g.node(self.id(node), _html(label), shape="box", style="rounded", fontsize="11",
                   height="0.3", width="0.3", margin="0.06,0.03", fontname=FONT, tooltip=op)

    # ---- edges

    def _edge(self, g, u, v, data) -> None:
        G = self.G
        if G.nodes[u]["kind"] == "op" and self.rep[u] != u:
            return  # inside a merged chain
        if u in self.hidden:
            return  # written in the operation's label
        v_drawn = self.rep[v]
        attrs = self._edge_attrs(u, v, v_drawn, data)
        tail, head = self.id(u), self.id(v_drawn)
        if data.get("child") or data.get("delay", 0) >= 1 or G.nodes[u].get("ode"):
            if v_drawn in self.upstream(u):
                # A feedback edge: written from the reader to the value and drawn backwards,
                # so that it is laid out along the data flow instead of across the drawing.
                tail, head = head, tail
                attrs["dir"] = "back"
                for key in ("headlabel", "headtexlbl"):
                    if key in attrs:
                        attrs["tail" + key[4:]] = attrs.pop(key)
        g.edge(tail, head, **attrs)

    def _mark(self, v_drawn, data) -> Optional[str]:
        """The mark on an operand's edge where the order of operands matters (`−` on a
        subtrahend), or None."""
        vdata = self.G.nodes[v_drawn]
        if vdata["kind"] != "op" or v_drawn in self.inlined:
            return None
        return _OPERAND_MARKS.get(vdata.get("op"), {}).get(data.get("arg"))

    def _edge_attrs(self, u, v, v_drawn, data) -> dict:
        G = self.G
        attrs = {"arrowsize": "0.6"}
        ukind = G.nodes[u]["kind"]
        if ukind in ("param", "hparam", "const"):
            attrs.update(color=FAINT, penwidth="0.6", arrowsize="0.4")
        mark = self._mark(v_drawn, data)
        if mark:
            attrs.update(headlabel=mark, labelfontsize="10" if len(mark) == 1 else str(SMALL),
                         labelfontcolor=FAINT, labelfontname=FONT, labeldistance="1.6")
        delay = data.get("delay", 0)
        if data.get("child"):
            attrs.update(style="dashed", color=CHILD, fontcolor=CHILD, label="children",
                         fontsize="9", fontname=FONT)
        elif delay >= 1:
            attrs.update(style="dashed", color=DELAY, fontcolor=DELAY, label=delay_label(delay),
                         fontsize="10", fontname=FONT)
        if data.get("role") == "def":
            attrs["penwidth"] = "1.3"
            if G.nodes[v].get("ode"):
                attrs.update(label="∫", fontsize="14", fontname=FONT)
            elif "index" in data:
                attrs.update(label=f"part {data['index'] + 1}", fontsize=str(SMALL), fontname=FONT)
        return attrs

    def upstream(self, value: str) -> set:
        """The nodes that `value` depends on in the same step (through delay-0 edges)."""
        if not hasattr(self, "_now"):
            G = self.G
            self._now = nx.DiGraph()
            self._now.add_nodes_from(self.rep[n] for n in G.nodes)
            for u, v, d in G.edges(data=True):
                if d.get("delay", 0) == 0 and not d.get("child") and not G.nodes[u].get("ode") \
                        and self.rep[u] != self.rep[v]:
                    self._now.add_edge(self.rep[u], self.rep[v])
        return nx.ancestors(self._now, value)


# ---------------------------------------------------------------- paper style

# Times: fontconfig's match in a PDF or PNG (Times, or Nimbus Roman or Liberation Serif, its metric twins;
# Pango takes Graphviz's own alias "Times-Roman" for the generic serif, DejaVu Serif), `font-family="Times"`
# in an SVG.
PAPER_FONT = "Times"
PAPER_GRAY = "#666666"  # parameters' edges, frames
PAPER_FILL = "#e8e8e8"  # inputs: the one fill of the style
PAPER_SIZE = "11"  # point size of values and functions (an operation's symbol: 13)
PAPER_SMALL = "9"  # parameters, edge labels, notes, the legend

# Operations drawn as a symbol in a circle: (HTML-like label, LaTeX math).
_PAPER_SYMBOLS = {
    "add": ("+", "+"), "sub": ("−", "-"), "mul": ("⊙", "\\odot"), "div": ("÷", "\\div"),
    "matmul": ("·", "\\cdot"), "neg": ("−", "-"), "pos": ("+", "+"), "lt": ("&lt;", "<"),
    "le": ("≤", "\\leq"), "gt": ("&gt;", ">"), "ge": ("≥", "\\geq"), "eq": ("=", "="),
    "ne": ("≠", "\\neq"), "copy": ("=", "="), "sigmoid": ("σ", "\\sigma"),
}
# Functions drawn in a box, named as `rnndsl latex` names them; any other is its name, upright.
_PAPER_FUNCTIONS = {
    "tanh": ("tanh", "\\tanh"), "exp": ("exp", "\\exp"), "log": ("log", "\\log"), "sin": ("sin", "\\sin"),
    "cos": ("cos", "\\cos"), "max": ("max", "\\max"), "min": ("min", "\\min"), "maximum": ("max", "\\max"),
    "minimum": ("min", "\\min"), "sign": ("sgn", "\\mathrm{sgn}"), "pow": ("pow", "\\mathrm{pow}"),
    **{name: (text, f"\\mathrm{{{text}}}") for name, text in
       (("relu", "ReLU"), ("elu", "ELU"), ("selu", "SELU"), ("gelu", "GELU"), ("silu", "SiLU"))},
}
_PAPER_CHILD_REDUCTIONS = {"sum": ("Σ", "\\sum"), "prod": ("Π", "\\prod"),
                           "mean": ("mean", "\\mathrm{mean}"), "max": ("max", "\\max"),
                           "min": ("min", "\\min"), "norm": ("norm", "\\mathrm{norm}")}
# The marks on operands' edges (`_OPERAND_MARKS`), as LaTeX.
_PAPER_MARKS = {"−": "$-$", "÷": "$\\div$"}
_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def _check_style(style: str) -> bool:
    """Whether `style` is the paper style; a ValueError for a style that is neither."""
    if style not in STYLES:
        raise ValueError(f"unknown style `{style}`: use one of {', '.join(STYLES)}")
    return style == "paper"


def _math(tex: str) -> str:
    return f"${tex}$"


def _tex_number(text: str) -> str:
    """A constant as LaTeX: a number in math, anything else as text."""
    return _math(text) if _NUMBER.fullmatch(text) else tex_escape(text)


def _paper_function(op: str) -> tuple:
    """(HTML-like label, LaTeX math) of a function drawn in a box: `tanh`, `\\mathrm{softmax}`."""
    name = op.split(".", 1)[-1]
    if name in _PAPER_FUNCTIONS:
        return _PAPER_FUNCTIONS[name]
    return _h(name), "\\mathrm{" + tex_escape(name) + "}"


def _legend(index: str, delays, children: bool) -> dict:
    """The legend of a paper drawing's dashed and dotted edges: graph attributes that set it as the
    drawing's label, below it on the right. A row per kind of edge: a sample of its line, and what it
    reads. `texlbl` holds the rows' text as LaTeX, one line per row (rnndsl.tikz sets them on the rows)."""
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
        cells.append(f'<TR><TD>{sample}</TD><TD ALIGN="LEFT">{_h(text)}{html_math}</TD></TR>')
    table = ('<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="1" CELLPADDING="1">' + "".join(cells)
             + "</TABLE>")
    return dict(label=_html(table), labelloc="b", labeljust="r", fontsize=PAPER_SMALL,
                texlbl=" \\\\ ".join(tex_escape(text) + tex for _, text, _, tex in rows))


def _paper_graph(name: str) -> graphviz.Digraph:
    return graphviz.Digraph(
        name=name,
        graph_attr=dict(fontname=PAPER_FONT, fontsize=PAPER_SMALL, nodesep="0.2", ranksep="0.3",
                        newrank="true", mclimit="10", remincross="true"),
        node_attr=dict(fontname=PAPER_FONT, fontsize=PAPER_SIZE, penwidth="0.8"),
        edge_attr=dict(fontname=PAPER_FONT, fontsize=PAPER_SMALL, penwidth="0.8", arrowsize="0.6"),
    )


class _PaperFolded(_Folded):
    """The folded drawing of one cell in the paper style: names as papers write them, black and grays.

    After `draw`, `delays` holds the delays of the reads drawn and `children` whether a child's
    value is read: what the legend explains."""

    def __init__(self, G, prefix: str = "", subst: Optional[dict] = None, markers: bool = True):
        super().__init__(G, prefix, subst, markers)
        self.notation = G.graph.get("notation") or {}
        self.index = G.graph.get("index") or "t"
        self.continuous = G.graph.get("solver") is not None
        self.delays: set = set()
        self.children = False

    def name(self, node: str, index: Optional[str] = None) -> tuple:
        """(HTML-like label, LaTeX) of a name: bold when it is a vector or a matrix, `y(t)` for a
        value of a continuous-time cell."""
        bold = bool(self.G.nodes[node].get("shape"))
        if index is not None and self.continuous:
            return (notation.html(node, bold, None, self.notation) + f"({notation.index_html(index)})",
                    _math(notation.latex(node, bold, None, self.notation) + f"({index})"))
        return (notation.html(node, bold, index, self.notation),
                _math(notation.latex(node, bold, index, self.notation)))

    def _node(self, g, node, data) -> None:
        kind = data["kind"]
        nid = self.id(node)
        if kind in ("input", "value"):
            label, tex = self.name(node, self.index)
            attrs = dict(shape="ellipse", margin="0.04,0.02", height="0.34")
            if kind == "input":
                attrs.update(style="filled", fillcolor=PAPER_FILL)
            if data.get("state"):
                attrs["peripheries"] = "2"
            if node in self.G.graph.get("outputs", []):
                attrs["penwidth"] = "1.6"
            g.node(nid, _html(label), texlbl=tex, **attrs)
        elif kind in ("param", "hparam"):
            label, tex = self.name(node)
            note = _param_note(data).strip() if kind == "param" else ""
            if note:
                label += "<BR/>" + _small(_h(note), 7)
                tex += f" \\\\ {{\\scriptsize {tex_escape(note)}}}"
            g.node(nid, _html(label), texlbl=tex, shape="plaintext", fontsize=PAPER_SMALL, margin="0.02",
                   height="0.2", width="0.2")
        elif kind == "const":
            text = str(data.get("label", data.get("value")))
            g.node(nid, _html(_h(text)), texlbl=_tex_number(text), shape="plaintext", fontsize=PAPER_SMALL,
                   margin="0.02", height="0.2", width="0.2")
        else:
            self._op_node(g, node, data)

    def _operand(self, src: str) -> tuple:
        """(HTML, LaTeX math) of a constant or hyperparameter written into an operation's label."""
        if self.G.nodes[src]["kind"] == "hparam":
            return (notation.html(src, False, None, self.notation),
                    notation.latex(src, False, None, self.notation))
        text = str(self.G.nodes[src].get("label", src))
        return _h(text), text if _NUMBER.fullmatch(text) else "\\text{" + tex_escape(text) + "}"

    def _inlined_label(self, node: str, op: str) -> tuple:
        """(HTML, LaTeX math) of an operation with its constant operand: `1 −`, `−1`, `(·)²`."""
        G = self.G
        edges = sorted(G.in_edges(node, data=True), key=lambda e: e[2].get("arg", 0))
        parts = [self._operand(src) if src in self.hidden else None for src, _, _ in edges]
        if op == "neg":
            return "−" + parts[0][0], "-" + parts[0][1]
        if op == "pow":
            left, right = parts
            if right is not None:
                return f"(·)<SUP>{right[0]}</SUP>", f"(\\cdot)^{{{right[1]}}}"
            return f"{left[0]}<SUP>(·)</SUP>", f"{{{left[1]}}}^{{(\\cdot)}}"
        html_op, tex_op = _PAPER_SYMBOLS.get(op, (_h(op), "\\mathrm{" + tex_escape(op) + "}"))
        html_parts = [p[0] if p else None for p in parts]
        tex_parts = [p[1] if p else None for p in parts]
        return (" ".join(t for t in (html_parts[0], html_op, html_parts[1]) if t is not None),
                " ".join(t for t in (tex_parts[0], tex_op, tex_parts[1]) if t is not None))

    def _op_node(self, g, node, data) -> None:
        op = data["op"]
        notes = _op_notes(op, data.get("attrs") or {})
        symbol = False
        if op.startswith("children."):
            reduction = op.split(".", 1)[1]
            html_text, tex = _PAPER_CHILD_REDUCTIONS.get(
                reduction, (_h(reduction), "\\mathrm{" + tex_escape(reduction) + "}"))
            html_text += f"<SUB><I>k</I>∈<I>C</I>(<I>{self.index}</I>)</SUB>"
            tex += f"_{{k \\in C({self.index})}}"
        elif node in self.inlined:
            html_text, tex = self._inlined_label(node, op)
        elif op in _PAPER_SYMBOLS and not notes:
            html_text, tex = _PAPER_SYMBOLS[op]
            symbol = True
        else:
            html_text, tex = _paper_function(op)
        tex = _math(tex)
        if notes:
            html_text += "<BR/>" + _small(_h(notes), 7)
            tex += f" \\\\ {{\\scriptsize {tex_escape(notes)}}}"
        if symbol:
            g.node(self.id(node), _html(html_text), texlbl=tex, shape="circle", width="0.26", height="0.26",
                   fixedsize="true", fontsize="16" if op == "matmul" else "13")
        else:
            g.node(self.id(node), _html(html_text), texlbl=tex, shape="box", style="rounded", height="0.28",
                   width="0.3", margin="0.06,0.03")

    def _per_child_attrs(self) -> dict:
        return dict(label=_html("for each child <I>k</I>"), texlbl="for each child $k$", style="rounded",
                    color=PAPER_GRAY, penwidth="0.6", fontsize=PAPER_SMALL, fontname=PAPER_FONT)

    def _marker(self, g, name: str, text: str) -> None:
        marker = self.id(f"%out_{name}")
        g.node(marker, _html(_h(text)), texlbl=tex_escape(text), shape="plaintext", fontsize=PAPER_SMALL)
        g.edge(self.id(name), marker)

    def _edge_attrs(self, u, v, v_drawn, data) -> dict:
        G = self.G
        attrs: dict = {}
        if G.nodes[u]["kind"] in ("param", "hparam", "const"):
            attrs.update(color=PAPER_GRAY, penwidth="0.5", arrowsize="0.4")
        mark = self._mark(v_drawn, data)
        if mark:
            attrs.update(headlabel=_html(_h(mark)), headtexlbl=_PAPER_MARKS.get(mark, tex_escape(mark)),
                         labelfontsize=PAPER_SMALL, labeldistance="1.6")
        delay = data.get("delay", 0)
        if data.get("child"):
            self.children = True
            attrs.update(style="dotted", label=_html("<I>k</I>"), texlbl="$k$")
        elif delay >= 1:
            self.delays.add(delay)
            index = f"{self.index}-{delay}"
            attrs.update(style="dashed", label=_html(notation.index_html(index)), texlbl=_math(index))
        if data.get("role") == "def":
            attrs["penwidth"] = "1.2"
            if G.nodes[v].get("ode"):
                attrs.update(label=_html("∫"), texlbl="$\\displaystyle\\int$", fontsize="14")
            elif "index" in data:
                attrs.update(label=f"part {data['index'] + 1}", texlbl=f"part {data['index'] + 1}")
        return attrs


def _op_notes(op: str, attrs: dict) -> str:
    """The constant arguments of an operation that differ from their defaults: `axis=0`."""
    if not attrs:
        return ""
    name = op.split(".", 1)[-1]
    sig = FUNCTIONS.get(name)
    defaults = {p.name: p.default for p in sig.params} if sig else {}
    for key, (_kind, default) in KEYWORD_ONLY.get(name, {}).items():
        defaults[key] = default
    items = []
    for key, value in attrs.items():
        if key in defaults and defaults[key] is not REQUIRED and defaults[key] == value:
            continue
        if value is None:
            continue
        items.append(f'"{value}"' if key == "subscripts" else f"{key}={_value(value)}")
    return ", ".join(items)


def _cell_extra(G) -> str:
    bits = []
    if G.graph.get("over") == "tree":
        bits.append("over tree")
    if G.graph.get("solver"):
        step = G.graph.get("step")
        bits.append(f"solver {G.graph['solver']}" + (f", step {_value(step)}" if step is not None else ""))
    return ("  (" + "; ".join(bits) + ")") if bits else ""


def _cell_graph(name: str) -> graphviz.Digraph:
    return graphviz.Digraph(
        name=name,
        graph_attr=dict(fontname=FONT, nodesep="0.2", ranksep="0.3", newrank="true", mclimit="10",
                        remincross="true"),
        node_attr=dict(fontname=FONT),
        edge_attr=dict(fontname=FONT),
    )


def render_cell(G, unroll: Optional[int] = None, style: str = "default") -> graphviz.Digraph:
    """The cell of graph `G` folded (one step of its equations), or unrolled over `unroll` steps,
    in `style` ("default" or "paper"; any other is a ValueError)."""
    paper = _check_style(style)
    if unroll is not None:
        return _unrolled(G, unroll, paper)
    if paper:
        dot = _paper_graph(G.graph["name"])
        dot.attr(rankdir="LR")
        folded = _PaperFolded(G)
        folded.draw(dot)
        if folded.delays or folded.children:
            dot.attr(**_legend(folded.index, folded.delays, folded.children))
        return dot
    dot = _cell_graph(G.graph["name"])
    dot.attr(rankdir="LR")
    with dot.subgraph(name=f"cluster_{G.graph['name']}") as c:
        c.attr(label=_html(_caption(G, _cell_extra(G))), labelloc="t", style="rounded,filled",
               fillcolor=CLUSTER_FILL, color="#999999", fontname=FONT, margin="12")
        _Folded(G).draw(c)
    return dot


# ---------------------------------------------------------------- unrolled cell


def _reads(G, value: str) -> list:
    """What the equation of `value` reads: [(input or value, delay)], in order, each once."""
    out: list = []
    seen: set = set()
    stack = [(u, d.get("delay", 0)) for u, _, d in G.in_edges(value, data=True) if d.get("role") == "def"]
    visited_ops: set = set()
    while stack:
        node, delay = stack.pop(0)
        kind = G.nodes[node]["kind"]
        if kind == "op":
            if node in visited_ops:
                continue
            visited_ops.add(node)
            stack.extend((u, d.get("delay", 0)) for u, _, d in
                         sorted(G.in_edges(node, data=True), key=lambda e: e[2].get("arg", 0)))
        elif kind in ("input", "value") and (node, delay) not in seen:
            seen.add((node, delay))
            out.append((node, delay))
    return out


def _levels(G, reads: dict) -> dict:
    """Height of each input and value in a step: inputs 0, a value one above what it reads now."""
    D = nx.DiGraph()
    for n, d in G.nodes(data=True):
        if d["kind"] in ("input", "value"):
            D.add_node(n)
    for v, rs in reads.items():
        for src, delay in rs:
            if delay == 0 and src != v:
                D.add_edge(src, v)
    # A continuous state's derivative may read values computed from the state itself.
    while not nx.is_directed_acyclic_graph(D):
        cycle = nx.find_cycle(D)
        D.remove_edge(*cycle[-1][:2])
    level = {}
    for n in nx.topological_sort(D):
        preds = list(D.predecessors(n))
        level[n] = 1 + max(level[p] for p in preds) if preds else (0 if G.nodes[n]["kind"] == "input" else 1)
    return level


def _unrolled(G, steps: int, paper: bool = False) -> graphviz.Digraph:
    name = G.graph["name"]
    if G.graph.get("over") == "tree":
        raise UsageError(f"--unroll draws time steps; `{name}` is a tree cell")
    if not isinstance(steps, int) or steps < 1:
        raise UsageError("--unroll takes a number of steps of at least 1")
    inputs = [n for n, d in G.nodes(data=True) if d["kind"] == "input"]
    values = [n for n, d in G.nodes(data=True) if d["kind"] == "value"]
    outputs = G.graph.get("outputs", [])
    reads = {v: _reads(G, v) for v in values}
    level = _levels(G, reads)

    if paper:
        dot = _paper_graph(f"{name}_unrolled")
        dot.attr(rankdir="BT", nodesep="0.35", ranksep="0.45")
    else:
        dot = _cell_graph(f"{name}_unrolled")
        dot.attr(rankdir="BT", label=_html(_caption(G, f"  unrolled over {steps} steps")), labelloc="t",
                 nodesep="0.35", ranksep="0.45")
    names = G.graph.get("notation") or {}
    delays: set = set()  # the paper style's legend

    def nid(n, s):
        return f"{n}[{s}]"

    def paper_name(n, s) -> tuple:
        """(HTML, LaTeX) of value `n` at step `s` in the paper style: `h` with subscript `s`."""
        bold = bool(G.nodes[n].get("shape"))
        return (notation.html(n, bold, str(s), names), _math(notation.latex(n, bold, str(s), names)))

    def value_attrs(n):
        d = G.nodes[n]
        if paper:
            attrs = dict(shape="ellipse", margin="0.04,0.02", height="0.34")
            if d["kind"] == "input":
                attrs.update(style="filled", fillcolor=PAPER_FILL)
            if d.get("state"):
                attrs["peripheries"] = "2"
            if n in outputs:
                attrs["penwidth"] = "1.6"
            return attrs
        if d["kind"] == "input":
            return dict(shape="ellipse", style="filled", fillcolor=INPUT_FILL, color=INPUT_LINE)
        attrs = dict(shape="ellipse", style="filled,bold", fillcolor=VALUE_FILL, penwidth="1.6")
        if d.get("state"):
            attrs["peripheries"] = "2"
        if n in outputs:
            attrs.update(color=OUTPUT_LINE, fillcolor=OUTPUT_FILL)
        return attrs

    # initial states: every read before step 1
    initial: dict = {}
    for v in values:
        for src, delay in reads[v]:
            k = delay + (1 if G.nodes[v].get("ode") and src == v and delay == 0 else 0)
            for s in range(1, steps + 1):
                if s - k <= 0 and k >= 1:
                    initial[(src, s - k)] = True
    for v in values:  # a continuous state starts from its initial value
        if G.nodes[v].get("ode"):
            initial[(v, 0)] = True
    if initial:
        with dot.subgraph(name="cluster_initial") as c:
            if paper:
                c.attr(label=_html("initial state"), texlbl="initial state", style="rounded",
                       color=PAPER_GRAY, penwidth="0.6", labelloc="b")
            else:
                c.attr(label=_html(_small("<b>initial state</b>", 10)), style="rounded,dashed",
                       color=FAINT, fontname=FONT, labelloc="b")
            for (src, idx) in sorted(initial, key=lambda k: (k[1], list(G.nodes).index(k[0]))):
                init = G.nodes[src].get("init", 0)
                init_text = "0" if G.nodes[src]["kind"] == "input" else _value(init)
                if paper:
                    label, tex = paper_name(src, idx)
                    c.node(nid(src, idx), _html(f"{label} = {_h(init_text)}"),
                           texlbl=tex[:-1] + f" = {tex_escape(init_text)}$", shape="ellipse",
                           color=PAPER_GRAY, margin="0.04,0.02")
                    continue
                label = f"<b>{_h(src)}[{idx}]</b><br/>{_small('= ' + _h(init_text))}"
                c.node(nid(src, idx), _html(label), shape="ellipse", style="dashed", color=FAINT,
                       fontname=FONT, tooltip=f"initial {src}")

    shown = [n for n in inputs + values if not (n in inputs and not _read_somewhere(n, reads))]
    for s in range(1, steps + 1):
        with dot.subgraph(name=f"cluster_step_{s}") as c:
            if paper:
                c.attr(label=_html(f"<I>t</I> = {s}"), texlbl=f"$t = {s}$", style="rounded", color=PAPER_GRAY,
                       penwidth="0.6", labelloc="b")  # rankdir=BT: "b" is the top
                for n in shown:
                    label, tex = paper_name(n, s)
                    c.node(nid(n, s), _html(label), texlbl=tex, **value_attrs(n))
                continue
            c.attr(label=_html(f"<b>t = {s}</b>"), style="rounded,filled", fillcolor=CLUSTER_FILL,
                   color="#999999", fontname=FONT, labelloc="b")  # rankdir=BT: "b" is the top
            for n in shown:
                c.node(nid(n, s), _html(f"<b>{_h(n)}[{s}]</b>"), fontname=FONT,
                       tooltip=f"{n} at step {s}", **value_attrs(n))

    for s in range(1, steps + 1):
        for v in values:
            ode = G.nodes[v].get("ode")
            # d/dt y: y[s] integrates from y[s-1], whether or not the derivative reads y
            own = [(v, 0)] if ode else []
            for src, delay in own + [r for r in reads[v] if not (ode and r == (v, 0))]:
                k = 1 if (ode and src == v and delay == 0) else delay
                if src == v and k == 0:
                    continue
                tail = nid(src, s - k)
                head = nid(v, s)
                if k == 0:
                    dot.edge(tail, head, **({} if paper else dict(arrowsize="0.7")))
                    continue
                if paper:
                    # dashed, as in the folded drawing, but with no `t−1`: the names' steps say which
                    # step is read, and the label would float among the other edges
                    delays.add(k)
                    attrs = dict(style="dashed")
                    if ode and src == v:
                        attrs.update(label="∫", texlbl="$\\displaystyle\\int$", fontsize="14")
                else:
                    attrs = dict(color=DELAY, fontcolor=DELAY, fontsize="8", arrowsize="0.7",
                                 label="∫" if (ode and src == v) else src,
                                 tooltip=f"{src}[{s - k}] → {v}[{s}]")
                    if ode and src == v:
                        attrs["fontsize"] = "12"
                up, down = level.get(src, 0), level.get(v, 0)
                if up == down:
                    # A flat, horizontal edge from one step to the next. Its text is an
                    # `xlabel`, placed after the layout: dot (2.43) lays the `label` of a flat
                    # edge out as a node of its own in the rank beside the edge, in no step's
                    # cluster, and where that node lands among one step's nodes the steps'
                    # left-to-right constraints form a cycle ("trouble in init_rank": the
                    # LSTM from 7 steps on, the MTRNN from 5). `constraint=false` would not
                    # help: the edge is flat all the same.
                    attrs["minlen"] = "0"
                    if "label" in attrs:
                        attrs["xlabel"] = attrs.pop("label")
                    if "texlbl" in attrs:
                        attrs["xtexlbl"] = attrs.pop("texlbl")
                    if attrs.get("xlabel") == "∫":
                        # ∫ overhangs its text box: a blank line above keeps it off the edge
                        attrs["xlabel"] = _html("<br/>∫")
                elif up > down:
                    # drawn from the later step's value back to the earlier one, arrow reversed:
                    # every edge then agrees with the heights, and the steps keep their order
                    tail, head = head, tail
                    attrs.update(dir="back", weight="0")
                else:
                    attrs["weight"] = "0"
                dot.edge(tail, head, **attrs)
    # The same value at the same height in every step, its initial states too: one rank for
    # all its copies (newrank lets a rank span the clusters). The edges alone leave a value
    # that no chain pins to a height (the NTM's `a`) free to sit higher in one step than in
    # the next.
    for n in shown:
        copies = [nid(n, s) for s in range(1, steps + 1)]
        copies += [nid(n, idx) for idx in sorted(i for (src, i) in initial if src == n)]
        with dot.subgraph() as same:
            same.attr(rank="same")
            for copy in copies:
                same.node(copy)
    # Keep the steps in order, left to right. Graphviz does not hold flat edges between
    # clusters to their direction, so an invisible time line below the steps does it: its
    # own flat edges are kept, and an edge from each of its marks to its step's lowest
    # nodes would cross the others if the steps were out of order.
    bottom = min((level.get(n, 0) for n in shown), default=0)
    marks = ["%t0"] * bool(initial) + [f"%t{s}" for s in range(1, steps + 1)]
    with dot.subgraph() as line:
        line.attr(rank="same")
        for m in marks:
            line.node(m, "", style="invis", width="0", height="0", fixedsize="true")
    for a, b in zip(marks, marks[1:]):
        dot.edge(a, b, style="invis", weight="10")
    for (src, idx) in sorted(initial, key=lambda k: (k[1], list(G.nodes).index(k[0]))):
        dot.edge("%t0", nid(src, idx), style="invis", weight="0")
    for s in range(1, steps + 1):
        for n in shown:
            if level.get(n, 0) == bottom:
                dot.edge(f"%t{s}", nid(n, s), style="invis")
    params = [(n, d) for n, d in G.nodes(data=True) if d["kind"] == "param"]
    if params and paper:
        names_html = ", ".join(notation.html(n, bool(d.get("shape")), None, names) for n, d in params)
        names_tex = ", ".join(_math(notation.latex(n, bool(d.get("shape")), None, names)) for n, d in params)
        dot.node("%params", _html(f"shared by every step:<BR/>{names_html}"), shape="plaintext",
                 texlbl=f"shared by every step: \\\\ {names_tex}", fontsize=PAPER_SMALL)
    if delays:
        dot.attr(**_legend("t", delays, False))
    if params and not paper:
        rows = [_small("<b>shared by every step</b>")]
        rows += [_small(f"{_h(n)} {_h(_shape(d.get('shape')))}" + _param_note(d)) for n, d in params]
        dot.node("%params", _html("<br/>".join(rows)), shape="note", color=FAINT, fontcolor=FAINT,
                 fontname=FONT, margin="0.08,0.04")
    return dot


def _read_somewhere(n: str, reads: dict) -> bool:
    return any(src == n for rs in reads.values() for src, _ in rs)


# ---------------------------------------------------------------- networks


def _layer_call(app, graphs: dict) -> str:
    """`Embedding(vocab, 128)`, `Bidirectional(LSTM(units), merge=concat)`: as a spec writes it."""
    if app.kind == "keras":
        spec = KERAS_LAYERS.get(app.layer)
        items = []
        for p in (spec.params if spec else ()):
            if p.name not in app.args:
                continue
            value = app.args[p.name]
            if p.default is REQUIRED:
                items.append(_value(value))
            elif value != p.default:
                items.append(f"{p.name}={_value(value)}")
        return f"{app.layer}({', '.join(items)})"
    if app.kind == ENCODER_DECODER:
        items = [_cell_call(app.args["encoder"], graphs), _cell_call(app.args["decoder"], graphs)]
        for p in ENCODER_DECODER_PARAMS[2:]:
            value = app.args[p.name]
            if p.default is REQUIRED or value != p.default:
                items.append(f"{p.name}={_value(value)}")
        return f"{app.kind}({', '.join(items)})"
    cell = _cell_call(app.cell, graphs) if app.cell is not None else app.layer
    if app.kind == "cell":
        return cell
    items = [cell]
    for p in WRAPPERS.get(app.kind, ())[1:]:
        if p.name in app.args:
            items.append(f"{p.name}={_value(app.args[p.name])}")
    return f"{app.kind}({', '.join(items)})"


def _cell_call(ref, graphs: dict) -> str:
    G = graphs.get(ref.cell)
    order = list(G.graph["hparams"]) if G is not None else list(ref.args)
    items = []
    positional = True
    for name in order:
        if name not in ref.args:
            positional = False
            continue
        text = _value(ref.args[name])
        items.append(text if positional and text == name else f"{name}={text}")
    for name in ref.args:
        if name not in order:
            items.append(f"{name}={_value(ref.args[name])}")
    default = next(p.default for p in CELL_KEYWORDS if p.name == "returns")
    if ref.returns != default:
        items.append(f"returns={ref.returns}")
    return f"{ref.cell}({', '.join(items)})"


def _expanded(G, expand) -> dict:
    """{application id: the name it was asked by} for the layers to draw opened."""
    apps = {n: d["app"] for n, d in G.nodes(data=True) if d["kind"] == "layer"}
    by_name = {}
    for app_id, app in apps.items():
        by_name[app_id] = app_id
        for bound in app.names:
            by_name[bound] = app_id
    if isinstance(expand, str):
        expand = [expand]
    out = {}
    for name in expand or ():
        if name not in by_name:
            hint = "".join(f"; {h}" for h in did_you_mean(name, by_name))
            raise UsageError(f"network `{G.graph['name']}` has no layer `{name}`{hint}")
        app = apps[by_name[name]]
        if app.kind == ENCODER_DECODER:
            raise UsageError(f"`{name}` is an encoder-decoder, drawn as one layer; render its cells "
                             f"({app.args['encoder'].cell}, {app.args['decoder'].cell}) with --cell")
        if app.cell is None:
            raise UsageError(f"`{name}` is a Keras layer ({app.layer}); only cell layers can be expanded")
        out[by_name[name]] = name
    return out


def _bindings(app, G, cell_graph) -> dict:
    """Shape symbols of the cell bound by this application: its int hyperparameters and,
    where the input is a plain `seq[...]`, its free dimensions."""
    subst = {}
    hparams = cell_graph.graph.get("hparams", {})
    for hp, value in app.cell.args.items():
        if hp in hparams and hparams[hp].type == "int" and isinstance(value, (Dim, int)) \
                and not isinstance(value, bool):
            subst[hp] = Dim.of(value)
    if app.kind == "Stack":
        return subst  # the layers past the first see another input size
    signature = cell_graph.graph.get("signature") or {}
    for (name, shape), src in zip(signature.get("inputs", {}).items(), app.inputs):
        t = G.nodes[src].get("type")
        if t is None or shape is None or len(shape) != len(t.dims):
            continue
        for d, actual in zip(shape, t.dims):
            sym = d.as_symbol()
            if sym is not None and sym in cell_graph.graph.get("free_dims", []):
                subst[sym] = actual
    return subst


def _state_name(data) -> str:
    """The name a final-state node is bound to (`c, h = LSTM(..., returns=states)(x)`)."""
    app = data["app"]
    return app.names[list(app.ports).index(data["state"])]


def render_network(G, graphs: dict, expand=(), style: str = "default") -> graphviz.Digraph:
    """The network of graph `G`: its layers, typed edges; the layers in `expand` opened; in `style`
    ("default" or "paper"; any other is a ValueError)."""
    paper = _check_style(style)
    opened = _expanded(G, expand)
    name = G.graph["name"]
    if paper:
        dot = _paper_graph(name)
        dot.attr(rankdir="LR", compound="true", nodesep="0.3", ranksep="0.45")
        dot.node_attr.update(fontsize=PAPER_SMALL)
    else:
        dot = graphviz.Digraph(
            name=name,
            graph_attr=dict(rankdir="LR", compound="true", fontname=FONT, labelloc="t",
                            nodesep="0.3", ranksep="0.45", newrank="true",
                            label=_html(_caption(G))),
            node_attr=dict(fontname=FONT),
            edge_attr=dict(fontname=FONT, fontsize="10"),
        )
    names = G.graph.get("notation") or {}
    folded_cells = []  # the paper drawings of the opened layers, for the legend
    entry: dict = {}  # app id -> [cell input node ids]
    exit_: dict = {}  # app id -> cell output node id
    for node, data in G.nodes(data=True):
        kind = data["kind"]
        if kind == "input":
            t = data.get("type")
            if paper:  # the type is on the edges
                dot.node(node, _html(notation.html(node, False, None, names)), shape="ellipse",
                         style="filled", fillcolor=PAPER_FILL,
                         texlbl=_math(notation.latex(node, False, None, names)))
            else:
                dot.node(node, _html(f"<b>{_h(node)}</b><br/>{_small(_h(t), 9)}"), shape="ellipse",
                         style="filled", fillcolor=INPUT_FILL, color=INPUT_LINE, tooltip=f"input {node}: {t}")
        elif kind == "output":
            if paper:
                dot.node(node, _html("output"), texlbl="output", shape="ellipse", penwidth="1.6")
            else:
                dot.node(node, _html("<b>output</b>"), shape="ellipse", style="filled,bold",
                         fillcolor=OUTPUT_FILL, color=OUTPUT_LINE, tooltip=f"output: {data.get('type')}")
        elif kind == "state":  # a final state taken by `returns=states`, under the name it is bound to
            bound = _state_name(data)
            if paper:
                dot.node(node, _html(f"{notation.html(bound, False, None, names)}<BR/>"
                                     f"{_small(_h('final ' + data['state']), 8)}"),
                         texlbl=_math(notation.latex(bound, False, None, names))
                         + f" \\\\ {{\\footnotesize final {tex_escape(data['state'])}}}", shape="ellipse")
            else:
                dot.node(node, _html(f"<b>{_h(bound)}</b><br/>{_small(_h('final ' + data['state']), 9)}"),
                         shape="ellipse", tooltip=f"{bound}: final state {data['state']} of {data['app'].id}")
        else:
            app = data["app"]
            call = _layer_call(app, graphs)
            bound = (", " if app.ports else " = ").join(app.names)  # `c, h = ...` binds one name per state
            head = f"<b>{_h(bound)}</b> = " if app.names else ""
            tex_head = f"\\textbf{{{tex_escape(bound)}}} = " if app.names else ""
            if node in opened:
                cell_graph = graphs[app.cell.cell]
                note = {"Stack": f"× {_value(app.args.get('depth'))}  (one cell drawn, stacked)",
                        "Bidirectional": "forward / backward  (one cell drawn, run both ways, merged by "
                                         f"{_value(app.args.get('merge'))})"}.get(app.kind, "")
                rows = [head + _h(call)]
                if note:
                    rows.append(f"<b>{_h(note)}</b>")
                prefix = f"{node}/"
                with dot.subgraph(name=f"cluster_{node}") as c:
                    if paper:  # no docstring: the paper's caption says what the figure shows
                        tex = tex_head + tex_escape(call)
                        if note:
                            tex += f" \\\\ {{\\footnotesize {tex_escape(note)}}}"
                        rows[1:] = [_small(_h(note), 8)] if note else []
                        c.attr(label=_html("<BR/>".join(rows)), texlbl=tex, style="rounded", color=PAPER_GRAY,
                               penwidth="0.6", labelloc="t", fontname=PAPER_FONT, fontsize=PAPER_SMALL)
                        folded = _PaperFolded(cell_graph, prefix, _bindings(app, G, cell_graph),
                                              markers=False)
                        folded.draw(c)
                        folded_cells.append(folded)
                    else:
                        rows += [_small(_h(line), 9, FAINT) for line in _summary(cell_graph.graph.get("doc"))]
                        c.attr(label=_html("<br/>".join(rows)), style="rounded,filled",
                               fillcolor=CLUSTER_FILL, color="#777777", labelloc="t", fontname=FONT)
                        _Folded(cell_graph, prefix, _bindings(app, G, cell_graph), markers=False).draw(c)
                inputs = [n for n, d in cell_graph.nodes(data=True) if d["kind"] == "input"]
                entry[node] = [prefix + n for n in inputs]
                outs = cell_graph.graph.get("outputs", [])
                exit_[node] = prefix + outs[0] if outs else None
            elif paper:
                dot.node(node, _html(f"{head}{_h(call)}"), texlbl=tex_head + tex_escape(call), shape="box",
                         style="rounded")
            else:
                dot.node(node, _html(f"{head}{_h(call)}"), shape="box", style="rounded,filled",
                         fillcolor=LAYER_FILL, tooltip=f"{app.id}: {call}")
    for u, v, data in G.edges(data=True):
        attrs = {}
        t = data.get("type")
        if t is not None:
            attrs["label"] = str(t)
            if paper:
                attrs["texlbl"] = tex_escape(str(t))
        tail, head = u, v
        if u in exit_ and exit_[u] is not None:
            tail = exit_[u]
            attrs["ltail"] = f"cluster_{u}"
        if u in exit_ and "state" in data:  # a final state leaves the opened cell from that state
            tail = f"{u}/{data['state']}"
        if v in entry:
            targets = entry[v]
            if "state" in data:  # an initial state enters the opened cell at that state
                head = f"{v}/{data['state']}"
                attrs["lhead"] = f"cluster_{v}"
            elif targets:
                head = targets[min(data.get("arg", 0), len(targets) - 1)]
                attrs["lhead"] = f"cluster_{v}"
        dot.edge(tail, head, **attrs)
    delays = {k for f in folded_cells for k in f.delays}
    children = any(f.children for f in folded_cells)
    if delays or children:
        index = next(f.index for f in folded_cells if f.delays or f.children)
        dot.attr(**_legend(index, delays, children))
    return dot


# ---------------------------------------------------------------- output


def _missing_dot() -> UsageError:
    return UsageError("Graphviz's `dot` is not installed: install Graphviz (e.g. `apt install graphviz` "
                      "or `brew install graphviz`), or write the DOT text with a `.dot` output")


def _dot_failed(e: graphviz.CalledProcessError) -> LayoutError:
    lines = [line.strip() for line in (e.stderr or b"").decode("utf-8", "replace").splitlines()]
    lines = [line for line in lines if line]
    # dot may print warnings and dumps around its error: the first `Error:` line says what failed
    first = next((line for line in lines if line.lower().startswith("error")), lines[0] if lines else "")
    first = first.split(":", 1)[1].strip() if first.lower().startswith("error:") else first
    first = first.removeprefix("<stdin>:").strip()  # the DOT text is piped in: no file to name
    status = f"exit status {e.returncode}" if e.returncode >= 0 else f"killed by signal {-e.returncode}"
    return LayoutError(f"Graphviz's `dot` could not lay the drawing out ({status}): "
                       + (first or "it gave no reason")
                       + "; a .dot output writes the drawing's DOT text without laying it out")


def _layout(dot: graphviz.Digraph, fmt: str) -> bytes:
    """The drawing laid out by `dot` in format `fmt` (svg, pdf, png, json): the same bytes for the
    same DOT text."""
    env = dict(os.environ)
    if fmt == "pdf":
        env["TZ"] = "UTC"  # cairo writes the date in local time: in UTC, its text has one length
    try:
        # quiet: dot's messages are not shown as they come (a failed layout can print
        # hundreds of lines); the first error of a failure is put into the diagnostic
        done = subprocess.run(["dot", f"-T{fmt}"], input=dot.source.encode("utf-8"), capture_output=True,
                              check=True, env=env)
    except FileNotFoundError:
        raise _missing_dot() from None
    except subprocess.CalledProcessError as e:
        raise _dot_failed(e) from None
    return _stable_pdf(done.stdout, env.get("SOURCE_DATE_EPOCH")) if fmt == "pdf" else done.stdout


_PDF_DATE = re.compile(rb"/(CreationDate|ModDate) \(D:(\d{14})(Z|[+-]\d\d'\d\d'?)?\)")


def _stable_pdf(data: bytes, epoch: Optional[str]) -> bytes:
    """A PDF from cairo with its dates made stable; nothing else changes.

    cairo (1.16, under Graphviz 2.43) writes the time of the run into the document information
    as `/CreationDate (D:20261201005739Z)`: the one field that differs between two runs. With
    SOURCE_DATE_EPOCH set it becomes that time (UTC); without, the entry is blanked to spaces.
    Either way the bytes keep their length, so the cross-reference table stays right.
    """
    stamp = None
    if epoch is not None and epoch.strip().isdigit():
        stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime(int(epoch)))

    def fixed(m) -> bytes:
        old = m.group(0)
        if stamp is None:
            return b" " * len(old)
        new = b"/" + m.group(1) + b" (D:" + stamp.encode() + b"Z)"
        return new + b" " * (len(old) - len(new)) if len(new) <= len(old) else old

    return _PDF_DATE.sub(fixed, data)


def output(dot: graphviz.Digraph, path=None, format: Optional[str] = None):
    """Write or return a drawing.

    With `path`: writes the file, in the format its suffix names (or `format`),
    and returns the path. Without: returns the SVG text (format None or "svg"),
    the DOT source ("dot"), the TikZ picture ("tex", rnndsl.tikz), or the PDF /
    PNG bytes.
    """
    if path is None:
        fmt = (format or "svg").lower()
        if fmt not in FORMATS:
            raise UsageError(f"unknown format `{format}`: use one of {', '.join(FORMATS)}")
        if fmt == "dot":
            return dot.source
        if fmt == "tex":
            return _tikz(dot)
        data = _layout(dot, fmt)
        return data.decode("utf-8") if fmt == "svg" else data
    p = Path(path)
    fmt = (format or p.suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        raise UsageError(f"cannot write `{p.suffix or p.name}`: the output must end in "
                         + ", ".join(f".{f}" for f in FORMATS))
    if fmt == "dot":
        data = dot.source.encode("utf-8")
    elif fmt == "tex":
        data = _tikz(dot).encode("utf-8")
    else:
        data = _layout(dot, fmt)
    try:
        p.write_bytes(data)
    except OSError as e:
        raise UsageError(f"cannot write {p}: {e.strerror}") from None
    return path


def _tikz(dot: graphviz.Digraph) -> str:
    """The TikZ picture of a drawing (rnndsl.tikz)."""
    from .tikz import to_tikz

    return to_tikz(dot)
