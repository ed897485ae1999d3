"""`rnndsl check --explain`: each cell's states, parameter shapes and lowering path; each network edge's type."""

from __future__ import annotations

from .lang.dims import shape_str
from .keras.fused import fused_path


def explain(program) -> str:
    names = program.main or list(program.graphs)
    blocks = []
    for name in names:
        G = program.graphs[name]
        if G.graph["kind"] == "cell":
            blocks.append(explain_cell(G))
        else:
            blocks.append(explain_network(G))
    return "\n\n".join(blocks)


def _header(G) -> str:
    hps = ", ".join(f"{h.name}: {h.type}" + (f" = {_value(h.default)}" if h.default is not None else "")
                    for h in G.graph["hparams"].values())
    return f"{G.graph['kind']} {G.graph['name']}({hps})  at {G.graph['span']}"


def _value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"'
    return str(v)


def explain_cell(G) -> str:
    sig = G.graph["signature"]
    lines = [_header(G)]
    over = "tree nodes" if G.graph["over"] == "tree" else "time"
    if G.graph["solver"]:
        over += f", continuous: {G.graph['solver']} with step {G.graph['step']}"
    lines.append(f"  runs over {over}")
    lines.append("  inputs:  " + (", ".join(f"{n}: {shape_str(s)}" for n, s in sig["inputs"].items()) or "none"))
    states = []
    for n, s in sig["states"].items():
        data = G.nodes[n]
        delay = G.graph["delays"].get(n, 0)
        note = []
        if data.get("ode"):
            note.append("d/dt")
        if delay > 1:
            note.append(f"kept {delay} steps")
        init = data.get("init", 0)
        note.append(f"init {init}")
        states.append(f"{n}: {shape_str(s)} ({', '.join(note)})")
    lines.append("  states:  " + (", ".join(states) if states else "none"))
    lines.append("  params:")
    for n, s in sig["params"].items():
        data = G.nodes[n]
        extras = []
        if data.get("implicit"):
            extras.append("implicit")
        if data.get("fixed"):
            extras.append("fixed")
        if data.get("fit") is not None:
            extras.append(f"fit {data['fit'].name.id}")
        for c in data.get("constraints", ()):
            extras.append(f"constrain {c.name.id}")
        lines.append(f"    {n}: {shape_str(s)}" + (f"  ({', '.join(extras)})" if extras else ""))
    lines.append("  outputs: " + ", ".join(f"{n}: {shape_str(s)}" for n, s in sig["outputs"].items()))
    lines.append(f"  lowers:  {fused_path(G)}")
    return "\n".join(lines)


def explain_network(G) -> str:
    lines = [_header(G)]
    for u, v, data in G.edges(data=True):
        t = data.get("type")
        lines.append(f"  {_node(G, u)} -> {_node(G, v)}: {t if t is not None else '?'}")
    return "\n".join(lines)


def _node(G, n) -> str:
    data = G.nodes[n]
    if data["kind"] == "layer":
        app = data["app"]
        names = f" ({', '.join(app.names)})" if app.names else ""
        return f"{app.id}{names}"
    if data["kind"] == "state":
        app = data["app"]
        return f"{n} ({app.names[list(app.ports).index(data['state'])]})"
    return n
