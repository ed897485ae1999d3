"""default: the default style of the drawings, for the screen.

`rnndsl render` (`render_cell(G)`, `render_network(...)`) draws in this style unless told
otherwise: colour and a sans-serif font; names as the spec writes them, with their shapes;
the cell's or network's title and docstring as a caption. In a folded cell, inputs are
filled ellipses, named values (equation results) bold ellipses with their shape, states
with a double border, outputs red with an `output` marker. Operations are small circles
(`+ − ⊙ ÷ · σ`) or boxes (`tanh`, `softmax`, `Σ children` ...); parameters,
hyperparameters and constants are small text beside the operation that reads them. A read
at a delay, `h[t-1]`, is a dashed edge labelled `z⁻¹` from `h` back into the operation; a
tree cell's read of a child is a dashed edge labelled `children`; the definition of a
continuous state (`d/dt y = ...`) is labelled `∫`.

`Default` answers the style hooks that the drawings call (rnndsl.draw.folded, unrolled,
network) and lists them; `Paper` (rnndsl.draw.paper) is the other style. Operations are
shown by rnndsl.draw.notation's tables.
"""

from __future__ import annotations

import textwrap
from typing import Optional

import graphviz

from ..lang.dims import Dim
from ..lang.grid_reads import position_text
from ..lang.grid_scan import scan_text
from .labels import escape, html_label, param_note, small, spec_text
from .notation import BIG_OPERATORS, OPERATION_SYMBOLS

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

_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def delay_label(k: int) -> str:
    """`z⁻¹`, `z⁻²`, ...: the label of a read k steps back."""
    return "z⁻" + str(k).translate(_SUPERSCRIPT)


def _shape(shape, subst: Optional[dict] = None) -> str:
    """`[units, 4]`: a shape, its symbols bound by `subst`; `[?]` for an unknown one."""
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


def _title(G) -> str:
    """`LSTM(units)`, `CTRNN(units, dt=0.1)`: a cell's or network's name and hyperparameters."""
    items = []
    for name, hp in G.header.hparams.items():
        items.append(name if hp.default is None else f"{name}={spec_text(hp.default)}")
    return f"{G.header.name}({', '.join(items)})"


def _caption(G, extra: str = "") -> str:
    """The HTML label of a cell cluster or a network: title, notes and docstring summary."""
    rows = [f"<b>{escape(_title(G))}</b>" + (small(escape(extra), 10) if extra else "")]
    rows += [small(escape(line), 9, FAINT) for line in _summary(G.header.doc)]
    return "<br/>".join(rows)


def _cell_extra(G) -> str:
    """What a cell's caption adds to its title: `  (over tree)`, `  (solver rk4, step 0.1)`."""
    header = G.header
    bits = []
    if header.over == "tree":
        bits.append(f"over tree({header.arity})" if header.arity else "over tree")
    if header.over == "grid":
        bits.append(f"over grid, scanned {scan_text(G)}")
    if header.solver:
        step = header.step
        bits.append(f"solver {header.solver}" + (f", step {spec_text(step)}" if step is not None else ""))
    return ("  (" + "; ".join(bits) + ")") if bits else ""


def _cell_graph(name: str) -> graphviz.Digraph:
    """The graph of a folded or unrolled cell, with the attributes both drawings share."""
    return graphviz.Digraph(
        name=name,
        graph_attr=dict(fontname=FONT, nodesep="0.2", ranksep="0.3", newrank="true", mclimit="10",
                        remincross="true"),
        node_attr=dict(fontname=FONT),
        edge_attr=dict(fontname=FONT),
    )


