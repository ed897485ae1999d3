"""`train { method = rtrl }`: `rnndsl train` by real-time recurrent learning, end to end.

A spec trains through the CLI on a small generated task: its loss falls, history.csv has its epochs, the
model saves and reloads with its generated cell; with one update per sequence and plain SGD one RTRL epoch
gives BPTT's weights to 1e-5 (the same batches, in the same order); `every=1` steps the optimizer at every
step. Every refusal, word for word: at check time (E0806, E0807) and at run time.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from helpers import checked, diagnostics  # noqa: E402
from rnndsl.cli import main  # noqa: E402
from rnndsl.lang.errors import UsageError  # noqa: E402

STD = Path(__file__).resolve().parent.parent / "specs" / "std"

keras = pytest.importorskip("keras")

REBER = dict(lib="elman", cell="Elman", inputs=7, outputs=7, activation="sigmoid",
             data="reber(train=48, test=16, embedded=false)", loss="binary_cross_entropy")
# integer classes, per-step weights (0 until the answer); MGU is no Keras layer: both paths run one model
COPY = dict(lib="gru_variants", cell="MGU", inputs=6, outputs=4, activation="softmax",
            data="copy(length=3, delay=4, symbols=4, train=48, test=16)", loss="cross_entropy")


def spec(task: dict, train: str, cell: str = "") -> str:
    """A network of one cell and a Dense readout on `task`, its train block `train` (data and loss added)."""
    lines = [f"data = {task['data']}", f"loss = {task['loss']}", *train.strip().split("\n")]
    body = "\n".join(" " * 8 + line for line in lines)
    return (f'import "std/{task["lib"]}.rnn"\n\nnetwork Net(units: int = 6) {{\n    input x: seq[{task["inputs"]}]\n'
            f"    h = {cell or task['cell'] + '(units)(x)'}\n"
            f"    output Dense({task['outputs']}, activation={task['activation']})(h)\n\n"
            f"    train {{\n{body}\n    }}\n}}\n")


def train(tmp_path, text: str, name: str, *extra) -> tuple:
    """`rnndsl train` of the spec `text` into tmp_path/name: (history rows, metrics.json, the out folder)."""
    path = tmp_path / f"{name}.rnn"
    path.write_text(text, encoding="utf-8")
    out = tmp_path / name
    assert main(["train", str(path), "--out", str(out), *extra]) == 0
    with (out / "history.csv").open() as f:
        rows = list(csv.DictReader(f))
    return rows, json.loads((out / "metrics.json").read_text()), out


def test_a_spec_trains_by_rtrl_and_its_model_reloads(tmp_path, capsys):
    text = spec(REBER, "method = rtrl\noptimizer = adam(learning_rate=0.05)\nbatch = 16\nepochs = 4\n"
                       "validation = 0.25\nmetrics = binary_accuracy")
    rows, metrics, out = train(tmp_path, text, "run")
    assert "h: cell Elman, generated path" in capsys.readouterr().out  # not Keras's SimpleRNN
    assert [r["epoch"] for r in rows] == ["1", "2", "3", "4"]
    assert {"loss", "val_loss", "val_binary_accuracy", "seconds"} <= set(rows[0])
    losses = [float(r["loss"]) for r in rows]
    assert losses[-1] < 0.9 * losses[0], losses
    assert set(metrics["test"]) == {"loss", "binary_accuracy"}
    record = json.loads((out / "run.json").read_text())
    assert record["plan"]["method"] == {"name": "rtrl", "args": {"every": 1}}
    from rnndsl.keras.cell import GeneratedRNN
    from rnndsl.train import sources

    model = keras.saving.load_model(out / "model.keras")
    assert any(isinstance(layer, GeneratedRNN) for layer in model.layers)
    data = sources.load("reber", {"train": 48, "test": 16, "embedded": False}, base=tmp_path, seed=0).test
    found = model.evaluate(data.inputs[0], data.targets, sample_weight=data.sample_weight, verbose=0,
                           return_dict=True)
    assert found["loss"] == pytest.approx(metrics["test"]["loss"], rel=1e-5)
    # every=1: the optimizer stepped at every step of every batch (36 training strings, batches of 16)
    steps = data.inputs[0].shape[1]
    assert int(model.optimizer.iterations) == 4 * 3 * steps
    # --resume goes on from the last checkpoint, by RTRL still
    assert main(["train", str(tmp_path / "run.rnn"), "--out", str(out), "--resume", "--epochs", "5"]) == 0
    with (out / "history.csv").open() as f:
        assert [r["epoch"] for r in csv.DictReader(f)] == ["1", "2", "3", "4", "5"]


@pytest.mark.parametrize("task", [REBER, COPY], ids=["reber", "copy"])
def test_one_update_a_sequence_gives_bptts_epoch(tmp_path, task):
    """One epoch of plain SGD, the same seed and batch order: RTRL updating once a sequence (`every` beyond its
    steps) and BPTT give the same weights, and the same epoch loss."""
    common = "optimizer = sgd(learning_rate=0.5)\nbatch = 16\nepochs = 1\nseed = 5"
    task = dict(task, lib="gru_variants", cell="MGU")  # a cell off the fused path: both lower the same model
    bptt_rows, _, bptt = train(tmp_path, spec(task, common), "bptt")
    rtrl_rows, _, rtrl = train(tmp_path, spec(task, common + "\nmethod = rtrl(every=1000)"), "rtrl")
    assert float(rtrl_rows[0]["loss"]) == pytest.approx(float(bptt_rows[0]["loss"]), rel=1e-5)
    by_bptt = keras.saving.load_model(bptt / "model.keras")
    by_rtrl = keras.saving.load_model(rtrl / "model.keras")
    assert int(by_rtrl.optimizer.iterations) == int(by_bptt.optimizer.iterations) == 3  # 48 sequences, 16 a batch
    import rnndsl
    from rnndsl.keras.network import lower_network
    from rnndsl.train.backend import set_seed

    set_seed(5)
    start = lower_network(rnndsl.load(tmp_path / "bptt.rnn"), "Net").model.get_weights()
    moved = 0.0
    for a, b, w0 in zip(by_bptt.get_weights(), by_rtrl.get_weights(), start, strict=True):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-5)
        moved = max(moved, float(np.max(np.abs(a - w0))))
    assert moved > 1e-2  # the epoch moved the weights: the agreement is of the updates, not of the start


# ---------------------------------------------------------------- refusals, at check time

NOTE = ("= note: RTRL trains one recurrent cell over time steps that reads the network's input, a sequence of "
        "features, and gives a value every step (`returns=sequences`), then only per-step layers (Dense, "
        "Activation), one after another, to the one output")

REFUSED = [
    (spec(REBER, "method = rtrl(every=0)"),
     "error[E0806]: `every` of `rtrl(every=k)` must be at least 1 (steps between updates), not 0", "not at least 1"),
    (spec(REBER, "method = rtrl(every=2.5)"),
     "error[E0806]: argument `every` of training method `rtrl` must be an integer, not 2.5", "not an integer"),
    (spec(REBER, "method = rtlr"),
     "error[E0804]: unknown training method `rtlr`", "did you mean `rtrl`?"),
    (spec(REBER, "method = 3"), "error[E0804]: `method` is one of bptt, rtrl, uoro, snap1", "not a name"),
    (spec(REBER, "method = bptt(2)"), "error[E0805]: training method `bptt` takes 0 arguments, given 1",
     "extra argument"),
    (spec(REBER, "method = rtrl\nbptt = truncated(4)"),
     "error[E0807]: `method = rtrl` carries its sensitivities through whole sequences and keeps no history to "
     "truncate: it does not go with `bptt = truncated(...)`",
     "= note: `method = rtrl(every=k)` updates the weights every k steps instead"),
    (spec(dict(REBER, loss="ctc"), "method = rtrl"),
     "error[E0807]: `method = rtrl` adds up a loss at every step, and `loss = ctc` has no targets per step",
     "= note: use `method = bptt` with `loss = ctc`"),
    (spec(REBER, "method = rtrl(every=3)\nstrategy = mirrored"),
     "error[E0807]: `method = rtrl` carries the sensitivities of a batch on one device: it runs with "
     "`strategy = default`, not `mirrored`", "^^^^^^^^^^^^^ RTRL"),
    # the networks RTRL does not train
    (spec(REBER, "method = rtrl", cell="Elman(units, returns=last)(x)"),
     "error[E0807]: `method = rtrl` cannot train `Net`: the cell `Elman` gives `returns=last`, not a value every "
     "step: RTRL's loss is a loss per step", NOTE),
    (spec(REBER, "method = rtrl", cell="Elman(units)(Elman(units)(x))"),
     "error[E0807]: `method = rtrl` cannot train `Net`: it applies 2 recurrent layers (`Elman`, `Elman`)",
     "a second one"),
    (spec(REBER, "method = rtrl", cell="Bidirectional(Elman(units))(x)"),
     "error[E0807]: `method = rtrl` cannot train `Net`: `Bidirectional` is not one cell applied on its own",
     NOTE),
    (spec(REBER, "method = rtrl", cell="Elman(units)(Dense(5)(x))"),
     "error[E0807]: `method = rtrl` cannot train `Net`: the cell `Elman` reads the output of `Dense`, not the "
     "network's input `x`", NOTE),
    (spec(REBER, "method = rtrl", cell="LayerNormalization()(Elman(units)(x))"),
     "error[E0807]: `method = rtrl` cannot train `Net`: `LayerNormalization` is not a per-step layer",
     "not per step"),
    (spec(REBER, "method = rtrl", cell="Dense(3)(x)"),
     "error[E0807]: `method = rtrl` cannot train `Net`: `Net` has no recurrent cell", NOTE),
]


@pytest.mark.parametrize("text, message, detail", REFUSED, ids=[f"{r[1][7:12]}-{i}" for i, r in enumerate(REFUSED)])
def test_what_rtrl_refuses_at_check_time(text, message, detail):
    found = diagnostics(text)
    assert found.startswith(message), found
    assert detail in found, found


def test_more_networks_rtrl_refuses():
    head = "error[E0807]: `method = rtrl` cannot train `Two`: "
    two_inputs = ('import "std/elman.rnn"\n\nnetwork Two {\n    input x: seq[7]\n    input y: seq[7]\n'
                  "    h = Elman(4)(Concatenate()(x, y))\n    output Dense(7)(h)\n\n"
                  "    train {\n        data = reber(train=8, test=4)\n        loss = mse\n"
                  "        method = rtrl\n    }\n}\n")
    assert diagnostics(two_inputs).startswith(head + "it has 2 inputs")
    assert "= note: train this network with `method = bptt`" in diagnostics(two_inputs)
    branch = two_inputs.replace("    input y: seq[7]\n", "").replace("Concatenate()(x, y)", "x").replace(
        "output Dense(7)(h)", "d = Dense(7)(h)\n    output Dense(7)(h)")
    assert diagnostics(branch).startswith(head + "`Dense` reads the output of `Elman`, not the output of `Dense` "
                                                 "before it")
    outputs = two_inputs.replace("    input y: seq[7]\n", "").replace("Concatenate()(x, y)", "x").replace(
        "output Dense(7)(h)", "output h, Dense(7)(h)")
    assert diagnostics(outputs).startswith(head + "it has 2 outputs")
    early = two_inputs.replace("    input y: seq[7]\n", "").replace("Concatenate()(x, y)", "x").replace(
        "output Dense(7)(h)", "d = Dense(7)(h)\n    output h")
    assert diagnostics(early).startswith(head + "its output is the output of `Elman`, not that of its last layer, "
                                                "`Dense`")
    tokens = two_inputs.replace("    input y: seq[7]\n", "").replace("seq[7]", "seq[int]").replace(
        "Concatenate()(x, y)", "x")
    assert diagnostics(tokens).startswith(head + "its input `x` is a sequence of integer tokens, not a sequence "
                                                 "of features")


def test_rtrl_is_a_plan_and_bptt_the_default():
    from rnndsl.lang import training

    for method, expected in (("", training.Choice("bptt")), ("method = bptt", training.Choice("bptt")),
                             ("method = rtrl", training.Choice("rtrl", {"every": 1})),
                             ("method = rtrl(5)", training.Choice("rtrl", {"every": 5}))):
        G = checked(spec(REBER, method)).graph("Net")
        plan = training.plan(G, {"units": 6})
        assert (plan.method.name, plan.method.args) == (expected.name, expected.args)


# ---------------------------------------------------------------- refusals, at run time


def test_too_many_sensitivities_are_refused_with_the_figure(tmp_path, capsys):
    path = tmp_path / "big.rnn"
    path.write_text(spec(dict(REBER, lib="lstm", cell="LSTM"), "method = rtrl\nbatch = 32"), encoding="utf-8")
    assert main(["train", str(path), "--out", str(tmp_path / "big"), "--set", "units=64"]) == 2
    assert ("error: exact RTRL of `LSTM` carries 128 state numbers x 18,432 parameters x a batch of 32 = 75,497,472 "
            "sensitivities (288.0 MiB in float32), over the limit of 33,554,432 "
            "(rnndsl.train.rtrl.MAX_SENSITIVITIES): use fewer units or a smaller batch, or train by BPTT"
            ) in capsys.readouterr().err


def test_mixed_precision_is_refused(tmp_path, capsys):
    path = tmp_path / "half.rnn"
    path.write_text(spec(REBER, "method = rtrl"), encoding="utf-8")
    assert main(["train", str(path), "--out", str(tmp_path / "half"), "--mixed-precision"]) == 2
    assert ("error: `method = rtrl` carries its sensitivities in the weights' precision: train it without "
            "--mixed-precision") in capsys.readouterr().err


def test_a_model_rtrl_cannot_train_is_refused():
    """rnndsl.train.rtrl_fit.parts, on models built by hand (a spec's are refused before, at check time)."""
    import rnndsl
    from rnndsl.keras.cell import cell_rnn
    from rnndsl.train.rtrl_fit import parts

    tail = ("; it trains one recurrent cell over time steps that reads the network's input, a sequence of features, "
            "and gives a value every step (`returns=sequences`), then only per-step layers (Dense, Activation), "
            "one after another, to the one output")
    elman = rnndsl.load(STD / "elman.rnn")

    def cell(**kw):
        return cell_rnn(elman, "Elman", input_dim=3, units=4, **kw)

    x, y = keras.Input((None, 3)), keras.Input((None, 3))
    h = cell()(x)
    models = {
        "its first layer is LSTM, not a generated cell (lower it with fused=False)":
            keras.Model(x, keras.layers.Dense(2)(keras.layers.LSTM(4, return_sequences=True)(x))),
        "it has 2 inputs and 1 outputs": keras.Model([x, y], cell()(keras.layers.Add()([x, y]))),
        "`norm` is a LayerNormalization, not a per-step layer":
            keras.Model(x, keras.layers.LayerNormalization(name="norm")(h)),
        "its output has shape (None, 4), not a value every step": keras.Model(x, cell(return_sequences=False)(x)),
        "its layers do not read one another in turn":
            keras.Model(x, keras.layers.Dense(2)(keras.layers.Dense(4)(h) + h)),
    }
    for why, model in models.items():
        with pytest.raises(UsageError) as e:
            parts(model)
        assert e.value.message == f"RTRL cannot train the model `{model.name}`: {why}" + tail
    layer, readout = parts(keras.Model(x, keras.layers.Activation("tanh")(keras.layers.Dense(2)(h))))
    assert layer.cell.cell_name == "Elman" and [w.shape for w in readout.trainable_weights] == [(4, 2), (2,)]
