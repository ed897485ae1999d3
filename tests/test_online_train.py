"""`train { method = uoro | snap1 }`: `rnndsl train` by UORO and SnAp-1, end to end, as by RTRL.

A spec trains through the CLI by each: its loss falls, history.csv has its epochs, run.json its method, the
optimizer steps every k steps (`every=k`), the model saves and reloads with its generated cell. SnAp-1 of an
IndRNN (a diagonal recurrence: SnAp-1 is exact) updating once a sequence gives, with plain SGD, BPTT's epoch
to 1e-5. Every refusal names the method, word for word: at check time (E0806, E0807) and at run time.
"""

from __future__ import annotations

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from helpers import diagnostics  # noqa: E402
from rnndsl.cli import main  # noqa: E402
from rnndsl.lang.errors import UsageError  # noqa: E402
from test_rtrl_train import REBER, spec, train  # noqa: E402

keras = pytest.importorskip("keras")


@pytest.mark.parametrize("method", ["uoro", "snap1"])
def test_a_spec_trains_by_an_online_approximation(tmp_path, method):
    text = spec(REBER, f"method = {method}(every=2)\noptimizer = adam(learning_rate=0.05)\nbatch = 16\nepochs = 3\n"
                       "validation = 0.25")
    rows, metrics, out = train(tmp_path, text, "run")
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    losses = [float(r["loss"]) for r in rows]
    assert losses[-1] < 0.9 * losses[0], losses
    assert "val_loss" in rows[0] and "loss" in metrics["test"]
    record = json.loads((out / "run.json").read_text())
    assert record["plan"]["method"] == {"name": method, "args": {"every": 2}}
    from rnndsl.keras.cell import GeneratedRNN
    from rnndsl.train import sources

    model = keras.saving.load_model(out / "model.keras")
    assert any(isinstance(layer, GeneratedRNN) for layer in model.layers)
    steps = sources.load("reber", {"train": 48, "test": 16, "embedded": False}, base=tmp_path,
                         seed=0).train.inputs[0].shape[1]
    assert int(model.optimizer.iterations) == 3 * 3 * -(-steps // 2)  # 36 strings: 3 batches an epoch


def test_snap1_of_a_diagonal_recurrence_gives_bptts_epoch(tmp_path):
    common = "optimizer = sgd(learning_rate=0.5)\nbatch = 16\nepochs = 1\nseed = 5"
    task = dict(REBER, lib="indrnn", cell="IndRNN")
    bptt_rows, _, bptt = train(tmp_path, spec(task, common), "bptt")
    snap_rows, _, snap = train(tmp_path, spec(task, common + "\nmethod = snap1(every=1000)"), "snap")
    assert float(snap_rows[0]["loss"]) == pytest.approx(float(bptt_rows[0]["loss"]), rel=1e-5)
    by_bptt, by_snap = (keras.saving.load_model(p / "model.keras") for p in (bptt, snap))
    import rnndsl
    from rnndsl.keras.network import lower_network
    from rnndsl.train.backend import set_seed

    set_seed(5)
    start = lower_network(rnndsl.load(tmp_path / "bptt.rnn"), "Net").model.get_weights()
    moved = 0.0
    for a, b, w0 in zip(by_bptt.get_weights(), by_snap.get_weights(), start, strict=True):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-5)
        moved = max(moved, float(np.max(np.abs(a - w0))))
    assert moved > 1e-2


# ---------------------------------------------------------------- refusals, at check time

