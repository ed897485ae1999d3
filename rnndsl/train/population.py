"""population: P weight sets of one model evaluated in one batched pass, for the searches of rnndsl.train.evolve.

A weight set is one flat vector `(p,)`, p the model's trainable numbers, its weights flattened and laid
end to end in the order of `model.trainable_variables`; a population is a matrix `(P, p)`. The model's
non-trainable weights (a `fixed` parameter, a mask) are shared by every member.

The batch over members: `tf.vectorized_map` over Keras's `stateless_call` (and, one step at a time, over
a generated cell's step under a `keras.StatelessScope`), the member's weights standing in for the model's
variables. TensorFlow's vectorizer turns each matmul by a weight into one batched matmul over the P
members, and the recurrent loop of the GeneratedRNN into one loop over all of them: the P members run as
one model on P times the work per op, instead of P models one after the other (bench/population.py
measures both). The model's own variables are left as they are; `assign` writes a member into them.

`Population` runs a whole model (a network, or any Keras model or layer) on a batch of inputs;
`Controller` steps one generated cell (a GeneratedRNN from rnndsl.keras.cell.cell_rnn) one step at a
time for P members at once, for a controller in a simulated loop (rnndsl.train.poles).

TensorFlow back end only (the vectorizer is TensorFlow's).
"""

from __future__ import annotations

from typing import Callable

from ..lang.errors import UsageError

__all__ = ["Population", "Controller"]


def _check_backend(what: str) -> None:
    import keras

    if keras.backend.backend() != "tensorflow":
        raise UsageError(f"{what} runs a population of weight sets through TensorFlow's vectorizer, but Keras runs "
                         f"on `{keras.backend.backend()}`: set KERAS_BACKEND=tensorflow")


class _Layout:
    """Where each trainable weight of a model lies in a flat weight set: shapes, sizes, offsets."""

    def __init__(self, model, what: str):
        _check_backend(what)
        if not model.built:
            raise UsageError(f"{what} reads the weights of `{model.name}`, which is not built yet: call it on a "
                             "batch, or build it")
        self.model = model
        self.variables = list(model.trainable_variables)
        if not self.variables:
            raise UsageError(f"{what} searches the trainable weights of `{model.name}`, which has none")
        self.fixed = list(model.non_trainable_variables)
        self.shapes = [tuple(int(d) for d in v.shape) for v in self.variables]
        self.sizes = [_count(s) for s in self.shapes]
        self.dimension = sum(self.sizes)

    def vector(self):
        """The model's current trainable weights as one flat weight set, float64 `(p,)`."""
        import numpy as np

        return np.concatenate([np.asarray(v.numpy(), dtype=np.float64).reshape(-1) for v in self.variables])

    def assign(self, vector) -> None:
        """Write one flat weight set `(p,)` into the model's variables."""
        import numpy as np

        vector = np.asarray(vector, dtype=np.float64)
        if vector.shape != (self.dimension,):
            raise UsageError(f"a weight set of `{self.model.name}` has {self.dimension} numbers, given an array of "
                             f"shape {vector.shape}")
        start = 0
        for v, shape, size in zip(self.variables, self.shapes, self.sizes):
            v.assign(vector[start:start + size].reshape(shape))
            start += size

    def split(self, flat) -> list:
        """A population `(P, p)` as one tensor per trainable variable, `(P,) + its shape`, in its dtype."""
        import tensorflow as tf

        parts = tf.split(flat, self.sizes, axis=-1) if len(self.sizes) > 1 else [flat]
        return [tf.cast(tf.reshape(part, (-1,) + shape), v.dtype)
                for part, shape, v in zip(parts, self.shapes, self.variables)]

    def check(self, flat):
        """`flat` as a float64 tensor `(P, p)`; a UsageError naming the shape where it is not one."""
        import tensorflow as tf

        flat = tf.convert_to_tensor(flat, dtype=tf.float64)
        if len(flat.shape) != 2 or int(flat.shape[-1]) != self.dimension:
            raise UsageError(f"a population of `{self.model.name}` is a matrix (members, {self.dimension}), given "
                             f"shape {tuple(flat.shape)}")
        return flat


