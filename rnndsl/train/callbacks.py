"""callbacks: what a run does between epochs and steps, as Keras callbacks.

`EpochEnd` writes history.csv's row and the epoch's checkpoint; `LossWatch` stops at the first
NaN or infinite loss (then `Diverged` says where); `plateau_callbacks` stop early and lower the
learning rate when the loss stops falling (TensorBoard's logs: rnndsl.train.board).
Each is made by a function, since Keras is imported only when a run starts.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..lang.errors import DataError
from .folder import save_checkpoint

__all__ = ["EpochEnd", "Diverged", "LossWatch", "diverged_message", "plateau_callbacks"]


def EpochEnd(out: Path, history, watch, started: float):
    """The callback that, after each epoch, adds its row to history.csv (with the time since `started`, a
    `time.perf_counter()`) and writes its checkpoint; not after an epoch whose loss diverged (`watch`): its
    weights are NaN, and the last checkpoint stays the last."""
    import keras

    class EpochEnd(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if watch.diverged:
                return
            history.add(epoch + 1, logs or {}, time.perf_counter() - started)
            save_checkpoint(self.model, out, epoch + 1)

    return EpochEnd()


class Diverged(DataError):
    """The loss became NaN or infinite during training: one line, and the CLI exits 1."""

    code = "E0702"


def LossWatch():
    """The callback that stops training at the first step whose loss is NaN or infinite; `diverged` is then
    (epoch, step, loss), counted from 1 (keras.callbacks.TerminateOnNaN, but it says where)."""
    import keras

    class LossWatch(keras.callbacks.Callback):
        diverged = None
        epoch = 0

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, step, logs=None):
            loss = (logs or {}).get("loss")
            if loss is not None and not np.isfinite(float(loss)):
                self.diverged = (self.epoch + 1, step + 1, float(loss))
                self.model.stop_training = True

    return LossWatch()


def diverged_message(where: tuple, kept: list) -> str:
    epoch, step, loss = where
    checkpoint = f"the checkpoint of epoch {kept[-1]} is kept" if kept else "no checkpoint was written"
    return (f"the loss became {loss} at step {step} of epoch {epoch}: training stopped, and {checkpoint}; "
            "lower the learning rate, clip the gradients (`optimizer = adam(clipnorm=1)`), or look for huge "
            "values in the data")


def plateau_callbacks(plan, monitor: str) -> list:
    """Keras's callbacks for a plan's `stop = plateau(...)` (stop after `patience` epochs in which `monitor`, the
    validation loss where there is a validation split, fell by less than `min_delta`, and keep the best epoch's
    weights) and `schedule = plateau(...)` (the learning rate times `factor` after such epochs)."""
    import keras

    found = []
    if plan.stop.name == "plateau":
        args = plan.stop.args
        found.append(keras.callbacks.EarlyStopping(monitor=monitor, patience=args.get("patience", 5),
                                                   min_delta=args.get("min_delta", 0.0), restore_best_weights=True))
    if plan.schedule.name == "plateau":
        args = plan.schedule.args
        found.append(keras.callbacks.ReduceLROnPlateau(
            monitor=monitor, factor=args.get("factor", 0.5), patience=args.get("patience", 3),
            min_delta=args.get("min_delta", 0.0), min_lr=args.get("min_rate", 0.0)))
    return found
