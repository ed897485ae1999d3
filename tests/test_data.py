"""rnndsl.lang.sources and rnndsl.train.sources: the sources a `train` block names, their arguments, and the
checks on their arrays.

Each generator is checked for its shapes, its dtypes, determinism by seed, and a property
that shows it is the task (checked here by an independent rule: a regular expression for
the Reber grammar, the delay equation for Mackey-Glass, a parser of dates in words). Each
file format is read from files written in tmp_path; every bad-data diagnostic is matched
by its text, and is one line.
"""

from __future__ import annotations

import datetime
import io
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from helpers import data_error
from rnndsl.lang.sources import REQUIRED, Param, bind, check_args, value_problem
from rnndsl.train import containers, files, generators, sources
from rnndsl.train.checks import check_fits, hold_out
from rnndsl.train.containers import Data, Split, Vocabulary
from rnndsl.train.sources import load


def gen(source: str, seed: int = 0, **args) -> Data:
    return load(source, args, base=".", seed=seed)


def read(source: str, tmp_path, **args) -> Data:
    return load(source, args, base=tmp_path, seed=0)


def same(a: Data, b: Data) -> bool:
    """Whether two Data have equal arrays in every split."""
    def arrays(d):
        return [a for s in (d.train, d.validation, d.test) if s is not None
                for a in (*s.inputs, s.targets, s.sample_weight) if a is not None]
    return all(np.array_equal(x, y) for x, y in zip(arrays(a), arrays(b), strict=True))


# ---------------------------------------------------------------- the module


