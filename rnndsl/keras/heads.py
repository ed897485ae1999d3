"""heads: an operation of a cell with heads, run for every head at once (rnndsl.lang.heads types them).

A value with heads is a tensor `(batch, heads) + shape` (`(heads,) + shape` where it has no batch
axis, a parameter's), `shape` being one head's. An operation with an operand that has heads runs
once for all heads: the head axis is folded into the batch axis, `(batch * heads) + shape`, the
operands without heads repeated for each head (a parameter without heads, which has no batch
axis, stays as it is and broadcasts), the operation's lowering applied as to any batched value,
and the result unfolded. Where no operand has a batch axis (`W_k @ c` of parameters), the head
axis is the batch axis. A matmul is one einsum with a head index instead, which repeats nothing; so is an
operation whose registry entry `broadcasts_heads` (`cosine`): its operands keep the head axis after the
batch axis, a unit one where the heads share the operand, and broadcasting does the rest.
"""

from __future__ import annotations

import math
from dataclasses import replace

from keras import ops

from ..lang.dims import int_bindings


def run_per_head(apply, x, heads: list, count: int, broadcasts: bool = False):
    """The value of an operation whose operands `x` (interpret.Operands, shapes with the head axis where
    `heads` says) include one with heads; `apply(operands)` lowers the operation for one head. Where the
    lowering `broadcasts` over leading axes (a registry entry's `broadcasts_heads`) and some operand has a
    batch axis, the heads run as a second batch axis: nothing is repeated."""
    known = int_bindings(x.env)
    shapes = [tuple(s[1:]) if h else s for s, h in zip(x.shapes, heads)]
    if broadcasts and any(x.batched):
        # (batch, heads) + shape where an operand has heads, (batch, 1) + shape where the heads share it; a
        # parameter, with heads or not, broadcasts from the right as it is
        values = [ops.expand_dims(v, 1) if b and not h else v for v, b, h in zip(x.values, x.batched, heads)]
        return apply(replace(x, values=values, shapes=shapes))
    sizes = [tuple(int(d.subst(known).value) for d in s) for s in shapes]
    if not any(x.batched):  # parameters and constants alone: the heads are the batch
        return apply(replace(x, batched=[b or h for b, h in zip(x.batched, heads)], shapes=shapes))
    # Repeated by broadcasting against zeros, not by `broadcast_to` a shape made of the batch size: under XLA
    # the gradient of `broadcast_to` needs its shape at compile time, and in the backward loop it is not.
    i = x.batched.index(True)
    examples = ops.zeros_like(ops.reshape(x.values[i], (-1, math.prod(sizes[i]) * (count if heads[i] else 1)))[:, :1])
    values, batched = [], []
    for v, b, h, size in zip(x.values, x.batched, heads, sizes):
        if h and not b:  # a parameter with heads: the same for every example
            v = _repeated(ops.expand_dims(v, 0), ops.reshape(examples, (-1,) + (1,) * (1 + len(size))))
        elif b and not h:  # a value shared by the heads: the same for every head
            v = _repeated(ops.expand_dims(v, 1), ops.zeros((1, count) + (1,) * len(size)))
        values.append(ops.reshape(v, (-1,) + size) if (b or h) else v)
        batched.append(b or h)
    out = apply(replace(x, values=values, batched=batched, shapes=shapes))
    if isinstance(out, (list, tuple)):
        return [_unfold(o, count) for o in out]
    return _unfold(out, count)


def _repeated(value, zeros):
    """`value` broadcast against `zeros` (a condition's `or`, a number's `+`)."""
    if value.dtype == "bool":
        return ops.logical_or(value, ops.cast(zeros, "bool"))
    return value + ops.cast(zeros, value.dtype)


def _unfold(value, count: int):
    """(batch * heads,) + shape -> (batch, heads) + shape."""
    return ops.reshape(value, (-1, count) + tuple(value.shape[1:]))


def matmul_subscripts(ranks: list, batched: list, heads: list, transposed=(False, False)) -> str:
    """The einsum of `a @ b` (each one head's rank) with a batch index `z` and a head index `r` on the
    operands that have them: `rij,zj->zri` for `W_k @ h` of a parameter with heads. An operand that
    `transposed` marks (a matrix) is given untransposed: `zji,zrj->zri` for `transpose(L) @ w`."""
    sa, sb, so = {(2, 1): ("ij", "j", "i"), (1, 2): ("j", "jk", "k"), (2, 2): ("ij", "jk", "ik")}.get(
        tuple(ranks), ("j", "j", ""))
    sa, sb = (s[::-1] if t else s for s, t in zip((sa, sb), transposed))
    pa = ("z" if batched[0] else "") + ("r" if heads[0] else "") + sa
    pb = ("z" if batched[1] else "") + ("r" if heads[1] else "") + sb
    po = ("z" if any(batched) else "") + ("r" if any(heads) else "") + so
    return f"{pa},{pb}->{po}"
