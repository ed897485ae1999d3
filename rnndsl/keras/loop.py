"""The time loop of a generated cell compiled by XLA: each step's output pushed onto a list.

Keras's loop (`keras.layers.RNN` on TensorFlow) writes each step's output at its index of a TensorArray.
The gradient of that write reads the index's gradient and sets it to zero, and under XLA, which holds
the array as one buffer, zeroing it copies the whole buffer (steps x batch x outputs) at every step of
the backward loop: a cost quadratic in the sequence's length. Here the loop pushes each output onto a
list instead, so that the backward loop pops its gradient off, a step's slice at a time. With XLA, a
generated LSTM of 128 units over 400 steps (batch 32) trains 2.4 times faster so (390 -> 158 ms a step);
over the 40 steps of `make bench`'s memory cells the gain is small: the NTM's step 2% to 3% faster (medians
of five runs against the hand-written cell, 0.83 against 0.85), the DNC's the same within the runs' spread.

Without XLA, TensorFlow keeps a TensorArray as a list of tensors, and a write costs nothing to undo;
there pushing was the slower (12% on the LSTM above, over 200 steps), so `GeneratedRNN` takes this loop
only where its step is compiled by XLA (`compiled_by_xla`).

What the loop computes is Keras's `backend.rnn` without unrolling: the same masking (a masked step
keeps the states and repeats the last output, or gives zeros with `zero_output_for_mask`), the same
`go_backwards` (inputs read from the last step; outputs in the order read), and the same results.
"""

from __future__ import annotations

from typing import Callable, Optional

import tensorflow as tf

try:  # how TensorFlow's own control flow tells whether it is being compiled by XLA
    from tensorflow.python.ops.control_flow_util import GraphOrParentsInXlaContext as _in_xla_context
except ImportError:  # pragma: no cover - a TensorFlow without it: Keras's loop everywhere
    _in_xla_context = None


def compiled_by_xla() -> bool:
    """Whether the graph being traced is compiled by XLA (`jit_compile=True`, or inside one so compiled)."""
    if _in_xla_context is None or tf.executing_eagerly():
        return False
    return bool(_in_xla_context(tf.compat.v1.get_default_graph()))


def pushed_loop(step: Callable, sequences, initial_states: list, *, mask=None, go_backwards: bool = False,
                return_all_outputs: bool = True, zero_output_for_mask: bool = False) -> tuple:
    """Run `step(input (batch, features), states) -> (output (batch, out), new states)` over `sequences`
    (batch, T, features) from `initial_states` (each (batch, n)); `mask` (batch, T) marks the steps to run.

    Returns `(last output (batch, out), outputs (batch, T, out) or (batch, 1, out), final states)`, as
    Keras's `backend.rnn` does."""
    inputs = tf.transpose(sequences, [1, 0, 2])  # time first
    if go_backwards:
        inputs = tf.reverse(inputs, [0])
    steps = tf.shape(inputs)[0]
    reads = tf.TensorArray(inputs.dtype, size=steps, element_shape=inputs.shape[1:]).unstack(inputs)
    masks = None
    if mask is not None:
        mask = tf.transpose(tf.cast(mask, tf.bool), [1, 0])[:, :, None]  # (T, batch, 1)
        mask = tf.reverse(mask, [0]) if go_backwards else mask
        masks = tf.TensorArray(tf.bool, size=steps, element_shape=mask.shape[1:]).unstack(mask)
    # One step traced outside the loop gives the output's shape and type; its value is not used.
    first, _ = step(inputs[0], list(initial_states))
    shape = tf.shape(first)
    pushed = tf.raw_ops.EmptyTensorList(element_shape=shape, max_num_elements=steps, element_dtype=first.dtype)

    def body(t, pushed, last, *states):
        output, new = step(reads.read(t), list(states))
        new = list(new)
        if masks is not None:
            keep = masks.read(t)
            output = tf.where(keep, output, tf.zeros_like(output) if zero_output_for_mask else last)
            new = [tf.where(keep, s_new, s_old) for s_new, s_old in zip(new, states)]
        if return_all_outputs:
            pushed = tf.raw_ops.TensorListPushBack(input_handle=pushed, tensor=output)
        return (t + 1, pushed, output, *new)

    start = (tf.constant(0), pushed, tf.zeros_like(first), *initial_states)
    _, pushed, last, *states = tf.while_loop(lambda t, *_: t < steps, body, start, maximum_iterations=steps)
    if not return_all_outputs:
        return last, last[:, None], states
    outputs = tf.raw_ops.TensorListStack(input_handle=pushed, element_shape=shape, element_dtype=first.dtype,
                                         num_elements=_static(sequences.shape[1]))
    return last, tf.transpose(outputs, [1, 0, 2]), states


def _static(steps: Optional[int]) -> int:
    """TensorListStack's `num_elements`: the steps where the shape knows them, else -1 (any)."""
    return -1 if steps is None else int(steps)
