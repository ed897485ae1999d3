"""infer: IR -> typed IR. Shapes and dtypes by unification over symbolic dimensions.

The graphs it is given are left as they are: it types a copy of each.

Cells first (rnndsl.lang.infer_cell: every node's shape and dtype, the cell's
signature), then networks (rnndsl.lang.infer_network: every layer's output
type; a cell applied is instantiated from its signature). Both are then held
to the limits on sizes (rnndsl.lang.limits) with their hyperparameters at
their defaults.
"""

from __future__ import annotations

from .bound import BoundProgram
from .errors import RnnDslError
from .infer_cell import CellInference
from .infer_network import NetworkInference


def infer(program: BoundProgram, graphs: dict) -> tuple:
    """Type every cell, then every network: ({name: typed copy of its graph}, the diagnostics)."""
    typed = {name: G.copy() for name, G in graphs.items()}
    errors: list[RnnDslError] = []
    for name, cell in program.cells.items():
        errors += CellInference(typed[name], cell).run()
    for name, net in program.networks.items():
        errors += NetworkInference(typed[name], net, typed).run()
    return typed, errors
