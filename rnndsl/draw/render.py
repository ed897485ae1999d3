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

Each drawing comes in two styles. This module decides what is drawn: the nodes,
clusters and edges, and the constraints that keep them in order. How each of
them looks is the style's: `style="default"` (`Default`, below) is the screen
style described above, with colour, shapes beside the names and the docstring
as a caption; `style="paper"` (rnndsl.draw.paper) is drawn for a publication. A
style is an object with a method per thing drawn (`Default` lists them); the
drawings call them and never ask which style they have.

`output(dot, path, format)` lays a drawing out with Graphviz's `dot` and writes
it (SVG, PDF, PNG, the DOT text, or TikZ for a `.tex`: rnndsl.draw.tikz writes the
picture from Graphviz's layout). The output of a spec is the same bytes from run
to run: the DOT text is built in the graphs' order, and the one field that
varies, the creation date cairo writes into a PDF, is rewritten (see
`_stable_pdf`). A `dot` that is missing or fails is a one-line `UsageError`
(`LayoutError`), as are an unknown format and an unknown style.
"""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import graphviz
import networkx as nx

from ..lang import ast as A
from ..lang.builtins import FUNCTIONS, KEYWORD_ONLY, REQUIRED
from ..lang.dims import Dim
from ..lang.errors import LayoutError, UsageError, did_you_mean
from ..lang.layers import CELL_KEYWORDS, ENCODER_DECODER, ENCODER_DECODER_PARAMS, KERAS_LAYERS, WRAPPERS
from .paper import Paper
from .tikz import from_layout

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
    """The folded drawing of one cell, into a (sub)graph, node ids prefixed by `prefix`, each
    node and edge drawn by `style`.

    What a style may read: `G`, `id(node)`, `subst` (the shape symbols bound by a network),
    `inlined` and `hidden` (the operations whose constant operand is written in their label, and
    those operands), `index` (`t`, or a tree cell's node). After `draw`, `delays` holds the delays
    of the reads drawn and `children` whether a child's value is read."""

    def __init__(self, G, style, prefix: str = "", subst: Optional[dict] = None, markers: bool = True):
        self.G = G
        self.style = style
        self.p = prefix
        self.subst = subst or {}
        self.markers = markers
        self.index = G.graph.get("index") or "t"
        self.delays: set = set()
        self.children = False
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

    def draw(self, g: graphviz.Digraph) -> "_Folded":
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
                sub.attr(**self.style.per_child(self))
                for node in per_child:
                    self._node(sub, node, G.nodes[node])
        for u, v, key, data in G.edges(keys=True, data=True):
            self._edge(g, u, v, data)
        if self.markers:
            outputs = G.graph.get("outputs", [])
            for i, name in enumerate(outputs):
                self.style.marker(self, g, name, "output" if len(outputs) == 1 else f"output {i + 1}")
        return self

    def _node(self, g, node, data) -> None:
        kind = data["kind"]
        if kind == "param":
            note = _param_note(data)
        elif kind == "op":
            note = _op_notes(data["op"], data.get("attrs") or {})
        else:
            note = ""
        self.style.node(self, g, node, data, note)

    # ---- edges

    def _edge(self, g, u, v, data) -> None:
        G = self.G
        if G.nodes[u]["kind"] == "op" and self.rep[u] != u:
            return  # inside a merged chain
        if u in self.hidden:
            return  # written in the operation's label
        v_drawn = self.rep[v]
        if data.get("child"):
            self.children = True
        elif data.get("delay", 0) >= 1:
            self.delays.add(data["delay"])
        attrs = self.style.edge(self, u, v, data, self._mark(v_drawn, data))
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
    in `style` ("default" or "paper"; any other is a UsageError)."""
    look = _style(style)
    if unroll is not None:
        return _unrolled(G, unroll, look)
    folded = _Folded(G, look)
    dot = look.cell(G, folded.draw)
    look.legend(dot, folded.index, folded.delays, folded.children)
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


# The most steps an unrolled drawing shows: a figure of more is unreadable, and Graphviz's
# layout time grows faster than the drawing.
MAX_UNROLL = 32


def _unrolled(G, steps: int, style) -> graphviz.Digraph:
    name = G.graph["name"]
    if G.graph.get("over") == "tree":
        raise UsageError(f"--unroll draws time steps; `{name}` is a tree cell")
    if not isinstance(steps, int) or not 1 <= steps <= MAX_UNROLL:
        raise UsageError(f"--unroll takes a number of steps from 1 to {MAX_UNROLL}, not {steps}")
    inputs = [n for n, d in G.nodes(data=True) if d["kind"] == "input"]
    values = [n for n, d in G.nodes(data=True) if d["kind"] == "value"]
    reads = {v: _reads(G, v) for v in values}
    level = _levels(G, reads)

    dot = style.unrolled(G, steps)
    delays: set = set()  # of the reads drawn

    def nid(n, s):
        return f"{n}[{s}]"

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
            style.initial_frame(c)
            for (src, idx) in sorted(initial, key=lambda k: (k[1], list(G.nodes).index(k[0]))):
                style.initial_node(c, nid(src, idx), G, src, idx)

    shown = [n for n in inputs + values if not (n in inputs and not _read_somewhere(n, reads))]
    for s in range(1, steps + 1):
        with dot.subgraph(name=f"cluster_step_{s}") as c:
            style.step_frame(c, s)
            for n in shown:
                style.step_node(c, nid(n, s), G, n, s)

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
                    dot.edge(tail, head, **style.now_edge())
                    continue
                delays.add(k)
                attrs = style.delay_edge(src, v, s, k, bool(ode and src == v))
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
    if params:
        style.shared(dot, G, params)
    style.legend(dot, "t", delays, False)
    return dot


def _read_somewhere(n: str, reads: dict) -> bool:
    return any(src == n for rs in reads.values() for src, _ in rs)


# ---------------------------------------------------------------- networks


@dataclass(frozen=True)
class Call:
    """A layer as a spec calls it: `Bidirectional(LSTM(units), merge=concat)` is the head
    "Bidirectional" and the items ((None, Call("LSTM", ((None, Dim(units)),))), ("merge", "concat")).
    An item is (its keyword, or None where it is written by position; its value: an argument's value
    as the network binds it, or a Call). `items` None: the head alone, without parentheses."""

    head: str
    items: Optional[tuple] = ()

    def text(self, head: Callable = str, keyword: Callable = lambda k: f"{k}=",
             value: Optional[Callable] = None) -> str:
        """The call written out: `head`, `keyword` and `value` write its parts (as a spec does: `_value`)."""
        value = value or _value
        if self.items is None:
            return head(self.head)
        items = [(keyword(k) if k is not None else "")
                 + (v.text(head, keyword, value) if isinstance(v, Call) else value(v)) for k, v in self.items]
        return f"{head(self.head)}({', '.join(items)})"


def _layer_call(app, graphs: dict) -> Call:
    """`Embedding(vocab, 128)`, `Bidirectional(LSTM(units), merge=concat)`: as a spec writes it."""
    if app.kind == "keras":
        spec = KERAS_LAYERS.get(app.layer)
        items = []
        for p in (spec.params if spec else ()):
            if p.name not in app.args:
                continue
            value = app.args[p.name]
            if p.default is REQUIRED:
                items.append((None, value))
            elif value != p.default:
                items.append((p.name, value))
        return Call(app.layer, tuple(items))
    if app.kind == ENCODER_DECODER:
        items = [(None, _cell_call(app.args[p], graphs)) for p in ("encoder", "decoder")]
        for p in ENCODER_DECODER_PARAMS[2:]:
            value = app.args[p.name]
            if p.default is REQUIRED or value != p.default:
                items.append((p.name, value))
        return Call(app.kind, tuple(items))
    cell = _cell_call(app.cell, graphs) if app.cell is not None else Call(app.layer, None)
    if app.kind == "cell":
        return cell
    items = [(None, cell)]
    for p in WRAPPERS.get(app.kind, ())[1:]:
        if p.name in app.args:
            items.append((p.name, app.args[p.name]))
    return Call(app.kind, tuple(items))


def _cell_call(ref, graphs: dict) -> Call:
    G = graphs.get(ref.cell)
    order = list(G.graph["hparams"]) if G is not None else list(ref.args)
    items = []
    positional = True
    for name in order:
        if name not in ref.args:
            positional = False
            continue
        value = ref.args[name]
        items.append((None if positional and _value(value) == name else name, value))
    for name in ref.args:
        if name not in order:
            items.append((name, ref.args[name]))
    default = next(p.default for p in CELL_KEYWORDS if p.name == "returns")
    if ref.returns != default:
        items.append(("returns", ref.returns))
    return Call(ref.cell, tuple(items))


def _opened_note(app) -> tuple:
    """What the frame of an opened layer says besides its call: text, with a value of the layer's
    between each two pieces (`× `, 2, `  (one cell drawn, stacked)`); () for none."""
    if app.kind == "Stack":
        return "× ", app.args.get("depth"), "  (one cell drawn, stacked)"
    if app.kind == "Bidirectional":
        return "forward / backward  (one cell drawn, run both ways, merged by ", app.args.get("merge"), ")"
    return ()


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
    ("default" or "paper"; any other is a UsageError)."""
    look = _style(style)
    opened = _expanded(G, expand)
    dot = look.network(G)
    drawn = []  # the opened layers' drawings, for the legend
    entry: dict = {}  # app id -> [cell input node ids]
    exit_: dict = {}  # app id -> cell output node id
    for node, data in G.nodes(data=True):
        kind = data["kind"]
        if kind == "input":
            look.network_input(dot, G, node, data)
        elif kind == "output":
            look.network_output(dot, node, data)
        elif kind == "state":  # a final state taken by `returns=states`, under the name it is bound to
            look.network_state(dot, G, node, data, _state_name(data))
        else:
            app = data["app"]
            call = _layer_call(app, graphs)
            if node in opened:
                cell_graph = graphs[app.cell.cell]
                prefix = f"{node}/"
                with dot.subgraph(name=f"cluster_{node}") as c:
                    look.layer_frame(c, G, app, call, _opened_note(app), cell_graph)
                    drawn.append(_Folded(cell_graph, look, prefix, _bindings(app, G, cell_graph),
                                         markers=False).draw(c))
                inputs = [n for n, d in cell_graph.nodes(data=True) if d["kind"] == "input"]
                entry[node] = [prefix + n for n in inputs]
                outs = cell_graph.graph.get("outputs", [])
                exit_[node] = prefix + outs[0] if outs else None
            else:
                look.layer(dot, G, node, app, call)
    for u, v, data in G.edges(data=True):
        attrs = {}
        t = data.get("type")
        if t is not None:
            attrs.update(look.network_edge(G, t))
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
    delays = {k for f in drawn for k in f.delays}
    children = any(f.children for f in drawn)
    index = next((f.index for f in drawn if f.delays or f.children), "t")
    look.legend(dot, index, delays, children)
    return dot


# ---------------------------------------------------------------- styles


def check_style(style) -> str:
    """`style`, one of STYLES; any other is a UsageError that names them (and the closest)."""
    if style not in STYLES:
        hint = "".join(f"; {h}" for h in did_you_mean(str(style), STYLES))
        raise UsageError(f"unknown style `{style}`: use one of {', '.join(STYLES)}{hint}")
    return style


def _style(style):
    """The style object of the style named `style`."""
    return {"default": Default, "paper": Paper}[check_style(style)]()


class Default:
    """The default style, for the screen: colour, a sans-serif font, names as the spec writes them
    with their shapes, the docstring as a caption, every read at a delay labelled (`z⁻¹`).

    A style's methods, each called by the drawing of this module that draws the thing:

    - every drawing: `legend(dot, index, delays, children)`, last: the delays of the reads drawn
      and whether a child's value is read, for a style that explains its edges apart;
    - folded cell: `cell(G, draw)` makes the graph and calls `draw(g)` on the (sub)graph the cell
      goes in; `node(f, g, node, data, note)` draws a node of the folded drawing `f` (`_Folded`):
      an input, value, parameter, hyperparameter, constant or operation (`note`: a parameter's
      ` fixed`, an operation's constant arguments); `per_child(f)` the attributes of the cluster of
      the operations done for each child; `marker(f, g, name, text)` an output's marker;
      `edge(f, u, v, data, mark) -> attrs` an edge's (`mark`: the operand's, `−` on a subtrahend);
    - unrolled cell: `unrolled(G, steps)` makes the graph; `initial_frame(c)`, `step_frame(c, s)`
      set the clusters' attributes; `initial_node(c, node_id, G, src, idx)` and
      `step_node(c, node_id, G, n, s)` draw a value at a step; `now_edge() -> attrs`,
      `delay_edge(src, v, s, k, integral) -> attrs` the edges' attributes (a read k steps back;
      `integral`: a continuous state from its previous value); `shared(dot, G, params)` the
      parameters every step shares;
    - network: `network(G)` makes the graph; `network_input(dot, G, node, data)`,
      `network_output(dot, node, data)`, `network_state(dot, G, node, data, bound)` and
      `layer(dot, G, node, app, call)` draw a node (`call`: a `Call`); `layer_frame(c, G, app, call,
      note, cell_graph)` sets an opened layer's cluster's attributes (`note`: `_opened_note`);
      `network_edge(G, t) -> attrs` an edge's attributes, from its type.
    """

    def legend(self, dot, index: str, delays, children: bool) -> None:
        pass  # every such edge is labelled

    # ---- folded cell

    def cell(self, G, draw) -> graphviz.Digraph:
        dot = _cell_graph(G.graph["name"])
        dot.attr(rankdir="LR")
        with dot.subgraph(name=f"cluster_{G.graph['name']}") as c:
            c.attr(label=_html(_caption(G, _cell_extra(G))), labelloc="t", style="rounded,filled",
                   fillcolor=CLUSTER_FILL, color="#999999", fontname=FONT, margin="12")
            draw(c)
        return dot

    def per_child(self, f) -> dict:
        return dict(label=_html(_small("for each child k", 9, CHILD)), style="dashed,rounded",
                    color=CHILD, fontname=FONT)

    def marker(self, f, g, name: str, text: str) -> None:
        """The `output` marker of output `name`: a word at the end of an arrow."""
        marker = f.id(f"%out_{name}")
        g.node(marker, _html(f"<b>{text}</b>"), shape="plaintext", fontcolor=OUTPUT_LINE,
               fontsize="10", fontname=FONT)
        g.edge(f.id(name), marker, color=OUTPUT_LINE, arrowsize="0.6")

    def node(self, f, g, node, data, note: str) -> None:
        kind = data["kind"]
        nid = f.id(node)
        shape = _shape(data.get("shape"), f.subst)
        if kind == "input":
            g.node(nid, _html(f"<b>{_h(node)}</b> {_small(_h(shape), 9)}"), shape="ellipse",
                   style="filled", fillcolor=INPUT_FILL, color=INPUT_LINE, fontname=FONT,
                   tooltip=f"input {node}: {shape}")
        elif kind == "value":
            self._value_node(f, g, node, data, shape)
        elif kind == "param":
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
            self._op_node(f, g, node, data, note)

    def _value_node(self, f, g, node, data, shape) -> None:
        outputs = f.G.graph.get("outputs", [])
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
        g.node(f.id(node), _html(f"<b>{_h(node)}</b> {_small(_h(shape), 9)}"),
               tooltip=f"{what} {node}: {shape}", **attrs)

    def _op_node(self, f, g, node, data, notes: str) -> None:
        op = data["op"]
        if op.startswith("children."):
            text = _CHILD_REDUCTIONS.get(op.split(".", 1)[1], op.replace(".", " "))
        else:
            text = _SYMBOLS.get(op, op)
        if node in f.inlined:
            if op == "neg":
                text = text + f.inlined[node][0]  # `−1`
            else:
                left, right = f.inlined[node]
                text = " ".join(t for t in (left, text, right) if t is not None)
        symbol = op in _SYMBOLS and not notes and node not in f.inlined
        if symbol:
            g.node(f.id(node), _h(text), shape="circle", width="0.3", height="0.3",
                   fixedsize="true", fontsize="13" if op != "matmul" else "18", fontname=FONT,
                   tooltip=op)
        else:
            label = _h(text) + ("<br/>" + _small(_h(notes)) if notes else "")
            g.node(f.id(node), _html(label), shape="box", style="rounded", fontsize="11",
                   height="0.3", width="0.3", margin="0.06,0.03", fontname=FONT, tooltip=op)

    def edge(self, f, u, v, data, mark: Optional[str]) -> dict:
        G = f.G
        attrs = {"arrowsize": "0.6"}
        ukind = G.nodes[u]["kind"]
        if ukind in ("param", "hparam", "const"):
            attrs.update(color=FAINT, penwidth="0.6", arrowsize="0.4")
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

    # ---- unrolled cell

    def unrolled(self, G, steps: int) -> graphviz.Digraph:
        dot = _cell_graph(f"{G.graph['name']}_unrolled")
        dot.attr(rankdir="BT", label=_html(_caption(G, f"  unrolled over {steps} steps")), labelloc="t",
                 nodesep="0.35", ranksep="0.45")
        return dot

    def initial_frame(self, c) -> None:
        c.attr(label=_html(_small("<b>initial state</b>", 10)), style="rounded,dashed",
               color=FAINT, fontname=FONT, labelloc="b")

    def initial_node(self, c, node_id: str, G, src: str, idx: int) -> None:
        init = G.nodes[src].get("init", 0)
        init_text = "0" if G.nodes[src]["kind"] == "input" else _value(init)
        label = f"<b>{_h(src)}[{idx}]</b><br/>{_small('= ' + _h(init_text))}"
        c.node(node_id, _html(label), shape="ellipse", style="dashed", color=FAINT,
               fontname=FONT, tooltip=f"initial {src}")

    def step_frame(self, c, s: int) -> None:
        c.attr(label=_html(f"<b>t = {s}</b>"), style="rounded,filled", fillcolor=CLUSTER_FILL,
               color="#999999", fontname=FONT, labelloc="b")  # rankdir=BT: "b" is the top

    def step_node(self, c, node_id: str, G, n: str, s: int) -> None:
        d = G.nodes[n]
        if d["kind"] == "input":
            attrs = dict(shape="ellipse", style="filled", fillcolor=INPUT_FILL, color=INPUT_LINE)
        else:
            attrs = dict(shape="ellipse", style="filled,bold", fillcolor=VALUE_FILL, penwidth="1.6")
            if d.get("state"):
                attrs["peripheries"] = "2"
            if n in G.graph.get("outputs", []):
                attrs.update(color=OUTPUT_LINE, fillcolor=OUTPUT_FILL)
        c.node(node_id, _html(f"<b>{_h(n)}[{s}]</b>"), fontname=FONT,
               tooltip=f"{n} at step {s}", **attrs)

    def now_edge(self) -> dict:
        return dict(arrowsize="0.7")

    def delay_edge(self, src: str, v: str, s: int, k: int, integral: bool) -> dict:
        attrs = dict(color=DELAY, fontcolor=DELAY, fontsize="8", arrowsize="0.7",
                     label="∫" if integral else src, tooltip=f"{src}[{s - k}] → {v}[{s}]")
        if integral:
            attrs["fontsize"] = "12"
        return attrs

    def shared(self, dot, G, params: list) -> None:
        rows = [_small("<b>shared by every step</b>")]
        rows += [_small(f"{_h(n)} {_h(_shape(d.get('shape')))}" + _param_note(d)) for n, d in params]
        dot.node("%params", _html("<br/>".join(rows)), shape="note", color=FAINT, fontcolor=FAINT,
                 fontname=FONT, margin="0.08,0.04")

    # ---- network

    def network(self, G) -> graphviz.Digraph:
        return graphviz.Digraph(
            name=G.graph["name"],
            graph_attr=dict(rankdir="LR", compound="true", fontname=FONT, labelloc="t",
                            nodesep="0.3", ranksep="0.45", newrank="true",
                            label=_html(_caption(G))),
            node_attr=dict(fontname=FONT),
            edge_attr=dict(fontname=FONT, fontsize="10"),
        )

    def network_input(self, dot, G, node: str, data: dict) -> None:
        t = data.get("type")
        dot.node(node, _html(f"<b>{_h(node)}</b><br/>{_small(_h(t), 9)}"), shape="ellipse",
                 style="filled", fillcolor=INPUT_FILL, color=INPUT_LINE, tooltip=f"input {node}: {t}")

    def network_output(self, dot, node: str, data: dict) -> None:
        dot.node(node, _html("<b>output</b>"), shape="ellipse", style="filled,bold",
                 fillcolor=OUTPUT_FILL, color=OUTPUT_LINE, tooltip=f"output: {data.get('type')}")

    def network_state(self, dot, G, node: str, data: dict, bound: str) -> None:
        dot.node(node, _html(f"<b>{_h(bound)}</b><br/>{_small(_h('final ' + data['state']), 9)}"),
                 shape="ellipse", tooltip=f"{bound}: final state {data['state']} of {data['app'].id}")

    @staticmethod
    def _head(app) -> str:
        bound = (", " if app.ports else " = ").join(app.names)  # `c, h = ...` binds one name per state
        return f"<b>{_h(bound)}</b> = " if app.names else ""

    def layer(self, dot, G, node: str, app, call: Call) -> None:
        call = call.text()
        dot.node(node, _html(f"{self._head(app)}{_h(call)}"), shape="box", style="rounded,filled",
                 fillcolor=LAYER_FILL, tooltip=f"{app.id}: {call}")

    def layer_frame(self, c, G, app, call: Call, note: tuple, cell_graph) -> None:
        rows = [self._head(app) + _h(call.text())]
        if note:
            rows.append(f"<b>{_h(''.join(_value(p) if i % 2 else p for i, p in enumerate(note)))}</b>")
        rows += [_small(_h(line), 9, FAINT) for line in _summary(cell_graph.graph.get("doc"))]
        c.attr(label=_html("<br/>".join(rows)), style="rounded,filled", fillcolor=CLUSTER_FILL,
               color="#777777", labelloc="t", fontname=FONT)

    def network_edge(self, G, t) -> dict:
        return {"label": str(t)}


# ---------------------------------------------------------------- output


def _missing_dot() -> UsageError:
    return UsageError("Graphviz's `dot` is not installed: install Graphviz (e.g. `apt install graphviz` "
                      "or `brew install graphviz`), or write the DOT text with a `.dot` output")


def _dot_failed(e: subprocess.CalledProcessError) -> LayoutError:
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
    the DOT source ("dot"), the TikZ picture ("tex", rnndsl.draw.tikz), or the PDF /
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
    """The TikZ picture of a drawing: its layout by `dot` (JSON), written by rnndsl.draw.tikz."""
    return from_layout(json.loads(_layout(dot, "json").decode("utf-8")))
