"""optimize: typed IR -> IR. Pure graph rewrites and analyses that lowering uses.

- `cse(G)`: common subexpressions merged: two operations with the same op,
  constant arguments and operands (read at the same delays) become one; so do
  equal constants. Named values are never merged.
- `loop_split(G)`: which operations read no state and can run for all time
  steps at once, before the time loop (`hoisted`), and which of their results
  the loop reads (`frontier`). In `W @ x[t] + U @ h[t-1]`, `W @ x[t]` is
  hoisted: one large matmul over the whole sequence instead of one per step.
  What reads neither an input nor a state (`1 - a`) is an invariant, computed
  wherever it is read.
- `sibling_matmuls(G, nodes, batched)`: the matmuls of one stage that multiply
  one operand by different parameter matrices (`W_i @ x[t]`, `W_f @ x[t]`,
  ...), which the lowering may run as one matmul by the stacked matrices;
  `group_sums` the biases their members add, which it adds to that matmul.
- `folded_transposes(G, nodes, batched)`: the matmuls of a transposed value,
  `transpose(L[t]) @ w`, which the lowering computes without the transpose;
  `unread_transposes` the transposes then not made at all.
- `choose_split(G, split, sizes, hoist)`: whether the lowering takes that
  split or keeps every operation in the loop (see its docstring for why
  hoisting does not always pay).
- `xla_pays(cells)`: whether a model of these generated cells trains faster
  compiled by XLA (see its docstring).

Neither imports TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional

import networkx as nx

from ..lang.ir import CellIR, OpNode, Use, frozen_map


def instantaneous_order(G: CellIR) -> list:
    """Ops and values in an order where every same-step operand comes first."""
    H = nx.DiGraph()
    H.add_nodes_from(G)
    for u, v, use in G.uses():
        if use.delay == 0 and not G.integrated(u):
            H.add_edge(u, v)
    return [n for n in nx.lexicographical_topological_sort(H, key=str) if G.node(n).kind in ("op", "value")]


def cse(G: CellIR) -> CellIR:
    """A copy of `G` with common subexpressions merged (`G` itself is left as it is)."""
    G = G.copy()
    seen: dict = {}
    for node in G.of_kind("const"):
        key = ("const", repr(G.node(node).value))
        if key in seen:
            _redirect(G, node, seen[key])
        else:
            seen[key] = node
    for node in instantaneous_order(G):
        rec = G.node(node)
        if rec.kind != "op":
            continue
        key = (rec.op, repr(sorted(rec.attrs.items())), rec.per_child,
               tuple((u, use.delay, use.child, use.offset) for u, use in G.operands(node)))
        if key in seen:
            _redirect(G, node, seen[key])
        else:
            seen[key] = node
    return G


def _redirect(G: CellIR, duplicate, kept) -> None:
    """Every use of `duplicate` reads `kept` instead; `duplicate` goes (from `G`, a copy this pass made)."""
    for v, use in G.users(duplicate):
        G.connect(kept, v, use)
    G.remove_node(duplicate)


@dataclass(frozen=True)
class LoopSplit:
    batched: dict  # node -> whether it varies over the batch (and time): reads an input or a state
    hoisted: frozenset  # computed for all steps before the loop
    frontier: tuple  # hoisted results the loop reads, inputs first then in evaluation order
    order: tuple  # evaluation order of all ops and values
    step_order: tuple  # ... of those computed in the loop
    before: tuple  # ... of those computed before the loop: the frontier, and what it reads (invariants too)


def loop_split(G: CellIR, observed=()) -> LoopSplit:
    """The split of `G`'s step into hoisted and loop work; `observed` names values read after each step
    besides the states and the first output.

    What reads neither an input nor a state, `(1 - a)` or `W * 2`, is the same at every step and for every
    batch row: an invariant, which has no place in the frontier (a sequence per batch row). It is computed
    wherever it is read, before the loop for hoisted work and in the loop for the rest."""
    order = instantaneous_order(G)
    # an input, and a `d/dt` state (read at any step, so before its derivative in `order`), are one per batch row
    batched = {n: rec.kind == "input" or G.integrated(n) for n, rec in G.records()}
    for n in order:
        # a value read at an earlier step is a state, one per batch row
        batched[n] = batched[n] or any(batched[u] or use.delay > 0 or use.child for u, use in G.operands(n))
    static = {n: rec.kind in ("input", "param", "const", "hparam") for n, rec in G.records()}
    for n in order:
        rec = G.node(n)
        static[n] = (not G.integrated(n) and not (rec.kind == "op" and rec.per_child)
                     and all(static[u] and use.delay == 0 for u, use in G.operands(n)))
    hoisted = frozenset(n for n, rec in G.records()
                        if static[n] and batched[n] and rec.kind in ("input", "op", "value"))
    needed = set(G.header.states) | {G.header.outputs[0]} | set(observed)
    position = {n: i for i, n in enumerate(order)}
    inputs = G.signature.inputs
    frontier = sorted((n for n in G if n in hoisted
                       and (n in needed or any(v not in hoisted for v in G.successors(n)))),
                      key=lambda n: (n not in inputs, position.get(n, -1), n))
    before = set(frontier)  # what the frontier needs: hoisted work, and the invariants it reads
    for n in reversed(order):
        if n in before:
            before.update(u for u, _ in G.operands(n) if u in position)
    invariant = {n for n in order if static[n] and not batched[n]}
    loop = {n for n in order if n not in hoisted and n not in invariant}
    for n in reversed(order):  # the invariants that the loop reads, or that are read after each step
        if n in invariant and (n in needed or any(v in loop for v in G.successors(n))):
            loop.add(n)
    return LoopSplit(batched, hoisted, tuple(frontier), tuple(order), tuple(n for n in order if n in loop),
                     tuple(n for n in order if n in before))


def folded_transposes(G: CellIR, nodes, batched: dict) -> dict:
    """{matmul: (whether its left operand is folded, whether its right one is)} for the matmuls among `nodes`
    with an operand `transpose(X)` of a value of the step, X a matrix (one head's): `transpose(L[t]) @ w`.
    The lowering multiplies by X itself with its indices swapped, so that no transpose is made and no copy
    of one is kept for the backward pass at every step. (A transpose of a parameter is made once before
    the loop.)"""
    def folds(u, use) -> bool:
        rec = G.node(u)
        if use.delay or rec.kind != "op" or rec.op != "transpose" or not batched.get(u, True):
            return False
        (x, read), = G.operands(u)
        plain = not (read.child or read.offset or read.index is not None)
        return plain and len(G.shape(x)) - int(G.node(x).heads) == 2

    found = {}
    for n in nodes:
        if G.node(n).kind == "op" and G.node(n).op == "matmul":
            flags = tuple(folds(u, use) for u, use in G.operands(n))
            if any(flags):
                found[n] = flags
    return found


def unread_transposes(G: CellIR, folded: dict) -> frozenset:
    """The transposes that only matmuls read, each as an operand that `folded` (folded_transposes) folds: no
    operation needs them made."""
    def folded_at(v, u) -> bool:
        return v in folded and all(f for (w, _), f in zip(G.operands(v), folded[v]) if w == u)

    candidates = {u for n, flags in folded.items() for (u, _), f in zip(G.operands(n), flags) if f}
    return frozenset(u for u in candidates if all(folded_at(v, u) for v in G.successors(u)))


def stacked_sums(G: CellIR, split: LoopSplit, hoisted_too: bool = False) -> CellIR:
    """A copy of `G` in which the matmuls of one sum that multiply loop values by parameters, `W_r @ r[t-1] +
    W_h @ h[t-1]`, are one matmul: `concat(W_r, W_h) @ concat(r[t-1], h[t-1])` (the parameters side by side,
    their vectors one after the other). Each matmul must be an operand of the sum alone, its parameter a
    matrix of as many rows as the others', its vector batched and not hoisted (`split`, of `G`); the sum is a
    tree of `add`s. One of the matmuls takes the stacked operands; each other one goes with the `add` that
    reads it, whose users read the add's other operand instead (where that is read at no delay). With
    `hoisted_too`, the hoisted matmuls of a sum are stacked as well, apart from the loop's."""
    G = G.copy()
    for root in [n for n in instantaneous_order(G) if _is_sum_root(G, n)]:
        if root not in G:  # an add that an earlier stacking made redundant
            continue
        members = []
        for parent, leaf, other in _sum_leaves(G, root):
            rec = G.node(leaf)
            if (rec.kind != "op" or rec.op != "matmul" or rec.heads or (leaf in split.hoisted and not hoisted_too)
                    or G.out_degree(leaf) != 1):
                continue
            (p, use_p), (v, use_v) = G.operands(leaf)
            if (G.node(p).kind == "param" and len(G.shape(p)) == 2 and use_p.delay == 0 and len(G.shape(v)) == 1
                    and split.batched.get(v, True) and not use_v.child and (parent is None or other is not None)):
                members.append((parent, leaf, other, p, v, use_v))
        rows = {}
        for m in members:
            rows.setdefault((G.shape(m[3])[0], m[1] in split.hoisted), []).append(m)
        for group in (g for g in rows.values() if len(g) > 1):
            _stack(G, group)
    return G


def _is_sum_root(G: CellIR, n) -> bool:
    """An `add` that is not itself the only user-facing operand of another `add`."""
    rec = G.node(n)
    if rec.kind != "op" or rec.op != "add":
        return False
    users = G.users(n)
    return not (len(users) == 1 and G.node(users[0][0]).kind == "op" and G.node(users[0][0]).op == "add"
                and users[0][1].delay == 0)


def _sum_leaves(G: CellIR, root) -> list:
    """[(its add, leaf, the add's other operand if that is read at no delay)] of the add tree under `root`."""
    leaves, todo = [], [root]
    while todo:
        add = todo.pop()
        operands = G.operands(add)
        for i, (u, use) in enumerate(operands):
            inner = G.node(u)
            if use.delay == 0 and inner.kind == "op" and inner.op == "add" and G.out_degree(u) == 1:
                todo.append(u)
            elif use.delay == 0:
                other, other_use = operands[1 - i] if len(operands) == 2 else (None, None)
                leaves.append((add, u, other if other_use is not None and other_use.delay == 0 else None))
    return leaves


def _stack(G: CellIR, group: list) -> None:
    """Make the first matmul of `group` the stacked one; drop the others with their adds."""
    first = group[0][1]
    span = G.node(first).span
    stacked, joined = f"{first}.params", f"{first}.operands"
    cols = sum((G.shape(m[3])[1] for m in group[1:]), G.shape(group[0][3])[1])
    G.add(stacked, OpNode(op="concat", span=span, label="concat", attrs=frozen_map({"axis": -1}),
                          shape=(G.shape(group[0][3])[0], cols), dtype="float"))
    G.add(joined, OpNode(op="concat", span=span, label="concat", attrs=frozen_map({"axis": -1}),
                         shape=(cols,), dtype="float"))
    for i, (_, _, _, p, v, use_v) in enumerate(group):
        G.connect(p, stacked, Use(arg=i, span=span))
        G.connect(v, joined, Use(arg=i, span=span, delay=use_v.delay, offset=use_v.offset))
    G.remove_edges_from([(u, first) for u, _ in G.operands(first)])
    G.connect(stacked, first, Use(arg=0, span=span))
    G.connect(joined, first, Use(arg=1, span=span))
    for _, leaf, *_ in group[1:]:
        # the add that reads the leaf now (an earlier one's removal may have moved it), and its other operand
        (add, use), = G.users(leaf)
        (other, _), = [(u, u_use) for u, u_use in G.operands(add) if (u, u_use.arg) != (leaf, use.arg)]
        _redirect(G, add, other)
        G.remove_node(leaf)


def static_terms_first(G: CellIR, static) -> CellIR:
    """A copy of `G` in which a sum of terms of which some are `static` (known before the loop: computed of
    inputs, parameters and constants alone) and some not is the sum of the static ones plus the sum of the
    rest: `W @ x + U @ h + b` as `(W @ x + b) + U @ h`, so that the bias joins the work before the loop and the
    loop adds once. The sum is a tree of `add`s (each read once, at no delay); only where every term has the
    sum's shape (no broadcast moves)."""
    G = G.copy()
    for root in [n for n in instantaneous_order(G) if _is_sum_root(G, n)]:
        terms = _terms(G, root)
        shape = G.shape(root)
        if any(G.shape(u) != shape for u, _ in terms):
            continue
        early = [t for t in terms if t[0] in static and t[1].delay == 0 and t[1].offset is None]
        late = [t for t in terms if t not in early]
        if not early or not late or (len(early) == 1 and len(late) == 1):
            continue
        record, users = G.node(root), G.users(root)
        parts = [_chain(G, f"{root}.{side}", record, side_terms) for side, side_terms in
                 (("static", early), ("loop", late))]
        top = _chain(G, f"{root}.sum", record, [(p, Use(arg=0, span=record.span)) for p in parts])
        for v, use in users:
            G.connect(top, v, use)
        _drop_dead(G, root)
    return G


def _terms(G: CellIR, root) -> list:
    """[(node, use)]: the terms of the add tree under `root` (through adds read once, at no delay)."""
    out = []
    for u, use in G.operands(root):
        rec = G.node(u)
        if (use.delay == 0 and use.offset is None and rec.kind == "op" and rec.op == "add" and not rec.heads
                and G.out_degree(u) == 1):
            out += _terms(G, u)
        else:
            out.append((u, use))
    return out


def _chain(G: CellIR, name: str, record: OpNode, terms: list):
    """The sum of `terms` [(node, use)] as new adds like `record` (the first of them alone: that node)."""
    if len(terms) == 1:
        return terms[0][0]
    total, first = terms[0]
    for k, (u, use) in enumerate(terms[1:]):
        n = f"{name}{k}"
        G.add(n, record)
        G.connect(total, n, Use(arg=0, span=record.span) if k else replace(first, arg=0))
        G.connect(u, n, replace(use, arg=1))
        total = n
    return total


def _drop_dead(G: CellIR, n) -> None:
    """Remove `n` and what it alone read (adds and other ops with no other user)."""
    operands = [u for u, _ in G.operands(n)]
    G.remove_node(n)
    for u in operands:
        if u in G and G.out_degree(u) == 0 and G.node(u).kind == "op":
            _drop_dead(G, u)


HOIST_POLICIES = ("auto", "always", "never")


def choose_split(G: CellIR, split: LoopSplit, sizes: dict, hoist: str, *, accelerator: bool) -> LoopSplit:
    """The split the lowering runs: `split` itself, or one with every operation left in the loop.

    `sizes[n]` is the number of entries of node `n` per batch row and step.
    Hoisting turns per-step work into one large operation over all steps, but
    the loop then reads the frontier instead of the inputs, and in training the
    frontier's gradient flows back out of the loop step by step. On a GPU or
    TPU the saved per-step launches dominate: `auto` hoists. On a CPU the wider
    sequence costs more than the small per-step matmuls it saves (measured:
    an LSTM of 128 units on 32 inputs trains 1.4x slower hoisted, its frontier
    being 16 times wider than its input), so `auto` hoists only when the loop
    then reads no more per step than the inputs.
    """
    if hoist not in HOIST_POLICIES:
        raise ValueError(f"hoist must be one of {', '.join(HOIST_POLICIES)}, not {hoist!r}")
    inputs = tuple(G.signature.inputs)
    if hoist == "always" or (hoist == "auto" and (
            accelerator or sum(sizes[n] for n in split.frontier) <= sum(sizes[n] for n in inputs))):
        return split
    return LoopSplit(split.batched, frozenset(inputs), inputs, split.order, split.order, ())


@dataclass(frozen=True)
class SiblingGroup:
    """Matmuls `P_k @ v` (or `v @ P_k`, `left=False`) of one operand `v`, read at one delay, by parameters
    `P_k`, and dot products `dot(p, v)` of it with parameter vectors (one row, or one column, each): one
    matmul by the P_k stacked, then split, computes them all. In a cell with heads, a parameter with heads
    `[heads, rows, ...]` times a `v` without heads is its heads' rows one after the other (`W_k @ h`, and
    `dot(v_k, h)` of `v_k: [heads, n]`, whose rows are the heads): the part of the product is one value
    per head."""

    nodes: tuple  # the matmul and dot ops, in evaluation order
    params: tuple  # their parameter matrices (and vectors), in the same order
    operand: tuple  # (node, delay) of the shared operand
    left: bool  # True for `P @ v` (stack the rows of P), False for `v @ P` (stack the columns)
    dots: tuple = ()  # per member: whether it is a dot product (its parameter a vector, its value a scalar)
    offset: Optional[tuple] = None  # in a grid cell, the position (di, dj) at which `v` is read


FUSE_POLICIES = ("auto", "always", "never")


def choose_fusion(fuse: str, *, accelerator: bool) -> bool:
    """Whether sibling matmuls run as one. On a GPU or TPU one launch instead of several pays: `auto` fuses.
    On a CPU it does not (measured, a gradient step of an LSTM of 128 units on 32 inputs, batch 64, 100 steps:
    32 ms with four recurrent matmuls a step, 34 ms with one of four times the width and a split; 44 against
    51 ms with the input work hoisted), so `auto` does not; but under XLA it does (see `plans_for_xla`)."""
    if fuse not in FUSE_POLICIES:
        raise ValueError(f"fuse must be one of {', '.join(FUSE_POLICIES)}, not {fuse!r}")
    return fuse == "always" or (fuse == "auto" and accelerator)


def has_memory(G: CellIR) -> bool:
    """Whether the cell carries a state of two or more axes: a memory matrix (an NTM's, a DNC's, a stack's)."""
    return any(len(G.shape(s)) >= 2 for s in G.header.states)


def plans_for_xla(G: CellIR) -> bool:
    """Whether a cell's step is planned as for an accelerator (hoisted, sibling matmuls fused): a cell with a
    memory, which `rnndsl train` compiles with XLA (`xla_pays`). Under XLA each matmul is a kernel call of its
    own while the elementwise work around it fuses, so fewer and larger matmuls pay even on a CPU (measured, a
    training step of the NTM of bench/memory.py under XLA: 17.6 ms planned for the CPU, 15.8 ms hoisted and
    fused)."""
    return has_memory(G)


def xla_pays(cells: list) -> bool:
    """Whether a model whose recurrent layers are the generated cells `cells` (typed CellIRs) trains faster
    with its step compiled by XLA. A memory cell runs many small operations on its memory at every step,
    which XLA fuses; a cell of a few large matmuls gains nothing and loses the kernels TensorFlow tunes for
    them. Measured on the CPU (2 cores), a training step, median of 9, with and without XLA: NTM (100
    controller units, 128 slots of 20; batch 16, 40 steps) 112 -> 38 ms; DNC (64 units, 16 slots of 16) 111
    -> 28 ms; the generated LSTM (128 units, batch 64, 100 steps) 73 -> 151 ms. So: XLA when every
    recurrent layer is a cell with a memory."""
    return bool(cells) and all(has_memory(G) for G in cells)


def sibling_matmuls(G: CellIR, nodes, batched: dict, invariant_matrices: bool = False) -> list:
    """Groups of two or more matmuls among `nodes` that share their vector operand (see SiblingGroup); with
    `invariant_matrices`, a matrix computed of parameters alone (a stacked sum's) stacks as a parameter does."""

    def is_matrix(n) -> bool:
        rec = G.node(n)
        return rec.kind == "param" or (invariant_matrices and rec.kind == "op" and not batched.get(n, True))

    groups: dict = {}
    for n in nodes:
        rec = G.node(n)
        if rec.kind != "op" or rec.op not in ("matmul", "dot"):
            continue
        (a, use_a), (b, use_b) = G.operands(n)
        ranks = (len(G.shape(a)), len(G.shape(b)))
        if rec.heads:  # `P @ v` of a parameter with heads and a vector shared by the heads: rows of P
            if (G.node(a).kind == "param" and G.node(a).heads and not G.node(b).heads and batched[b]
                    and not use_b.child and ranks == ((3, 1) if rec.op == "matmul" else (2, 1))):
                groups.setdefault((b, _at(use_b), True), []).append((n, a, False))
            continue
        if rec.op == "dot":  # dot(p, v) = p @ v: a row of the stacked matrix (a column of `v @ P`'s)
            if ranks != (1, 1):
                continue
            if is_matrix(a) and batched[b] and not use_b.child:
                groups.setdefault((b, _at(use_b)), []).append((n, a, True))
            elif is_matrix(b) and batched[a] and not use_a.child:
                groups.setdefault((a, _at(use_a)), []).append((n, b, True))
        elif ranks == (2, 1) and is_matrix(a) and batched[b] and not use_b.child:
            groups.setdefault((b, _at(use_b), True), []).append((n, a, False))
        elif ranks == (1, 2) and is_matrix(b) and batched[a] and not use_a.child:
            groups.setdefault((a, _at(use_a), False), []).append((n, b, False))
    # the dot products of an operand join its `P @ v` group (rows), else its `v @ P` group (columns), else
    # make a group of their own (rows)
    for key in [k for k in groups if len(k) == 2]:
        dots = groups.pop(key)
        home = key + (False,) if key + (False,) in groups and key + (True,) not in groups else key + (True,)
        groups.setdefault(home, []).extend(dots)
    return [SiblingGroup(tuple(n for n, _, _ in members), tuple(p for _, p, _ in members), (key[0], key[1][0]),
                         key[2], tuple(d for _, _, d in members), key[1][1])
            for key, members in groups.items() if len(members) > 1]


def _at(use: Use) -> tuple:
    """Where a read looks: (its delay, its offset in a grid cell or None); sibling matmuls share it."""
    return (use.delay, use.offset)


def group_sums(G: CellIR, groups, addable, vectors_only: bool = False) -> dict:
    """{group: (adds, keys)} for the sibling groups each of whose members is read by one `add` alone, which adds
    a value of the member's shape that is `addable` ((node, offset)): the gates' `(W @ x[i, j] + b) + U @
    h[i-1, j]` in a grid's step, `W @ x[i, j] + b` before its scan, a memory cell's head parameters `W_k @ h[t]
    + b_k` and `dot(v_beta, h[t]) + b_beta` in a step. The group's one matmul then has them added before it is
    split: one add, not one a member, and in training one gradient of the biases side by side a step, not one
    a member. With `vectors_only`, only members that are vectors (no scalars of dot products, no values with
    heads). A value added in two groups leaves the second as it is."""
    found, taken = {}, set()
    for group in groups:
        adds, keys = [], []
        for m in group.nodes:
            users = G.users(m)
            if len(users) != 1 or G.node(users[0][0]).kind != "op" or G.node(users[0][0]).op != "add":
                break
            add = users[0][0]
            others = [(u, use) for u, use in G.operands(add) if u != m]
            if len(others) != 1 or others[0][1].delay != 0 or not addable((others[0][0], others[0][1].offset)):
                break
            key = (others[0][0], others[0][1].offset)
            if key in taken or key in keys or G.shape(key[0]) != G.shape(m) or (vectors_only and len(G.shape(m)) != 1):
                break
            adds.append(add)
            keys.append(key)
        else:
            found[group] = (tuple(adds), tuple(keys))
            taken.update(keys)
    return found
