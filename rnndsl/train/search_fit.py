"""search_fit: a run trained by a global search of its weights (`train { optimizer = cma_es(...) }`, `ga`, `pso`,
`annealing`), no gradient anywhere.

rnndsl.train.evolve searches the model's trainable weights with the library its method names; every weight
set of a generation is scored in one batched pass (rnndsl.train.population) on the whole training split, in
slices of `batch` sequences: the loss Keras would report for the split, the per-step loss times the sample
weight, summed and divided by the number of losses. The search's `budget` (weight sets evaluated) is spread
over the run's `epochs`: after each share, history.csv gets the epoch's row (the best loss so far, and the
validation split's loss and metrics at the best weights) and the checkpoint is saved, as after a BPTT
epoch; the model is left at the best weights found. A search keeps its state (CMA-ES's distribution, the
swarm) in memory only: a run is not resumed.
"""

from __future__ import annotations

import time

import numpy as np

from ..lang import builtins
from ..lang.errors import UsageError
from .backend import sample_loss
from .stream import keras_arrays

__all__ = ["SEARCHES", "check", "fit"]

SEARCHES = tuple(builtins.SEARCHES)


def check(model, plan) -> None:
    """A UsageError where the search cannot score the model: one input and one output."""
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise UsageError(f"`optimizer = {plan.optimizer.name}` scores a network of one input and one output, "
                         f"and `{model.name}` has {len(model.inputs)} inputs and {len(model.outputs)} outputs")


def objective(members, split, loss: str, batch: int):
    """`(P, p)` weight sets -> `(P,)` float64: each one's loss on the whole `split`, `batch` sequences a pass."""
    import tensorflow as tf

    x, y, w = keras_arrays(split)
    fn = sample_loss(loss)

    def losses(flat):
        total, seen = 0.0, 0
        for start in range(0, len(x), batch):
            xb, yb = x[start:start + batch], y[start:start + batch]
            out = members.outputs(flat, xb)  # (P, b, ...)
            per = tf.vectorized_map(lambda o: fn(tf.cast(yb, o.dtype) if loss != "cross_entropy" else yb, o), out)
            if w is not None:
                per = per * tf.cast(w[start:start + batch], per.dtype)
            total = total + tf.reduce_sum(tf.reshape(per, (tf.shape(per)[0], -1)), axis=1)
            seen += int(np.prod(per.shape[1:]))
        return np.asarray(total, dtype=np.float64) / max(seen, 1)

    return losses


def fit(model, plan, train_split, validation, history, out, started: float, verbose: int) -> object:
    """Search `model`'s weights as `plan` says; a row of `history` and a checkpoint in `out` per epoch. The
    evolve.SearchResult."""
    from .evolve import search
    from .folder import save_checkpoint
    from .population import Population

    members = Population(model)
    score = objective(members, train_split, plan.loss.name, plan.batch)
    args = {**{p.name: p.default for p in builtins.SEARCHES[plan.optimizer.name]}, **plan.optimizer.args}
    budget, population = int(args.pop("budget")), args.pop("population", None)
    share = max(1, budget // plan.epochs)
    state = {"evaluations": 0, "epoch": 0, "best": None, "loss": np.inf}
    vx, vy, vw = keras_arrays(validation) if validation is not None else (None, None, None)

    def epoch_end():
        state["epoch"] += 1
        logs = {"loss": state["loss"]}
        if validation is not None:
            members.assign(state["best"])
            found = model.evaluate(vx, vy, sample_weight=vw, batch_size=plan.batch, verbose=0, return_dict=True)
            logs.update({f"val_{k}": v for k, v in found.items()})
        logs["evaluations"] = state["evaluations"]
        history.add(state["epoch"], logs, time.perf_counter() - started)
        members.assign(state["best"])
        save_checkpoint(model, out, state["epoch"])
        if verbose:
            print(f"epoch {state['epoch']}/{plan.epochs}: {state['evaluations']} evaluations, best loss "
                  f"{state['loss']:.6g}", flush=True)

    def after_generation(flat, losses):
        losses = np.asarray(losses)
        state["evaluations"] += len(losses)
        i = int(np.argmin(losses))
        if losses[i] < state["loss"] or state["best"] is None:  # a first generation of infinite losses too
            state["loss"], state["best"] = float(losses[i]), np.array(flat[i])
        while state["epoch"] < plan.epochs - 1 and state["evaluations"] >= share * (state["epoch"] + 1):
            epoch_end()
        return False

    result = search(model, score, plan.optimizer.name, budget=budget, population=population, seed=plan.seed,
                    stop=after_generation, **args)
    state["best"], state["loss"] = result.best, result.loss
    state["evaluations"] = result.evaluations
    while state["epoch"] < plan.epochs:
        epoch_end()
    return result
