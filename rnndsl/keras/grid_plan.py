"""grid_plan: typed IR of a grid cell -> how its scan runs (rnndsl.keras.grid). A pure analysis of the graph.

A grid cell's equations split in three, as a time cell's do (rnndsl.keras.optimize.loop_split):

- hoisted: what is computed of the inputs (read at the position or at another), parameters and constants
  alone and varies over the positions (`W @ x[i, j]`, `W_l @ x[i, j-1]`): computed for every position of
  every grid at once, before the scan, as one batch of rows. A read at another position is then a gather
  over the whole grid;
- invariants: what is computed of parameters and constants alone (`1 - a`): once, before the scan;
- the step: the rest, which reads values at earlier positions, at every step of the scan.

The step reads the hoisted work through the frontier: each (value, offset) it reads of it, or of the inputs.
So only the reads of the step's own values at other positions order the scan: the Row LSTM's `x[i, j-1]`
is an input read before the scan, which leaves it a row a step.
In a step, the matmuls that multiply one value read at one position by different parameters (`U_o @ h[i-1,
j]`, `U_f @ h[i-1, j]`, ...) run as one matmul by the stacked parameters, and so do those of the hoisted work
(optimize.sibling_matmuls).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..lang.grid_scan import before_scan, scan_offsets
from ..lang.ir import CellIR
from . import optimize


@dataclass(frozen=True)
class GridPlan:
    batched: dict  # node -> whether it has the row axis in front: reads an input or a value at another position
    hoisted: tuple  # ops and values computed for every position before the scan, in evaluation order
    invariants: tuple  # ops and values of parameters and constants alone, computed once, in evaluation order
    step_order: tuple  # ops and values computed at each step, in evaluation order
    frontier: tuple  # (node, offset or None): what a step reads of the inputs and the hoisted work
    scan_offsets: tuple  # the offsets at which a step reads values of earlier steps: they alone order the scan
    hoisted_groups: tuple  # sibling matmuls of the hoisted work (optimize.SiblingGroup)
    step_groups: tuple  # ... of the step
    sums: dict  # a sibling group -> (the adds of its members, the (node, offset) they add): see `optimize.group_sums`
    step_sums: tuple  # the step's groups among those: what they add is one block of the frontier
    joined: dict  # a concatenation of the step -> (value, offsets): of that value's reads alone (`_joined_reads`)


def rewritten(G: CellIR, kept) -> CellIR:
    """A copy of grid cell `G` for the scan: common subexpressions merged; a sum's terms known before the scan
    summed there (`W @ x[i, j] + U @ h[i-1, j] + b` as `(W @ x[i, j] + b) + U @ h[i-1, j]`,
    optimize.static_terms_first); the step's matmuls of one sum stacked (`U_l @ h[i-1, j-1] + U_c @ h[i-1, j]
    + U_r @ h[i-1, j+1]` as one matmul of the parameters side by side by the three reads one after the other,
    optimize.stacked_sums) and merged again (the gates' stacked reads are one), so that a step's matmuls of
    one operand are one: the Row LSTM's step is one matmul."""
    G = optimize.cse(G)
    plan = grid_plan(G, kept)
    known = set(plan.hoisted) | set(plan.invariants) | {n for n, rec in G.records() if rec.kind != "op"
                                                         and rec.kind != "value"}
    G = optimize.static_terms_first(G, known)
    plan = grid_plan(G, kept)
    split = optimize.LoopSplit(plan.batched, frozenset(plan.hoisted), (), (), (), ())
    return optimize.cse(optimize.stacked_sums(G, split, hoisted_too=True))


def grid_plan(G: CellIR, kept) -> GridPlan:
    """The plan of grid cell `G`'s scan; `kept` names the values each step gives (its states and output)."""
    split = before_scan(G)
    order, batched, static = split.order, split.batched, split.static
    hoisted = tuple(n for n in order if static[n] and batched[n])
    invariants = tuple(n for n in order if static[n] and not batched[n])
    step_order = tuple(n for n in order if not static[n])
    ahead = set(hoisted) | set(G.signature.inputs)
    frontier: dict = {}
    for n in step_order:
        for u, use in G.operands(n):
            if u in ahead:
                frontier[(u, use.offset)] = None
    for n in kept:  # a kept value computed before the scan is each step's too (an input is read where it is)
        if n in hoisted:
            frontier[(n, None)] = None
    hoisted_groups = tuple(optimize.sibling_matmuls(G, hoisted, batched, invariant_matrices=True))
    step_groups = tuple(optimize.sibling_matmuls(G, step_order, batched, invariant_matrices=True))
    fixed = set(invariants) | {n for n, rec in G.records() if rec.kind in ("param", "const", "hparam")}
    sums = optimize.group_sums(G, hoisted_groups, lambda key: key[0] in fixed and key[1] is None,
                                vectors_only=True)
    step_sums = optimize.group_sums(G, step_groups, lambda key: key in frontier, vectors_only=True)
    # a step group's members in the order in which the values they add were computed side by side before the
    # scan (a hoisted group's sums): then that block is the frontier's as it is, with no split and no concat
    packed = {frozenset(adds): adds for adds, _ in sums.values()}
    for group, (adds, keys) in list(step_sums.items()):
        order = packed.get(frozenset(u for u, offset in keys if offset is None))
        if order is None or len(order) != len(keys):
            continue
        place = [[u for u, _ in keys].index(u) for u in order]
        del step_sums[group]

        def placed(members: tuple) -> tuple:
            return tuple(members[k] for k in place)

        group = replace(group, nodes=placed(group.nodes), params=placed(group.params), dots=placed(group.dots))
        step_sums[group] = (placed(adds), placed(keys))
    summed = {n for g in step_sums for n in g.nodes}
    step_groups = tuple(g for g in step_groups if not summed & set(g.nodes)) + tuple(step_sums)
    sums.update(step_sums)
    # a step group's added frontier values side by side, first, in the group's order: one block of the frontier
    keys = [k for _, added in step_sums.values() for k in added]
    return GridPlan(batched, hoisted, invariants, step_order, tuple(keys + [k for k in frontier if k not in keys]),
                    scan_offsets(G, split), hoisted_groups, step_groups, sums, tuple(step_sums),
                    _joined_reads(G, step_order))


def _joined_reads(G: CellIR, step_order) -> dict:
    """{concat: (value, offsets)} for the step's concatenations of one vector value read at earlier positions
    (a stacked sum's operands, optimize.stacked_sums: the Row LSTM's `h[i-1, j-1]`, `h[i-1, j]`, `h[i-1, j+1]`)."""
    found = {}
    for n in step_order:
        rec, uses = G.node(n), G.operands(n)
        if rec.kind != "op" or rec.op != "concat" or len(uses) < 2 or rec.attrs.get("axis") != -1:
            continue
        (u, *others) = {u for u, _ in uses}
        if not others and all(use.offset is not None for _, use in uses) and len(G.shape(u)) == 1:
            found[n] = (u, tuple(use.offset for _, use in uses))
    return found
