"""folded: the drawing of a cell folded, one step of its equations, as the nodes and edges of a graph.

    typed cell graph --FoldedCell(G, style).draw(g)--> the nodes and edges in `g`, each drawn by `style`

What is drawn, and in which order, is decided here; how each node and edge looks is the style's
(rnndsl.draw.default, rnndsl.draw.paper). A chain `a + b + c` is drawn as one `+` with three
operands; a constant operand of an operation whose operand order matters (`1 - z`), read only
there, is written into the operation's label; the operations done for each child of a tree node
are a cluster of their own; a read at a delay or of a child is drawn backwards, along the data
flow. `render_cell` draws a cell alone with it, `render_network` each opened layer's cell.
"""

from __future__ import annotations

from typing import Optional

import graphviz
import networkx as nx

from ..lang.builtins import FUNCTIONS, KEYWORD_ONLY, REQUIRED
from .labels import param_note, spec_text
from .notation import OPERAND_MARKS

# The binary operations whose operand order matters, whose constant operand is written in the
# label: `1 −`.
_INLINE = ("sub", "div", "pow", "lt", "le", "gt", "ge", "eq", "ne")


class FoldedCell:
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

    def draw(self, g: graphviz.Digraph) -> "FoldedCell":
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
            note = param_note(data)
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
        return OPERAND_MARKS.get(vdata.get("op"), {}).get(data.get("arg"))

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
        items.append(f'"{value}"' if key == "subscripts" else f"{key}={spec_text(value)}")
    return ", ".join(items)



def draw_folded(G, style) -> graphviz.Digraph:
    """The cell of graph `G` folded, alone: the graph `style` makes for it, the cell drawn into it by
    `style`, and the style's legend for the reads it drew."""
    folded = FoldedCell(G, style)
    dot = style.cell(G, folded.draw)
    style.legend(dot, folded.index, folded.delays, folded.children)
    return dot
