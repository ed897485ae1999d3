"""The write of a memory, and the reads of the memory it makes, as one operation with a gradient of its own.

A neural Turing machine or a DNC writes its memory `M: [slots, width]` as `M[t] = M[t-1] * (1 - outer(w, e)) +
outer(w, a)` (erase, then add) and may read the new memory `r = w_r @ M[t]` with a weighting known before the
write (optimize.memory_writes finds them). Lowered op by op, TensorFlow's gradient of a time loop keeps, at every
step, each memory-sized value that some op's gradient reads: the old memory, the erase factor `1 - outer(w, e)`
and the new memory, three arrays of `batch x slots x width`. Here the gradient keeps the old memory alone (which
the step's content addressing reads anyway) and the small vectors `w`, `e`, `a`, `w_r`, and computes the erase
factor and the new memory again from them, which costs a few elementwise passes over the memory and saves two
stores and two loads of it a step.

TensorFlow only: `GeneratedCell` takes this path on the TensorFlow back end (`StepPlan`), and the op-by-op
lowering elsewhere.
"""

from __future__ import annotations

import tensorflow as tf


def write_and_read(memory, weighting, erase, add, read_weightings=()) -> tuple:
    """`(new memory, [reads])`: `memory * (1 - outer(weighting, erase)) + outer(weighting, add)` and each read
    `read_weighting @ new memory`.

    memory (batch, slots, width); weighting (batch, slots); erase and add (batch, width); each read weighting
    (batch, slots) and its read (batch, width)."""
    new, *reads = _fused(len(read_weightings))(memory, weighting, erase, add, *read_weightings)
    return new, reads


def _new_memory(memory, weighting, erase, add):
    keep = 1 - weighting[:, :, None] * erase[:, None, :]  # the erase factor, (batch, slots, width)
    return memory * keep + weighting[:, :, None] * add[:, None, :], keep


def _fused(reads: int):
    """The operation with `reads` reads (a function of a fixed arity, as `tf.custom_gradient` needs)."""

    @tf.custom_gradient
    def fused(memory, weighting, erase, add, *read_weightings):
        new, _ = _new_memory(memory, weighting, erase, add)
        found = [tf.einsum("bn,bnw->bw", w_r, new) for w_r in read_weightings]

        def gradient(g_new, *g_reads):
            g_new = tf.zeros_like(memory) if g_new is None else g_new
            g_reads = [tf.zeros_like(erase) if g is None else g for g in g_reads]
            new, keep = _new_memory(memory, weighting, erase, add)
            # a read's gradient into the new memory, and into its weighting
            for w_r, g_r in zip(read_weightings, g_reads):
                g_new = g_new + w_r[:, :, None] * g_r[:, None, :]
            g_read_weightings = [tf.einsum("bnw,bw->bn", new, g_r) for g_r in g_reads]
            g_keep = g_new * memory
            g_weighting = (tf.reduce_sum(g_new * add[:, None, :], axis=-1)
                           - tf.reduce_sum(g_keep * erase[:, None, :], axis=-1))
            g_erase = -tf.reduce_sum(g_keep * weighting[:, :, None], axis=1)
            g_add = tf.reduce_sum(g_new * weighting[:, :, None], axis=1)
            return (g_new * keep, g_weighting, g_erase, g_add, *g_read_weightings)

        return (new, *found), gradient

    return fused
