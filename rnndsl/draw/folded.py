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
        self.index = G.header.index or "t"
        self.delays: set = set()
        self.children = False
        self.rep = self._merge_chains()
        self.inlined = self._inline_constants()
        self.hidden = {src for op in self.inlined for src in G.predecessors(op)
                       if G.node(src).kind in ("const", "hparam") and G.out_degree(src) == 1}

    def id(self, node: str) -> str:
        return self.p + node

    def _merge_chains(self) -> dict:
        """`a + b + c` parses as `(a + b) + c`: draw it as one `+` with three operands.

        An add (or mul) whose single use is another add (mul) on the same side of a
        children reduction is merged into it. Returns {op: the op drawn for it}.
        """
        G = self.G
        rep = {}
        for node, rec in G.records():
            if rec.kind != "op" or rec.op not in ("add", "mul"):
                continue
            outs = G.users(node)
            if len(outs) != 1:
                continue
            user, use = outs[0]
            user_rec = G.node(user)
            if (user_rec.kind == "op" and user_rec.op == rec.op and use.delay == 0
                    and user_rec.per_child == rec.per_child):
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
        for node, rec in G.records():
            if rec.kind != "op" or rec.op not in _INLINE + ("neg",) or self.rep[node] != node:
                continue
            operands = G.operands(node)
            if len(operands) != (1 if rec.op == "neg" else 2):
                continue
            texts = [None, None]
            for i, (src, _) in enumerate(operands):
                src_rec = G.node(src)
                if src_rec.kind in ("const", "hparam") and G.out_degree(src) == 1:
                    texts[i] = str(src_rec.label)
            if texts != [None, None]:
                out[node] = texts
        return out

    # ---- nodes

    def draw(self, g: graphviz.Digraph) -> "FoldedCell":
        G = self.G
        per_child = [n for n, rec in G.records()
                     if rec.kind == "op" and rec.per_child and self.rep[n] == n]
        hidden = self.hidden
        for node, rec in G.records():
            if rec.kind == "op" and (self.rep[node] != node or node in per_child):
                continue
            if node in hidden:
                continue
            self._node(g, node, rec)
        if per_child:
            with g.subgraph(name=f"cluster_{self.p}per_child") as sub:
                sub.attr(**self.style.per_child(self))
                for node in per_child:
                    self._node(sub, node, G.node(node))
        for u, v, use in G.uses():
            self._edge(g, u, v, use)
        if self.markers:
            outputs = G.header.outputs
            for i, name in enumerate(outputs):
                self.style.marker(self, g, name, "output" if len(outputs) == 1 else f"output {i + 1}")
        return self

    def _node(self, g, node, rec) -> None:
        if rec.kind == "param":
            note = param_note(rec)
        elif rec.kind == "op":
            note = _op_notes(rec.op, rec.attrs)
        else:
            note = ""
        self.style.node(self, g, node, rec, note)

    # ---- edges

    def _edge(self, g, u, v, use) -> None:
        G = self.G
        if G.node(u).kind == "op" and self.rep[u] != u:
            return  # inside a merged chain
        if u in self.hidden:
            return  # written in the operation's label
        v_drawn = self.rep[v]
        if use.child:
            self.children = True
        elif use.delay >= 1:
            self.delays.add(use.delay)
        attrs = self.style.edge(self, u, v, use, self._mark(v_drawn, use))
        tail, head = self.id(u), self.id(v_drawn)
        if use.child or use.delay >= 1 or G.integrated(u):
            if v_drawn in self.upstream(u):
                # A feedback edge: written from the reader to the value and drawn backwards,
                # so that it is laid out along the data flow instead of across the drawing.
                tail, head = head, tail
                attrs["dir"] = "back"
                for key in ("headlabel", "headtexlbl"):
                    if key in attrs:
                        attrs["tail" + key[4:]] = attrs.pop(key)
        g.edge(tail, head, **attrs)

    def _mark(self, v_drawn, use) -> Optional[str]:
        """The mark on an operand's edge where the order of operands matters (`−` on a
        subtrahend), or None."""
        v_rec = self.G.node(v_drawn)
        if v_rec.kind != "op" or v_drawn in self.inlined:
            return None
        return OPERAND_MARKS.get(v_rec.op, {}).get(use.arg)

    def upstream(self, value: str) -> set:
        """The nodes that `value` depends on in the same step (through delay-0 edges)."""
        if not hasattr(self, "_now"):
            G = self.G
            self._now = nx.DiGraph()
            self._now.add_nodes_from(self.rep[n] for n in G.nodes)
            for u, v, use in G.uses():
                if use.delay == 0 and not use.child and not G.integrated(u) \
                        and self.rep[u] != self.rep[v]:
                    self._now.add_edge(self.rep[u], self.rep[v])
        return nx.ancestors(self._now, value)


def _op_notes(op: str, attrs) -> str:
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
        if key == "schedule":  # `every 4`, `when`: an equation's schedule (rnndsl.lang.schedules)
            items.append(value)
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
