"""evolve: the four global searches, through the libraries, on a known function and on a network's weights.

On the sphere |w - 1|^2 in 10 dimensions, started at 0 (loss 10), each method, seeded, gets far below its
start within its budget, the same twice, asking for whole generations (one weight set at a time for
annealing) and never over the budget; `target` and `stop` end a search early; `search` fits a small
network's weights to data and leaves the best in the model; the refusals, word for word.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from rnndsl.lang.errors import UsageError  # noqa: E402
from rnndsl.train.evolve import OPTIONS, minimize, search  # noqa: E402

pytest.importorskip("cma")
pytest.importorskip("nevergrad")


def sphere(flat):
    return np.sum((flat - 1.0) ** 2, axis=1)


# method: (population, budget, the loss it must get under); the start's loss is 10
REACHES = {"cma_es": (None, 600, 1e-3), "ga": (32, 640, 2.0), "pso": (32, 640, 0.5), "annealing": (None, 600, 1.0)}


@pytest.mark.parametrize("method", sorted(REACHES))
def test_each_method_searches_the_sphere_seeded_within_its_budget(method):
    population, budget, under = REACHES[method]
    asked = []

    def objective(flat):
        asked.append(flat.shape)
        return sphere(flat)

    result = minimize(objective, np.zeros(10), method, budget=budget, population=population, seed=3)
    assert result.loss < under, result.loss
    assert result.evaluations <= budget and result.evaluations == sum(s[0] for s in asked)
    size = {"cma_es": 4 + int(3 * np.log(10)), "annealing": 1}.get(method, population)
    assert set(asked) == {(size, 10)}  # whole generations, in one call each
    assert result.evaluations > budget - size  # and as many as fit
    np.testing.assert_allclose(sphere(result.best[None, :])[0], result.loss)
    losses = [loss for _, loss in result.history]
    assert losses == sorted(losses, reverse=True) and losses[-1] == result.loss
    again = minimize(sphere, np.zeros(10), method, budget=budget, population=population, seed=3)
    np.testing.assert_array_equal(again.best, result.best)


def test_a_target_or_a_stop_ends_the_search():
    result = minimize(sphere, np.zeros(10), "cma_es", budget=5000, seed=0, target=0.1)
    assert result.stopped == "target" and result.loss <= 0.1 and result.evaluations < 5000
    assert result.history[-2][1] > 0.1  # it stopped at the first generation under the target
    seen = []

    def stop(flat, losses):
        seen.append(len(losses))
        return len(seen) == 3

    result = minimize(sphere, np.zeros(10), "pso", budget=5000, population=16, seed=0, stop=stop)
    assert result.stopped == "stop" and result.evaluations == 48 and seen == [16, 16, 16]
    result = minimize(sphere, np.zeros(10), "annealing", budget=5000, seed=0, target=5.0)
    assert result.stopped == "target" and result.evaluations < 5000


def test_cma_es_starts_again_with_twice_the_population():
    sizes = []

    def flat_then_sphere(flat):
        sizes.append(len(flat))
        return np.ones(len(flat))  # a flat fitness: pycma's criteria end each run

    result = minimize(flat_then_sphere, np.zeros(3), "cma_es", budget=2000, seed=0, restarts=2)
    assert sorted(set(sizes)) == [7, 14, 28] and result.evaluations < 2000
    sizes.clear()

    def worse_each_time(flat):
        sizes.append(len(flat))
        return len(sizes) + 1e-3 * sphere(flat)  # never better than the first generation

    # patience: a run whose best has not improved for 3 generations ends (pycma's criteria would wait longer)
    minimize(worse_each_time, np.zeros(3), "cma_es", budget=200, seed=0, restarts=1, patience=3)
    assert sizes[:5] == [7, 7, 7, 7, 14] and set(sizes[4:]) == {14}


def test_search_fits_a_network_to_data_and_leaves_the_best_weights_in_it():
    keras = pytest.importorskip("keras")
    from rnndsl.program import compile_text

    program, errors = compile_text('import "std/elman.rnn"\nnetwork Sum {\n    input x: seq[1]\n'
                                   '    h = Elman(3, returns=last)(x)\n    output Dense(1)(h)\n}\n', "sum.rnn")
    assert not errors
    model = program.build("Sum", fused=False)
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=(64, 5, 1)).astype("float32")
    y = 0.3 * x.sum(axis=1)
    before = float(keras.losses.MeanSquaredError()(y, model(x)))
    result = search(model, (x, y), "cma_es", budget=1500, seed=1, sigma=0.3)
    after = float(keras.losses.MeanSquaredError()(y, model(x)))
    assert after == pytest.approx(result.loss, rel=1e-4)
    assert after < 0.2 * before, (before, after)
    with pytest.raises(UsageError) as caught:
        search(model, 5)
    assert str(caught.value) == ("error: a search's fitness is data (x, y) or a function of the weight sets (members, "
                                 "19) giving their losses, given a int")


def test_the_options_and_refusals():
    assert set(OPTIONS) == {"cma_es", "ga", "pso", "annealing"}
    cases = [
        (dict(method="bfgs"), "error: no global optimizer `bfgs`: the methods are cma_es, ga, pso, annealing"),
        (dict(method="cma_es", sigmas=1.0),
         "error: cma_es has no option `sigmas`: its options are sigma, restarts, patience"),
        (dict(method="pso", inertia=0.5),
         "error: pso has no option `inertia`: its options are sigma, omega, phip, phig"),
        (dict(method="ga", budget=0), "error: a search needs a budget of at least one evaluation, given 0"),
        (dict(method="ga", population=1), "error: ga needs a population of at least 2, given 1"),
        (dict(method="annealing", population=8),
         "error: annealing runs one Markov chain, a weight set at a time: it takes no population"),
        (dict(method="pso", budget=10, population=16),
         "error: a budget of 10 evaluations is less than one generation of pso"),
    ]
    for kwargs, message in cases:
        with pytest.raises(UsageError) as caught:
            minimize(sphere, np.zeros(3), **kwargs)
        assert str(caught.value) == message
    with pytest.raises(UsageError) as caught:
        minimize(lambda flat: np.zeros(2), np.zeros(3), "cma_es", budget=100)
    assert str(caught.value) == ("error: the objective gave 2 losses for a generation of 7 weight sets: it must give "
                                 "one a weight set")
