"""surprise: the steps a predictor failed to predict, as flags, for a chunker that sees only those.

`Mispredicted(threshold)` takes `[inputs (batch, T, d), predictions (batch, T, d)]`, the predictions made at
each step of the next step's input (an automatizer's, in Schmidhuber's 1992 history compressor), and gives
flags `(batch, T, 1)`: 1.0 at step 0 (nothing before it predicted it) and at each step t whose input the
prediction of step t - 1 missed, else 0.0. Without a threshold, a miss is a wrong class: argmax(input[t]) !=
argmax(prediction[t-1]) (one-hot symbols against a softmax); with one, a miss is some feature off by more
than it: max |input[t] - prediction[t-1]| > threshold. The flags are decisions: no gradient flows through
them. A step that is padding (a mask on the inputs) is 0, and the mask passes on. `Gather` after it packs the
flagged steps to the front. Written in `keras.ops`; a NumPy reference is in tests/test_surprise.py.
"""

from __future__ import annotations

from typing import Optional

import keras
from keras import ops

from . import PACKAGE


@keras.saving.register_keras_serializable(package=PACKAGE)
class Mispredicted(keras.layers.Layer):
    """`[inputs, predictions]`, each `(batch, T, d)` -> flags `(batch, T, 1)` (see the module's docstring)."""

    def __init__(self, threshold: Optional[float] = None, **kwargs):
        super().__init__(**kwargs)
        if threshold is not None and not float(threshold) > 0:
            raise ValueError(f"a misprediction's threshold is above 0, not {threshold}")
        self.threshold = None if threshold is None else float(threshold)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        values, predictions = (ops.stop_gradient(t) for t in inputs)
        current, previous = values[:, 1:], predictions[:, :-1]  # the input at t against the guess made at t - 1
        if self.threshold is None:
            missed = ops.not_equal(ops.argmax(current, axis=-1), ops.argmax(previous, axis=-1))
        else:
            missed = ops.greater(ops.max(ops.abs(current - previous), axis=-1), self.threshold)
        first = ops.ones_like(missed[:, :1])
        flags = ops.cast(ops.concatenate([first, missed], axis=1), values.dtype)
        given = mask[0] if isinstance(mask, (list, tuple)) else mask
        if given is not None:
            flags = flags * ops.cast(given, flags.dtype)
        return flags[:, :, None]

    def compute_output_spec(self, inputs, mask=None):
        values = inputs[0]
        return keras.KerasTensor(tuple(values.shape[:2]) + (1,), dtype=values.dtype)

    def compute_mask(self, inputs, mask=None):
        return mask[0] if isinstance(mask, (list, tuple)) else mask

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold}
