"""train: run a network's `train` block with Keras (`rnndsl train`).

`run(program, network, ...)` builds the network, loads its data
(rnndsl.data), compiles the model as the plan says (rnndsl.training) and
trains it epoch by epoch, writing into the run's folder:

    run.json          what was run: the spec, the network, its hyperparameters, the plan
    history.csv       one row per epoch: loss and metrics, on the training and validation splits
    tensorboard/      TensorBoard logs (`tensorboard --logdir DIR/tensorboard`)
    checkpoints/      epoch-NNNN/: the model with its optimizer state after each complete epoch
    model.keras       the trained model
    metrics.json      the final metrics on the test split (or the validation split), the time taken
    *.vocabulary.json the vocabularies of token data, beside the model

Checkpoints lose nothing: an epoch's checkpoint is written into a temporary
folder and renamed into place, so `checkpoints/` only ever holds complete
ones; `resume=True` continues from the last. Each epoch's shuffling and
random seed derive from (seed, epoch) alone, so a resumed run goes on exactly
as an uninterrupted one of the same seed would.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from . import data as datasets
from . import training
from .errors import DataError, UsageError

CHECKPOINTS = "checkpoints"
KEEP_CHECKPOINTS = 2


@dataclass
class TrainResult:
    """What a run reached: the model, its final metrics by split, and the epochs it ran."""

    model: object
    metrics: dict
    epochs: int
    seconds: float
    out: Path


def plan_of(program, network: str, values: dict) -> training.TrainPlan:
    """The network's train block evaluated with its hyperparameters (defaults, then `values`)."""
    from .lower import hyperparameters

    env = hyperparameters(program.graphs[network], values)
    plan = training.plan(program.bound.networks[network].ast, env)
    if plan is None:
        raise UsageError(f"network `{network}` has no `train` block: add `train {{ data = ...  loss = ... }}`")
    return plan


