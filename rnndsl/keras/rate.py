"""rate: the layers that change the rate of a sequence, and its mask with it.

Each takes `(batch, T, *item)` (any item shape, any dtype where it only moves steps) and gives
`(batch, T', *item)`; a Keras mask `(batch, T)` on its input (padding: `Embedding(mask_zero=True)`,
`Masking`) becomes the mask of its output, so that the recurrent layers after it skip the steps that
are padding at the new rate. Written in `keras.ops` (TensorFlow, JAX, PyTorch); NumPy references of
each are in tests/test_rate_layers.py.

- `Subsample(stride, offset)`: steps offset, offset + stride, ... (T' = ceil((T - offset) / stride)).
- `AveragePooling1D`, `MaxPooling1D(pool_size, strides, padding)`: windows of `pool_size` steps every
  `strides` steps, as Keras's layers of those names place them ("valid": whole windows, T' =
  floor((T - pool_size) / strides) + 1; "same": T' = ceil(T / strides), padded as TensorFlow pads, the
  extra step at the end); a window reads only the steps that are not padding, and is padding itself
  where it has none (its output is then 0). Keras's own layers neither read nor pass a mask, and on
  PyTorch pad an average with copies of the edge step; these agree on every back end.
- `UpSampling1D(size)`: each step `size` times in a row (T' = T * size), as Keras's layer of that name.
- `Gather(times)`: `[values, flags]` -> the steps of `values` whose flag is not 0 (and that are not
  padding), in order, packed to the front; the T - n steps after them are 0 and masked. With `times`,
  each kept step's features end with its step index t (0, 1, ...) in the input.
- `Scatter(hold)`: `[values, flags]` -> Gather's inverse, the k-th kept step's value back at its time (and,
  with `hold`, at every step until the next kept one), at the flags' rate and with their mask.
"""

from __future__ import annotations

import math

import keras
from keras import ops

from . import PACKAGE

PADDINGS = ("valid", "same")


class RateLayer(keras.layers.Layer):
    """A layer that moves steps, and the mask with them: a subclass gives `_length(T)`, its output's number of
    steps (None where T is), `_mask(inputs, mask)`, its output's mask, and `_item` where a step's shape changes.
    Its output has a mask where its input has one, or always (`masks`)."""

    masks = False

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def _item(self, item: tuple) -> tuple:
        """The shape of an output step from an input step's."""
        return item

    def compute_output_spec(self, inputs, mask=None):
        # from the shapes alone: a back end that traces `call` over unknown lengths (JAX's symbolic shapes)
        # could not size the padding of "same" pooling
        first = keras.tree.flatten(inputs)[0]
        shape = (first.shape[0], self._length(first.shape[1])) + self._item(tuple(first.shape[2:]))
        return keras.KerasTensor(shape, dtype=first.dtype)

    def compute_mask(self, inputs, mask=None):
        if not self.masks and not any(m is not None for m in keras.tree.flatten(mask)):
            return None
        if any(isinstance(t, keras.KerasTensor) for t in keras.tree.flatten(inputs)):
            return StepMask(self)(inputs, mask)  # a model being built: the step of its graph that gives the mask
        return self._mask(inputs, mask)


@keras.saving.register_keras_serializable(package=PACKAGE)
class StepMask(keras.Operation):
    """The mask of a rate layer's output as a step of a model's graph: a model computes it as it runs, from the
    layer's input and its mask (the number of steps is known only then). Saved with a copy of its layer."""

    def __init__(self, layer, name=None):
        if isinstance(layer, dict):
            layer = keras.saving.deserialize_keras_object(layer)
        super().__init__(name=name or f"{layer.name}_mask")
        self.layer = layer

    def get_config(self):
        return {"layer": keras.saving.serialize_keras_object(self.layer), "name": self.name}

    def call(self, inputs, mask):
        return self.layer._mask(inputs, mask)

    def compute_output_spec(self, inputs, mask):
        first = keras.tree.flatten(inputs)[0]
        return keras.KerasTensor((first.shape[0], self.layer._length(first.shape[1])), dtype="bool")


