"""The registry of built-in functions: one entry says everything about one function.

An `Operation` holds what every stage needs of a function, so that adding one is adding
an entry here (and a test; docs/architecture.md walks through it):

- `signature`: the parameters that `resolve` checks a call against;
- `shape`: the shape rule that `infer` applies, `rule(cx, operands, attrs) -> shape` (rnndsl.lang.shape_rules);
- `lower`: the computation, over a `LoweringCall` whose `ops` is `keras.ops` (the language
  never imports Keras: the back end passes its namespace in, `rnndsl.keras.interpret`);
- `reference`: an independent NumPy form of one call without a batch axis, for the tests;
- `latex`, `label`: how papers write the function's name, and how diagrams label it;
  `form`: where papers write a call in a form of its own (`a^\\top b`), a template whose
  fields `{i:level}` are operand i set at a precedence level (see `rnndsl.draw.latex`).

The operators (`+ - * / @ **`, comparisons) are the interpreter's own: they are no
function a spec calls by name; `pow`, which is also `**`, is an entry.
"""

from __future__ import annotations

import math
from typing import Callable

from . import ops_sorting
from . import shape_rules as rules
from .heads import GATHER, no_heads_rule
from .registry import OPERATIONS, Operation, np, register
from .signature import Param, Signature

# What the stages import of the registry: from here, so that it holds every entry (rnndsl.lang.registry)
__all__ = ["COSINE_EPS", "ELEMENTWISE", "KEYWORD_ONLY", "OPERATIONS", "root_of_squares"]

COSINE_EPS = 1e-8  # `cosine` divides by max(|a| |b|, this): no NaN for a zero vector, nor in its gradient


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


_X = Signature((Param("x"),))
_AB = Signature((Param("a"), Param("b")))
_ALONG = Signature((Param("x"), Param("axis", "axis", -1)))
_REDUCE = Signature((Param("x"), Param("axis", "axis", None)), reduction=True)

# ---------------------------------------------------------------- element-wise, one argument

# name: (keras.ops function name or a lowering, NumPy reference, LaTeX name, diagram label)
_ELEMENTWISE = {
    "sigmoid": ("sigmoid", _sigmoid, "\\sigma", "σ"),
    "tanh": ("tanh", np.tanh, "\\tanh", "tanh"),
    "relu": ("relu", lambda x: np.maximum(x, 0), "\\operatorname{ReLU}", "ReLU"),
    "elu": ("elu", lambda x: np.where(x > 0, x, np.expm1(x)), "\\operatorname{ELU}", "ELU"),
    "selu": ("selu", lambda x: 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * np.expm1(x)),
             "\\operatorname{SELU}", "SELU"),
    # keras.ops.gelu is the tanh approximation by default
    "gelu": ("gelu", lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3))),
             "\\operatorname{GELU}", "GELU"),
    "silu": ("silu", lambda x: x * _sigmoid(x), "\\operatorname{SiLU}", "SiLU"),
    "softplus": ("softplus", lambda x: np.logaddexp(0, x), "", ""),
    "softsign": ("softsign", lambda x: x / (1 + np.abs(x)), "", ""),
    "hard_sigmoid": ("hard_sigmoid", lambda x: np.clip(x / 6 + 0.5, 0, 1),
                     "\\sigma_{\\mathrm{hard}}", "σ<SUB>hard</SUB>"),
    "exp": ("exp", np.exp, "\\exp", "exp"),
    "log": ("log", np.log, "\\log", "log"),
    "sqrt": ("sqrt", np.sqrt, "", ""),
    "abs": ("abs", np.abs, "", ""),
    "square": ("square", np.square, "", ""),
    "sign": ("sign", np.sign, "\\operatorname{sgn}", "sgn"),
    "sin": ("sin", np.sin, "\\sin", "sin"),
    "cos": ("cos", np.cos, "\\cos", "cos"),
    "step": (lambda call: call.ops.cast(call.ops.greater(call.args[0], 0), call.args[0].dtype),
             lambda x: (x > 0).astype(x.dtype), "H", "H"),
}
# Where papers write the call itself another way than name(argument).
_ELEMENTWISE_FORMS = {
    "square": ("{0:base}^{{2}}", "power"),
    "abs": ("\\left|{0:expr}\\right|", "atom"),
    "sqrt": ("\\sqrt{{{0:expr}}}", "atom"),
}


