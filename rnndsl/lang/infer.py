"""infer: IR -> typed IR. Shapes and dtypes by unification over symbolic dimensions.

The graphs it is given are left as they are: it types a copy of each.

Cells first (rnndsl.lang.infer_cell: every node's shape and dtype, the cell's
signature), then networks (rnndsl.lang.infer_network: every layer's output
type; a cell applied is instantiated from its signature). Both are then held
to the limits on sizes (rnndsl.lang.limits) with their hyperparameters at
their defaults.
"""

from __future__ import annotations

from .errors import RnnDslError
from .infer_cell import CellInference
from .infer_network import NetworkInference


def infer(graphs: dict) -> tuple:
    """Type every cell, then every network: ({name: typed copy of its graph}, the diagnostics).
    The graphs are all it reads."""
    typed = {name: G.copy() for name, G in graphs.items()}
    errors: list[RnnDslError] = []
    for G in typed.values():
        if G.kind == "cell":
            errors += CellInference(G).run()
    for G in typed.values():
        if G.kind == "network":
            errors += NetworkInference(G, typed).run()
    return typed, errors
