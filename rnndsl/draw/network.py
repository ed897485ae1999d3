"""network: the drawing of a network, its layers and typed edges, as a graph.

    typed network graph, the cells' graphs --draw_network(G, graphs, expand, style)--> graphviz.Digraph

A box per layer application, labelled with its call as the spec writes it (`Call`), and an
edge per tensor, labelled with its type. A layer in `expand` is opened: a cluster holding its
cell's folded drawing (rnndsl.draw.folded), its shape symbols bound by the application, the
edges entering at the cell's inputs and leaving from its output. How each node, cluster and
edge looks is the style's (rnndsl.draw.default, rnndsl.draw.paper).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import graphviz

from ..lang.builtins import REQUIRED
from ..lang.dims import Dim
from ..lang.errors import UsageError, did_you_mean
from ..lang.layers import CELL_KEYWORDS, ENCODER_DECODER, ENCODER_DECODER_PARAMS, KERAS_LAYERS, WRAPPERS
from ..lang.grid_scan import scan_text
from .folded import FoldedCell
from .labels import spec_text


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
        """The call written out: `head`, `keyword` and `value` write its parts (as a spec does: `spec_text`)."""
        value = value or spec_text
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
    order = list(G.header.hparams) if G is not None else list(ref.args)
    items = []
    positional = True
    for name in order:
        if name not in ref.args:
            positional = False
            continue
        value = ref.args[name]
        items.append((None if positional and spec_text(value) == name else name, value))
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


def _scan_note(app, graphs: dict) -> str:
    """How a layer of a grid cell scans the grid (rnndsl.lang.grid_scan), for its box; "" for any other layer."""
    graph = graphs.get(app.cell.cell) if app.cell is not None else None
    if graph is None or graph.header.over != "grid":
        return ""
    note = f"scan: {scan_text(graph)}"
    if app.kind == "Bidirectional":
        note += "; and over the grid mirrored left to right, a row later"
    return note


def _expanded(G, expand) -> dict:
    """{application id: the name it was asked by} for the layers to draw opened."""
    apps = {n: layer.app for n, layer in G.layers()}
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
            raise UsageError(f"network `{G.header.name}` has no layer `{name}`{hint}")
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
    hparams = cell_graph.header.hparams
    for hp, value in app.cell.args.items():
        if hp in hparams and hparams[hp].type == "int" and isinstance(value, (Dim, int)) \
                and not isinstance(value, bool):
            subst[hp] = Dim.of(value)
    if app.kind == "Stack":
        return subst  # the layers past the first see another input size
    signature = cell_graph.signature
    inputs = signature.inputs if signature is not None else {}
    for (name, shape), src in zip(inputs.items(), app.inputs):
        t = G.node(src).type
        if t is None or shape is None or len(shape) != len(t.dims):
            continue
        for d, actual in zip(shape, t.dims):
            sym = d.as_symbol()
            if sym is not None and sym in cell_graph.header.free_dims:
                subst[sym] = actual
    return subst


def _state_name(state) -> str:
    """The name a final-state node (`state`, its `StateNode`) is bound to (`c, h = LSTM(..., returns=states)(x)`)."""
    app = state.app
    return app.names[list(app.ports).index(state.state)]


def draw_network(G, graphs: dict, expand, style) -> graphviz.Digraph:
    """The network of graph `G` (`graphs`: every cell's graph, by name): its layers, typed edges; the
    layers named in `expand` (an application's id or a name it binds; one, or a list) opened; each
    thing drawn by `style`."""
    opened = _expanded(G, expand)
    dot = style.network(G)
    drawn = []  # the opened layers' drawings, for the legend
    entry: dict = {}  # app id -> [cell input node ids]
    exit_: dict = {}  # app id -> cell output node id
    for node, rec in G.records():
        kind = rec.kind
        if kind == "input":
            style.network_input(dot, G, node, rec)
        elif kind == "output":
            style.network_output(dot, node, rec)
        elif kind == "state":  # a final state taken by `returns=states`, under the name it is bound to
            style.network_state(dot, G, node, rec, _state_name(rec))
        else:
            app = rec.app
            call = _layer_call(app, graphs)
            if node in opened:
                cell_graph = graphs[app.cell.cell]
                prefix = f"{node}/"
                with dot.subgraph(name=f"cluster_{node}") as c:
                    style.layer_frame(c, G, app, call, _opened_note(app), cell_graph)
                    drawn.append(FoldedCell(cell_graph, style, prefix, _bindings(app, G, cell_graph),
                                            markers=False).draw(c))
                entry[node] = [prefix + n for n in cell_graph.of_kind("input")]
                outs = cell_graph.header.outputs
                exit_[node] = prefix + outs[0] if outs else None
            else:
                style.layer(dot, G, node, app, call, _scan_note(app, graphs))
    for u, v, flow in G.uses():
        attrs = {}
        t = flow.type
        if t is not None:
            attrs.update(style.network_edge(G, t))
        tail, head = u, v
        if u in exit_ and exit_[u] is not None:
            tail = exit_[u]
            attrs["ltail"] = f"cluster_{u}"
        if u in exit_ and flow.state is not None:  # a final state leaves the opened cell from that state
            tail = f"{u}/{flow.state}"
        if v in entry:
            targets = entry[v]
            if flow.state is not None:  # an initial state enters the opened cell at that state
                head = f"{v}/{flow.state}"
                attrs["lhead"] = f"cluster_{v}"
            elif targets:
                head = targets[min(flow.arg or 0, len(targets) - 1)]
                attrs["lhead"] = f"cluster_{v}"
        dot.edge(tail, head, **attrs)
    delays = {k for f in drawn for k in f.delays}
    children = any(f.children for f in drawn)
    index = next((f.index for f in drawn if f.delays or f.children), "t")
    style.legend(dot, index, delays, children)
    return dot

