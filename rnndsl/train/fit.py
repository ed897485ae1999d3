"""fit: parameters computed from data in closed form, not by gradient descent.

A parameter declared `fit METHOD` is not among the trainable weights; these
functions compute it on a lowered layer (a GeneratedRNN) or on every such
layer of a built model:

- `fit hebbian` (Hebb 1949; Hopfield 1982; Kosko 1988): the parameter P is
  used as `P @ a`, in the equation of a state (a Hopfield network's s[t],
  a continuous one's d/dt u) or of a value that a state's equation reads
  (a BAM's y[t], read by x[t]). Into a state, P stores patterns of a
  (auto-association): P = 1/n sum_p a_p a_p', n the size of a, with a
  zero diagonal (no unit feeds itself). Into another value b, pairs of
  patterns (hetero-association): P = 1/n sum_p b_p a_p'.
  `store(layer, {"s": patterns})`, `store(layer, {"x": xs, "y": ys})`.
- `fit ridge(alpha)` (Jaeger 2001; Lukosevicius 2012, A practical guide to
  applying echo state networks): P is the readout of the cell's output
  equation, `y[t] = P @ z[t]` or `y[t] = P @ z[t] + b` (b `fit ridge` too).
  The layer runs over the inputs to collect z at every step (after a
  washout), and [P b] = Y Z' (Z Z' + alpha I)^-1, Z with a row of ones for b.
  z must not depend on y: output feedback is an input the network feeds
  (the true previous output while fitting: teacher forcing).
  `ridge(layer, inputs, targets, washout=k)`.

Shapes: patterns `(count, size of the state)`; inputs `(batch, T, in)`;
targets `(batch, T, out)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import networkx as nx
import numpy as np

from ..keras.cell import GeneratedRNN, observer
from ..keras.initializers import constant


@dataclass(frozen=True)
class Fitted:
    """What one fit did, for the user: `layer/param: method, from what`."""

    layer: str
    params: tuple
    method: str
    detail: str

    def __str__(self) -> str:
        return f"{self.layer}/{' and '.join(self.params)}: {self.method}, {self.detail}"


def fitted_params(G, method: Optional[str] = None) -> dict:
    """{parameter: its A.Fit} of a cell graph, those of one method if given."""
    return {n: rec.fit for n, rec in G.records()
            if rec.kind == "param" and rec.fit is not None and (method is None or rec.fit.name.id == method)}


# ---------------------------------------------------------------- hebbian


def hebbian_roles(G, param: str) -> tuple:
    """(a, b) for `param @ a` driving b: b is None for a state (auto-association of a), else the value."""
    roles = set()
    read_by_states = _state_sources(G)
    for m in G.successors(param):
        rec = G.node(m)
        if rec.kind != "op" or rec.op != "matmul":
            continue
        (left, _), (right, _) = G.operands(m)
        value = _defined_value(G, m) if left == param else None
        if value in G.header.states:
            roles.add((right, value, "state"))
        elif value is not None and value in read_by_states:
            roles.add((right, value, "value"))
    if len(roles) != 1:
        found = "; ".join(f"`{param} @ {a}` into {kind} `{b}`" for a, b, kind in sorted(roles)) or "none"
        raise ValueError(f"`fit hebbian` needs `{param}` in one product `{param} @ a` into a state, or into a "
                         f"value that a state reads; found: {found}")
    a, b, kind = roles.pop()
    return a, (None if kind == "state" else b)


def _defined_value(G, node) -> Optional[str]:
    """The value whose equation computes `node` (following same-step ops to the first value)."""
    frontier, seen = [node], set()
    while frontier:
        n = frontier.pop()
        for v, use in G.users(n):
            if use.delay or v in seen:
                continue
            seen.add(v)
            if G.node(v).kind == "value":
                return v
            frontier.append(v)
    return None


def _state_sources(G) -> set:
    """Values that a state's equation reads at the same step (BAM: y drives x, the state)."""
    out = set()
    for state in G.header.states:
        out |= {n for n in nx.ancestors(_same_step(G), state) if G.node(n).kind == "value"}
    return out


def _same_step(G) -> nx.DiGraph:
    H = nx.DiGraph()
    H.add_nodes_from(G)
    H.add_edges_from((u, v) for u, v, use in G.uses() if use.delay == 0)
    return H


def store(layer: GeneratedRNN, patterns: dict) -> list:
    """Set every `fit hebbian` parameter of the layer's cell from patterns: {value name: (count, size)}."""
    cell = layer.cell
    done = []
    for param in fitted_params(cell.G, "hebbian"):
        a, b = hebbian_roles(cell.G, param)
        names = [a] if b is None else [a, b]
        missing = [n for n in names if n not in patterns]
        if missing:
            what = f"patterns of `{a}`" if b is None else f"pairs of patterns of `{a}` and `{b}`"
            raise ValueError(f"`fit hebbian` of `{param}` stores {what}: give {', '.join(f'`{n}`' for n in missing)}")
        A, B = (np.asarray(patterns[n], np.float64) for n in (a, b or a))
        if A.ndim != 2 or B.ndim != 2 or len(A) != len(B):
            raise ValueError(f"patterns of `{a}`{f' and `{b}`' if b else ''} must be (count, size) arrays"
                             f"{' of one count' if b else ''}, given {A.shape}" + (f" and {B.shape}" if b else ""))
        W = B.T @ A / A.shape[1]
        if b is None:
            np.fill_diagonal(W, 0.0)
        weight = cell.weights_by_name[param]
        if tuple(weight.shape) != W.shape:
            raise ValueError(f"patterns give `{param}` the shape {W.shape}; the layer has {tuple(weight.shape)}")
        weight.assign(W.astype(weight.dtype))
        done.append(Fitted(layer.name, (param,), "hebbian",
                           f"{len(A)} patterns of `{a}`" + (f" and `{b}`" if b else "")))
    return done


