"""memory_plan: how a cell's memory is written and laid out, decided from its typed IR (no TensorFlow).

- `memory_writes(G, nodes, batched)`: the erase-then-add writes of a memory (an NTM's, a DNC's) with the
  reads of the memory they make, which the lowering computes as one operation (rnndsl.keras.memory_write).
- `slots_last(G, writes, sizes, observed)`: the memories the loop carries transposed, `(batch, width, slots)`
  rather than `(batch, slots, width)` as the spec writes them (see its docstring for why and when).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional

from ..lang.ir import CellIR

@dataclass(frozen=True)
class MemoryWrite:
    """`M[t] = M_old * (1 - outer(w, e)) + outer(w, a)`: the erase-then-add write of a memory (an NTM's, a DNC's),
    and the reads `w_r @ M[t]` of the memory it makes whose weightings are known before it, which the lowering may
    compute as one operation (rnndsl.keras.memory_write)."""

    root: str  # the add that makes the new memory
    memory: tuple  # (node, delay) of the old memory
    weighting: str  # w, e and a, each read at no delay
    erase: str
    add: str
    inner: tuple  # the write's other operations, read by it alone: the lowering need not compute them
    reads: tuple = ()  # the matmuls `w_r @ M[t]` computed with the write
    read_weightings: tuple = ()  # their weightings, in the same order


def memory_writes(G: CellIR, nodes, batched: dict) -> list:
    """The memory writes (see MemoryWrite) among `nodes` (ops and values of the step, in evaluation order), with
    their reads; `batched[n]` whether n has the batch axis. A write whose memory, weighting, erase or add vector
    is the same for every batch row (a parameter, `outer(w[t], e)` of a fixed `e`) is left to run op by op."""
    position = {n: i for i, n in enumerate(nodes)}
    found = []
    for root in nodes:
        rec = G.node(root)
        if rec.kind != "op" or rec.op != "add" or rec.heads or len(G.shape(root) or ()) != 2:
            continue
        write = _write_of(G, root)
        if write is None or not all(batched.get(n, False) for n in (write.weighting, write.erase, write.add)):
            continue
        if not (batched.get(write.memory[0], False) or write.memory[1] > 0) or not set(write.inner) <= set(nodes):
            continue
        new = [v for v, use in G.users(root) if use.defines]
        reads, weightings = [], []
        for v, use in (G.users(new[0]) if new else []):
            operands = G.operands(v)
            if use.delay or G.node(v).kind != "op" or G.node(v).op != "matmul" or G.node(v).heads or len(operands) != 2:
                continue
            (w_r, use_r), (m, _) = operands
            known = position.get(w_r, len(nodes)) < position[root]  # computed before the write, not of it
            if m == new[0] and not use_r.delay and len(G.shape(w_r)) == 1 and known and batched.get(w_r, False):
                reads.append(v)
                weightings.append(w_r)
        found.append(replace(write, reads=tuple(reads), read_weightings=tuple(weightings)))
    return found


def _write_of(G: CellIR, root) -> Optional[MemoryWrite]:
    """The write that the add `root` ends, or None if it is not one."""
    ops = {}
    for u, use in G.operands(root):
        rec = G.node(u)
        if use.delay or rec.kind != "op" or rec.heads:
            return None
        ops[rec.op] = u
    if set(ops) != {"mul", "outer"}:
        return None
    mul, added = ops["mul"], ops["outer"]
    keep = [(u, use) for u, use in G.operands(mul)
            if G.node(u).kind == "op" and G.node(u).op == "sub" and not use.delay]
    if len(keep) != 1 or len(G.operands(mul)) != 2:
        return None
    keep = keep[0][0]
    (memory, memory_use), = [(u, use) for u, use in G.operands(mul) if u != keep]
    (one, one_use), (erased, erased_use) = G.operands(keep)
    if (G.node(one).kind != "const" or G.node(one).value != 1 or one_use.delay or erased_use.delay
            or G.node(erased).kind != "op" or G.node(erased).op != "outer" or G.shape(memory) != G.shape(root)):
        return None
    (w, use_w), (e, use_e) = G.operands(erased)
    (w_a, use_wa), (a, use_a) = G.operands(added)
    if w != w_a or any(use.delay for use in (use_w, use_e, use_wa, use_a)):
        return None
    parts = (mul, keep, erased, added)
    inner = tuple(n for n in parts if all(v in parts or v == root for v, _ in G.users(n)))
    return MemoryWrite(root, (memory, memory_use.delay), w, e, a, inner)


def slots_last(G: CellIR, writes, sizes: dict, observed=()) -> frozenset:
    """The memories (states) whose loop carries them slots last: `M: [slots, width]` held as `(batch, width,
    slots)`.

    A memory's operations reduce along its rows (a `cosine` with a key, the gradient of a write's erase and add
    vectors) or combine whole rows (a read `w @ M`). Held as the spec writes it, the innermost axis, along which
    the compiled loops run, is a row's `width` numbers; held slots last, it is the longer one of `slots`
    numbers. On bench/memory.py's
    NTM (64 slots of width 20) the training step compiled by XLA takes 0.90 of the time (the median of seven
    rounds, the two layouts taking turns); without XLA, 0.99.

    Taken for a memory `M` of `sizes[M] = (slots, width)` with more slots than width that one of `writes` makes
    from `M[t-1]` (a MemoryWrite), read at most one step back, not `observed` (a value the cell outputs, which
    is given as the spec writes it), and read by nothing but what can run on it so laid out: that write, its
    reads, and `cosine(M, key)` and `w @ M` without heads."""
    found = set()
    for write in writes:
        memory, delay = write.memory
        rows = sizes.get(memory)
        if (delay != 1 or memory not in G.header.states or G.header.delays.get(memory, 1) > 1 or memory in observed
                or G.integrated(memory) or rows is None or len(rows) != 2 or rows[0] <= rows[1]):
            continue
        if [v for v, use in G.users(write.root) if use.defines] != [memory]:
            continue
        if all(_reads_slots_last(G, write, v, use) for v, use in G.users(memory)):
            found.add(memory)
    return frozenset(found)


def _reads_slots_last(G: CellIR, write: MemoryWrite, v, use) -> bool:
    """Whether the use of the memory `write` makes by operation `v` can run on the memory held slots last."""
    if use.index is not None or use.offset is not None or use.child:
        return False
    if v in write.inner or v in write.reads:
        return True
    rec = G.node(v)
    if rec.kind != "op" or rec.heads or len(G.operands(v)) != 2:
        return False
    (first, _), (second, _) = G.operands(v)
    if rec.op == "cosine":
        return use.arg == 0 and second != first
    return rec.op == "matmul" and use.arg == 1 and len(G.shape(first)) == 1 and first != second
