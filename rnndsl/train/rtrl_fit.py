"""rtrl_fit: a run's epochs trained by real-time recurrent learning (`train { method = rtrl }`), or by its
approximations UORO and SnAp-1 (`method = uoro`, `method = snap1`; rnndsl.train.online) the same way.

`fit(model, plan, stream, ...)` trains, in place of Keras's `fit`, a model lowered with generated cells
(`lower_network(..., fused=False)`) whose network is one GeneratedRNN reading the input and per-step layers
after it (rnndsl.lang.train_rules.rtrl_network checks the spec): for every batch of the stream, the
RTRL stepper (rnndsl.train.rtrl.RTRL) runs the sequences one step at a time, the per-step layers its
readout, and the gradient gathered over each k steps (`rtrl(every=k)`; and over the last steps of a
sequence) is applied at once by the model's compiled optimizer. No backpropagation through time anywhere:
each step's gradient comes from the sensitivities carried forward.

The loss of a batch is Keras's for the same batch: the per-step loss times the sample weight (per step,
or per sequence), summed over the batch and the steps and divided by batch x steps. So one update per
sequence (`every` >= its steps) with the weights held over it gives BPTT's gradient of the same batch, and
with `every=1` each step's share of that loss moves the weights at once (Williams & Zipser's online form;
the sensitivities carried unchanged across the update).

The callbacks a BPTT run gets (history.csv's row and the checkpoint, TensorBoard, the divergence watch,
`stop` and `schedule = plateau(...)`) are called as `fit` calls them. An epoch's row has the training loss
(the mean over its batches, each at the weights of its steps) and the validation split's loss and metrics
(`val_...`); the training metrics are not computed (they would need a second pass over the split).
"""

from __future__ import annotations

from typing import Optional

from ..lang.errors import UsageError
from .backend import sample_loss
from .rtrl import RTRL, Stepper, check_memory
from .stream import keras_arrays

__all__ = ["Readout", "parts", "check", "stepper", "updater", "train_batch", "updates_per_batch", "fit"]


class Readout:
    """The per-step layers after the cell, applied one after another to one step `(batch, units)`: the
    readout that RTRL differentiates directly (their weights are the model's own)."""

    built = True

    def __init__(self, layers: list):
        self.layers = list(layers)

    @property
    def trainable_weights(self) -> list:
        return [w for layer in self.layers for w in layer.trainable_weights]

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


def parts(model, method: str = "rtrl") -> tuple:
    """(the GeneratedRNN, the Readout of the layers after it, or None) of a model RTRL can train: its layers
    are an input, one GeneratedRNN on it giving sequences, then per-step layers one after another to the
    output. A UsageError that says what stands in the way otherwise, naming the online `method` (rtrl, uoro,
    snap1; `rnndsl check` refuses such a spec before, E0807; a model built by hand may still be one)."""
    import keras

    from ..keras.cell import GeneratedRNN
    from ..lang.train_rules import ONLINE, RTRL_LAYERS, RTRL_NETWORKS

    def refuse(why: str):
        raise UsageError(f"{ONLINE[method]} cannot train the model `{model.name}`: {why}; it trains {RTRL_NETWORKS}")

    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        refuse(f"it has {len(model.inputs)} inputs and {len(model.outputs)} outputs")
    if not layers or not isinstance(layers[0], GeneratedRNN):
        first = type(layers[0]).__name__ if layers else "no layer"
        refuse(f"its first layer is {first}, not a generated cell (lower it with fused=False)")
    cell, after = layers[0], layers[1:]
    kinds = {"Dense": keras.layers.Dense, "Activation": keras.layers.Activation}
    for layer in after:
        if not isinstance(layer, tuple(kinds[k] for k in RTRL_LAYERS)):
            refuse(f"`{layer.name}` is a {type(layer).__name__}, not a per-step layer")
    chain = [cell] + after
    if not cell.return_sequences or len(model.outputs[0].shape) != 3:
        refuse(f"its output has shape {tuple(model.outputs[0].shape)}, not a value every step")
    if cell.input is not model.inputs[0] or any(b.input is not a.output for a, b in zip(chain, chain[1:])) \
            or chain[-1].output is not model.outputs[0]:
        refuse("its layers do not read one another in turn")
    return cell, (Readout(after) if after else None)


def check(model, batch: int, method: str = "rtrl") -> None:
    """A UsageError where the online `method` cannot train `model` (`parts`), or, exact RTRL, would carry more
    sensitivities over a batch of `batch` sequences than rnndsl.train.rtrl.MAX_SENSITIVITIES (with the figure;
    UORO and SnAp-1 carry n + p and C p + n^2 numbers a sequence, and are not limited)."""
    cell, _ = parts(model, method)
    if method == "rtrl":
        check_memory(cell, batch)


def stepper(method: str, cell, loss, readout, seed: int = 0) -> Stepper:
    """The stepper of the online `method` (rtrl, uoro, snap1) through `cell` and `readout`; `seed`: UORO's signs
    (and the random states where SnAp-1 finds its pattern)."""
    if method == "rtrl":
        return RTRL(cell, loss, readout)
    from .online import STEPPERS

    return STEPPERS[method](cell, loss, readout, seed=seed)


