"""data: what a network trains on, named by the `data = ...` line of its spec's `train` block.

    data = adding(steps=100, train=100000, test=10000)   # a task from the literature, generated
    data = npz("adding.npz", inputs="x", targets="y")   # arrays from files beside the spec

A *source* is a generator or a file reader. `SOURCES` maps each name to its arguments
(`Param`s), so that `rnndsl check` checks a train block with `check_args`, without I/O;
`load` runs the source and gives a `Data`: a training split, and a validation and a test
split where the source has them. `hold_out` takes a validation split from the training
split; `check_fits` compares the arrays with a built model's inputs and output.

Shapes, batch first (n sequences, T steps, f features):

- `Split.inputs`: one array per network input, float32 `(n, T, f)` or `(n, f)`, or int32
  token ids `(n, T)` where 0 pads;
- `Split.targets`: float32 `(n, ...)`, or int32 class or token ids `(n,)` / `(n, T)`;
- `Split.sample_weight`: None, or float32 `(n,)` / `(n, T)`: 0 at padded steps, 1 elsewhere.

Variable-length sequences are padded at the end. Generators are deterministic given the
seed. Data that cannot be used raises `DataError` with one line naming the file (and line)
and what is wrong, before any training; it quotes at most one short cell of a file.

File paths are relative to the spec's folder and stay inside it (no absolute path, no `..`);
only regular files are read, text files up to MAX_TEXT_BYTES and array files up to
MAX_ARRAY_BYTES, and an array's size is checked against its file before it is allocated.

NumPy only: `rnndsl check` imports this module, and it must not import TensorFlow.
"""

from __future__ import annotations

import csv as csvlib
import datetime
import inspect
import io
import json
import math
import os
import stat
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from ..lang.errors import DataError, did_you_mean
from ..lang.training import INT_MAX, finite  # plain Python: no cycle, and nothing heavy

__all__ = [
    "Split", "Vocabulary", "Data", "Param", "Source", "REQUIRED", "SOURCES", "SPECIALS",
    "bind", "check_args", "load", "hold_out", "check_fits",
    "FileError", "WrongFormat", "open_arrays", "MAX_TEXT_BYTES", "MAX_ARRAY_BYTES",
    "adding_problem", "copy_problem", "reber_string", "embedded_reber", "encode_reber",
    "mackey_glass_series", "REBER", "SYMBOLS",
]


# ================================================================ the containers


@dataclass(frozen=True, eq=False)
class Split:
    """One set of examples. `inputs`: one array per network input, float32 `(n, T, f)` or
    `(n, f)`, or int32 token ids `(n, T)`; `targets`: `(n, ...)` float32, or int32 ids;
    `sample_weight`: None, or `(n,)` / `(n, T)`, 0 at padded steps and 1 elsewhere."""

    inputs: tuple
    targets: np.ndarray
    sample_weight: Optional[np.ndarray] = None

    def __post_init__(self):
        object.__setattr__(self, "inputs", tuple(self.inputs))  # a list is accepted

    @property
    def size(self) -> int:
        """The number of examples, n."""
        return int(len(self.targets))

    def subset(self, rows) -> "Split":
        """The examples at `rows` (indices into the first axis), in that order."""
        weight = None if self.sample_weight is None else self.sample_weight[rows]
        return Split(tuple(a[rows] for a in self.inputs), self.targets[rows], weight)


SPECIALS = ("<pad>", "<unk>", "<s>", "</s>")
PAD, UNK, START, END = range(4)


@dataclass(frozen=True)
class Vocabulary:
    """Tokens and their ids: `tokens[i]` is the token of id i. Ids 0-3 are `<pad>` (padding,
    which an Embedding with mask_zero skips), `<unk>` (a token not in the vocabulary), `<s>`
    and `</s>` (a sequence's start and end); the rest follow."""

    tokens: tuple
    _ids: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        tokens = tuple(self.tokens)
        if tokens[:len(SPECIALS)] != SPECIALS:
            raise ValueError(f"a vocabulary starts with {', '.join(SPECIALS)}")
        if not all(isinstance(t, str) for t in tokens):
            raise ValueError("a vocabulary's tokens are strings")
        ids = {t: i for i, t in enumerate(tokens)}
        if len(ids) != len(tokens):
            twice = next(t for t, k in Counter(tokens).items() if k > 1)
            raise ValueError(f"token `{_cut(twice)}` is in the vocabulary twice")
        object.__setattr__(self, "tokens", tokens)
        object.__setattr__(self, "_ids", ids)

    @classmethod
    def build(cls, sequences, *, min_count: int = 1) -> "Vocabulary":
        """The vocabulary of a corpus (an iterable of token sequences): the special tokens, then
        every token seen at least `min_count` times, the most frequent first (ties in string
        order, so that the same corpus gives the same ids)."""
        counts = Counter(t for sequence in sequences for t in sequence)
        kept = sorted((t for t, k in counts.items() if k >= min_count and t not in SPECIALS),
                      key=lambda t: (-counts[t], t))
        return cls(SPECIALS + tuple(kept))

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token) -> bool:
        return token in self._ids

    def encode(self, tokens) -> list:
        """Ids of `tokens`; a token not in the vocabulary is `<unk>` (1)."""
        return [self._ids.get(t, UNK) for t in tokens]

    def decode(self, ids, *, strip: bool = False) -> list:
        """Tokens of `ids`. With `strip`, `<pad>` and `<s>` are left out and `</s>` ends the sequence."""
        out = []
        for i in ids:
            i = int(i)
            if strip and i == END:
                break
            if not strip or i not in (PAD, START):
                out.append(self.tokens[i])
        return out

    def save(self, path) -> None:
        """Write the vocabulary as JSON, `{"tokens": [...]}` in id order."""
        text = json.dumps({"tokens": list(self.tokens)}, ensure_ascii=False, indent=0)
        Path(path).write_text(text + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path) -> "Vocabulary":
        """Read a vocabulary that `save` wrote; a `DataError` if it is missing or is not one."""
        path = Path(path)
        try:
            found = json.loads(_read_text(path))
        except json.JSONDecodeError as e:
            raise DataError(f"{path}:{e.lineno}: not JSON: {e.msg}") from None
        except RecursionError:
            raise DataError(f"{path}: not a vocabulary: JSON nested too deeply") from None
        tokens = found.get("tokens") if isinstance(found, dict) else None
        if not isinstance(tokens, list):
            raise DataError(f'{path}: not a vocabulary: expected {{"tokens": [...]}}')
        try:
            return cls(tuple(tokens))
        except ValueError as e:
            raise DataError(f"{path}: not a vocabulary: {e}") from None


@dataclass(frozen=True, eq=False)
class Data:
    """What a source gives: the splits, the vocabularies of token sequences (`pairs`, `dates`,
    `jsonl`), the names of class ids where the data named its classes (`classes[i]` is the
    name of id i), and a one-line description for the user."""

    train: Split
    validation: Optional[Split]
    test: Optional[Split]
    source_vocabulary: Optional[Vocabulary] = None
    target_vocabulary: Optional[Vocabulary] = None
    description: str = ""
    classes: tuple = ()


# ================================================================ sources and their arguments


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED = _Required()  # the default of an argument that must be given

_TYPES = {"int": "an int", "float": "a float", "str": "a string", "bool": "a bool"}


@dataclass(frozen=True)
class Param:
    """One argument of a source: its name, its type ("int", "float", "str" or "bool"), its
    default (REQUIRED if it has none; None: absent unless given), what it means, and the values
    it allows: at least `minimum`, less than `less_than`, one of `choices`. `file` is "path"
    for a string that names a file relative to the spec, "paths" for several, comma-separated."""

    name: str
    type: str
    default: object = REQUIRED
    doc: str = ""
    minimum: Optional[float] = None
    less_than: Optional[float] = None
    choices: tuple = ()
    file: str = ""


