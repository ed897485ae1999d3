"""algorithmic: the tasks of memory-augmented networks, generated (Graves, Wayne & Danihelka 2014).

- `copy_bits`: a sequence of random bit vectors, then a delimiter; the network must write the
  sequence back while it reads nothing;
- `repeat_copy`: the same, with the number of copies to write given at the delimiter, and an end
  marker to emit after the last copy;
- `reversal`: symbols, then a delimiter; the network writes them back in reverse order (the neural
  stack's task, Grefenstette et al. 2015).

Each split's sequences have lengths (and repeat counts) drawn uniformly from a range; they are
padded to the longest the range allows, and the sample weights mark the steps where an answer is
due (1) against the others (0), so that the loss, `wrong_bits` and `sequence_accuracy` read the
answer alone. The test split may draw from a range of its own: the copy of sequences longer than
any seen in training is the test of generalisation. NumPy only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from .containers import Split
from .generators import draw_order, generated_data

__all__ = ["copy_bits", "repeat_copy", "reversal", "copy_bits_problem", "repeat_copy_problem", "reversal_problem",
           "ALGORITHMIC"]


def copy_bits_problem(rng: np.random.Generator, n: int, bits: int, lengths: tuple) -> Split:
    """n copy examples of lengths in `lengths` (low, high), padded to the layout of the longest, `most`.

    inputs float32 `(n, 2 * most + 1, bits + 1)`: the L vectors, then the delimiter on channel `bits`,
    then zeros; targets float32 `(n, 2 * most + 1, bits)`: the L vectors at steps L + 1 to 2L, 0
    elsewhere; sample weights `(n, 2 * most + 1)`: 1 at those steps."""
    steps = 2 * lengths[1] + 1
    x = np.zeros((n, steps, bits + 1), "float32")
    y = np.zeros((n, steps, bits), "float32")
    w = np.zeros((n, steps), "float32")
    for i, length in enumerate(rng.integers(lengths[0], lengths[1] + 1, size=n)):
        seq = rng.integers(0, 2, size=(length, bits)).astype("float32")
        x[i, :length, :bits] = seq
        x[i, length, bits] = 1.0
        y[i, length + 1:2 * length + 1] = seq
        w[i, length + 1:2 * length + 1] = 1.0
    return Split((x,), y, w)


def repeat_copy_problem(rng: np.random.Generator, n: int, bits: int, lengths: tuple, repeats: tuple,
                        normal: Optional[tuple] = None, episodes: int = 1) -> Split:
    """n repeat-copy examples: lengths in `lengths`, repeat counts in `repeats` (each (low, high)), each example
    `episodes` problems one after another, padded at the end to the layout of the longest.

    One problem: the L vectors, then at step L the delimiter (channel `bits`) and the repeat count on channel
    `bits + 1`, normalised to mean 0 and variance 1 over the uniform counts of `normal` (the training range;
    `repeats` by default), as Graves et al. present it; then R copies of the sequence from step L + 1, and the
    end marker (channel `bits`) at step L + 1 + R L: L + 2 + R L steps, the next problem's first vector right
    after the end marker. inputs float32 `(n, T, bits + 2)` and targets `(n, T, bits + 1)`, T = `episodes` (L_most
    + 2 + R_most L_most); sample weights 1 at the answers' steps (the copies and the end markers)."""
    longest, most_repeats = lengths[1], repeats[1]
    steps = episodes * (longest + 2 + most_repeats * longest)
    low, high = normal or repeats
    counts = np.arange(low, high + 1)
    mean, std = counts.mean(), counts.std() or 1.0
    x = np.zeros((n, steps, bits + 2), "float32")
    y = np.zeros((n, steps, bits + 1), "float32")
    w = np.zeros((n, steps), "float32")
    lengths_drawn = rng.integers(lengths[0], lengths[1] + 1, size=(n, episodes))
    repeats_drawn = rng.integers(repeats[0], repeats[1] + 1, size=(n, episodes))
    for i in range(n):
        start = 0
        for length, times in zip(lengths_drawn[i], repeats_drawn[i]):
            seq = rng.integers(0, 2, size=(length, bits)).astype("float32")
            x[i, start:start + length, :bits] = seq
            x[i, start + length, bits] = 1.0
            x[i, start + length, bits + 1] = (times - mean) / std
            first, end = start + length + 1, start + length + 1 + times * length
            y[i, first:end, :bits] = np.tile(seq, (times, 1))
            y[i, end, bits] = 1.0
            w[i, first:end + 1] = 1.0
            start = end + 1
    return Split((x,), y, w)


def _ranges(low: int, high: int, test_low: Optional[int], test_high: Optional[int]) -> dict:
    """{split: (low, high)}: the test split's own range where it is given, else the training range."""
    test = (test_low if test_low is not None else low, test_high if test_high is not None else high)
    return {"train": (low, high), "validation": (low, high), "test": test}


