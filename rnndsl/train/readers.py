"""readers: arrays and time series from files beside the spec (`data = npz("adding.npz")`).

NumPy archives (`npz`) and arrays (`npy`), converted to what a model reads (float32 features,
int32 ids), and numeric time series in delimited text (`csv`, `tsv`) cut into windows for
next-step prediction. Source functions as in rnndsl.train.generators, named by `READERS`.
Data that cannot be used raises `DataError` with one line naming the file (and line) and what
is wrong; it quotes at most one short cell of a file. NumPy only.
"""

from __future__ import annotations

import csv as csvlib
import io
import math
from pathlib import Path
from typing import Optional

import numpy as np

from ..lang.errors import DataError
from ..lang.wording import count, cut, one_line, split_names
from .checks import check_numbers, check_weight, numbers_only
from .containers import Data, Split
from .files import data_file, open_arrays, read_text

__all__ = ["READERS"]


def _convert_input(array: np.ndarray, where: str) -> np.ndarray:
    """An input array as the model reads it: integer `(n, T)` token ids to int32, every other
    number array, `(n, T, f)` or `(n, f)`, to float32."""
    kind = array.dtype.kind
    numbers_only(array, where)
    if array.ndim not in (2, 3):
        raise DataError(f"{where} has shape {array.shape}: an input is (n, T, features), (n, features) "
                        f"or (n, T) token ids")
    empty = [axis for axis in range(1, array.ndim) if array.shape[axis] == 0]
    if empty:
        steps = empty[0] == 1 and (array.ndim == 3 or kind in "iu")
        raise DataError(f"{where} has shape {array.shape}: 0 {'steps' if steps else 'features'}; "
                        f"{'a sequence needs at least one step' if steps else 'an input needs at least one feature'}")
    if kind in "iu" and array.ndim == 2:
        return _ids(array, where, "token ids", lowest=0)
    return _floats(array, where)


def _convert_targets(array: np.ndarray, where: str) -> np.ndarray:
    """Targets: integers to int32 class or token ids, other numbers to float32."""
    numbers_only(array, where)
    if array.ndim == 0:
        raise DataError(f"{where} is a single number: targets are (n, ...)")
    return _ids(array, where, "class ids", lowest=-1) if array.dtype.kind in "iu" else _floats(array, where)


def _ids(array: np.ndarray, where: str, what: str, lowest: int) -> np.ndarray:
    """int32 ids; `lowest` is -1 where -1 pads (the labels of CTC), else 0."""
    if array.size and (array.min() < lowest or array.max() > np.iinfo(np.int32).max):
        bad = array.min() if array.min() < lowest else array.max()
        raise DataError(f"{where} holds {what} (integers), but {bad} is not an id")
    return array.astype("int32")


def _floats(array: np.ndarray, where: str) -> np.ndarray:
    with np.errstate(over="ignore"):  # a float64 beyond float32's range becomes inf, reported next
        out = array.astype("float32")
    check_numbers(out, where)
    return out


def _split_of(inputs: list, targets: tuple, weight: Optional[tuple], where: str) -> Split:
    """A checked Split from (label, array) pairs: `inputs` a list, `targets` and `weight` one
    each; labels name the arrays in messages, after `where`."""
    xs = [_convert_input(a, f"{where}: {label}") for label, a in inputs]
    y = _convert_targets(targets[1], f"{where}: {targets[0]}")
    for (label, _), x in zip(inputs, xs):
        if len(x) != len(y):
            raise DataError(f"{where}: {label} has {len(x)} examples, but {targets[0]} has {len(y)}")
    if len(y) == 0:
        raise DataError(f"{where}: no examples ({targets[0]} is empty)")
    if weight is None:
        return Split(tuple(xs), y)
    label, w = weight[0], weight[1]
    numbers_only(w, f"{where}: {label}")
    w = _floats(w, f"{where}: {label}")
    check_weight(w, Split(tuple(xs), y), f"{where}: {label}")
    return Split(tuple(xs), y, w)


def npz_file(base: Path, seed: int, *, path: str, inputs: str, targets: str, weights: Optional[str],
             test: Optional[str]) -> Data:
    """Arrays from a NumPy .npz archive (`np.savez`): the inputs, the targets and (optionally)
    the sample weights, named by their keys; `test` another archive with the same keys.

    inputs: float arrays `(n, T, f)` or `(n, f)` become float32, integer `(n, T)` arrays int32
    token ids; targets: integers become int32 ids, other numbers float32."""
    def read(file: Path) -> Split:
        with open_arrays(file, "npz") as archive:
            def get(name):
                if name not in archive.files:
                    raise DataError(f"{file}: no array `{name}` (it has {archive.names()})")
                return f"array `{name}`", archive[name]
            return _split_of([get(n) for n in split_names(inputs)], get(targets),
                             get(weights) if weights else None, str(file))

    train_split = read(data_file(base, path))
    test_split = read(data_file(base, test)) if test else None
    return Data(train_split, None, test_split,
                description=f"{path}: {count(train_split.size, 'example')} ({inputs} -> {targets})"
                            + (f", test {test}: {test_split.size}" if test_split else ""))