def test_importing_the_data_module_does_not_import_tensorflow():
    code = ("import sys, rnndsl.train.sources; "
            "print(any(m.split('.')[0] in ('tensorflow', 'keras') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_every_source_is_documented_and_its_params_are_typed():
    for name, source in sources.SOURCES.items():
        assert source.name == name and source.doc, name
        assert len({p.name for p in source.params}) == len(source.params), name
        for p in source.params:
            assert p.type in ("int", "float", "str", "bool"), (name, p)
            assert p.default is REQUIRED or p.default is None or not value_problem(p, p.default), (name, p)
    generators = {"adding", "copy", "reber", "mackey_glass", "speech", "dates", "digits", "boolean_formulas",
                  "sentiment_trees", "copy_bits", "repeat_copy", "reversal", "python"}
    readers = {"npz", "npy", "csv", "tsv", "pairs", "jsonl", "treebank", "trees"}
    assert generators | readers == set(sources.SOURCES)


# ---------------------------------------------------------------- check_args and bind


@pytest.mark.parametrize("source, args, message", [
    ("addin", {}, "unknown data source `addin` (did you mean `adding`?)"),
    ("imagenet", {}, "unknown data source `imagenet`; the sources: adding, boolean_formulas, copy, copy_bits, csv,"),
    ("adding", {"step": 10}, "`adding` has no argument `step` (did you mean `steps`?)"),
    ("adding", {"size": 10}, "`adding` has no argument `size`; its arguments: steps, train, test, validation"),
    ("npz", {}, "`npz` needs the argument `path` (str)"),
    ("adding", {"steps": "100"}, 'argument `steps` of `adding` must be an int, not "100"'),
    ("adding", {"steps": 1.5}, "argument `steps` of `adding` must be an int, not 1.5"),
    ("adding", {"steps": True}, "argument `steps` of `adding` must be an int, not true"),
    ("reber", {"embedded": 1}, "argument `embedded` of `reber` must be a bool, not 1"),
    ("npz", {"path": 3}, "argument `path` of `npz` must be a string, not 3"),
    ("adding", {"train": 0}, "argument `train` of `adding` must be at least 1, not 0"),
    ("digits", {"test": 1}, "argument `test` of `digits` must be less than 1, not 1"),
    ("csv", {"path": "a.csv", "predict": "next"},
     'argument `predict` of `csv` must be one of "sequence", "last", not "next"'),
    ("csv", {"path": "a.csv", "delimiter": ";;"}, '`csv`: `delimiter` must be one character, not ";;"'),
    ("speech", {"min_labels": 5, "max_labels": 3}, "`speech`: `min_labels` (5) is above `max_labels` (3)"),
    ("mackey_glass", {"steps": 100, "test": 100}, "`mackey_glass`: `test` (100) leaves no training steps of the 100"),
    ("mackey_glass", {"steps": 100, "test": 50, "washout": 50},
     "`mackey_glass`: `washout` (50) leaves no weighted training steps of the 50"),
    ("npy", {"inputs": "x.npy", "targets": "y.npy", "test_inputs": "tx.npy"},
     "`npy`: `test_inputs` and `test_targets` go together"),
    ("npz", {"path": "a.npz", "inputs": "x,"}, "`npz`: `inputs` names an empty array name"),
])
def test_check_args_messages(source, args, message):
    messages = check_args(source, args)
    assert len(messages) == 1 and messages[0].startswith(message), messages


def test_check_args_accepts_good_arguments_and_ints_for_floats():
    assert check_args("adding", {"steps": 50, "train": 10, "test": 0}) == []
    assert check_args("speech", {"noise": 0}) == []
    assert check_args("npz", {"path": "a.npz", "inputs": "x,mask", "test": "b.npz"}) == []
    assert check_args("npz", {"path": "a.npz", "test": None}) == []  # None: absent, where that is the default
    assert check_args("npz", {"path": None}) == ["argument `path` of `npz` must be a string, not None"]
    assert sources.SOURCES["digits"].fn is generators.digits  # check_args reads no file and runs nothing


def test_check_args_reports_every_problem():
    messages = check_args("adding", {"stepz": 1, "train": -1, "test": "x"})
    assert len(messages) == 3


def test_load_raises_the_argument_messages():
    assert data_error(gen, "adding", steps="10") == 'argument `steps` of `adding` must be an int, not "10"'


def test_bind_names_positional_arguments_in_order():
    assert bind("npz", ["a.npz", "x"], {"targets": "t"}) == ({"path": "a.npz", "inputs": "x", "targets": "t"}, [])
    _, messages = bind("npz", ["a.npz"], {"path": "b.npz"})
    assert messages == ["`npz` got the argument `path` twice, by position and by name"]
    _, messages = bind("digits", [0.1, "grid", False, "class", 2])
    assert messages == ["`digits` takes at most 4 positional arguments (test, form, binarize, target), not 5"]
    assert bind("nope", [1])[1] == ["unknown data source `nope`; the sources: " + ", ".join(sorted(sources.SOURCES))]


# ---------------------------------------------------------------- the adding problem


def test_adding_shapes_and_targets_are_the_marked_sums():
    d = gen("adding", steps=20, train=50, test=10, validation=5)
    assert d.description == "adding problem, T=20: 50 train, 5 validation, 10 test sequences"
    for split, n in ((d.train, 50), (d.validation, 5), (d.test, 10)):
        (x,) = split.inputs
        assert x.shape == (n, 20, 2) and x.dtype == np.float32
        assert split.targets.shape == (n, 1) and split.targets.dtype == np.float32
        values, markers = x[..., 0], x[..., 1]
        assert ((values >= 0) & (values <= 1)).all()
        assert (markers[:, :10].sum(1) == 1).all() and (markers[:, 10:].sum(1) == 1).all()
        np.testing.assert_allclose(split.targets[:, 0], values[markers == 1].reshape(n, 2).sum(1), rtol=1e-6)


def test_adding_is_deterministic_by_seed_and_test_zero_leaves_no_test_split():
    assert same(gen("adding", 3, steps=10, train=8, test=4), gen("adding", 3, steps=10, train=8, test=4))
    assert not same(gen("adding", 3, steps=10, train=8, test=4), gen("adding", 4, steps=10, train=8, test=4))
    d = gen("adding", steps=10, train=8, test=0)
    assert d.test is None and d.validation is None


def test_adding_validation_is_drawn_after_the_test_split():
    with_validation = gen("adding", steps=10, train=8, test=4, validation=3)
    without = gen("adding", steps=10, train=8, test=4)
    assert np.array_equal(with_validation.test.inputs[0], without.test.inputs[0])


# ---------------------------------------------------------------- the copy task


def test_copy_answer_is_the_input_symbols_after_the_delay():
    d = gen("copy", length=5, delay=7, symbols=4, train=30, test=6)
    (x,), y, w = d.train.inputs, d.train.targets, d.train.sample_weight
    assert x.shape == (30, 17, 6) and x.dtype == np.float32
    assert y.shape == (30, 17) and y.dtype == np.int32 and w.shape == (30, 17)
    assert (x.sum(-1) == 1).all()  # one-hot at every step
    shown = x[:, :5, :4].argmax(-1)
    assert (x[:, :5, :4].sum(-1) == 1).all()
    assert (x[:, 11, 5] == 1).all() and x[:, :, 5].sum() == 30  # the go marker, at the last delay step only
    assert (x[:, 5:11, 4] == 1).all() and (x[:, 12:, 4] == 1).all()  # blanks
    assert np.array_equal(y[:, 12:], shown)
    assert (w[:, 12:] == 1).all() and (w[:, :12] == 0).all()
    assert same(d, gen("copy", length=5, delay=7, symbols=4, train=30, test=6))
    assert not same(d, gen("copy", 1, length=5, delay=7, symbols=4, train=30, test=6))


# ---------------------------------------------------------------- the Reber grammar

# Reber's grammar as a regular expression, by eliminating the states of its graph: from the
# state after P, T* V, then V, or P S, or P X and round again.
_AFTER_P = "(?:T*VPX)*T*V(?:V|PS)"
REBER_RE = f"B(?:TS*X(?:S|X{_AFTER_P})|P{_AFTER_P})E"
EMBEDDED_RE = f"B(?:T{REBER_RE}T|P{REBER_RE}P)E"


def _strings(split: Split) -> list:
    """Each input read back as its string, with the E that ends every string."""
    (x,) = split.inputs
    return ["".join(generators.SYMBOLS[i] for i in row[: int(w.sum())].argmax(-1)) + "E"
            for row, w in zip(x, split.sample_weight)]


@pytest.mark.parametrize("embedded, pattern", [(True, EMBEDDED_RE), (False, REBER_RE)])
def test_reber_strings_are_accepted_by_the_grammar(embedded, pattern):
    d = gen("reber", 5, train=200, test=20, embedded=embedded)
    assert d.train.inputs[0].shape[1:] == (d.train.targets.shape[1], 7) == (d.test.inputs[0].shape[1], 7)
    assert d.train.targets.dtype == np.float32 and d.train.sample_weight.shape == d.train.targets.shape[:2]
    for split in (d.train, d.test):
        strings = _strings(split)
        assert all(re.fullmatch(pattern, s) for s in strings), strings
        (x,), y, w = split.inputs, split.targets, split.sample_weight
        for s, xi, yi, wi in zip(strings, x, y, w):
            n = len(s) - 1
            assert (wi[:n] == 1).all() and (wi[n:] == 0).all() and (xi[n:] == 0).all() and (yi[n:] == 0).all()
            for t in range(n):  # the symbol that came next is among the legal ones
                assert yi[t, generators.SYMBOLS.index(s[t + 1])] == 1
            if embedded:  # before last: only the arm chosen at the start may follow
                assert [generators.SYMBOLS[i] for i in np.flatnonzero(yi[n - 2])] == [s[1]]
    assert same(d, gen("reber", 5, train=200, test=20, embedded=embedded))


# ---------------------------------------------------------------- Mackey-Glass


def test_mackey_glass_is_the_delay_equation_split_in_time():
    d = gen("mackey_glass", 2, steps=300, test=100, washout=20)
    (x,), y = d.train.inputs, d.train.targets
    assert x.shape == y.shape == (1, 200, 1) and x.dtype == np.float32
    assert (d.train.sample_weight[0, :20] == 0).all() and (d.train.sample_weight[0, 20:] == 1).all()
    (whole,), test_y, test_w = d.test.inputs, d.test.targets, d.test.sample_weight
    assert whole.shape == test_y.shape == (1, 300, 1)
    assert np.array_equal(whole[:, :200], x) and np.array_equal(whole[0, 1:, 0], test_y[0, :-1, 0])
    assert (test_w[0, :200] == 0).all() and (test_w[0, 200:] == 1).all()

    # dz/dt = 0.2 z(t - 17) / (1 + z(t - 17)^10) - 0.1 z(t), z = arctanh(x) + 1, by central differences
    z = np.arctanh(np.concatenate([whole[0, :, 0], test_y[0, -1:, 0]]).astype("float64")) + 1
    t = np.arange(18, len(z) - 1)

    def residual(lag):
        rate = 0.2 * z[t - lag] / (1 + z[t - lag] ** 10) - 0.1 * z[t]
        return np.abs((z[t + 1] - z[t - 1]) / 2 - rate).max()

    assert residual(17) < 5e-3 < 0.015 < min(residual(16), residual(18))
    assert same(d, gen("mackey_glass", 2, steps=300, test=100, washout=20))


# ---------------------------------------------------------------- speech (CTC)


def test_speech_frames_have_one_segment_per_label():
    args = dict(train=40, test=8, phonemes=5, features=6, min_labels=2, max_labels=4, min_frames=2, max_frames=5)
    clean, noisy = gen("speech", 1, noise=0.0, **args), gen("speech", 1, **args)
    prototype = {}
    for split in (clean.train, clean.test):
        (x,), y, w = split.inputs, split.targets, split.sample_weight
        assert x.dtype == np.float32 and x.shape[2] == 6 and y.dtype == np.int32 and y.shape[1] == 4
        assert w.shape == x.shape[:2]
        for xi, yi, wi in zip(x, y, w):
            frames, labels = int(wi.sum()), yi[yi >= 0]
            assert (wi[:frames] == 1).all() and (xi[frames:] == 0).all()
            assert 2 <= len(labels) <= 4 and (yi[len(labels):] == -1).all() and (labels < 5).all()
            assert (labels[1:] != labels[:-1]).all()  # no phoneme twice in a row
            starts = [0] + [t for t in range(1, frames) if not np.array_equal(xi[t], xi[t - 1])]
            assert len(starts) == len(labels)  # the segment count is the label count
            lengths = np.diff(starts + [frames])
            assert ((lengths >= 2) & (lengths <= 5)).all()
            for label, start in zip(labels, starts):  # each phoneme always sounds the same
                assert np.array_equal(prototype.setdefault(int(label), xi[start]), xi[start])
    # with noise: the same utterances, each frame nearest its phoneme's prototype
    assert np.array_equal(noisy.train.targets, clean.train.targets)
    assert np.array_equal(noisy.train.sample_weight, clean.train.sample_weight)
    (x,), (x_clean,) = noisy.train.inputs, clean.train.inputs
    protos = np.stack([prototype[k] for k in range(5)])
    real = noisy.train.sample_weight == 1
    nearest = ((x[real][:, None, :] - protos[None]) ** 2).sum(-1).argmin(-1)
    truth = ((x_clean[real][:, None, :] - protos[None]) ** 2).sum(-1).argmin(-1)
    assert (nearest == truth).mean() > 0.9
    assert not same(clean, gen("speech", 2, noise=0.0, **args))


# ---------------------------------------------------------------- dates

_MONTHS = "january february march april may june july august september october november december".split()
_DAYS = "monday tuesday wednesday thursday friday saturday sunday".split()
_ORDINALS = ("first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth "
             "fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth twentieth").split()


def _day(word: str) -> int:
    """A day of the month written as 23, 23rd or twenty-third."""
    if re.fullmatch(r"\d+(st|nd|rd|th)?", word):
        return int(re.match(r"\d+", word).group())
    if word == "thirtieth":
        return 30
    if "-" in word:
        tens, unit = word.split("-")
        return {"twenty": 20, "thirty": 30}[tens] + _ORDINALS.index(unit) + 1
    return _ORDINALS.index(word) + 1


def _meaning(words: list) -> datetime.date:
    """The date that a source sentence means; its weekday, if named, checked."""
    words = [w for w in words if w not in ("the", "of", ",")]
    weekday = _DAYS.index(words.pop(0)) if words[0] in _DAYS else None
    year, (a, b) = int(words[-1]), words[:-1]
    month_word, day_word = (a, b) if a[:3] in [m[:3] for m in _MONTHS] else (b, a)
    found = datetime.date(year, [m[:3] for m in _MONTHS].index(month_word[:3]) + 1, _day(day_word))
    assert weekday is None or found.weekday() == weekday
    return found


def test_dates_targets_are_the_iso_form_of_the_source():
    d = gen("dates", 3, train=300, test=30)
    source, target = d.source_vocabulary, d.target_vocabulary
    assert source.tokens[:4] == target.tokens[:4] == containers.SPECIALS
    firsts = set()
    for split in (d.train, d.test):
        (src, dec), y, w = split.inputs, split.targets, split.sample_weight
        assert src.dtype == dec.dtype == y.dtype == np.int32 and y.shape == dec.shape == w.shape == (split.size, 11)
        assert (dec[:, 0] == containers.START).all() and np.array_equal(dec[:, 1:], y[:, :-1])
        assert (y[:, -1] == containers.END).all() and (w == 1).all()
        for s_ids, t_ids in zip(src, y):
            words = source.decode(s_ids, strip=True)
            assert len(words) == int((s_ids != 0).sum())  # padded with 0 at the end only
            iso = "".join(target.decode(t_ids, strip=True))
            assert datetime.date.fromisoformat(iso) == _meaning(words)
            assert iso == _meaning(words).isoformat()
            firsts.add(words[0] if not words[0].isdigit() else "DAY")
    assert {"the", "DAY"} <= firsts and firsts & set(_MONTHS) and firsts & set(_DAYS)  # the styles vary
    assert same(d, gen("dates", 3, train=300, test=30))


# ---------------------------------------------------------------- digits


def test_digits_are_rows_of_pixels_with_a_quarter_held_out():
    d = gen("digits", 4)
    (x,), y = d.train.inputs, d.train.targets
    assert x.shape[1:] == (8, 8) and x.dtype == np.float32 and y.dtype == np.int32
    assert d.train.size + d.test.size == 1797 and d.test.size == 1797 // 4
    assert 0 <= x.min() and x.max() <= 1 and set(np.unique(y)) == set(range(10))
    assert same(d, gen("digits", 4)) and not same(d, gen("digits", 5))
    assert gen("digits", 4, test=0).test is None


def test_digits_without_scikit_learn(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)  # `import sklearn` now fails
    assert data_error(gen, "digits") == "`digits` needs scikit-learn, which is not installed (pip install scikit-learn)"


# ---------------------------------------------------------------- npz and npy


def test_npz_reads_inputs_targets_weights_and_a_test_file(tmp_path):
    rng = np.random.default_rng(0)
    x, ids, y = rng.normal(size=(6, 4, 3)), rng.integers(0, 9, size=(6, 4)), rng.integers(0, 3, size=(6,))
    np.savez(tmp_path / "train.npz", x=x, ids=ids, y=y, w=np.ones(6))
    np.savez(tmp_path / "test.npz", x=x[:2], ids=ids[:2], y=y[:2], w=np.ones(2))
    d = read("npz", tmp_path, path="train.npz", inputs="x, ids", weights="w", test="test.npz")
    (a, b), t = d.train.inputs, d.train.targets
    assert a.dtype == np.float32 and b.dtype == np.int32 and t.dtype == np.int32
    np.testing.assert_allclose(a, x, rtol=1e-6)
    assert np.array_equal(b, ids) and np.array_equal(t, y) and d.train.sample_weight.dtype == np.float32
    assert d.test.size == 2 and d.validation is None
    assert d.description == "train.npz: 6 examples (x, ids -> y), test test.npz: 2"


def test_npy_reads_one_file_per_array(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((3, 5, 2)))
    np.save(tmp_path / "y.npy", np.zeros((3, 1)))
    d = read("npy", tmp_path, inputs="x.npy", targets="y.npy", test_inputs="x.npy", test_targets="y.npy")
    assert d.train.inputs[0].shape == (3, 5, 2) and d.test.targets.shape == (3, 1)


def _npz(tmp_path, **arrays):
    np.savez(tmp_path / "d.npz", **arrays)
    return lambda **args: read("npz", tmp_path, path="d.npz", **args)


X, Y = np.zeros((4, 5, 2)), np.zeros((4, 1))


@pytest.mark.parametrize("arrays, args, message", [
    ({"x": X}, {}, "d.npz: no array `y` (it has x)"),
    ({"x": X[..., 0, 0], "y": Y}, {}, "d.npz: array `x` has shape (4,): an input is (n, T, features), (n, features) "
                                      "or (n, T) token ids"),
    ({"x": np.full((4, 2), "a"), "y": Y}, {}, "d.npz: array `x` has dtype <U1: expected numbers"),
    ({"x": np.zeros((4, 2), [("root_x_0_0_root_bin_bash", "f8")]), "y": Y}, {},
     "d.npz: array `x` has dtype [('root_x_0_0_root_bin_…: expected numbers"),
    ({"x": np.where(np.arange(40).reshape(4, 5, 2) == 13, np.nan, 0), "y": Y}, {},
     "d.npz: array `x` has NaN or infinity, first at [1, 1, 1]"),
    ({"x": X, "y": np.array([[0.0], [np.inf], [0], [0]])}, {}, "d.npz: array `y` has NaN or infinity, first at [1, 0]"),
    ({"x": X, "y": np.array([[0.0], [1e300], [0], [0]])}, {}, "d.npz: array `y` has NaN or infinity, first at [1, 0]"),
    ({"x": X, "y": Y[:3]}, {}, "d.npz: array `x` has 4 examples, but array `y` has 3"),
    ({"x": X[:0], "y": Y[:0]}, {}, "d.npz: no examples (array `y` is empty)"),
    ({"x": X, "y": Y, "w": np.ones((4, 3))}, {"weights": "w"},
     "d.npz: array `w`: sample weights of shape (4, 3), expected (4,) or (4, 5) (for the targets (4, 1) or the "
     "steps of an input)"),
    ({"x": X, "y": Y, "w": -np.ones(4)}, {"weights": "w"}, "d.npz: array `w`: sample weights below 0"),
    ({"x": -np.ones((4, 5), int), "y": Y}, {}, "d.npz: array `x` holds token ids (integers), but -1 is not an id"),
    ({"x": X, "y": np.array(4.0)}, {}, "d.npz: array `y` is a single number: targets are (n, ...)"),
    ({"x": np.array([None] * 4), "y": Y}, {},
     "d.npz: array `x`: an array of Python objects: rnndsl reads arrays of numbers only"),
    ({"x": np.zeros((4, 0, 2)), "y": Y}, {},
     "d.npz: array `x` has shape (4, 0, 2): 0 steps; a sequence needs at least one step"),
    ({"x": np.zeros((4, 0), int), "y": Y}, {},
     "d.npz: array `x` has shape (4, 0): 0 steps; a sequence needs at least one step"),
    ({"x": np.zeros((4, 0)), "y": Y}, {},
     "d.npz: array `x` has shape (4, 0): 0 features; an input needs at least one feature"),
])
def test_npz_data_errors(tmp_path, arrays, args, message):
    message = message.replace("d.npz", str(tmp_path / "d.npz"))
    assert data_error(_npz(tmp_path, **arrays), **args).startswith(message)


def test_array_file_errors(tmp_path):
    assert data_error(read, "npz", tmp_path, path="missing.npz") == f"{tmp_path / 'missing.npz'}: no such file"
    (tmp_path / "junk.npz").write_bytes(b"not numpy at all")
    assert data_error(read, "npz", tmp_path, path="junk.npz").startswith(f"{tmp_path / 'junk.npz'}: not a NumPy file")
    np.save(tmp_path / "x.npy", X)
    np.savez(tmp_path / "d.npz", x=X)
    assert data_error(read, "npz", tmp_path, path="x.npy") == (
        f"{tmp_path / 'x.npy'}: a single array, not an .npz archive: read it with npy(...)")
    assert data_error(read, "npy", tmp_path, inputs="d.npz", targets="x.npy") == (
        f"{tmp_path / 'd.npz'}: an .npz archive, not an .npy array: read it with npz(...)")
    assert data_error(read, "npz", tmp_path, path=".") == f"{tmp_path}: a folder, not a file"


# ---------------------------------------------------------------- csv and tsv


def test_csv_windows_for_next_step_prediction(tmp_path):
    rows = "\n".join(f"{t},{10 * t}" for t in range(20))
    (tmp_path / "s.csv").write_text("time,value\n" + rows + "\n\n")
    d = read("csv", tmp_path, path="s.csv", window=4, test=0.25)
    (x,), y = d.train.inputs, d.train.targets
    assert x.shape == y.shape == (3, 4, 2) and x.dtype == np.float32  # 15 rows: windows at 0, 4, 8
    assert np.array_equal(x[1, :, 0], [4, 5, 6, 7]) and np.array_equal(y[1, :, 0], [5, 6, 7, 8])
    assert np.array_equal(d.test.inputs[0][0, :, 0], [15, 16, 17, 18])  # the last 5 rows: one window
    assert d.description == "s.csv: 20 steps of 2 features (time, value), windows of 4: 3 train, 1 test"

    last = read("csv", tmp_path, path="s.csv", window=4, stride=1, test=0, predict="last")
    assert last.test is None and last.train.inputs[0].shape == (16, 4, 2) and last.train.targets.shape == (16, 2)
    assert np.array_equal(last.train.targets[:, 1], 10 * np.arange(4, 20))


def test_tsv_without_a_header(tmp_path):
    (tmp_path / "s.tsv").write_text("".join(f"{t}\t{-t}\t1e-3\n" for t in range(12)))
    d = read("tsv", tmp_path, path="s.tsv", window=3, test=0)
    assert d.train.inputs[0].shape == (3, 3, 3) and d.train.targets[0, -1, 1] == -3


@pytest.mark.parametrize("text, args, message", [
    ("a,b\n1,2\n3,x\n", {}, "s.csv:3: column 2 (`b`): `x` is not a number"),
    ("1,2\n3,4\n\n5\n", {}, "s.csv:4: 1 columns, but the first row has 2"),
    ("1,2\n3,\n", {}, "s.csv:2: column 2 is empty"),
    ("1,2\n3,nan\n", {}, "s.csv:2: column 2: nan is not a finite number"),
    ("1,2\n3,1e60\n", {}, "s.csv: row 2 of the numbers has a value beyond float32's range"),
    ("a,b\n", {}, "s.csv: no rows of numbers"),
    ("1\n2\n3\n", {"window": 3, "test": 0},
     "s.csv: the training rows (the first 3) are too few for a window of 3 steps"),
    ("1\n2\n3\n4\n5\n", {"window": 2, "test": 0.4},
     "s.csv: the test rows (the last 2, test=0.4) are too few for a window of 2 steps and the step after it"),
    ("1\n2\nHUGE\n", {}, "s.csv:3: field larger than field limit"),
])
def test_csv_data_errors(tmp_path, text, args, message):
    (tmp_path / "s.csv").write_text(text.replace("HUGE", "3" * 200_000))  # beyond the csv module's limit
    got = data_error(read, "csv", tmp_path, path="s.csv", **{"window": 1, "test": 0, **args})
    assert got.startswith(message.replace("s.csv", str(tmp_path / "s.csv"))), got


def test_text_file_errors(tmp_path):
    (tmp_path / "s.csv").write_bytes(b"1,2\n3,\xff\n")
    assert data_error(read, "csv", tmp_path, path="s.csv") == f"{tmp_path / 's.csv'}:2: not UTF-8 text"
    assert data_error(read, "csv", tmp_path, path="none.csv") == f"{tmp_path / 'none.csv'}: no such file"


# ---------------------------------------------------------------- files: where, what and how large


RULE = ("a data path is relative to the spec's folder and stays inside it: put the data in or under that folder "
        "(a symbolic link made there is followed)")


@pytest.mark.parametrize("source, args, message", [
    ("npz", {"path": "/etc/x.npz"}, f'argument `path` of `npz` names an absolute path, "/etc/x.npz": {RULE}'),
    ("csv", {"path": "/etc/passwd", "delimiter": ":"},
     f'argument `path` of `csv` names an absolute path, "/etc/passwd": {RULE}'),
    ("npz", {"path": "../outside/x.npz"},
     f'argument `path` of `npz` names a path that leaves the spec\'s folder (`..`), "../outside/x.npz": {RULE}'),
    ("npz", {"path": "d.npz", "test": "data/../../t.npz"}, "argument `test` of `npz` names a path that leaves"),
    ("npy", {"inputs": "x.npy, ../m.npy", "targets": "y.npy"},
     'argument `inputs` of `npy` names a path that leaves the spec\'s folder (`..`), "../m.npy"'),
    ("pairs", {"path": "p.tsv", "source_vocabulary": "/v.json"}, "argument `source_vocabulary` of `pairs` names an "
                                                                 "absolute path"),
    ("jsonl", {"path": "a\0b"}, 'argument `path` of `jsonl` names a path with a NUL character, "a\\u0000b"'),
])
def test_data_paths_stay_inside_the_specs_folder(source, args, message):
    messages = check_args(source, args)
    assert len(messages) == 1 and messages[0].startswith(message), messages
    assert data_error(load, source, args, base=".", seed=0).startswith(message)


def test_data_paths_inside_the_folder_and_links_made_there(tmp_path):
    (tmp_path / "data" / "sub").mkdir(parents=True)
    np.savez(tmp_path / "data" / "sub" / "d.npz", x=X, y=Y)
    assert check_args("npz", {"path": "./data/sub/d.npz"}) == []
    assert read("npz", tmp_path, path="data/sub/d.npz").train.size == 4
    outside = tmp_path / "outside"
    outside.mkdir()
    np.savez(outside / "o.npz", x=X[:3], y=Y[:3])
    spec_folder = tmp_path / "spec"
    spec_folder.mkdir()
    (spec_folder / "o.npz").symlink_to(outside / "o.npz")  # the user's own link is followed
    assert read("npz", spec_folder, path="o.npz").train.size == 3


def _fifo_read(tmp_path, source, **args):
    """The message of reading a FIFO; it must come at once, not wait for a writer."""
    import threading

    os.mkfifo(tmp_path / "fifo")
    found = []
    thread = threading.Thread(target=lambda: found.append(data_error(read, source, tmp_path, **args)), daemon=True)
    thread.start()
    thread.join(20)
    if thread.is_alive():  # unblock it before failing
        with open(tmp_path / "fifo", "wb"):
            pass
        pytest.fail(f"{source}: reading a FIFO waits for a writer")
    return found[0]


NOT_REGULAR = "not a regular file (a pipe, a device or a socket): data is read from files only"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs")
def test_only_regular_files_are_read(tmp_path):
    assert _fifo_read(tmp_path, "npz", path="fifo") == f"{tmp_path / 'fifo'}: {NOT_REGULAR}"
    (tmp_path / "fifo").unlink()
    assert _fifo_read(tmp_path, "jsonl", path="fifo") == f"{tmp_path / 'fifo'}: {NOT_REGULAR}"
    if os.path.exists("/dev/zero"):
        (tmp_path / "zero.npy").symlink_to("/dev/zero")
        assert data_error(read, "npy", tmp_path, inputs="zero.npy", targets="zero.npy") == (
            f"{tmp_path / 'zero.npy'}: {NOT_REGULAR}")
        (tmp_path / "zero.csv").symlink_to("/dev/zero")
        assert data_error(read, "csv", tmp_path, path="zero.csv") == f"{tmp_path / 'zero.csv'}: {NOT_REGULAR}"
    (tmp_path / "folder.csv").mkdir()
    assert data_error(read, "csv", tmp_path, path="folder.csv") == f"{tmp_path / 'folder.csv'}: a folder, not a file"
    (tmp_path / "dangling.csv").symlink_to(tmp_path / "nowhere.csv")
    assert data_error(read, "csv", tmp_path, path="dangling.csv") == f"{tmp_path / 'dangling.csv'}: no such file"


def test_files_larger_than_the_limit_are_refused(tmp_path, monkeypatch):
    assert (files.MAX_TEXT_BYTES, files.MAX_ARRAY_BYTES) == (256 * 2 ** 20, 2 * 2 ** 30)
    (tmp_path / "s.csv").write_text("1\n" * 600)
    np.savez_compressed(tmp_path / "d.npz", x=np.zeros((40, 5, 2)), y=np.zeros((40, 1)))  # 3.3 KiB unpacked
    np.save(tmp_path / "x.npy", np.zeros((40, 5, 2)))
    monkeypatch.setattr(files, "MAX_TEXT_BYTES", 1000)
    monkeypatch.setattr(files, "MAX_ARRAY_BYTES", 2000)
    assert data_error(read, "csv", tmp_path, path="s.csv") == (
        f"{tmp_path / 's.csv'}: larger than 1000 bytes, the most a data file of its kind may hold")
    assert data_error(read, "npy", tmp_path, inputs="x.npy", targets="x.npy") == (
        f"{tmp_path / 'x.npy'}: larger than 1.95 KiB, the most a data file of its kind may hold")
    assert data_error(read, "npz", tmp_path, path="d.npz") == (  # the file fits, its arrays do not
        f"{tmp_path / 'd.npz'}: array `x`: larger than 1.95 KiB, the most a data file of its kind may hold, all its "
        "arrays together")


def _npy_header(shape, descr="<f8") -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def test_an_npy_header_is_checked_before_anything_is_allocated(tmp_path):
    """A tiny file whose header claims 25 TiB is refused from its size, in an .npy file and in an .npz member."""
    huge = _npy_header((2 ** 22, 2 ** 22, 2 ** 0, 2))
    (tmp_path / "huge.npy").write_bytes(huge + b"\0" * 16)
    np.save(tmp_path / "y.npy", np.zeros((4, 1)))
    claim = "its header says shape (4194304, 4194304, 1, 2) of float64, 256 TiB, but the file holds 16 bytes after it"
    assert data_error(read, "npy", tmp_path, inputs="huge.npy", targets="y.npy") == (
        f"{tmp_path / 'huge.npy'}: {claim}: it is cut short or damaged")
    import zipfile

    with zipfile.ZipFile(tmp_path / "d.npz", "w") as archive:
        archive.writestr("x.npy", huge + b"\0" * 16)
        archive.writestr("y.npy", (tmp_path / "y.npy").read_bytes())
    assert data_error(read, "npz", tmp_path, path="d.npz") == (
        f"{tmp_path / 'd.npz'}: array `x`: {claim}: it is cut short or damaged")
    whole = (tmp_path / "y.npy").read_bytes()
    for name, content, reason in [
        ("cut.npy", whole[:-8], "its header says shape (4, 1) of float64, 32 bytes, but the file holds 24 bytes"),
        ("header.npy", whole[:10] + b"{'descr': 'root:x:0:0:root:/root:/bin/bash'" + whole[52:],
         "not a NumPy array: its .npy header is damaged"),
        ("version.npy", whole[:6] + bytes([3, 0]) + whole[8:],
         "an .npy format version 3.0, which rnndsl does not read"),
        ("negative.npy", _npy_header((-4, 1)), "not a NumPy array: its .npy header gives a negative size"),
        ("empty.npy", b"", "not a NumPy file: neither an .npy array nor an .npz archive"),
    ]:
        (tmp_path / name).write_bytes(content)
        got = data_error(read, "npy", tmp_path, inputs=name, targets="y.npy")
        assert got.startswith(f"{tmp_path / name}: {reason}"), got
        assert "bin/bash" not in got
    with zipfile.ZipFile(tmp_path / "bad.npz", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("y.npy", whole)
    damaged = bytearray((tmp_path / "bad.npz").read_bytes())
    damaged[40:60] = b"\xff" * 20  # inside the deflated member
    (tmp_path / "bad.npz").write_bytes(bytes(damaged))
    got = data_error(read, "npz", tmp_path, path="bad.npz", inputs="y")
    assert got.startswith(f"{tmp_path / 'bad.npz'}: "), got


def test_messages_quote_at_most_a_short_cell_of_a_file(tmp_path):
    """Never whole lines: a bad value is cut to 20 characters."""
    (tmp_path / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n"
                                     "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n")
    got = data_error(read, "csv", tmp_path, path="passwd", delimiter=":")
    assert got == f"{tmp_path / 'passwd'}:2: column 1 (`root`): `daemon` is not a number", got
    (tmp_path / "long.csv").write_text("a,b\n1,2\n3," + "secret " * 30 + "\n")
    assert data_error(read, "csv", tmp_path, path="long.csv") == (
        f"{tmp_path / 'long.csv'}:3: column 2 (`b`): `secret secret secre…` is not a number")
    (tmp_path / "head.csv").write_text("t," + "h" * 100 + "\n1,x\n")
    assert data_error(read, "csv", tmp_path, path="head.csv") == (
        f"{tmp_path / 'head.csv'}:2: column 2 (`{'h' * 19}…`): `x` is not a number")
    Vocabulary.build([["a"]]).save(tmp_path / "v.json")
    (tmp_path / "p.tsv").write_text("a " + "q" * 80 + "\tx\n")
    assert data_error(read, "pairs", tmp_path, path="p.tsv", source_vocabulary="v.json") == (
        f"{tmp_path / 'p.tsv'}:1: source token `{'q' * 19}…` is not in the vocabulary {tmp_path / 'v.json'}")
    (tmp_path / "twice.json").write_text(json.dumps({"tokens": list(containers.SPECIALS) + ["w" * 50] * 2}))
    assert data_error(Vocabulary.load, tmp_path / "twice.json") == (
        f"{tmp_path / 'twice.json'}: not a vocabulary: token `{'w' * 19}…` is in the vocabulary twice")
    np.savez(tmp_path / "many.npz", **{f"array_with_a_long_name_{i}": np.zeros(2) for i in range(12)})
    assert data_error(read, "npz", tmp_path, path="many.npz") == (
        f"{tmp_path / 'many.npz'}: no array `x` (it has " + ", ".join(["array_with_a_long_n…"] * 8) + " and 4 more)")


def test_numbers_beyond_range_in_arguments_and_memory():
    assert check_args("mackey_glass", {"tau": 10 ** 400}) == [
        f"argument `tau` of `mackey_glass` must be a finite number, not 1{'0' * 22}…"]
    assert check_args("mackey_glass", {"tau": float("inf")}) == [
        "argument `tau` of `mackey_glass` must be a finite number, not inf"]
    assert check_args("adding", {"train": 2 ** 40}) == [
        "argument `train` of `adding` must be at most 2147483647, not 1099511627776"]


def test_running_out_of_memory_is_a_data_error(monkeypatch):
    def greedy(base, seed):
        raise MemoryError("Unable to allocate 25.0 TiB for an array with shape (4194304, 4194304) and data type "
                          "float64")

    monkeypatch.setitem(sources.SOURCES, "greedy", sources.Source("greedy", (), "a test", greedy))
    assert data_error(gen, "greedy") == ("`greedy`: not enough memory for the data: Unable to allocate 25.0 TiB for "
                                         "an array with shape (4194304, 4194304) and data type float64")


# ---------------------------------------------------------------- pairs


PAIRS = "a b c\tx y\nb c\tz\n\nc\tx x z\n"


def test_pairs_for_teacher_forcing(tmp_path):
    (tmp_path / "p.tsv").write_text(PAIRS)
    (tmp_path / "t.tsv").write_text("a d\tw x\n")
    d = read("pairs", tmp_path, path="p.tsv", test="t.tsv")
    src_vocab, tgt_vocab = d.source_vocabulary, d.target_vocabulary
    assert src_vocab.tokens == containers.SPECIALS + ("c", "b", "a")
    assert tgt_vocab.tokens == containers.SPECIALS + ("x", "z", "y")
    (src, dec), y, w = d.train.inputs, d.train.targets, d.train.sample_weight
    assert src.shape == (3, 3) and y.shape == dec.shape == w.shape == (3, 4)
    lines = [line.split("\t") for line in PAIRS.splitlines() if line]
    for i, (source, target) in enumerate(lines):
        assert src_vocab.decode(src[i], strip=True) == source.split()
        assert tgt_vocab.decode(y[i], strip=True) == target.split()
        assert y[i, len(target.split())] == containers.END and dec[i, 0] == containers.START
        assert np.array_equal(dec[i, 1:], np.where(y[i, :-1] == containers.END, containers.PAD, y[i, :-1]))
        assert w[i].sum() == len(target.split()) + 1 and (w[i] == (y[i] != 0)).all()
    assert src_vocab.decode(d.test.inputs[0][0], strip=True) == ["a", "<unk>"]  # d: not in the training pairs
    assert d.description == "p.tsv: 3 pairs, test t.tsv: 1; vocabularies of 7 source and 7 target tokens"


def test_pairs_with_saved_vocabularies(tmp_path):
    (tmp_path / "p.tsv").write_text(PAIRS)
    built = read("pairs", tmp_path, path="p.tsv")
    built.source_vocabulary.save(tmp_path / "src.json")
    built.target_vocabulary.save(tmp_path / "tgt.json")
    again = read("pairs", tmp_path, path="p.tsv", source_vocabulary="src.json", target_vocabulary="tgt.json")
    assert again.source_vocabulary == built.source_vocabulary and same(again, built)
    (tmp_path / "q.tsv").write_text("a b\tx\nc q\ty\n")
    assert data_error(read, "pairs", tmp_path, path="q.tsv", source_vocabulary="src.json") == (
        f"{tmp_path / 'q.tsv'}:2: source token `q` is not in the vocabulary {tmp_path / 'src.json'}")


@pytest.mark.parametrize("text, message", [
    ("a b\tx\na b c\n", "p.tsv:2: expected `source<TAB>target`, found no tab"),
    ("a\tb\tc\n", "p.tsv:1: expected `source<TAB>target`, found 2 tabs"),
    ("a b\t \n", "p.tsv:1: the target is empty"),
    ("\n\n", "p.tsv: no sentence pairs"),
])
def test_pairs_data_errors(tmp_path, text, message):
    (tmp_path / "p.tsv").write_text(text)
    assert data_error(read, "pairs", tmp_path, path="p.tsv") == message.replace("p.tsv", str(tmp_path / "p.tsv"))


# ---------------------------------------------------------------- jsonl


def _jsonl(tmp_path, name, *lines):
    (tmp_path / name).write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n"
                                         for line in lines))