def copy_bits(base: Path, seed: int, *, bits: int, min_length: int, max_length: int, test_min_length: Optional[int],
              test_max_length: Optional[int], train: int, test: int, validation: int):
    """The copy task of the neural Turing machine (Graves et al. 2014, section 4.1): random vectors of
    `bits` bits, `min_length` to `max_length` of them, then a delimiter on a channel of its own; the
    network writes the vectors back, in order, while it reads zeros. A binary target at every bit
    (`loss = binary_cross_entropy`, sigmoid outputs; `metrics = wrong_bits`). The test split draws its
    lengths from `test_min_length` to `test_max_length` where they are given (the paper tests at
    lengths past training's), each split padded to its own longest layout (see `copy_bits_problem`)."""
    rng = np.random.default_rng(seed)
    ranges = _ranges(min_length, max_length, test_min_length, test_max_length)
    made = {name: copy_bits_problem(rng, k, bits, ranges[name])
            for name, k in draw_order(train, test, validation)}
    task = f"copy of {bits}-bit vectors, lengths {min_length}-{max_length}"
    if ranges["test"] != (min_length, max_length):
        task += f" (test {ranges['test'][0]}-{ranges['test'][1]})"
    return generated_data(made, task, "sequences")


def repeat_copy(base: Path, seed: int, *, bits: int, min_length: int, max_length: int, min_repeats: int,
                max_repeats: int, test_min_length: Optional[int], test_max_length: Optional[int],
                test_min_repeats: Optional[int], test_max_repeats: Optional[int], episodes: int, train: int,
                test: int, validation: int):
    """The repeat copy task (Graves et al. 2014, section 4.2): a sequence of `bits`-bit vectors and, at
    the delimiter, how many times to write it back (`min_repeats` to `max_repeats`, normalised); the
    network writes the copies one after another and then an end marker. Targets are bits
    (`loss = binary_cross_entropy`); the test split may draw lengths and counts from ranges of its own.
    With `episodes` > 1 each sequence holds that many problems one after another: a memory smaller than all
    that a sequence writes must free slots and use them again (see `repeat_copy_problem` for the layout)."""
    rng = np.random.default_rng(seed)
    lengths = _ranges(min_length, max_length, test_min_length, test_max_length)
    counts = _ranges(min_repeats, max_repeats, test_min_repeats, test_max_repeats)
    # the count is normalised by the training range in every split: an input means the same everywhere
    made = {name: repeat_copy_problem(rng, k, bits, lengths[name], counts[name], normal=counts["train"],
                                      episodes=episodes)
            for name, k in draw_order(train, test, validation)}
    task = f"repeat copy of {bits}-bit vectors, lengths {min_length}-{max_length}, {min_repeats}-{max_repeats} times"
    if episodes > 1:
        task += f", {episodes} problems a sequence"
    return generated_data(made, task, "sequences")


def reversal_problem(rng: np.random.Generator, n: int, symbols: int, lengths: tuple) -> Split:
    """n reversal examples of lengths in `lengths` (low, high), padded to the layout of the longest, `most`.

    inputs float32 `(n, 2 * most + 1, symbols + 1)`: the L symbols one-hot, then the delimiter on channel
    `symbols`, then zeros; targets int32 `(n, 2 * most + 1)`: the symbols in reverse order at steps L + 1 to
    2L, 0 elsewhere; sample weights `(n, 2 * most + 1)`: 1 at those steps."""
    steps = 2 * lengths[1] + 1
    x = np.zeros((n, steps, symbols + 1), "float32")
    y = np.zeros((n, steps), "int32")
    w = np.zeros((n, steps), "float32")
    for i, length in enumerate(rng.integers(lengths[0], lengths[1] + 1, size=n)):
        seq = rng.integers(0, symbols, size=length)
        x[i, np.arange(length), seq] = 1.0
        x[i, length, symbols] = 1.0
        y[i, length + 1:2 * length + 1] = seq[::-1]
        w[i, length + 1:2 * length + 1] = 1.0
    return Split((x,), y, w)


def reversal(base: Path, seed: int, *, symbols: int, min_length: int, max_length: int,
             test_min_length: Optional[int], test_max_length: Optional[int], train: int, test: int, validation: int):
    """Sequence reversal (Grefenstette et al. 2015, section 4): random symbols, `min_length` to `max_length` of
    them, one-hot, then a delimiter on a channel of its own; the network writes the symbols back in reverse
    order while it reads zeros. Class-id targets (`loss = cross_entropy`, a softmax over `symbols`;
    `metrics = sequence_accuracy`, the paper's whole-sequence accuracy). The test split may draw longer
    sequences (`test_min_length` to `test_max_length`; the paper trains on 8 to 64 and tests on 65 to 128)."""
    rng = np.random.default_rng(seed)
    ranges = _ranges(min_length, max_length, test_min_length, test_max_length)
    made = {name: reversal_problem(rng, k, symbols, ranges[name]) for name, k in draw_order(train, test, validation)}
    task = f"reversal of {symbols} symbols, lengths {min_length}-{max_length}"
    if ranges["test"] != (min_length, max_length):
        task += f" (test {ranges['test'][0]}-{ranges['test'][1]})"
    return generated_data(made, task, "sequences")


ALGORITHMIC = {"copy_bits": copy_bits, "repeat_copy": repeat_copy, "reversal": reversal}
