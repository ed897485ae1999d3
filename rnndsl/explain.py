"""`rnndsl check --explain`: each cell's states, parameter shapes and lowering path; each network edge's type."""

from __future__ import annotations

from .lang.dims import int_bindings, shape_str
from .lang.grid_reads import position_text
from .keras.fused import fused_path


def explain(program) -> str:
    names = program.main or list(program.graphs)
    blocks = []
    for name in names:
        G = program.graphs[name]
        if G.kind == "cell":
            blocks.append(explain_cell(G))
        else:
            blocks.append(explain_network(G))
    return "\n\n".join(blocks)


def _header(G) -> str:
    hps = ", ".join(f"{h.name}: {h.type}" + (f" = {_value(h.default)}" if h.default is not None else "")
                    for h in G.header.hparams.values())
    return f"{G.kind} {G.name}({hps})  at {G.header.span}"


def _value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"'
    return str(v)


def explain_cell(G) -> str:
    sig, header = G.signature, G.header
    lines = [_header(G)]
    over = "time"
    if header.over == "tree":
        over = "tree nodes" + (f", {header.arity} child slot{'s' * (header.arity != 1)} each" if header.arity
                               else ", any number of children")
    if header.over == "grid":
        offsets = sorted({use.offset for _, _, use in G.uses() if use.offset is not None})
        over = "grid positions, row by row, left to right" + (
            "; reads at " + ", ".join(f"[{position_text(o)}]" for o in offsets) if offsets else "")
    if header.solver:
        over += f", continuous: {header.solver} with step {header.step}"
    lines.append(f"  runs over {over}")
    lines.append("  inputs:  " + (", ".join(f"{n}: {shape_str(s)}" for n, s in sig.inputs.items()) or "none"))
    states = []
    for n, s in sig.states.items():
        rec = G.node(n)  # a value, or an input read at an earlier step
        delay = header.delays.get(n, 0)
        note = []
        if rec.kind == "value" and rec.ode:
            note.append("d/dt")
        if delay > 1:
            note.append(f"kept {delay} steps")
        note.append(f"init {rec.init if rec.kind == 'value' else 0}")
        states.append(f"{n}: {shape_str(s)} ({', '.join(note)})")
    lines.append("  states:  " + (", ".join(states) if states else "none"))
    lines.append("  params:")
    for n, s in sig.params.items():
        rec = G.node(n)
        extras = []
        if rec.implicit:
            extras.append("implicit")
        if rec.fixed:
            extras.append("fixed")
        if rec.fit is not None:
            extras.append(f"fit {rec.fit.name.id}")
        for c in rec.constraints:
            extras.append(f"constrain {c.name.id}")
        lines.append(f"    {n}: {shape_str(s)}" + (f"  ({', '.join(extras)})" if extras else ""))
    lines.append("  outputs: " + ", ".join(f"{n}: {shape_str(s)}" for n, s in sig.outputs.items()))
    if header.over == "tree":  # rnndsl.keras.tree
        lines.append("  lowers:  tree layer: the nodes whose children are done, every tree of a batch at once, "
                     "one level a round (on TensorFlow; on JAX and PyTorch every node each round)")
    elif header.over == "grid":  # rnndsl.keras.grid
        lines.append("  lowers:  grid layer: the positions of one wavefront of the scan schedule at once, every grid "
                     "of a batch (the schedule of fewest steps, chosen for the grid's size)")
    else:
        lines.append(f"  lowers:  {fused_path(G)}")
    return "\n".join(lines)


def explain_network(G) -> str:
    """Each edge's type, and where it has symbols the sizes the hyperparameters' defaults bind it to."""
    lines = [_header(G)]
    defaults = int_bindings({h.name: h.default for h in G.header.hparams.values() if h.default is not None})
    for u, v, flow in G.uses():
        t = flow.type
        bound = ""
        if t is not None and any(d.value is None for d in t.dims):
            sized = t.with_dims([d.subst(defaults) for d in t.dims], t.dtype)
            if all(d.value is not None for d in sized.dims):
                bound = f" = {sized} by default"
        lines.append(f"  {_node(G, u)} -> {_node(G, v)}: {t if t is not None else '?'}{bound}")
    return "\n".join(lines)


def _node(G, n) -> str:
    rec = G.node(n)
    if rec.kind == "layer":
        app = rec.app
        names = f" ({', '.join(app.names)})" if app.names else ""
        return f"{app.id}{names}"
    if rec.kind == "state":
        app = rec.app
        return f"{n} ({app.names[list(app.ports).index(rec.state)]})"
    return n
