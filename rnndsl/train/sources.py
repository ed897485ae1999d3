"""sources: what a network trains on, named by the `data = ...` line of its spec's `train` block.

    data = adding(steps=100, train=100000, test=10000)   # a task from the literature, generated
    data = npz("adding.npz", inputs="x", targets="y")   # arrays from files beside the spec

`SOURCES` maps each source's name to a `Source`: its signature (rnndsl.lang.sources, which
`rnndsl check` reads without this package) and the function that runs it, a generator
(rnndsl.train.generators, rnndsl.train.transduction, rnndsl.train.tree_tasks) or a file reader
(rnndsl.train.readers, rnndsl.train.token_readers, rnndsl.train.tree_readers). `load` checks
the arguments, runs the source and checks every split of the `Data` it gives
(rnndsl.train.containers). Generators are deterministic given
the seed; data that cannot be used raises `DataError` with one line, before any training.

NumPy only: `rnndsl check` may import this module, and it must not import TensorFlow.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from ..lang.errors import DataError
from ..lang.sources import SIGNATURES, Param, check_args, complete
from ..lang.wording import one_line
from .checks import check_split
from .containers import Data
from .algorithmic import ALGORITHMIC
from .generators import GENERATORS
from .readers import READERS
from .token_readers import TOKEN_READERS
from .transduction import TRANSDUCTION
from .tree_readers import TREE_READERS
from .tree_tasks import TREE_TASKS
from .user_task import USER_TASKS

__all__ = ["Source", "SOURCES", "load"]


@dataclass(frozen=True)
class Source:
    """A data source: its name, its arguments in positional order (`Param`s of rnndsl.lang.sources),
    its documentation, the function that runs it, `fn(base, seed, **arguments) -> Data`, and
    `validate(arguments)`, messages about values that do not go together (all arguments given, of
    the right types)."""

    name: str
    params: tuple
    doc: str
    fn: Callable
    validate: Optional[Callable] = None

    def param(self, name: str) -> Optional[Param]:
        return next((p for p in self.params if p.name == name), None)


def _attach(functions: dict) -> dict:
    """{name: Source}, in the order of the signatures, each signature given its function (its
    docstring the source's doc). An AssertionError at import where a signature has no function,
    or a function no signature: the two lists are kept in step by hand."""
    unrun, unsigned = sorted(set(SIGNATURES) - set(functions)), sorted(set(functions) - set(SIGNATURES))
    if unrun or unsigned:
        raise AssertionError(f"data sources without a function: {unrun or 'none'}; functions without a signature "
                             f"in rnndsl.lang.sources: {unsigned or 'none'}")
    return {name: Source(name, s.params, inspect.cleandoc(functions[name].__doc__ or ""), functions[name], s.validate)
            for name, s in SIGNATURES.items()}


SOURCES: dict = _attach({**GENERATORS, **ALGORITHMIC, **TRANSDUCTION, **TREE_TASKS, **USER_TASKS, **READERS,
                         **TOKEN_READERS, **TREE_READERS})


def load(source: str, args: dict, *, base, seed: int) -> Data:
    """Run the source with `args` (file paths relative to `base`, the spec's folder; generators
    seeded by `seed`): its `Data`, every split checked. A `DataError` with one line for bad
    arguments or bad data."""
    messages = check_args(source, args, SOURCES)
    if messages:
        raise DataError("; ".join(messages))
    found = SOURCES[source]
    try:
        data = found.fn(Path(base), int(seed), **complete(found, args))
    except MemoryError as e:  # numpy's message gives the array's size and shape
        raise DataError(f"`{source}`: not enough memory for the data: {one_line(e)}") from None
    for name in ("train", "validation", "test"):
        split = getattr(data, name)
        if split is not None:
            check_split(split, f"`{source}`: the {name} split")
    return data
