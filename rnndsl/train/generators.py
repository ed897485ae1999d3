"""generators: tasks from the literature, generated from a seed (`data = adding(steps=100)`).

Memory and prediction tasks: the adding problem, the copy task, the (embedded) Reber grammar,
the Mackey-Glass series, and scikit-learn's digits read row by row. Each source function takes
`(base, seed, **arguments)` and gives a `Data` (rnndsl.train.containers); the same seed gives the
same arrays. The functions that draw one task's arrays (`adding_problem`, `copy_problem`,
`reber_string`, `embedded_reber`, `encode_reber`, `mackey_glass_series`) are public for tests
and benchmarks. `GENERATORS` names the source functions for rnndsl.train.sources. NumPy only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from ..lang.errors import DataError
from .containers import Data, Split

__all__ = ["GENERATORS", "draw_order", "generated_data", "adding_problem", "copy_problem", "reber_string",
           "embedded_reber", "encode_reber", "mackey_glass_series", "REBER", "SYMBOLS"]


def draw_order(train: int, test: int, validation: int) -> list:
    """[(split name, count)] in the order a generator draws them, those with examples: the
    training split first, then the test split, so that asking for a validation split changes
    neither."""
    return [(name, k) for name, k in (("train", train), ("test", test), ("validation", validation)) if k]


def _one_input(x: np.ndarray, y: np.ndarray, w: Optional[np.ndarray] = None) -> Split:
    return Split((x,), y, w)


def generated_data(made: dict, task: str, unit: str, **vocabularies) -> Data:
    """Data from {split name: Split}, described as `task: 100 train, 10 test sequences`."""
    counts = ", ".join(f"{made[name].size} {name}" for name in ("train", "validation", "test") if name in made)
    return Data(made["train"], made.get("validation"), made.get("test"), **vocabularies,
                description=f"{task}: {counts} {unit}")


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


def adding(base: Path, seed: int, *, steps: int, train: int, test: int, validation: int) -> Data:
    """The adding problem (Hochreiter & Schmidhuber 1997, "Long short-term memory", experiment 4;
    at T = 100 as in Li et al. 2018, IndRNN). Each step has two inputs: a value uniform in
    [0, 1] and a marker, 1 at two steps (one in each half) and 0 elsewhere; the target is the
    sum of the two marked values. Predicting 1 always gives an MSE of 2/12 = 0.167.

    inputs: float32 `(n, steps, 2)`; targets: float32 `(n, 1)`. The training set is drawn first,
    then the test set, then the validation set, from one generator seeded by the seed."""
    rng = np.random.default_rng(seed)
    made = {name: _one_input(*adding_problem(k, rng, steps)) for name, k in draw_order(train, test, validation)}
    return generated_data(made, f"adding problem, T={steps}", "sequences")


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


def copy_task(base: Path, seed: int, *, length: int, delay: int, symbols: int, train: int, test: int,
              validation: int) -> Data:
    """The copy task: remember a sequence of random symbols and reproduce it after a delay
    (Hochreiter & Schmidhuber 1997, long time lags; Graves et al. 2014, "Neural Turing
    machines", copy; laid out as Arjovsky et al. 2016's copying memory problem).

    inputs: float32 one-hot `(n, T, symbols + 2)`, T = 2 * length + delay: the symbols, then
    blanks (channel `symbols`) and a go marker (channel `symbols + 1`) at the last delay step,
    then blanks while the network answers. targets: int32 symbol ids `(n, T)`; sample_weight
    `(n, T)`: 1 at the `length` answer steps, 0 elsewhere (the targets there are 0, unused).
    A network that remembers nothing scores log(symbols) per answer step; the loss `rnndsl train`
    reports is Keras's weighted mean, which divides by all T steps, the unweighted too: that
    network's is log(symbols) * length / T."""
    rng = np.random.default_rng(seed)
    made = {name: _one_input(*copy_problem(k, rng, length, delay, symbols))
            for name, k in draw_order(train, test, validation)}
    task = f"copy task, {length} of {symbols} symbols after a delay of {delay} (T={2 * length + delay})"
    return generated_data(made, task, "sequences")


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
    drawn = {name: [draw(rng) for _ in range(k)] for name, k in draw_order(train, test, validation)}
    length = max(len(s) for strings in drawn.values() for s, _ in strings) - 1
    made = {name: _one_input(*encode_reber(strings, length)) for name, strings in drawn.items()}
    task = f"{'embedded ' if embedded else ''}Reber grammar, strings up to {length + 1} symbols"
    return generated_data(made, task, "strings")


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


def digits(base: Path, seed: int, *, test: float, form: str = "sequence", binarize: bool = False,
           target: str = "class") -> Data:
    """scikit-learn's 8 x 8 handwritten digits (the UCI optical recognition of handwritten digits
    test set, 1797 images), each image read as a sequence of its 8 rows of 8 pixels (as in the
    row-by-row MNIST of Le, Jaitly & Hinton 2015, at 8 x 8), or as a grid.

    inputs: float32 `(n, 8, 8)` (`form="sequence"`) or `(n, 8, 8, 1)` (`"grid"`), intensities in
    [0, 1], or 0 and 1 with `binarize` (1 where at least 0.5); targets: int32 class ids `(n,)`,
    0-9, or the images themselves (`target="pixels"`, a grid's: what a model of the images
    predicts pixel by pixel). A random `test` fraction (by the seed) is held out for the test.
    Needs scikit-learn."""
    try:
        from sklearn import datasets
    except ImportError:
        raise DataError("`digits` needs scikit-learn, which is not installed (pip install scikit-learn)") from None
    found = datasets.load_digits()
    x = (found.images / 16.0).astype("float32")
    if binarize:
        x = (x >= 0.5).astype("float32")
    if form == "grid":
        x = x[..., None]
    y = x if target == "pixels" else found.target.astype("int32")
    order = np.random.default_rng(seed).permutation(len(x))
    held = int(len(x) * test)
    test_rows, train_rows = order[:held], order[held:]
    made = {"train": _one_input(x[train_rows], y[train_rows])}
    if held:
        made["test"] = _one_input(x[test_rows], y[test_rows])
    shown = "8 rows of 8 pixels" if form == "sequence" else "8 x 8 grids"
    return generated_data(made, f"scikit-learn digits, {shown}" + (", binarized" if binarize else ""), "images")



GENERATORS = {"adding": adding, "copy": copy_task, "reber": reber, "mackey_glass": mackey_glass,
              "digits": digits}