def _keras_unary(name: str) -> Callable:
    return lambda call: getattr(call.ops, name)(call.args[0])


for _name, (_lowering, _reference, _latex, _label) in _ELEMENTWISE.items():
    register(Operation(
        _name, _X, rules.same_shape,
        lower=_keras_unary(_lowering) if isinstance(_lowering, str) else _lowering,
        reference=_reference, latex=_latex, label=_label, form=_ELEMENTWISE_FORMS.get(_name),
        example=((2, 3),), positive=_name in ("log", "sqrt")))

ELEMENTWISE = tuple(_ELEMENTWISE)

# ---------------------------------------------------------------- along an axis

register(Operation(
    "softmax", _ALONG, rules.along_axis,
    lower=lambda call: call.ops.softmax(call.args[0], axis=call.axis()),
    reference=lambda x, axis=-1: np.exp(x - x.max(axis, keepdims=True))
    / np.exp(x - x.max(axis, keepdims=True)).sum(axis, keepdims=True),
    example=((3, 4),), attrs=(("axis", 0),)))
register(Operation(
    "log_softmax", _ALONG, rules.along_axis,
    lower=lambda call: call.ops.log_softmax(call.args[0], axis=call.axis()),
    reference=lambda x, axis=-1: x - x.max(axis, keepdims=True)
    - np.log(np.exp(x - x.max(axis, keepdims=True)).sum(axis, keepdims=True)),
    latex="\\log\\operatorname{softmax}", label="log softmax", example=((3, 4),)))
# ---------------------------------------------------------------- element-wise, several arguments

register(Operation(
    "maximum", _AB, rules.elementwise,
    lower=lambda call: call.ops.maximum(*call.aligned()), reference=np.maximum,
    latex="\\max", label="max", example=((4,), (4,))))
register(Operation(
    "minimum", _AB, rules.elementwise,
    lower=lambda call: call.ops.minimum(*call.aligned()), reference=np.minimum,
    latex="\\min", label="min", example=((4,), (4,))))
register(Operation(
    "pow", _AB, rules.elementwise,
    lower=lambda call: call.ops.power(*call.aligned()), reference=np.power,
    form=("{0:base}^{{{1:expr}}}", "power"), marks=((1, "exp"),), example=((4,), 2.5),
    positive=True))
# `mod(t, 4) == 0`: every fourth step. Floored, as Python's `%` and NumPy's `mod`: the result has the
# divisor's sign (mod(-1, 4) = 3). The gradient is 1 in `a` and -floor(a / b) in `b`, between the jumps.
register(Operation(
    "mod", _AB, rules.elementwise,
    lower=lambda call: call.ops.mod(*call.aligned()), reference=np.mod,
    form=("{0:unary} \\bmod {1:unary}", "product"), label="mod", example=((4,), (4,)), positive=True))
register(Operation(
    "clip", Signature((Param("x"), Param("low"), Param("high"))), rules.elementwise,
    lower=lambda call: call.ops.minimum(call.ops.maximum(*call.aligned()[:2]), call.aligned()[2]),
    reference=lambda x, low, high: np.minimum(np.maximum(x, low), high), marks=((1, "low"), (2, "high")),
    example=((4,), -0.5, 0.5)))
def _binarize(call):
    x = call.args[0]
    hard = call.ops.cast(call.ops.greater(x, 0.5), x.dtype)
    # the forward value is the step, the backward pass sees the identity: x + (step - x), the difference
    # held out of the gradient
    return x + call.ops.stop_gradient(hard - x)


