"""sequence_metrics: how wrong whole sequences are, the measures of algorithmic tasks (copy, repeat copy).

`WrongBits` counts the wrong bits (or the wrong tokens) of a sequence and averages the count over
sequences, as Graves et al. (2014) report the NTM's copy task; `SequenceAccuracy` is the fraction of
sequences with none wrong. Both read the outputs at every step:

- binary targets `(batch, T, bits)` (`loss = binary_cross_entropy`, sigmoid outputs): a bit is wrong
  where the output, rounded at 0.5, differs from the target;
- class-id targets `(batch, T)` (`loss = cross_entropy`, softmax outputs): a token is wrong where the
  most probable class is not the target.

Only the steps that count are compared: a sample weight `(batch, T)` of 0 leaves a step out (the copy
task weighs only the steps of the answer; padding weighs 0), and a weight `(batch,)` scales a sequence.
"""

from __future__ import annotations

import keras
from keras import ops

from . import PACKAGE

# Written with keras.ops alone: the metrics run on any Keras back end, and inside a compiled training step.


def wrong_per_sequence(y_true, y_pred, sample_weight=None):
    """(wrong bits or tokens of each sequence at its steps that count `(batch,)`, each sequence's weight
    `(batch,)`), both float32.

    y_true: binary `(batch, T, bits)` or class ids `(batch, T)`; y_pred: `(batch, T, bits)` sigmoid outputs or
    `(batch, T, classes)` scores; sample_weight: None, `(batch, T)` (0 leaves a step out) or `(batch,)`.
    """
    y_true, y_pred = ops.convert_to_tensor(y_true), ops.convert_to_tensor(y_pred)
    if len(y_true.shape) == len(y_pred.shape):  # binary targets, one per output unit
        wrong = ops.cast(ops.not_equal(ops.cast(y_pred > 0.5, "float32"), ops.cast(y_true, "float32")), "float32")
        wrong = ops.sum(wrong, axis=-1)  # (batch, T)
    else:  # class ids
        wrong = ops.cast(ops.not_equal(ops.cast(ops.argmax(y_pred, axis=-1), "int32"), ops.cast(y_true, "int32")),
                         "float32")
    weight = None
    if sample_weight is not None:
        sample_weight = ops.cast(ops.convert_to_tensor(sample_weight), "float32")
        if len(sample_weight.shape) == 2:  # steps that count
            wrong = wrong * ops.cast(sample_weight > 0, "float32")
        else:
            weight = ops.reshape(sample_weight, (-1,))
    if len(wrong.shape) == 2:
        wrong = ops.sum(wrong, axis=1)
    if weight is None:
        weight = ops.ones_like(wrong)  # its shape from the tensor: TensorFlow may know the batch only when it runs
    return wrong, weight


class _PerSequence(keras.metrics.Metric):
    """A mean over sequences of a per-sequence figure, `figure(wrong)` of the subclass, weighted by the
    sequences' weights."""

    def __init__(self, name: str, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable(shape=(), initializer="zeros", dtype="float32", name="total")
        self.count = self.add_variable(shape=(), initializer="zeros", dtype="float32", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        wrong, weight = wrong_per_sequence(y_true, y_pred, sample_weight)
        self.total.assign_add(ops.sum(self.figure(wrong) * weight))
        self.count.assign_add(ops.sum(weight))

    def result(self):
        return self.total / ops.maximum(self.count, 1e-12)

    def reset_state(self):
        self.total.assign(0.0)
        self.count.assign(0.0)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


@keras.saving.register_keras_serializable(package=PACKAGE)
class WrongBits(_PerSequence):
    """Wrong bits (or tokens) per sequence, at the steps that count, averaged over sequences."""

    def __init__(self, name: str = "wrong_bits", dtype=None):
        super().__init__(name=name, dtype=dtype)

    figure = staticmethod(lambda wrong: wrong)


@keras.saving.register_keras_serializable(package=PACKAGE)
class SequenceAccuracy(_PerSequence):
    """The fraction of sequences with no wrong bit (or token) at the steps that count."""

    def __init__(self, name: str = "sequence_accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype)

    @staticmethod
    def figure(wrong):
        return ops.cast(ops.equal(wrong, 0.0), "float32")
