"""The tasks of memory-augmented networks (rnndsl.train.algorithmic): their layout, example by example."""

from __future__ import annotations

import numpy as np

from helpers import data_error, diagnostics
from rnndsl.train.sources import load


def _examples(split):
    for x, y, w in zip(split.inputs[0], split.targets, split.sample_weight):
        yield x, y, w


def test_copy_bits_writes_the_sequence_back_after_the_delimiter():
    data = load("copy_bits", {"bits": 6, "min_length": 2, "max_length": 5, "train": 50, "test": 20,
                              "test_min_length": 8, "test_max_length": 9}, base=".", seed=3)
    assert data.train.inputs[0].shape == (50, 11, 7) and data.train.targets.shape == (50, 11, 6)
    assert data.test.inputs[0].shape == (20, 19, 7)
    seen = set()
    for split, (low, high) in ((data.train, (2, 5)), (data.test, (8, 9))):
        for x, y, w in _examples(split):
            length = int(np.argmax(x[:, 6]))  # the delimiter's step
            seen.add(length)
            assert low <= length <= high and x[length, 6] == 1 and x[:, 6].sum() == 1
            np.testing.assert_array_equal(y[length + 1:2 * length + 1], x[:length, :6])
            assert w.sum() == length and w[length + 1:2 * length + 1].all()
            assert not x[length + 1:].any() and not y[:length + 1].any()
    assert seen == {2, 3, 4, 5, 8, 9}
    again = load("copy_bits", {"bits": 6, "min_length": 2, "max_length": 5, "train": 50, "test": 20,
                               "test_min_length": 8, "test_max_length": 9}, base=".", seed=3)
    np.testing.assert_array_equal(again.train.inputs[0], data.train.inputs[0])


def test_repeat_copy_writes_the_copies_then_the_end_marker():
    data = load("repeat_copy", {"bits": 4, "max_length": 3, "min_repeats": 1, "max_repeats": 4, "train": 40,
                                "test": 10, "test_min_repeats": 6, "test_max_repeats": 6}, base=".", seed=1)
    counts = np.arange(1, 5)
    for split in (data.train, data.test):
        for x, y, w in _examples(split):
            length = int(np.argmax(x[:, 4]))
            times = int(round(x[length, 5] * counts.std() + counts.mean()))  # normalised by the training range
            assert 1 <= length <= 3
            end = length + 1 + times * length
            np.testing.assert_array_equal(y[length + 1:end, :4], np.tile(x[:length, :4], (times, 1)))
            assert y[end, 4] == 1 and y[:, 4].sum() == 1
            assert w.sum() == times * length + 1 and w[length + 1:end + 1].all()
    assert {int(round(x[int(np.argmax(x[:, 4])), 5] * counts.std() + counts.mean()))
            for x in data.test.inputs[0]} == {6}


def test_repeat_copy_of_several_problems_puts_them_one_after_another():
    data = load("repeat_copy", {"bits": 4, "max_length": 3, "max_repeats": 2, "episodes": 3, "train": 30,
                                "test": 0}, base=".", seed=5)
    assert data.train.inputs[0].shape == (30, 3 * (3 + 2 + 2 * 3), 6)
    counts = np.arange(1, 3)
    for x, y, w in _examples(data.train):
        start, done = 0, 0
        while done < 3:
            length = int(np.argmax(x[start:, 4]))  # this problem's delimiter, counted from its start
            times = int(round(x[start + length, 5] * counts.std() + counts.mean()))
            first, end = start + length + 1, start + length + 1 + times * length
            np.testing.assert_array_equal(y[first:end, :4], np.tile(x[start:start + length, :4], (times, 1)))
            assert y[end, 4] == 1 and w[first:end + 1].all() and not w[start:first].any()
            start, done = end + 1, done + 1
        assert not x[start:].any() and not w[start:].any() and y[:, 4].sum() == 3
    assert "3 problems a sequence" in data.description


def test_reversal_writes_the_symbols_back_in_reverse_order():
    args = {"symbols": 5, "min_length": 2, "max_length": 6, "train": 60, "test": 10, "test_min_length": 9,
            "test_max_length": 9}
    data = load("reversal", args, base=".", seed=2)
    assert data.train.inputs[0].shape == (60, 13, 6) and data.train.targets.shape == (60, 13)
    assert data.test.inputs[0].shape == (10, 19, 6) and data.train.targets.dtype == np.int32
    seen = set()
    for split in (data.train, data.test):
        for x, y, w in _examples(split):
            length = int(np.argmax(x[:, 5]))  # the delimiter's step
            seen.add(length)
            symbols = x[:length, :5].argmax(axis=1)
            assert (x[:length, :5].sum(axis=1) == 1).all() and x[:, 5].sum() == 1
            np.testing.assert_array_equal(y[length + 1:2 * length + 1], symbols[::-1])
            assert w.sum() == length and w[length + 1:2 * length + 1].all()
            assert not x[length + 1:].any()
    assert seen == {2, 3, 4, 5, 6, 9}
    assert "reversal of 5 symbols, lengths 2-6 (test 9-9)" in data.description
    assert data_error(load, "reversal", {"min_length": 9, "max_length": 3}, base=".", seed=0) == \
        "`reversal`: `min_length` (9) is above `max_length` (3)"


def test_copy_task_arguments_are_checked():
    assert data_error(load, "copy_bits", {"min_length": 5, "max_length": 3}, base=".", seed=0) == \
        "`copy_bits`: `min_length` (5) is above `max_length` (3)"
    assert data_error(load, "copy_bits", {"test_min_length": 30, "test_max_length": 25}, base=".", seed=0) == \
        "`copy_bits`: the test's length, 30 to 25, is an empty range"
    assert data_error(load, "repeat_copy", {"max_length": 1000, "max_repeats": 1000}, base=".", seed=0) == \
        "`repeat_copy`: sequences of 1001002 steps: at most 100000"
    assert data_error(load, "copy_bits", {"max_length": 1000, "train": 100_000}, base=".", seed=0) == \
        "`copy_bits`: a split of 2001000000 numbers: at most 268435456 (fewer examples, or shorter ones)"


def test_check_reads_the_copy_tasks_arguments():
    spec = ('import "std/lstm.rnn"\nnetwork N {\n    input x: seq[9]\n'
            '    output Dense(8, activation=sigmoid)(LSTM(16)(x))\n    train {\n'
            '        data = copy_bits(max_lenght=20)\n        loss = binary_cross_entropy\n    }\n}\n')
    assert diagnostics(spec).startswith("error[E0805]: data source `copy_bits` has no argument `max_lenght`\n")
    assert "= note: did you mean `max_length`?" in diagnostics(spec)