def test_jsonl_classification_with_named_classes(tmp_path):
    _jsonl(tmp_path, "train.jsonl", {"tokens": ["a", "good", "film"], "label": "pos"},
           {"tokens": "a bad one", "label": "neg"}, "", {"tokens": ["good"], "label": "pos", "id": 3})
    _jsonl(tmp_path, "test.jsonl", {"tokens": ["good", "plot"], "label": "neg"})
    d = read("jsonl", tmp_path, path="train.jsonl", test="test.jsonl")
    assert d.classes == ("neg", "pos") and np.array_equal(d.train.targets, [1, 0, 1])
    (x,) = d.train.inputs
    assert x.dtype == np.int32 and x.shape == (3, 3) and d.train.sample_weight is None
    assert d.source_vocabulary.decode(x[0]) == ["a", "good", "film"]
    assert d.source_vocabulary.decode(x[2])[1:] == ["<pad>"] * 2
    assert d.source_vocabulary.decode(d.test.inputs[0][0], strip=True) == ["good", "<unk>"]
    assert d.description == "train.jsonl: 3 sequences, test test.jsonl: 1, 9 tokens in the vocabulary, 2 classes"


def test_jsonl_integer_labels_and_tags_per_token(tmp_path):
    _jsonl(tmp_path, "c.jsonl", {"tokens": ["x"], "label": True}, {"tokens": ["y", "x"], "label": 0})
    d = read("jsonl", tmp_path, path="c.jsonl")
    assert d.classes == () and np.array_equal(d.train.targets, [1, 0])
    _jsonl(tmp_path, "t.jsonl", {"words": ["the", "dog"], "tags": ["DET", "NOUN"]},
           {"words": ["dogs", "bark", "loud"], "tags": ["NOUN", "VERB", "ADV"]})
    d = read("jsonl", tmp_path, path="t.jsonl", field="words", label="tags")
    assert d.classes == ("ADV", "DET", "NOUN", "VERB")
    assert np.array_equal(d.train.targets, [[1, 2, 0], [2, 3, 0]])
    assert np.array_equal(d.train.sample_weight, [[1, 1, 0], [1, 1, 1]])


