"""The write of a memory, and the reads of the memory it makes, as one operation with a gradient of its own;
and the operations on a memory carried slots last.

A neural Turing machine or a DNC writes its memory `M: [slots, width]` as `M[t] = M[t-1] * (1 - outer(w, e)) +
outer(w, a)` (erase, then add) and may read the new memory `r = w_r @ M[t]` with a weighting known before the
write (memory_plan.memory_writes finds them). Lowered op by op, TensorFlow's gradient of a time loop keeps, at
every step, each memory-sized value that some op's gradient reads: the old memory, the erase factor `1 - outer(w,
e)` and the new memory, three arrays of `batch x slots x width`. Here the gradient keeps the old memory alone
(which the step's content addressing reads anyway) and the small vectors `w`, `e`, `a`, `w_r`, and computes the
erase factor and the new memory again from them, which costs a few elementwise passes over the memory and saves
two stores and two loads of it a step.

A memory carried slots last (memory_plan.slots_last) is a tensor `(batch, width, slots)`: the write takes and
gives it so (`slots_last=True`), and `cosine_rows` and `read` are its `cosine(M, key)` and `w @ M` (`held_read`).

TensorFlow only: `GeneratedCell` takes these paths on the TensorFlow back end (`StepPlan`), and the op-by-op
lowering elsewhere.
"""

from __future__ import annotations

import tensorflow as tf

from ..lang.ops import COSINE_EPS


def write_and_read(memory, weighting, erase, add, read_weightings=(), slots_last: bool = False) -> tuple:
    """`(new memory, [reads])`: `memory * (1 - outer(weighting, erase)) + outer(weighting, add)` and each read
    `read_weighting @ new memory`.

    memory (batch, slots, width), or (batch, width, slots) `slots_last`; weighting (batch, slots); erase and add
    (batch, width); each read weighting (batch, slots) and its read (batch, width)."""
    new, *reads = _fused(len(read_weightings), slots_last)(memory, weighting, erase, add, *read_weightings)
    return new, reads


def lower_write(write, env: dict, read, slots_last=frozenset()) -> dict:
    """The new memory of a memory write (memory_plan.MemoryWrite) and the reads computed with it, by name; `env`
    the step's values by name, `read(node, delay)` a value at a delay, `slots_last` the memories held so."""
    new, reads = write_and_read(read(*write.memory), env[write.weighting], env[write.erase], env[write.add],
                                [env[w] for w in write.read_weightings], write.memory[0] in slots_last)
    return {write.root: new, **dict(zip(write.reads, reads))}


def held_read(op: str, first, second):
    """`cosine(M, key)` (op "cosine") or `w @ M` (op "matmul") of a memory M held slots last."""
    return cosine_rows(first, second) if op == "cosine" else read(first, second)


def cosine_rows(memory, key):
    """`cosine(M, key)` of a memory held slots last: memory (batch, width, slots), key (batch, width) -> (batch,
    slots), each slot's row against the key, computed as rnndsl.lang.ops's `cosine` computes it."""
    num = tf.reduce_sum(memory * key[:, :, None], axis=1)
    squares = tf.reduce_sum(tf.square(memory), axis=1) * tf.reduce_sum(tf.square(key), axis=-1, keepdims=True)
    return num / tf.sqrt(tf.maximum(squares, COSINE_EPS ** 2))


def read(weighting, memory):
    """`w @ M` of a memory held slots last: weighting (batch, slots), memory (batch, width, slots) -> (batch,
    width)."""
    return tf.einsum("bwn,bn->bw", memory, weighting)


def _outer(weighting, vector, slots_last: bool):
    """outer(weighting, vector) as the memory is held: (batch, slots, width), or (batch, width, slots)."""
    if slots_last:
        return vector[:, :, None] * weighting[:, None, :]
    return weighting[:, :, None] * vector[:, None, :]


def _new_memory(memory, weighting, erase, add, slots_last: bool):
    keep = 1 - _outer(weighting, erase, slots_last)  # the erase factor
    return memory * keep + _outer(weighting, add, slots_last), keep


def _fused(reads: int, slots_last: bool):
    """The operation with `reads` reads (a function of a fixed arity, as `tf.custom_gradient` needs)."""
    slots, width = (2, 1) if slots_last else (1, 2)  # the memory's axes
    rows = "bwn" if slots_last else "bnw"

    @tf.custom_gradient
    def fused(memory, weighting, erase, add, *read_weightings):
        new, _ = _new_memory(memory, weighting, erase, add, slots_last)
        found = [tf.einsum(f"bn,{rows}->bw", w_r, new) for w_r in read_weightings]

        def gradient(g_new, *g_reads):
            g_new = tf.zeros_like(memory) if g_new is None else g_new
            g_reads = [tf.zeros_like(erase) if g is None else g for g in g_reads]
            new, keep = _new_memory(memory, weighting, erase, add, slots_last)
            # a read's gradient into the new memory, and into its weighting
            for w_r, g_r in zip(read_weightings, g_reads):
                g_new = g_new + _outer(w_r, g_r, slots_last)
            g_read_weightings = [tf.einsum(f"{rows},bw->bn", new, g_r) for g_r in g_reads]
            g_keep = g_new * memory
            g_weighting = (tf.reduce_sum(g_new * tf.expand_dims(add, slots), axis=width)
                           - tf.reduce_sum(g_keep * tf.expand_dims(erase, slots), axis=width))
            g_erase = -tf.reduce_sum(g_keep * tf.expand_dims(weighting, width), axis=slots)
            g_add = tf.reduce_sum(g_new * tf.expand_dims(weighting, width), axis=slots)
            return (g_new * keep, g_weighting, g_erase, g_add, *g_read_weightings)

        return (new, *found), gradient

    return fused
