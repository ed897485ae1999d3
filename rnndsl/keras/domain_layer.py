"""domain_layer: what the layers of cells over other domains than time share (rnndsl.keras.tree, .grid).

A `DomainLayer` runs a cell's typed graph on batches of rows (a tree's nodes, a grid's positions): it keeps
the cell's spec text and hyperparameters (its config, from which it rebuilds), the shapes of its values,
what later rows read (`kept`: the states and the first output), the constants, and one weight a parameter,
named as the spec names it.
"""

from __future__ import annotations

from typing import Optional

import keras
from keras import ops

from ..lang.dims import int_bindings
from ..lang.hparams import cell_env
from .cell import cell_weights, compile_cell, initial_value
from .initializers import constant_value, real
from .interpret import Operands, apply_op, flat_size, split_last


class DomainLayer(keras.layers.Layer):
    """The cell `cell` of the spec text `spec`, for inputs of `input_dim` features a row, its hyperparameters
    `hparams`; `returns` one of the subclass's RETURNS (the first by default), and `_setup` what else the
    subclass needs of the graph. It rebuilds from its config (the cell's spec text, its hyperparameters and
    input size), as a GeneratedCell does; its weights are named as the spec names its parameters."""

    RETURNS: tuple = ()
    DOMAIN = ""  # what the layer runs over, as its messages say it

    def __init__(self, spec: str, cell: str, input_dim: int, hparams: Optional[dict] = None,
                 returns: Optional[str] = None, **kwargs):
        super().__init__(**kwargs)
        returns = returns or self.RETURNS[0]
        if returns not in self.RETURNS:
            raise ValueError(f"a {self.DOMAIN} layer returns one of {', '.join(self.RETURNS)}, not {returns!r}")
        self.spec, self.cell_name, self.input_dim, self.returns = spec, cell, int(input_dim), returns
        self.hparams = dict(hparams or {})
        self.G = G = compile_cell(spec, cell)
        self.env = cell_env(G, self.hparams, self.input_dim)
        known = int_bindings(self.env)
        self.shape_of = {n: tuple(d.subst(known).value for d in G.shape(n)) for n in G if G.shape(n) is not None}
        self.states = list(G.header.states)
        self.output_name = G.header.outputs[0]
        self.kept = list(dict.fromkeys(self.states + [self.output_name]))  # what other rows read, and the output
        self.inputs_in_order = list(G.signature.inputs)
        self.operands = {n: G.operands(n) for n in G}
        self.constants = {n: real(self.env[n]) if rec.kind == "hparam"
                          else constant_value(rec.value, self.env, self.compute_dtype)
                          for n, rec in G.records() if rec.kind in ("hparam", "const")}
        self._setup()

    def _setup(self) -> None:
        """What a subclass derives of the graph `self.G` when it is made."""

    def _features(self, input_shape) -> int:
        """The number of input features in the shape the layer is built for (a subclass reads it elsewhere)."""
        return input_shape[-1]

    def build(self, input_shape):
        features = self._features(input_shape)
        if int(features) != self.input_dim:
            raise ValueError(f"cell `{self.cell_name}` was made for inputs of size {self.input_dim}, given {features}")
        self.weights_by_name = cell_weights(self, self.G, self.env)
        super().build(input_shape)

    def _initial_row(self, name, weights):
        """The initial state of a kept value as one flat row, `(1, its size)`."""
        rec = self.G.node(name)
        init = initial_value(rec.init if rec.kind == "value" else 0, weights, self.env)
        shape = self.shape_of[name]
        return ops.reshape(ops.cast(init, self.compute_dtype) * ops.ones(shape, self.compute_dtype), (1, -1))

    def _apply(self, rec, uses, values, batched):
        """The value of operation `rec` of its operands' `values` (read through `uses`); `batched`: which of
        them have the row axis in front."""
        shapes = [self.G.shape(u) for u, _ in uses]
        return apply_op(rec, Operands(values, batched, shapes, rec.attrs, self.env, self.compute_dtype))

    def _kept_rows(self, env: dict, rows, names=None) -> dict:
        """Each kept value of `env` (or each of `names`) as flat rows, `(rows, its size)`: one computed of
        parameters and constants alone (no row axis) is the same in every row."""
        out = {}
        for name in self.kept if names is None else names:
            v = env[name]
            if not self.batched.get(name, False):
                v = ops.broadcast_to(v, (rows,) + self.shape_of[name])
            out[name] = as_rows(v, (flat_size(self.shape_of[name]),), rows)
        return out

    def _inputs(self, x) -> dict:
        """Rows of inputs `(M, input size)` cut into the cell's inputs, each `(M,) + its shape`."""
        sizes = [flat_size(self.shape_of[n]) for n in self.inputs_in_order]
        parts = split_last(x, sizes) if len(sizes) > 1 else [x]
        return {n: as_rows(p, self.shape_of[n]) for n, p in zip(self.inputs_in_order, parts)}

    def _value(self, name, flat):
        """A value's flat rows `(M, its size)` in its shape, `(M,) + its shape`."""
        return ops.reshape(flat, (-1,) + self.shape_of[name])

    def get_config(self):
        config = super().get_config()
        config.update({"spec": self.spec, "cell": self.cell_name, "input_dim": self.input_dim,
                       "hparams": self.hparams, "returns": self.returns})
        return config


def as_rows(v, shape: tuple, rows=-1):
    """`v` as `(rows,) + shape`: itself where it has that form already (a reshape is an op, and another in the
    gradient, at every step), else reshaped."""
    if len(v.shape) == len(shape) + 1 and tuple(v.shape[1:]) == tuple(shape):
        return v
    return ops.reshape(v, (rows,) + tuple(shape))