@pytest.mark.parametrize("lines, message", [
    (['{"tokens": ["a"], "label": 1}', '{"tokens": ["a"], "label": 1'],
     "j.jsonl:2: not JSON: Expecting ',' delimiter (column 29)"),
    (["[1, 2]"], "j.jsonl:1: expected a JSON object, found list"),
    ([{"tokens": ["a"]}], "j.jsonl:1: no field `label`"),
    ([{"tokens": [1, 2], "label": 0}], "j.jsonl:1: `tokens` must be a list of strings (or one string of tokens)"),
    ([{"tokens": [], "label": 0}], "j.jsonl:1: `tokens` has no tokens"),
    ([{"tokens": ["a"], "label": -2}], "j.jsonl:1: `label` must be a class, a string or an integer from 0 to "
                                       "2147483647, or a list of classes, one per token; not -2"),
    ([{"tokens": ["a"], "label": 0.5}], "j.jsonl:1: `label` must be a class, a string or an integer from 0 to"),
    ([{"tokens": ["a"], "label": 2 ** 40}], "j.jsonl:1: `label` must be a class, a string or an integer from 0 to"),
    ([{"tokens": ["a"], "label": {"text": "x" * 500}}],
     'j.jsonl:1: `label` must be a class, a string or an integer from 0 to 2147483647, or a list of classes, one '
     'per token; not {"text": "xxxxxxxxx…'),
    (["[" * 100_000], "j.jsonl:1: not JSON that rnndsl reads: nested too deeply"),
    ([{"tokens": ["a", "b"], "label": ["X"]}], "j.jsonl:1: 1 labels for 2 tokens"),
    ([{"tokens": ["a"], "label": 0}, {"tokens": ["b"], "label": "pos"}],
     "j.jsonl:2: `label` is strings, but line 1's is integers"),
    ([{"tokens": ["a", "b"], "label": ["X", 1]}], "j.jsonl:1: `label` mixes strings and integers"),
    ([], "j.jsonl: no examples"),
])
def test_jsonl_data_errors(tmp_path, lines, message):
    _jsonl(tmp_path, "j.jsonl", *lines)
    got = data_error(read, "jsonl", tmp_path, path="j.jsonl")
    assert got.startswith(message.replace("j.jsonl", str(tmp_path / "j.jsonl"))), got


