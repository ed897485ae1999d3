"""A memory carried slots last (memory_plan.slots_last): which memories, its cosine and read (keras.memory_write;
its write is tested with the others, in test_memory_write), and a layer that holds one computing what the spec
says, its states in and out as the spec lays them out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import rnndsl
from rnndsl.keras.cell import GeneratedCell, GeneratedRNN, cell_rnn, cell_source
from rnndsl.keras.memory_write import cosine_rows, read
from rnndsl.lang.ops import OPERATIONS

STD = Path(__file__).resolve().parents[1] / "specs" / "std"
BATCH, SLOTS, WIDTH = 3, 5, 4

# A memory with a learned start, read by a cosine and by a read of the old memory and of the new one.
MEMORY = """cell Mem(slots: int = 6, width: int = 3) {
    input x: [in]
    param W_w: [slots, in] ~ glorot_uniform
    param W_k, W_e, W_a: [width, in] ~ glorot_uniform
    param M0: [slots, width] ~ glorot_uniform
    state M: [slots, width] = M0
    k[t] = tanh(W_k @ x[t])
    w[t] = softmax(W_w @ x[t] + 2 * cosine(M[t-1], k[t]))
    e[t] = sigmoid(W_e @ x[t])
    a[t] = tanh(W_a @ x[t])
    M[t] = M[t-1] * (1 - outer(w[t], e[t])) + outer(w[t], a[t])
    old[t] = w[t] @ M[t-1]
    y[t] = concat(old[t], w[t] @ M[t])
    output y
}
"""


def test_cosine_and_read_of_a_memory_held_slots_last_are_the_spec_s():
    """`cosine(M, k)` against the registry's NumPy reference, a row of zeros and a key of zeros included (a
    finite gradient there too), and `w @ M`."""
    rng = np.random.default_rng(2)
    memory, key = rng.normal(size=(BATCH, SLOTS, WIDTH)), rng.normal(size=(BATCH, WIDTH))
    w = rng.normal(size=(BATCH, SLOTS))
    memory[0, 1] = 0.0
    key[2] = 0.0
    reference = OPERATIONS["cosine"].reference
    want = np.stack([reference(m, k) for m, k in zip(memory, key)])
    held = tf.constant(memory.transpose(0, 2, 1))
    with tf.GradientTape() as tape:
        tape.watch(held)
        got = cosine_rows(held, tf.constant(key))
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-12)
    assert np.isfinite(tape.gradient(got, held).numpy()).all()
    np.testing.assert_allclose(read(tf.constant(w), held).numpy(), np.einsum("bn,bnw->bw", w, memory), rtol=1e-12)


def _stateful_layer(program, cell: str) -> GeneratedRNN:
    """The layer of `cell` that gives its outputs at every step and its final states."""
    return GeneratedRNN(GeneratedCell(cell_source(program, cell), cell, 3), return_sequences=True, return_state=True)


@pytest.mark.parametrize("path, cell, hparams, held", [
    (STD / "ntm.rnn", "NTM", dict(controller=6, slots=64, width=20), {"M"}),
    (STD / "ntm.rnn", "NTMLSTM", dict(controller=6, slots=8, width=3), {"M"}),
    (STD / "ntm.rnn", "NTM", dict(controller=6, slots=8, width=20), set()),  # fewer slots than numbers in a row
    (STD / "ntm.rnn", "NTM", dict(controller=6, slots=8, width=8), set()),
    (STD / "dnc.rnn", "DNC", dict(units=6, out=4, slots=16, width=16, reads=2), set()),
])
def test_which_memories_are_held_slots_last(path, cell, hparams, held):
    layer = cell_rnn(rnndsl.load(path), cell, input_dim=3, **hparams)
    assert set(layer.cell.plan.slots_last) == held


def test_a_memory_is_held_as_the_spec_lays_it_out_where_something_else_reads_it():
    """Observed as an output, read by an operation other than the write, a cosine and a read, or run in a cell
    alone (whose flat states are the spec's layout to whoever runs it): not slots last."""
    program = rnndsl.load(MEMORY)
    assert cell_rnn(program, "Mem", input_dim=3).cell.plan.slots_last == {"M"}
    assert not cell_rnn(program, "Mem", input_dim=3, outputs=["y", "M"]).cell.plan.slots_last
    summed = rnndsl.load(MEMORY.replace("y[t] = concat(old[t], w[t] @ M[t])",
                                        "y[t] = concat(old[t], w[t] @ M[t], sum(M[t-1], axis=0))"))
    assert not cell_rnn(summed, "Mem", input_dim=3).cell.plan.slots_last
    alone = program.cell("Mem", input_size=3)
    assert isinstance(alone, GeneratedCell) and not alone.plan.slots_last
    alone.build((None, 3))
    start = alone.get_initial_state(2)[0]
    np.testing.assert_array_equal(start.numpy(), np.tile(alone.weights_by_name["M0"].numpy().reshape(1, -1), (2, 1)))


def _spec_layout(layer) -> None:
    """Turn the layer's memories back to the spec's layout."""
    plan = layer.cell.plan
    plan.slots_last_memories = frozenset()
    plan.hold_slots_last()


@pytest.mark.parametrize("jit", [False, True])
def test_a_layer_holding_a_memory_slots_last_computes_what_the_spec_says(jit):
    """The same cell and weights with the memory held slots last and as the spec lays it out: the same outputs,
    final states (given in the spec's layout) and gradients, from the learned start and from a start given as
    values `(batch, slots, width)` or flat; the layer compiled by XLA or not."""
    program = rnndsl.load(MEMORY)
    held, plain = _stateful_layer(program, "Mem"), _stateful_layer(program, "Mem")
    _spec_layout(plain)
    rng = np.random.default_rng(4)
    x = tf.constant(rng.normal(size=(2, 5, 3)), tf.float32)
    held(x)
    plain(x)
    for w_held, w_plain in zip(held.cell.weights, plain.cell.weights):
        w_plain.assign(w_held)
    start = rng.normal(size=(2, 6, 3)).astype(np.float32)
    for initial in (None, [start], [start.reshape(2, -1)]):
        found = []
        for layer in (held, plain):
            def run(x, layer=layer):
                with tf.GradientTape() as tape:
                    y, memory = layer(x, initial_state=initial)
                    loss = tf.reduce_sum(tf.sin(y)) + tf.reduce_sum(memory ** 2)
                return y, memory, tape.gradient(loss, layer.cell.trainable_weights)
            found.append(tf.function(run, jit_compile=True)(x) if jit else run(x))
        (y, memory, grads), (y_ref, memory_ref, grads_ref) = found
        assert memory.shape == (2, 6, 3)
        np.testing.assert_allclose(y.numpy(), y_ref.numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(memory.numpy(), memory_ref.numpy(), rtol=1e-5, atol=1e-6)
        for g, g_ref in zip(grads, grads_ref):  # none for the learned start M0 where a start is given
            assert (g is None) == (g_ref is None) == (initial is not None and g is None)
            if g is not None:
                np.testing.assert_allclose(g.numpy(), g_ref.numpy(), rtol=1e-4, atol=1e-6)
