"""The front end's passes in order, from spec text to checked graphs.

    text --parse--> AST --resolve--> bound program --graph--> IR --infer--> typed IR --causality--> checked
    AST --lint--> warnings (about the text itself)

Each pass is one call below; a pass reads only what the pass before it made. The driver
(`rnndsl.program`) wraps the result in the Python API's objects; the back ends call this
directly when they compile a text of their own (a fused layer's template, a saved cell).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from . import causality, graph, infer, lint, specfiles
from .ast import Module
from .bound import BoundProgram
from .parse import parse_file
from .resolve import resolve


@dataclass(frozen=True)
class Checked:
    """What the front end made of one text: the bound program, a graph per cell and network, the AST, and
    the warnings about the text itself (rnndsl.lang.lint; not about the files it imports)."""

    bound: BoundProgram
    graphs: dict
    module: Module
    warnings: tuple = ()


def check_text(text: str, file: str = "<string>", base_dir: Optional[Path] = None, *,
               search_path: Sequence = (), finder=None):
    """Run every pass over `text`. Returns (Checked or None, every diagnostic).

    Imports are looked for in `base_dir` (None: none but the standard library and the
    search path), then the standard library, then the folders of `search_path` and
    RNNDSL_PATH; or by `finder` alone (`specfiles.CarriedTexts` for a saved model's
    texts). Text over `specfiles.MAX_SPEC_BYTES` is a UsageError. None comes back only
    when the text does not parse: later passes would see only what recovery made of it.
    """
    specfiles.check_size(text, file)
    parsed = parse_file(text, file)
    if parsed.errors:
        return None, list(parsed.errors)
    finder = finder if finder is not None else specfiles.SearchPath.from_environment(search_path)
    bound, errors = resolve(parsed.module, file, base_dir, finder)
    graphs, typing_errors = infer.infer(graph.build(bound))
    errors += typing_errors
    errors += causality.check(graphs)
    return Checked(bound, graphs, parsed.module, tuple(lint.lint(parsed.module))), errors
