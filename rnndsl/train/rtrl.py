"""rtrl: exact real-time recurrent learning (Williams & Zipser 1989) for any generated cell.

BPTT keeps every step of a sequence and runs backward over them once it ends; RTRL keeps no history
and carries forward, for each sequence of the batch, the sensitivities of the cell's states to its
trainable parameters, P[t] = d s[t] / d theta, shape `(n, p)` (n: the state numbers of the cell, every
state flattened and side by side as the cell carries them; p: its trainable parameter numbers):

    P[t] = (d s[t] / d s[t-1]) P[t-1] + (d s[t] / d theta)          immediate, at s[t-1] and x[t]
    P[0] = d s[0] / d theta                                           non-zero for a learned initial state

and the gradient of the loss summed over steps, L = sum_t L[t], as the steps come:

    dL/dtheta += (d L[t] / d s[t-1]) P[t-1] + (d L[t] / d theta)      immediate: through step t's output

where L[t] reads the step's output (the cell's `call` gives it from s[t-1] and x[t], so it may be a state
or any value), passed through an optional readout (a Keras layer, a Dense say), whose own parameters get
their gradients directly, L[t] not reaching them through time. With the weights held fixed over a
sequence the sum equals BPTT's gradient of the same loss; updated between steps (`RTRL.step`,
`rtrl_online`) it is Williams & Zipser's online form, P carried unchanged.

Cost: per sequence of the batch, n * p numbers of memory (`sensitivity_count`); per step, the Jacobians
of one step by reverse-mode differentiation (`tf.GradientTape.batch_jacobian` in the states, `jacobian`
in the weights, n vector-Jacobian products each, vectorized) and the product (n x n)(n x p): n^2 p
multiply-adds. `RTRL.reset` refuses a batch whose sensitivities exceed MAX_SENSITIVITIES numbers.

The loss of a step is `loss(y_true[:, t], y_pred[:, t])`, per sequence `(batch,)` (or already a scalar),
averaged over the batch (as Keras's losses reduce by default): the gradient is that of
sum_t mean_batch loss(...), which is what BPTT gives for the same figure.

TensorFlow back end only (the Jacobians are TensorFlow's); the layer is a GeneratedRNN
(rnndsl.keras.cell.cell_rnn), not one of Keras's fused layers.

`Stepper` holds what every online learner shares (the step under a tape, the loss's gradients, the products
with the step's Jacobian in the weights); RTRL is one, UORO and SnAp-1 (rnndsl.train.online) the others, and
`online_chunks` / `online_gradients` run any of them over whole sequences.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

from ..lang.errors import UsageError

__all__ = ["MAX_SENSITIVITIES", "RTRL", "RTRLChunk", "Stepper", "online_chunks", "online_gradients", "rtrl_gradients",
           "rtrl_online", "sensitivity_count", "state_count", "parameter_count"]

# The most sensitivities (state numbers x trainable parameter numbers x sequences in the batch) that RTRL
# carries: 2**25 numbers, 128 MiB in float32 (256 MiB in float64), and about as many multiply-adds times n
# per step. An LSTM of 32 units on 32 inputs carries 64 x 8,320 = 532,480 per sequence (a batch of 63 fits);
# one of 128 units on 128 inputs carries 256 x 131,584 = 33,685,504, over the limit for one sequence.
MAX_SENSITIVITIES = 2 ** 25


def state_count(layer) -> int:
    """n: the numbers of state the layer's cell carries per sequence (every state flattened, side by side)."""
    return int(sum(layer.cell.state_size))


def parameter_count(weights) -> int:
    """p: the numbers in `weights` (a list of variables)."""
    total = 0
    for w in weights:
        size = 1
        for d in w.shape:
            size *= int(d)
        total += size
    return total


def sensitivity_count(layer) -> int:
    """n * p: the sensitivities RTRL carries for one sequence through `layer` (a GeneratedRNN, built): its
    memory in numbers, times the batch for a batch. A readout adds nothing (its gradient is direct)."""
    _check_layer(layer)
    return state_count(layer) * parameter_count(layer.trainable_weights)


def check_memory(layer, batch: int, limit: int = MAX_SENSITIVITIES) -> None:
    """A UsageError, with the figure, where RTRL over a batch of `batch` sequences carries more than `limit`
    sensitivities."""
    n, p = state_count(layer), parameter_count(layer.trainable_weights)
    total = n * p * batch
    if total > limit:
        mib = total * 4 / 2 ** 20
        raise UsageError(f"exact RTRL of `{layer.cell.cell_name}` carries {n:,} state numbers x {p:,} parameters "
                         f"x a batch of {batch} = {total:,} sensitivities ({mib:,.1f} MiB in float32), over the "
                         f"limit of {limit:,} (rnndsl.train.rtrl.MAX_SENSITIVITIES): use fewer units or a "
                         "smaller batch, or train by BPTT")


