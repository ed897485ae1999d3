"""Reproductions of neuroevolution (issue 20): global searches of a network's weights, rnndsl.train.evolve.
Marked `slow`: `make repro` runs them, each within 10 minutes on 2 CPU cores.

- Double-pole balancing without velocities (Wieland 1991; the benchmark of Gomez & Miikkulainen 1999 and
  Igel 2003): PoleRNN of examples/poles.rnn (3 tanh units seeing the cart's position and the two angles),
  evolved by CMA-ES (pycma, restarts with twice the population) and by a genetic algorithm (nevergrad), each
  evaluation 1000 actions scored by Gruau et al.'s fitness, until one balances 100,000 actions; the
  evaluations each needed are reported (Igel 2003: a few thousand for CMA-ES). PoleFF, the same network
  without its recurrent weights, fails within the same budgets.
- Simulated annealing (SciPy's dual annealing) and particle swarm optimization (nevergrad) on a smaller
  task, recalling the input of two steps back with an Elman network of 4 units, beside the same network
  trained by gradient (Adam, BPTT) and searched by CMA-ES, each search given 20,000 evaluations.

docs/reproductions.md records the figures reached.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import rnndsl  # noqa: E402
from test_repro import _record  # noqa: E402

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
TEST_STEPS = 100_000
# The searches: CMA-ES with its default population (4 + 3 ln 25 = 13) and restarts after 100 generations
# without a better fitness; the GA with 64 members a generation, 16 parents, Gaussian mutation 0.3.
CMA = dict(method="cma_es", budget=20_000, sigma=0.3, restarts=9, patience=100)
GA = dict(method="ga", budget=30_000, population=64, sigma=0.3)


def _controller(cell: str):
    from rnndsl.keras.cell import cell_rnn

    layer = cell_rnn(rnndsl.load(EXAMPLES / "poles.rnn"), cell, input_dim=3)
    layer.build((None, None, 3))
    return layer


def _evolve(cell: str, seed: int, search: dict):
    from rnndsl.train.poles import evolve_controller

    return evolve_controller(_controller(cell), seed=seed, test_steps=TEST_STEPS, **search)


def test_double_pole_without_velocities_by_cma_es():
    started = time.perf_counter()
    runs = {seed: _evolve("PoleRNN", seed, CMA) for seed in range(5)}
    evaluations = {seed: r.evaluations for seed, r in runs.items()}
    solved = [seed for seed, r in runs.items() if r.solved]
    median = float(np.median(list(evaluations.values())))
    _record("double pole without velocities, CMA-ES", "seeds balancing 100,000 steps; evaluations each",
            {"solved": len(solved), "evaluations": evaluations, "median": median},
            "5 of 5 within 20,000; median < 10,000", "0-4", started)
    print("CMA-ES evaluations by seed:", evaluations, "median", median)
    assert solved == list(range(5)), evaluations
    assert median < 10_000


def test_double_pole_without_velocities_by_a_genetic_algorithm():
    started = time.perf_counter()
    runs = {seed: _evolve("PoleRNN", seed, GA) for seed in range(3)}
    evaluations = {seed: r.evaluations for seed, r in runs.items()}
    solved = [seed for seed, r in runs.items() if r.solved]
    _record("double pole without velocities, GA", "seeds balancing 100,000 steps; evaluations each",
            {"solved": len(solved), "evaluations": evaluations}, "3 of 3 within 30,000", "0-2", started)
    print("GA evaluations by seed:", evaluations)
    assert solved == list(range(3)), evaluations


def test_a_feed_forward_controller_fails_within_the_same_budgets():
    started = time.perf_counter()
    runs = {name: _evolve("PoleFF", 0, search) for name, search in (("CMA-ES", CMA), ("GA", GA))}
    found = {name: {"solved": r.solved, "evaluations": r.evaluations, "best fitness": round(-r.search.loss, 4),
                    "most steps balanced": r.longest} for name, r in runs.items()}
    _record("double pole without velocities, feed-forward control", "balances 100,000 steps", found,
            "neither", 0, started)
    print("PoleFF:", found)
    assert not any(r.solved for r in runs.values())
    assert all(r.longest < 1000 for r in runs.values())  # not one evaluation lasted its 1000 actions
    assert all(r.evaluations > search["budget"] - 64 for r, search in zip(runs.values(), (CMA, GA)))


# ---------------------------------------------------------------- a smaller task: annealing and PSO

DELAY = '''import "std/elman.rnn"
network Delay(units: int = 4) {
    input x: seq[1]
    h = Elman(units)(x)
    output Dense(1)(h)
}
'''
LAG, STEPS = 2, 10


def _delay_data(count: int, seed: int):
    """Sequences uniform in [-1, 1] `(count, STEPS, 1)`; the target at t the input at t - LAG (0 before)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(count, STEPS, 1)).astype("float32")
    y = np.zeros_like(x)
    y[:, LAG:] = x[:, :-LAG]
    return x, y


def test_annealing_and_pso_beside_gradient_descent_on_a_delayed_recall():
    import keras

    from rnndsl.program import compile_text
    from rnndsl.train.evolve import search

    program, errors = compile_text(DELAY, "delay.rnn")
    assert not errors
    x, y = _delay_data(256, 0)
    x_test, y_test = _delay_data(1024, 1)
    found = {}
    started = time.perf_counter()
    for way in ("adam", "pso", "annealing", "cma_es"):
        begun = time.perf_counter()
        keras.utils.set_random_seed(0)
        model = program.build("Delay", fused=False)
        if way == "adam":
            model.compile(keras.optimizers.Adam(1e-2), "mse")
            model.fit(x, y, batch_size=32, epochs=30, verbose=0)
            spent = "30 epochs of 8 batches"
        else:
            result = search(model, (x, y), way, budget=20_000, seed=0, **({"population": 64} if way == "pso" else {}))
            spent = f"{result.evaluations} evaluations"
        mse = float(np.mean((model.predict(x_test, verbose=0) - y_test) ** 2))
        found[way] = {"test MSE": mse, "spent": spent, "seconds": round(time.perf_counter() - begun, 1)}
    baseline = float(np.mean(y_test ** 2))  # the test MSE of predicting 0, about 0.8 / 3
    _record("delayed recall (lag 2), Elman(4)", "test MSE by Adam, PSO, annealing, CMA-ES", found,
            f"each < 0.05 (predicting 0: {baseline:.3f})", 0, started)
    print("delayed recall:", found)
    assert found["adam"]["test MSE"] < 0.05
    assert all(found[way]["test MSE"] < 0.05 for way in ("pso", "annealing", "cma_es"))
