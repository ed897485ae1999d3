"""checks: whether arrays are usable data, whether they fit a model, and a validation split held out.

`check_split` checks a split as a source gives it (examples, numbers, no NaN, sample weights of
a fitting shape); `check_fits` compares a split's arrays with a built model's inputs and
output, given as shapes (no TensorFlow here); `hold_out` takes a validation split from a
training split. Each problem is a `DataError` of one line. NumPy only.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from ..lang.errors import DataError
from ..lang.wording import cut
from .containers import Split

__all__ = ["check_split", "check_numbers", "check_weight", "numbers_only", "check_fits", "hold_out"]


def check_split(split: Split, where: str) -> None:
    """A `DataError` unless the split is usable: examples, the same count in every array,
    numbers only, no NaN or infinity, sample weights of a fitting shape and not negative."""
    if not isinstance(split.targets, np.ndarray) or not split.inputs:
        raise DataError(f"{where} has no inputs or no targets")
    n = split.size
    if n == 0:
        raise DataError(f"{where} is empty: no examples")
    for i, array in enumerate(split.inputs):
        if len(array) != n:
            raise DataError(f"{where}: input {i + 1} has {len(array)} examples, the targets {n}")
        check_numbers(array, f"{where}: input {i + 1}")
    check_numbers(split.targets, f"{where}: the targets")
    if split.sample_weight is not None:
        check_weight(split.sample_weight, split, where)


def numbers_only(array: np.ndarray, where: str) -> None:
    """A `DataError` unless the array holds numbers (a structured dtype's field names cut short)."""
    if array.dtype.kind not in "fiub":
        raise DataError(f"{where} has dtype {cut(array.dtype, 24)}: expected numbers")


def check_numbers(array: np.ndarray, where: str) -> None:
    numbers_only(array, where)
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        first = tuple(int(k) for k in np.argwhere(~np.isfinite(array))[0])
        raise DataError(f"{where} has NaN or infinity, first at {list(first)}")


def check_weight(weight: np.ndarray, split: Split, where: str) -> None:
    """Sample weights are `(n,)`, or `(n, T)` for the steps of the targets or (a frame mask, as
    for CTC, whose targets are shorter) of an input. Steps are axis 1 of an array of rank 3, or
    of integer ids `(n, T)`."""
    n = split.size
    allowed = [(n,)] + [tuple(a.shape[:2]) for a in (split.targets, *split.inputs)
                        if a.ndim >= 3 or (a.ndim == 2 and a.dtype.kind in "iu")]
    if weight.shape not in allowed:
        shapes = " or ".join(map(str, dict.fromkeys(allowed)))
        raise DataError(f"{where}: sample weights of shape {weight.shape}, expected {shapes} (for the "
                        f"targets {split.targets.shape} or the steps of an input)")
    check_numbers(weight, f"{where}: the sample weights")
    if (weight < 0).any():
        raise DataError(f"{where}: sample weights below 0")


def check_fits(split: Split, input_shapes: list, target_shape=None, *, names: Sequence = (),
               what: str = "the data") -> None:
    """A `DataError` when the split does not fit a model. Shapes are Keras's, batch first
    (`model.inputs[i].shape`, `model.outputs[0].shape`), None for any size; the batch axis is
    not compared. Integer targets one rank below the output are class ids, which must be below
    the output's size (0 or 1 for one logistic output). `names` name the inputs in messages."""
    shapes = [tuple(s) for s in input_shapes]
    if len(split.inputs) != len(shapes):
        listed = f" ({', '.join(f'`{n}`' for n in names)})" if names else ""
        raise DataError(f"{what} has {len(split.inputs)} input array{'s' * (len(split.inputs) != 1)}, "
                        f"the model {len(shapes)} input{'s' * (len(shapes) != 1)}{listed}")
    for i, (array, shape) in enumerate(zip(split.inputs, shapes)):
        problem = _shape_problem(array.shape, shape)
        if problem:
            label = f"input `{names[i]}`" if i < len(names) else f"input {i + 1}"
            raise DataError(f"{what}: {label} has shape {array.shape}, the model's is {_keras(shape)}: {problem}")
    if target_shape is None:
        return
    wanted, targets = tuple(target_shape), split.targets
    if targets.dtype.kind in "iu" and targets.ndim == len(wanted) - 1:
        problem = _shape_problem(targets.shape, wanted[:-1])
        classes = wanted[-1]
        if not problem and classes is not None and targets.size:
            top = int(targets.max())
            if classes == 1 and top > 1:
                problem = f"class id {top}, but one logistic output takes 0 or 1"
            elif classes > 1 and top >= classes:
                problem = f"class id {top}, but the output has {classes} classes (ids 0 to {classes - 1})"
    else:
        problem = _shape_problem(targets.shape, wanted)
    if problem:
        raise DataError(f"{what}: the targets have shape {targets.shape}, the model's output "
                        f"{_keras(wanted)}: {problem}")


def _shape_problem(have: tuple, want: tuple) -> Optional[str]:
    """How an array's shape differs from a model's (batch axis left out), or None."""
    if len(have) != len(want):
        return f"rank {len(have)}, not {len(want)}"
    for axis in range(1, len(have)):
        if want[axis] is not None and have[axis] != want[axis]:
            if axis == len(have) - 1 and axis > 1:
                what = "features"
            elif axis == 1:
                what = "steps" if len(have) > 2 else "features"
            else:
                return f"axis {axis} is {have[axis]}, not {want[axis]}"
            return f"{have[axis]} {what}, not {want[axis]}"
    return None


def _keras(shape: tuple) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def hold_out(split: Split, fraction: float, seed: int) -> tuple:
    """(train, validation): a random `fraction` of the split's examples (at least one, and one
    left) held out for validation, the same ones for the same seed; both keep their order."""
    if not 0 < fraction < 1:
        raise DataError(f"a validation fraction is between 0 and 1, not {fraction}")
    n = split.size
    if n < 2:
        raise DataError(f"cannot hold out a validation split from {n} example{'s' * (n != 1)}")
    held = min(max(int(round(n * fraction)), 1), n - 1)
    order = np.random.default_rng(seed).permutation(n)
    return split.subset(np.sort(order[held:])), split.subset(np.sort(order[:held]))
