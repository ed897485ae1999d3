"""sources: the signatures of the data sources that a `train` block's `data = SOURCE(ARGS)` names.

    data = adding(steps=100, train=100000, test=10000)   # a task from the literature, generated
    data = npz("adding.npz", inputs="x", targets="y")   # arrays from files beside the spec

A source is a generator or a file reader. `SIGNATURES` maps each name to its arguments
(`Param`s: their types, defaults, allowed values) and to the check of values that do not go
together, so that `rnndsl check` checks a train block with `check_args`, without I/O and
without the training package; `bind` names positional arguments. The functions that run the
sources are rnndsl.train's (rnndsl.train.sources.SOURCES, one for each signature here).

File paths are relative to the spec's folder and stay inside it (no absolute path, no `..`).
Plain Python: nothing here reads a file or imports NumPy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

from .errors import did_you_mean
from .wording import count, show, split_names

__all__ = [
    "REQUIRED", "Param", "Signature", "SIGNATURES", "GENERATED", "CURRICULUM", "INT_MAX", "bind", "check_args",
    "complete",
    "value_problem", "path_problem", "finite",
]

INT_MAX = 2 ** 31 - 1  # the largest batch, epoch count or seed, and a data source's largest count


def finite(v) -> bool:
    """Whether the number `v` is finite (an int beyond a float's range is not)."""
    try:
        return math.isfinite(v)
    except OverflowError:
        return False


# ================================================================ arguments


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
class Signature:
    """What a data source takes: its name, its arguments (`Param`s) in positional order, and
    `validate(arguments)`, messages about values that do not go together (all arguments given,
    of the right types). rnndsl.train.sources pairs each with the function that runs it."""

    name: str
    params: tuple
    validate: Optional[Callable] = None

    def param(self, name: str) -> Optional[Param]:
        return next((p for p in self.params if p.name == name), None)


# ================================================================ the sources


def _counts(train: int, test: int) -> tuple:
    """The count arguments of a generator with its own defaults."""
    return (Param("train", "int", train, "training sequences", minimum=1),
            Param("test", "int", test, "test sequences (0: no test split)", minimum=0),
            Param("validation", "int", 0, "validation sequences, drawn after the test ones (0: none)", minimum=0))


_SERIES_PARAMS = (Param("path", "str", REQUIRED, "the file, relative to the spec", file="path"),
                  Param("window", "int", 50, "steps per example", minimum=1),
                  Param("stride", "int", None, "steps from one window's start to the next (default: the window)",
                        minimum=1),
                  Param("test", "float", 0.2, "the fraction of the rows, at the end, held out for the test",
                        minimum=0, less_than=1),
                  Param("predict", "str", "sequence", "the next step at every step, or only after the window",
                        choices=("sequence", "last")))


def _mackey_glass_args(args: dict) -> list:
    messages = []
    if args["test"] >= args["steps"]:
        messages.append(f"`test` ({args['test']}) leaves no training steps of the {args['steps']}")
    elif args["washout"] >= args["steps"] - args["test"]:
        messages.append(f"`washout` ({args['washout']}) leaves no weighted training steps of the "
                        f"{args['steps'] - args['test']}")
    return messages


def _speech_args(args: dict) -> list:
    return [f"`min_{what}` ({args['min_' + what]}) is above `max_{what}` ({args['max_' + what]})"
            for what in ("labels", "frames") if args["min_" + what] > args["max_" + what]]


def _npz_args(args: dict) -> list:
    return [f"`{key}` names an empty array name" for key in ("inputs", "targets", "weights")
            if args[key] is not None and "" in split_names(args[key])]


def _npy_args(args: dict) -> list:
    if (args["test_inputs"] is None) != (args["test_targets"] is None):
        return ["`test_inputs` and `test_targets` go together"]
    if args["test_weights"] is not None and args["test_inputs"] is None:
        return ["`test_weights` needs `test_inputs` and `test_targets`"]
    return []


MAX_TASK_STEPS = 100_000  # the longest sequence a copy task lays out
MAX_TASK_CELLS = 2 ** 28  # the most numbers of one split of a copy task (examples x steps x channels)


def _ranges_problems(args: dict, names: tuple) -> list:
    """`min_X` above `max_X`, for X in `names`, and the same of the test's own range where given."""
    messages = []
    for what in names:
        low, high = args[f"min_{what}"], args[f"max_{what}"]
        if low > high:
            messages.append(f"`min_{what}` ({low}) is above `max_{what}` ({high})")
        given = (args[f"test_min_{what}"], args[f"test_max_{what}"])
        test_low = given[0] if given[0] is not None else low
        test_high = given[1] if given[1] is not None else high
        if given != (None, None) and test_low > test_high:
            messages.append(f"the test's {what}, {test_low} to {test_high}, is an empty range")
    return messages


def _copy_task_size(args: dict, steps_of) -> list:
    """The longest layout of any split (`steps_of(length, repeats)` steps) within the limits."""
    longest = max(args["max_length"], args["test_max_length"] or 0)
    repeats = max(args.get("max_repeats", 1), args.get("test_max_repeats") or 0)
    steps = steps_of(longest, repeats)
    if steps > MAX_TASK_STEPS:
        return [f"sequences of {steps} steps: at most {MAX_TASK_STEPS}"]
    biggest = max(args["train"], args["test"], args["validation"]) * steps * (args["bits"] + 2)
    if biggest > MAX_TASK_CELLS:
        return [f"a split of {biggest} numbers: at most {MAX_TASK_CELLS} (fewer examples, or shorter ones)"]
    return []


def _copy_bits_args(args: dict) -> list:
    return _ranges_problems(args, ("length",)) or _copy_task_size(args, lambda length, _: 2 * length + 1)


def _reversal_args(args: dict) -> list:
    return _ranges_problems(args, ("length",)) or _copy_task_size(dict(args, bits=args["symbols"] - 1),
                                                                   lambda length, _: 2 * length + 1)


def _repeat_copy_args(args: dict) -> list:
    return _ranges_problems(args, ("length", "repeats")) or _copy_task_size(
        args, lambda length, repeats: args["episodes"] * (length + 2 + repeats * length))


_COPY_PARAMS = (Param("bits", "int", 8, "bits of each vector", minimum=1),
                Param("min_length", "int", 1, "the fewest vectors of a sequence", minimum=1),
                Param("max_length", "int", 20, "the most vectors of a sequence", minimum=1),
                Param("test_min_length", "int", None, "the test's fewest (default: min_length)", minimum=1),
                Param("test_max_length", "int", None, "the test's most (default: max_length)", minimum=1))


def _python_args(args: dict) -> list:
    module, colon, function = args["function"].partition(":")
    if colon and function.isidentifier() and all(part.isidentifier() for part in module.split(".")):
        return []
    return [f"`function` names a function of a Python file beside the spec as `module:function` (`tasks:reversal` "
            f"is `reversal` of tasks.py), not {show(args['function'])}"]


def _csv_args(args: dict) -> list:
    return [] if len(args["delimiter"]) == 1 else [f"`delimiter` must be one character, not {show(args['delimiter'])}"]



MAX_TREE_WORDS = 1000  # the most constants of a generated formula, or words of a generated sentence


def _tree_counts(train: int, test: int, unit: str) -> tuple:
    """The count arguments of a tree generator."""
    return (Param("train", "int", train, f"training {unit}", minimum=1),
            Param("test", "int", test, f"test {unit} (0: no test split)", minimum=0),
            Param("validation", "int", 0, f"validation {unit}, drawn after the test ones (0: none)", minimum=0))


def _tree_form(labels: str) -> tuple:
    """The `labels` and `form` arguments of a tree generator."""
    return (Param("labels", "str", labels, "a label at every node (`nodes`) or at the root alone (`root`)",
                  choices=("nodes", "root")),
            Param("form", "str", "tree", "trees, or token sequences for a sequence model (labelled at the root)",
                  choices=("tree", "sequence")))


def _sequence_form(args: dict) -> list:
    if args["form"] == "sequence" and args["labels"] != "root":
        return ['`form="sequence"` labels each sequence once: it needs `labels="root"`']
    return []


def _formula_args(args: dict) -> list:
    messages = [f"`{key}` ({args[key]}) is above {MAX_TREE_WORDS}, the most constants of a generated formula"
                for key in ("max_leaves", "test_min_leaves", "test_max_leaves") if args[key] > MAX_TREE_WORDS]
    if args["test_min_leaves"] > args["test_max_leaves"]:
        messages.append(f"`test_min_leaves` ({args['test_min_leaves']}) is above `test_max_leaves` "
                        f"({args['test_max_leaves']})")
    return messages + _sequence_form(args)


def _sentiment_args(args: dict) -> list:
    messages = [f"`{key}` ({args[key]}) is above {MAX_TREE_WORDS}, the most words of a generated sentence"
                for key in ("min_words", "max_words") if args[key] > MAX_TREE_WORDS]
    if args["min_words"] > args["max_words"]:
        messages.append(f"`min_words` ({args['min_words']}) is above `max_words` ({args['max_words']})")
    return messages + _sequence_form(args)


def _tree_keys_args(args: dict) -> list:
    keys = [args[k] for k in ("label", "word", "children")]
    twice = next((k for k in keys if keys.count(k) > 1), None)
    return [] if twice is None else [f"`label`, `word` and `children` name the same key {show(twice)} twice"]


_TREE_FILE_PARAMS = (
    Param("path", "str", REQUIRED, "the training trees, one a line", file="path"),
    Param("test", "str", None, "the test trees, the same format", file="path"),
    Param("labels", "str", "nodes", "a label at every node (`nodes`) or at the root alone (`root`)",
          choices=("nodes", "root")),
    Param("vocabulary", "str", None, "a saved vocabulary (JSON): else built from the training trees' words",
          file="path"))


def _digits_args(args: dict) -> list:
    if args["target"] == "pixels" and args["form"] != "grid":
        return ['`target="pixels"` models the images pixel by pixel, as grids: give `form="grid"` too']
    return []


def _signature(name: str, *params: Param, validate: Optional[Callable] = None) -> Signature:
    return Signature(name, params, validate)


# In this order `rnndsl check` lists them.
SIGNATURES: dict = {s.name: s for s in (
    # generators: tasks from the literature
    _signature("adding", Param("steps", "int", 100, "the sequence length T", minimum=2), *_counts(100_000, 10_000)),
    _signature("copy", Param("length", "int", 10, "symbols to remember", minimum=1),
               Param("delay", "int", 20, "steps between the last symbol and the answer; the last is the go marker",
                     minimum=1),
               Param("symbols", "int", 8, "the alphabet's size", minimum=2), *_counts(10_000, 1_000)),
    _signature("reber", *_counts(4000, 256),
               Param("embedded", "bool", True, "the embedded grammar (true) or the plain one (false)")),
    _signature("mackey_glass", Param("steps", "int", 4100, "the series' length: training then test steps", minimum=2),
               Param("test", "int", 1100, "the last steps, held out for the test (0: no test split)", minimum=0),
               Param("tau", "float", 17.0, "the delay; 17 is mildly chaotic", minimum=1),
               Param("washout", "int", 200, "the first training steps, weighted 0 while the state settles",
                     minimum=0),
               validate=_mackey_glass_args),
    _signature("speech", *_counts(2000, 200),
               Param("phonemes", "int", 8, "the label inventory's size", minimum=2),
               Param("features", "int", 12, "features per frame", minimum=1),
               Param("min_labels", "int", 2, "fewest phonemes in an utterance", minimum=1),
               Param("max_labels", "int", 6, "most phonemes in an utterance", minimum=1),
               Param("min_frames", "int", 3, "fewest frames of one phoneme", minimum=1),
               Param("max_frames", "int", 8, "most frames of one phoneme", minimum=1),
               Param("noise", "float", 0.5, "the standard deviation of the noise added to each feature", minimum=0),
               validate=_speech_args),
    _signature("dates", *_counts(10_000, 1_000)),
    _signature("copy_bits", *_COPY_PARAMS, *_counts(10_000, 1_000), validate=_copy_bits_args),
    _signature("repeat_copy", *_COPY_PARAMS[:1],
               Param("min_length", "int", 1, "the fewest vectors of a sequence", minimum=1),
               Param("max_length", "int", 10, "the most vectors of a sequence", minimum=1),
               Param("min_repeats", "int", 1, "the fewest copies to write", minimum=1),
               Param("max_repeats", "int", 10, "the most copies to write", minimum=1),
               *_COPY_PARAMS[3:],
               Param("test_min_repeats", "int", None, "the test's fewest copies (default: min_repeats)", minimum=1),
               Param("test_max_repeats", "int", None, "the test's most copies (default: max_repeats)", minimum=1),
               Param("episodes", "int", 1, "problems one after another in each sequence", minimum=1),
               *_counts(10_000, 1_000), validate=_repeat_copy_args),
    _signature("python", Param("function", "str", REQUIRED,
                               "`module:function`: `function(rng, n)` of module.py beside the spec (a dotted module "
                               "is a file in a folder), which draws n examples with the NumPy generator rng"),
               *_counts(10_000, 1_000), validate=_python_args),
    _signature("reversal", Param("symbols", "int", 8, "the alphabet's size", minimum=2),
               *_COPY_PARAMS[1:3], *_COPY_PARAMS[3:], *_counts(10_000, 1_000), validate=_reversal_args),
    _signature("digits", Param("test", "float", 0.25, "the fraction held out for the test", minimum=0, less_than=1),
               Param("form", "str", "sequence", "each image a sequence of its rows, or a grid[8, 8, 1]",
                     choices=("sequence", "grid")),
               Param("binarize", "bool", False, "each pixel 1 where its intensity is at least 0.5, else 0"),
               Param("target", "str", "class", "the digit's class, or the image itself (its pixels, for a model "
                     "of the images: a grid's)", choices=("class", "pixels")),
               validate=_digits_args),
    _signature("boolean_formulas", *_tree_counts(4000, 1000, "formulas"),
               Param("max_leaves", "int", 8, "the most constants of a training or validation formula", minimum=1),
               Param("test_min_leaves", "int", 12, "the fewest constants of a test formula", minimum=1),
               Param("test_max_leaves", "int", 16, "the most constants of a test formula", minimum=1),
               *_tree_form("root"), validate=_formula_args),
    _signature("sentiment_trees", *_tree_counts(4000, 1000, "trees"),
               Param("min_words", "int", 3, "the fewest words of a sentence, its \"not\"s left out", minimum=1),
               Param("max_words", "int", 12, "the most words of a sentence, its \"not\"s left out", minimum=1),
               Param("negation", "float", 0.2, "the chance that a phrase is negated", minimum=0, less_than=1),
               *_tree_form("nodes"), validate=_sentiment_args),
    # file readers (and, above, `digits` and `mackey_glass`, which give the same data whatever the seed)
    _signature("npz", Param("path", "str", REQUIRED, "the .npz file, relative to the spec", file="path"),
               Param("inputs", "str", "x", "the input arrays' names, comma-separated, one per network input"),
               Param("targets", "str", "y", "the targets' array name"),
               Param("weights", "str", None, "the sample weights' array name, (n,) or (n, T)"),
               Param("test", "str", None, "another .npz file with the same arrays, the test split", file="path"),
               validate=_npz_args),
    _signature("npy", Param("inputs", "str", REQUIRED, ".npy files, comma-separated, one per network input",
                            file="paths"),
               Param("targets", "str", REQUIRED, "the targets' .npy file", file="path"),
               Param("weights", "str", None, "the sample weights' .npy file", file="path"),
               Param("test_inputs", "str", None, "the test split's input files", file="paths"),
               Param("test_targets", "str", None, "the test split's targets file", file="path"),
               Param("test_weights", "str", None, "the test split's sample weights file", file="path"),
               validate=_npy_args),
    _signature("csv", *_SERIES_PARAMS, Param("delimiter", "str", ",", "the column separator"), validate=_csv_args),
    _signature("tsv", *_SERIES_PARAMS, Param("delimiter", "str", "\t", "the column separator"), validate=_csv_args),
    _signature("pairs", Param("path", "str", REQUIRED, "the training pairs, `source<TAB>target` per line",
                              file="path"),
               Param("test", "str", None, "the test pairs, the same format", file="path"),
               Param("source_vocabulary", "str", None,
                     "a saved source vocabulary (JSON); else one built from the pairs", file="path"),
               Param("target_vocabulary", "str", None,
                     "a saved target vocabulary (JSON); else one built from the pairs", file="path")),
    _signature("jsonl", Param("path", "str", REQUIRED, "the training examples, one JSON object per line",
                              file="path"),
               Param("field", "str", "tokens", "the key of the token list"),
               Param("label", "str", "label", "the key of the label: a class, or a list of classes, one per token"),
               Param("test", "str", None, "the test examples, the same format", file="path"),
               Param("vocabulary", "str", None, "a saved vocabulary (JSON): else built from the training examples",
                     file="path")),
    _signature("treebank", *_TREE_FILE_PARAMS,
               Param("validation", "str", None, "the validation trees, the same format", file="path")),
    _signature("trees", *_TREE_FILE_PARAMS,
               Param("label", "str", "label", "the key of a node's label"),
               Param("word", "str", "word", "the key of a node's word"),
               Param("children", "str", "children", "the key of a node's list of children"),
               Param("validation", "str", None, "the validation trees, the same format", file="path"),
               validate=_tree_keys_args),
)}


# The generators that draw different examples for every seed: a train block may draw a new training
# split from them every epoch (`fresh = true`).
GENERATED = frozenset({"adding", "copy", "reber", "speech", "dates", "boolean_formulas", "sentiment_trees",
                       "copy_bits", "repeat_copy", "reversal", "python"})


# The argument of a generator that a length curriculum grows (`curriculum = linear(start, epochs)`):
# the longest sequence it draws.
CURRICULUM = {"adding": "steps", "copy": "length", "copy_bits": "max_length", "repeat_copy": "max_length",
              "reversal": "max_length"}


# ================================================================ checking a train block's arguments


def bind(source: str, positional: Sequence = (), keywords: Optional[dict] = None) -> tuple:
    """(arguments by name, messages): positional arguments named in the source's order, merged
    with `keywords`. Messages for an unknown source, too many positional arguments, or one
    given twice; the arguments themselves are checked by `check_args`."""
    keywords = dict(keywords or {})
    found = SIGNATURES.get(source)
    if found is None:
        return keywords, [_unknown_source(source, SIGNATURES)]
    messages, named = [], {}
    if len(positional) > len(found.params):
        most = len(found.params)
        messages.append(f"`{source}` takes at most {count(most, 'positional argument')} "
                        f"({', '.join(p.name for p in found.params)}), not {len(positional)}")
    for p, value in zip(found.params, positional):
        if p.name in keywords:
            messages.append(f"`{source}` got the argument `{p.name}` twice, by position and by name")
        named[p.name] = value
    named.update(keywords)
    return named, messages


def check_args(source: str, args: dict, signatures: Optional[dict] = None) -> list:
    """Messages, one line each, for an unknown source, an unknown or missing argument, a value
    of the wrong type or out of range; [] when the arguments are fine. Values are Python
    int, float, str and bool (an int is a float too). No I/O.

    `signatures` maps names to what has a source's `name`, `params` and `validate`:
    SIGNATURES by default, rnndsl.train.sources.SOURCES where a source is about to run."""
    signatures = SIGNATURES if signatures is None else signatures
    found = signatures.get(source)
    if found is None:
        return [_unknown_source(source, signatures)]
    messages = []
    names = [p.name for p in found.params]
    for key in args:
        if key not in names:
            hint = did_you_mean(str(key), names)
            messages.append(f"`{source}` has no argument `{key}`"
                            + (f" ({hint[0]})" if hint else f"; its arguments: {', '.join(names)}"))
    for p in found.params:
        if p.name in args:
            problem = value_problem(p, args[p.name])
            if problem:
                messages.append(f"argument `{p.name}` of `{source}` {problem}")
        elif p.default is REQUIRED:
            messages.append(f"`{source}` needs the argument `{p.name}` ({p.type})")
    if not messages and found.validate is not None:
        messages += [f"`{source}`: {m}" for m in found.validate(complete(found, args))]
    return messages


def complete(found: Signature, args: dict) -> dict:
    """Every argument of the source: those given (an int where a float is wanted made a float),
    then the defaults."""
    out = {}
    for p in found.params:
        value = args.get(p.name, p.default)
        if p.type == "float" and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        out[p.name] = value
    return out


def _unknown_source(source: str, signatures: dict) -> str:
    hint = did_you_mean(source, signatures)
    return (f"unknown data source `{source}`"
            + (f" ({hint[0]})" if hint else f"; the sources: {', '.join(sorted(signatures))}"))


def value_problem(p: Param, value) -> Optional[str]:
    """Why `value` does not suit `p`, or None. None is fine where it is the default (absent)."""
    if value is None and p.default is None:
        return None
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    fits = {"int": isinstance(value, int) and not isinstance(value, bool), "float": is_number,
            "str": isinstance(value, str), "bool": isinstance(value, bool)}[p.type]
    if not fits:
        return f"must be {_TYPES[p.type]}, not {show(value)}"
    if p.type == "float" and not finite(value):
        return f"must be a finite number, not {show(value)}"
    if p.type == "int" and abs(value) > INT_MAX:
        return f"must be at most {INT_MAX}, not {show(value)}"
    if p.minimum is not None and value < p.minimum:
        return f"must be at least {show(p.minimum)}, not {show(value)}"
    if p.less_than is not None and value >= p.less_than:
        return f"must be less than {show(p.less_than)}, not {show(value)}"
    if p.choices and value not in p.choices:
        return f"must be one of {', '.join(show(c) for c in p.choices)}, not {show(value)}"
    if p.file:
        paths = split_names(value) if p.file == "paths" else [value]
        return next((problem for problem in map(path_problem, paths) if problem), None)
    return None


PATH_RULE = ("a data path is relative to the spec's folder and stays inside it: put the data in or under "
             "that folder (a symbolic link made there is followed)")


def path_problem(path: str) -> Optional[str]:
    """Why `path` may not name a data file, or None: a data path is relative and has no `..`."""
    if "\0" in path:
        return f"names a path with a NUL character, {show(path)}"
    if Path(path).is_absolute():
        return f"names an absolute path, {show(path)}: {PATH_RULE}"
    if ".." in Path(path).parts:
        return f"names a path that leaves the spec's folder (`..`), {show(path)}: {PATH_RULE}"
    return None

