"""board: TensorBoard's logs of a run, in its folder's tensorboard/, under every Keras back end.

On TensorFlow, Keras's own `TensorBoard` callback writes them. Keras's callback imports TensorFlow's
summary writer under every back end, so on JAX and PyTorch `Board` writes the same epoch figures itself:
one event file in tensorboard/train/ and one in tensorboard/validation/, the scalars named as Keras names
them (`epoch_loss`, `epoch_<metric>`, `epoch_learning_rate`), one record an epoch, through TensorBoard's
own record writer and event protos, which do not import TensorFlow. A write that fails (a full disk) is one
line, as for the run's other files.
"""

from __future__ import annotations

import os
import re
import socket
import time
from pathlib import Path

from ..lang.errors import UsageError
from .backend import is_tensorflow
from .folder import make_folder

__all__ = ["Board"]


def Board(folder: Path):
    """The callback that writes the run's TensorBoard logs into folder/tensorboard/."""
    logs = folder / "tensorboard"
    make_folder(logs)
    return _keras_board(logs) if is_tensorflow() else _scalar_board(logs)


def _keras_board(logs: Path):
    """Keras's TensorBoard callback; TensorFlow's summary ops raise its own errors, not OSError."""
    import keras
    import tensorflow as tf

    def guarded(hook):
        def run(self, *args, **kwargs):
            try:
                return hook(self, *args, **kwargs)
            except tf.errors.OpError as e:
                first = re.sub(r"^\{\{[^}]*\}\}\s*|\s*\[Op:.*$", "", str(e.message).split("\n")[0])
                raise UsageError(f"cannot write {logs}: {first[:200]}") from None
        return run

    hooks = ("on_train_begin", "on_train_end", "on_epoch_end", "on_test_begin", "on_test_end", "on_train_batch_end")
    board = type("Board", (keras.callbacks.TensorBoard,),
                 {name: guarded(getattr(keras.callbacks.TensorBoard, name)) for name in hooks})
    return board(log_dir=str(logs), write_graph=False)


def _scalar_board(logs: Path):
    """A callback writing each epoch's figures as TensorBoard scalars, TensorFlow never imported."""
    import keras

    class Board(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.writers = {}

        def on_epoch_end(self, epoch, logs_of_epoch=None):
            figures = dict(logs_of_epoch or {})
            rate = getattr(self.model.optimizer, "learning_rate", None)
            if rate is not None and "learning_rate" not in figures:
                figures["learning_rate"] = float(keras.ops.convert_to_numpy(rate))
            for split, validation in (("train", False), ("validation", True)):
                chosen = {re.sub(r"^val_", "", k): float(v) for k, v in figures.items()
                          if k.startswith("val_") == validation}
                if chosen:
                    try:
                        self._writer(split).write(epoch, {f"epoch_{k}": v for k, v in chosen.items()})
                    except OSError as e:
                        raise UsageError(f"cannot write {logs}: {e.strerror or e}") from None

        def on_train_end(self, logs_of_training=None):
            for writer in self.writers.values():
                writer.close()

        def _writer(self, split: str) -> "EventFile":
            if split not in self.writers:
                self.writers[split] = EventFile(logs / split)
            return self.writers[split]

    return Board()


class EventFile:
    """One TensorBoard event file in `folder`: scalars written as records of `Event` protos."""

    def __init__(self, folder: Path):
        from tensorboard.compat.proto import event_pb2
        from tensorboard.summary.writer.record_writer import RecordWriter

        make_folder(folder)
        self._event = event_pb2.Event
        name = f"events.out.tfevents.{int(time.time())}.{socket.gethostname()}.{os.getpid()}.rnndsl"
        self._file = open(folder / name, "wb")  # noqa: SIM115 -- open as long as the run trains
        self._records = RecordWriter(self._file)
        self._add(self._event(wall_time=time.time(), file_version="brain.Event:2"))

    def write(self, step: int, scalars: dict) -> None:
        from tensorboard.compat.proto import summary_pb2

        values = [summary_pb2.Summary.Value(tag=tag, simple_value=value) for tag, value in scalars.items()]
        self._add(self._event(wall_time=time.time(), step=step, summary=summary_pb2.Summary(value=values)))

    def _add(self, event) -> None:
        self._records.write(event.SerializeToString())
        self._records.flush()

    def close(self) -> None:
        self._records.close()