# ---------------------------------------------------------------- ridge


def ridge_roles(G) -> tuple:
    """(P, b or None, z): the output equation `y[t] = P @ z[t] (+ b)` whose parameters are `fit ridge`."""
    out = G.header.outputs[0]
    ridge = fitted_params(G, "ridge")
    src, _ = G.definition(out)
    bias = None
    node = G.node(src)
    if node.kind == "op" and node.op == "add":
        (l, _), (r, _) = G.operands(src)
        src, bias = (l, r) if r in ridge else (r, l) if l in ridge else (src, None)
        node = G.node(src)
    if node.kind == "op" and node.op == "matmul":
        (P, _), (z, dz) = G.operands(src)
        if P in ridge and not dz.delay and set(ridge) == {P} | ({bias} if bias else set()):
            if out in nx.ancestors(G, z) or z == out:
                raise ValueError(f"`fit ridge` of `{P}`: the readout's input `{z}` depends on the output `{out}`; "
                                 "feed the output back as an input instead (teacher forcing while fitting)")
            return P, bias, z
    raise ValueError(f"`fit ridge` needs the output's equation to be `{out}[t] = P @ z[t]` or `P @ z[t] + b`, "
                     f"with P (and b) the parameters that are `fit ridge`: {', '.join(sorted(ridge))}")


def ridge(layer: GeneratedRNN, inputs, targets, washout: int = 0) -> list:
    """Fit the `fit ridge` readout of the layer's cell: inputs (batch, T, in), targets (batch, T, out)."""
    cell = layer.cell
    ridge_params = fitted_params(cell.G, "ridge")
    if not ridge_params:
        return []
    P, bias, z = ridge_roles(cell.G)
    targets = np.asarray(targets, np.float64)
    inputs = np.asarray(inputs, np.float32)
    if inputs.ndim != 3 or targets.ndim != 3 or inputs.shape[:2] != targets.shape[:2]:
        raise ValueError(f"ridge: inputs (batch, T, in) and targets (batch, T, out) of one batch and length, "
                         f"given {inputs.shape} and {targets.shape}")
    if not 0 <= washout < inputs.shape[1]:
        raise ValueError(f"ridge: a washout of {washout} steps leaves none of {inputs.shape[1]}")
    Z = np.asarray(observer(layer, [z])(inputs), np.float64)[:, washout:]
    Z = Z.reshape(-1, Z.shape[-1])
    Y = targets[:, washout:].reshape(len(Z), -1)
    if bias is not None:
        Z = np.concatenate([Z, np.ones((len(Z), 1))], axis=1)
    alpha = float(constant(ridge_params[P].args[0].value, cell.env)) if ridge_params[P].args else 1e-6
    solution = np.linalg.solve(Z.T @ Z + alpha * np.eye(Z.shape[1]), Z.T @ Y).T  # [out, z (+1)]
    weights = cell.weights_by_name
    weights[P].assign(solution[:, :weights[P].shape[1]].astype(weights[P].dtype))
    if bias is not None:
        weights[bias].assign(solution[:, -1].astype(weights[bias].dtype))
    error = float(np.mean((Z @ solution.T - Y) ** 2))
    return [Fitted(layer.name, (P,) + ((bias,) if bias else ()), f"ridge (alpha {alpha:g})",
                   f"{len(Z)} steps of `{z}`, mean squared error {error:.3g}")]


# ---------------------------------------------------------------- models


def fit_model(model, data: dict, washout: int = 0) -> list:
    """Fit every `fit` parameter of a built model's generated cells from `data`.

    `data` holds the network's inputs by name, `targets` (the network's output, for a ridge readout, whose
    layer must give the network's output), and patterns by state name (for Hebbian storage)."""
    import keras

    done = []
    for layer in model._flatten_layers(include_self=False):
        if not isinstance(layer, GeneratedRNN) or not fitted_params(layer.cell.G):
            continue
        if fitted_params(layer.cell.G, "hebbian"):
            done += store(layer, data)
        if fitted_params(layer.cell.G, "ridge"):
            if "targets" not in data:
                raise ValueError(f"layer `{layer.name}` has a ridge readout: give its `targets`")
            if not any(out is layer.output for out in model.outputs):
                raise ValueError(f"the ridge readout of layer `{layer.name}` must give the network's output")
            missing = [t.name for t in model.inputs if t.name not in data]
            if missing:
                raise ValueError(f"give the network's input{'s' if len(missing) > 1 else ''} "
                                 f"{', '.join(f'`{m}`' for m in missing)}")
            feed = keras.Model(model.inputs, layer.input)
            x = feed([data[t.name] for t in model.inputs])
            done += ridge(layer, np.asarray(x), data["targets"], washout)
    return done