def _check_layer(layer) -> None:
    import keras

    from ..keras.cell import GeneratedRNN

    if keras.backend.backend() != "tensorflow":
        raise UsageError(f"RTRL differentiates the cell's steps with TensorFlow, but Keras runs on "
                         f"`{keras.backend.backend()}`: set KERAS_BACKEND=tensorflow")
    if not isinstance(layer, GeneratedRNN):
        raise UsageError(f"RTRL runs a generated cell one step at a time, but `{layer.name}` is a "
                         f"{type(layer).__name__}: build it with rnndsl.keras.cell.cell_rnn")
    if layer.go_backwards:
        raise UsageError(f"RTRL carries its sensitivities forward in time, but `{layer.name}` reads its sequences "
                         "backward: reverse them before, and give go_backwards=False")
    if not layer.built:
        raise UsageError(f"RTRL reads the weights of `{layer.name}`, which is not built yet: call it on a "
                         "batch, or build it with (None, None, inputs)")


@dataclass
class RTRLChunk:
    """What `rtrl_online` yields after every k steps (and after the last):

    steps: how many steps of the sequences it has run so far; loss: the sum over the chunk's steps of the
    batch mean of the step losses (a scalar tensor); gradients: the chunk's share of dL/dtheta, one tensor
    per weight of `RTRL.weights` (the layer's trainable weights, then the readout's), each of its shape."""

    steps: int
    loss: object
    gradients: list


