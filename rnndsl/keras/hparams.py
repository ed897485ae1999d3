"""The values of a cell's or a network's hyperparameters, from their defaults and what a caller gives.

`hyperparameters(G, given)` checks and types the values given by name;
`cell_env(G, given, input_size)` also solves a cell's free input dimension
(`in`) from the size of the inputs it is applied to.
"""

from __future__ import annotations

import math
import numbers
from typing import Optional

import numpy as np

from ..lang.dims import Dim, int_bindings, solve_int
from ..lang.errors import UsageError, did_you_mean


def hyperparameters(G, given: dict) -> dict:
    """{name: value} of a network's or cell's hyperparameters: the defaults, then `given`; a UsageError for a
    name it does not declare, a value not of its type, or one left without a value."""
    declared = G.graph["hparams"]
    kind = "cell" if G.graph["kind"] == "cell" else "network"
    name = G.graph["name"]
    unknown = [k for k in given if k not in declared]
    if unknown:
        hint = "".join(f"; {n}" for n in did_you_mean(unknown[0], declared))
        raise UsageError(f"{kind} `{name}` has no hyperparameter `{unknown[0]}`{hint}")
    env = {h.name: h.default for h in declared.values()}
    for k, v in given.items():
        typed = _typed(v, declared[k].type)
        if typed is None:
            raise UsageError(f"{kind} `{name}`: `{k}` is {'an' if declared[k].type == 'int' else 'a'} "
                             f"{declared[k].type}, given {v!r}")
        env[k] = typed
    missing = [k for k, v in env.items() if v is None]
    if missing:
        raise UsageError(f"{kind} `{name}` needs a value for {', '.join(missing)} (use --set {missing[0]}=...)")
    return env


def _typed(value, type_name: str):
    """`value` as a value of the hyperparameter type `type_name` (a NumPy number as a Python one), or None."""
    if value is None:
        return None
    if type_name == "bool":
        return bool(value) if isinstance(value, (bool, np.bool_)) else None
    if isinstance(value, (bool, np.bool_)):
        return None
    if type_name == "int":
        return int(value) if isinstance(value, numbers.Integral) else None
    if type_name == "float":
        return float(value) if isinstance(value, numbers.Real) else None
    return value if isinstance(value, str) else None


def cell_env(G, given: dict, input_size: Optional[int] = None) -> dict:
    """The values of cell G's hyperparameters (its defaults, then `given`) and of its free input dimension
    (`in`), solved from the total size of its inputs side by side, `input_size`: which may be left out where
    the hyperparameters fix it. A UsageError where no value fits, or none is given where one is needed."""
    env = hyperparameters(G, given)
    name = G.graph["name"]
    inputs = G.graph["signature"]["inputs"].values()
    total = sum((math.prod((d.subst(int_bindings(env)) for d in dims), start=Dim.const(1)) for dims in inputs),
                Dim.const(0))
    frees = sorted(total.symbols())
    if input_size is None:
        if frees:
            raise UsageError(f"cell `{name}` reads inputs whose size its hyperparameters leave open "
                             f"({', '.join(f'`{d}`' for d in frees)}): give the input size (--input-size N)")
        return env
    if len(frees) > 1:
        raise UsageError(f"cell `{name}` has several free input dimensions: {', '.join(frees)}")
    if not frees:
        if total.value != input_size:
            raise UsageError(f"cell `{name}` reads inputs of total size {total.value} with these hyperparameters, "
                             f"not {input_size}")
        return env
    (free,) = frees
    value = solve_int(total, free, input_size)
    if value is None:
        raise UsageError(f"cell `{name}`: no value of `{free}` gives an input of size {input_size}")
    return {**env, free: value}
