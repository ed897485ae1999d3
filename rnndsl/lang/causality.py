"""causality: every cycle of a cell's graph passes through a delay of at least one step.

A value cannot depend on itself within the same step: `h[t] = tanh(W @ h[t])`
has no order of evaluation. Reads at `[t-k]`, reads of a child in a tree cell,
and reads of a continuous state (the solver integrates it) break cycles; every
cycle left is reported whole, one `file:line:col` per step.
"""

from __future__ import annotations

import networkx as nx

from .errors import CausalityError


def check(graphs: dict) -> list:
    """Diagnostics for the zero-delay cycles of every cell graph."""
    errors = []
    for G in graphs.values():
        if G.kind == "cell":
            errors += _cell_cycles(G)
    return errors


def _instantaneous(G: nx.MultiDiGraph) -> nx.DiGraph:
    """The edges along which a value reaches its user within one step."""
    H = nx.DiGraph()
    H.add_nodes_from(G)
    for u, v, use in G.uses():
        if use.delay == 0 and not use.child and not G.integrated(u):
            H.add_edge(u, v, span=use.span)
    return H


def _cell_cycles(G: nx.MultiDiGraph) -> list:
    H = _instantaneous(G)
    errors = []
    for component in nx.strongly_connected_components(H):
        if len(component) == 1 and not H.has_edge(*component, *component):  # one node, no loop
            continue
        sub = H.subgraph(component)
        start = min((n for n in component if G.node(n).kind == "value"), key=_source_order(G))
        cycle = nx.find_cycle(sub, start)
        errors.append(_report(G, cycle))
    return errors


def _source_order(G):
    return lambda n: (G.node(n).span.line, G.node(n).span.column)


def _report(G, cycle) -> CausalityError:
    # Rotate the cycle to start at the first value written in the source.
    values_at = [i for i, (u, _) in enumerate(cycle) if G.node(u).kind == "value"]
    first = min(values_at, key=lambda i: _source_order(G)(cycle[i][0]))
    cycle = cycle[first:] + cycle[:first]
    index = G.header.index
    # Each read of a value on the cycle is one step: which value reads it, and where.
    steps = []
    for u, v in cycle:
        if G.node(u).kind != "value":
            continue
        reader = _defined_value(G, v, cycle)
        steps.append((u, reader, G.use(u, v).span if G.has_edge(u, v, 0) else G.node(v).span))
    names = [u for u, _, _ in steps]
    path = " -> ".join(f"{n}[{index}]" for n in names + names[:1])
    trail = [(span, f"`{u}[{index}]` is read by `{reader}`") for u, reader, span in steps]
    first_span, first_label = trail[0]
    return CausalityError(
        f"`{names[0]}` depends on itself within one step: {path}", first_span, label=first_label,
        trail=trail[1:],
        notes=[{"t": "every cycle needs a delay: read one of these values at an earlier step, "
                     f"such as `{names[-1]}[{index}-1]`",
                "n": "every cycle needs a delay: read one of these values from a child",
                "i, j": "every cycle needs a delay: read one of these values at an earlier position, "
                        f"such as `{names[-1]}[i-1, j]` or `{names[-1]}[i, j-1]`"}[index]],
        code="E0401")


def _defined_value(G, node, cycle) -> str:
    """The value whose equation contains `node` (following the cycle to the next value)."""
    order = [u for u, _ in cycle] + [cycle[0][0]]
    i = order.index(node) if node in order else 0
    for n in order[i:] + order[:i]:
        if G.node(n).kind == "value":
            return n
    return node
