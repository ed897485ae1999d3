"""Products of a step's own values as the loop computes them without copies: a matmul of a transposed value
(`transpose(L[t]) @ w`) multiplies by L with its indices swapped, and `cosine` of a memory the heads share with
each head's key broadcasts the memory over the heads instead of repeating it. Both equal a NumPy loop over
the steps (and the heads), in values and gradients."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import float64_layer, gradient_matches_reference

pytest.importorskip("tensorflow")

TRANSPOSED = """cell Transposed(n: int = 3, m: int = 4) {
    input x: [n]
    param P, Q: [m, n]
    param W: [n, m]
    param S: [m, m]
    state L: [m, m] = 0
    L[t] = tanh(L[t-1] + outer(P @ x[t], Q @ x[t]))
    a[t] = transpose(L[t]) @ (P @ x[t]) + (Q @ x[t]) @ transpose(L[t-1]) + sum(transpose(L[t]), axis=0)
    C[t] = transpose(L[t]) @ transpose(L[t-1]) + transpose(S) @ transpose(L[t])
    h[t] = tanh(W @ (a[t] + C[t] @ (P @ x[t])))
    output h
}
"""


def transposed(p, xs):
    """h `(steps, n)` of one sequence `(steps, n)`."""
    m = p["P"].shape[0]
    L = np.zeros((m, m))
    out = []
    for x in xs:
        previous, L = L, np.tanh(L + np.outer(p["P"] @ x, p["Q"] @ x))
        a = L.T @ (p["P"] @ x) + (p["Q"] @ x) @ previous.T + L.T.sum(axis=0)
        C = L.T @ previous.T + p["S"].T @ L.T
        out.append(np.tanh(p["W"] @ (a + C @ (p["P"] @ x))))
    return np.stack(out)


def test_a_matmul_of_a_transposed_value_of_the_step_reads_the_value():
    """`transpose(L[t]) @ v` is one product of L with its indices swapped: the operands given as transposed,
    either or both, at any delay; a transpose of a parameter (made once before the loop) is not."""
    import rnndsl
    from rnndsl.keras import optimize

    G = optimize.cse(rnndsl.load(TRANSPOSED).graph("Transposed"))
    split = optimize.loop_split(G)
    folded = optimize.folded_transposes(G, split.step_order, split.batched)

    def transposed(n, i):
        """What operand i of n transposes (None where it is no transpose)."""
        u, _ = G.operands(n)[i]
        return G.operands(u)[0][0] if G.node(u).kind == "op" and G.node(u).op == "transpose" else None

    flags = sorted(folded.values())
    assert flags == [(False, True), (False, True), (True, False), (True, True)]
    for n, sides in folded.items():
        assert G.node(n).op == "matmul"
        assert [transposed(n, i) == "L" for i in (0, 1)] == list(sides)
    # `transpose(S) @ transpose(L[t])`: S's transpose is not folded, L's is
    matmuls = [n for n in split.step_order if G.node(n).kind == "op" and G.node(n).op == "matmul"]
    by_parameter = [n for n in matmuls if any(G.operands(u)[0][0] == "S" for u, _ in G.operands(n)
                                              if G.node(u).kind == "op" and G.node(u).op == "transpose")]
    assert [folded[n] for n in by_parameter] == [(False, True)]
    # transpose(L[t]) is made all the same for `sum(transpose(L[t]), axis=0)`; transpose(L[t-1]) is not
    unread = optimize.unread_transposes(G, folded)
    assert [G.operands(u)[0][1].delay for u in unread] == [1]

SHARED = """cell Shared(n: int = 3, width: int = 3, slots: int = 4, reads: int = 2) {
    heads reads
    input x: [n]
    param W_k: [reads, width, n]
    param U, P, Q: [slots, n]
    param V: [width, n]
    param W_r: [n, reads*width]
    state M: [slots, width] = 0.1
    state L: [slots, slots] = 0
    M[t] = tanh(M[t-1] + outer(U @ x[t], V @ x[t]))
    L[t] = tanh(L[t-1] + outer(P @ x[t], Q @ x[t]))
    k[t] = tanh(W_k @ x[t])
    c[t] = softmax(2 * cosine(M[t-1], k[t]))
    d[t] = cosine(outer(c[t], k[t]), V @ x[t])
    w[t] = transpose(L[t]) @ c[t] + d[t] @ transpose(L[t-1])
    r[t] = w[t] @ M[t]
    h[t] = tanh(W_r @ flatten(stack_heads(r[t])))
    output h
}
"""


def _cosine(a, b):
    """Each row of a against b, as rnndsl's `cosine` (the norms' product at least 1e-8)."""
    return a @ b / np.maximum(np.linalg.norm(a, axis=-1) * np.linalg.norm(b), 1e-8)


def shared(p, xs):
    """h `(steps, n)` of one sequence `(steps, n)`, head by head: head i's key parameters are `p["W_k"][i]`."""
    reads, width = p["W_k"].shape[:2]
    slots = p["U"].shape[0]
    M, L = np.full((slots, width), 0.1), np.zeros((slots, slots))
    out = []
    for x in xs:
        M_before, L_before = M, L
        M = np.tanh(M + np.outer(p["U"] @ x, p["V"] @ x))
        L = np.tanh(L + np.outer(p["P"] @ x, p["Q"] @ x))
        r = np.zeros((reads, width))
        for i in range(reads):
            k = np.tanh(p["W_k"][i] @ x)
            z = 2 * _cosine(M_before, k)
            c = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
            d = _cosine(np.outer(c, k), p["V"] @ x)
            w = L.T @ c + d @ L_before.T
            r[i] = w @ M
        out.append(np.tanh(p["W_r"] @ r.ravel()))
    return np.stack(out)