# A boundary detector's 0/1 decision trained by the straight-through estimator (the hierarchical multiscale
# LSTM, Chung et al. 2017): 1 where x > 0.5, else 0; its gradient is passed on unchanged.
register(Operation(
    "binarize", _X, rules.same_shape, lower=_binarize,
    reference=lambda x: (x > 0.5).astype(x.dtype), gradient=lambda x, cotangent: (cotangent,),
    latex="\\operatorname{bin}", label="bin", example=((4,),)))


def _where(call):
    cond, a, b = call.aligned()
    # `where(c, 1, 0)`: numbers alone would make a float32 tensor in a float64 cell
    return call.ops.where(cond, *(call.ops.cast(v, call.dtype) if isinstance(v, (int, float)) else v for v in (a, b)))


register(Operation(
    "where", Signature((Param("cond"), Param("a"), Param("b"))), rules.elementwise,
    lower=_where,
    reference=lambda cond, a, b: np.where(cond, a, b), marks=((1, "then"), (2, "else")),
    example=((4,), (4,), (4,))))

# ---------------------------------------------------------------- vectors and matrices


def _cosine(call):
    """`a·b / max(|a| |b|, eps)`, of each row of `a` where it is a matrix, with a gradient of its own: it keeps
    a and b alone of each step, and computes the norms again, where the composed operations keep the product,
    the squares, the norms and the quotient for the backward pass (a memory's content addressing, at every
    step of the loop). Its value and gradient are the composed form's."""
    ops = call.ops
    rows = call.ranks[0] == 2

    @ops.custom_gradient
    def cosine(a, b):
        key = ops.expand_dims(b, -2) if rows else b
        squares_a, squares_b = ops.sum(ops.square(a), axis=-1), ops.sum(ops.square(key), axis=-1)
        # max(|a| |b|, eps) as sqrt(max(|a|^2 |b|^2, eps^2)): the same value, and no square root of 0
        product = squares_a * squares_b
        den = ops.sqrt(ops.maximum(product, COSINE_EPS ** 2))
        value = ops.sum(a * key, axis=-1) / den

        def gradient(*args, upstream=None):
            g = args[0] if upstream is None else upstream  # (PyTorch passes the inputs, then `upstream`)
            # d value / d a = b / den - value a / |a|^2 where |a| |b| > eps, b / eps where the max holds eps
            # (a zero row, or a zero key as a controller that starts at 0 gives); the same for b
            free = product > COSINE_EPS ** 2
            along_a = ops.where(free, value / ops.where(free, squares_a, 1.0), 0.0)
            along_b = ops.where(free, value / ops.where(free, squares_b, 1.0), 0.0)
            scaled = ops.expand_dims(g / den, -1)
            grad_a = scaled * key - ops.expand_dims(g * along_a, -1) * a
            if rows:  # summed over the rows before the product with b
                grad_b = ops.sum(scaled * a, axis=-2) - ops.expand_dims(ops.sum(g * along_b, axis=-1), -1) * b
            else:
                grad_b = scaled * a - ops.expand_dims(g * along_b, -1) * b
            return _summed_to(ops, grad_a, a), _summed_to(ops, grad_b, b)

        return value, gradient

    # tensors, not variables (a parameter read directly), whose gradients `custom_gradient` would ask for apart
    return cosine(*(ops.copy(x) for x in call.args))


def _summed_to(ops, gradient, x):
    """`gradient` summed to x's shape over the axes that broadcasting gave it: the leading axes beyond x's (a
    batch axis, where x has none), and those where x has a unit axis (the head axis of an operand the heads
    share)."""
    extra = len(gradient.shape) - len(x.shape)
    units = tuple(i for i, (g, d) in enumerate(zip(gradient.shape[extra:], x.shape)) if d == 1 and g != 1)
    if units:
        gradient = ops.sum(gradient, axis=tuple(extra + i for i in units), keepdims=True)
    return ops.sum(gradient, axis=tuple(range(extra))) if extra else gradient


