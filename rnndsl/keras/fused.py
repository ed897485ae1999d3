"""The fused-path predicate: is a cell exactly Keras's LSTM, GRU (reset-after) or SimpleRNN?

One pure function over the typed IR, `fused_path(G)`. Each value's equation
is expanded into a term (values read at the same step are inlined; a read at
`[t-k]` is a leaf naming the state), and the cell's terms are matched against
the terms of a template cell written in the language itself, up to renaming
(parameters, states, the input) and to the order of the operands of `+` and
`*`. A match says which spec parameter plays which role in Keras's weights;
a mismatch says which equation keeps the cell off the fused path.

No TensorFlow here: `rnndsl check --explain` reports the decision.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Optional, Union

from ..lang.ast import Span
from ..lang.ir import CellIR
from ..lang.pipeline import check_text

TEMPLATES = {
    "LSTM": """
cell LSTM(units: int) {
    input x: [in]
    param W_i, W_f, W_c, W_o: [units, in]
    param U_i, U_f, U_c, U_o: [units, units]
    param b_i, b_f, b_c, b_o: [units]
    i[t] = sigmoid(W_i @ x[t] + U_i @ h[t-1] + b_i)
    f[t] = sigmoid(W_f @ x[t] + U_f @ h[t-1] + b_f)
    g[t] = tanh(W_c @ x[t] + U_c @ h[t-1] + b_c)
    o[t] = sigmoid(W_o @ x[t] + U_o @ h[t-1] + b_o)
    c[t] = f[t] * c[t-1] + i[t] * g[t]
    h[t] = o[t] * tanh(c[t])
    output h
}
""",
    "GRU": """
cell GRU(units: int) {
    input x: [in]
    param W_z, W_r, W_h: [units, in]
    param U_z, U_r, U_h: [units, units]
    param bx_z, bx_r, bx_h, bh_z, bh_r, bh_h: [units]
    z[t] = sigmoid(W_z @ x[t] + bx_z + U_z @ h[t-1] + bh_z)
    r[t] = sigmoid(W_r @ x[t] + bx_r + U_r @ h[t-1] + bh_r)
    hh[t] = tanh(W_h @ x[t] + bx_h + r[t] * (U_h @ h[t-1] + bh_h))
    h[t] = z[t] * h[t-1] + (1 - z[t]) * hh[t]
    output h
}
""",
    "SimpleRNN": """
cell SimpleRNN(units: int) {
    input x: [in]
    param W: [units, in]
    param U: [units, units]
    param b: [units]
    h[t] = tanh(W @ x[t] + U @ h[t-1] + b)
    output h
}
""",
}

# How the template's parameters lay out in the Keras layer's weights, gate by gate.
LAYOUT = {
    "LSTM": {"kernel": ["W_i", "W_f", "W_c", "W_o"], "recurrent_kernel": ["U_i", "U_f", "U_c", "U_o"],
             "bias": ["b_i", "b_f", "b_c", "b_o"]},
    "GRU": {"kernel": ["W_z", "W_r", "W_h"], "recurrent_kernel": ["U_z", "U_r", "U_h"],
            "bias": [["bx_z", "bx_r", "bx_h"], ["bh_z", "bh_r", "bh_h"]]},
    "SimpleRNN": {"kernel": ["W"], "recurrent_kernel": ["U"], "bias": ["b"]},
}


# The template's states in the order the Keras layer takes and returns them (`initial_state`, `return_state`).
KERAS_STATES = {"LSTM": ["h", "c"], "GRU": ["h"], "SimpleRNN": ["h"]}


@dataclass(frozen=True)
class Fused:
    """The cell is Keras's `layer`; `params` maps each template role to the spec's parameter, `states` each
    template state to the spec's state."""

    layer: str
    params: dict = field(default_factory=dict)
    states: dict = field(default_factory=dict)

    @property
    def keras_states(self) -> list:
        """The spec's states in the Keras layer's order."""
        return [self.states[s] for s in KERAS_STATES[self.layer]]

    def __str__(self) -> str:
        return f"fused: keras.layers.{self.layer}"


@dataclass(frozen=True)
class Generated:
    """The cell lowers to a generated cell; `reason` (and `span`, where one equation is to blame) say why."""

    reason: str
    span: Optional[Span] = None

    def __str__(self) -> str:
        where = f" ({self.span})" if self.span is not None else ""
        return f"generated: {self.reason}{where}"


def fused_path(G) -> Union[Fused, Generated]:
    """Whether the typed cell graph `G` (a CellIR; a NetworkIR is not a cell) lowers to Keras's own layer,
    and why not."""
    if G.kind != "cell":
        return Generated("not a cell")
    hparams = G.header.hparams
    if "fused" in hparams and hparams["fused"].type == "bool" and hparams["fused"].default is False:
        return Generated("the cell sets `fused = false`", hparams["fused"].span)
    if G.header.over != "time" or G.header.solver:
        return Generated("only discrete-time cells over sequences have a fused layer")
    for node, rec in G.records():
        if rec.kind == "param" and (rec.fixed or rec.fit or rec.constraints):
            what = "fixed" if rec.fixed else "fitted in closed form" if rec.fit else "constrained"
            return Generated(f"parameter `{node}` is {what}; Keras's fused layers train every weight freely",
                             rec.span)
    cell = _system(G)
    best: Optional[Generated] = None
    for layer in TEMPLATES:
        template = _template(layer)
        result = _match_system(template, cell, layer)
        if isinstance(result, dict):
            return Fused(layer, {k[len("param:"):]: v for k, v in result.items() if k.startswith("param:")},
                         {k[len("state:"):]: v for k, v in result.items() if k.startswith("state:")})
        if result is not None and (best is None or result[1] >= best[1]):  # a tie: the simpler template
            best = result
    return best[0] if best else Generated("its equations are not those of LSTM, GRU or SimpleRNN")


