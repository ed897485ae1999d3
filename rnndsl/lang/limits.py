"""limits: the largest model a spec may ask for, and the check that holds shapes to it.

A spec can ask for any size: `input x: seq[2147483648]`, `units: int = 0`,
`Embedding(100000000000, 8)`, `Stack(GRU(4), depth=1000000000)`. Building such a
model would hang, exhaust memory or crash inside TensorFlow, so each is an
error, E0308, that `check` reports where the sizes are known from the spec
(literals and hyperparameter defaults) and `build` where they become known
(hyperparameters given to it, a cell's input size):

- every dimension is between 1 and MAX_DIM = 2**24 (16,777,216): a vocabulary,
  a number of features, of units, of memory slots;
- a tensor, a weight or one step's value, has at most MAX_ENTRIES = 2**31 - 1
  entries: 8 GiB of float32, and past it TensorFlow's 32-bit indexing overflows;
- a stack has 1 to MAX_DEPTH = 1000 layers, each a Keras layer of its own;
- a cell reads a value at most MAX_DELAY = 10000 steps back (`h[t-k]`): it carries the
  last k values in its state, for every sequence of a batch (resolve reports it, E0105).

`Sizes` checks shapes written over symbols (`[units, in]`) under one
assignment of integers to those symbols; the passes that know what a shape
belongs to (infer, lower) call it. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import math
from typing import Iterable, Optional

from .dims import Dim, int_bindings
from .errors import ShapeError
from .layers import ENCODER_DECODER, ENCODER_DECODER_PARAMS, KERAS_LAYERS, NetType

MAX_DIM = 2 ** 24
MAX_ENTRIES = 2 ** 31 - 1
MAX_DEPTH = 1000
MAX_DELAY = 10_000
MAX_ARITY = 64  # children of a node in a tree cell of fixed arity, `over tree(K)`

AT_LEAST_ONE = "a dimension is at least 1"
AT_MOST = f"a dimension is at most {MAX_DIM} (2**24)"
ENTRIES = f"a tensor has at most {MAX_ENTRIES} (2**31 - 1) entries"
DEPTH = f"a stack has 1 to {MAX_DEPTH} layers"


def dimension_rule(value: int) -> Optional[str]:
    """The limit that the dimension `value` breaks, or None."""
    if value < 1:
        return AT_LEAST_ONE
    if value > MAX_DIM:
        return AT_MOST
    return None


def at_defaults(hparams: dict) -> "Sizes":
    """The check of a cell's or network's shapes as `check` knows them: its hyperparameters at their defaults
    (`hparams`: `Hyper`s by name); each error notes the defaults it involves."""
    values = {h: hyper.default for h, hyper in hparams.items() if hyper.type == "int" and hyper.default is not None}
    return Sizes(values, {h: f"`{h}` = {v} is the default at {hparams[h].span}" for h, v in values.items()})


def given(values: dict) -> "Sizes":
    """The check of the shapes that `build` makes with `values`, the hyperparameters and dimensions it was given
    (and their defaults) by name: one line per error."""
    return Sizes(values, spans=False)


class Sizes:
    """Shapes checked against the limits, under one assignment of integers to the symbols they are written over.

    `values` gives symbols their integers (others are ignored); a dimension over another symbol is not known
    and passes.
    `origins` gives, for a symbol, a note that says where its value comes from; with `spans`
    False the errors carry no span and no note: one line each, for values that `build` was given.
    The errors collect in `errors`, one for each dimension out of range and each tensor too large.
    """

    def __init__(self, values: dict, origins: Optional[dict] = None, *, spans: bool = True):
        self.values = int_bindings(values)
        self.origins = origins or {}
        self.spans = spans
        self.errors: list = []
        self._seen: set = set()

    def value(self, d: Dim) -> Optional[int]:
        return d.subst(self.values).value

    def shape(self, dims: Iterable[Dim], what: str, span, *, show=None) -> None:
        """Check a tensor of shape `dims` (`what` it is, and where); `show(values)` prints its type."""
        dims = tuple(dims)
        values = [self.value(d) for d in dims]
        shown = (show or _brackets)(["?" if v is None else v for v in values])
        for d, v in zip(dims, values):
            rule = dimension_rule(v) if v is not None else None
            if rule is not None:
                # one error for a dimension out of range, not one for every tensor it sizes
                self._error(("dim", d), f"{what} is {shown}", d.symbols(), rule, span)
                return
        if None not in values and math.prod(values) > MAX_ENTRIES:
            # one error for a shape too large, not one for every tensor of that shape
            symbols = set().union(*(d.symbols() for d in dims))
            self._error(("entries", dims), f"{what} is {shown} ({math.prod(values)} entries)", symbols, ENTRIES,
                        span)

    def size(self, d: Dim, what: str, span) -> None:
        """Check one dimension given on its own (a layer's argument)."""
        v = self.value(d)
        rule = dimension_rule(v) if v is not None else None
        if rule is not None:
            self._error(("dim", d), f"{what} is {v}", d.symbols(), rule, span)

    def depth(self, d: Dim, what: str, span) -> None:
        """Check the depth of a stack."""
        v = self.value(d)
        if v is not None and not 1 <= v <= MAX_DEPTH:
            self._error(("depth", what, v), f"{what} has depth {v}", d.symbols(), DEPTH, span)

    def _error(self, key, text: str, symbols, rule: str, span) -> None:
        if key in self._seen:
            return
        self._seen.add(key)
        named = sorted(s for s in symbols if s in self.values)
        if named:
            text += " with " + ", ".join(f"{s} = {self.value(Dim.sym(s))}" for s in named)
        notes = [self.origins[s] for s in named if s in self.origins] if self.spans else []
        self.errors.append(ShapeError(f"{text}: {rule}", span if self.spans else None, notes=notes,
                                      code="E0308"))


def _brackets(values) -> str:
    return "[" + ", ".join(map(str, values)) + "]"


# ---------------------------------------------------------------- what the passes check


def cell(sizes: Sizes, G, binding: Optional[dict] = None, span=None, of: str = "") -> list:
    """Every tensor of the typed cell graph `G`: its inputs, parameters and values, and what its operations give.
    Returns the errors of `sizes`.

    As a network applies the cell, `binding` maps the cell's symbols to the network's dimensions, `span` (the
    application) stands for the cell's own spans and `of` (" of `GRU`") follows the name of each tensor."""
    for node, rec in G.records():
        if rec.shape is None or rec.kind in ("hparam", "const"):
            continue
        dims = rec.shape if binding is None else tuple(d.subst(binding) for d in rec.shape)
        sizes.shape(dims, _what(G, node, rec) + of, span or rec.span)
    return sizes.errors


def _what(G, node, rec) -> str:
    kind = rec.kind
    if kind == "op":
        return f"the result of `{rec.label}`"
    if kind == "value":
        return f"{'state' if node in G.header.states else 'value'} `{node}`"
    return f"{'parameter' if kind == 'param' else 'input'} `{node}`"


def network(sizes: Sizes, G, graphs: dict) -> list:
    """Every tensor of the typed network graph `G` (its cells' graphs in `graphs`): its inputs, the output of
    each layer that is not a cell's, the arguments and weights of Keras layers, each cell as it is applied,
    and the depth of each stack. Returns the errors of `sizes`."""
    for node, rec in G.records():
        if rec.kind == "input":
            info = rec.info
            sizes.shape(info.dims, f"input `{node}`", info.span, show=_typed(info.kind, info.dtype))
        if rec.kind != "layer":
            continue
        app, span = rec.app, rec.span
        params = KERAS_LAYERS[app.layer].params if app.kind == "keras" else \
            ENCODER_DECODER_PARAMS if app.kind == ENCODER_DECODER else ()
        for p in params:
            if p.kind == "dim":
                sizes.size(Dim.of(app.args[p.name]), f"argument `{p.name}` of `{app.layer}`", span)
        if app.kind == "Stack":
            sizes.depth(Dim.of(app.args["depth"]), "`Stack`", span)
        for cell_name, binding in rec.instances:
            cell(sizes, graphs[cell_name], binding, span, f" of `{cell_name}`")
        t = rec.type  # None: the layer cannot take its input
        if t is None or app.kind in ("cell", "Stack"):  # a cell's output is its output value, checked above
            continue
        if app.kind == "keras":
            inputs = [flow.type for _, flow in G.operands(node)]
            for weight, dims in KERAS_LAYERS[app.layer].weights(app.args, inputs).items():
                sizes.shape(dims, f"weight `{weight}` of `{app.layer}`", span)
        sizes.shape(t.dims, f"the output of `{app.layer}`", span, show=_typed(t.kind, t.dtype))
    return sizes.errors


def _typed(kind: str, dtype: str):
    """How a network type of `kind` and `dtype` prints with dimension values: `seq[8]`, `vec[?, 3]`."""
    return lambda values: str(NetType(kind, tuple(values), dtype))
