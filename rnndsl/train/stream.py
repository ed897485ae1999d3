"""stream: a split's arrays as Keras takes them: the training stream of batches, and whole arrays.

`training_stream` is one stream (tf.data on TensorFlow) of the batches of the epochs a run trains, each epoch
in an order drawn from (seed, epoch) alone, so that a resumed run sees the batches an
uninterrupted one would; `fresh_stream` draws a new training split every epoch from a
generator (`fresh = true`), also from (seed, epoch) alone; `keras_arrays` gives (x, y, sample
weights) for `evaluate` and `fit`'s validation data.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from ..lang import training
from .backend import is_tensorflow

__all__ = ["training_stream", "fresh_stream", "epoch_seed", "keras_arrays", "validation_data"]


def training_stream(split, plan: training.TrainPlan, start: int):
    """The training stream of epochs `start` to `plan.epochs - 1` as `fit` takes it: batches, or under
    truncated BPTT their chunks, of whole batches only under a strategy or truncated BPTT.

    Under a strategy, `fit` hands the stream to tf.distribute, which cuts each global batch into equal
    parts, one a replica; across workers each worker draws the same batches (the order is the seed's)
    and keeps its replicas' parts. tests/test_distribute.py checks that the loss curve is one device's."""
    k = plan.bptt.args["k"] if plan.bptt.name == "truncated" else None
    whole = plan.strategy.name != "default" or k is not None
    return _batches(split, plan.batch, plan.seed, start, plan.epochs, whole=whole, chunk=k)


def _batches(split, batch: int, seed: int, start: int, epochs: int, *, whole: bool = False,
             chunk: Optional[int] = None):
    """The training split as one stream of the batches of epochs `start` to `epochs - 1`, each epoch in
    its own order, drawn from (seed, epoch) alone: a resumed run sees the batches an uninterrupted one
    would. On TensorFlow a tf.data stream (a Python PyDataset did the same at twice the time a step);
    on the other back ends a generator of NumPy batches, in NumPy's orders, not TensorFlow's.

    `whole`: each epoch's last, partial batch is left out. `chunk` k: each batch `(B, T, ...)` comes as
    its chunks of k steps, `(B, k, ...)` in order along the time axis (the last one shorter when k does
    not divide T); per-sequence weights `(B,)` go with every chunk."""
    if not is_tensorflow():
        return _numpy_batches(split, batch, seed, start, epochs, whole=whole, chunk=chunk)
    import tensorflow as tf

    arrays = [tf.constant(a) for a in split.inputs] + [tf.constant(split.targets)]
    if split.sample_weight is not None:
        arrays.append(tf.constant(split.sample_weight))
    n, inputs = split.size, len(split.inputs)

    def epoch_order(epoch):
        order = tf.random.experimental.stateless_shuffle(tf.range(n, dtype=tf.int64),
                                                         seed=tf.stack([tf.cast(seed, tf.int64), epoch]))
        return tf.data.Dataset.from_tensor_slices(order).batch(batch, drop_remainder=whole)

    def gather(rows):
        return tuple(tf.gather(a, rows) for a in arrays)

    def chunks(*picked):
        steps = int(picked[0].shape[1])

        def cut(i):  # the arrays with a time axis sliced; a weight per sequence (rank 1) kept whole
            return tuple(a if a.shape.rank == 1 else a[:, i * chunk:(i + 1) * chunk] for a in picked)

        return tf.data.Dataset.range(-(-steps // chunk)).map(cut)

    def keras_form(*picked):
        x = picked[0] if inputs == 1 else tuple(picked[:inputs])
        return (x,) + tuple(picked[inputs:])

    stream = tf.data.Dataset.range(start, epochs).flat_map(epoch_order).map(gather,
                                                                            num_parallel_calls=tf.data.AUTOTUNE)
    if chunk is not None:
        stream = stream.flat_map(chunks)
    return stream.map(keras_form).prefetch(tf.data.AUTOTUNE)


def _numpy_batches(split, batch: int, seed: int, start: int, epochs: int, *, whole: bool, chunk: Optional[int]):
    """`_batches` as a generator of NumPy batches `(x, y[, w])`, each epoch's order NumPy's of (seed, epoch)."""
    arrays = [*split.inputs, split.targets] + ([] if split.sample_weight is None else [split.sample_weight])
    inputs = len(split.inputs)
    for epoch in range(start, epochs):
        order = np.random.default_rng([seed, epoch]).permutation(split.size)
        stop = split.size - split.size % batch if whole else split.size
        for first in range(0, stop, batch):
            picked = [a[order[first:first + batch]] for a in arrays]
            steps = picked[0].shape[1] if chunk is not None else None
            for cut in ([slice(None)] if chunk is None else
                        [slice(i, i + chunk) for i in range(0, steps, chunk)]):
                part = [a if a.ndim == 1 else a[:, cut] for a in picked]  # a weight per sequence kept whole
                yield (part[0] if inputs == 1 else tuple(part[:inputs]),) + tuple(part[inputs:])


def epoch_seed(seed: int, epoch: int) -> int:
    """The generator's seed of an epoch's fresh training split: not the run's own seed, whose draw gives the
    validation and test splits, and the same for the same (seed, epoch), so that a resumed run sees the
    examples an uninterrupted one would."""
    return ((seed + 1) * 1_000_003 + epoch) % (2 ** 31 - 1)


def fresh_stream(draw, plan: training.TrainPlan, start: int):
    """Batches `(x, y[, w])` of epochs `start` to `plan.epochs - 1`, each epoch's from its own training split,
    `draw(epoch_seed(seed, epoch))`, in the order the generator drew it; a generator of NumPy arrays, as
    `fit` takes one. Under a strategy each epoch's last, partial batch is left out, as there."""
    whole = plan.strategy.name != "default"
    for epoch in range(start, plan.epochs):
        split = draw(epoch_seed(plan.seed, epoch))
        stop = split.size - split.size % plan.batch if whole else split.size
        for first in range(0, stop, plan.batch):
            rows = slice(first, min(first + plan.batch, stop))
            x, y, w = keras_arrays(split.subset(rows))
            yield (x, y) if w is None else (x, y, w)


def keras_arrays(split, order=None):
    """(inputs, targets, sample weights) of a split as Keras takes them, in `order` if given."""
    pick = (lambda a: a) if order is None else (lambda a: a[order])
    inputs = [pick(a) for a in split.inputs]
    weights = None if split.sample_weight is None else pick(split.sample_weight)
    return (inputs[0] if len(inputs) == 1 else inputs), pick(split.targets), weights


def validation_data(split):
    if split is None:
        return None
    x, y, w = keras_arrays(split)
    return (x, y) if w is None else (x, y, w)