class Stepper:
    """What the online learners share (RTRL here; UORO and SnAp-1 in rnndsl.train.online): one GeneratedRNN
    layer and an optional readout run one step at a time, the loss of each step and its gradient coming as the
    step runs, from what is carried forward (`carry`, the learner's own) beside the states.

    `reset(batch)` starts sequences; `step(x_t, y_t)` advances them by one step, `x_t: (batch, inputs)`, `y_t`:
    the step's targets, and returns the step's loss (a scalar tensor) and its gradient, aligned with `weights`
    (the layer's trainable weights, then the readout's). The weights are read at every step, so a caller may
    update them between steps. `states`: `(batch, n)`, the flat states side by side.

    A subclass gives `reset` and `_advance(x_t, y_t, states, carry, *draws) -> (loss, flat cell gradient (p,),
    readout gradients, new states, new carry)`, traced once by tf.function; `_draws(batch)` gives the random
    tensors a step needs (none here)."""

    title = "online learning"  # a subclass's name in messages

    def __init__(self, layer, loss: Callable, readout=None):
        _check_layer(layer)
        import tensorflow as tf

        self.layer, self.cell, self.loss, self.readout = layer, layer.cell, loss, readout
        if readout is not None and not readout.built:
            readout(tf.zeros((1, self.cell.output_size), dtype=self.cell.compute_dtype))
        self.cell_weights = list(layer.trainable_weights)
        self.head_weights = list(readout.trainable_weights) if readout is not None else []
        self.weights = self.cell_weights + self.head_weights
        # what the tape differentiates by: each weight's TensorFlow variable (its jacobian takes no Keras one)
        self._sources = [w.value for w in self.weights]
        self.sizes = [int(s) for s in self.cell.state_size]
        self.states = self.carry = None
        self._step = tf.function(self._advance, reduce_retracing=True, autograph=False)

    def step(self, x_t, y_t):
        """One step of every sequence: (the step's loss, a scalar tensor; its gradient, aligned with `weights`)."""
        import tensorflow as tf

        if self.states is None:
            name = type(self).__name__
            raise UsageError(f"{name}.step runs after {name}.reset(batch), which starts the sequences")
        x_t, y_t = tf.convert_to_tensor(x_t, dtype=self.cell.compute_dtype), tf.convert_to_tensor(y_t)
        loss, flat, head, self.states, self.carry = self._step(x_t, y_t, self.states, self.carry,
                                                               *self._draws(int(x_t.shape[0])))
        return loss, self._unflatten(flat) + list(head)

    def _draws(self, batch: int) -> tuple:
        return ()

    def _start(self, batch: int):
        """(the initial states `(batch, n)`, the persistent tape that computed them from the weights)."""
        import tensorflow as tf

        with tf.GradientTape(persistent=True) as tape:
            start = tf.concat(self.cell.get_initial_state(batch), axis=-1)
        return start, tape

    def _forward(self, x_t, y_t, states, tangent=None):
        """One step from `states` `(batch, n)` under a persistent tape: (the tape, the batch mean of the step's
        loss, the new states `(batch, n)`, and with a `tangent` `(batch, n)` the product of the states'
        Jacobian with it, d s[t] / d s[t-1] tangent, by forward-mode differentiation; else None)."""
        import contextlib

        import tensorflow as tf

        with tf.GradientTape(persistent=True) as tape:
            tape.watch(states)
            with (tf.autodiff.ForwardAccumulator(states, tangent) if tangent is not None
                  else contextlib.nullcontext()) as acc:
                out, new = self._cell_step(x_t, states)
            pred = self.readout(out) if self.readout is not None else out
            loss = tf.reduce_mean(self.loss(y_t, pred))
        jvp = acc.jvp(new, unconnected_gradients=tf.UnconnectedGradients.ZERO) if tangent is not None else None
        return tape, loss, new, jvp

    def _cell_step(self, x_t, states) -> tuple:
        """One step of the cell: (its output, the new states `(batch, n)`) from `states` `(batch, n)`."""
        import tensorflow as tf

        cell = self.cell
        parts = tf.split(states, self.sizes, axis=-1) if len(self.sizes) > 1 else [states]
        frontier = cell.plan.precompute(cell, x_t[:, None, :])[:, 0]  # the hoisted work, for this step
        out, new = cell.call(frontier, parts)
        return out, tf.concat(list(new), axis=-1) if len(new) > 1 else new[0]

    def _loss_gradients(self, tape, loss, states) -> tuple:
        """The step's loss differentiated: (through s[t-1], `(batch, n)`; directly through the cell's weights,
        flat `(p,)`; the readout's gradients, one a weight)."""
        import tensorflow as tf

        by_state, *direct = tape.gradient(loss, [states] + self._sources,
                                          unconnected_gradients=tf.UnconnectedGradients.ZERO)
        cells = len(self.cell_weights)
        return by_state, self._flat(direct[:cells], states.dtype), direct[cells:]

    def _flat_jacobian(self, tape, value, batch):
        """d value / d theta, `(batch, k, p)` for a value `(batch, k)` whose row b depends on sequence b alone,
        over the cell's trainable weights (zero where unconnected): k vector-Jacobian products a sequence."""
        import tensorflow as tf

        k = int(value.shape[-1])
        if not self.cell_weights:
            return tf.zeros((batch, k, 0), dtype=value.dtype)
        sources = self._sources[:len(self.cell_weights)]
        parts = tape.jacobian(value, sources, unconnected_gradients=tf.UnconnectedGradients.ZERO)
        return tf.concat([tf.reshape(j, (batch, k, -1)) for j in parts], axis=-1)

    def _projected_jacobian(self, x_t, states, vectors):
        """For each sequence b, vectors[b] (d s[t] / d theta), `(batch, k, p)`, of one step from `states`
        `(batch, n)`, `vectors`: `(batch, k, n)`. The step runs again, one sequence at a time under
        tf.vectorized_map, so that each sequence's k vector-Jacobian products cost p numbers each (a jacobian
        of the batch's step would run each product over the whole batch)."""
        import tensorflow as tf

        k = int(vectors.shape[1])
        if not self.cell_weights:
            return tf.zeros((tf.shape(states)[0], k, 0), dtype=states.dtype)
        sources = self._sources[:len(self.cell_weights)]

        def one(args):
            x, s, v = args
            # (tape.gradient of the one product gave zeros here, under vectorized_map: jacobian, even for k = 1)
            with tf.GradientTape() as tape:
                _, new = self._cell_step(x[None], s[None])
                projected = tf.linalg.matvec(v, new[0])  # (k,)
            parts = tape.jacobian(projected, sources, unconnected_gradients=tf.UnconnectedGradients.ZERO)
            return tf.concat([tf.reshape(j, (k, -1)) for j in parts], axis=-1)

        return tf.vectorized_map(one, (x_t, states, vectors))

    @staticmethod
    def _flat(grads, dtype):
        import tensorflow as tf

        if not grads:
            return tf.zeros((0,), dtype=dtype)
        return tf.concat([tf.reshape(g, (-1,)) for g in grads], axis=0)

    def _unflatten(self, flat) -> list:
        import tensorflow as tf

        sizes = [parameter_count([w]) for w in self.cell_weights]
        return [tf.reshape(g, w.shape) for g, w in zip(tf.split(flat, sizes), self.cell_weights)] if sizes else []


