"""user_task: the user's own generator, a Python function beside the spec (`data = python("tasks:reversal")`).

The function `reversal(rng, n)` of tasks.py in the spec's folder draws n examples with the NumPy generator
`rng` and gives `(inputs, targets)` or `(inputs, targets, sample_weights)`: NumPy arrays (or what
`numpy.asarray` takes), inputs one array or a tuple of them, one per network input, each of n rows. It is
called once a split (training, test, validation, in that order, from one generator seeded by the run's
seed), and with `fresh = true` once more every epoch, from the epoch's seed.

This is the one place where rnndsl runs code that a spec names, and it does so only to draw data:
`rnndsl train` and `rnndsl evaluate` of a run import the module; `rnndsl check` checks the name's form
only, and building or loading a model never reads the train block's data. The module is imported once a
process (it is the user's code: what it does on import is the user's to decide). An error raised by the
function, or a result of the wrong form, is a DataError of one line, naming the function and, for an
error, the line of the user's file where it was raised.
"""

from __future__ import annotations

import importlib.util
import traceback
from pathlib import Path

import numpy as np

from ..lang.errors import DataError
from ..lang.wording import one_line
from .containers import Split
from .files import data_file
from .generators import draw_order, generated_data

__all__ = ["python_task", "USER_TASKS"]

_MODULES: dict = {}  # path -> the imported module, once a process


def python_task(base: Path, seed: int, *, function: str, train: int, test: int, validation: int):
    """Examples drawn by the user's function `module:function` beside the spec: `function(rng, n)` gives
    `(inputs, targets[, sample_weights])` for n examples (see the module's docstring)."""
    module, _, name = function.partition(":")
    path = data_file(base, module.replace(".", "/") + ".py")
    draw = _function(path, name, function)
    rng = np.random.default_rng(seed)
    made = {split: _split(_called(draw, path, rng, n, function), n, function, split)
            for split, n in draw_order(train, test, validation)}
    return generated_data(made, f"`{function}`", "examples")


def _function(path: Path, name: str, named: str):
    if not path.is_file():
        raise DataError(f"`{named}`: no file {path} (the module of a `python` source is a .py file beside the spec)")
    key = str(path.resolve())
    if key not in _MODULES:
        spec = importlib.util.spec_from_file_location(f"rnndsl_user_task_{len(_MODULES)}", path)
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except Exception as e:  # the user's module: whatever it raises is theirs, told in one line
            raise DataError(f"`{named}`: importing {path.name} raised {_raised(e, path)}") from None
        _MODULES[key] = module
    found = getattr(_MODULES[key], name, None)
    if not callable(found):
        raise DataError(f"`{named}`: {path.name} has no function `{name}`")
    return found


def _called(draw, path: Path, rng, n: int, named: str):
    try:
        return draw(rng, n)
    except Exception as e:
        raise DataError(f"`{named}`: `{named.partition(':')[2]}(rng, {n})` raised {_raised(e, path)}") from None


def _raised(e: Exception, path: Path) -> str:
    """`ValueError: what it says (tasks.py, line 12)`: the exception, and the last line of `path` it passed."""
    lines = [f.lineno for f in traceback.extract_tb(e.__traceback__) if Path(f.filename) == path]
    where = f" ({path.name}, line {lines[-1]})" if lines else ""
    text = one_line(e)
    text = text if len(text) <= 200 else text[:199] + "…"
    return f"{type(e).__name__}: {text}{where}" if text else f"{type(e).__name__}{where}"


def _split(result, n: int, named: str, split: str) -> Split:
    """The function's result as a Split: its form checked (rnndsl.train.checks checks the values)."""
    what = f"`{named}` for the {split} split"
    if not isinstance(result, (tuple, list)) or len(result) not in (2, 3):
        raise DataError(f"{what} gave {type(result).__name__}: it must give (inputs, targets) or "
                        "(inputs, targets, sample_weights)")
    inputs, targets = result[0], result[1]
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    arrays = [_array(a, f"{what}: input {i}", n) for i, a in enumerate(inputs)]
    weights = None if len(result) == 2 or result[2] is None else _array(result[2], f"{what}: the sample weights", n)
    return Split(tuple(arrays), _array(targets, f"{what}: the targets", n), weights)


def _array(value, what: str, n: int) -> np.ndarray:
    try:
        array = np.asarray(value)
    except Exception as e:  # an object NumPy cannot make an array of (ragged lists, say)
        raise DataError(f"{what} is no array: {type(e).__name__}: {one_line(e)[:200]}") from None
    if array.dtype.kind not in "biuf":
        raise DataError(f"{what} holds {array.dtype} values: numbers only")
    if array.ndim == 0 or array.shape[0] != n:
        raise DataError(f"{what} has shape {array.shape}: its first axis must be the {n} examples asked for")
    return array.astype("float32") if array.dtype.kind in "bf" and array.dtype != np.float32 else array


USER_TASKS = {"python": python_task}
