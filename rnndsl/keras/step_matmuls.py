"""The matmuls of a generated cell's step that do not run op by op, and the splits and GEMMs they lower to.

- Sibling matmuls (optimize.sibling_matmuls), one operand times several parameter matrices, run as one matmul
  by the matrices stacked (`stacked_params`, `sibling_values`); where each member is read by one add of a bias
  of its shape (optimize.group_sums), the biases are added side by side before the split.
- In the loop, `P @ v[t]` of a matrix the same at every step (a parameter, a stacked sum's `concat(W_r, W_h)`)
  is `v @ Pᵀ` with `Pᵀ` made once before the loop. It is one GEMM either way, but XLA on a CPU runs it 5% to 20%
  faster with `Pᵀ` laid out in memory (measured on the matmuls of the NTM and the DNC of bench/memory.py, 16
  rows by 64 to 120 inputs by 66 to 256 outputs, forward and backward); a training step of either cell went
  from 0.82 to 0.79 (NTM) and 0.83 to 0.81 (DNC) of the hand-written cell's, medians of five rounds in turns.
  The stacked matrices of the loop's groups are transposed once the same way.

`LoopMatmuls` holds what a cell's plan decided; `interpret.StepPlan` evaluates the rest of the step.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

from ..lang.ir import CellIR
from . import optimize


def split_last(x, sizes: list) -> list:
    """`x` cut along its last axis into parts of `sizes`: one op."""
    return split_along(x, sizes, axis=-1)


def split_along(x, sizes: list, axis: int) -> list:
    """`x` cut along `axis` into parts of `sizes`: one op."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.split(x, sizes, axis=axis)
    return ops.split(x, [int(n) for n in np.cumsum(sizes)[:-1]], axis=axis)


def matmul(a, b, transpose_b: bool = False):
    """`a @ b` (`a @ bᵀ` with `transpose_b`), the transpose a flag of the GEMM where the back end has one."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.linalg.matmul(a, b, transpose_b=transpose_b)
    return ops.matmul(a, ops.transpose(b) if transpose_b else b)


class LoopMatmuls:
    """The sibling groups of a step (hoisted and in the loop), the biases their members add, and the loop's
    `P @ v` to be run by a `Pᵀ` made before the loop.

    `G` the cell's graph; `hoisted_order` and `step_order` the ops and values before and in the loop (no groups
    of the hoisted work when it is empty); `batched[n]` whether n has the batch axis; `sizes[p]` the shape of
    parameter p; `fused` whether sibling matmuls run as one."""

    def __init__(self, G: CellIR, hoisted_order, step_order, batched: dict, sizes: dict, fused: bool):
        self.sizes = sizes
        self.hoisted_groups = optimize.sibling_matmuls(G, hoisted_order, batched) if fused else []
        self.step_groups = optimize.sibling_matmuls(G, step_order, batched) if fused else []
        self.group_of = {n: g for g in self.hoisted_groups + self.step_groups for n in g.nodes}
        params = {n for n, rec in G.records() if rec.kind == "param"}
        constants = params | {n for n, rec in G.records() if rec.kind == "const"}
        self.sums = optimize.group_sums(G, self.hoisted_groups + self.step_groups,
                                        lambda key: key[0] in constants and key[1] is None)
        # {op: P} of the loop's `P @ v` whose P is the same at every step
        fixed = params | {n for n in step_order if not batched.get(n, True) and G.node(n).kind in ("op", "value")}
        self.transposed = {n: G.operands(n)[0][0] for n in step_order
                           if n not in self.group_of and matrix_times_vector(G, n, fixed, batched)}

    def stacks(self, weights: dict) -> dict:
        """For the loop: each step group's parameter matrices (of `weights`, by name) stacked, the rows of `P @ v`
        transposed (`stacked_params`), with the biases its members add side by side (or None)."""
        return {g: self._stacked(g, weights, transposed=g.left) for g in self.step_groups}

    def transposes(self, values: dict) -> dict:
        """{(P, "T"): Pᵀ} for the loop's `P @ v`, of the values the loop reads (by name)."""
        return {(m, "T"): ops.transpose(values[m]) for m in set(self.transposed.values())}

    def _stacked(self, group, weights: dict, transposed: bool = False) -> tuple:
        stacked = stacked_params(group, weights)
        stacked = ops.transpose(stacked) if transposed else stacked
        if group not in self.sums:
            return stacked, None
        _, keys = self.sums[group]
        return stacked, ops.concatenate([ops.reshape(weights[u], (-1,)) for u, _ in keys], axis=0)

    def siblings(self, group, v, env: dict, loop_stacks=None) -> dict:
        """The values of a group of sibling matmuls (and dot products) of `v`, by one matmul and a split; where
        its members' values are read by adds of biases alone (`sums`), the values of those adds instead, the
        biases added side by side before the split. The stacked matrices are the loop's (`stacks`) where
        `loop_stacks` has them, else made here of `env`."""
        stacked = (loop_stacks or {}).get(group)
        transposed = stacked is not None and group.left
        stacked, biases = self._stacked(group, env) if stacked is None else stacked
        if biases is None:
            return sibling_values(group, v, stacked, self.sizes, transposed=transposed)
        found = sibling_values(group, v, stacked, self.sizes, plus=biases, transposed=transposed)
        adds, _ = self.sums[group]
        return {add: found[m] for add, m in zip(adds, group.nodes)}