@dataclass(frozen=True)
class Source:
    """A data source: its name, its arguments in positional order, its documentation, the
    function that runs it, `fn(base, seed, **arguments) -> Data`, and `validate(arguments)`,
    messages about values that do not go together (all arguments given, of the right types)."""

    name: str
    params: tuple
    doc: str
    fn: Callable
    validate: Optional[Callable] = None

    def param(self, name: str) -> Optional[Param]:
        return next((p for p in self.params if p.name == name), None)


SOURCES: dict = {}


def _source(name: str, *params: Param, validate: Optional[Callable] = None):
    """Register the decorated function as the source `name`; its docstring is the source's doc."""
    def register(fn):
        SOURCES[name] = Source(name, params, inspect.cleandoc(fn.__doc__ or ""), fn, validate)
        return fn
    return register


def bind(source: str, positional: Sequence = (), keywords: Optional[dict] = None) -> tuple:
    """(arguments by name, messages): positional arguments named in the source's order, merged
    with `keywords`. Messages for an unknown source, too many positional arguments, or one
    given twice; the arguments themselves are checked by `check_args`."""
    keywords = dict(keywords or {})
    found = SOURCES.get(source)
    if found is None:
        return keywords, [_unknown_source(source)]
    messages, named = [], {}
    if len(positional) > len(found.params):
        most = len(found.params)
        messages.append(f"`{source}` takes at most {_count(most, 'positional argument')} "
                        f"({', '.join(p.name for p in found.params)}), not {len(positional)}")
    for p, value in zip(found.params, positional):
        if p.name in keywords:
            messages.append(f"`{source}` got the argument `{p.name}` twice, by position and by name")
        named[p.name] = value
    named.update(keywords)
    return named, messages


def check_args(source: str, args: dict) -> list:
    """Messages, one line each, for an unknown source, an unknown or missing argument, a value
    of the wrong type or out of range; [] when the arguments are fine. Values are Python
    int, float, str and bool (an int is a float too). No I/O."""
    found = SOURCES.get(source)
    if found is None:
        return [_unknown_source(source)]
    messages = []
    names = [p.name for p in found.params]
    for key in args:
        if key not in names:
            hint = did_you_mean(str(key), names)
            messages.append(f"`{source}` has no argument `{key}`"
                            + (f" ({hint[0]})" if hint else f"; its arguments: {', '.join(names)}"))
    for p in found.params:
        if p.name in args:
            problem = _value_problem(p, args[p.name])
            if problem:
                messages.append(f"argument `{p.name}` of `{source}` {problem}")
        elif p.default is REQUIRED:
            messages.append(f"`{source}` needs the argument `{p.name}` ({p.type})")
    if not messages and found.validate is not None:
        messages += [f"`{source}`: {m}" for m in found.validate(_complete(found, args))]
    return messages


def load(source: str, args: dict, *, base, seed: int) -> Data:
    """Run the source with `args` (file paths relative to `base`, the spec's folder; generators
    seeded by `seed`): its `Data`, every split checked. A `DataError` with one line for bad
    arguments or bad data."""
    messages = check_args(source, args)
    if messages:
        raise DataError("; ".join(messages))
    found = SOURCES[source]
    try:
        data = found.fn(Path(base), int(seed), **_complete(found, args))
    except MemoryError as e:  # numpy's message gives the array's size and shape
        raise DataError(f"`{source}`: not enough memory for the data: {_one_line(e)}") from None
    for name in ("train", "validation", "test"):
        split = getattr(data, name)
        if split is not None:
            _check_split(split, f"`{source}`: the {name} split")
    return data


def _complete(found: Source, args: dict) -> dict:
    """Every argument of the source: those given (an int where a float is wanted made a float),
    then the defaults."""
    out = {}
    for p in found.params:
        value = args.get(p.name, p.default)
        if p.type == "float" and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        out[p.name] = value
    return out


def _unknown_source(source: str) -> str:
    hint = did_you_mean(source, SOURCES)
    return (f"unknown data source `{source}`"
            + (f" ({hint[0]})" if hint else f"; the sources: {', '.join(sorted(SOURCES))}"))


def _value_problem(p: Param, value) -> Optional[str]:
    """Why `value` does not suit `p`, or None. None is fine where it is the default (absent)."""
    if value is None and p.default is None:
        return None
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    fits = {"int": isinstance(value, int) and not isinstance(value, bool), "float": is_number,
            "str": isinstance(value, str), "bool": isinstance(value, bool)}[p.type]
    if not fits:
        return f"must be {_TYPES[p.type]}, not {_show(value)}"
    if p.type == "float" and not finite(value):
        return f"must be a finite number, not {_show(value)}"
    if p.type == "int" and abs(value) > INT_MAX:
        return f"must be at most {INT_MAX}, not {_show(value)}"
    if p.minimum is not None and value < p.minimum:
        return f"must be at least {_show(p.minimum)}, not {_show(value)}"
    if p.less_than is not None and value >= p.less_than:
        return f"must be less than {_show(p.less_than)}, not {_show(value)}"
    if p.choices and value not in p.choices:
        return f"must be one of {', '.join(_show(c) for c in p.choices)}, not {_show(value)}"
    if p.file:
        paths = _names(value) if p.file == "paths" else [value]
        return next((problem for problem in map(_path_problem, paths) if problem), None)
    return None


def _show(value) -> str:
    """A value as a spec writes it (a number of many digits cut short)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return _cut(repr(value), 24)


_PATH_RULE = ("a data path is relative to the spec's folder and stays inside it: put the data in or under "
              "that folder (a symbolic link made there is followed)")


def _path_problem(path: str) -> Optional[str]:
    """Why `path` may not name a data file, or None: a data path is relative and has no `..`."""
    if "\0" in path:
        return f"names a path with a NUL character, {_show(path)}"
    if Path(path).is_absolute():
        return f"names an absolute path, {_show(path)}: {_PATH_RULE}"
    if ".." in Path(path).parts:
        return f"names a path that leaves the spec's folder (`..`), {_show(path)}: {_PATH_RULE}"
    return None


# ================================================================ checks


def _check_split(split: Split, where: str) -> None:
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
        _check_numbers(array, f"{where}: input {i + 1}")
    _check_numbers(split.targets, f"{where}: the targets")
    if split.sample_weight is not None:
        _check_weight(split.sample_weight, split, where)


def _numbers_only(array: np.ndarray, where: str) -> None:
    """A `DataError` unless the array holds numbers (a structured dtype's field names cut short)."""
    if array.dtype.kind not in "fiub":
        raise DataError(f"{where} has dtype {_cut(array.dtype, 24)}: expected numbers")


def _check_numbers(array: np.ndarray, where: str) -> None:
    _numbers_only(array, where)
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        first = tuple(int(k) for k in np.argwhere(~np.isfinite(array))[0])
        raise DataError(f"{where} has NaN or infinity, first at {list(first)}")


def _check_weight(weight: np.ndarray, split: Split, where: str) -> None:
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
    _check_numbers(weight, f"{where}: the sample weights")
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


# ================================================================ generators: tasks from the literature


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'s' * (n != 1)}"


def _drawn(train: int, test: int, validation: int) -> list:
    """[(split name, count)] in the order a generator draws them, those with examples: the
    training split first, then the test split, so that asking for a validation split changes
    neither."""
    return [(name, k) for name, k in (("train", train), ("test", test), ("validation", validation)) if k]


def _one_input(x: np.ndarray, y: np.ndarray, w: Optional[np.ndarray] = None) -> Split:
    return Split((x,), y, w)


def _data(made: dict, task: str, unit: str, **vocabularies) -> Data:
    """Data from {split name: Split}, described as `task: 100 train, 10 test sequences`."""
    counts = ", ".join(f"{made[name].size} {name}" for name in ("train", "validation", "test") if name in made)
    return Data(made["train"], made.get("validation"), made.get("test"), **vocabularies,
                description=f"{task}: {counts} {unit}")