REFUSED = [
    (spec(REBER, "method = uoro(every=0)"),
     "error[E0806]: `every` of `uoro(every=k)` must be at least 1 (steps between updates), not 0", "not at least 1"),
    (spec(REBER, "method = snap1(every=-2)"),
     "error[E0806]: `every` of `snap1(every=k)` must be at least 1 (steps between updates), not -2",
     "not at least 1"),
    (spec(REBER, "method = uoro(every=1.5)"),
     "error[E0806]: argument `every` of training method `uoro` must be an integer, not 1.5", "not an integer"),
    (spec(REBER, "method = snap"), "error[E0804]: unknown training method `snap`", "did you mean `snap1`?"),
    (spec(REBER, "method = 3"), "error[E0804]: `method` is one of bptt, rtrl, uoro, snap1", "not a name"),
    (spec(REBER, "method = snap1\nbptt = truncated(4)"),
     "error[E0807]: `method = snap1` carries its sensitivities through whole sequences and keeps no history to "
     "truncate: it does not go with `bptt = truncated(...)`",
     "= note: `method = snap1(every=k)` updates the weights every k steps instead"),
    (spec(dict(REBER, loss="ctc"), "method = uoro"),
     "error[E0807]: `method = uoro` adds up a loss at every step, and `loss = ctc` has no targets per step",
     "= note: use `method = bptt` with `loss = ctc`"),
    (spec(REBER, "method = snap1(every=3)\nstrategy = mirrored"),
     "error[E0807]: `method = snap1` carries the sensitivities of a batch on one device: it runs with "
     "`strategy = default`, not `mirrored`", "^^^^^^^^^^^^^^ SnAp-1"),
    (spec(REBER, "method = uoro", cell="Elman(units, returns=last)(x)"),
     "error[E0807]: `method = uoro` cannot train `Net`: the cell `Elman` gives `returns=last`, not a value every "
     "step: UORO's loss is a loss per step",
     "= note: UORO trains one recurrent cell over time steps that reads the network's input"),
    (spec(REBER, "method = snap1", cell="Dense(3)(x)"),
     "error[E0807]: `method = snap1` cannot train `Net`: `Net` has no recurrent cell",
     "= note: SnAp-1 trains one recurrent cell"),
    (spec(REBER, "method = uoro", cell="Elman(units)(Elman(units)(x))"),
     "error[E0807]: `method = uoro` cannot train `Net`: it applies 2 recurrent layers (`Elman`, `Elman`)",
     "a second one"),
]


@pytest.mark.parametrize("text, message, detail", REFUSED, ids=[f"refused-{i}" for i in range(len(REFUSED))])
def test_what_the_online_approximations_refuse_at_check_time(text, message, detail):
    found = diagnostics(text)
    assert found.startswith(message), found
    assert detail in found, found


def test_the_choice_of_method_is_a_plan():
    from helpers import checked
    from rnndsl.lang import training

    for method, expected in (("method = uoro", ("uoro", {"every": 1})), ("method = snap1(7)", ("snap1", {"every": 7}))):
        plan = training.plan(checked(spec(REBER, method)).graph("Net"), {"units": 6})
        assert (plan.method.name, plan.method.args) == expected


# ---------------------------------------------------------------- refusals, at run time


@pytest.mark.parametrize("method", ["uoro", "snap1"])
def test_mixed_precision_is_refused(tmp_path, capsys, method):
    path = tmp_path / "half.rnn"
    path.write_text(spec(REBER, f"method = {method}"), encoding="utf-8")
    assert main(["train", str(path), "--out", str(tmp_path / "half"), "--mixed-precision"]) == 2
    assert (f"error: `method = {method}` carries its sensitivities in the weights' precision: train it without "
            "--mixed-precision") in capsys.readouterr().err


def test_a_model_built_by_hand_is_refused_naming_the_method():
    import rnndsl
    from rnndsl.train.rtrl_fit import check, parts
    from test_rtrl_train import STD

    x = keras.Input((None, 3))
    model = keras.Model(x, keras.layers.Dense(2)(keras.layers.LSTM(4, return_sequences=True)(x)))
    tail = ("its first layer is LSTM, not a generated cell (lower it with fused=False); it trains one recurrent cell "
            "over time steps that reads the network's input, a sequence of features, and gives a value every step "
            "(`returns=sequences`), then only per-step layers (Dense, Activation), one after another, to the one "
            "output")
    for method, title in (("uoro", "UORO"), ("snap1", "SnAp-1")):
        with pytest.raises(UsageError) as e:
            parts(model, method)
        assert e.value.message == f"{title} cannot train the model `{model.name}`: " + tail
    # no limit on UORO's or SnAp-1's memory: the LSTM that exact RTRL refuses (tests/test_rtrl_train.py) passes
    from rnndsl.keras.cell import cell_rnn

    big = cell_rnn(rnndsl.load(STD / "lstm.rnn"), "LSTM", input_dim=7, units=64)
    y = keras.Input((None, 7))
    lstm_model = keras.Model(y, keras.layers.Dense(7)(big(y)))
    with pytest.raises(UsageError):
        check(lstm_model, 32, "rtrl")
    check(lstm_model, 32, "uoro")
    check(lstm_model, 32, "snap1")