def test_jsonl_test_labels_and_saved_vocabulary_errors(tmp_path):
    _jsonl(tmp_path, "a.jsonl", {"tokens": ["a"], "label": "pos"})
    _jsonl(tmp_path, "b.jsonl", {"tokens": ["a"], "label": "pos"}, {"tokens": ["a"], "label": "meh"})
    assert data_error(read, "jsonl", tmp_path, path="a.jsonl", test="b.jsonl") == (
        f'{tmp_path / "b.jsonl"}:2: label "meh" is not among the training labels')
    Vocabulary.build([["b"]]).save(tmp_path / "v.json")
    assert data_error(read, "jsonl", tmp_path, path="a.jsonl", vocabulary="v.json") == (
        f"{tmp_path / 'a.jsonl'}:1: token `a` is not in the vocabulary {tmp_path / 'v.json'}")


# ---------------------------------------------------------------- Vocabulary


def test_vocabulary_build_encode_decode_save_load(tmp_path):
    v = Vocabulary.build([["b", "a", "b"], ["c", "a", "b", "<s>"]])
    assert v.tokens == ("<pad>", "<unk>", "<s>", "</s>", "b", "a", "c") and len(v) == 7
    assert v.encode(["a", "zzz", "c"]) == [5, 1, 6] and "a" in v and "zzz" not in v
    assert v.decode([2, 4, 5, 3, 6, 0]) == ["<s>", "b", "a", "</s>", "c", "<pad>"]
    assert v.decode([2, 4, 5, 3, 6, 0], strip=True) == ["b", "a"]
    v.save(tmp_path / "v.json")
    assert Vocabulary.load(tmp_path / "v.json") == v
    assert Vocabulary.build([["a", "b", "b"]], min_count=2).tokens == containers.SPECIALS + ("b",)


