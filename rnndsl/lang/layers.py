"""Network values' types, and the Keras layers a network can apply, with their type rules.

A `NetType` is what flows on a network edge: `seq[128]`, `seq[int]`,
`vec[2*units]`, `tree[64]`, `grid[32, 32, 3]`. The type rules are pure
functions from argument values and input types to the output type; they raise
`LayerTypeError` with a message that `infer` turns into a diagnostic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from .builtins import Param
from .dims import Dim

KINDS = ("seq", "vec", "tree", "grid")
DTYPES = ("float", "int")


@dataclass(frozen=True)
class NetType:
    """A network value: `kind` of feature tensors of shape `dims` and element type `dtype`."""

    kind: str
    dims: tuple = ()
    dtype: str = "float"

    def __str__(self) -> str:
        items = ([self.dtype] if self.dtype != "float" else []) + [str(d) for d in self.dims]
        return f"{self.kind}[{', '.join(items)}]"

    def with_dims(self, dims, dtype: str = "float") -> "NetType":
        return NetType(self.kind, tuple(dims), dtype)


class LayerTypeError(Exception):
    """A layer cannot take its input: the message says what it expected."""


@dataclass(frozen=True)
class LayerSpec:
    """A Keras layer as the language sees it.

    `params` give the constructor arguments (kinds: "dim", "number", "bool",
    "activation", "enum:a|b", "cell"); `arity` is the number of inputs (None:
    one or more); `rule(args, inputs) -> NetType`; `weights(args, inputs)` gives
    the shapes of its weights that grow with its arguments, by Keras's names;
    `valid(values)`, given the values of its arguments (a hyperparameter's
    value, or None where it has none yet), says what is wrong with them, or None.
    """

    name: str
    params: tuple
    rule: Callable
    arity: Optional[int] = 1
    doc: str = ""
    weights: Callable = lambda args, inputs: {}
    valid: Callable = lambda values: None


def _float_input(layer: str, t: NetType) -> None:
    if t.dtype != "float":
        raise LayerTypeError(f"`{layer}` takes float features, found {t}")


def _embedding(args, inputs):
    (t,) = inputs
    if t.dtype != "int" or t.dims:
        raise LayerTypeError(f"`Embedding` takes integer tokens (such as seq[int]), found {t}")
    return t.with_dims((args["output_dim"],))


def _dense(args, inputs):
    (t,) = inputs
    _float_input("Dense", t)
    if not t.dims:
        raise LayerTypeError(f"`Dense` needs a feature axis, found {t}")
    return t.with_dims(t.dims[:-1] + (args["units"],))


def _same(args, inputs):
    (t,) = inputs
    return t


def _same_float(name):
    def rule(args, inputs):
        (t,) = inputs
        _float_input(name, t)
        return t

    return rule


def _fraction(layer: str, name: str):
    def valid(values):
        v = values[name]
        if v is not None and not 0 <= v < 1:
            return f"`{name}` of `{layer}` is a fraction, in [0, 1), not {v:g}"
        return None

    return valid


def _concatenate(args, inputs):
    first = inputs[0]
    axis = args["axis"]
    if isinstance(axis, Dim):  # a hyperparameter: the axis must be known here, where types are
        if axis.value is None:
            raise LayerTypeError(f"the axis of `Concatenate` is a number written in the spec, not `{axis}`")
        axis = axis.value
    rank = len(first.dims)
    if not -rank <= axis < rank:
        raise LayerTypeError(f"axis {axis} is out of range for {first}")
    axis %= rank
    total = first.dims[axis]
    for t in inputs[1:]:
        if t.kind != first.kind:
            raise LayerTypeError(f"`Concatenate` takes values of one kind: {first} vs {t}")
        if len(t.dims) != rank or any(
            a != b for i, (a, b) in enumerate(zip(t.dims, first.dims)) if i != axis
        ):
            raise LayerTypeError(f"`Concatenate` takes values that agree off axis {axis}: {first} vs {t}")
        total = total + t.dims[axis]
    dims = list(first.dims)
    dims[axis] = total
    return first.with_dims(dims)


def _masked_conv(args, inputs):
    (t,) = inputs
    _float_input("MaskedConv2D", t)
    if t.kind != "grid" or len(t.dims) != 3:
        raise LayerTypeError(f"`MaskedConv2D` takes a grid of feature vectors, grid[H, W, d], found {t}")
    return t.with_dims(t.dims[:2] + (args["filters"],))


def _odd_kernel(values):
    k = values["kernel"]
    if k is not None and (k < 1 or k % 2 == 0 or k > 31):
        return f"the kernel of `MaskedConv2D` is an odd number of pixels from 1 to 31, not {k}"
    return None


# ---------------------------------------------------------------- layers that change the rate of a sequence

MAX_STEPS = 10_000  # a stride, a pooling window, a number of repeats: at most this many steps (as a delay, E0105)


def _sequence(layer: str, t: NetType) -> None:
    if t.kind != "seq":
        raise LayerTypeError(f"`{layer}` takes a sequence, seq[...], found {t}")


def _same_sequence(layer: str, floats: bool = False):
    """The rule of a layer that changes how many steps a sequence has, not what each step holds."""
    def rule(args, inputs):
        (t,) = inputs
        _sequence(layer, t)
        if floats:
            _float_input(layer, t)
        return t

    return rule


def _steps(layer: str, *names: str, least: int = 1, what: str = "a number of steps"):
    """`valid`: each of `names` (None: another argument's value; not known yet: passes) is from `least` to
    MAX_STEPS."""
    def valid(values):
        for name in names:
            v = values[name]
            if isinstance(v, int) and not least <= v <= MAX_STEPS:
                return f"`{name}` of `{layer}` is {what}, from {least} to {MAX_STEPS}, not {v}"
        return None

    return valid


def _subsample_valid(values):
    problem = _steps("Subsample", "stride")(values)
    stride, offset = values["stride"], values["offset"]
    if problem is None and isinstance(stride, int) and isinstance(offset, int) and not 0 <= offset < stride:
        problem = f"`offset` of `Subsample` is the first step kept, from 0 to stride - 1 = {stride - 1}, not {offset}"
    return problem


def _flagged(layer: str, inputs, flags_are: str):
    """The values of a layer of two inputs, (values, flags): values a sequence, flags one number a step."""
    values, flags = inputs
    _sequence(layer, values)
    if flags.kind != "seq" or flags.dims not in ((), (Dim.const(1),)):
        raise LayerTypeError(f"the second input of `{layer}` is {flags_are}, one number a step (seq[int], seq[1]), "
                             f"found {flags}")
    return values


def _gather(args, inputs):
    values = _flagged("Gather", inputs, "its flags")
    times = args["times"]
    if not isinstance(times, bool):  # a hyperparameter: the type depends on it, and types are known here
        raise LayerTypeError(f"`times` of `Gather` changes its type: write true or false, not `{times.id}`")
    if times:
        if values.dtype != "float" or len(values.dims) != 1:
            raise LayerTypeError(f"`Gather` with `times` adds a feature to each step: it takes float feature "
                                 f"vectors, seq[d], found {values}")
        return values.with_dims((values.dims[0] + Dim.const(1),))
    return values


def _scatter(args, inputs):
    return _flagged("Scatter", inputs, "the flags `Gather` read")


def _mispredicted(args, inputs):
    values, predictions = inputs
    for t in inputs:
        _sequence("Mispredicted", t)
    if values != predictions or len(values.dims) != 1 or values.dtype != "float":
        raise LayerTypeError(f"`Mispredicted` compares each step's input with the prediction made the step before: "
                             f"two float seq[d] of one size, found {values} and {predictions}")
    return values.with_dims((Dim.const(1),))


def _positive(layer: str, name: str):
    def valid(values):
        v = values[name]
        if isinstance(v, (int, float)) and not v > 0:
            return f"`{name}` of `{layer}` is above 0, not {v}"
        return None

    return valid


def _pooling(name: str, what: str) -> "LayerSpec":
    return LayerSpec(name, (Param("pool_size", "int", 2), Param("strides", "int", None),
                            Param("padding", "enum:valid|same", "valid")), _same_sequence(name, floats=True),
                     doc=f"seq[d] -> seq[d] at 1 / strides of the rate: {what} of each window of pool_size steps "
                         "that are not padding, windows placed as Keras places them (strides: pool_size if not given)",
                     valid=_steps(name, "pool_size", "strides"))


def _add(args, inputs):
    first = inputs[0]
    for t in inputs[1:]:
        if t != first:
            raise LayerTypeError(f"`Add` takes values of one type: {first} vs {t}")
    return first


KERAS_LAYERS: dict[str, LayerSpec] = {
    spec.name: spec
    for spec in (
        LayerSpec("Embedding", (Param("input_dim", "dim"), Param("output_dim", "dim"),
                                Param("mask_zero", "bool", False)), _embedding,
                  doc="integer tokens -> [output_dim] vectors",
                  weights=lambda args, inputs: {"embeddings": (Dim.of(args["input_dim"]), Dim.of(args["output_dim"]))}),
        LayerSpec("Dense", (Param("units", "dim"), Param("activation", "activation", "linear"),
                            Param("use_bias", "bool", True)), _dense,
                  doc="last axis -> units",
                  weights=lambda args, inputs: {"kernel": (inputs[0].dims[-1], Dim.of(args["units"]))}),
        LayerSpec("Dropout", (Param("rate", "number"),), _same_float("Dropout"), valid=_fraction("Dropout", "rate")),
        LayerSpec("LayerNormalization", (), _same_float("LayerNormalization")),
        LayerSpec("Masking", (Param("mask_value", "number", 0.0),), _same_float("Masking"),
                  doc="steps whose features all equal mask_value are padding: recurrent layers after it skip them"),
        LayerSpec("Activation", (Param("activation", "activation"),), _same_float("Activation")),
        LayerSpec("Concatenate", (Param("axis", "int", -1),), _concatenate, arity=None),
        LayerSpec("Add", (), _add, arity=None),
        LayerSpec("MaskedConv2D", (Param("filters", "dim"), Param("kernel", "int", 3), Param("mask", "enum:A|B", "B"),
                                   Param("activation", "activation", "linear")), _masked_conv,
                  doc="grid[H, W, d] -> grid[H, W, filters]: a kernel x kernel convolution that reads only the pixels "
                      "before each one in raster order (mask A: not the pixel itself; B: it too)",
                  weights=lambda args, inputs: {"kernel": (Dim.of(args["kernel"]), Dim.of(args["kernel"]),
                                                           inputs[0].dims[-1], Dim.of(args["filters"]))},
                  valid=_odd_kernel),
        LayerSpec("Subsample", (Param("stride", "int"), Param("offset", "int", 0)), _same_sequence("Subsample"),
                  doc="seq[d] -> seq[d]: steps offset, offset + stride, offset + 2 * stride, ...",
                  valid=_subsample_valid),
        _pooling("AveragePooling1D", "the mean"),
        _pooling("MaxPooling1D", "the largest value, feature by feature,"),
        LayerSpec("UpSampling1D", (Param("size", "int", 2),), _same_sequence("UpSampling1D"),
                  doc="seq[d] -> seq[d]: each step size times in a row", valid=_steps("UpSampling1D", "size",
                                                                                     what="a number of repeats")),
        LayerSpec("Gather", (Param("times", "bool", False),), _gather, arity=2,
                  doc="(values seq[d], flags seq[int] or seq[1]) -> seq[d]: the steps whose flag is not 0, packed to "
                      "the front in order, the rest masked (times=true: each step's index added, seq[d + 1])"),
        LayerSpec("Scatter", (Param("hold", "bool", True),), _scatter, arity=2,
                  doc="(values seq[d], flags seq[int] or seq[1]) -> seq[d]: Gather's inverse, the k-th flagged step "
                      "gets values[k], held until the next flagged step (hold=false: the others are 0)"),
        LayerSpec("Mispredicted", (Param("threshold", "number", None),), _mispredicted, arity=2,
                  doc="(inputs seq[d], predictions seq[d]) -> seq[1]: 1 at step 0 and where the prediction made the "
                      "step before missed the input (by class; by more than threshold in a feature, if given)",
                  valid=_positive("Mispredicted", "threshold")),
    )
}

# Configurations: they wrap a cell application (`Stack(GRU(units), depth=2)`).
WRAPPERS: dict[str, tuple] = {
    "Stack": (Param("cell", "cell"), Param("depth", "int", 2)),
    "Bidirectional": (Param("cell", "cell"), Param("merge", "enum:concat|sum|mul|ave", "concat")),
}

# The encoder-decoder configuration (rnndsl.keras.seq2seq): an encoder cell reads the source
# features, a bridge carries its final states into a decoder cell, which reads the target
# tokens (teacher forcing) through its own embedding, with optional attention over the
# encoder's outputs, and gives the probabilities of each next token.
ATTENTIONS = ("none", "bahdanau", "luong_dot", "luong_general")
BRIDGES = ("copy", "dense", "none")
ENCODER_DECODER = "EncoderDecoder"
ENCODER_DECODER_PARAMS = (
    Param("encoder", "cell"), Param("decoder", "cell"), Param("vocab", "dim"), Param("embed", "dim"),
    Param("attention", "enum:" + "|".join(ATTENTIONS), "none"), Param("bridge", "enum:" + "|".join(BRIDGES), "copy"),
    Param("sampling", "number", 0.0), Param("start", "int", 2), Param("end", "int", 3),
    Param("max_length", "int", 100),
)

# The keyword every cell application takes besides its hyperparameters.
# `returns=nodes` is a tree cell's value at every node (what `sequences` also means for one); `last` is the
# last step's or the root's; `states` the final states (a tree's root's).
CELL_KEYWORDS = (Param("returns", "enum:sequences|nodes|last|states", "sequences"),)


def merged_dims(merge: str, dims: tuple) -> tuple:
    """Bidirectional: the feature dims after merging the two directions."""
    if merge == "concat":
        return dims[:-1] + (dims[-1] * Dim.const(2),)
    return dims