def npy_files(base: Path, seed: int, *, inputs: str, targets: str, weights: Optional[str],
              test_inputs: Optional[str], test_targets: Optional[str], test_weights: Optional[str]) -> Data:
    """Arrays from NumPy .npy files (`np.save`), one file per array, paths relative to the spec;
    converted as `npz` converts them."""
    def array(path: str) -> tuple:
        file = data_file(base, path)
        return str(file), open_arrays(file, "npy")

    def read(xs: str, y: str, w: Optional[str]) -> Split:
        return _split_of([array(p) for p in split_names(xs)], array(y), array(w) if w else None, "npy")

    train_split = read(inputs, targets, weights)
    test_split = read(test_inputs, test_targets, test_weights) if test_inputs else None
    return Data(train_split, None, test_split,
                description=f"{inputs} -> {targets}: {count(train_split.size, 'example')}"
                            + (f", test: {test_split.size}" if test_split else ""))


def _read_series(file: Path, delimiter: str) -> tuple:
    """(values float32 `(rows, columns)`, column names or None): the numbers of a delimited
    file, one row per step; a first row that is not all numbers is the header."""
    reader = csvlib.reader(io.StringIO(read_text(file), newline=""), delimiter=delimiter)
    header, rows = None, []
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue  # blank lines between or after the rows
            if header is None and not rows and not all(_is_number(c) for c in row):
                header = [cut(c) for c in row]
                continue
            width = len(header) if header is not None else len(rows[0]) if rows else len(row)
            if len(row) != width:
                raise DataError(f"{file}:{reader.line_num}: {len(row)} columns, but the "
                                f"{'header' if header is not None else 'first row'} has {width}")
            values = []
            for j, cell in enumerate(row):
                name = f" (`{header[j]}`)" if header else ""
                where = f"{file}:{reader.line_num}: column {j + 1}{name}"
                if not cell.strip():
                    raise DataError(f"{where} is empty")
                try:
                    value = float(cell)
                except ValueError:
                    raise DataError(f"{where}: `{cut(cell)}` is not a number") from None
                if not math.isfinite(value):
                    raise DataError(f"{where}: {cut(cell)} is not a finite number")
                values.append(value)
            rows.append(values)
    except csvlib.Error as e:
        raise DataError(f"{file}:{reader.line_num}: {one_line(e)}") from None
    if not rows:
        raise DataError(f"{file}: no rows of numbers")
    values = np.asarray(rows, "float64")
    with np.errstate(over="ignore"):
        out = values.astype("float32")
    if not np.isfinite(out).all():
        row = int(np.argwhere(~np.isfinite(out))[0][0])
        raise DataError(f"{file}: row {row + 1} of the numbers has a value beyond float32's range")
    return out, header


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _windows(part: np.ndarray, window: int, stride: int, predict: str) -> tuple:
    """(inputs `(n, window, f)`, targets): every `stride` steps, a window and the steps one
    later, `(n, window, f)`, or the one step after it, `(n, f)`."""
    starts = range(0, len(part) - window, stride)
    x = np.stack([part[s:s + window] for s in starts])
    if predict == "last":
        return x, np.stack([part[s + window] for s in starts])
    return x, np.stack([part[s + 1:s + window + 1] for s in starts])


def _series(base: Path, path: str, window: int, stride: Optional[int], test: float, predict: str,
            delimiter: str) -> Data:
    file = data_file(base, path)
    values, header = _read_series(file, delimiter)
    held = int(round(len(values) * test))
    parts = {"train": values[:len(values) - held]}
    if held:
        parts["test"] = values[len(values) - held:]
    made = {}
    for name, part in parts.items():
        if len(part) < window + 1:
            which = {"train": f"the training rows (the first {len(part)})",
                     "test": f"the test rows (the last {len(part)}, test={test:g})"}[name]
            raise DataError(f"{file}: {which} are too few for a window of {window} steps and the step after it")
        x, y = _windows(part, window, stride or window, predict)
        made[name] = Split((x,), y)
    columns = f" ({', '.join(header)})" if header else ""
    return Data(made["train"], None, made.get("test"),
                description=f"{path}: {len(values)} steps of {values.shape[1]} feature"
                            f"{'s' * (values.shape[1] != 1)}{columns}, windows of {window}: "
                            f"{made['train'].size} train" + (f", {made['test'].size} test" if held else ""))


def csv_file(base: Path, seed: int, *, path: str, window: int, stride: Optional[int], test: float, predict: str,
             delimiter: str) -> Data:
    """A numeric time series from a delimited text file, one row per step and one column per
    feature (a header row of names allowed), as next-step prediction in windows: the test split
    is the last `test` fraction of the rows, and each part is cut into windows of `window` steps,
    one every `stride` steps.

    inputs: float32 `(n, window, f)`; targets: the next steps, float32 `(n, window, f)`
    (`predict="sequence"`), or the one step after each window, `(n, f)` (`predict="last"`)."""
    return _series(base, path, window, stride, test, predict, delimiter)


def tsv_file(base: Path, seed: int, *, path: str, window: int, stride: Optional[int], test: float, predict: str,
             delimiter: str) -> Data:
    """As `csv`, with columns separated by tabs."""
    return _series(base, path, window, stride, test, predict, delimiter)



READERS = {"npz": npz_file, "npy": npy_files, "csv": csv_file, "tsv": tsv_file}