@pytest.mark.parametrize("text, message", [
    ('{"tokens": ["a"]}', "not a vocabulary: a vocabulary starts with <pad>, <unk>, <s>, </s>"),
    ('["<pad>"]', 'not a vocabulary: expected {"tokens": [...]}'),
    ('{"tokens": ["<pad>", "<unk>", "<s>", "</s>", "a", "a"]}',
     "not a vocabulary: token `a` is in the vocabulary twice"),
    ("{", "not JSON: Expecting property name enclosed in double quotes"),
])
def test_vocabulary_load_errors(tmp_path, text, message):
    (tmp_path / "v.json").write_text(text)
    assert message in data_error(Vocabulary.load, tmp_path / "v.json")


# ---------------------------------------------------------------- hold_out


def test_hold_out_is_a_deterministic_partition():
    split = gen("adding", steps=4, train=20, test=0).train
    train, validation = hold_out(split, 0.25, seed=1)
    assert (train.size, validation.size) == (15, 5)
    rows = np.concatenate([train.inputs[0], validation.inputs[0]]).reshape(20, -1)
    assert len(np.unique(rows, axis=0)) == 20
    assert set(map(bytes, rows)) == set(map(bytes, split.inputs[0].reshape(20, -1)))
    again, _ = hold_out(split, 0.25, seed=1)
    other, _ = hold_out(split, 0.25, seed=2)
    assert np.array_equal(again.targets, train.targets) and not np.array_equal(other.targets, train.targets)
    weighted = gen("copy", length=2, delay=2, train=4, test=0).train
    kept, held = hold_out(weighted, 0.01, seed=0)
    assert held.size == 1 and kept.sample_weight.shape == (3, 6)


