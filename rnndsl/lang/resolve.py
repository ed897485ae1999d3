"""resolve: AST -> bound program (imports, scopes, hyperparameters).

`resolve(module, file, folder, finder)` reads the imports (rnndsl.lang.imports,
found by `rnndsl.lang.specfiles`: next to the importing file, then the standard
library, then the search path), then binds every name of every cell
(rnndsl.lang.resolve_cell) and network (rnndsl.lang.resolve_network).

The result is a `BoundProgram` (rnndsl.lang.bound): per cell and network,
tables of what each name is, with shapes still as expressions (inference comes
later). Every problem is collected as a diagnostic; a cell with errors is left
out of the program.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from . import ast as A
from .bound import BoundCell, BoundNetwork, BoundProgram
from .errors import ResolveError, RnnDslError
from .imports import load_imports
from .resolve_cell import resolve_cell
from .resolve_network import resolve_network


def resolve(module: A.Module, file: str, folder: Optional[Path], finder):
    """Bind every name of `module` and of the files it imports.

    Returns (BoundProgram, errors). `folder` is where the main file's imports start
    (None: only the standard library and the search path); `finder` finds the
    imports (`rnndsl.lang.specfiles`: a search path, or the texts a saved model carries).
    """
    errors: list[RnnDslError] = []
    modules = load_imports(module, file, folder, finder, errors)
    definitions: dict[str, tuple] = {}  # name -> (AST item, file)
    for mod, mod_file in modules:
        for item in mod.items:
            if isinstance(item, A.Import):
                continue
            name = item.name.id
            if name in definitions:
                first, _ = definitions[name]
                errors.append(ResolveError(
                    f"`{name}` is defined twice", item.name.span, label="second definition",
                    notes=[f"first defined at {first.name.span}"], code="E0204"))
                continue
            definitions[name] = (item, mod_file)
    cells: dict[str, BoundCell] = {}
    cell_asts = {n: it for n, (it, _) in definitions.items() if isinstance(it, A.Cell)}
    for name, (item, mod_file) in definitions.items():
        if isinstance(item, A.Cell):
            bound, errs = resolve_cell(item, mod_file)
            errors += errs
            if bound is not None and not errs:
                cells[name] = bound
    networks: dict[str, BoundNetwork] = {}
    network_names = {n for n, (it, _) in definitions.items() if isinstance(it, A.Network)}
    for name, (item, mod_file) in definitions.items():
        if isinstance(item, A.Network):
            bound, errs = resolve_network(item, mod_file, cell_asts, cells, network_names)
            errors += errs
            if bound is not None and not errs:
                networks[name] = bound
    main_names = [i.name.id for i in module.items if not isinstance(i, A.Import)]
    program = BoundProgram(file, module.doc, cells, networks, [f for _, f in modules], main_names)
    return program, errors