@keras.saving.register_keras_serializable(package=PACKAGE)
class Subsample(RateLayer):
    """`(batch, T, *item)` -> `(batch, ceil((T - offset) / stride), *item)`: steps offset, offset + stride, ..."""

    def __init__(self, stride: int, offset: int = 0, **kwargs):
        super().__init__(**kwargs)
        if int(stride) < 1 or not 0 <= int(offset) < int(stride):
            raise ValueError(f"a subsample's stride is at least 1 and its offset below it, not {stride}, {offset}")
        self.stride, self.offset = int(stride), int(offset)

    def call(self, inputs, mask=None):
        return inputs[:, self.offset::self.stride]

    def _length(self, steps):
        return None if steps is None else max(0, -(-(steps - self.offset) // self.stride))

    def _mask(self, inputs, mask):
        return mask[:, self.offset::self.stride]

    def get_config(self):
        return {**super().get_config(), "stride": self.stride, "offset": self.offset}


@keras.saving.register_keras_serializable(package=PACKAGE)
class UpSampling1D(RateLayer):
    """`(batch, T, *item)` -> `(batch, T * size, *item)`: each step `size` times in a row."""

    def __init__(self, size: int = 2, **kwargs):
        super().__init__(**kwargs)
        if int(size) < 1:
            raise ValueError(f"an upsampling's size is at least 1, not {size}")
        self.size = int(size)

    def call(self, inputs, mask=None):
        return ops.repeat(inputs, self.size, axis=1)

    def _length(self, steps):
        return None if steps is None else steps * self.size

    def _mask(self, inputs, mask):
        return ops.repeat(mask, self.size, axis=1)

    def get_config(self):
        return {**super().get_config(), "size": self.size}


class _Pooling1D(RateLayer):
    """Pooling over time of `(batch, T, *item)`, masked: see the module's docstring. A subclass gives
    `_pooled(x, steps, counts)`: each window's result from the padded features, the steps that are real (1) and
    the fraction of each window's steps that are."""

    def __init__(self, pool_size: int = 2, strides=None, padding: str = "valid", **kwargs):
        super().__init__(**kwargs)
        strides = pool_size if strides is None else strides
        if int(pool_size) < 1 or int(strides) < 1 or padding not in PADDINGS:
            raise ValueError(f"a pooling's pool_size and strides are at least 1 and its padding one of {PADDINGS}, "
                             f"not {pool_size}, {strides}, {padding!r}")
        self.pool_size, self.strides, self.padding = int(pool_size), int(strides), padding

    def _windows(self, x, mask):
        """(x `(batch, T_padded, features)`, steps `(batch, T_padded, 1)`: 1 where a step is real) before a
        "valid" pooling; the padding of "same" is steps of 0, as TensorFlow places them."""
        steps = ops.ones_like(x[:, :, :1]) if mask is None else ops.cast(mask, x.dtype)[:, :, None]
        if self.padding == "same":
            length = ops.shape(x)[1]  # a number where it is known, else a tensor
            total = ((length + self.strides - 1) // self.strides - 1) * self.strides + self.pool_size - length
            total = max(total, 0) if isinstance(total, int) else ops.maximum(total, 0)
            before = total // 2
            x, steps = (_pad_steps(v, before, total - before) for v in (x, steps))
        return x, steps

    def call(self, inputs, mask=None):
        x, restore = _as_features(inputs)
        x, steps = self._windows(x, mask)
        counts = ops.average_pool(steps, self.pool_size, self.strides, "valid")  # fraction of real steps
        return restore(ops.where(counts > 0, self._pooled(x, steps, counts), ops.zeros_like(counts)))

    def _length(self, steps):
        if steps is None:
            return None
        if self.padding == "same":
            return -(-steps // self.strides)
        return max(0, (steps - self.pool_size) // self.strides + 1)

    def _mask(self, inputs, mask):
        x, _ = _as_features(inputs)
        _, steps = self._windows(x, mask)
        return ops.average_pool(steps, self.pool_size, self.strides, "valid")[:, :, 0] > 0

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "strides": self.strides,
                "padding": self.padding}


@keras.saving.register_keras_serializable(package=PACKAGE)
class AveragePooling1D(_Pooling1D):
    """The mean of each window's real steps."""

    def _pooled(self, x, steps, counts):
        total = ops.average_pool(x * steps, self.pool_size, self.strides, "valid")
        return total / ops.where(counts > 0, counts, ops.ones_like(counts))


@keras.saving.register_keras_serializable(package=PACKAGE)
class MaxPooling1D(_Pooling1D):
    """The largest value of each window's real steps, feature by feature."""

    def _pooled(self, x, steps, counts):
        lowest = ops.full_like(x, -math.inf)
        return ops.max_pool(ops.where(steps > 0, x, lowest), self.pool_size, self.strides, "valid")


def _as_features(x):
    """`(batch, T, *item)` as `(batch, T, features)`, and the function that gives a result its item shape back."""
    item = tuple(x.shape[2:])
    if len(item) == 1:
        return x, lambda y: y
    if not item:
        return x[:, :, None], lambda y: y[:, :, 0]
    flat = ops.reshape(x, (ops.shape(x)[0], -1, math.prod(item)))
    return flat, lambda y: ops.reshape(y, (ops.shape(y)[0], -1) + item)


def _pad_steps(x, before, after):
    """`(batch, T, features)` with `before` steps of 0 in front and `after` behind."""
    shape = ops.shape(x)
    return ops.concatenate([ops.zeros((shape[0], before, shape[2]), x.dtype), x,
                            ops.zeros((shape[0], after, shape[2]), x.dtype)], axis=1)


@keras.saving.register_keras_serializable(package=PACKAGE)
class Gather(RateLayer):
    """`[values (batch, T, *item), flags (batch, T) or (batch, T, 1)]` -> `(batch, T, *item)` (with `times`:
    `(batch, T, d + 1)`): the steps whose flag is not 0 and that are not padding, in order, then steps of 0;
    its mask says which are kept. The gradient reaches the values of the kept steps; the flags get none."""

    masks = True

    def __init__(self, times: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.times = bool(times)

    @staticmethod
    def _order(inputs, mask):
        """(order `(batch, T)`: the kept steps' indices, in order, then the others'; kept `(batch, T)` bool)."""
        values, flags = inputs
        if len(flags.shape) == 3:
            flags = flags[:, :, 0]
        keep = ops.not_equal(flags, ops.zeros_like(flags))
        for m in mask or ():
            if m is not None:
                keep = ops.logical_and(keep, ops.cast(m, "bool"))
        length = ops.shape(values)[1]
        index = ops.arange(length, dtype="int32")[None, :]
        order = ops.argsort(ops.where(keep, index, index + length), axis=1)
        count = ops.sum(ops.cast(keep, "int32"), axis=1, keepdims=True)
        return ops.cast(order, "int32"), ops.less(index, count)

    def call(self, inputs, mask=None):
        values = inputs[0]
        order, kept = self._order(inputs, mask)
        rank = len(values.shape)
        index = ops.reshape(order, ops.shape(order) + (1,) * (rank - 2))
        moved = ops.take_along_axis(values, index, axis=1)
        if self.times:
            moved = ops.concatenate([moved, ops.cast(order, moved.dtype)[:, :, None]], axis=-1)
        kept = ops.reshape(kept, ops.shape(kept) + (1,) * (rank - 2))
        return ops.where(kept, moved, ops.zeros_like(moved))

    def _length(self, steps):
        return steps

    def _item(self, item):
        return (item[0] + 1,) if self.times else item

    def _mask(self, inputs, mask):
        return self._order(inputs, mask)[1]

    def get_config(self):
        return {**super().get_config(), "times": self.times}


@keras.saving.register_keras_serializable(package=PACKAGE)
class Scatter(keras.layers.Layer):
    """`[values (batch, T', *item), flags (batch, T) or (batch, T, 1)]` -> `(batch, T, *item)`: Gather's inverse.
    The k-th step whose flag is not 0 gets `values[k]` (what a layer after `Gather` gave for the k-th kept
    step); with `hold`, each step after it keeps that value until the next flagged step, and the steps before
    the first are 0; without, only the flagged steps have values. Its mask is the flags' (the steps that are
    not padding at the full rate). The gradient reaches the values that land; the flags get none."""

    def __init__(self, hold: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.hold = bool(hold)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        values, flags = inputs
        if len(flags.shape) == 3:
            flags = flags[:, :, 0]
        flagged = ops.not_equal(flags, ops.zeros_like(flags))
        given = mask[1] if isinstance(mask, (list, tuple)) else None
        if given is not None:
            flagged = ops.logical_and(flagged, ops.cast(given, "bool"))
        slot = ops.cumsum(ops.cast(flagged, "int32"), axis=1) - 1  # the kept step each step last saw
        landed = ops.greater_equal(slot, 0) if self.hold else flagged
        slot = ops.clip(slot, 0, ops.shape(values)[1] - 1)
        rank = len(values.shape)
        index = ops.reshape(slot, ops.shape(slot) + (1,) * (rank - 2))
        moved = ops.take_along_axis(values, index, axis=1)
        landed = ops.reshape(landed, ops.shape(landed) + (1,) * (rank - 2))
        return ops.where(landed, moved, ops.zeros_like(moved))

    def compute_output_spec(self, inputs, mask=None):
        values, flags = inputs
        return keras.KerasTensor((values.shape[0], flags.shape[1]) + tuple(values.shape[2:]), dtype=values.dtype)

    def compute_mask(self, inputs, mask=None):
        return mask[1] if isinstance(mask, (list, tuple)) else None

    def get_config(self):
        return {**super().get_config(), "hold": self.hold}
