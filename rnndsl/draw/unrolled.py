"""unrolled: the drawing of a cell unrolled over K time steps, as the nodes and edges of a graph.

    typed cell graph --draw_unrolled(G, K, style)--> graphviz.Digraph

K steps left to right, one cluster per step, values only (`h[1]`, `x[2]`): an edge from each
value to each value whose equation reads it; a read k steps back comes from step s-k, or from
an initial-state node `h[0]`. Parameters are shared and listed once. The nodes, clusters and
edges, and the invisible constraints that keep the steps in order, are decided here; how each
looks is the style's (rnndsl.draw.default, rnndsl.draw.paper).
"""

from __future__ import annotations

import graphviz
import networkx as nx

from ..lang.errors import UsageError
from .labels import html_label


def _reads(G, value: str) -> list:
    """What the equation of `value` reads: [(input or value, delay)], in order, each once."""
    out: list = []
    seen: set = set()
    stack = [(u, use.delay) for u, use in G.operands(value) if use.defines]
    visited_ops: set = set()
    while stack:
        node, delay = stack.pop(0)
        kind = G.node(node).kind
        if kind == "op":
            if node in visited_ops:
                continue
            visited_ops.add(node)
            stack.extend((u, use.delay) for u, use in G.operands(node))
        elif kind in ("input", "value") and (node, delay) not in seen:
            seen.add((node, delay))
            out.append((node, delay))
    return out


def _levels(G, reads: dict) -> dict:
    """Height of each input and value in a step: inputs 0, a value one above what it reads now."""
    D = nx.DiGraph()
    for n, rec in G.records():
        if rec.kind in ("input", "value"):
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
        level[n] = 1 + max(level[p] for p in preds) if preds else (0 if G.node(n).kind == "input" else 1)
    return level


# The most steps an unrolled drawing shows: a figure of more is unreadable, and Graphviz's
# layout time grows faster than the drawing.
MAX_UNROLL = 32


def draw_unrolled(G, steps: int, style) -> graphviz.Digraph:
    """The cell of graph `G` unrolled over `steps` steps (1 to MAX_UNROLL), drawn by `style`; a tree
    cell, or another number of steps, is a UsageError."""
    name = G.header.name
    if G.header.over == "tree":
        raise UsageError(f"--unroll draws time steps; `{name}` is a tree cell")
    if not isinstance(steps, int) or not 1 <= steps <= MAX_UNROLL:
        raise UsageError(f"--unroll takes a number of steps from 1 to {MAX_UNROLL}, not {steps}")
    inputs = G.of_kind("input")
    values = G.of_kind("value")
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
            k = delay + (1 if G.node(v).ode and src == v and delay == 0 else 0)
            for s in range(1, steps + 1):
                if s - k <= 0 and k >= 1:
                    initial[(src, s - k)] = True
    for v in values:  # a continuous state starts from its initial value
        if G.node(v).ode:
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
            ode = G.node(v).ode
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
                        attrs["xlabel"] = html_label("<br/>∫")
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
    params = [(n, rec) for n, rec in G.records() if rec.kind == "param"]
    if params:
        style.shared(dot, G, params)
    style.legend(dot, "t", delays, False)
    return dot


def _read_somewhere(n: str, reads: dict) -> bool:
    return any(src == n for rs in reads.values() for src, _ in rs)