class RTRL(Stepper):
    """Exact RTRL through one GeneratedRNN layer and an optional readout, one step at a time (see Stepper).

    What is carried: `sensitivities` (`(batch, n, p)`), P[t] of the module's docstring."""

    title = "RTRL"

    def __init__(self, layer, loss: Callable, readout=None, limit: int = MAX_SENSITIVITIES):
        super().__init__(layer, loss, readout)
        self.limit = limit

    @property
    def sensitivities(self):
        return self.carry

    def reset(self, batch: int) -> None:
        """Start `batch` sequences: the cell's initial states, and P[0] (zero but for a learned initial state)."""
        import tensorflow as tf

        check_memory(self.layer, batch, self.limit)
        start, tape = self._start(batch)
        self.carry = self._flat_jacobian(tape, start, batch)
        del tape
        self.states = tf.identity(start)

    def _advance(self, x_t, y_t, states, P):
        import tensorflow as tf

        tape, loss, new, _ = self._forward(x_t, y_t, states)
        # the loss: through s[t-1] (and so P[t-1]), directly through the weights, and the readout's
        by_state, direct, head = self._loss_gradients(tape, loss, states)
        flat = tf.einsum("bn,bnp->p", by_state, P) + direct
        # the sensitivities, carried forward
        J_s = tape.batch_jacobian(new, states, unconnected_gradients=tf.UnconnectedGradients.ZERO)  # (batch, n, n)
        P = tf.einsum("bmn,bnp->bmp", J_s, P) + self._flat_jacobian(tape, new, tf.shape(new)[0])
        del tape
        return loss, flat, head, new, P


def online_chunks(run: Stepper, x, y, every: int = 1) -> Iterator[RTRLChunk]:
    """Run the sequences `x: (batch, T, inputs)` through the stepper `run` (any Stepper: RTRL, UORO, SnAp-1),
    yielding an RTRLChunk with the gradient of the last `every` steps' losses after each `every` steps and after
    the last step. `y: (batch, T, ...)`: the targets, `loss(y[:, t], prediction)` the step's loss (see the
    module's docstring). The weights are read at each step: a caller that updates them after a chunk trains
    online."""
    import tensorflow as tf

    layer, name = run.layer, run.title
    x = tf.convert_to_tensor(x, dtype=layer.cell.compute_dtype)
    if len(x.shape) != 3 or int(x.shape[-1]) != layer.cell.input_dim:
        raise UsageError(f"{name} through `{layer.name}` reads sequences (batch, steps, {layer.cell.input_dim}), "
                         f"given shape {tuple(x.shape)}")
    if tuple(y.shape[:2]) != tuple(x.shape[:2]):
        raise UsageError(f"{name} reads one target a step, but the inputs have shape {tuple(x.shape)} and the "
                         f"targets {tuple(y.shape)}")
    if every < 1:
        raise UsageError(f"{name} yields its gradient every k >= 1 steps, given k = {every}")
    run.reset(int(x.shape[0]))
    steps = int(x.shape[1])
    total, grads = None, None
    for t in range(steps):
        step_loss, step_grads = run.step(x[:, t], y[:, t])
        total = step_loss if total is None else total + step_loss
        grads = step_grads if grads is None else [a + b for a, b in zip(grads, step_grads)]
        if (t + 1) % every == 0 or t + 1 == steps:
            yield RTRLChunk(t + 1, total, grads)
            total, grads = None, None


def online_gradients(run: Stepper, x, y) -> list:
    """dL/dtheta of L = sum over the steps of the batch mean of the step losses, by the stepper `run` with the
    weights held fixed over the sequences `x` (see online_chunks): one tensor per weight of `run.weights`."""
    import tensorflow as tf

    chunks = list(online_chunks(run, x, y, every=max(int(x.shape[1]), 1)))
    return chunks[-1].gradients if chunks else [tf.zeros(w.shape, dtype=w.dtype) for w in run.weights]


def rtrl_online(layer, x, y, loss: Callable, readout=None, every: int = 1,
                limit: int = MAX_SENSITIVITIES) -> Iterator[RTRLChunk]:
    """online_chunks of exact RTRL through `layer` (and `readout`): the chunks' gradients, each `every` steps."""
    yield from online_chunks(RTRL(layer, loss, readout, limit), x, y, every)


def rtrl_gradients(layer, x, y, loss: Callable, readout=None, limit: int = MAX_SENSITIVITIES) -> list:
    """dL/dtheta of L = sum over the steps of the batch mean of `loss(y[:, t], prediction)`, by exact RTRL with
    the weights held fixed: one tensor per weight of `layer.trainable_weights + readout.trainable_weights`."""
    return online_gradients(RTRL(layer, loss, readout, limit), x, y)
