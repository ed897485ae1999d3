"""memory: recall from an associative memory (a Hopfield network, a BAM), run to a fixed point.

A memory is a lowered cell (a GeneratedRNN) with one state, which the probe
starts, and either no input (a BAM) or one input of the state's size, the
update schedule (`Hopfield`: 1 where a unit updates at that step):

- `sync`: every unit at once, one step a sweep (Little 1974);
- `async`: one unit a step, each once a sweep in a fresh random order
  (Hopfield 1982).

Recall runs sweep after sweep until one changes nothing (a fixed point) or
`max_sweeps` have run. A cell with a value named `energy` reports it after
every sweep.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..keras.cell import GeneratedRNN, observer

SCHEDULES = ("sync", "async")


@dataclass
class Recall:
    """The result of recall: the final states `(batch, size)`, the sweeps run, which rows reached a fixed
    point, and the energy after each sweep `(batch, sweeps)` where the cell has one."""

    state: np.ndarray
    sweeps: int
    converged: np.ndarray
    energy: Optional[np.ndarray] = None


def recall(layer: GeneratedRNN, probe, *, schedule: str = "async", max_sweeps: int = 100, seed: int = 0) -> Recall:
    """Run the memory from `probe` (batch, size of its state) to a fixed point."""
    cell = layer.cell
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, not {schedule!r}")
    if len(cell.state_shapes) != 1:
        raise ValueError(f"cell `{cell.cell_name}` has {len(cell.state_shapes)} states; a memory recalls one")
    (name, (shape, _)), = cell.state_shapes.items()
    size = int(np.prod(shape))
    if cell.input_dim not in (0, size):
        raise ValueError(f"cell `{cell.cell_name}` takes inputs of {cell.input_dim}: a memory's input is its "
                         f"update schedule, of the state's size {size}, or none")
    state = np.asarray(probe, np.float32).reshape(-1, size)
    has_energy = "energy" in cell.G and cell.G.node("energy").kind == "value"
    run = observer(layer, [name] + (["energy"] if has_energy else []))
    rng = np.random.default_rng(seed)
    batch = len(state)
    energies, converged, sweeps = [], np.zeros(batch, bool), 0
    for sweeps in range(1, max_sweeps + 1):
        out = np.asarray(run(_sweep(cell.input_dim, batch, schedule, rng), initial_state=[state]))[:, -1]
        new = out[:, :size]
        if has_energy:
            energies.append(out[:, size])
        converged = np.all(new == state, axis=1)
        state = new
        if converged.all():
            break
    return Recall(state, sweeps, converged, np.stack(energies, axis=1) if has_energy else None)


def _sweep(width: int, batch: int, schedule: str, rng) -> np.ndarray:
    """The schedule of one sweep: (batch, steps, width)."""
    if width == 0:
        return np.zeros((batch, 1, 0), np.float32)
    if schedule == "sync":
        return np.ones((batch, 1, width), np.float32)
    order = rng.permutation(width)
    steps = np.zeros((batch, width, width), np.float32)
    steps[:, np.arange(width), order] = 1.0
    return steps