def updates_per_batch(split, every: int) -> int:
    """How many times the optimizer steps in a batch of the split: once every `every` steps of its longest
    sequence (the learning rate's schedule counts these)."""
    steps = int(split.inputs[0].shape[1])
    return -(-steps // every)


def step_loss(name: str):
    """The loss of one step, per sequence `(batch,)`, of targets packed as `(batch, k + 1)`: the step's targets
    (k numbers; one integer class for cross_entropy), then the step's weight, already divided by the steps
    of the sequence (so that the steps add up to Keras's mean over the batch and the steps)."""
    import tensorflow as tf

    base = sample_loss(name)

    def loss(packed, pred):
        target, weight = packed[:, :-1], packed[:, -1]
        if name == "cross_entropy":
            target = tf.cast(target[:, 0], tf.int32)
        return base(tf.cast(target, pred.dtype), pred) * tf.cast(weight, pred.dtype)

    return loss


def packed_targets(y, w):
    """`(batch, T, k + 1)`: the targets (each step's flattened to k numbers) and their weights, each over the
    steps T: Keras's weighting (per step or per sequence) and its mean over the steps, RTRL's per-step loss."""
    import tensorflow as tf

    y = tf.convert_to_tensor(y)
    batch, steps = tf.shape(y)[0], tf.shape(y)[1]
    y = tf.reshape(tf.cast(y, tf.float32), (batch, steps, -1))
    w = tf.ones((batch, steps)) if w is None else tf.cast(tf.convert_to_tensor(w), tf.float32)
    if len(w.shape) == 1:
        w = tf.broadcast_to(w[:, None], (batch, steps))
    return tf.concat([y, (w / tf.cast(steps, tf.float32))[..., None]], axis=-1)


def updater(optimizer, weights: list):
    """The optimizer's step on `weights` as one compiled function of their gradients: called eagerly, Keras's
    apply_gradients took 136 ms a call on 2 busy cores, compiled 3 ms (an LSTM of 8 units), and RTRL calls it as
    often as every step."""
    import tensorflow as tf

    return tf.function(lambda grads: optimizer.apply_gradients(zip(grads, weights)), reduce_retracing=True)


def train_batch(run: Stepper, apply, batch, every: int) -> tuple:
    """Online learning over one batch `(x, y[, w])` of sequences by the stepper `run`, `apply(gradients)` (an
    `updater`) stepping the optimizer every `every` steps and after the last: (its loss, Keras's figure for the
    batch at the weights of each step; its sequences)."""
    import tensorflow as tf

    x, y, w = (tuple(batch) + (None,))[:3]
    x = tf.convert_to_tensor(x, dtype=run.cell.compute_dtype)
    targets = packed_targets(y, w)
    size, steps = int(x.shape[0]), int(x.shape[1])
    run.reset(size)
    total, grads = 0.0, None
    for t in range(steps):
        loss, step_grads = run.step(x[:, t], targets[:, t])
        total += float(loss)
        grads = step_grads if grads is None else [a + b for a, b in zip(grads, step_grads)]
        if (t + 1) % every == 0 or t + 1 == steps:
            apply(grads)
            grads = None
    return total, size


def fit(model, plan, stream, steps: int, start: int, validation, callbacks: list, verbose: int) -> None:
    """Train `model` (compiled: its optimizer and loss are the plan's) by RTRL for epochs `start` to
    `plan.epochs - 1`, `steps` batches of `stream` (batches `(x, y[, w])` of every epoch in turn) an epoch,
    calling `callbacks` as Keras's `fit` does; `validation`: a split, or None."""
    import keras

    method = plan.method.name
    check(model, plan.batch, method)
    cell, readout = parts(model, method)
    run = stepper(method, cell, step_loss(plan.loss.name), readout, seed=plan.seed)
    optimizer = model.optimizer
    if not optimizer.built:  # in the model's order, as a saved model's optimizer is built when it loads
        optimizer.build(model.trainable_variables)
    every = plan.method.args.get("every", 1)
    apply = updater(optimizer, run.weights)
    calls = keras.callbacks.CallbackList(callbacks, add_history=True, add_progbar=verbose != 0, model=model,
                                         verbose=verbose, epochs=plan.epochs, steps=steps)
    batches = iter(stream)
    model.stop_training = False
    calls.on_train_begin()
    logs: Optional[dict] = None
    for epoch in range(start, plan.epochs):
        calls.on_epoch_begin(epoch)
        total = seen = 0
        for step in range(steps):
            calls.on_train_batch_begin(step)
            loss, size = train_batch(run, apply, next(batches), every)
            total, seen = total + loss * size, seen + size
            calls.on_train_batch_end(step, {"loss": loss})
            if model.stop_training:
                break
        logs = {"loss": total / max(seen, 1)}
        if validation is not None:
            x, y, w = keras_arrays(validation)
            found = model.evaluate(x, y, sample_weight=w, batch_size=plan.batch, verbose=0, return_dict=True)
            logs.update({f"val_{k}": v for k, v in found.items()})
        calls.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    calls.on_train_end(logs=logs)
