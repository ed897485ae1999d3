"""A memory's write and its reads as one op (keras.memory_write, memory_plan.memory_writes), and the biases of sibling
matmuls added to their one matmul (optimize.group_sums)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import rnndsl
from rnndsl.keras import memory_plan, optimize
from rnndsl.keras.memory_write import write_and_read

STD = Path(__file__).resolve().parents[1] / "specs" / "std"
BATCH, SLOTS, WIDTH = 3, 5, 4


def _op_by_op(memory, w, e, a, read_weightings):
    """The write and reads as the spec writes them, each op TensorFlow's."""
    new = memory * (1 - tf.einsum("bn,bw->bnw", w, e)) + tf.einsum("bn,bw->bnw", w, a)
    return new, [tf.einsum("bn,bnw->bw", w_r, new) for w_r in read_weightings]


def _operands(reads: int, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    return [tf.constant(rng.normal(size=shape)) for shape in
            [(BATCH, SLOTS, WIDTH), (BATCH, SLOTS), (BATCH, WIDTH), (BATCH, WIDTH)] + [(BATCH, SLOTS)] * reads]


def _held_slots_last(memory, w, e, a, read_weightings):
    """The fused write of a memory held slots last (memory_plan.slots_last), the memory given and the new one
    taken as the spec lays them out."""
    new, reads = write_and_read(tf.transpose(memory, (0, 2, 1)), w, e, a, read_weightings, slots_last=True)
    return tf.transpose(new, (0, 2, 1)), reads


@pytest.mark.parametrize("fused", [write_and_read, _held_slots_last], ids=["as written", "slots last"])
@pytest.mark.parametrize("reads", [0, 1, 2])
def test_the_fused_write_computes_and_differentiates_as_the_ops_it_replaces(reads, fused):
    """Values and gradients (float64) equal to the op-by-op write's, for a loss that reads the new memory and each
    read, and for one that reads only the reads (the new memory's gradient is then none); the memory held as the
    spec lays it out or slots last."""
    operands = _operands(reads)
    rng = np.random.default_rng(1)
    weights_new = tf.constant(rng.normal(size=(BATCH, SLOTS, WIDTH)))
    weights_reads = [tf.constant(rng.normal(size=(BATCH, WIDTH))) for _ in range(reads)]
    for uses_new in (True, False):
        if not uses_new and not reads:
            continue
        found = []
        for function in (fused, _op_by_op):
            with tf.GradientTape() as tape:
                tape.watch(operands)
                new, found_reads = function(operands[0], *operands[1:4], operands[4:])
                loss = sum(tf.reduce_sum(r * v) for r, v in zip(found_reads, weights_reads))
                loss += tf.reduce_sum(tf.sin(new) * weights_new) if uses_new else 0
            found.append((new, found_reads, tape.gradient(loss, operands)))
        (new, got_reads, grads), (new_ref, ref_reads, grads_ref) = found
        np.testing.assert_allclose(new.numpy(), new_ref.numpy(), rtol=1e-12, atol=1e-12)
        for r, r_ref in zip(got_reads, ref_reads):
            np.testing.assert_allclose(r.numpy(), r_ref.numpy(), rtol=1e-12, atol=1e-12)
        for g, g_ref in zip(grads, grads_ref):
            np.testing.assert_allclose(g.numpy(), g_ref.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("fused", [write_and_read, _held_slots_last], ids=["as written", "slots last"])
def test_the_fused_write_trains_under_xla_in_a_loop(fused):
    """Inside a `tf.while_loop` compiled by XLA, its gradient over several steps is the op-by-op one's."""
    memory, w, e, a, w_r = _operands(1, seed=2)

    def run(function):
        @tf.function(jit_compile=True)
        def loss_and_gradient(memory, w, e, a, w_r):
            with tf.GradientTape() as tape:
                tape.watch([memory, w, e, a, w_r])

                def body(i, m, total):
                    new, (r,) = function(m, tf.sigmoid(w + tf.cast(i, w.dtype)), e, a, [w_r])
                    return i + 1, new, total + tf.reduce_sum(tf.tanh(r))

                _, m, total = tf.while_loop(lambda i, *_: i < 4, body, (0, memory, tf.constant(0.0, memory.dtype)),
                                            maximum_iterations=4)
                loss = total + tf.reduce_sum(m ** 2)
            return loss, tape.gradient(loss, [memory, w, e, a, w_r])
        return loss_and_gradient(memory, w, e, a, w_r)

    (loss, grads), (loss_ref, grads_ref) = run(fused), run(_op_by_op)
    assert abs(float(loss) - float(loss_ref)) < 1e-10
    for g, g_ref in zip(grads, grads_ref):
        np.testing.assert_allclose(g.numpy(), g_ref.numpy(), rtol=1e-9, atol=1e-12)


def _writes(path: Path, cell: str) -> tuple:
    G = optimize.cse(rnndsl.load(path).graph(cell))
    return G, _found(G)


def _found(G) -> list:
    split = optimize.loop_split(G)
    return memory_plan.memory_writes(G, split.step_order, split.batched)


def _named(G, node) -> str:
    """The value that an op defines (`M` for the op that makes `M[t]`), else the op's own name."""
    return next((v for v, use in G.users(node) if use.defines), node)


def test_the_memory_writes_of_the_standard_library_are_found_with_their_reads():
    G, (write,) = _writes(STD / "ntm.rnn", "NTM")
    assert (_named(G, write.root), write.memory, write.weighting, write.erase, write.add) == ("M", ("M", 1), "w",
                                                                                             "e", "a")
    assert [_named(G, r) for r in write.reads] == ["r"] and write.read_weightings == ("w",)
    assert len(write.inner) == 4  # the erase factor, its outer product, the product with M[t-1], the added one
    # separate read and write heads: the read weighting is known before the write
    G, (write,) = _writes(STD / "ntm.rnn", "NTMLSTM")
    assert (write.weighting, write.read_weightings, [_named(G, r) for r in write.reads]) == ("w_w", ("w_r",), ["r"])
    # the DNC's read weightings are computed from the new memory: its write is found alone
    G, (write,) = _writes(STD / "dnc.rnn", "DNC")
    assert (_named(G, write.root), write.weighting, write.erase, write.add, write.reads) == ("M", "w_w", "e", "v",
                                                                                            ())


def _write_cell(equation: str, lines: tuple) -> str:
    """A cell `C` whose memory `M` the equation writes, read by `w[t] @ M[t]`; `lines` declare and define what
    the equation reads besides `w[t]` and `a[t]`."""
    extra = "\n        ".join(lines)
    return f"""
    cell C(n: int = 4, m: int = 3) {{
        input x: [n]
        param V, U: [n, n]
        param W: [m, n]
        state M: [n, m] = 0
        c[t] = tanh(V @ x[t] + U @ c[t-1])
        w[t] = softmax(c[t])
        a[t] = tanh(W @ c[t])
        {extra}
        {equation}
        r[t] = w[t] @ M[t]
        output r
    }}
    """


@pytest.mark.parametrize("equation, writes", [
    ("M[t] = M[t-1] * (1 - outer(w[t], e[t])) + outer(w[t], a[t])", 1),  # a write, the same cell otherwise
    ("M[t] = outer(w[t], a[t]) + (1 - outer(w[t], e[t])) * M[t-1]", 1),  # its terms and factors the other way round
    ("M[t] = M[t-1] * (2 - outer(w[t], e[t])) + outer(w[t], a[t])", 0),  # not an erase factor
    ("M[t] = M[t-1] * (1 - outer(w[t], e[t])) + outer(u[t], a[t])", 0),  # erased and added by two weightings
    ("M[t] = M[t-1] * (1 - outer(w[t], e[t])) - outer(w[t], a[t])", 0),  # not an add
    ("M[t] = M[t-1] * (1 - outer(w[t-1], e[t])) + outer(w[t-1], a[t])", 0),  # a weighting of the step before
])
def test_only_a_memory_write_is_lowered_as_one(equation, writes):
    program = rnndsl.load(_write_cell(equation, ("u[t] = sigmoid(c[t])", "e[t] = sigmoid(W @ c[t])")))
    G = optimize.cse(program.graph("C"))
    assert len(_found(G)) == writes


def test_a_memory_cell_adds_its_head_biases_to_the_one_matmul():
    """The NTM's head parameters, `W_k @ ctrl[t] + b_k` to `dot(v_gamma, ctrl[t]) + b_gamma`, are one matmul and one
    add of the biases side by side; the controller's stacked sum has its bias added apart (an add of three)."""
    plan = _plan(STD / "ntm.rnn", "NTM", controller=6, slots=4, width=2)
    (group, (adds, keys)), = [(g, s) for g, s in plan.matmuls.sums.items() if g in plan.step_groups]
    assert sorted(u for u, _ in keys) == sorted(["b_k", "b_e", "b_a", "b_s", "b_beta", "b_g", "b_gamma"])
    assert len(adds) == len(group.nodes) == 7


def _plan(path: Path, cell: str, **hparams):
    from rnndsl.keras.cell import cell_rnn

    layer = cell_rnn(rnndsl.load(path), cell, input_dim=3, **hparams)
    return layer.cell.plan


@pytest.mark.parametrize("path, cell, hparams", [
    (STD / "ntm.rnn", "NTM", dict(controller=6, slots=5, width=3)),
    (STD / "ntm.rnn", "NTMLSTM", dict(controller=6, slots=5, width=3)),
    (STD / "dnc.rnn", "DNC", dict(units=6, out=4, slots=5, width=3, reads=2)),
])
def test_the_loop_with_its_transposes_and_stacks_computes_what_the_cell_does_step_by_step(path, cell, hparams):
    """GeneratedRNN reads the weights once before the loop, with the transposes of the loop's matrices and the
    stacked matrices and biases of its groups; the same cell run by Keras's RNN alone reads the weights at every
    step, makes the stacks at every step and multiplies by the matrices as they are. Their outputs and gradients
    agree."""
    import keras

    from rnndsl.keras.cell import cell_rnn

    layer = cell_rnn(rnndsl.load(path), cell, input_dim=3, **hparams)
    plain = keras.layers.RNN(layer.cell, return_sequences=True)
    x = tf.constant(np.random.default_rng(3).normal(size=(2, 6, 3)), tf.float32)
    layer(x)
    assert layer.cell.plan.matmuls.transposed  # the loop has a matrix it multiplies by its transpose
    found = []
    for rnn in (layer, plain):
        with tf.GradientTape() as tape:
            # the cell's step reads what the work before the loop gives (the input projections)
            y = rnn(x) if rnn is layer else rnn(layer.cell.plan.precompute(layer.cell, x))
            loss = tf.reduce_sum(tf.sin(y))
        found.append((y, tape.gradient(loss, layer.cell.trainable_weights)))
    (y, grads), (y_plain, grads_plain) = found
    np.testing.assert_allclose(y.numpy(), y_plain.numpy(), rtol=1e-5, atol=1e-6)
    for g, g_plain in zip(grads, grads_plain):
        np.testing.assert_allclose(g.numpy(), g_plain.numpy(), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("equation", [
    "M[t] = M[t-1] * (1 - outer(w[t], e)) + outer(w[t], a[t])",  # an erase vector the same in every row
    "M[t] = M[t-1] * (1 - outer(u, f[t])) + outer(u, a[t])",  # a weighting the same in every row
])
def test_a_write_of_values_the_same_in_every_batch_row_runs_op_by_op(equation):
    """The fused op takes a row of each operand per batch row; a write with a parameter among them is left to
    the op-by-op lowering, and the cell trains (it raised a KeyError before the matcher checked)."""
    from rnndsl.keras.cell import cell_rnn

    program = rnndsl.load(_write_cell(equation, ("param e: [m] = 0.5", "param u: [n] = 0.5",
                                                 "f[t] = sigmoid(W @ c[t])")))
    G = optimize.cse(program.graph("C"))
    assert _found(G) == []
    layer = cell_rnn(program, "C", input_dim=4)
    x = tf.constant(np.random.default_rng(4).normal(size=(2, 5, 4)), tf.float32)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x))
    weights = layer.cell.weights_by_name
    grads = dict(zip(weights, tape.gradient(loss, list(weights.values()))))
    assert all(np.isfinite(g.numpy()).all() for g in grads.values() if g is not None)
    assert float(tf.reduce_sum(tf.abs(grads["W"]))) > 0
