"""bptt: truncated backpropagation through time (`bptt = truncated(k)`).

A stateful twin of the network trains on chunks of k steps of each batch `(B, k, ...)`, its
states carried from chunk to chunk (`Resets` puts them back before each batch of sequences);
`check_truncation` refuses a model that cannot train so, and `TwinValidation` gives the
stateless twin the trained weights to validate after each epoch.
"""

from __future__ import annotations

from ..lang.errors import UsageError
from .stream import keras_arrays

__all__ = ["chunk_count", "check_truncation", "reset_states", "Resets", "TwinValidation"]


def chunk_count(split, k: int) -> int:
    """How many chunks of k steps a sequence of the split makes: a UsageError where its inputs and targets
    differ in length (they are cut at the same steps), or k exceeds it."""
    arrays = list(split.inputs) + [split.targets]
    if split.sample_weight is not None and split.sample_weight.ndim > 1:
        arrays.append(split.sample_weight)
    lengths = {a.shape[1] if a.ndim > 1 else None for a in arrays}
    if len(lengths) != 1 or None in lengths:
        raise UsageError(f"truncated BPTT cuts inputs and targets at the same steps, but the training "
                         f"arrays have shapes {', '.join(str(a.shape) for a in arrays)}")
    (steps,) = lengths
    if k > steps:
        raise UsageError(f"`bptt = truncated({k})` cuts sequences into chunks of {k} steps, but the training "
                         f"sequences have {steps}: use a smaller k, or `bptt = full`")
    return -(-steps // k)


def check_truncation(model, network: str) -> None:
    """A UsageError where a stateful model cannot train on chunks: a layer that is not carried forward
    in time or that changes the rate of a sequence (rnndsl.keras.rate), an input or the output without a
    time axis."""
    import keras

    from ..keras.rate import RateLayer

    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, RateLayer):
            raise UsageError(f"truncated BPTT cuts sequences into chunks of steps, but `{layer.name}` "
                             f"({type(layer).__name__}) changes the rate of a sequence, and would start over at "
                             "every chunk; use `bptt = full`")
        if isinstance(layer, keras.layers.Bidirectional):
            raise UsageError(f"truncated BPTT carries states forward from chunk to chunk, but `{layer.name}` "
                             "is Bidirectional: it reads each sequence backward too; use `bptt = full`")
        if isinstance(layer, keras.layers.RNN) and not layer.stateful:
            raise UsageError(f"truncated BPTT carries the states of every recurrent layer, but `{layer.name}` "
                             "does not carry its states from call to call; use `bptt = full`")
    for tensor in model.inputs:
        if len(tensor.shape) < 2 or tensor.shape[1] is not None:
            raise UsageError(f"truncated BPTT cuts every input into chunks of steps, but input `{tensor.name}` "
                             "is a vec, not a sequence; use `bptt = full`")
    if len(model.outputs[0].shape) != 3:
        raise UsageError(f"truncated BPTT trains on chunks of the sequences, so the output of `{network}` must be "
                         "a sequence, one value a step (seq[...]), not a vec: give its last recurrent layer "
                         "returns=sequences, or use `bptt = full`")


def reset_states(model) -> None:
    """Every stateful recurrent layer of `model` back to its initial states (a learned initial state:
    its current value; zeros for Keras's own layers), before the first chunk of a batch of sequences."""
    import keras

    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, keras.layers.RNN) and layer.stateful and layer.states is not None:
            carried = keras.tree.flatten(layer.states)
            initial = keras.tree.flatten(layer.get_initial_state(int(carried[0].shape[0])))
            for variable, value in zip(carried, initial):
                variable.assign(value)


def Resets(chunks: int):
    """The callback that resets the states before each batch of sequences: every `chunks` steps."""
    import keras

    class Resets(keras.callbacks.Callback):
        def on_train_batch_begin(self, step, logs=None):
            if step % chunks == 0:
                reset_states(self.model)

    return Resets()


def TwinValidation(twin, split, batch: int):
    """The callback that, after each epoch, gives the stateless twin the trained weights and adds its loss
    and metrics on the validation split to the epoch's figures (as `val_...`, as fit's own validation)."""
    import keras

    class TwinValidation(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            twin.set_weights(self.model.get_weights())
            if split is None or logs is None:
                return
            x, y, w = keras_arrays(split)
            found = twin.evaluate(x, y, sample_weight=w, batch_size=batch, verbose=0, return_dict=True)
            logs.update({f"val_{k}": v for k, v in found.items()})

    return TwinValidation()
