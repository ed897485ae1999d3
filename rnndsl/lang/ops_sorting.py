"""The registry's operations that order a memory's slots by usage: `sort_matrix` and `allocation`.

Both rank the slots by comparing every pair (`ranked_below`): a sort of N slots as N² comparisons, which
every back end runs as a few element-wise operations, and no gradient flows through the order.
`allocation` is a DNC's allocation weighting, which `sort_matrix` and `cumprod` can also write (the
standard library's dnc.rnn says how); as one operation it has a gradient of its own, computed from the
usage alone, where the composed form keeps the permutation and the running product of every step for the
backward pass.
"""

from __future__ import annotations

from . import shape_rules as rules
from .registry import Operation, np
from .signature import Param, Signature

VECTOR = Signature((Param("x"),))


def ranked_below(ops, u, n: int):
    """`[..., i, j]`: whether slot j comes before slot i in ascending order of `u` (`[..., n]`, no gradient
    flows through it): a smaller value, or an equal one in an earlier slot, so that ties keep slot order (a
    DNC's usage starts all equal)."""
    u = ops.stop_gradient(u)
    index = ops.arange(n)
    later, earlier = ops.expand_dims(u, -1), ops.expand_dims(u, -2)  # u[i] against u[j]
    return (later > earlier) | ((later == earlier) & (ops.expand_dims(index, -1) > index))


def _sort_matrix(call):
    ops = call.ops
    u, n = call.args[0], call.size(0, 0)
    rank = ops.sum(ops.cast(ranked_below(ops, u, n), "int32"), axis=-1)  # each slot's place in the order
    return ops.swapaxes(ops.one_hot(rank, n, dtype=u.dtype), -1, -2)  # P[r, i] = 1 where slot i has rank r


def _allocation(call):
    """`a[i] = (1 - u[i]) Π u[j]` over the slots j before i in ascending order (`u`: `[..., n]`).

    The value is the sorted form's (the permutation, its product with u, an exclusive cumprod, and back).
    The gradient: `da[i]/du[i] = -Π`, and for each j before i, `da[i]/du[j] = (1 - u[i])` times the product
    without u[j], which is `Π / u[j]` where no factor is 0, the product of the nonzero factors at the one
    zero factor where there is one, and 0 else. It keeps only u and the ranks of each step."""
    ops = call.ops
    n = call.size(0, 0)

    @ops.custom_gradient
    def allocation(u):
        rank = ops.sum(ops.cast(ranked_below(ops, u, n), "int32"), axis=-1)  # each slot's place in the order
        P = ops.one_hot(rank, n, dtype=u.dtype)  # [i, r]: 1 where slot i has rank r
        ascending = ops.squeeze(ops.matmul(ops.expand_dims(u, -2), P), -2)
        running = ops.cumprod(ascending, axis=-1)
        free = (1 - ascending) * ops.concatenate([ops.ones_like(running[..., :1]), running[..., :-1]], axis=-1)
        a = ops.squeeze(ops.matmul(P, ops.expand_dims(free, -1)), -1)

        def gradient(*args, upstream=None):
            g = args[0] if upstream is None else upstream  # (PyTorch passes the inputs, then `upstream`)
            # the order again from the ranks, which the backward pass keeps instead of the N² comparisons
            below = ops.expand_dims(rank, -1) > ops.expand_dims(rank, -2)
            factor = ops.expand_dims(ops.stop_gradient(u), -2)  # [..., 1, j]
            zero = factor == 0
            nonzero = ops.prod(ops.where(below & ~zero, factor, ops.ones_like(factor)), axis=-1, keepdims=True)
            zeros = ops.sum(ops.cast(below & zero, u.dtype), axis=-1, keepdims=True)  # [..., i, 1]
            product = nonzero * ops.cast(zeros == 0, u.dtype)  # Π over the slots before i
            without = ops.where(zero, nonzero * ops.cast(zeros == 1, u.dtype),
                                product / ops.where(zero, ops.ones_like(factor), factor))  # [..., i, j]
            weight = ops.expand_dims(g * (1 - ops.stop_gradient(u)), -1)  # [..., i, 1]
            spread = ops.sum(ops.where(below, weight * without, ops.zeros_like(without)), axis=-2)
            return spread - g * ops.squeeze(product, -1)

        return a, gradient

    return allocation(ops.copy(call.args[0]))  # a tensor, not a variable (as in `cosine`)


def _allocation_reference(u):
    """Graves et al. (2016): `a[phi[j]] = (1 - u[phi[j]]) Π_{i<j} u[phi[i]]`, phi the slots by ascending usage."""
    order = np.argsort(u, kind="stable")
    ascending = u[order]
    a = np.zeros_like(u)
    a[order] = (1 - ascending) * np.concatenate([[1.0], np.cumprod(ascending)[:-1]])
    return a


# rnndsl.lang.ops registers these
OPERATIONS = (
    Operation("sort_matrix", VECTOR, rules.sort_matrix, lower=_sort_matrix,
              reference=lambda u: np.eye(u.shape[-1])[np.argsort(u, kind="stable")], example=((4,),)),
    Operation("allocation", VECTOR, rules.allocation, lower=_allocation, reference=_allocation_reference,
              example=((5,),), positive=True),
)