def test_hold_out_errors():
    one = gen("mackey_glass", steps=250, test=0, washout=0).train
    assert data_error(hold_out, one, 0.1, 0) == "cannot hold out a validation split from 1 example"
    assert data_error(hold_out, one, 1.0, 0) == "a validation fraction is between 0 and 1, not 1.0"


# ---------------------------------------------------------------- check_fits


def test_check_fits_accepts_data_that_fits():
    adding = gen("adding", steps=10, train=4, test=0).train
    check_fits(adding, [(None, None, 2)], (None, 1))
    check_fits(adding, [(None, 10, 2)], (None, 1), names=["x"])
    dates = gen("dates", train=4, test=0).train
    check_fits(dates, [(None, None), (None, None)], (None, None, 15))
    check_fits(gen("reber", train=4, test=0).train, [(None, None, 7)], (None, None, 7))
    check_fits(gen("speech", train=4, test=0).train, [(None, None, 12)], (None, None, 9))
    check_fits(Split((np.zeros((2, 3), "int32"),), np.array([0, 1], "int32")), [(None, None)], (None, 1))


@pytest.mark.parametrize("inputs, target, names, message", [
    ([(None, None, 3)], (None, 1), ["x"], "training data: input `x` has shape (4, 10, 2), the model's is "
                                          "(None, None, 3): 2 features, not 3"),
    ([(None, 12, 2)], (None, 1), [], "training data: input 1 has shape (4, 10, 2), the model's is (None, 12, 2): "
                                     "10 steps, not 12"),
    ([(None, 2)], (None, 1), [],
     "training data: input 1 has shape (4, 10, 2), the model's is (None, 2): rank 3, not 2"),
    ([(None, None, 2), (None, None)], (None, 1), ["x", "m"],
     "training data has 1 input array, the model 2 inputs (`x`, `m`)"),
    ([(None, None, 2)], (None, None, 1), [], "training data: the targets have shape (4, 1), the model's output "
                                             "(None, None, 1): rank 2, not 3"),
    ([(None, None, 2)], (None, 3), [], "training data: the targets have shape (4, 1), the model's output (None, 3): "
                                       "1 features, not 3"),
])
def test_check_fits_errors(inputs, target, names, message):
    adding = gen("adding", steps=10, train=4, test=0).train
    assert data_error(check_fits, adding, inputs, target, names=names, what="training data") == message


