"""The user's own generator (issue 16): `data = python("tasks:reversal", ...)` draws examples with a function
of a Python file beside the spec, only when training (rnndsl.train.user_task)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from helpers import checked, data_error, diagnostics

pytest.importorskip("tensorflow")

TASKS = '''
from pathlib import Path
import numpy as np

Path(__file__).with_name("imported").write_text("yes")  # what importing the module does, seen by the tests


def reversal(rng, n):
    """n sequences of 4 symbols (one-hot of 3), then their reverse; the answer's steps weigh 1."""
    symbols = rng.integers(0, 3, size=(n, 4))
    x = np.zeros((n, 8, 4), "float32")
    x[np.arange(n)[:, None], np.arange(4), symbols] = 1
    x[:, 4, 3] = 1  # the delimiter
    y = np.zeros((n, 8), "int64")
    y[:, 4:] = symbols[:, ::-1]
    w = np.zeros((n, 8), "float32")
    w[:, 4:] = 1
    return x, y, w


def broken(rng, n):
    return [1, 2, 3][n]


def one_row(rng, n):
    return np.zeros((1, 8, 4)), np.zeros((1, 8))


def words(rng, n):
    return np.array(["a"] * n), np.zeros(n)


def single(rng, n):
    return np.zeros((n, 8, 4))
'''

SPEC = """import "std/lstm.rnn"

network Reverse {
    input x: seq[4]
    h = LSTM(8)(x)
    output Dense(3, activation=softmax)(h)
    train {
        data = python("tasks:reversal", train=32, test=8)
        fresh = true
        loss = cross_entropy
        metrics = accuracy, sequence_accuracy
        batch = 8
        epochs = 2
    }
}
"""


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "tasks.py").write_text(TASKS)
    return tmp_path


def test_a_run_draws_from_the_user_s_function(folder):
    from rnndsl.cli import main
    from rnndsl.train.run import run

    (folder / "spec.rnn").write_text(SPEC)
    assert main(["check", str(folder / "spec.rnn")]) == 0
    program = checked(SPEC, file=str(folder / "spec.rnn"))
    program.build("Reverse")
    assert not (folder / "imported").exists()  # neither checking nor building runs the user's code
    result = run(program, "Reverse", out=folder / "run", verbose=0)
    assert (folder / "imported").exists()
    metrics = json.loads((folder / "run" / "metrics.json").read_text())
    assert result.epochs == 2 and "`tasks:reversal`" in metrics["data"]
    assert 0 <= metrics["test"]["sequence_accuracy"] <= 1


def test_the_draw_is_the_seed_s(folder):
    from rnndsl.train.sources import load

    args = {"function": "tasks:reversal", "train": 6, "test": 2}
    a, b = (load("python", args, base=folder, seed=3) for _ in range(2))
    np.testing.assert_array_equal(a.train.inputs[0], b.train.inputs[0])
    assert a.train.targets.dtype == np.int64 and a.test.size == 2
    assert not np.array_equal(a.train.inputs[0], load("python", args, base=folder, seed=4).train.inputs[0])


@pytest.mark.parametrize("function, message", [
    ("tasks:broken", "`tasks:broken`: `broken(rng, 6)` raised IndexError: list index out of range (tasks.py, line 22)"),
    ("tasks:missing", "`tasks:missing`: tasks.py has no function `missing`"),
    ("other:reversal", "`other:reversal`: no file"),
    ("tasks:one_row", "`tasks:one_row` for the train split: input 0 has shape (1, 8, 4): its first axis must be "
                      "the 6 examples asked for"),
    ("tasks:words", "`tasks:words` for the train split: input 0 holds <U1 values: numbers only"),
    ("tasks:single", "`tasks:single` for the train split gave ndarray: it must give (inputs, targets) or "
                     "(inputs, targets, sample_weights)"),
])
def test_what_the_user_s_function_gets_wrong_is_one_line(folder, function, message):
    from rnndsl.train.sources import load

    assert message in data_error(load, "python", {"function": function, "train": 6, "test": 2}, base=folder, seed=0)


def test_an_error_on_import_names_the_line(tmp_path):
    from rnndsl.train.sources import load

    (tmp_path / "bad.py").write_text("x = 1\nraise RuntimeError('no GPU here')\n")
    assert "`bad:f`: importing bad.py raised RuntimeError: no GPU here (bad.py, line 2)" in \
        data_error(load, "python", {"function": "bad:f", "train": 2, "test": 0}, base=tmp_path, seed=0)


@pytest.mark.parametrize("function", ["reversal", "tasks.reversal", "../tasks:reversal", "/tmp/tasks:reversal",
                                      "tasks:", "tasks:a-b"])
def test_the_name_is_module_colon_function(function):
    text = diagnostics(SPEC.replace("tasks:reversal", function))
    assert ("error[E0806]: `python`: `function` names a function of a Python file beside the spec as "
            "`module:function`") in text
