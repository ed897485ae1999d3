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

# TensorFlow is imported in the functions that call it: rnndsl registers this module's Keras classes
# on any Keras back end.


def wrong_per_sequence(y_true, y_pred, sample_weight=None):
    """(wrong bits or tokens of each sequence at its steps that count `(batch,)`, each sequence's weight)."""
    import tensorflow as tf

    y_true, y_pred = tf.convert_to_tensor(y_true), tf.convert_to_tensor(y_pred)
    if y_true.shape.rank == y_pred.shape.rank:  # binary targets, one per output unit
        wrong = tf.cast(tf.not_equal(tf.cast(y_pred > 0.5, tf.float32), tf.cast(y_true, tf.float32)), tf.float32)
        wrong = tf.reduce_sum(wrong, axis=-1)  # (batch, T)
    else:  # class ids
        wrong = tf.cast(tf.not_equal(tf.argmax(y_pred, axis=-1, output_type=tf.int32), tf.cast(y_true, tf.int32)),
                        tf.float32)
    weight = tf.ones(tf.shape(wrong)[:1], tf.float32)
    if sample_weight is not None:
        sample_weight = tf.cast(tf.convert_to_tensor(sample_weight), tf.float32)
        if sample_weight.shape.rank == 2:  # steps that count
            wrong = wrong * tf.cast(sample_weight > 0, tf.float32)
        else:
            weight = tf.reshape(sample_weight, [-1])
    if wrong.shape.rank == 2:
        wrong = tf.reduce_sum(wrong, axis=1)
    return wrong, weight


class _PerSequence(keras.metrics.Metric):
    """A mean over sequences of a per-sequence figure, `figure(wrong)` of the subclass, weighted by the
    sequences' weights."""

    def __init__(self, name: str, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable(shape=(), initializer="zeros", dtype="float32", name="total")
        self.count = self.add_variable(shape=(), initializer="zeros", dtype="float32", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        import tensorflow as tf

        wrong, weight = wrong_per_sequence(y_true, y_pred, sample_weight)
        self.total.assign_add(tf.reduce_sum(self.figure(wrong) * weight))
        self.count.assign_add(tf.reduce_sum(weight))

    def result(self):
        import tensorflow as tf

        return self.total / tf.maximum(self.count, 1e-12)

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
