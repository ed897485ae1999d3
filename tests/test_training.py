"""The `train` block: parsed, formatted, checked by `rnndsl check` (E08xx), and evaluated into a plan."""

from __future__ import annotations

import pytest

from helpers import checked, compile_spec, diagnostics
from rnndsl.lang import training
from rnndsl.lang.errors import SpecErrors
from rnndsl.lang.fmt import format_text


def net(train_body: str, hparams: str = "units: int = 4, T: int = 20") -> str:
    """A small network with the given train block body (its lines indented by 8)."""
    lines = "\n".join(" " * 8 + line for line in train_body.strip("\n").split("\n"))
    return (f'import "std/lstm.rnn"\n\nnetwork N({hparams}) {{\n    input x: seq[2]\n'
            f"    h = LSTM(units, returns=last)(x)\n    output Dense(1)(h)\n\n    train {{\n{lines}\n    }}\n}}\n")


GOOD = """
data = adding(steps=T, train=64, test=32)
loss = mse
metrics = mae, mse
optimizer = adam(learning_rate=2e-3, clipnorm=1)
schedule = cosine(alpha=0.1)
batch = 2 * units
epochs = 3
validation = 0.25
seed = 7
"""


def _plan(text: str, **values):
    program = checked(text)
    G = program.graph("N")
    env = {h.name: h.default for h in G.header.hparams.values()}
    env.update(values)
    return training.plan(G, env)


def test_a_train_block_checks_and_evaluates():
    plan = _plan(net(GOOD))
    assert plan.data == training.Choice("adding", {"steps": 20, "train": 64, "test": 32}, plan.data.span)
    assert plan.loss.name == "mse" and [m.name for m in plan.metrics] == ["mae", "mse"]
    assert plan.optimizer.name == "adam" and plan.optimizer.args == {"learning_rate": 2e-3, "clipnorm": 1.0}
    assert plan.schedule.name == "cosine" and plan.schedule.args == {"alpha": 0.1}
    assert (plan.batch, plan.epochs, plan.validation, plan.seed) == (8, 3, 0.25, 7)
    # the hyperparameters a run sets (--set) reach the block
    plan = _plan(net(GOOD), units=16, T=50)
    assert plan.batch == 32 and plan.data.args["steps"] == 50


def test_defaults():
    plan = _plan(net("data = adding(steps=T)\nloss = mse"))
    assert (plan.optimizer.name, plan.schedule.name, plan.metrics) == ("adam", "constant", ())
    assert (plan.batch, plan.epochs, plan.validation, plan.seed) == (32, 10, 0.0, 0)
    assert (plan.strategy.name, plan.bptt.name) == ("default", "full")


def test_a_network_without_a_train_block_has_no_plan():
    program = checked('network M {\n    input x: seq[2]\n    output x\n}\n')
    assert training.plan(program.graph("M"), {}) is None


def test_train_stays_a_name():
    # `train` is the block's word, not a keyword: a binding or a source's argument may use it
    program = checked(net("data = adding(steps=T, train=10)\nloss = mse").replace(
        "    h = LSTM", "    train = x\n    h = LSTM").replace("(x)\n    output", "(train)\n    output"))
    assert "N" in program.networks


def test_fmt_prints_the_block_and_keeps_its_comments():
    text = ('network N(T: int = 20) {\n    input x: seq[2]\n    output x\n    # how it learns\n'
            '    train {  # the block\n        data = adding(steps = T,\n            train=10)\n'
            '        loss=mse   # minimised\n\n\n        metrics = mae,mse\n        # last\n    }\n}\n')
    formatted = format_text(text)
    assert formatted == ('network N(T: int = 20) {\n    input x: seq[2]\n    output x\n    # how it learns\n'
                         '    train {  # the block\n        data = adding(steps=T, train=10)\n'
                         '        loss = mse  # minimised\n\n        metrics = mae, mse\n        # last\n    }\n}\n')
    assert format_text(formatted) == formatted