def _cosine_reference(a, b):
    num = (a * b).sum(-1)
    return num / np.maximum(np.linalg.norm(a, axis=-1) * np.linalg.norm(b), COSINE_EPS)


def _circular_conv(call):
    """Each slot of `w` [n] shifted by j - k//2 and weighted by `s[j]`, for the k entries of `s`."""
    ops = call.ops
    w, s = call.args
    k = call.size(1, 0)
    out = 0
    for j in range(k):
        out = out + ops.roll(w, shift=j - k // 2, axis=-1) * s[..., j:j + 1]
    return out


def _circular_conv_reference(w, s):
    n, k = len(w), len(s)
    return np.array([sum(w[(i - (j - k // 2)) % n] * s[j] for j in range(k)) for i in range(n)])


register(Operation(
    "dot", _AB, rules.dot,
    lower=lambda call: call.ops.sum(call.args[0] * call.args[1], axis=-1),
    reference=lambda a, b: np.dot(a, b), form=("{0:base}^{{\\top}} {1:unary}", "product"),
    example=((4,), (4,))))
register(Operation(
    "outer", _AB, rules.outer,
    lower=lambda call: call.ops.expand_dims(call.args[0], -1) * call.ops.expand_dims(call.args[1], -2),
    reference=np.outer, form=("{0:product} {1:base}^{{\\top}}", "product"), example=((3,), (4,))))
register(Operation(
    "cosine", _AB, rules.cosine, lower=_cosine, reference=_cosine_reference, example=((3, 4), (4,)),
    broadcasts_heads=True))
def _sharpen(call):
    ops = call.ops
    w, gamma = call.aligned()
    # w ** gamma / sum(w ** gamma) in log space: with gamma large and w diffuse, w ** gamma underflows to 0/0
    return ops.softmax(gamma * ops.log(ops.maximum(w, 1e-30)), axis=-1)


register(Operation(
    "sharpen", Signature((Param("w"), Param("gamma"))), rules.sharpen, lower=_sharpen,
    reference=lambda w, gamma: w ** gamma / (w ** gamma).sum(-1, keepdims=True),
    form=("\\frac{{{0:base}^{{{1:expr}}}}}{{\\sum {0:base}^{{{1:expr}}}}}", "atom"), example=((4,), ()),
    positive=True))
register(Operation(
    "arange", Signature((Param("n", "int"),)), rules.arange,
    lower=lambda call: call.ops.arange(call.int_attr("n"), dtype=call.dtype),
    reference=lambda n: np.arange(n, dtype="float64"), example=(), attrs=(("n", 4),)))
register(Operation(
    "circular_conv", Signature((Param("w"), Param("s"))), rules.circular_conv,
    lower=_circular_conv, reference=_circular_conv_reference,
    form=("{0:product} \\circledast {1:product}", "hadamard"), example=((5,), (3,))))
# `stack_heads(x)`: the values of x's heads as one value `[heads, ...]` (rnndsl.lang.heads types it; in a
# tensor a value with heads already has its head axis first, so the lowering has nothing to do).
register(Operation(
    GATHER, _X, no_heads_rule, lower=lambda call: call.args[0], reference=lambda x: x,
    form=("\\left[{0:expr}\\right]_{{i}}", "atom"), label="stack heads"))
register(Operation(
    "transpose", _X, rules.transpose, lower=lambda call: call.ops.swapaxes(call.args[0], -1, -2),
    reference=np.transpose, form=("{0:base}^{{\\top}}", "power"), example=((3, 4),)))


def _flatten(call):
    size = math.prod(call.size(0, axis) for axis in range(call.ranks[0]))
    return call.ops.reshape(call.args[0], ((-1,) if call.batched[0] else ()) + (size,))


register(Operation(
    "flatten", _X, rules.flatten, lower=_flatten, reference=lambda x: np.ravel(x),
    form=("\\operatorname{{vec}} {0:product}", "product"), example=((3, 4),)))


def _concat(call):
    ops, args = call.ops, list(call.args)
    batch_any = any(call.batched)
    if batch_any:  # a constant operand is broadcast over the batch before joining
        n = ops.shape(next(a for a, b in zip(args, call.batched) if b))[0]
        args = [a if b else ops.broadcast_to(a, (n,) + tuple(ops.shape(a))) for a, b in zip(args, call.batched)]
    return ops.concatenate(args, axis=call.axis(batched=batch_any))


register(Operation(
    "concat", Signature((Param("x"),), variadic="tensor"), rules.concat,
    lower=_concat, reference=lambda *xs, axis=-1: np.concatenate(xs, axis=axis),
    example=((3,), (2,))))
register(Operation(
    "split", Signature((Param("x"), Param("parts", "int"), Param("axis", "axis", -1))), rules.split,
    lower=lambda call: call.ops.split(call.args[0], call.int_attr("parts"), axis=call.axis()),
    reference=lambda x, parts, axis=-1: np.split(x, parts, axis=axis),
    example=((4,),), attrs=(("parts", 2),)))


def _einsum(call):
    """`einsum(subscripts, ...)` with a batch letter put before the subscripts of batched operands."""
    text = call.attrs["subscripts"].replace(" ", "")
    lhs, arrow, out = text.partition("->")
    inputs = lhs.split(",")
    if not arrow:  # implicit output: the letters that occur once, in order
        letters = "".join(inputs)
        out = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    batch = next(c for c in "ZYXWVUTSRQPONMLKJIHGFEDCBA" if c not in text)
    inputs = [(batch if b else "") + s for s, b in zip(inputs, call.batched)]
    out = (batch if any(call.batched) else "") + out
    return call.ops.einsum(",".join(inputs) + "->" + out, *call.args)


register(Operation(
    "einsum", Signature((Param("subscripts", "str"),), variadic="tensor"), rules.einsum,
    lower=_einsum, reference=lambda *xs, subscripts: np.einsum(subscripts, *xs),
    example=((3, 4), (4,)), attrs=(("subscripts", "ij,j->i"),)))

# ---------------------------------------------------------------- reductions (also over a tree node's children)

# name: (keras.ops function, NumPy reference, LaTeX name, diagram label, big operator (label, LaTeX))
_REDUCTIONS = {
    "sum": ("sum", np.sum, "", "", ("Σ", "\\sum")),
    "mean": ("mean", np.mean, "", "", None),
    "max": ("max", np.max, "\\max", "max", ("max", "\\max")),
    "min": ("min", np.min, "\\min", "min", ("min", "\\min")),
    "prod": ("prod", np.prod, "", "", ("Π", "\\prod")),
}


def _keras_reduction(name: str) -> Callable:
    return lambda call: getattr(call.ops, name)(call.args[0], axis=call.axes())


def _numpy_reduction(f: Callable) -> Callable:
    return lambda x, axis=None: f(x, axis=axis)


for _name, (_lowering, _reference, _latex, _label, _big) in _REDUCTIONS.items():
    register(Operation(
        _name, _REDUCE, rules.reduce_axis, lower=_keras_reduction(_lowering), reference=_numpy_reduction(_reference),
        latex=_latex, label=_label, big=_big, example=((3, 4),), attrs=(("axis", 1),)))
def root_of_squares(o, squares):
    """sqrt of a sum of squares (`o`: keras.ops), with the gradient 0 where the sum is 0 (the norm of a zero
    vector, a node without children), where sqrt's own would be infinite and the chain rule's 0 * inf NaN."""
    positive = squares > 0
    return o.where(positive, o.sqrt(o.where(positive, squares, 1.0)), 0.0)


register(Operation(
    "norm", _REDUCE, rules.reduce_axis,
    lower=lambda call: root_of_squares(call.ops, call.ops.sum(call.ops.square(call.args[0]), axis=call.axes())),
    reference=lambda x, axis=None: np.sqrt(np.square(x).sum(axis=axis)),
    form=("\\left\\lVert {0:expr} \\right\\rVert", "atom"), example=((3, 4),)))

# ---------------------------------------------------------------- scans

# `exclusive`: each position leaves itself out (the first is 0, or 1 for a product); `reverse`: from the
# end (position i over i, i+1, ...): a neural stack's strength above a slot, the DNC's allocation.
_SCAN = Signature((Param("x"), Param("axis", "axis", -1), Param("exclusive", "bool", False),
                   Param("reverse", "bool", False)))


def _cumprod(ops, x):
    """The running product along the last axis, with the product's gradient at an entry of exactly 0 (the
    product of the other factors: a DNC's usage starts at 0), where TensorFlow's own gradient divides by the
    entry and gives 0. The zeros are left out of the running product (as 1), and the first zero of each prefix
    is brought back as a factor: its value is 0, and its gradient the running product of the others."""
    zero = x == 0
    zeros = ops.cumsum(ops.cast(zero, x.dtype), axis=-1)  # how many zeros each prefix holds
    running = ops.cumprod(ops.where(zero, ops.ones_like(x), x), axis=-1)
    first_zero = ops.cumsum(ops.where(zero, x, ops.zeros_like(x)), axis=-1)  # 0, with the gradient 1 there
    return running * (ops.cast(zeros == 0, x.dtype) + ops.cast(zeros == 1, x.dtype) * first_zero)


def _scan_lowering(name: str) -> Callable:
    def lower(call):
        ops = call.ops
        axis = call.axis()
        x = ops.moveaxis(call.args[0], axis, -1)
        reverse, exclusive = bool(call.attrs.get("reverse")), bool(call.attrs.get("exclusive"))
        x = ops.flip(x, -1) if reverse else x
        out = _cumprod(ops, x) if name == "cumprod" else ops.cumsum(x, axis=-1)
        if exclusive:  # shifted by one, the identity first (a product's is 1: no division by x)
            first = ops.ones_like(x[..., :1]) if name == "cumprod" else ops.zeros_like(x[..., :1])
            out = ops.concatenate([first, out[..., :-1]], axis=-1)
        out = ops.flip(out, -1) if reverse else out
        return ops.moveaxis(out, -1, axis)

    return lower


def _scan_reference(name: str) -> Callable:
    def reference(x, axis=-1, exclusive=False, reverse=False):
        x = np.flip(x, axis) if reverse else x
        out = getattr(np, name)(x, axis=axis)
        if exclusive:  # shift by one along the axis, the identity first
            first = np.take(np.ones_like(x) if name == "cumprod" else np.zeros_like(x), [0], axis=axis)
            out = np.concatenate([first, np.delete(out, -1, axis=axis)], axis=axis)
        return np.flip(out, axis) if reverse else out

    return reference


register(Operation(
    "cumsum", _SCAN, rules.along_axis, lower=_scan_lowering("cumsum"), reference=_scan_reference("cumsum"),
    label="cumsum", example=((3, 4),), attrs=(("axis", 0), ("exclusive", True), ("reverse", True))))
register(Operation(
    "cumprod", _SCAN, rules.along_axis, lower=_scan_lowering("cumprod"), reference=_scan_reference("cumprod"),
    label="cumprod", example=((3, 4),), attrs=(("exclusive", True),)))


# `concat` takes its axis as a keyword after any number of tensors.
KEYWORD_ONLY = {"concat": {"axis": ("axis", -1)}}

# The operations that order a memory's slots by usage (rnndsl.lang.ops_sorting), after the others
for _operation in ops_sorting.OPERATIONS:
    register(_operation)