def test_check_fits_class_ids_within_the_output():
    digits = Split((np.zeros((3, 8, 8), "float32"),), np.array([0, 9, 4], "int32"))
    check_fits(digits, [(None, 8, 8)], (None, 10))
    assert data_error(check_fits, digits, [(None, 8, 8)], (None, 5)) == (
        "the data: the targets have shape (3,), the model's output (None, 5): class id 9, but the output has "
        "5 classes (ids 0 to 4)")
    assert data_error(check_fits, digits, [(None, 8, 8)], (None, 1)) == (
        "the data: the targets have shape (3,), the model's output (None, 1): class id 9, but one logistic output "
        "takes 0 or 1")


# ---------------------------------------------------------------- load's own checks


def test_load_checks_what_a_source_returns(monkeypatch):
    def empty(base, seed):
        return Data(Split((np.zeros((0, 2), "float32"),), np.zeros((0,), "float32")), None, None)

    def nan(base, seed):
        return Data(Split((np.zeros((2, 2), "float32"),), np.array([0.0, np.nan], "float32")), None, None)

    def uneven(base, seed):
        return Data(Split((np.zeros((3, 2), "float32"),), np.zeros((2,), "float32")), None, None)

    for fn, message in ((empty, "`fake`: the train split is empty: no examples"),
                        (nan, "`fake`: the train split: the targets has NaN or infinity, first at [1]"),
                        (uneven, "`fake`: the train split: input 1 has 3 examples, the targets 2")):
        monkeypatch.setitem(sources.SOURCES, "fake", sources.Source("fake", (), "a test", fn))
        assert data_error(gen, "fake") == message


def test_param_and_required_are_public():
    assert repr(REQUIRED) == "REQUIRED"
    assert Param("n", "int").default is REQUIRED