def run(program, network: str, *, values: Optional[dict] = None, out: Path, epochs: Optional[int] = None,
        resume: bool = False, verbose: Optional[int] = None) -> TrainResult:
    """Train `network` of `program` as its train block says; `values` set hyperparameters (as --set does)."""
    import keras

    values = dict(values or {})
    plan = plan_of(program, network, values)
    if epochs is not None:
        plan = _with(plan, epochs=epochs)
    out = Path(out)
    start = _resume_point(out, network, values, plan) if resume else 0
    if not resume and (out / CHECKPOINTS).exists():
        raise UsageError(f"{out} holds a run already: give --resume to continue it, or another --out")
    out.mkdir(parents=True, exist_ok=True)
    base = Path(program.file).resolve().parent if program.file and Path(program.file).exists() else Path.cwd()
    splits = datasets.load(plan.data.name, plan.data.args, base=base, seed=plan.seed)
    train_split, validation = splits.train, splits.validation
    if validation is None and plan.validation > 0:
        train_split, validation = datasets.hold_out(train_split, plan.validation, plan.seed)
    for vocabulary, name in ((splits.source_vocabulary, "source"), (splits.target_vocabulary, "target")):
        if vocabulary is not None:
            vocabulary.save(out / f"{name}.vocabulary.json")

    keras.utils.set_random_seed(plan.seed)
    if start:
        model = keras.saving.load_model(_checkpoint(out, start) / "model.keras")
    else:
        model = program.build(network, **values)
        _compile(model, plan, steps_per_epoch=-(-train_split.size // plan.batch))
    for split, what in ((train_split, "training"), (validation, "validation"), (splits.test, "test")):
        if split is not None:
            _check_fits(model, split, what)
    if not start:
        _write_json(out / "run.json", {"spec": str(Path(program.file).resolve()) if program.file else None,
                                       "network": network, "values": values, "plan": _plain(asdict(plan))})

    verbose = (1 if sys.stdout.isatty() else 2) if verbose is None else verbose
    started = time.perf_counter()
    history = _History(out / "history.csv", keep=start)
    if start < plan.epochs:
        batches = _batches(train_split, plan.batch, plan.seed, start, plan.epochs)
        board = keras.callbacks.TensorBoard(log_dir=str(out / "tensorboard"), write_graph=False)
        model.fit(batches, epochs=plan.epochs, initial_epoch=start, shuffle=False,  # the stream is shuffled
                  steps_per_epoch=-(-train_split.size // plan.batch),
                  validation_data=_validation(validation), verbose=verbose,
                  callbacks=[_EpochEnd(out, history), board])
    seconds = time.perf_counter() - started

    final = {}
    for name, split in (("validation", validation), ("test", splits.test)):
        if split is not None:
            x, y, w = _arrays(split)
            final[name] = _plain(model.evaluate(x, y, sample_weight=w, batch_size=plan.batch, verbose=0,
                                                return_dict=True))
    model.save(out / "model.keras")
    _write_json(out / "metrics.json", {"network": network, "epochs": plan.epochs, "seed": plan.seed,
                                       "data": splits.description, "seconds": round(seconds, 1),
                                       "last_epoch": history.last, **final})
    return TrainResult(model, final, plan.epochs, seconds, out)


# ---------------------------------------------------------------- compiling


def _compile(model, plan: training.TrainPlan, steps_per_epoch: int) -> None:
    import keras

    args = dict(plan.optimizer.args)
    rate = args.pop("learning_rate", None)
    if rate is None:
        rate = dict((p.name, p.default) for p in training.OPTIMIZERS[plan.optimizer.name])["learning_rate"]
    if plan.schedule.name == "cosine":
        rate = keras.optimizers.schedules.CosineDecay(rate, plan.epochs * steps_per_epoch,
                                                      alpha=plan.schedule.args.get("alpha", 0.0))
    optimizer = {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD, "rmsprop": keras.optimizers.RMSprop,
                 "adagrad": keras.optimizers.Adagrad}[plan.optimizer.name](learning_rate=rate, **args)
    # weighted: padded steps (sample weight 0) count in neither the loss nor the metrics
    model.compile(optimizer=optimizer, loss=_loss(plan.loss.name),
                  weighted_metrics=[_metric(m.name, plan.loss.name) for m in plan.metrics])


def _loss(name: str):
    import keras

    if name == "ctc":
        from .ctc import CTCLoss

        return CTCLoss()
    return {"mse": keras.losses.MeanSquaredError(), "mae": keras.losses.MeanAbsoluteError(),
            "cross_entropy": keras.losses.SparseCategoricalCrossentropy(),
            "binary_cross_entropy": keras.losses.BinaryCrossentropy()}[name]


def _metric(name: str, loss: str):
    import keras

    if name == "label_error_rate":
        from .ctc import LabelErrorRate

        return LabelErrorRate(name="label_error_rate")
    if name == "accuracy":
        if loss == "cross_entropy":
            return keras.metrics.SparseCategoricalAccuracy(name="accuracy")
        if loss == "binary_cross_entropy":
            return keras.metrics.BinaryAccuracy(name="accuracy")
        return keras.metrics.Accuracy(name="accuracy")
    return {"binary_accuracy": keras.metrics.BinaryAccuracy(name="binary_accuracy"),
            "mse": keras.metrics.MeanSquaredError(name="mse"),
            "mae": keras.metrics.MeanAbsoluteError(name="mae")}[name]


# ---------------------------------------------------------------- data


def _batches(split, batch: int, seed: int, start: int, epochs: int):
    """The training split as one tf.data stream of the batches of epochs `start` to `epochs - 1`, each
    epoch in its own order, drawn from (seed, epoch) alone: a resumed run sees the batches an
    uninterrupted one would. (A Python PyDataset did the same at twice the time a step.)"""
    import tensorflow as tf

    arrays = [tf.constant(a) for a in split.inputs] + [tf.constant(split.targets)]
    if split.sample_weight is not None:
        arrays.append(tf.constant(split.sample_weight))
    n = split.size

    def epoch_order(epoch):
        order = tf.random.experimental.stateless_shuffle(tf.range(n, dtype=tf.int64),
                                                         seed=tf.stack([tf.cast(seed, tf.int64), epoch]))
        return tf.data.Dataset.from_tensor_slices(order).batch(batch)

    def gather(rows):
        picked = [tf.gather(a, rows) for a in arrays]
        k = len(split.inputs)
        x = picked[0] if k == 1 else tuple(picked[:k])
        return (x,) + tuple(picked[k:])

    epochs_ds = tf.data.Dataset.range(start, epochs)
    return epochs_ds.flat_map(epoch_order).map(gather, num_parallel_calls=tf.data.AUTOTUNE).prefetch(
        tf.data.AUTOTUNE)


def _EpochEnd(out: Path, history):
    """The callback that, after each epoch, adds its row to history.csv and writes its checkpoint."""
    import keras

    class EpochEnd(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            history.add(epoch + 1, logs or {})
            _save_checkpoint(self.model, out, epoch + 1)

    return EpochEnd()



def _arrays(split, order=None):
    """(inputs, targets, sample weights) of a split as Keras takes them, in `order` if given."""
    pick = (lambda a: a) if order is None else (lambda a: a[order])
    inputs = [pick(a) for a in split.inputs]
    weights = None if split.sample_weight is None else pick(split.sample_weight)
    return (inputs[0] if len(inputs) == 1 else inputs), pick(split.targets), weights


def _validation(split):
    if split is None:
        return None
    x, y, w = _arrays(split)
    return (x, y) if w is None else (x, y, w)


def _check_fits(model, split, what: str) -> None:
    """A DataError before training when a split's arrays do not fit the model's inputs and output."""
    datasets.check_fits(split, [tuple(t.shape) for t in model.inputs], tuple(model.outputs[0].shape),
                        names=[t.name for t in model.inputs], what=f"the {what} data")


# ---------------------------------------------------------------- the run's folder


class _History:
    """history.csv: one row per epoch, rewritten whole each epoch (a resumed run keeps its first rows)."""

    def __init__(self, path: Path, keep: int):
        self.path = path
        self.rows: list = []
        if keep and path.exists():
            with path.open(newline="", encoding="utf-8") as f:
                self.rows = [r for r in csv.DictReader(f) if int(r["epoch"]) <= keep]

    @property
    def last(self) -> dict:
        return {k: float(v) for k, v in self.rows[-1].items() if k != "epoch"} if self.rows else {}

    def add(self, epoch: int, logs: dict) -> None:
        self.rows.append({"epoch": epoch, **{k: f"{float(v):.6g}" for k, v in logs.items()}})
        fields = ["epoch"] + sorted({k for r in self.rows for k in r} - {"epoch"})
        tmp = self.path.with_suffix(".csv.tmp")
        with tmp.open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fields)
            writer.writeheader()
            writer.writerows(self.rows)
        os.replace(tmp, self.path)


def _checkpoint(out: Path, epoch: int) -> Path:
    return out / CHECKPOINTS / f"epoch-{epoch:04d}"


def _save_checkpoint(model, out: Path, epoch: int) -> None:
    """The model with its optimizer state after `epoch`, in a folder that appears whole or not at all."""
    final = _checkpoint(out, epoch)
    tmp = final.with_name(final.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    model.save(tmp / "model.keras")
    _write_json(tmp / "epoch.json", {"epoch": epoch})
    _fsync_dir(tmp)
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)  # atomic: a rename within one folder
    _fsync_dir(final.parent)
    for old in _complete_checkpoints(out)[:-KEEP_CHECKPOINTS]:
        shutil.rmtree(_checkpoint(out, old), ignore_errors=True)


def _complete_checkpoints(out: Path) -> list:
    folder = out / CHECKPOINTS
    if not folder.is_dir():
        return []
    return sorted(int(p.name.split("-")[1]) for p in folder.iterdir()
                  if p.is_dir() and p.name.startswith("epoch-") and p.name.split("-")[1].isdigit())


def _resume_point(out: Path, network: str, values: dict, plan) -> int:
    """The last complete epoch of the run in `out`, checked to be a run of the same network and plan."""
    done = _complete_checkpoints(out)
    if not done:
        raise UsageError(f"nothing to resume in {out}: it has no complete checkpoint")
    try:
        previous = json.loads((out / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise UsageError(f"cannot resume from {out}: run.json: {e}") from None
    same = {"network": network, "values": values, "plan": _plain(asdict(_with(plan, epochs=0)))}
    was = {"network": previous.get("network"), "values": previous.get("values"),
           "plan": {**(previous.get("plan") or {}), "epochs": 0}}
    if _plain(same) != _plain(was):
        raise UsageError(f"cannot resume from {out}: it is a run of another network, hyperparameters or train block")
    return min(done[-1], plan.epochs)


def _with(plan, **changes):
    from dataclasses import replace

    return replace(plan, **changes)


def _write_json(path: Path, value) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(value, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _plain(value):
    """JSON-ready: dataclasses' dicts, spans dropped, NumPy numbers as Python's."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if k != "span"}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return value


# ---------------------------------------------------------------- a saved run


@dataclass
class SavedRun:
    """A run's folder read back: its model, its record (run.json) and the plan's data."""

    out: Path
    record: dict
    model: object

    @property
    def plan(self) -> dict:
        return self.record["plan"]


def open_run(out) -> SavedRun:
    """The run in folder `out` (written by `run`), its trained model loaded."""
    import keras

    out = Path(out)
    try:
        record = json.loads((out / "run.json").read_text(encoding="utf-8"))
    except OSError:
        raise UsageError(f"{out} holds no run: it has no run.json (train one with `rnndsl train`)") from None
    except ValueError as e:
        raise UsageError(f"{out}/run.json is not valid JSON: {e}") from None
    if not (out / "model.keras").exists():
        raise UsageError(f"{out} holds no trained model: the run did not finish (continue it with --resume)")
    return SavedRun(out, record, keras.saving.load_model(out / "model.keras"))


def evaluate(saved: SavedRun, split: str = "test") -> dict:
    """The run's loss and metrics on one split of its own data ({name: value})."""
    plan = saved.plan
    spec = saved.record.get("spec")
    base = Path(spec).parent if spec else Path.cwd()
    found = datasets.load(plan["data"]["name"], plan["data"]["args"], base=base, seed=plan["seed"])
    chosen = getattr(found, split)
    if chosen is None and split == "validation" and plan["validation"] > 0:
        _, chosen = datasets.hold_out(found.train, plan["validation"], plan["seed"])
    if chosen is None:
        raise UsageError(f"the run's data has no {split} split")
    _check_fits(saved.model, chosen, split)
    x, y, w = _arrays(chosen)
    return _plain(saved.model.evaluate(x, y, sample_weight=w, batch_size=plan["batch"], verbose=0,
                                       return_dict=True))


def predict(saved: SavedRun, arrays: dict) -> dict:
    """The model's outputs for `arrays` (by the model's input names; one array under any name for a single
    input): {"outputs": ...}, and for a CTC model the greedy decoding, label ids padded with -1."""
    names = [t.name for t in saved.model.inputs]
    if len(names) == 1 and len(arrays) == 1:
        inputs = list(arrays.values())
    else:
        missing = [n for n in names if n not in arrays]
        if missing:
            raise DataError(f"give the model's input{'s' if len(missing) > 1 else ''} "
                            + ", ".join(f"`{m}`" for m in missing) + f" (the arrays given: {', '.join(arrays)})")
        inputs = [arrays[n] for n in names]
    for name, array, tensor in zip(names, inputs, saved.model.inputs):
        want = tuple(tensor.shape)
        if np.ndim(array) != len(want) or any(w is not None and w != a for w, a in zip(want[1:], np.shape(array)[1:])):
            raise DataError(f"input `{name}` has shape {np.shape(array)}, the model's is "
                            f"({', '.join('None' if d is None else str(d) for d in want)})")
    outputs = np.asarray(saved.model.predict(inputs[0] if len(inputs) == 1 else inputs, verbose=0))
    result = {"outputs": outputs}
    if saved.plan["loss"]["name"] == "ctc":
        from .ctc import greedy_decode

        decoded = greedy_decode(outputs)
        width = max((len(d) for d in decoded), default=0)
        labels = np.full((len(decoded), width), -1, "int32")
        for i, d in enumerate(decoded):
            labels[i, :len(d)] = d
        result["labels"] = labels
    return result