ERRORS = [
    ("dta = adding(steps=T)\nloss = mse",
     "error[E0801]: `train` has no setting `dta`", "did you mean `data`?"),
    ("data = adding(steps=T)\nloss = mse\nloss = mae",
     "error[E0802]: `loss` is set twice", "second setting"),
    ("loss = mse",
     "error[E0803]: the `train` block of `N` needs `data = ...`", "a source of examples"),
    ("data = adding(steps=T)",
     "error[E0803]: the `train` block of `N` needs `loss = ...`", "what training minimises"),
    ("data = adding(steps=T)\nloss = msee",
     "error[E0804]: unknown loss `msee`", "did you mean `mse`?"),
    ("data = adding(steps=T)\nloss = mse\nmetrics = acuracy",
     "error[E0804]: unknown metric `acuracy`", "did you mean `accuracy`?"),
    ("data = adding(steps=T)\nloss = mse\noptimizer = adamw()",
     "error[E0804]: unknown optimizer `adamw`", "did you mean `adam`?"),
    ("data = adding(steps=T)\nloss = mse\nschedule = cosin",
     "error[E0804]: unknown schedule `cosin`", "did you mean `cosine`?"),
    ("data = addding(steps=T)\nloss = mse",
     "error[E0804]: unknown data source `addding`", "did you mean `adding`?"),
    ("data = adding(steps=T)\nloss = mse\noptimizer = adam(lr=0.1)",
     "error[E0805]: optimizer `adam` has no argument `lr`", "its arguments are learning_rate"),
    ("data = adding(steps=T)\nloss = mse\noptimizer = adam(0.1, 0.9, 0.99, 1e-8, 1, 1, 1, 1)",
     "error[E0805]: optimizer `adam` takes 7 arguments, given 8", "extra argument"),
    ("data = adding(steps=T)\nloss = mse\noptimizer = adam(learning_rate=0.1, learning_rate=0.2)",
     "error[E0805]: argument `learning_rate` is given twice", ""),
    ("data = adding(steps=T)\nloss = mse\nepochs = 0",
     "error[E0806]: `epochs` must be at least 1, not 0", "not at least 1"),
    ("data = adding(steps=T)\nloss = mse\nbatch = 2.5",
     "error[E0806]: `batch` must be an integer, not 2.5", "not an integer"),
    ("data = adding(steps=T)\nloss = mse\nvalidation = 1",
     "error[E0806]: `validation` must be a fraction in [0, 1), not 1", "not a fraction in [0, 1)"),
    ("data = adding(steps=T)\nloss = mse\noptimizer = adam(learning_rate=\"fast\")",
     "error[E0806]: argument `learning_rate` of optimizer `adam` must be a number, not 'fast'", "not a number"),
    ("data = adding(steps=T)\nloss = mse\nepochs = unitz",
     "error[E0806]: unknown name `unitz`", "did you mean `units`?"),
    ("data = adding(steps=T)\nloss = mse\nepochs = 2 * \"x\"",
     "error[E0806]: arithmetic on 'x', which is not a number", ""),
    ("data = adding(steps=T)\nloss = mse, mae",
     "error[E0806]: `loss` takes one value", "extra value"),
    ("data = adding(steps=T)\nloss = mse\nmetrics = label_error_rate",
     "error[E0807]: the metric `label_error_rate` decodes CTC outputs: it needs `loss = ctc`", ""),
    ("data = adding(steps=T)\nloss = mse\nstrategy = mirroed",
     "error[E0804]: unknown strategy `mirroed`", "did you mean `mirrored`?"),
    ("data = adding(steps=T)\nloss = mse\nstrategy = 2",
     "error[E0804]: `strategy` is one of default, mirrored, multi_worker, tpu", "not a name"),
    ("data = adding(steps=T)\nloss = mse\nstrategy = tpu(8)",
     "error[E0805]: strategy `tpu` takes 0 arguments, given 1", "extra argument"),
    ("data = adding(steps=T)\nloss = mse\nbptt = trunc(10)",
     "error[E0804]: unknown bptt mode `trunc`", "bptt modes: full, truncated"),
    ("data = adding(steps=T)\nloss = mse\nbptt = truncated",
     "error[E0805]: bptt mode `truncated` needs its argument `k`", "`k` is missing"),
    ("data = adding(steps=T)\nloss = mse\nbptt = truncated(0)",
     "error[E0806]: `k` of `truncated(k)` must be at least 1 (steps a chunk), not 0", "not at least 1"),
    ("data = adding(steps=T)\nloss = mse\nbptt = truncated(T / 2)",
     "error[E0806]: argument `k` of bptt mode `truncated` must be an integer, not 10.0", "not an integer"),
    ("data = adding(steps=T)\nloss = ctc\nbptt = truncated(5)",
     "error[E0807]: truncated BPTT trains on chunks of the sequences, and `loss = ctc` has no targets per step "
     "to cut into chunks", "use `bptt = full` with `loss = ctc`"),
    ("data = adding(steps=T)\nloss = mse\nbptt = truncated(5)\nstrategy = mirrored",
     "error[E0807]: truncated BPTT carries the states of a batch on one device: it runs with "
     "`strategy = default`, not `mirrored`", "truncated BPTT"),
    # numbers beyond range: a diagnostic with a span, never an OverflowError or a hang
    ("data = adding(steps=T)\nloss = mse\noptimizer = adam(learning_rate=2.0 ** 5000)",
     "error[E0806]: the value of `**` here is too large a number", "^^^^^^^^^^^ too large"),
    ("data = adding(steps=T)\nloss = mse\nepochs = 10 ** 10 ** 10",
     "error[E0806]: the value of `**` here is too large a number", "too large"),
    ("data = adding(steps=T)\nloss = mse\noptimizer = adam(learning_rate=1e300 * 1e300)",
     "error[E0806]: argument `learning_rate` of optimizer `adam` must be a finite number, not inf",
     "not a finite number"),
    ("data = adding(steps=T)\nloss = mse\noptimizer = adam(learning_rate=0 ** -1)",
     "error[E0806]: division by zero", ""),
    ("data = adding(steps=T)\nloss = mse\nseed = -1",
     "error[E0806]: `seed` must be from 0 to 2147483647, not -1", "not from 0 to 2147483647"),
    ("data = adding(steps=T)\nloss = mse\nbatch = 2 ** 40",
     "error[E0806]: `batch` must be from 1 to 2147483647, not 1099511627776", ""),
    ("data = adding(steps=T, train=2 ** 40)\nloss = mse",
     "error[E0806]: argument `train` of `adding` must be at most 2147483647, not 1099511627776", ""),
    # data paths stay inside the spec's folder
    ("data = csv(\"/etc/passwd\", delimiter=\":\")\nloss = mse",
     "error[E0806]: argument `path` of `csv` names an absolute path, \"/etc/passwd\": a data path is relative to "
     "the spec's folder and stays inside it: put the data in or under that folder (a symbolic link made there is "
     "followed)", "--> spec.rnn:9:16"),
    ("data = npz(\"../outside/x.npz\")\nloss = mse",
     "error[E0806]: argument `path` of `npz` names a path that leaves the spec's folder (`..`), "
     "\"../outside/x.npz\"", ""),
]