class Population(_Layout):
    """P weight sets of one Keras model (a network, a model of one cell, a layer), run in one batched pass.

    `outputs(flat, x)`: `flat` `(P, p)`, `x` the model's inputs (one batch, the same for every member) ->
    the outputs `(P,) + the model's output shape`. `losses(flat, x, y, loss)` -> `(P,)`: each member's loss
    on (x, y), `loss(y, prediction)` averaged over the batch (a Keras loss name or function)."""

    def __init__(self, model):
        super().__init__(model, "Population")
        import tensorflow as tf

        self._outputs = tf.function(self._run, reduce_retracing=True, autograph=False)
        self._losses = {}

    def _run(self, flat, x):
        import tensorflow as tf

        model, fixed = self.model, [v.value for v in self.fixed]

        def member(weights):
            y, _ = model.stateless_call(list(weights), fixed, x)
            return y

        return tf.vectorized_map(member, self.split(flat))

    def outputs(self, flat, x):
        """The model's outputs for every member: `(P,) + output shape` (a tensor)."""
        import tensorflow as tf

        return self._outputs(self.check(flat), tf.convert_to_tensor(x, dtype=self.model.compute_dtype))

    def losses(self, flat, x, y, loss="mse"):
        """Each member's loss on (x, y), `(P,)` float64 NumPy: `loss(y, prediction)` averaged over the batch."""
        import keras
        import tensorflow as tf

        key = loss if isinstance(loss, str) else id(loss)
        if key not in self._losses:
            fn: Callable = keras.losses.get(loss) if isinstance(loss, str) else loss

            def run(flat, x, y):
                out = self._run(flat, x)
                per = tf.vectorized_map(lambda o: tf.reduce_mean(fn(y, o)), out)
                return tf.cast(per, tf.float64)

            self._losses[key] = tf.function(run, reduce_retracing=True, autograph=False)
        x = tf.convert_to_tensor(x, dtype=self.model.compute_dtype)
        return self._losses[key](self.check(flat), x, tf.convert_to_tensor(y, dtype=self.model.compute_dtype)).numpy()


class Controller(_Layout):
    """P weight sets of one generated cell, stepped one step at a time together (a controller in a loop).

    `layer`: a GeneratedRNN (rnndsl.keras.cell.cell_rnn), built. In a TensorFlow graph (a `tf.function`,
    a `tf.while_loop`): `initial_state(weights, batch)` -> the flat states, a list of `(P, batch, n)`;
    `step(weights, x_t, states)`, `x_t: (P, batch, inputs)` -> (the cell's output `(P, batch, out)`, the new
    states). `weights` is `split(flat)` of a population `(P, p)`, split once before the loop."""

    def __init__(self, layer):
        from ..keras.cell import GeneratedRNN

        if not isinstance(layer, GeneratedRNN):
            raise UsageError(f"Controller steps a generated cell, but `{layer.name}` is a {type(layer).__name__}: "
                             "build it with rnndsl.keras.cell.cell_rnn")
        super().__init__(layer, "Controller")
        self.cell = layer.cell
        self.output_size = int(self.cell.output_size)

    def _scope(self, weights):
        import keras

        return keras.StatelessScope(state_mapping=list(zip(self.variables, weights)))

    def initial_state(self, weights: list, batch: int) -> list:
        """The cell's initial states for every member, flat: a list of `(P, batch, n)` (a learned initial state
        is the member's own)."""
        import tensorflow as tf

        def member(ws):
            with self._scope(ws):
                return [tf.identity(s) for s in self.cell.get_initial_state(batch)]

        return tf.vectorized_map(member, list(weights))

    def step(self, weights: list, x_t, states: list):
        """One step of every member: `x_t (P, batch, inputs)`, `states` as `initial_state` gives them ->
        (output `(P, batch, out)`, new states)."""
        import tensorflow as tf

        cell = self.cell

        def member(args):
            ws, x, st = args
            with self._scope(ws):
                frontier = cell.plan.precompute(cell, x[:, None, :])[:, 0]  # the hoisted work, for this step
                out, new = cell.call(frontier, list(st))
            return tf.identity(out), [tf.identity(s) for s in new]

        return tf.vectorized_map(member, (list(weights), x_t, list(states)))


def _count(shape) -> int:
    size = 1
    for d in shape:
        size *= int(d)
    return size
