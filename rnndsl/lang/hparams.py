"""Binding a cell's or network's hyperparameters to values: one binding for the API and the CLI.

A hyperparameter is declared with a type (`int`, `float`, `bool`, `str`) and maybe a default.
Values come from Python (`Program.build(units=64)`: `bind`) or from the command line as text
(`--set units=64`: `from_command_line` types the text, then the values bind the same way).
`cell_env` also solves a cell's free input dimension (`in`) from the size of its inputs.
"""

from __future__ import annotations

import math
import numbers
import re
from typing import Optional

from .dims import Dim, int_bindings, solve_int
from .errors import ResolveError, SpecErrors, UsageError, did_you_mean


def _article(type_name: str) -> str:
    return "an" if type_name == "int" else "a"


def typed(value, type_name: str):
    """`value` as a value of the hyperparameter type `type_name` (a NumPy number as a Python one), or None."""
    import numpy as np  # a NumPy bool is no Python bool; only the API gives one

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


def bind(G, given: dict) -> dict:
    """{name: value} of the hyperparameters of the cell or network graph `G`: the defaults, then `given`.

    A UsageError for a name it does not declare, a value not of its type, or one left without a value."""
    declared = G.header.hparams
    kind, name = G.kind, G.name
    unknown = [k for k in given if k not in declared]
    if unknown:
        hint = "".join(f"; {n}" for n in did_you_mean(unknown[0], declared))
        raise UsageError(f"{kind} `{name}` has no hyperparameter `{unknown[0]}`{hint}")
    env = {h.name: h.default for h in declared.values()}
    for k, v in given.items():
        value = typed(v, declared[k].type)
        if value is None:
            t = declared[k].type
            raise UsageError(f"{kind} `{name}`: `{k}` is {_article(t)} {t}, given {v!r}")
        env[k] = value
    missing = [k for k, v in env.items() if v is None]
    if missing:
        raise UsageError(f"{kind} `{name}` needs a value for {', '.join(missing)} (use --set {missing[0]}=...)")
    return env


def from_command_line(pairs: list, G) -> dict:
    """`--set key=value` pairs, typed as the cell or network graph `G` declares them: {name: value}.

    A UsageError for a pair without `=`; the spec's diagnostics (E0240 an unknown name, E0241 a value not
    of its type), pointing at the declarations, for the rest."""
    declared = G.header.hparams
    kind, name = G.kind, G.name
    values, errors = {}, []
    for pair in pairs:
        key, eq, text = pair.partition("=")
        if not eq or not key:
            raise UsageError(f"--set takes KEY=VALUE, given `{pair}`")
        if key not in declared:
            errors.append(ResolveError(
                f"{kind} `{name}` has no hyperparameter `{key}` (from --set {pair})", G.header.span,
                label="its hyperparameters are declared here",
                notes=did_you_mean(key, declared) + [f"its hyperparameters are {', '.join(declared) or 'none'}"],
                code="E0240"))
            continue
        h = declared[key]
        value = parse(text, h.type)
        if value is None:
            errors.append(ResolveError(f"--set {pair}: `{key}` is {_article(h.type)} {h.type}",
                                       h.span, label=f"declared {h.type} here", code="E0241"))
            continue
        values[key] = value
    if errors:
        raise SpecErrors(errors)
    return values


_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)


def parse(text: str, type_name: str):
    """`text` as a value of the hyperparameter type, or None. Numbers are written as in a spec:
    ASCII digits, no `_` (Python's int() would take `١٢` and `1_0`)."""
    if type_name in ("int", "float") and not _NUMBER.fullmatch(text):
        return None
    try:
        if type_name == "int":
            return int(text)
        if type_name == "float":
            value = float(text)
            return value if math.isfinite(value) else None
    except (ValueError, OverflowError):
        return None
    if type_name == "bool":
        return {"true": True, "false": False}.get(text)
    return text


def cell_env(G, given: dict, input_size: Optional[int] = None) -> dict:
    """The values of cell G's hyperparameters (its defaults, then `given`) and of its free input dimension
    (`in`), solved from the total size of its inputs side by side, `input_size`: which may be left out where
    the hyperparameters fix it. A UsageError where no value fits, or none is given where one is needed."""
    env = bind(G, given)
    name = G.name
    inputs = G.signature.inputs.values()
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
