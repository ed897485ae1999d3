"""evolve: global optimization of a network's weights, by CMA-ES, a genetic algorithm, PSO or simulated annealing.

The search itself is a library's: CMA-ES is pycma's (Hansen's reference implementation of Hansen &
Ostermeier 2001, with its default population 4 + 3 ln p); the genetic algorithm and particle swarm
optimization are nevergrad's (its elitist evolution strategy with two-point crossover, and its SPSO-2011
swarm, Zambrano-Bigiarini et al. 2013); simulated annealing is SciPy's `dual_annealing` (generalized
simulated annealing, Tsallis & Stariolo 1996, Xiang et al. 1997). rnndsl asks each for a whole generation
at once (pycma's `ask`, nevergrad's ask/tell with `num_workers` = the population) and evaluates it in one
batched pass (rnndsl.train.population). Annealing is one Markov chain, a point at a time: it asks for one
weight set per evaluation, and refuses a `population`.

`minimize(objective, x0, method, ...)` searches any objective `(P, p) -> (P,)` losses, lower better;
`search(model, fitness, method, ...)` searches a Keras model's trainable weights, `fitness` being data
`(x, y)` (each member's `loss` on it, averaged over the batch) or an objective; it leaves the best weights
in the model. Both return a SearchResult: the best weight set, its loss, the evaluations it took and the
history of the best loss.

The options of each method (the keyword arguments after the common ones), with their defaults, are
`OPTIONS`; their meaning is in `minimize`'s docstring.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from ..lang.errors import UsageError

__all__ = ["METHODS", "OPTIONS", "SearchResult", "minimize", "search"]

METHODS = ("cma_es", "ga", "pso", "annealing")

# Each method's options and their defaults (what a train block's `optimizer = cma_es(...)` may set).
OPTIONS = {
    "cma_es": {"sigma": 0.5, "restarts": 0, "patience": None},
    "ga": {"sigma": 0.2, "parents": None, "crossover": 0.5},
    "pso": {"sigma": 0.5, "omega": 0.5 / math.log(2.0), "phip": 0.5 + math.log(2.0), "phig": 0.5 + math.log(2.0)},
    "annealing": {"radius": 2.0, "initial_temp": 5230.0, "visit": 2.62, "accept": -5.0, "local_search": False},
}


@dataclass
class SearchResult:
    """What a search found: `best` `(p,)` float64, its `loss`, the `evaluations` it took (weight sets
    evaluated), `history` a list of (evaluations so far, best loss so far) after each generation,
    `stopped`: "budget", "target" (a loss at or under the target) or "stop" (the `stop` callable said so),
    and the wall-clock `seconds`."""

    method: str
    best: np.ndarray
    loss: float
    evaluations: int
    history: list = field(default_factory=list)
    stopped: str = "budget"
    seconds: float = 0.0


class _Tracker:
    """Counts evaluations, keeps the best weight set, and decides when the search ends."""

    def __init__(self, objective, budget, target, stop):
        self.objective, self.budget, self.target, self.stop = objective, budget, target, stop
        self.evaluations, self.best, self.loss, self.history, self.stopped = 0, None, math.inf, [], "budget"

    def __call__(self, flat: np.ndarray) -> np.ndarray:
        """The losses of a generation `(P, p)`, `(P,)` float64 (NaN counted as +inf)."""
        flat = np.asarray(flat, dtype=np.float64)
        losses = np.asarray(self.objective(flat), dtype=np.float64).reshape(-1)
        if losses.shape != (flat.shape[0],):
            raise UsageError(f"the objective gave {losses.size} losses for a generation of {flat.shape[0]} "
                             "weight sets: it must give one a weight set")
        losses = np.where(np.isnan(losses), np.inf, losses)
        self.evaluations += flat.shape[0]
        i = int(np.argmin(losses))
        if losses[i] < self.loss or self.best is None:
            self.loss, self.best = float(losses[i]), flat[i].copy()
        self.history.append((self.evaluations, self.loss))
        if self.target is not None and self.loss <= self.target:
            self.stopped = "target"
        elif self.stop is not None and self.stop(flat, losses):
            self.stopped = "stop"
        return losses

    @property
    def done(self) -> bool:
        return self.stopped != "budget" or self.evaluations >= self.budget

    def fits(self, size: int) -> bool:
        """Whether another generation of `size` fits the budget (the search runs whole generations)."""
        return not self.done and self.evaluations + size <= self.budget


def minimize(objective: Callable, x0, method: str = "cma_es", *, budget: int = 10000,
             population: Optional[int] = None, seed: int = 0, target: Optional[float] = None,
             stop: Optional[Callable] = None, **options) -> SearchResult:
    """Search for the weight set of least loss: `objective(flat (P, p) float64) -> (P,)` losses.

    `x0` `(p,)`: where the search starts (the centre of CMA-ES's first distribution, of the GA's and the
    swarm's first members, the start of the annealing chain and the middle of its box). `budget`: the most
    evaluations (weight sets evaluated); the search runs whole generations while one fits. `population`: the
    weight sets of a generation (CMA-ES: 4 + 3 ln p when None; GA and PSO: 64 when None); `seed`: the
    library's random numbers; `target`: stop at a loss at or under it; `stop(flat, losses)`: called after
    each generation, True ends the search.

    Options, by method (OPTIONS holds the defaults):
      cma_es:    sigma: the initial step size (the spread of the first generation around x0), 0.5;
                 restarts: how many times to start again, from x0 with twice the population, when pycma's
                 own criteria end a run (a flat fitness, a stagnation) before the budget, 0; patience:
                 also start again after this many generations without a better loss in the run (None: never).
      ga:        sigma: the standard deviation of the Gaussian mutation of every weight, 0.2; parents: the
                 members kept from one generation to the next (elitist, the best of parents and
                 offspring), population // 4 when None; crossover: the probability that an offspring
                 takes a segment of another parent (two-point crossover), 0.5.
      pso:       sigma: the spread of the first particles around x0, 0.5; omega: the inertia, 1 / (2 ln 2);
                 phip, phig: the pulls toward a particle's best and the swarm's best, 1/2 + ln 2 each
                 (SPSO-2011's constants).
      annealing: radius: the half-width of the box around x0 the chain visits, 2.0; initial_temp, visit,
                 accept: SciPy's temperature and the parameters of the visiting and acceptance
                 distributions (its defaults); local_search: whether dual annealing polishes each
                 point by L-BFGS-B (SciPy's default), False: plain generalized simulated annealing.
    """
    if method not in METHODS:
        raise UsageError(f"no global optimizer `{method}`: the methods are {', '.join(METHODS)}")
    unknown = sorted(set(options) - set(OPTIONS[method]))
    if unknown:
        raise UsageError(f"{method} has no option `{unknown[0]}`: its options are "
                         f"{', '.join(OPTIONS[method])}")
    if budget < 1:
        raise UsageError(f"a search needs a budget of at least one evaluation, given {budget}")
    if population is not None and method == "annealing":
        raise UsageError("annealing runs one Markov chain, a weight set at a time: it takes no population")
    if population is not None and population < 2:
        raise UsageError(f"{method} needs a population of at least 2, given {population}")
    x0 = np.asarray(x0, dtype=np.float64).reshape(-1)
    settings = {**OPTIONS[method], **options}
    tracker = _Tracker(objective, budget, target, stop)
    start = time.perf_counter()
    RUNNERS[method](tracker, x0, population, seed, settings)
    if tracker.best is None:
        raise UsageError(f"a budget of {budget} evaluations is less than one generation of {method}")
    return SearchResult(method, tracker.best, tracker.loss, tracker.evaluations, tracker.history, tracker.stopped,
                        time.perf_counter() - start)


def _cma_es(tracker: _Tracker, x0, population, seed, settings) -> None:
    import cma

    popsize = int(population) if population is not None else None
    for attempt in range(int(settings["restarts"]) + 1):
        # pycma seeds its generator only from a nonzero seed (0 means: from the clock); each restart its own
        opts = {"seed": seed + 1 + 1000 * attempt, "verbose": -9, "maxfevals": tracker.budget}
        if popsize is not None:
            opts["popsize"] = popsize
        es = cma.CMAEvolutionStrategy(x0, float(settings["sigma"]), opts)
        best, since = math.inf, 0
        while tracker.fits(es.popsize) and not es.stop():
            flat = np.asarray(es.ask())
            losses = tracker(flat)
            es.tell(list(flat), list(losses))
            best, since = (float(losses.min()), 0) if losses.min() < best else (best, since + 1)
            if settings["patience"] and since >= settings["patience"] and attempt < settings["restarts"]:
                break
        if not tracker.fits(es.popsize):
            return
        # pycma's own criteria ended it (a flat fitness, a stagnation, a step too small), or `patience`
        # generations passed without a better loss: start again from x0 with twice the population (Auger &
        # Hansen 2005's IPOP-CMA-ES)
        popsize = 2 * es.popsize


def _nevergrad(tracker: _Tracker, x0, population, seed, settings, make) -> None:
    import nevergrad as ng

    population = int(population or 64)
    parametrization = ng.p.Array(init=x0).set_mutation(sigma=float(settings["sigma"]))
    optimizer = make(ng, parametrization, population, settings)
    optimizer.parametrization.random_state.seed(seed)
    while tracker.fits(population):
        asked = [optimizer.ask() for _ in range(population)]
        losses = tracker(np.stack([np.asarray(c.value, dtype=np.float64) for c in asked]))
        for candidate, loss in zip(asked, losses):
            optimizer.tell(candidate, float(loss))


def _ga(tracker: _Tracker, x0, population, seed, settings) -> None:
    def make(ng, parametrization, size, s):
        parents = int(s["parents"] or max(2, size // 4))
        # two-point crossover of the flat weight set (a segment from the other parent), not nevergrad's
        # default average of the two
        parametrization = ng.p.mutation.Crossover(axis=0)(parametrization)
        config = ng.families.EvolutionStrategy(recombination_ratio=float(s["crossover"]), popsize=parents,
                                               offsprings=size, only_offsprings=False, ranker="simple")
        return config(parametrization, budget=None, num_workers=size)

    _nevergrad(tracker, x0, population, seed, settings, make)


def _pso(tracker: _Tracker, x0, population, seed, settings) -> None:
    def make(ng, parametrization, size, s):
        config = ng.families.ConfPSO(transform="identity", popsize=size, omega=float(s["omega"]),
                                     phip=float(s["phip"]), phig=float(s["phig"]))
        return config(parametrization, budget=None, num_workers=size)

    _nevergrad(tracker, x0, population, seed, settings, make)


class _Ended(Exception):
    """Raised from the annealing objective to end SciPy's loop (target or stop), the best kept by the tracker."""


def _annealing(tracker: _Tracker, x0, population, seed, settings) -> None:
    from scipy.optimize import dual_annealing

    radius = float(settings["radius"])

    def one(x):
        if tracker.done:
            raise _Ended()
        return float(tracker(np.asarray(x, dtype=np.float64)[None, :])[0])

    try:
        dual_annealing(one, bounds=list(zip(x0 - radius, x0 + radius)), x0=x0, maxfun=tracker.budget,
                       maxiter=10 ** 9, initial_temp=float(settings["initial_temp"]), visit=float(settings["visit"]),
                       accept=float(settings["accept"]), no_local_search=not settings["local_search"],
                       rng=np.random.default_rng(seed))
    except _Ended:
        pass


RUNNERS = {"cma_es": _cma_es, "ga": _ga, "pso": _pso, "annealing": _annealing}


def search(model, fitness, method: str = "cma_es", *, budget: int = 10000, population: Optional[int] = None,
           seed: int = 0, target: Optional[float] = None, stop: Optional[Callable] = None, loss="mse",
           x0=None, **options) -> SearchResult:
    """Search the trainable weights of a Keras `model` (built) and leave the best in it.

    `fitness`: data `(x, y)`, each member's `loss(y, model(x))` averaged over the batch, evaluated for a
    whole generation in one pass (rnndsl.train.population.Population); or an objective
    `(P, p) -> (P,)`, the flat weight sets laid out as Population lays them out. `x0`: the start, the
    model's current weights when None. The rest as `minimize`."""
    from .population import Population

    members = Population(model)
    if callable(fitness):
        objective = fitness
    else:
        if not (isinstance(fitness, (tuple, list)) and len(fitness) == 2):
            raise UsageError("a search's fitness is data (x, y) or a function of the weight sets (members, "
                             f"{members.dimension}) giving their losses, given a {type(fitness).__name__}")
        x, y = fitness

        def objective(flat):
            return members.losses(flat, x, y, loss)

    start = members.vector() if x0 is None else np.asarray(x0, dtype=np.float64)
    result = minimize(objective, start, method, budget=budget, population=population, seed=seed, target=target,
                      stop=stop, **options)
    members.assign(result.best)
    return result