@pytest.mark.parametrize("body, message, detail", ERRORS, ids=[e[1][7:12] + "-" + str(i) for i, e in enumerate(ERRORS)])
def test_train_block_errors(body, message, detail):
    text = diagnostics(net(body))
    assert text.startswith(message), text
    assert detail in text


def test_errors_point_at_the_setting():
    text = diagnostics(net("data = adding(steps=T)\nloss = mse\nepochs = 0"))
    assert "  --> spec.rnn:11:18\n" in text and "epochs = 0" in text


def test_a_second_block_and_an_unknown_block():
    text = net("data = adding(steps=T)\nloss = mse")
    twice = text.replace("    }\n}\n", "    }\n    train {\n        loss = mae\n    }\n}\n")
    assert "error[E0802]: network `N` has a second `train` block" in diagnostics(twice)
    other = text.replace("    train {", "    trian {")
    out = diagnostics(other)
    assert out.startswith("error[E0801]: a network has no `trian { ... }` block"), out
    assert "the block in a network is `train { ... }`" in out


def test_strategy_and_bptt():
    plan = _plan(net("data = adding(steps=T)\nloss = mse\nstrategy = multi_worker\nbptt = full"))
    assert (plan.strategy, plan.bptt) == (training.Choice("multi_worker", {}, plan.strategy.span),
                                          training.Choice("full", {}, plan.bptt.span))
    plan = _plan(net("data = adding(steps=T)\nloss = mse\nbptt = truncated(k=T - 10)"), T=30)
    assert plan.bptt.name == "truncated" and plan.bptt.args == {"k": 20}
    with pytest.raises(SpecErrors) as e:  # checked again with the values a run gives
        _plan(net("data = adding(steps=T)\nloss = mse\nbptt = truncated(T - 10)"), T=10)
    assert e.value.errors[0].message == "`k` of `truncated(k)` must be at least 1 (steps a chunk), not 0"


def test_a_hyperparameter_without_default_is_checked_at_run_time():
    text = net("data = adding(steps=T)\nloss = mse\nepochs = n", hparams="units: int = 4, T: int = 20, n: int")
    program, errors = compile_spec(text)
    assert not errors
    G = program.graph("N")
    assert training.plan(G, {"units": 4, "T": 20, "n": 5}).epochs == 5
    with pytest.raises(SpecErrors) as e:
        training.plan(G, {"units": 4, "T": 20, "n": 0})
    assert e.value.errors[0].message == "`epochs` must be at least 1, not 0"


def test_a_number_of_hundreds_of_digits_is_a_diagnostic():
    """A literal of 400 digits is an error with a span (never an OverflowError), whichever stage finds it."""
    for literal in ("1" * 400, "1" * 400 + ".0"):
        text = diagnostics(net(f"data = adding(steps=T)\nloss = mse\noptimizer = adam(learning_rate={literal})"))
        assert text.startswith("error[E0") and "--> spec.rnn:11:40" in text, text