@pytest.mark.parametrize("spec, cell, reference, folds", [
    (TRANSPOSED, "Transposed", transposed, [(False, True), (False, True), (True, False), (True, True)]),
    (SHARED, "Shared", shared, [(False, True), (True, False)]),
])
def test_products_of_the_step_equal_the_reference(tmp_path, spec, cell, reference, folds):
    path = tmp_path / "products.rnn"
    path.write_text(spec)
    layer, weights = float64_layer(path, cell, 3, {}, seed=0)
    assert sorted(layer.cell.plan.folded.values()) == folds  # the transposes are folded, not made
    xs = np.random.default_rng(1).normal(size=(3, 5, 3))
    got = np.asarray(layer(xs))
    params = {name: np.array(w.numpy()) for name, w in weights.items()}
    for b in range(3):
        np.testing.assert_allclose(got[b], reference(params, xs[b]), rtol=1e-10, atol=1e-12)
    gradient_matches_reference(layer, weights, xs[:2], reference, seed=2, every_weight=True)


@pytest.mark.parametrize("memory_first", [True, False])
def test_a_value_the_heads_share_is_not_repeated_for_them(memory_first):
    """`cosine(M[t-1], k[t])`, M one per example and k one per head (or the other way round): the lowering is
    given M with a unit head axis, not a copy of M for each head, and computes what the copies give, in
    values and gradients."""
    import tensorflow as tf

    from rnndsl.keras.heads import run_per_head
    from rnndsl.keras.interpret import Operands
    from rnndsl.lang.dims import Dim
    from rnndsl.lang.ops import OPERATIONS

    rng = np.random.default_rng(0)
    memory = tf.constant(rng.normal(size=(2, 4, 3)))  # (batch, slots, width), shared
    keys = tf.constant(rng.normal(size=(2, 5, 4, 3) if not memory_first else (2, 5, 3)))  # 5 heads
    shapes = [(Dim.of(4), Dim.of(3)), (Dim.of(5),) + ((Dim.of(4), Dim.of(3)) if not memory_first else (Dim.of(3),))]
    if not memory_first:  # the rows per head, the key shared: the key is the one without heads
        keys, memory = memory[:, 0], keys
        shapes = [shapes[1], (Dim.of(3),)]
    heads = [not memory_first, memory_first]
    given = []

    def lower(call):
        given.append([tuple(v.shape) for v in call.values])
        return OPERATIONS["cosine"].lower(call)

    found = {}
    for broadcasts in (True, False):
        with tf.GradientTape() as tape:
            tape.watch([memory, keys])
            x = Operands([memory, keys], [True, True], shapes, {}, {}, "float64")
            value = run_per_head(lower, x, heads, 5, broadcasts)
            loss = tf.reduce_sum(value * tf.reshape(tf.range(tf.size(value), dtype="float64"), value.shape) / 10)
        found[broadcasts] = (value.numpy(), [g.numpy() for g in tape.gradient(loss, [memory, keys])])
    shared = (2, 1, 4, 3) if memory_first else (2, 1, 3)
    assert shared in given[0] and all(s[0] == 2 for s in given[0])  # nothing folded into the batch axis
    assert all(s[0] == 10 for s in given[1])  # the other path: (batch * heads) rows, the shared one repeated
    np.testing.assert_allclose(found[True][0], found[False][0], rtol=1e-12)
    for a, b in zip(found[True][1], found[False][1]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
