"""optimize: common subexpressions, and the split of a step into hoisted and loop work."""

from __future__ import annotations

from pathlib import Path

import rnndsl
from rnndsl.keras import optimize

STD = Path(__file__).resolve().parents[1] / "specs" / "std"


def _ops(G):
    return sorted(G.node(n).op for n in G.of_kind("op"))


def test_cse_merges_repeated_work_and_constants():
    program = rnndsl.load("""
        cell C(n: int) {
            input x: [n]
            param W: [n, n]
            a[t] = tanh(W @ x[t]) * 2 + h[t-1]
            h[t] = sigmoid(W @ x[t]) * 2 + tanh(W @ x[t]) + h[t-2]
            output h
        }
    """)
    G = program.graph("C")
    assert _ops(G).count("matmul") == 3 and _ops(G).count("tanh") == 2
    H = optimize.cse(G)
    assert _ops(H).count("matmul") == 1 and _ops(H).count("tanh") == 1
    assert len(H.of_kind("const")) == 1
    assert _ops(G).count("matmul") == 3  # the original is untouched
    # different delays are different values: h[t-1] and h[t-2] stay apart
    adds = [n for n in H.of_kind("op") if H.node(n).op == "add"]
    assert len(adds) == 3


def test_loop_split_hoists_the_input_projections():
    G = rnndsl.load(STD / "lstm.rnn").graph("LSTM")
    split = optimize.loop_split(G)
    hoisted_ops = sorted(G.node(n).op for n in split.hoisted if G.node(n).kind == "op")
    assert hoisted_ops == ["matmul"] * 4  # W_i @ x[t], W_f @ x[t], W_c @ x[t], W_o @ x[t]
    assert set(split.frontier) == {n for n in split.hoisted if G.node(n).kind == "op"}
    assert all(getattr(G.node(n), "op", None) != "matmul" or n not in split.step_order or
               any(use.delay for _, use in G.operands(n)) for n in split.step_order)


def test_nothing_that_reads_a_state_is_hoisted():
    G = rnndsl.load(STD / "ctrnn.rnn").graph("CTRNN")
    split = optimize.loop_split(G)
    assert "y" not in split.hoisted
    assert [G.node(n).op for n in split.frontier] == ["matmul"]  # W_in @ I[t]
    # what reads the continuous state is one per batch row, though the state comes last in evaluation order
    readers = [n for n in split.order if any(u == "y" for u, _ in G.operands(n))]
    assert readers and all(split.batched[n] for n in readers)


def test_invariants_are_computed_wherever_they_are_read():
    """`(1 - a)` and `W * 2` read neither an input nor a state: not per batch row, never in the frontier, and
    computed before the loop for the hoisted work that reads them as well as in the loop."""
    G = optimize.cse(rnndsl.load("""
        cell C(n: int, a: float = 0.5) {
            input x: [n]
            param W: [n, n]
            c[t] = 1 - a
            h[t] = tanh((W * 2) @ x[t] * (1 - a) + h[t-1] * (1 - a) + c[t-1])
            output c
        }
    """).graph("C"))
    split = optimize.loop_split(G)
    label = {n: rec.label for n, rec in G.records()}
    invariants = sorted(label[n] for n in split.order if not split.batched[n])
    assert invariants == ["*", "-", "c"]  # W * 2, 1 - a, and c, defined by it
    assert not any(n in split.frontier for n in split.order if not split.batched[n])
    before = [label[n] for n in split.before]
    assert before.count("-") == 1 and before.count("*") == 2 and "@" in before  # and W * 2
    assert [label[n] for n in split.frontier] == ["*"]  # (W * 2) @ x[t] * (1 - a)
    step = [label[n] for n in split.step_order]
    assert step.count("-") == 1 and step.count("*") == 1 and "c" in step  # not W * 2: only hoisted work reads it
    assert split.batched["h"]  # a state is one per batch row


def test_sibling_matmuls_share_one_operand_at_one_delay():
    G = optimize.cse(rnndsl.load(STD / "gru.rnn").graph("GRU"))
    split = optimize.loop_split(G)
    groups = optimize.sibling_matmuls(G, split.order, split.batched)
    assert sorted((sorted(g.params), g.operand, g.left) for g in groups) == [
        (["U_h", "U_r", "U_z"], ("h", 1), True), (["W_h", "W_r", "W_z"], ("x", 0), True)]
    # one matmul alone has no sibling; a delayed and an undelayed read are different operands
    G = rnndsl.load("""
        cell C(n: int) {
            input x: [n]
            param A, B: [n, n]
            h[t] = tanh(A @ x[t] + B @ h[t-1] + A @ h[t-2])
            output h
        }
    """).graph("C")
    split = optimize.loop_split(G)
    assert optimize.sibling_matmuls(G, split.order, split.batched) == []


def test_dot_products_with_parameter_vectors_join_a_sibling_group():
    G = rnndsl.load("""
        cell C(n: int) {
            input x: [n]
            param A: [n, n]
            param v, u: [n]
            a[t] = A @ h[t-1]
            b[t] = dot(v, h[t-1]) + dot(h[t-1], u)
            h[t] = tanh(x[t] + a[t] + b[t])
            output h
        }
    """).graph("C")
    split = optimize.loop_split(G)
    (group,) = optimize.sibling_matmuls(G, split.order, split.batched)
    assert sorted(zip(group.params, group.dots)) == [("A", False), ("u", True), ("v", True)] and group.left
    assert group.operand == ("h", 1)
    assert optimize.plans_for_xla(rnndsl.load(STD / "ntm.rnn").graph("NTM"))
    assert not optimize.plans_for_xla(rnndsl.load(STD / "lstm.rnn").graph("LSTM"))