# --- the adding problem


def adding_problem(n: int, rng: np.random.Generator, steps: int = 100) -> tuple:
    """(x: float32 `(n, steps, 2)` a value uniform in [0, 1] and a marker at each step, y: float32
    `(n, 1)` the sum of the two marked values). One marker is in each half of the sequence."""
    values = rng.uniform(0.0, 1.0, size=(n, steps)).astype("float32")
    markers = np.zeros((n, steps), "float32")
    rows = np.arange(n)
    markers[rows, rng.integers(0, steps // 2, size=n)] = 1.0
    markers[rows, rng.integers(steps // 2, steps, size=n)] = 1.0
    x = np.stack([values, markers], axis=-1)
    y = (values * markers).sum(axis=1, keepdims=True)
    return x, y


def _counts(train: int, test: int) -> tuple:
    """The count arguments of a generator with its own defaults."""
    return (Param("train", "int", train, "training sequences", minimum=1),
            Param("test", "int", test, "test sequences (0: no test split)", minimum=0),
            Param("validation", "int", 0, "validation sequences, drawn after the test ones (0: none)", minimum=0))


@_source("adding", Param("steps", "int", 100, "the sequence length T", minimum=2), *_counts(100_000, 10_000))
def adding(base: Path, seed: int, *, steps: int, train: int, test: int, validation: int) -> Data:
    """The adding problem (Hochreiter & Schmidhuber 1997, "Long short-term memory", experiment 4;
    at T = 100 as in Li et al. 2018, IndRNN). Each step has two inputs: a value uniform in
    [0, 1] and a marker, 1 at two steps (one in each half) and 0 elsewhere; the target is the
    sum of the two marked values. Predicting 1 always gives an MSE of 2/12 = 0.167.

    inputs: float32 `(n, steps, 2)`; targets: float32 `(n, 1)`. The training set is drawn first,
    then the test set, then the validation set, from one generator seeded by the seed."""
    rng = np.random.default_rng(seed)
    made = {name: _one_input(*adding_problem(k, rng, steps)) for name, k in _drawn(train, test, validation)}
    return _data(made, f"adding problem, T={steps}", "sequences")


# --- the copy task


def copy_problem(n: int, rng: np.random.Generator, length: int = 10, delay: int = 20, symbols: int = 8) -> tuple:
    """(x: float32 `(n, T, symbols + 2)` one-hot, y: int32 `(n, T)`, w: float32 `(n, T)`), with
    T = 2 * length + delay. The first `length` steps show random symbols (ids 0 to symbols - 1);
    then `delay` steps show the blank (channel `symbols`), the last of them the go marker instead
    (channel `symbols + 1`); then `length` blank steps during which the answer is due. y holds the
    symbols at the answer steps (0 elsewhere), and w is 1 at the answer steps alone."""
    steps = 2 * length + delay
    seq = rng.integers(0, symbols, size=(n, length))
    x = np.zeros((n, steps, symbols + 2), "float32")
    rows = np.arange(n)[:, None]
    x[rows, np.arange(length)[None, :], seq] = 1.0
    x[:, length:, symbols] = 1.0
    go = length + delay - 1
    x[:, go, symbols], x[:, go, symbols + 1] = 0.0, 1.0
    y = np.zeros((n, steps), "int32")
    y[:, length + delay:] = seq
    w = np.zeros((n, steps), "float32")
    w[:, length + delay:] = 1.0
    return x, y, w


@_source("copy", Param("length", "int", 10, "symbols to remember", minimum=1),
         Param("delay", "int", 20, "steps between the last symbol and the answer; the last is the go marker",
               minimum=1),
         Param("symbols", "int", 8, "the alphabet's size", minimum=2), *_counts(10_000, 1_000))
def copy_task(base: Path, seed: int, *, length: int, delay: int, symbols: int, train: int, test: int,
              validation: int) -> Data:
    """The copy task: remember a sequence of random symbols and reproduce it after a delay
    (Hochreiter & Schmidhuber 1997, long time lags; Graves et al. 2014, "Neural Turing
    machines", copy; laid out as Arjovsky et al. 2016's copying memory problem).

    inputs: float32 one-hot `(n, T, symbols + 2)`, T = 2 * length + delay: the symbols, then
    blanks (channel `symbols`) and a go marker (channel `symbols + 1`) at the last delay step,
    then blanks while the network answers. targets: int32 symbol ids `(n, T)`; sample_weight
    `(n, T)`: 1 at the `length` answer steps, 0 elsewhere (the targets there are 0, unused).
    A network that remembers nothing scores log(symbols) per answer step."""
    rng = np.random.default_rng(seed)
    made = {name: _one_input(*copy_problem(k, rng, length, delay, symbols))
            for name, k in _drawn(train, test, validation)}
    return _data(made, f"copy task, {length} of {symbols} symbols after a delay of {delay} (T={2 * length + delay})",
                 "sequences")


# --- the Reber grammar

SYMBOLS = "BTPSXVE"
# state -> (symbol, next state) for each branch of Reber's grammar; state 1 follows B, 0 is the end.
REBER = {1: (("T", 2), ("P", 3)), 2: (("S", 2), ("X", 4)), 3: (("T", 3), ("V", 5)),
         4: (("X", 3), ("S", 6)), 5: (("P", 4), ("V", 6)), 6: (("E", 0),)}


def _reber_walk(rng: np.random.Generator, after_end: set) -> tuple:
    """(symbols, legal) of one walk from state 1 to the end, each branch with probability 1/2:
    the symbols after B, and for each the set of symbols that may follow it (`after_end`
    after the E)."""
    symbols, legal, state = [], [], 1
    while state:
        branches = REBER[state]
        symbol, state = branches[rng.integers(len(branches))]
        symbols.append(symbol)
        legal.append({s for s, _ in REBER[state]} if state else after_end)
    return symbols, legal


def reber_string(rng: np.random.Generator) -> tuple:
    """(symbols, legal): a Reber string (B, a walk through the grammar, E), and for each of its
    symbols but the last the set of symbols that may follow it."""
    inner, legal = _reber_walk(rng, set())
    return ["B"] + inner, [{"T", "P"}] + legal[:-1]


def embedded_reber(rng: np.random.Generator) -> tuple:
    """(symbols, legal): an embedded Reber string, B, then T or P, then a Reber string, then the
    same T or P again, then E; and for each of its symbols but the last the set of symbols that
    may follow it."""
    arm = "TP"[rng.integers(2)]
    inner, inner_legal = _reber_walk(rng, {arm})
    symbols = ["B", arm, "B"] + inner + [arm, "E"]
    legal = [{"T", "P"}, {"B"}, {"T", "P"}] + inner_legal + [{"E"}]
    return symbols, legal


def encode_reber(strings, length: int) -> tuple:
    """(x one-hot symbols, y legal next symbols (multi-hot), w 1 at real steps and 0 at padding):
    float32 `(n, length, 7)`, `(n, length, 7)`, `(n, length)`, symbols in the order of SYMBOLS.
    The input is each string less its last symbol, padded at the end."""
    n = len(strings)
    x = np.zeros((n, length, len(SYMBOLS)), "float32")
    y = np.zeros((n, length, len(SYMBOLS)), "float32")
    w = np.zeros((n, length), "float32")
    for i, (symbols, legal) in enumerate(strings):
        for t, (symbol, nexts) in enumerate(zip(symbols, legal)):
            x[i, t, SYMBOLS.index(symbol)] = 1.0
            y[i, t, [SYMBOLS.index(s) for s in nexts]] = 1.0
            w[i, t] = 1.0
    return x, y, w


@_source("reber", *_counts(4000, 256),
         Param("embedded", "bool", True, "the embedded grammar (true) or the plain one (false)"))
def reber(base: Path, seed: int, *, train: int, test: int, validation: int, embedded: bool) -> Data:
    """The (embedded) Reber grammar (Reber 1967; Cleeremans, Servan-Schreiber & McClelland 1989;
    embedded: Hochreiter & Schmidhuber 1997, experiment 1): after each symbol of a string,
    predict which symbols may come next. In the embedded grammar the symbol before last repeats
    the second, so the network must remember it across the whole inner string.

    inputs: float32 one-hot `(n, T, 7)` over B, T, P, S, X, V, E (each string less its last
    symbol); targets: float32 multi-hot `(n, T, 7)`, the legal next symbols; sample_weight
    `(n, T)`, 0 at padding. T is the longest string of all the splits, less one. A string is
    predicted correctly when, at every step, the outputs above 0.5 are exactly the targets."""
    rng = np.random.default_rng(seed)
    draw = embedded_reber if embedded else reber_string
    drawn = {name: [draw(rng) for _ in range(k)] for name, k in _drawn(train, test, validation)}
    length = max(len(s) for strings in drawn.values() for s, _ in strings) - 1
    made = {name: _one_input(*encode_reber(strings, length)) for name, strings in drawn.items()}
    return _data(made, f"{'embedded ' if embedded else ''}Reber grammar, strings up to {length + 1} symbols",
                 "strings")


# --- Mackey-Glass


def mackey_glass_series(steps: int, rng: np.random.Generator, tau: float = 17, dt: float = 0.1) -> np.ndarray:
    """float64 `(steps,)`: samples, one per time unit, of the Mackey-Glass series
    dx/dt = 0.2 x(t - tau) / (1 + x(t - tau)^10) - 0.1 x(t), integrated by RK4 at a step of dt
    after a transient of 1000 time units from a random constant history in [1.1, 1.3], and
    squashed by tanh(x - 1) as Jaeger & Haas (2004) did."""
    per_unit, lag = round(1 / dt), round(tau / dt)
    transient = 1000 * per_unit
    x = np.empty(lag + transient + steps * per_unit + 1)
    x[:lag + 1] = rng.uniform(1.1, 1.3)

    def f(now, delayed):
        return 0.2 * delayed / (1 + delayed ** 10) - 0.1 * now

    for n in range(lag, len(x) - 1):
        # the delayed value at the half step: the mean of its neighbours on the grid
        d0, d1 = x[n - lag], x[n - lag + 1]
        dh = 0.5 * (d0 + d1)
        k1 = f(x[n], d0)
        k2 = f(x[n] + 0.5 * dt * k1, dh)
        k3 = f(x[n] + 0.5 * dt * k2, dh)
        k4 = f(x[n] + dt * k3, d1)
        x[n + 1] = x[n] + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return np.tanh(x[lag + transient::per_unit][:steps] - 1)


def _mackey_glass_args(args: dict) -> list:
    messages = []
    if args["test"] >= args["steps"]:
        messages.append(f"`test` ({args['test']}) leaves no training steps of the {args['steps']}")
    elif args["washout"] >= args["steps"] - args["test"]:
        messages.append(f"`washout` ({args['washout']}) leaves no weighted training steps of the "
                        f"{args['steps'] - args['test']}")
    return messages


@_source("mackey_glass", Param("steps", "int", 4100, "the series' length: training then test steps", minimum=2),
         Param("test", "int", 1100, "the last steps, held out for the test (0: no test split)", minimum=0),
         Param("tau", "float", 17.0, "the delay; 17 is mildly chaotic", minimum=1),
         Param("washout", "int", 200, "the first training steps, weighted 0 while the state settles", minimum=0),
         validate=_mackey_glass_args)
def mackey_glass(base: Path, seed: int, *, steps: int, test: int, tau: float, washout: int) -> Data:
    """One-step prediction of the Mackey-Glass series (Mackey & Glass 1977; as an echo state
    network's task, Jaeger & Haas 2004), squashed by tanh(x - 1): read x[t], predict x[t + 1].

    One sequence, split in time: the training split is the first `steps - test` steps, inputs
    float32 `(1, T, 1)` and targets `(1, T, 1)` (the next values), sample_weight `(1, T)` 0 for
    the first `washout` steps. The test split is the whole series, `(1, steps, 1)`, with
    sample_weight 1 at the last `test` steps alone: the network runs through the training steps
    to reach the state that it predicts the test steps from."""
    series = mackey_glass_series(steps + 1, np.random.default_rng(seed), tau).astype("float32")
    x, y = series[None, :-1, None], series[None, 1:, None]
    trained = steps - test
    weight = np.ones((1, trained), "float32")
    weight[:, :washout] = 0.0
    train_split = Split((x[:, :trained],), y[:, :trained], weight)
    test_split = None
    if test:
        weight = np.zeros((1, steps), "float32")
        weight[:, trained:] = 1.0
        test_split = Split((x,), y, weight)
    return Data(train_split, None, test_split,
                description=f"Mackey-Glass series, tau={tau:g}: {trained} train, {test} test steps")


# --- a synthetic speech task for CTC


def _speech_args(args: dict) -> list:
    return [f"`min_{what}` ({args['min_' + what]}) is above `max_{what}` ({args['max_' + what]})"
            for what in ("labels", "frames") if args["min_" + what] > args["max_" + what]]


@_source("speech", *_counts(2000, 200),
         Param("phonemes", "int", 8, "the label inventory's size", minimum=2),
         Param("features", "int", 12, "features per frame", minimum=1),
         Param("min_labels", "int", 2, "fewest phonemes in an utterance", minimum=1),
         Param("max_labels", "int", 6, "most phonemes in an utterance", minimum=1),
         Param("min_frames", "int", 3, "fewest frames of one phoneme", minimum=1),
         Param("max_frames", "int", 8, "most frames of one phoneme", minimum=1),
         Param("noise", "float", 0.5, "the standard deviation of the noise added to each feature", minimum=0),
         validate=_speech_args)
def speech(base: Path, seed: int, *, train: int, test: int, validation: int, phonemes: int, features: int,
           min_labels: int, max_labels: int, min_frames: int, max_frames: int, noise: float) -> Data:
    """A synthetic speech-like task for connectionist temporal classification (Graves et al.
    2006, "Connectionist temporal classification"): label unsegmented sequences of frames.

    Each phoneme has a fixed random prototype, a standard normal vector of `features`. An
    utterance is a random sequence of `min_labels` to `max_labels` phonemes, no phoneme twice in
    a row (so that every segment boundary shows in the frames); each phoneme lasts `min_frames`
    to `max_frames` frames, each frame its prototype plus Gaussian noise.

    inputs: float32 `(n, T, features)`, padded at the end with zeros to the longest utterance of
    all the splits; sample_weight: float32 `(n, T)`, the frame mask (1 at real frames; an
    utterance's input length is its sum). targets: int32 `(n, max_labels)` phoneme ids 0 to
    phonemes - 1, padded with -1 (a label length is the count of ids >= 0). Keras's own CTC
    loss takes 0 as the blank: add 1 to the ids (and pad with 0) for it."""
    rng = np.random.default_rng(seed)
    prototypes = rng.normal(size=(phonemes, features))

    def utterance():
        count = int(rng.integers(min_labels, max_labels + 1))
        # each next label is a different phoneme: a step of 1 to phonemes - 1 around the inventory
        labels = np.cumsum(np.concatenate([[rng.integers(phonemes)], rng.integers(1, phonemes, size=count - 1)]))
        labels %= phonemes
        durations = rng.integers(min_frames, max_frames + 1, size=count)
        frames = np.repeat(prototypes[labels], durations, axis=0)
        return labels, frames + noise * rng.normal(size=frames.shape)

    drawn = {name: [utterance() for _ in range(k)] for name, k in _drawn(train, test, validation)}
    steps = max(len(frames) for utterances in drawn.values() for _, frames in utterances)
    made = {}
    for name, utterances in drawn.items():
        n = len(utterances)
        x = np.zeros((n, steps, features), "float32")
        w = np.zeros((n, steps), "float32")
        y = np.full((n, max_labels), -1, "int32")
        for i, (labels, frames) in enumerate(utterances):
            x[i, :len(frames)] = frames
            w[i, :len(frames)] = 1.0
            y[i, :len(labels)] = labels
        made[name] = Split((x,), y, w)
    return _data(made, f"synthetic speech (CTC), {phonemes} phonemes in {features} features, up to {steps} frames",
                 "utterances")


# --- dates in words to ISO 8601

_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december")
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_UNITS = ("", "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth")
_TEENS = ("tenth", "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth", "seventeenth",
          "eighteenth", "nineteenth")
_FIRST_DAY, _LAST_DAY = datetime.date(1900, 1, 1), datetime.date(2099, 12, 31)


def _ordinal_word(day: int) -> str:
    """1 -> "first", 23 -> "twenty-third", 30 -> "thirtieth"."""
    if day < 10:
        return _UNITS[day]
    if day < 20:
        return _TEENS[day - 10]
    tens, unit = divmod(day, 10)
    tens_word = ("twenty", "thirty")[tens - 2]
    return f"{tens_word}-{_UNITS[unit]}" if unit else tens_word[:-1] + "ieth"


def _ordinal_suffix(day: int) -> str:
    """1 -> "1st", 12 -> "12th", 23 -> "23rd"."""
    suffix = "th" if 10 <= day % 100 < 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def _date_words(date: datetime.date, style: int) -> str:
    """A date written in one of six styles, lower case, tokens separated by spaces."""
    month, day, year = _MONTHS[date.month - 1], date.day, str(date.year)
    return (f"the {_ordinal_word(day)} of {month} {year}",
            f"{month} {_ordinal_word(day)} {year}",
            f"{day} {month} {year}",
            f"{month} {day} , {year}",
            f"the {_ordinal_suffix(day)} of {month[:3]} {year}",
            f"{_WEEKDAYS[date.weekday()]} , {month} {day} , {year}")[style]


_DATE_STYLES = 6


def _date_vocabularies() -> tuple:
    """(source, target): every word any style writes, and the characters of ISO dates."""
    words = {"the", "of", ","} | set(_MONTHS) | {m[:3] for m in _MONTHS} | set(_WEEKDAYS)
    words |= {w for d in range(1, 32) for w in (_ordinal_word(d), _ordinal_suffix(d), str(d))}
    words |= {str(y) for y in range(_FIRST_DAY.year, _LAST_DAY.year + 1)}
    return Vocabulary.build([sorted(words)]), Vocabulary.build([list("0123456789-")])


def _teacher_forced(targets: list, length: int) -> tuple:
    """(decoder inputs, targets, weights), int32 `(n, length)` twice and float32 `(n, length)`,
    from target id sequences that end with `</s>`: the decoder reads `<s>` and then the target
    shifted right by one; padding is 0 with weight 0."""
    n = len(targets)
    decoder = np.zeros((n, length), "int32")
    y = np.zeros((n, length), "int32")
    for i, ids in enumerate(targets):
        y[i, :len(ids)] = ids
        decoder[i, :len(ids)] = [START] + ids[:-1]
    return decoder, y, (y != PAD).astype("float32")


def _padded(sequences: list, length: int) -> np.ndarray:
    """int32 `(n, length)`: id sequences padded at the end with 0."""
    out = np.zeros((len(sequences), length), "int32")
    for i, ids in enumerate(sequences):
        out[i, :len(ids)] = ids
    return out


@_source("dates", *_counts(10_000, 1_000))
def dates(base: Path, seed: int, *, train: int, test: int, validation: int) -> Data:
    """A toy translation task: dates written in words ("the twenty-third of march 1994",
    "march 23 , 1994", "wednesday , march 23 , 1994", six styles) to ISO 8601 ("1994-03-23"),
    for an encoder-decoder (Sutskever, Vinyals & Le 2014; Bahdanau, Cho & Bengio 2015) trained
    with teacher forcing. Dates are uniform over 1900-2099; source tokens are words, target
    tokens characters.

    inputs: (source ids int32 `(n, S)` padded with 0, decoder input ids int32 `(n, 11)`: `<s>` and
    the target shifted right); targets: int32 `(n, 11)`, the 10 characters and `</s>`;
    sample_weight `(n, 11)`, 0 at padding (there is none: every ISO date has 10 characters).
    `source_vocabulary` and `target_vocabulary` hold the ids."""
    rng = np.random.default_rng(seed)
    source_vocabulary, target_vocabulary = _date_vocabularies()
    span = (_LAST_DAY - _FIRST_DAY).days
    drawn = {}
    for name, k in _drawn(train, test, validation):
        days, styles = rng.integers(0, span + 1, size=k), rng.integers(0, _DATE_STYLES, size=k)
        chosen = [_FIRST_DAY + datetime.timedelta(days=int(d)) for d in days]
        drawn[name] = ([source_vocabulary.encode(_date_words(d, int(s)).split()) for d, s in zip(chosen, styles)],
                       [target_vocabulary.encode(d.isoformat()) + [END] for d in chosen])
    source_length = max(len(ids) for sources, _ in drawn.values() for ids in sources)
    made = {}
    for name, (sources, targets) in drawn.items():
        decoder, y, w = _teacher_forced(targets, 11)
        made[name] = Split((_padded(sources, source_length), decoder), y, w)
    return _data(made, "dates in words to ISO 8601", "dates",
                 source_vocabulary=source_vocabulary, target_vocabulary=target_vocabulary)


# --- row-by-row digits


@_source("digits", Param("test", "float", 0.25, "the fraction held out for the test", minimum=0, less_than=1))
def digits(base: Path, seed: int, *, test: float) -> Data:
    """scikit-learn's 8 x 8 handwritten digits (the UCI optical recognition of handwritten digits
    test set, 1797 images), each image read as a sequence of its 8 rows of 8 pixels (as in the
    row-by-row MNIST of Le, Jaitly & Hinton 2015, at 8 x 8).

    inputs: float32 `(n, 8, 8)`, intensities in [0, 1]; targets: int32 class ids `(n,)`, 0-9. A
    random `test` fraction (by the seed) is held out for the test. Needs scikit-learn."""
    try:
        from sklearn import datasets
    except ImportError:
        raise DataError("`digits` needs scikit-learn, which is not installed (pip install scikit-learn)") from None
    found = datasets.load_digits()
    x = (found.images / 16.0).astype("float32")
    y = found.target.astype("int32")
    order = np.random.default_rng(seed).permutation(len(x))
    held = int(len(x) * test)
    test_rows, train_rows = order[:held], order[held:]
    made = {"train": _one_input(x[train_rows], y[train_rows])}
    if held:
        made["test"] = _one_input(x[test_rows], y[test_rows])
    return _data(made, "scikit-learn digits, 8 rows of 8 pixels", "images")


# ================================================================ files


MAX_TEXT_BYTES = 256 * 2 ** 20  # a text file: csv, tsv, pairs, jsonl, a vocabulary
MAX_ARRAY_BYTES = 2 * 2 ** 30  # an .npy or .npz file, and the arrays read from one .npz archive together


def _file(base: Path, path: str) -> Path:
    """A data file's path: relative to the spec's folder, and inside it (check_args checks it first)."""
    problem = _path_problem(path)
    if problem:
        raise DataError(f"the data path {problem}")
    return base / path


def _one_line(message) -> str:
    return " ".join(str(message).split())


def _cut(text, width: int = 20) -> str:
    """A cell of a file as a message quotes it: one line, printable, at most `width` characters."""
    text = "".join(c if c.isprintable() else "?" for c in _one_line(text))
    return text if len(text) <= width else text[:width - 1] + "…"


def _size(n: int) -> str:
    """A number of bytes for a message: 2 GiB, 1.5 MiB, 312 bytes."""
    for unit, scale in (("TiB", 2 ** 40), ("GiB", 2 ** 30), ("MiB", 2 ** 20), ("KiB", 2 ** 10)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return _count(n, "byte")


class FileError(DataError):
    """A data file that cannot be read: missing, a folder, not a regular file, too large, damaged.
    `file` and `reason` apart, for a caller that words the message its own way."""

    def __init__(self, file, reason: str):
        super().__init__(f"{file}: {reason}")
        self.file, self.reason = file, reason


class WrongFormat(FileError):
    """A readable file of another format than the one asked for (an .npy array for an .npz archive)."""


def _open_file(path: Path, limit: int):
    """The regular file at `path`, open for reading bytes, of at most `limit` bytes; else a FileError.
    A FIFO or a device is refused without waiting for a writer; a symbolic link is followed."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO's open does not wait
    except FileNotFoundError:
        raise FileError(path, "no such file") from None
    except IsADirectoryError:
        raise FileError(path, "a folder, not a file") from None
    except OSError as e:
        raise FileError(path, f"cannot read it: {_one_line(e.strerror or e)}") from None
    info = os.fstat(fd)
    if stat.S_ISDIR(info.st_mode):
        problem = "a folder, not a file"
    elif not stat.S_ISREG(info.st_mode):
        problem = "not a regular file (a pipe, a device or a socket): data is read from files only"
    elif info.st_size > limit:
        problem = _too_large(limit)
    else:
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    os.close(fd)
    raise FileError(path, problem)


def _too_large(limit: int) -> str:
    return f"larger than {_size(limit)}, the most a data file of its kind may hold"


def _read_text(path: Path) -> str:
    """A text file's contents (UTF-8; a byte-order mark dropped), or a `DataError`."""
    try:
        with _open_file(path, MAX_TEXT_BYTES) as f:
            raw = f.read(MAX_TEXT_BYTES + 1)  # a file that grows, or lies about its size, stops here
    except OSError as e:
        raise FileError(path, f"cannot read it: {_one_line(e.strerror or e)}") from None
    if len(raw) > MAX_TEXT_BYTES:
        raise FileError(path, _too_large(MAX_TEXT_BYTES))
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise DataError(f"{path}:{line}: not UTF-8 text") from None


# What reading a damaged .npy stream or .npz archive raises (zipfile: a bad CRC, an encrypted
# member, an unknown compression; zlib: a damaged deflate stream; numpy: a bad header).
_DAMAGED = (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError)


def _read_npy(stream, size: int, file, what: str = "") -> np.ndarray:
    """The array of an .npy stream of `size` bytes (a file, or a member of an .npz archive; `what`
    names the member). Its header is read first: an array larger than the bytes after it, or of
    Python objects, is refused before anything is allocated."""
    where = f"{what}: " if what else ""
    form = np.lib.format
    try:
        version = form.read_magic(stream)
        read_header = {(1, 0): form.read_array_header_1_0, (2, 0): form.read_array_header_2_0}.get(version)
        if read_header is None:
            raise FileError(file, f"{where}an .npy format version {version[0]}.{version[1]}, which rnndsl does "
                                  "not read")
        shape, _, dtype = read_header(stream)
        after_header = stream.tell()
    except _DAMAGED:  # numpy's messages quote the header: not repeated
        raise FileError(file, f"{where}not a NumPy array: its .npy header is damaged") from None
    if dtype.hasobject:
        raise FileError(file, f"{where}an array of Python objects: rnndsl reads arrays of numbers only")
    if any(d < 0 for d in shape):
        raise FileError(file, f"{where}not a NumPy array: its .npy header gives a negative size")
    needed = math.prod(shape) * dtype.itemsize
    if needed > size - after_header:
        raise FileError(file, f"{where}its header says shape {_cut(shape, 40)} of {_cut(dtype, 12)}, {_size(needed)}, "
                              f"but the file holds {_size(size - after_header)} after it: it is cut short or damaged")
    try:
        stream.seek(0)
        return form.read_array(stream, allow_pickle=False)
    except _DAMAGED:
        raise FileError(file, f"{where}its data is cut short or damaged") from None


class Archive:
    """An open .npz archive (`np.savez`): `files`, its arrays' names, and `archive[name]`, each array
    read as an .npy file is, checked before it is allocated; together at most MAX_ARRAY_BYTES."""

    def __init__(self, path: Path, stream):
        self.path, self._stream, self._left = path, stream, MAX_ARRAY_BYTES
        try:
            self._zip = zipfile.ZipFile(stream)
        except _DAMAGED:
            stream.close()
            raise FileError(path, "not a NumPy file: a damaged .npz archive") from None
        self._members = {(i.filename[:-4] if i.filename.endswith(".npy") else i.filename): i
                         for i in self._zip.infolist()}
        self.files = list(self._members)

    def __enter__(self) -> "Archive":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._zip.close()
        self._stream.close()

    def __getitem__(self, name: str) -> np.ndarray:
        member = self._members[name]
        what = f"array `{_cut(name)}`"
        if member.file_size > self._left:
            raise FileError(self.path, f"{what}: {_too_large(MAX_ARRAY_BYTES)}, all its arrays together")
        self._left -= member.file_size
        try:
            with self._zip.open(member) as stream:
                return _read_npy(stream, member.file_size, self.path, what)
        except _DAMAGED:  # opening the member: a damaged, encrypted or unknown compressed one
            raise FileError(self.path, f"{what}: its data is cut short or damaged") from None

    def names(self, most: int = 8) -> str:
        """Its arrays' names for a message: the first `most`, each cut short."""
        shown = ", ".join(_cut(n) for n in self.files[:most]) or "none"
        return shown + (f" and {len(self.files) - most} more" if len(self.files) > most else "")


def open_arrays(path, want: str):
    """The array of an .npy file (`want="npy"`) or the open `Archive` of an .npz file (`want="npz"`),
    for a path as given (no spec's folder); a FileError where it cannot be read, a WrongFormat
    where it is a NumPy file of the other kind, or none."""
    path = Path(path)
    stream = _open_file(path, MAX_ARRAY_BYTES)
    size = os.fstat(stream.fileno()).st_size
    try:
        magic = stream.read(len(np.lib.format.MAGIC_PREFIX))
        stream.seek(0)
    except OSError as e:
        stream.close()
        raise FileError(path, f"cannot read it: {_one_line(e.strerror or e)}") from None
    found = "npz" if magic[:2] == b"PK" else "npy" if magic == np.lib.format.MAGIC_PREFIX else None
    if found != want:
        stream.close()
        raise WrongFormat(path, {"npy": "a single array, not an .npz archive: read it with npy(...)",
                                 "npz": "an .npz archive, not an .npy array: read it with npz(...)",
                                 None: "not a NumPy file: neither an .npy array nor an .npz archive"}[found])
    if found == "npz":
        return Archive(path, stream)
    with stream:
        return _read_npy(stream, size, path)


def _convert_input(array: np.ndarray, where: str) -> np.ndarray:
    """An input array as the model reads it: integer `(n, T)` token ids to int32, every other
    number array, `(n, T, f)` or `(n, f)`, to float32."""
    kind = array.dtype.kind
    _numbers_only(array, where)
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
    _numbers_only(array, where)
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
    _check_numbers(out, where)
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
    _numbers_only(w, f"{where}: {label}")
    w = _floats(w, f"{where}: {label}")
    _check_weight(w, Split(tuple(xs), y), f"{where}: {label}")
    return Split(tuple(xs), y, w)


def _names(listed: str) -> list:
    return [s.strip() for s in listed.split(",")]


def _npz_args(args: dict) -> list:
    return [f"`{key}` names an empty array name" for key in ("inputs", "targets", "weights")
            if args[key] is not None and "" in _names(args[key])]


@_source("npz", Param("path", "str", REQUIRED, "the .npz file, relative to the spec", file="path"),
         Param("inputs", "str", "x", "the input arrays' names, comma-separated, one per network input"),
         Param("targets", "str", "y", "the targets' array name"),
         Param("weights", "str", None, "the sample weights' array name, (n,) or (n, T)"),
         Param("test", "str", None, "another .npz file with the same arrays, the test split", file="path"),
         validate=_npz_args)
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
            return _split_of([get(n) for n in _names(inputs)], get(targets),
                             get(weights) if weights else None, str(file))

    train_split = read(_file(base, path))
    test_split = read(_file(base, test)) if test else None
    return Data(train_split, None, test_split,
                description=f"{path}: {_count(train_split.size, 'example')} ({inputs} -> {targets})"
                            + (f", test {test}: {test_split.size}" if test_split else ""))


def _npy_args(args: dict) -> list:
    if (args["test_inputs"] is None) != (args["test_targets"] is None):
        return ["`test_inputs` and `test_targets` go together"]
    if args["test_weights"] is not None and args["test_inputs"] is None:
        return ["`test_weights` needs `test_inputs` and `test_targets`"]
    return []


@_source("npy", Param("inputs", "str", REQUIRED, ".npy files, comma-separated, one per network input", file="paths"),
         Param("targets", "str", REQUIRED, "the targets' .npy file", file="path"),
         Param("weights", "str", None, "the sample weights' .npy file", file="path"),
         Param("test_inputs", "str", None, "the test split's input files", file="paths"),
         Param("test_targets", "str", None, "the test split's targets file", file="path"),
         Param("test_weights", "str", None, "the test split's sample weights file", file="path"),
         validate=_npy_args)
def npy_files(base: Path, seed: int, *, inputs: str, targets: str, weights: Optional[str],
              test_inputs: Optional[str], test_targets: Optional[str], test_weights: Optional[str]) -> Data:
    """Arrays from NumPy .npy files (`np.save`), one file per array, paths relative to the spec;
    converted as `npz` converts them."""
    def array(path: str) -> tuple:
        file = _file(base, path)
        return str(file), open_arrays(file, "npy")

    def read(xs: str, y: str, w: Optional[str]) -> Split:
        return _split_of([array(p) for p in _names(xs)], array(y), array(w) if w else None, "npy")

    train_split = read(inputs, targets, weights)
    test_split = read(test_inputs, test_targets, test_weights) if test_inputs else None
    return Data(train_split, None, test_split,
                description=f"{inputs} -> {targets}: {_count(train_split.size, 'example')}"
                            + (f", test: {test_split.size}" if test_split else ""))


# --- time series in CSV or TSV


def _csv_args(args: dict) -> list:
    return [] if len(args["delimiter"]) == 1 else [f"`delimiter` must be one character, not {_show(args['delimiter'])}"]


_SERIES_PARAMS = (Param("path", "str", REQUIRED, "the file, relative to the spec", file="path"),
                  Param("window", "int", 50, "steps per example", minimum=1),
                  Param("stride", "int", None, "steps from one window's start to the next (default: the window)",
                        minimum=1),
                  Param("test", "float", 0.2, "the fraction of the rows, at the end, held out for the test",
                        minimum=0, less_than=1),
                  Param("predict", "str", "sequence", "the next step at every step, or only after the window",
                        choices=("sequence", "last")))


def _read_series(file: Path, delimiter: str) -> tuple:
    """(values float32 `(rows, columns)`, column names or None): the numbers of a delimited
    file, one row per step; a first row that is not all numbers is the header."""
    reader = csvlib.reader(io.StringIO(_read_text(file), newline=""), delimiter=delimiter)
    header, rows = None, []
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue  # blank lines between or after the rows
            if header is None and not rows and not all(_is_number(c) for c in row):
                header = [_cut(c) for c in row]
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
                    raise DataError(f"{where}: `{_cut(cell)}` is not a number") from None
                if not math.isfinite(value):
                    raise DataError(f"{where}: {_cut(cell)} is not a finite number")
                values.append(value)
            rows.append(values)
    except csvlib.Error as e:
        raise DataError(f"{file}:{reader.line_num}: {_one_line(e)}") from None
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
    file = _file(base, path)
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


@_source("csv", *_SERIES_PARAMS, Param("delimiter", "str", ",", "the column separator"), validate=_csv_args)
def csv_file(base: Path, seed: int, *, path: str, window: int, stride: Optional[int], test: float, predict: str,
             delimiter: str) -> Data:
    """A numeric time series from a delimited text file, one row per step and one column per
    feature (a header row of names allowed), as next-step prediction in windows: the test split
    is the last `test` fraction of the rows, and each part is cut into windows of `window` steps,
    one every `stride` steps.

    inputs: float32 `(n, window, f)`; targets: the next steps, float32 `(n, window, f)`
    (`predict="sequence"`), or the one step after each window, `(n, f)` (`predict="last"`)."""
    return _series(base, path, window, stride, test, predict, delimiter)


@_source("tsv", *_SERIES_PARAMS, Param("delimiter", "str", "\t", "the column separator"), validate=_csv_args)
def tsv_file(base: Path, seed: int, *, path: str, window: int, stride: Optional[int], test: float, predict: str,
             delimiter: str) -> Data:
    """As `csv`, with columns separated by tabs."""
    return _series(base, path, window, stride, test, predict, delimiter)


# --- token sequences


def _lines(file: Path):
    """(line number, line) of a text file's lines that are not blank."""
    for number, line in enumerate(_read_text(file).splitlines(), 1):
        if line.strip():
            yield number, line


def _read_pairs(file: Path) -> list:
    """[(line number, source tokens, target tokens)] of a `source<TAB>target` file."""
    pairs = []
    for number, line in _lines(file):
        parts = line.split("\t")
        if len(parts) != 2:
            raise DataError(f"{file}:{number}: expected `source<TAB>target`, found "
                            f"{'no tab' if len(parts) == 1 else f'{len(parts) - 1} tabs'}")
        source, target = parts[0].split(), parts[1].split()
        for side, tokens in (("source", source), ("target", target)):
            if not tokens:
                raise DataError(f"{file}:{number}: the {side} is empty")
        pairs.append((number, source, target))
    if not pairs:
        raise DataError(f"{file}: no sentence pairs")
    return pairs


def _saved_vocabulary(base: Path, path: Optional[str]) -> Optional[tuple]:
    """(the vocabulary, its file) when a saved one is named."""
    if path is None:
        return None
    file = _file(base, path)
    return Vocabulary.load(file), file


def _known(tokens, saved: Optional[tuple], where: str, what: str) -> None:
    """A `DataError` for the first token not in a saved vocabulary."""
    if saved is None:
        return
    vocabulary, file = saved
    for t in tokens:
        if t not in vocabulary:
            raise DataError(f"{where}: {what} `{_cut(t)}` is not in the vocabulary {file}")


@_source("pairs", Param("path", "str", REQUIRED, "the training pairs, `source<TAB>target` per line", file="path"),
         Param("test", "str", None, "the test pairs, the same format", file="path"),
         Param("source_vocabulary", "str", None, "a saved source vocabulary (JSON); else one built from the pairs",
               file="path"),
         Param("target_vocabulary", "str", None, "a saved target vocabulary (JSON); else one built from the pairs",
               file="path"))
def pairs_file(base: Path, seed: int, *, path: str, test: Optional[str], source_vocabulary: Optional[str],
               target_vocabulary: Optional[str]) -> Data:
    """Sequence pairs for an encoder-decoder with teacher forcing (translation, summarising):
    one `source<TAB>target` pair per line, tokens separated by spaces. The vocabularies are
    built from the training pairs, unless saved ones are named (then every token must be in
    them); a test token that the built vocabulary lacks is `<unk>`. The caller saves the
    vocabularies beside the model (`Vocabulary.save`).

    inputs: (source ids int32 `(n, S)`, decoder input ids int32 `(n, T)`: `<s>` and the target
    shifted right), padded with 0; targets: int32 `(n, T)`, the target tokens and `</s>`;
    sample_weight `(n, T)`, 0 at padding. S and T are the longest of training and test."""
    read = {"train": (_file(base, path), _read_pairs(_file(base, path)))}
    if test:
        read["test"] = (_file(base, test), _read_pairs(_file(base, test)))
    saved_source = _saved_vocabulary(base, source_vocabulary)
    saved_target = _saved_vocabulary(base, target_vocabulary)
    for file, pairs in read.values():
        for number, source, target in pairs:
            _known(source, saved_source, f"{file}:{number}", "source token")
            _known(target, saved_target, f"{file}:{number}", "target token")
    training = read["train"][1]
    sources = saved_source[0] if saved_source else Vocabulary.build(s for _, s, _ in training)
    targets = saved_target[0] if saved_target else Vocabulary.build(t for _, _, t in training)
    encoded = {name: ([sources.encode(s) for _, s, _ in pairs], [targets.encode(t) + [END] for _, _, t in pairs])
               for name, (_, pairs) in read.items()}
    source_length = max(len(ids) for s, _ in encoded.values() for ids in s)
    target_length = max(len(ids) for _, t in encoded.values() for ids in t)
    made = {}
    for name, (s, t) in encoded.items():
        decoder, y, w = _teacher_forced(t, target_length)
        made[name] = Split((_padded(s, source_length), decoder), y, w)
    return Data(made["train"], None, made.get("test"), sources, targets,
                description=f"{path}: {_count(len(training), 'pair')}"
                            + (f", test {test}: {made['test'].size}" if test else "")
                            + f"; vocabularies of {len(sources)} source and {len(targets)} target tokens")


def _read_jsonl(file: Path, field_name: str, label_name: str) -> list:
    """[(line number, tokens, label)] of a JSON-lines file; a label is an int (a bool as 0 or 1)
    or a string, or a list of them, one per token."""
    examples, kind_of_first = [], None
    for number, line in _lines(file):
        where = f"{file}:{number}"
        try:
            example = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(f"{where}: not JSON: {e.msg} (column {e.colno})") from None
        except RecursionError:
            raise DataError(f"{where}: not JSON that rnndsl reads: nested too deeply") from None
        if not isinstance(example, dict):
            raise DataError(f"{where}: expected a JSON object, found {type(example).__name__}")
        for key in (field_name, label_name):
            if key not in example:
                raise DataError(f"{where}: no field `{key}`")
        tokens = example[field_name]
        if isinstance(tokens, str):
            tokens = tokens.split()
        if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
            raise DataError(f"{where}: `{field_name}` must be a list of strings (or one string of tokens)")
        if not tokens:
            raise DataError(f"{where}: `{field_name}` has no tokens")
        label = example[label_name]
        per_token = isinstance(label, list)
        for value in (label if per_token else [label]):
            if not isinstance(value, (int, str)) or (isinstance(value, int) and not 0 <= value <= INT_MAX):
                raise DataError(f"{where}: `{label_name}` must be a class, a string or an integer from 0 to "
                                f"{INT_MAX}, or a list of classes, one per token; not {_cut(json.dumps(value))}")
        if per_token and len(label) != len(tokens):
            raise DataError(f"{where}: {len(label)} labels for {len(tokens)} tokens")
        values = label if per_token else [label]
        kind = ("per token " if per_token else "") + ("strings" if any(isinstance(v, str) for v in values)
                                                       else "integers")
        if values and any(isinstance(v, str) for v in values) and not all(isinstance(v, str) for v in values):
            raise DataError(f"{where}: `{label_name}` mixes strings and integers")
        if kind_of_first is None:
            kind_of_first = (kind, number)
        elif kind != kind_of_first[0]:
            raise DataError(f"{where}: `{label_name}` is {kind}, but line {kind_of_first[1]}'s is "
                            f"{kind_of_first[0]}")
        examples.append((number, tokens, label))
    if not examples:
        raise DataError(f"{file}: no examples")
    return examples


@_source("jsonl", Param("path", "str", REQUIRED, "the training examples, one JSON object per line", file="path"),
         Param("field", "str", "tokens", "the key of the token list"),
         Param("label", "str", "label", "the key of the label: a class, or a list of classes, one per token"),
         Param("test", "str", None, "the test examples, the same format", file="path"),
         Param("vocabulary", "str", None, "a saved vocabulary (JSON): else built from the training examples",
               file="path"))
def jsonl_file(base: Path, seed: int, *, path: str, field: str, label: str, test: Optional[str],
               vocabulary: Optional[str]) -> Data:
    """Labelled token sequences from JSON lines, `{"tokens": ["a", "film"], "label": 1}` per
    line (the keys named by `field` and `label`): sequence classification (one label per
    line), or sequence labelling, tagging (a list of labels, one per token). A label is an
    integer class id (true and false are 1 and 0), or a string: string classes are numbered
    in sorted order of the training labels and `Data.classes` names them. The vocabulary is
    built from the training tokens unless a saved one is named; a test token the built
    vocabulary lacks is `<unk>`.

    inputs: token ids int32 `(n, T)`, padded with 0 (an Embedding with mask_zero skips it);
    targets: int32 class ids `(n,)`, or `(n, T)` per token with sample_weight `(n, T)`, 0 at
    padding."""
    read = {"train": (_file(base, path), _read_jsonl(_file(base, path), field, label))}
    if test:
        read["test"] = (_file(base, test), _read_jsonl(_file(base, test), field, label))
    kinds = {name: isinstance(examples[0][2], list) for name, (_, examples) in read.items()}
    if len(set(kinds.values())) > 1:
        raise DataError(f"{read['test'][0]}: labels are {'per token' if kinds['test'] else 'one per example'}, "
                        f"but in {read['train'][0]} {'per token' if kinds['train'] else 'one per example'}")
    per_token = kinds["train"]
    saved = _saved_vocabulary(base, vocabulary)
    for file, examples in read.values():
        for number, tokens, _ in examples:
            _known(tokens, saved, f"{file}:{number}", "token")
    training = read["train"][1]
    words = saved[0] if saved else Vocabulary.build(tokens for _, tokens, _ in training)

    def values(lab):
        return lab if per_token else [lab]

    named = isinstance(values(training[0][2])[0], str)
    classes = tuple(sorted({v for _, _, lab in training for v in values(lab)})) if named else ()
    class_id = {c: i for i, c in enumerate(classes)}
    length = max(len(tokens) for _, examples in read.values() for _, tokens, _ in examples)
    made = {}
    for name, (file, examples) in read.items():
        if named:
            for number, _, lab in examples:
                unseen = next((v for v in values(lab) if v not in class_id), None)
                if unseen is not None:
                    raise DataError(f"{file}:{number}: label {_cut(json.dumps(unseen))} is not among the training "
                                    "labels")
        ids = [[class_id[v] if named else int(v) for v in values(lab)] for _, _, lab in examples]
        x = _padded([words.encode(tokens) for _, tokens, _ in examples], length)
        if per_token:
            y = _padded(ids, length)
            w = np.zeros((len(examples), length), "float32")
            for i, (_, tokens, _) in enumerate(examples):
                w[i, :len(tokens)] = 1.0
            made[name] = Split((x,), y, w)
        else:
            made[name] = Split((x,), np.array([i for (i,) in ids], "int32"))
    return Data(made["train"], None, made.get("test"), source_vocabulary=words, classes=classes,
                description=f"{path}: {_count(len(training), 'sequence')}"
                            + (f", test {test}: {made['test'].size}" if test else "")
                            + f", {len(words)} tokens in the vocabulary"
                            + (f", {len(classes)} classes" if named else ""))