# ---------------------------------------------------------------- terms


@dataclass(frozen=True)
class _System:
    states: dict  # state name -> term of its equation
    output: str
    spans: dict  # state name -> span of its equation
    inputs: tuple


def _system(G: CellIR) -> _System:
    states = {s: _term(G, s) for s in G.header.states if G.node(s).kind == "value"}
    spans = {s: G.node(s).span for s in states}
    inputs = tuple(G.of_kind("input"))
    return _System(states, G.header.outputs[0], spans, inputs)


@lru_cache(maxsize=None)
def _template(layer: str) -> _System:
    checked, errors = check_text(TEMPLATES[layer], f"<{layer} template>")
    assert not errors, errors
    return _system(checked.graphs[layer])


def _term(G: CellIR, node, delay: int = 0, depth: int = 0):
    """The expression that computes `node`, values inlined; ("delay", k, name) for a read at [t-k]."""
    if delay > 0:
        return ("delay", delay, node)
    rec = G.node(node)
    kind = rec.kind
    if depth > 200:
        return ("deep",)
    if kind == "value":
        (src, use), = G.operands(node)
        if use.index is not None:
            return ("piece", use.index, _term(G, src, use.delay, depth + 1))
        return _term(G, src, use.delay, depth + 1)
    if kind in ("input", "param", "hparam"):
        return (kind, node)
    if kind == "const":
        return ("const", rec.value)  # as written: 1 == 1.0, and a huge integer stays exact
    args = tuple(_term(G, u, use.delay, depth + 1) for u, use in G.operands(node))
    attrs = tuple(sorted((k, v) for k, v in rec.attrs.items()))
    op = rec.op
    if op in ("add", "mul"):  # associative: flatten nested sums and products
        flat = []
        for a in args:
            flat.extend(a[2] if a[0] == op else (a,))
        return (op, attrs, tuple(flat))
    return (op, attrs, args)


# ---------------------------------------------------------------- matching


def _match_system(template: _System, cell: _System, layer: str):
    """A binding of the template's names to the cell's; or (a Generated saying what differs from the template
    of Keras's `layer`, quoting the template's equation, how close the template is), the closest template's
    the one `fused_path` reports: an equation that differs (2 where its outermost operation is the same as
    the template's, 1 else) over a difference of the whole cell (0); or None."""
    if len(cell.inputs) != 1:
        return Generated(f"the cell has {len(cell.inputs)} inputs; the fused layers take one"), 0
    if len(template.states) != len(cell.states):
        return None
    first_failure = None
    for perm in itertools.permutations(cell.states):
        env = {f"state:{t}": c for t, c in zip(template.states, perm)}
        if env[f"state:{template.output}"] != cell.output:
            continue
        env[f"input:{template.inputs[0]}"] = cell.inputs[0]
        for t_state, c_state in zip(template.states, perm):
            env = _match(template.states[t_state], cell.states[c_state], env)
            if env is None:
                if first_failure is None:
                    same_head = template.states[t_state][0] == cell.states[c_state][0]
                    first_failure = Generated(
                        f"the equation of `{c_state}` is not that of keras.layers.{layer}'s template, "
                        f"`{_line(template.spans[t_state])}`", cell.spans[c_state]), 2 if same_head else 1
                break
        else:
            return env
    return first_failure


def _line(span: Span) -> str:
    """The line a span is on, as written, without its indent: a template's equation."""
    return span.text.split("\n")[span.line - 1].strip()


def _bind(env: dict, key: str, value) -> Optional[dict]:
    if key in env:
        return env if env[key] == value else None
    if value in (v for k, v in env.items() if k.split(":")[0] == key.split(":")[0]):
        return None  # two template names cannot share one cell name
    return {**env, key: value}


def _match(t, c, env: Optional[dict]) -> Optional[dict]:
    if env is None:
        return None
    tag = t[0]
    if tag == "delay":
        if c[0] != "delay" or c[1] != t[1]:
            return None
        return _bind(env, f"state:{t[2]}", c[2])
    if tag in ("input", "param"):
        if c[0] != tag:
            return None
        return _bind(env, f"{tag}:{t[1]}", c[1])
    if tag in ("const", "hparam", "deep", "piece"):
        return env if t == c else None
    op, attrs, args = t
    if c[0] != op or c[1] != attrs or len(c[2]) != len(args):
        return None
    if op in ("add", "mul"):
        for perm in itertools.permutations(c[2]):
            trial = env
            for ta, ca in zip(args, perm):
                trial = _match(ta, ca, trial)
                if trial is None:
                    break
            if trial is not None:
                return trial
        return None
    for ta, ca in zip(args, c[2]):
        env = _match(ta, ca, env)
        if env is None:
            return None
    return env
