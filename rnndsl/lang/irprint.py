"""A stable text form of the IR, for golden tests and for reading what a pass made.

One line per node, in the order the graph pass made them (declarations, then operations
in the order of the equations), then the headers. Spans are left out: the text says what
the program computes, not where it was written. Every pass's output prints the same way,
so a test can pin what a pass changed: `print_ir(G)` before and after.

    cell Elman(units: int) over time
      input x: [in]
      param W: [units, in] ~ glorot_uniform
      value h: [units] state, delay 1, init 0
      %0 = matmul(W, x) : [units]
      %2 = matmul(U, h@t-1) : [units]
      h <- %4
      outputs h
"""

from __future__ import annotations

from . import ast as A
from .fmt import format_expr
from .graph import operands
from .bound import CellRef


def print_ir(G) -> str:
    """The text of a cell's or a network's graph (before or after inference)."""
    lines = _cell(G) if G.graph["kind"] == "cell" else _network(G)
    return "\n".join(lines) + "\n"


def _shape(d) -> str:
    shape = d.get("shape")
    if shape is None:
        return ""
    return " : [" + ", ".join(str(dim) for dim in shape) + "]"


def _hparams(G) -> str:
    return ", ".join(f"{h.name}: {h.type}" + (f" = {h.default!r}" if h.default is not None else "")
                     for h in G.graph["hparams"].values())


def _init(init) -> str:
    if init is None:
        return ""
    if isinstance(init, A.ConstInit):
        return f" = {format_expr(init.value)}"
    if isinstance(init, A.Init):
        args = ", ".join(format_expr(a.value) if a.name is None else f"{a.name.id}={format_expr(a.value)}"
                         for a in init.args)
        return f" ~ {init.name.id}" + (f"({args})" if args else "")
    return f" {init!r}"


def _named_call(item) -> str:
    args = ", ".join(format_expr(a.value) if a.name is None else f"{a.name.id}={format_expr(a.value)}"
                     for a in item.args)
    return item.name.id + (f"({args})" if args else "")


def _use(u, d) -> str:
    """How an operation reads operand `u`: `h@t-1` for an earlier step, `h@child` for a child's value."""
    text = u
    if d.get("delay"):
        text += f"@t-{d['delay']}"
    if d.get("child"):
        text += "@child"
    if "index" in d:
        text += f".{d['index']}"
    return text


def _cell(G) -> list:
    g = G.graph
    head = f"cell {g['name']}({_hparams(G)}) over {g['over']}"
    if g.get("solver"):
        head += f" solver {g['solver']}" + (f"(step={g['step']})" if g.get("step") is not None else "")
    lines = [head]
    for node, d in G.nodes(data=True):
        kind = d["kind"]
        if kind == "op":
            args = [_use(u, e) for u, e in operands(G, node)]
            args += [f"{k}={v!r}" for k, v in sorted(d.get("attrs", {}).items())]
            mark = " per-child" if d.get("per_child") else ""
            lines.append(f"  {node} = {d['op']}({', '.join(args)}){_shape(d)}{mark}")
        elif kind == "const":
            lines.append(f"  {node} = const {d['value']!r}{_shape(d)}")
        elif kind == "param":
            flags = [w for w in ("implicit", "fixed") if d.get(w)]
            flags += [f"fit {_named_call(d['fit'])}"] if d.get("fit") is not None else []
            flags += [f"constrain {_named_call(c)}" for c in d.get("constraints", ())]
            lines.append(f"  param {node}{_shape(d)}{_init(d.get('init'))}" + "".join(f", {f}" for f in flags))
        elif kind == "value":
            flags = ["state"] if d.get("state") else []
            flags += ["ode"] if d.get("ode") else []
            flags += [f"delay {d['delay']}"] if d.get("delay") else []
            init = d.get("init")
            flags += [f"init {init if isinstance(init, (int, float, str)) else format_expr(init)}"] \
                if d.get("state") else []
            lines.append(f"  value {node}{_shape(d)}" + "".join(f", {f}" for f in flags))
        else:
            lines.append(f"  {kind} {node}{_shape(d)}")
    for node, d in G.nodes(data=True):
        if d["kind"] == "value":
            lines += [f"  {node} <- {_use(u, e)}" for u, e in operands(G, node)]
    lines.append("  outputs " + ", ".join(g["outputs"]))
    return lines


def _type(d) -> str:
    t = d.get("type")
    if t is None:
        return ""
    dims = ", ".join(str(dim) for dim in t.dims)
    return f" : {t.kind}[{dims}] {t.dtype}"


def _network(G) -> list:
    g = G.graph
    lines = [f"network {g['name']}({_hparams(G)})"]
    for node, d in G.nodes(data=True):
        kind = d["kind"]
        if kind == "layer":
            app = d["app"]
            args = [f"{k}={_argument(v)}" for k, v in app.args.items()]
            if app.cell is not None:
                args = [f"{k}={v}" for k, v in app.cell.args.items()] + [f"returns={app.cell.returns}"]
            inputs = [u for u, e in _operands_of_layer(G, node) if "arg" in e]
            initial = [f"{e['state']}={u}" for u, e in _operands_of_layer(G, node) if "state" in e]
            lines.append(f"  {node} = {app.kind} {app.layer}({', '.join(args)})"
                         f"({', '.join(inputs + initial)}){_type(d)}")
            for cell, binding in d.get("instances", ()):
                lines.append(f"    instance {cell}(" + ", ".join(f"{k}={v}" for k, v in binding.items()) + ")")
        elif kind == "state":
            lines.append(f"  {node} = state {d['state']} of {d['app'].id}{_type(d)}")
        elif kind == "output":
            (u, _), = _operands_of_layer(G, node)
            lines.append(f"  {node} = output {u}{_type(d)}")
        else:
            lines.append(f"  {kind} {node}{_type(d)}")
    return lines


def _argument(value) -> str:
    """A layer argument: a number, a word, a dimension, or a cell (`LSTM(units=units) returns sequences`)."""
    if isinstance(value, CellRef):
        args = ", ".join(f"{k}={v}" for k, v in value.args.items())
        return f"{value.cell}({args}) returns {value.returns}"
    return str(value)


def _operands_of_layer(G, node) -> list:
    edges = [(u, d) for u, keyed in G.pred[node].items() for d in keyed.values()]
    return sorted(edges, key=lambda e: ("arg" not in e[1], e[1].get("arg", 0), e[1].get("state", "")))
