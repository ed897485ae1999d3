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
from .fmt import format_expr, named_call
from .bound import CellRef
from .grid_reads import position_text


def print_ir(G) -> str:
    """The text of a cell's or a network's graph (before or after inference)."""
    lines = _cell(G) if G.kind == "cell" else _network(G)
    return "\n".join(lines) + "\n"


def _shape(rec) -> str:
    """` : [units, in]`; ` : heads [reads, width]` for a value with one value per head."""
    if rec.shape is None:
        return ""
    return " : " + "heads " * rec.heads + "[" + ", ".join(str(dim) for dim in rec.shape) + "]"


def _hparams(G) -> str:
    return ", ".join(f"{h.name}: {h.type}" + (f" = {h.default!r}" if h.default is not None else "")
                     for h in G.header.hparams.values())


def _init(init) -> str:
    if init is None:
        return ""
    if isinstance(init, A.ConstInit):
        return f" = {format_expr(init.value)}"
    if isinstance(init, A.Init):
        return f" ~ {named_call(init)}"
    return f" {init!r}"


def _use(u, use) -> str:
    """How an operation reads operand `u`: `h@t-1` for an earlier step, `h@child` for a child's value (in a
    reduction over children), `h@child0` for the first child's, `h@[i-1, j]` for a grid position's."""
    text = u
    if use.child:
        return text + "@child" + (str(use.slot) if use.slot is not None else "")
    if use.offset is not None:
        text += f"@[{position_text(use.offset)}]"
    elif use.delay:
        text += f"@t-{use.delay}"
    if use.index is not None:
        text += f".{use.index}"
    return text


def _cell(G) -> list:
    h = G.header
    head = f"cell {h.name}({_hparams(G)}) over {h.over}" + (f"({h.arity})" if h.arity else "")
    if h.solver:
        head += f" solver {h.solver}" + (f"(step={h.step})" if h.step is not None else "")
    if h.heads:
        head += f" heads {h.heads}"
    lines = [head]
    for node, rec in G.records():
        kind = rec.kind
        if kind == "op":
            args = [_use(u, e) for u, e in G.operands(node)]
            args += [f"{k}={v!r}" for k, v in sorted(rec.attrs.items())]
            mark = " per-child" if rec.per_child else ""
            lines.append(f"  {node} = {rec.op}({', '.join(args)}){_shape(rec)}{mark}")
        elif kind == "const":
            lines.append(f"  {node} = const {rec.value!r}{_shape(rec)}")
        elif kind == "param":
            flags = [w for w in ("implicit", "fixed") if getattr(rec, w)]
            flags += [f"fit {named_call(rec.fit)}"] if rec.fit is not None else []
            flags += [f"constrain {named_call(c)}" for c in rec.constraints]
            lines.append(f"  param {node}{_shape(rec)}{_init(rec.init)}" + "".join(f", {f}" for f in flags))
        elif kind == "value":
            flags = ["state"] if rec.state else []
            flags += ["ode"] if rec.ode else []
            flags += [f"delay {rec.delay}"] if rec.delay else []
            init = rec.init
            flags += [f"init {init if isinstance(init, (int, float, str)) else format_expr(init)}"] \
                if rec.state else []
            lines.append(f"  value {node}{_shape(rec)}" + "".join(f", {f}" for f in flags))
        else:
            lines.append(f"  {kind} {node}{_shape(rec)}")
    for node in G.of_kind("value"):
        lines += [f"  {node} <- {_use(u, e)}" for u, e in G.operands(node)]
    lines.append("  outputs " + ", ".join(h.outputs))
    return lines


def _type(t) -> str:
    if t is None:
        return ""
    dims = ", ".join(str(dim) for dim in t.dims)
    return f" : {t.kind}[{dims}] {t.dtype}"


def _network(G) -> list:
    lines = [f"network {G.name}({_hparams(G)})"]
    for node, rec in G.records():
        kind = rec.kind
        if kind == "layer":
            app = rec.app
            args = [f"{k}={_argument(v)}" for k, v in app.args.items()]
            if app.cell is not None:
                args = [f"{k}={v}" for k, v in app.cell.args.items()] + [f"returns={app.cell.returns}"]
            inputs = [u for u, e in G.operands(node) if e.arg is not None]
            initial = [f"{e.state}={u}" for u, e in G.operands(node) if e.arg is None]
            lines.append(f"  {node} = {app.kind} {app.layer}({', '.join(args)})"
                         f"({', '.join(inputs + initial)}){_type(rec.type)}")
            for cell, binding in rec.instances:
                lines.append(f"    instance {cell}(" + ", ".join(f"{k}={v}" for k, v in binding.items()) + ")")
        elif kind == "state":
            lines.append(f"  {node} = state {rec.state} of {rec.app.id}{_type(rec.type)}")
        elif kind == "output":
            (u, _), = G.operands(node)
            lines.append(f"  {node} = output {u}{_type(rec.type)}")
        else:
            lines.append(f"  {kind} {node}{_type(rec.type)}")
    return lines


def _argument(value) -> str:
    """A layer argument: a number, a word, a dimension, or a cell (`LSTM(units=units) returns sequences`)."""
    if isinstance(value, CellRef):
        args = ", ".join(f"{k}={v}" for k, v in value.args.items())
        return f"{value.cell}({args}) returns {value.returns}"
    return str(value)