class Default:
    """The default style, for the screen: colour, a sans-serif font, names as the spec writes them
    with their shapes, the docstring as a caption, every read at a delay labelled (`z⁻¹`).

    A style's methods, each called by the drawing that draws the thing (rnndsl.draw.folded,
    unrolled, network):

    - every drawing: `legend(dot, index, delays, children)`, last: the delays of the reads drawn
      and whether a child's value is read, for a style that explains its edges apart;
    - folded cell: `cell(G, draw)` makes the graph and calls `draw(g)` on the (sub)graph the cell
      goes in; `node(f, g, node, rec, note)` draws a node of the folded drawing `f` (`FoldedCell`):
      an input, value, parameter, hyperparameter, constant or operation (`note`: a parameter's
      ` fixed`, an operation's constant arguments); `per_child(f)` the attributes of the cluster of
      the operations done for each child; `marker(f, g, name, text)` an output's marker;
      `edge(f, u, v, use, mark) -> attrs` an edge's (`mark`: the operand's, `−` on a subtrahend);
    - unrolled cell: `unrolled(G, steps)` makes the graph; `initial_frame(c)`, `step_frame(c, s)`
      set the clusters' attributes; `initial_node(c, node_id, G, src, idx)` and
      `step_node(c, node_id, G, n, s)` draw a value at a step; `now_edge() -> attrs`,
      `delay_edge(src, v, s, k, integral) -> attrs` the edges' attributes (a read k steps back;
      `integral`: a continuous state from its previous value); `shared(dot, G, params)` the
      parameters every step shares;
    - network: `network(G)` makes the graph; `network_input(dot, G, node, rec)`,
      `network_output(dot, node, rec)`, `network_state(dot, G, node, rec, bound)` and
      `layer(dot, G, node, app, call)` draw a node (`call`: a `network.Call`); `layer_frame(c, G, app,
      call, note, cell_graph)` sets an opened layer's cluster's attributes (`note`: what the frame
      says besides the call, text pieces with a value between each two);
      `network_edge(G, t) -> attrs` an edge's attributes, from its type.
    """

    def legend(self, dot, index: str, delays, children: bool) -> None:
        pass  # every such edge is labelled

    # ---- folded cell

    def cell(self, G, draw) -> graphviz.Digraph:
        dot = _cell_graph(G.header.name)
        dot.attr(rankdir="LR")
        with dot.subgraph(name=f"cluster_{G.header.name}") as c:
            c.attr(label=html_label(_caption(G, _cell_extra(G))), labelloc="t", style="rounded,filled",
                   fillcolor=CLUSTER_FILL, color="#999999", fontname=FONT, margin="12")
            draw(c)
        return dot

    def per_child(self, f) -> dict:
        return dict(label=html_label(small("for each child k", 9, CHILD)), style="dashed,rounded",
                    color=CHILD, fontname=FONT)

    def marker(self, f, g, name: str, text: str) -> None:
        """The `output` marker of output `name`: a word at the end of an arrow."""
        marker = f.id(f"%out_{name}")
        g.node(marker, html_label(f"<b>{text}</b>"), shape="plaintext", fontcolor=OUTPUT_LINE,
               fontsize="10", fontname=FONT)
        g.edge(f.id(name), marker, color=OUTPUT_LINE, arrowsize="0.6")

    def node(self, f, g, node, rec, note: str) -> None:
        kind = rec.kind
        nid = f.id(node)
        if rec.heads:  # one value per head (docs/language.md, "Heads"): `×reads [width]`, one head's shape
            shape = f"×{f.G.header.heads} {_shape(rec.shape[1:], f.subst)}"
        else:
            shape = _shape(rec.shape, f.subst)
        if kind == "input":
            g.node(nid, html_label(f"<b>{escape(node)}</b> {small(escape(shape), 9)}"), shape="ellipse",
                   style="filled", fillcolor=INPUT_FILL, color=INPUT_LINE, fontname=FONT,
                   tooltip=f"input {node}: {shape}")
        elif kind == "value":
            self._value_node(f, g, node, rec, shape)
        elif kind == "param":
            label = f"{escape(node)}<br/>{small(escape(shape) + note, SMALL - 1)}"
            g.node(nid, html_label(label), shape="plaintext", fontsize=str(SMALL), fontcolor=FAINT,
                   fontname=FONT, margin="0.02", height="0.2", width="0.2",
                   tooltip=f"param {node}: {shape}")
        elif kind == "hparam":
            g.node(nid, html_label(f"<i>{escape(node)}</i>"), shape="plaintext", fontsize=str(SMALL),
                   fontcolor=FAINT, fontname=FONT, margin="0.02", height="0.2", width="0.2",
                   tooltip=f"hyperparameter {node}")
        elif kind == "const":
            g.node(nid, escape(rec.label), shape="plaintext",
                   fontsize=str(SMALL), fontcolor=FAINT, fontname=FONT, margin="0.02",
                   height="0.2", width="0.2")
        else:
            self._op_node(f, g, node, rec, note)

    def _value_node(self, f, g, node, rec, shape) -> None:
        outputs = f.G.header.outputs
        is_out = node in outputs
        attrs = dict(shape="ellipse", style="filled,bold", fillcolor=VALUE_FILL, penwidth="1.6",
                     fontname=FONT)
        what = "value"
        if rec.state:
            attrs["peripheries"] = "2"
            what = "continuous state" if rec.ode else "state"
        if is_out:
            attrs.update(color=OUTPUT_LINE, fillcolor=OUTPUT_FILL)
            what = "output " + what
        g.node(f.id(node), html_label(f"<b>{escape(node)}</b> {small(escape(shape), 9)}"),
               tooltip=f"{what} {node}: {shape}", **attrs)

    def _op_node(self, f, g, node, rec, notes: str) -> None:
        op = rec.op
        if op.startswith("children."):  # `Σ children`, `mean children`
            reduction = op.split(".", 1)[1]
            text = BIG_OPERATORS.get(reduction, (reduction,))[0] + " children"
        else:
            text = OPERATION_SYMBOLS[op][0] if op in OPERATION_SYMBOLS else "leaf(n)" if op == "tree.leaf" else op
        if node in f.inlined:
            if op == "neg":
                text = text + f.inlined[node][0]  # `−1`
            else:
                left, right = f.inlined[node]
                text = " ".join(t for t in (left, text, right) if t is not None)
        symbol = op in OPERATION_SYMBOLS and not notes and node not in f.inlined
        if symbol:
            g.node(f.id(node), escape(text), shape="circle", width="0.3", height="0.3",
                   fixedsize="true", fontsize="13" if op != "matmul" else "18", fontname=FONT,
                   tooltip=op)
        else:
            label = escape(text) + ("<br/>" + small(escape(notes), SMALL) if notes else "")
            g.node(f.id(node), html_label(label), shape="box", style="rounded", fontsize="11",
                   height="0.3", width="0.3", margin="0.06,0.03", fontname=FONT, tooltip=op)

    def edge(self, f, u, v, use, mark: Optional[str]) -> dict:
        G = f.G
        attrs = {"arrowsize": "0.6"}
        ukind = G.node(u).kind
        if ukind in ("param", "hparam", "const"):
            attrs.update(color=FAINT, penwidth="0.6", arrowsize="0.4")
        if mark:
            attrs.update(headlabel=mark, labelfontsize="10" if len(mark) == 1 else str(SMALL),
                         labelfontcolor=FAINT, labelfontname=FONT, labeldistance="1.6")
        delay = use.delay
        if use.child:
            attrs.update(style="dashed", color=CHILD, fontcolor=CHILD,
                         label="children" if use.slot is None else f"child {use.slot}", fontsize="9", fontname=FONT)
        elif delay >= 1:  # a grid cell's read at another position is labelled with the position
            label = delay_label(delay) if use.offset is None else f"[{position_text(use.offset)}]"
            attrs.update(style="dashed", color=DELAY, fontcolor=DELAY, label=label, fontsize="10", fontname=FONT)
        if use.defines:
            attrs["penwidth"] = "1.3"
            if G.integrated(v):
                attrs.update(label="∫", fontsize="14", fontname=FONT)
            elif use.index is not None:
                attrs.update(label=f"part {use.index + 1}", fontsize=str(SMALL), fontname=FONT)
        return attrs

    # ---- unrolled cell

    def unrolled(self, G, steps: int) -> graphviz.Digraph:
        dot = _cell_graph(f"{G.header.name}_unrolled")
        dot.attr(rankdir="BT", label=html_label(_caption(G, f"  unrolled over {steps} steps")), labelloc="t",
                 nodesep="0.35", ranksep="0.45")
        return dot

    def initial_frame(self, c) -> None:
        c.attr(label=html_label(small("<b>initial state</b>", 10)), style="rounded,dashed",
               color=FAINT, fontname=FONT, labelloc="b")

    def initial_node(self, c, node_id: str, G, src: str, idx: int) -> None:
        rec = G.node(src)
        init_text = "0" if rec.kind == "input" else spec_text(rec.init)
        label = f"<b>{escape(src)}[{idx}]</b><br/>{small('= ' + escape(init_text), SMALL)}"
        c.node(node_id, html_label(label), shape="ellipse", style="dashed", color=FAINT,
               fontname=FONT, tooltip=f"initial {src}")

    def step_frame(self, c, s: int) -> None:
        c.attr(label=html_label(f"<b>t = {s}</b>"), style="rounded,filled", fillcolor=CLUSTER_FILL,
               color="#999999", fontname=FONT, labelloc="b")  # rankdir=BT: "b" is the top

    def step_node(self, c, node_id: str, G, n: str, s: int) -> None:
        rec = G.node(n)
        if rec.kind == "input":
            attrs = dict(shape="ellipse", style="filled", fillcolor=INPUT_FILL, color=INPUT_LINE)
        else:
            attrs = dict(shape="ellipse", style="filled,bold", fillcolor=VALUE_FILL, penwidth="1.6")
            if rec.state:
                attrs["peripheries"] = "2"
            if n in G.header.outputs:
                attrs.update(color=OUTPUT_LINE, fillcolor=OUTPUT_FILL)
        c.node(node_id, html_label(f"<b>{escape(n)}[{s}]</b>"), fontname=FONT,
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
        rows = [small("<b>shared by every step</b>", SMALL)]
        rows += [small(f"{escape(n)} {escape(_shape(rec.shape))}" + param_note(rec), SMALL) for n, rec in params]
        dot.node("%params", html_label("<br/>".join(rows)), shape="note", color=FAINT, fontcolor=FAINT,
                 fontname=FONT, margin="0.08,0.04")

    # ---- network

    def network(self, G) -> graphviz.Digraph:
        return graphviz.Digraph(
            name=G.header.name,
            graph_attr=dict(rankdir="LR", compound="true", fontname=FONT, labelloc="t",
                            nodesep="0.3", ranksep="0.45", newrank="true",
                            label=html_label(_caption(G))),
            node_attr=dict(fontname=FONT),
            edge_attr=dict(fontname=FONT, fontsize="10"),
        )

    def network_input(self, dot, G, node: str, rec) -> None:
        t = rec.type
        dot.node(node, html_label(f"<b>{escape(node)}</b><br/>{small(escape(t), 9)}"), shape="ellipse",
                 style="filled", fillcolor=INPUT_FILL, color=INPUT_LINE, tooltip=f"input {node}: {t}")

    def network_output(self, dot, node: str, rec) -> None:
        dot.node(node, html_label("<b>output</b>"), shape="ellipse", style="filled,bold",
                 fillcolor=OUTPUT_FILL, color=OUTPUT_LINE, tooltip=f"output: {rec.type}")

    def network_state(self, dot, G, node: str, rec, bound: str) -> None:
        dot.node(node, html_label(f"<b>{escape(bound)}</b><br/>{small(escape('final ' + rec.state), 9)}"),
                 shape="ellipse", tooltip=f"{bound}: final state {rec.state} of {rec.app.id}")

    @staticmethod
    def _head(app) -> str:
        bound = (", " if app.ports else " = ").join(app.names)  # `c, h = ...` binds one name per state
        return f"<b>{escape(bound)}</b> = " if app.names else ""

    def layer(self, dot, G, node: str, app, call, note: str = "") -> None:
        call = call.text()
        label = f"{self._head(app)}{escape(call)}" + (f"<br/>{small(escape(note), 9, FAINT)}" if note else "")
        dot.node(node, html_label(label), shape="box", style="rounded,filled", fillcolor=LAYER_FILL,
                 tooltip=f"{app.id}: {call}")

    def layer_frame(self, c, G, app, call, note: tuple, cell_graph) -> None:
        rows = [self._head(app) + escape(call.text())]
        if note:
            rows.append(f"<b>{escape(''.join(spec_text(p) if i % 2 else p for i, p in enumerate(note)))}</b>")
        rows += [small(escape(line), 9, FAINT) for line in _summary(cell_graph.header.doc)]
        c.attr(label=html_label("<br/>".join(rows)), style="rounded,filled", fillcolor=CLUSTER_FILL,
               color="#777777", labelloc="t", fontname=FONT)

    def network_edge(self, G, t) -> dict:
        return {"label": str(t)}

