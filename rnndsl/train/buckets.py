"""buckets: batches of sequences of like lengths, each cut short (`bucket = N`), and the curriculum's draws.

A split pads its sequences at the end to its longest; the padded steps weigh 0. Bucketing sorts each
epoch's examples by the steps they use (through the last step whose sample weight is not 0), rounded up
to a multiple of N, cuts the sorted examples into batches, shuffles the batches, and cuts each batch
after its longest example's rounded steps: a batch of short sequences costs a short loop. That changes
nothing the loss reads only where the output at a step reads no later step: `check_bucketing` tries the
model on it before training. The stream's time axis is left open (None), so that batches of other
lengths, and the fresh splits of a curriculum, go through one traced step (XLA compiles each length once).
"""

from __future__ import annotations

from typing import Callable, Iterator, Optional

import numpy as np

from ..lang.errors import DataError
from ..lang.sources import CURRICULUM
from .containers import Split
from .backend import is_tensorflow
from .stream import epoch_seed, keras_arrays

__all__ = ["used_steps", "bucket_batches", "curriculum_args", "generated_stream", "check_bucketing"]


def used_steps(split: Split) -> np.ndarray:
    """(n,) int: the steps each example uses, through its last step of a sample weight that is not 0 (at least
    1). The split's weights are per step, `(n, T)`."""
    weighted = np.asarray(split.sample_weight) != 0
    last = weighted.shape[1] - np.argmax(weighted[:, ::-1], axis=1)
    return np.where(weighted.any(axis=1), last, 1)


def bucket_batches(lengths: np.ndarray, batch: int, bucket: int, rng: np.random.Generator,
                   whole: bool = False) -> list:
    """[(rows, steps)]: the examples in batches of like lengths, the batches in a random order, each with the
    steps it keeps (its longest length rounded up to a multiple of `bucket`, at most the layout's). `whole`:
    no partial batch (under a strategy)."""
    steps_of = -(-lengths // bucket) * bucket
    order = rng.permutation(len(lengths))
    order = order[np.argsort(steps_of[order], kind="stable")]  # like lengths together, random within them
    stop = len(order) - len(order) % batch if whole else len(order)
    batches = [order[i:min(i + batch, stop)] for i in range(0, stop, batch)]
    return [(batches[i], int(steps_of[batches[i]].max())) for i in rng.permutation(len(batches))]


def curriculum_args(plan, epoch: int) -> dict:
    """The source's arguments for the fresh split of `epoch`: under `curriculum = linear(start, epochs)` the
    grown length (rnndsl.lang.sources.CURRICULUM) is `start` at epoch 0 and grows linearly to the source's own
    by epoch `epochs`, then stays; without a curriculum, the source's arguments."""
    args = dict(plan.data.args)
    if plan.curriculum.name == "none":
        return args
    grown, start, over = CURRICULUM[plan.data.name], plan.curriculum.args["start"], plan.curriculum.args["epochs"]
    full = args[grown]
    args[grown] = start + (full - start) * min(epoch, over) // over
    return args


def generated_stream(draw: Callable, plan, start: int, layout: Split):
    """A stream of the batches of epochs `start` to `plan.epochs - 1`, each epoch's from `draw(epoch)` (a Split):
    bucketed when `plan.bucket`, else in the order drawn, whole. On TensorFlow a tf.data stream, `layout` giving
    the arrays' ranks and dtypes (their batch and time axes left open); elsewhere the generator itself."""
    def batches() -> Iterator:
        whole = plan.strategy.name != "default"
        for epoch in range(start, plan.epochs):
            split = draw(epoch)
            if plan.bucket:
                rng = np.random.default_rng(epoch_seed(plan.seed, epoch))
                cuts = bucket_batches(used_steps(split), plan.batch, plan.bucket, rng, whole)
            else:
                stop = split.size - split.size % plan.batch if whole else split.size
                cuts = [(np.arange(i, min(i + plan.batch, stop)), None) for i in range(0, stop, plan.batch)]
            for rows, steps in cuts:
                yield _keras_batch(split.subset(rows), steps)

    if not is_tensorflow():
        return batches()
    import tensorflow as tf

    signature = tuple(_open_spec(a, tf) for a in _keras_batch(layout.subset(np.arange(1)), None))
    return tf.data.Dataset.from_generator(batches, output_signature=signature).prefetch(2)


def _keras_batch(split: Split, steps: Optional[int]) -> tuple:
    """(x, y[, w]) as `fit` takes them, each array with a time axis cut to `steps` (all of them if None)."""
    x, y, w = keras_arrays(split)
    cut = (lambda a: a) if steps is None else (lambda a: a[:, :steps] if a.ndim > 1 else a)
    x = tuple(cut(a) for a in x) if isinstance(x, list) else cut(x)
    return (x, cut(y)) if w is None else (x, cut(y), cut(w))


def _open_spec(value, tf):
    """The TensorSpec of an array (or a tuple of them) with its batch and time axes open."""
    if isinstance(value, tuple):
        return tuple(_open_spec(v, tf) for v in value)
    shape = (None,) + ((None,) if value.ndim > 1 else ()) + tuple(value.shape[2:])
    return tf.TensorSpec(shape, tf.as_dtype(value.dtype))


def check_bucketing(model, split: Split) -> None:
    """A DataError unless bucketing changes nothing the loss reads: the training split weighs each step
    `(n, T)`, and the model's output at a step reads no later step. The second is tried on a few examples:
    their inputs after the middle step are changed (a number by 1, a token id 0 to 1 and others to 0), and
    the outputs before it must not move."""
    weight = split.sample_weight
    if weight is None or np.ndim(weight) != 2:
        raise DataError("`bucket` cuts each batch after its last weighted step: the training data has no sample "
                        "weight per step (n, steps)")
    rows = np.arange(min(split.size, 8))
    x = [np.asarray(a[rows]) for a in split.inputs]
    steps = x[0].shape[1]
    half = steps // 2
    swapped = [a.copy() for a in x]
    for a in swapped:
        a[:, half:] = (a[:, half:] == 0) if a.dtype.kind in "iub" else a[:, half:] + 1
    before = [np.asarray(o) for o in _outputs(model, x)]
    after = [np.asarray(o) for o in _outputs(model, swapped)]
    for o, p in zip(before, after):
        if o.ndim < 2 or o.shape[1] != steps or not np.allclose(o[:, :half], p[:, :half], rtol=1e-5, atol=1e-6):
            raise DataError(f"`bucket` cuts each batch after its last weighted step, which is right only when the "
                            f"output at a step reads no later step; `{model.name}`'s output at step {half - 1} "
                            f"changes with the inputs after it (a layer that reads backward, or an output "
                            f"of the whole sequence)")


def _outputs(model, x: list) -> list:
    out = model(x[0] if len(x) == 1 else x, training=False)
    return out if isinstance(out, (list, tuple)) else [out]