def matrix_times_vector(G: CellIR, n, fixed: set, batched: dict) -> bool:
    """Whether op `n` is `P @ v[t]`: a matrix of `fixed` (the same at every step) times a vector of the step."""
    rec = G.node(n)
    if rec.kind != "op" or rec.op != "matmul" or rec.heads:
        return False
    (a, use_a), (b, use_b) = G.operands(n)
    return (a in fixed and not use_a.delay and len(G.shape(a)) == 2 and len(G.shape(b)) == 1
            and (batched.get(b, True) or use_b.delay > 0) and not use_b.child and use_b.offset is None)


def sibling_values(group, v, stacked, sizes: dict, plus=None, transposed: bool = False) -> dict:
    """The values of a group of sibling matmuls (and dot products) of `v` (rows), by one matmul by the group's
    `stacked` parameters (`stacked_params`) and a split; `sizes[p]` is parameter p's shape. With `plus` (rows,
    the members' sizes side by side), each member's value plus its part of that, and under None all of them side
    by side, before the split. `transposed`: the rows of `P @ v` given as columns, `Pᵀ`."""
    y = matmul(v, stacked, transpose_b=group.left and not transposed)
    if plus is not None:
        y = y + plus
    # a member's part: a dot product's one column, a matrix's rows (`v @ P`: its columns); a parameter with
    # heads `[heads, rows, n]` gives heads * rows columns, one value per head
    parts = split_last(y, [1 if dot else int(math.prod(sizes[p][:-1])) if group.left else int(sizes[p][1])
                           for p, dot in zip(group.params, group.dots)])
    found = {n: part[..., 0] if dot else ops.reshape(part, (-1,) + sizes[p][:-1]) if len(sizes[p]) == 3 else part
             for n, p, part, dot in zip(group.nodes, group.params, parts, group.dots)}
    if plus is not None:
        found[None] = y  # the members' values side by side
    return found


def stacked_params(group, weights: dict):
    """A group's parameters (of `weights`, by name) in one matrix: rows for `P @ v`, columns for `v @ P`; a dot
    product's vector is one row (one column)."""
    axis = 0 if group.left else 1
    parts = [ops.expand_dims(weights[p], axis) if dot else weights[p] for p, dot in zip(group.params, group.dots)]
    # a parameter with heads, [heads, rows, n]: its heads' rows one after the other
    parts = [ops.reshape(w, (-1, w.shape[-1])) if len(w.shape) == 3 else w for w in parts]
    return ops.concatenate(parts, axis=axis)
