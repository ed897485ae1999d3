"""grid_scan: the order in which a grid cell's positions are computed (lowering plans it, drawings say it).

A grid cell computes at each position (i, j) from its inputs and from values at earlier positions. What is
computed of the inputs (read at any position), parameters and constants alone needs no scan: all positions
at once (`before_scan`). The rest reads the cell's own values at earlier positions, offsets (di, dj) before
(0, 0) row by row (rnndsl.lang.grid_reads); those offsets alone (`scan_offsets`) order the scan. With a scan
schedule (a, b), position (i, j) is computed at step a*i + b*j, and a read at offset (di, dj) reaches a
position a*di + b*dj steps earlier. The schedule is the one of fewest steps that makes every offset reach
back at least one step (`scan_schedule`):

- reads of the row above alone (`h[i-1, j-1]`, `h[i-1, j]`, `h[i-1, j+1]`: the Row LSTM): (1, 0), one row
  a step, H steps;
- reads above and to the left (`h[i-1, j]`, `h[i, j-1]`: the multi-dimensional LSTM, the Diagonal LSTM):
  (1, 1), the anti-diagonals i + j = s, H + W - 1 steps;
- reads of the row above to the right and of the left (`h[i-1, j+1]`, `h[i, j-1]`): (2, 1);
- further up and to the right: steeper schedules, (a, 1) with a up to W, one position a step.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from .grid_reads import MAX_OFFSET


@dataclass(frozen=True)
class ScanSplit:
    order: tuple  # the ops and values in an order where what a node reads at its own position comes first
    batched: dict  # node -> whether it varies over positions: reads an input, or a value at another position
    static: dict  # node -> whether it is computed of inputs (at any position), parameters and constants alone


def before_scan(G) -> ScanSplit:
    """What of grid cell `G` (a typed CellIR) is computed before its scan and what varies over positions."""
    step = nx.DiGraph((u, v) for u, v, use in G.uses() if use.offset is None)
    step.add_nodes_from(G)
    order = tuple(n for n in nx.lexicographical_topological_sort(step, key=str) if G.node(n).kind in ("op", "value"))
    batched = {n: rec.kind == "input" for n, rec in G.records()}
    # a value read at another position that is not yet known to be computed before the scan (a state of the
    # scan) is not
    static = {n: rec.kind in ("input", "param", "const", "hparam") for n, rec in G.records()}
    for n in order:
        uses = G.operands(n)
        batched[n] = any(batched[u] or use.offset is not None for u, use in uses)
        static[n] = all(static[u] for u, _ in uses)
    return ScanSplit(order, batched, static)


def scan_offsets(G, split: ScanSplit = None) -> tuple:
    """The offsets at which grid cell `G` reads, at earlier positions, values that the scan computes (not an
    input, nor what is computed of inputs alone before the scan): they alone order the scan."""
    split = split or before_scan(G)
    ahead = {n for n, known in split.static.items() if known and split.batched[n]}
    return tuple(sorted({use.offset for u, _, use in G.uses() if use.offset is not None and u not in ahead}))


def scan_schedule(offsets, height: int, width: int) -> tuple:
    """(a, b): position (i, j) is computed at step a*i + b*j; the one of fewest steps in which every offset
    (di, dj) that can reach inside an H x W grid reads an earlier step."""
    inside = [(di, dj) for di, dj in offsets if abs(di) < height and abs(dj) < width]
    if not inside:
        return (0, 0)  # nothing read at another position: every position at once
    # b = 1, a = W always works (one position a step); a larger b than 3 never has fewer steps than that
    candidates = [(a, b) for a in range(width + 1) for b in range(4)]
    valid = [(a, b) for a, b in candidates if all(a * di + b * dj <= -1 for di, dj in inside)]
    return min(valid, key=lambda ab: (ab[0] * (height - 1) + ab[1] * (width - 1), ab))


def scan_text(G) -> str:
    """How grid cell `G`'s scan runs, in words, for a grid larger than any offset it reads: `a row at a time,
    from the top`, `by anti-diagonals, from the top-left corner`, `position (i, j) at step 2i + j`."""
    side = 2 * MAX_OFFSET + 2
    a, b = scan_schedule(scan_offsets(G), side, side)
    named = {(0, 0): "every position at once", (1, 0): "a row at a time, from the top",
             (0, 1): "a column at a time, from the left", (1, 1): "by anti-diagonals, from the top-left corner"}
    if (a, b) in named:
        return named[(a, b)]
    return f"position (i, j) at step {a if a > 1 else ''}i + {b if b > 1 else ''}j"
