"""shape_rules: what an operator, or a call of a built-in function, gives, by shape.

A rule is `rule(cx, ops, attrs) -> shape`, where `ops` are the operation's
operands (`Operand`), `attrs` its constant arguments ({"axis": -1}), and `cx`
the `RuleContext` of the node being typed. A rule may bind an operand whose
shape is unknown, where inference lets it (`Operand.bindable`), raises `Defer`
when it cannot decide yet, and `Fail` with a diagnostic on a type error.
`OPERATOR_RULES` maps each operator to its rule; each built-in function's entry
in the registry (rnndsl.lang.ops) names its rule among those below.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from . import ast as A
from .dims import Dim
from .errors import ShapeError
from .operators import OP_SYMBOLS
from .unify import Defer, Fail, Shape, ShapeVar, Unifier, fresh_dim, show_shape


@dataclass
class Operand:
    """An operand of an op: its node, its shape as known now, where it is read, and whether a rule may
    give it a shape (parameters always; any value once inference binds values from one use)."""

    node: str
    shape: Shape
    span: A.Span
    bindable: bool


class RuleContext:
    """The op node being typed (`node`, its record `rec`, in the cell's graph `G`) and the unifier
    of the cell's shapes: what a rule reads, and the checks that rules share."""

    def __init__(self, u: Unifier, G, node: str):
        self.u = u
        self.G = G
        self.node = node
        self.rec = G.node(node)
        self.span = self.rec.span

    def fail(self, message, span, label="", notes=(), trail=(), code="E0302"):
        raise Fail(ShapeError(message, span, label=label, notes=list(notes), trail=list(trail), code=code))

    def known(self, o: Operand) -> tuple:
        """The operand's shape; defer while it is unknown."""
        if isinstance(o.shape, ShapeVar):
            raise Defer
        return o.shape

    def bind(self, o: Operand, shape) -> tuple:
        """Give an unknown operand `shape`, if inference may (else defer)."""
        if not o.bindable:
            raise Defer
        self.u.unify(o.shape, shape)
        return shape

    def operands_now(self, ops: list) -> list:
        """The operands with the shapes bound since the rule began."""
        return [Operand(o.node, self.u.shape(o.shape), o.span, o.bindable) for o in ops]

    def mismatch(self, a: Operand, b: Operand, notes=()):
        op = self.rec.op
        sym = OP_SYMBOLS.get(op, op)
        what = f"`{sym}`" if op in OP_SYMBOLS else f"`{sym}(...)`"
        schedule = self.rec.attrs.get("schedule") if self.rec.attrs else None
        if schedule is not None:  # the `where` of `h[t] = e when c` (rnndsl.lang.schedules)
            what = f"the schedule `{schedule}`"
        sa, sb = show_shape(self.u.shape(a.shape)), show_shape(self.u.shape(b.shape))
        self.fail(f"shape mismatch in {what}: {sa} vs {sb}", b.span, label=sb,
                  trail=[(a.span, sa)], notes=notes, code="E0302")

    def rank_error(self, a: Operand, b: Operand):
        sa, sb = show_shape(self.u.shape(a.shape)), show_shape(self.u.shape(b.shape))
        self.fail(f"`@` takes matrices and vectors, found {sa} @ {sb}", self.span,
                  label=f"{sa} @ {sb}", notes=["`W @ x` with W: [m, n] and x: [n] gives [m]"], code="E0301")

    def check_axis(self, o: Operand, axis) -> Optional[int]:
        """`axis` in range for the operand's rank, as a non-negative index (None: no axis)."""
        if axis is None or isinstance(o.shape, ShapeVar):
            return axis
        rank = len(o.shape)
        if not isinstance(axis, int) or not -rank <= axis < rank:
            self.fail(f"axis {axis} is out of range for {show_shape(o.shape)}", self.span,
                      label=f"rank {rank}", code="E0306")
        return axis % rank

    def vectors(self, ops: list, name: str):
        """Every operand whose shape is known is a vector."""
        for o in ops:
            if isinstance(o.shape, tuple) and len(o.shape) != 1:
                self.fail(f"`{name}` takes vectors, found {show_shape(o.shape)}", o.span,
                          label=show_shape(o.shape), code="E0301")


# ---------------------------------------------------------------- the rules


def same_shape(cx: RuleContext, ops: list, attrs: dict) -> Shape:
    """One operand, its shape kept: `-x`, `tanh(x)`, a reduction over a tree node's children."""
    return ops[0].shape


def along_axis(cx: RuleContext, ops: list, attrs: dict) -> Shape:
    """One operand, its shape kept, computed along its `axis`: `softmax(x, axis=0)`, `cumsum(x)`."""
    cx.check_axis(ops[0], attrs.get("axis"))
    return ops[0].shape


def elementwise(cx: RuleContext, ops: list, attrs: dict) -> Shape:
    """Equal shapes, or a scalar with any shape: `a + b`, `where(c, a, b)`. Unknown operands take the
    known ones' shape."""
    known = [o for o in ops if isinstance(o.shape, tuple)]
    target = next((o for o in known if o.shape != ()), None)
    unknown = [o for o in ops if isinstance(o.shape, ShapeVar)]
    if unknown:
        if target is not None:
            if not all(o.bindable for o in unknown):
                raise Defer
            for o in unknown:
                cx.u.unify(o.shape, target.shape)
        else:
            if not all(o.bindable for o in unknown):
                raise Defer
            first = unknown[0]
            for o in unknown[1:]:
                cx.u.unify(o.shape, first.shape)
            return first.shape
    if target is None:
        return ()
    for o in ops:
        shape = cx.u.shape(o.shape)
        if shape != () and not cx.u.unify(shape, target.shape):
            notes = []
            if isinstance(shape, tuple) and len(shape) != len(target.shape):
                notes = ["element-wise operations take equal shapes, or a scalar with any shape"]
            cx.mismatch(target, o, notes)
    return cx.u.shape(target.shape)


def matmul(cx: RuleContext, ops: list, attrs: dict) -> Shape:
    """`[m, n] @ [n]` -> `[m]`, `[n] @ [n, k]` -> `[k]`, `[m, n] @ [n, k]` -> `[m, k]`, `[n] @ [n]` -> `[]`;
    an unknown side (a weight matrix) is bound from the other."""
    a, b = ops
    if isinstance(a.shape, ShapeVar) and isinstance(b.shape, ShapeVar):
        raise Defer
    if isinstance(a.shape, ShapeVar):
        (bshape) = b.shape
        if len(bshape) == 1:
            m = fresh_dim()
            cx.bind(a, (m, bshape[0]))
            return (m,)
        if len(bshape) == 2:
            m = fresh_dim()
            cx.bind(a, (m, bshape[0]))
            return (m, bshape[1])
        cx.rank_error(a, b)
    if isinstance(b.shape, ShapeVar):
        ashape = a.shape
        if len(ashape) == 2:
            cx.bind(b, (ashape[1],))
            return (ashape[0],)
        if len(ashape) == 1:
            k = fresh_dim()
            cx.bind(b, (ashape[0], k))
            return (k,)
        cx.rank_error(a, b)
    ashape, bshape = a.shape, b.shape
    ranks = (len(ashape), len(bshape))
    if ranks not in ((2, 1), (1, 2), (2, 2), (1, 1)):
        cx.rank_error(a, b)
    inner_a = ashape[-1]
    inner_b = bshape[0]
    if not cx.u.unify_dim(inner_a, inner_b):
        sa, sb = show_shape(ashape), show_shape(bshape)
        cx.fail(f"shape mismatch in `@`: {sa} @ {sb}", b.span, label=sb, trail=[(a.span, sa)],
                notes=[f"the left side's last dimension ({inner_a}) must equal the right side's "
                       f"first ({inner_b})"], code="E0302")
    result = tuple(ashape[:-1]) + tuple(bshape[1:])
    return cx.u.shape(result)


def reduce_axis(cx: RuleContext, ops: list, attrs: dict) -> Shape:
    """`sum(x)` (mean, max, min, prod, norm) -> `[]`; with `axis=i`, x's shape without dimension i."""
    x = cx.known(ops[0])
    axis = cx.check_axis(ops[0], attrs.get("axis"))
    if axis is None:
        return ()
    return x[:axis] + x[axis + 1:]


def dot(cx: RuleContext, ops: list, attrs: dict) -> Shape:
    """`dot([n], [n])` -> `[]`."""
    a, b = ops
    if isinstance(a.shape, ShapeVar) and isinstance(b.shape, ShapeVar):
        raise Defer
    if isinstance(a.shape, ShapeVar):
        cx.bind(a, b.shape)
    if isinstance(b.shape, ShapeVar):
        cx.bind(b, a.shape)
    a, b = cx.operands_now(ops)
    cx.vectors(ops, "dot")
    if not cx.u.unify(a.shape, b.shape):
        cx.mismatch(a, b)
    return ()


def outer(cx: RuleContext, ops: list, attrs: dict) -> Shape:
    """`outer([m], [n])` -> `[m, n]`."""
    shapes = []
    for o in ops:
        if isinstance(o.shape, ShapeVar):
            shapes.append(cx.bind(o, (fresh_dim(),)))
        else:
            shapes.append(o.shape)
    cx.vectors(cx.operands_now(ops), "outer")
    return (shapes[0][0], shapes[1][0])


def cosine(cx: RuleContext, ops: list, attrs: dict) -> Shape:
    """`cosine([N, W], [W])` -> `[N]` (a memory's rows against a key), `cosine([W], [W])` -> `[]`."""
    m, k = ops
    if isinstance(m.shape, ShapeVar):
        if isinstance(k.shape, ShapeVar):
            raise Defer
        cx.bind(m, k.shape)
    if isinstance(k.shape, ShapeVar):
        cx.bind(k, (cx.u.shape(m.shape)[-1],))
    m, k = cx.operands_now(ops)
    if len(k.shape) != 1 or len(m.shape) not in (1, 2):
        cx.fail(f"`cosine` takes a vector or a matrix, and a vector: found {show_shape(m.shape)} "
                f"and {show_shape(k.shape)}", cx.span, code="E0301")
    if not cx.u.unify_dim(m.shape[-1], k.shape[0]):
        cx.mismatch(m, k, ["a matrix's rows are compared with the vector: [N, W] and [W]"])
    return m.shape[:-1]


def arange(cx: RuleContext, ops: list, attrs: dict) -> Shape:
    """`arange(n)` -> `[n]`: n an integer or an int hyperparameter."""
    n = attrs["n"]
    return (Dim.of(n) if isinstance(n, int) else Dim.sym(n),)


def sort_matrix(cx: RuleContext, ops: list, attrs: dict) -> Shape:
    """`sort_matrix(u: [N])` -> `[N, N]`: the permutation that sorts u."""
    u = cx.known(ops[0])
    cx.vectors(ops, "sort_matrix")
    return (u[0], u[0])


def allocation(cx: RuleContext, ops: list, attrs: dict) -> Shape:
    """`allocation(u: [N])` -> `[N]`: a DNC's allocation weighting of the usage u."""
    u = cx.known(ops[0])
    cx.vectors(ops, "allocation")
    return u


def sharpen(cx: RuleContext, ops: list, attrs: dict) -> Shape:
    """`sharpen(w: [..., N], gamma: [])` -> w's shape: each row of w raised to gamma and normalized."""
    w, gamma = (cx.known(o) for o in ops)
    if gamma != ():
        cx.fail(f"the exponent of `sharpen` is a scalar, found {show_shape(gamma)}", ops[1].span,
                label=show_shape(gamma), notes=["`sharpen(w[t], gamma[t])` with `gamma[t]` of shape []"],
                code="E0302")
    if not w:
        cx.fail("`sharpen` takes a weighting, a vector: found a scalar", ops[0].span, label="[]", code="E0302")
    return w


def circular_conv(cx: RuleContext, ops: list, attrs: dict) -> Shape:
    """`circular_conv(w: [N], s: [K])` -> `[N]`, K <= N: the weighting w shifted by the distribution s."""
    w, s = (cx.known(o) for o in ops)
    cx.vectors(ops, "circular_conv")
    n, k = w[0].value, s[0].value
    if n is not None and k is not None and k > n:
        cx.fail(f"the shift distribution has {k} entries for {n} slots", ops[1].span,
                label=show_shape(s), code="E0302")
    return w


def transpose(cx: RuleContext, ops: list, attrs: dict) -> Shape:
    """`transpose([m, n])` -> `[n, m]`."""
    x = cx.known(ops[0])
    if len(x) != 2:
        cx.fail(f"`transpose` takes a matrix, found {show_shape(x)}", ops[0].span, code="E0301")
    return (x[1], x[0])


def flatten(cx: RuleContext, ops: list, attrs: dict) -> Shape:
    """`flatten([a, b, ...])` -> `[a * b * ...]`: the entries in row-major order (a scalar is one)."""
    x = cx.known(ops[0])
    size = Dim.const(1)
    for d in x:
        size = size * d
    return (size,)


def concat(cx: RuleContext, ops: list, attrs: dict) -> Shape:
    """`concat([a], [b])` -> `[a + b]`: shapes that agree off the axis, joined along it."""
    shapes = [cx.known(o) for o in ops]
    first = shapes[0]
    axis = cx.check_axis(ops[0], attrs.get("axis", -1))
    total = first[axis]
    for o, shape in zip(ops[1:], shapes[1:]):
        if len(shape) != len(first) or not all(
            cx.u.unify_dim(a, b) for i, (a, b) in enumerate(zip(first, shape)) if i != axis
        ):
            cx.mismatch(ops[0], o, [f"`concat` joins shapes that agree off axis {axis}"])
        total = total + shape[axis]
    return first[:axis] + (total,) + first[axis + 1:]


def split(cx: RuleContext, ops: list, attrs: dict) -> Shape:
    """`split(x: [2n], 2)` -> `[n]`, one piece for each target of the equation."""
    x = cx.known(ops[0])
    axis = cx.check_axis(ops[0], attrs.get("axis", -1))
    parts = attrs["parts"]
    piece = _divide(x[axis], parts)
    if piece is None:
        cx.fail(f"cannot split {show_shape(x)} into {parts} equal parts along axis {axis}",
                ops[0].span, label=show_shape(x), code="E0302")
    targets = [v for v, use in cx.G.users(cx.node) if use.defines]
    if len(targets) != (parts if isinstance(parts, int) else len(targets)):
        cx.fail(f"`split` into {parts} parts defines {len(targets)} value"
                f"{'s' if len(targets) != 1 else ''}", cx.span, code="E0302")
    return x[:axis] + (piece,) + x[axis + 1:]


def einsum(cx: RuleContext, ops: list, attrs: dict) -> Shape:
    """`einsum("ij,j->i", [m, n], [n])` -> `[m]`: the subscripts name the dimensions."""
    spec = attrs["subscripts"]
    inputs, output = _parse_einsum(spec, len(ops), cx.span)
    letters: dict = {}
    for o, subs in zip(ops, inputs):
        if isinstance(o.shape, tuple):
            if len(o.shape) != len(subs):
                cx.fail(f"`einsum` operand `{subs}` has rank {len(subs)}, found {show_shape(o.shape)}",
                        o.span, label=show_shape(o.shape), code="E0301")
            for letter, d in zip(subs, o.shape):
                if letter in letters and not cx.u.unify_dim(letters[letter], d):
                    cx.fail(f"`einsum` index `{letter}` has sizes {cx.u.dim(letters[letter])} and {d}",
                            o.span, label=show_shape(o.shape), code="E0302")
                letters.setdefault(letter, d)
    for o, subs in zip(ops, inputs):
        if isinstance(o.shape, ShapeVar):
            for letter in subs:
                letters.setdefault(letter, fresh_dim())
            cx.bind(o, tuple(letters[c] for c in subs))
    for letter in output:
        if letter not in letters:
            raise Defer
    return tuple(cx.u.dim(letters[c]) for c in output)


# The operators, by their op names in the graph (rnndsl.lang.graph); the built-in functions' rules are
# held by their entries in the registry (rnndsl.lang.ops).
OPERATOR_RULES = {
    **{op: elementwise for op in ("add", "sub", "mul", "div", "lt", "le", "gt", "ge", "eq", "ne")},
    "neg": same_shape,
    "copy": same_shape,
    "matmul": matmul,
}


def children_concat(cx: RuleContext, ops: list, attrs: dict) -> Shape:
    """`concat(h[k] for k in children(n))` in `over tree(K)`: K children's `[d]` side by side, `[K * d]`
    (scalars give `[K]`)."""
    shape = cx.known(ops[0])
    arity = Dim.const(cx.G.header.arity)
    return (arity,) if not shape else shape[:-1] + (shape[-1] * arity,)


def leaf(cx: RuleContext, ops: list, attrs: dict) -> Shape:
    """`leaf(n)`: one truth value, whether the node has no children."""
    return ()


def operator_rule(op: str):
    """The rule of the operator `op`; "children.NAME", a reduction over a tree node's children, gives the
    shape of what it reduces, one child's (`children.concat`, the children side by side)."""
    if op == "children.concat":
        return children_concat
    if op == "tree.leaf":
        return leaf
    if op.startswith("children."):
        return same_shape
    rule = OPERATOR_RULES.get(op)
    if rule is None:
        raise AssertionError(f"no shape rule for {op}")
    return rule


def _divide(d: Dim, parts) -> Optional[Dim]:
    if isinstance(parts, int):
        return d.exact_div(parts)
    # a symbolic number of parts: every term must carry the symbol
    terms = {}
    for m, c in d.terms.items():
        if parts not in m:
            return None
        rest = list(m)
        rest.remove(parts)
        terms[tuple(rest)] = c
    return Dim(terms)


def _parse_einsum(spec: str, n_operands: int, span) -> tuple:
    """`"ij,j->i"` -> (["ij", "j"], "i"); without `->`, the output is the letters seen once, sorted."""
    text = spec.replace(" ", "")
    if "->" in text:
        lhs, out = text.split("->", 1)
    else:
        lhs, out = text, None
    inputs = lhs.split(",")
    ok = all(s.isalpha() or s == "" for s in inputs) and (out is None or out.isalpha() or out == "")
    if not ok or "->" in (out or ""):
        raise Fail(ShapeError(f"bad einsum subscripts `{spec}`", span,
                              label="expected letters such as \"ij,j->i\"", code="E0307"))
    if len(inputs) != n_operands:
        raise Fail(ShapeError(f"einsum subscripts `{spec}` name {len(inputs)} operand"
                              f"{'s' if len(inputs) != 1 else ''}, given {n_operands}", span, code="E0307"))
    if out is None:
        counts: dict = {}
        for c in "".join(inputs):
            counts[c] = counts.get(c, 0) + 1
        out = "".join(sorted(c for c, k in counts.items() if k == 1))
    for c in out:
        if c not in "".join(inputs):
            raise Fail(ShapeError(f"einsum output index `{c}` is not in any operand", span, code="E0307"))
    return inputs, out
