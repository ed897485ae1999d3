"""`train { optimizer = cma_es(...) }` and the other global searches: `rnndsl train` without gradients.

A spec trains through the CLI on a small generated task: every method runs (CMA-ES, the genetic algorithm,
PSO, simulated annealing), its loss falls below the untrained network's, history.csv has a row an epoch
with the evaluations so far, the model saves and reloads; the search's figures in the run's record. The
refusals, word for word: the settings a search does not go with (E0807), and at run time.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import json  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from helpers import checked, diagnostics  # noqa: E402
from test_rtrl_train import spec, train  # noqa: E402

keras = pytest.importorskip("keras")

# the sum of the values the marker points at (a regression a small Elman network gets near, 10 steps)
ADDING = dict(lib="elman", cell="Elman", inputs=2, outputs=1, activation="linear",
              data="adding(steps=10, train=64, test=32)", loss="mse")


@pytest.mark.parametrize("optimizer", ["cma_es(budget=240, population=12, sigma=0.3)",
                                       "ga(budget=240, population=12)", "pso(budget=240, population=12)",
                                       "annealing(budget=60)"])
def test_each_search_trains_a_network_without_gradients(tmp_path, optimizer):
    text = spec(ADDING, f"optimizer = {optimizer}\nepochs = 3\nvalidation = 0.25\nbatch = 16",
                cell="Elman(units, returns=last)(x)")
    rows, metrics, out = train(tmp_path, text, "run")
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    evaluations = [int(float(r["evaluations"])) for r in rows]
    assert evaluations == sorted(evaluations) and 0 < evaluations[-1] <= 240
    losses = [float(r["loss"]) for r in rows]
    assert losses == sorted(losses, reverse=True)  # the best so far
    assert {"loss", "val_loss", "evaluations", "seconds"} <= set(rows[0])
    record = json.loads((out / "run.json").read_text())
    assert record["plan"]["optimizer"]["name"] == optimizer.split("(")[0]
    from rnndsl.train import sources

    data = sources.load("adding", {"steps": 10, "train": 64, "test": 32}, base=tmp_path, seed=0).test
    model = keras.saving.load_model(out / "model.keras")
    found = model.evaluate(data.inputs[0], data.targets, verbose=0, return_dict=True)
    np.testing.assert_allclose(found["loss"], metrics["test"]["loss"], rtol=1e-5)
    assert metrics["test"]["loss"] < 0.9 * untrained_test_loss(text, data)


def untrained_test_loss(text: str, data) -> float:
    """The test MSE of the network as the run starts it: seed 0, generated cells."""
    from rnndsl.keras.network import lower_network

    keras.utils.set_random_seed(0)
    model = lower_network(checked(text), "Net", fused=False).model
    return float(np.mean((model.predict(data.inputs[0], verbose=0) - data.targets) ** 2))


# each setting a search does not go with, as written in the block, and as the message writes it
CLASHES = [("method = rtrl", "method = rtrl"), ("bptt = truncated(5)", "bptt = truncated"),
           ("schedule = cosine", "schedule = cosine"), ("stop = plateau", "stop = plateau"),
           ("strategy = mirrored", "strategy = mirrored"), ("fresh = true", "fresh"), ("bucket = 4", "bucket"),
           ("fresh = true\ncurriculum = linear(start=4, epochs=2)", "fresh")]


@pytest.mark.parametrize("setting, written", CLASHES)
def test_the_settings_a_search_does_not_go_with(setting, written):
    # a network RTRL could train (a value every step), so that the search's rule is the one that speaks
    text = spec(ADDING, f"optimizer = cma_es(budget=100)\n{setting}", cell="Elman(units)(x)")
    found = diagnostics(text).split("\n")
    assert found[0] == (f"error[E0807]: `optimizer = cma_es` searches the weights without gradients, scoring every "
                        f"weight set on the whole training split: it does not go with `{written}`")
    assert found[-1].lstrip() == ("= note: a search has its own stopping point, its `budget` of weight sets; train "
                                  "by gradients for the rest")


def test_the_search_settings_are_the_libraries_options():
    from rnndsl.lang.builtins import SEARCHES
    from rnndsl.train.evolve import OPTIONS

    for method, params in SEARCHES.items():
        given = {p.name: p.default for p in params}
        assert given.pop("budget") == 10000
        assert given.pop("population", None) is None
        assert given == OPTIONS[method], method


def test_a_search_is_not_resumed(tmp_path, capsys):
    from rnndsl.cli import main

    text = spec(ADDING, "optimizer = pso(budget=48, population=8)\nepochs = 1", cell="Elman(units, returns=last)(x)")
    train(tmp_path, text, "run")
    capsys.readouterr()
    assert main(["train", str(tmp_path / "run.rnn"), "--out", str(tmp_path / "run"), "--resume"]) == 2
    assert capsys.readouterr().err == ("error: `optimizer = pso` keeps its search's state in memory only: a run of it "
                                       "is not resumed; start it again with another --out\n")


def test_a_search_scores_a_network_of_one_input_and_one_output():
    from rnndsl.lang.errors import UsageError
    from rnndsl.lang.training import Choice, TrainPlan
    from rnndsl.train import search_fit

    x = keras.Input((None, 2))
    model = keras.Model(x, [keras.layers.Dense(1)(x), keras.layers.Dense(2)(x)], name="two")
    plan = TrainPlan("two", Choice("adding"), Choice("mse"), optimizer=Choice("ga"))
    with pytest.raises(UsageError) as refused:
        search_fit.check(model, plan)
    assert str(refused.value) == ("error: `optimizer = ga` scores a network of one input and one output, and `two` "
                                  "has 1 inputs and 2 outputs")