def test_matmuls_of_one_sum_are_stacked():
    """`W_x @ x[t] + W_r @ r[t-1] + W_h @ h[t-1]`: the input's matmul is hoisted; the two of loop values become
    one matmul of the parameters side by side by the vectors one after the other."""
    G = optimize.cse(rnndsl.load("""
        cell C(n: int, m: int) {
            input x: [n]
            param W_x: [n, n]
            param W_r: [n, m]
            param W_h, U: [n, n]
            param V: [m, n]
            h[t] = tanh(W_x @ x[t] + W_r @ r[t-1] + W_h @ h[t-1])
            r[t] = V @ h[t]
            g[t] = U @ h[t-1]
            y[t] = h[t] + 2 * g[t]
            output y
        }
    """).graph("C"))
    stacked = optimize.stacked_sums(G, optimize.loop_split(G))
    matmuls = {n: [u for u, _ in stacked.operands(n)] for n in stacked.of_kind("op")
               if stacked.node(n).op == "matmul"}
    joined = [m for m, (p, v) in matmuls.items() if p.endswith(".params")]
    (m,) = joined
    params, vectors = matmuls[m]
    pairs = list(zip([u for u, _ in stacked.operands(params)],
                     [(u, use.delay) for u, use in stacked.operands(vectors)]))
    assert sorted(pairs) == [("W_h", ("h", 1)), ("W_r", ("r", 1))]  # each parameter with its own vector
    assert stacked.shape(params)[1] == stacked.shape("W_r")[1] + stacked.shape("W_h")[1]
    assert sum(stacked.node(n).op == "matmul" for n in stacked.of_kind("op")) == \
        sum(G.node(n).op == "matmul" for n in G.of_kind("op")) - 1  # U @ h[t-1] is in no sum with another
    assert sorted(G) != sorted(stacked) and "W_r" in G  # `G` itself is left as it is


def test_fusion_and_hoisting_policies():
    assert optimize.choose_fusion("auto", accelerator=True) and not optimize.choose_fusion("auto", accelerator=False)
    assert optimize.choose_fusion("always", accelerator=False) and not optimize.choose_fusion("never", accelerator=True)
    G = rnndsl.load(STD / "lstm.rnn").graph("LSTM")
    split = optimize.loop_split(G)
    wide = {n: 128 for n in split.frontier} | {"x": 32}
    assert optimize.choose_split(G, split, wide, "auto", accelerator=True) is split
    kept = optimize.choose_split(G, split, wide, "auto", accelerator=False)
    assert kept.frontier == ("x",) and kept.step_order == split.order
    narrow = {n: 16 for n in split.frontier} | {"x": 64}
    assert optimize.choose_split(G, split, narrow, "auto", accelerator=False) is split


def test_matmuls_added_two_by_two_are_stacked_as_one():
    """`A @ h[t-1] + B @ g[t-1] + C @ h[t-2]`: two of the matmuls share their add. All three become one matmul,
    and the cell computes what it computed unstacked (values and gradients)."""
    import numpy as np
    import tensorflow as tf

    from rnndsl.keras.cell import cell_rnn

    program = rnndsl.load("""
        cell C(n: int) {
            input x: [n]
            param A, B, C, D: [n, n]
            g[t] = sigmoid(D @ x[t])
            h[t] = tanh(A @ h[t-1] + B @ g[t-1] + C @ h[t-2])
            output h
        }
    """)
    G = optimize.cse(program.graph("C"))
    stacked = optimize.stacked_sums(G, optimize.loop_split(G))
    assert _ops(stacked).count("matmul") == 2 and _ops(stacked).count("add") == _ops(G).count("add") - 2
    layers = [cell_rnn(program, "C", input_dim=3, hoist="always", fuse=fuse, n=3) for fuse in ("always", "never")]
    x = tf.constant(np.random.default_rng(0).normal(size=(2, 5, 3)).astype("float32"))
    for layer in layers:
        layer(x)
    for w, v in zip(layers[1].trainable_weights, layers[0].trainable_weights):
        w.assign(v)
    found = []
    for layer in layers:
        with tf.GradientTape() as tape:
            y = layer(x)
            loss = tf.reduce_sum(y * y)
        found.append([y] + tape.gradient(loss, layer.trainable_weights))
    for a, b in zip(*found):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)


def test_terms_known_before_the_loop_are_summed_first():
    """`W @ x[t] + U @ h[t-1] + b` becomes `(W @ x[t] + b) + U @ h[t-1]`: the bias joins the hoisted work."""
    G = optimize.cse(rnndsl.load("""
        cell C(n: int) {
            input x: [n]
            param W, U: [n, n]
            param b: [n]
            h[t] = tanh(W @ x[t] + U @ h[t-1] + b)
            output h
        }
    """).graph("C"))
    split = optimize.loop_split(G)
    moved = optimize.static_terms_first(G, set(split.hoisted) | {"W", "U", "b"})
    (tanh,) = [n for n in moved.of_kind("op") if moved.node(n).op == "tanh"]
    ((top, _),) = moved.operands(tanh)

    def shown(n):
        rec = moved.node(n)
        if rec.kind != "op":
            return n
        return (rec.op, sorted((shown(u) for u, _ in moved.operands(n)), key=str))

    assert shown(top) == ("add", [("add", [("matmul", ["W", "x"]), "b"]), ("matmul", ["U", "h"])])
    assert "b" in G and _ops(moved) == _ops(G)  # as many adds as before; `G` itself is left as it is

