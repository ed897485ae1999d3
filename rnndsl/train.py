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

`strategy = mirrored | multi_worker | tpu` builds and compiles the model in a
tf.distribute strategy's scope; `batch` is the global batch, cut into equal
parts among the replicas, and under multi_worker only the chief writes the
run's folder (docs/cluster.md). `bptt = truncated(k)` trains a stateful twin
of the network (a fixed batch of B sequences) on chunks `(B, k, ...)` of each
batch, its states carried from chunk to chunk and reset before each batch;
the stateless network, given the trained weights, is evaluated and saved.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import sys
import tempfile
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
    """Train `network` of `program` as its train block says; `values` set hyperparameters (as --set does).

    Under `strategy = multi_worker` every worker runs this: the chief writes the run's folder `out`,
    another worker the same files into a temporary folder of its own, deleted at the end (every worker
    saves, as TensorFlow asks, since saving may read variables that all workers hold together)."""
    values = dict(values or {})
    plan = plan_of(program, network, values)
    if epochs is not None:
        plan = _with(plan, epochs=epochs)
    out = Path(out)
    # first: a multi-worker strategy sets up TensorFlow's collectives, before anything else runs
    place = _placement(plan.strategy.name)
    start = _resume_point(out, network, values, plan) if resume else 0
    if place.chief and not resume and (out / CHECKPOINTS).exists():
        raise UsageError(f"{out} holds a run already: give --resume to continue it, or another --out")
    folder = out if place.chief else Path(tempfile.mkdtemp(prefix="rnndsl-worker-"))
    try:
        return _run(program, network, values, plan, place, out, folder, start, verbose)
    finally:
        if not place.chief:
            shutil.rmtree(folder, ignore_errors=True)


def _run(program, network: str, values: dict, plan: training.TrainPlan, place, out: Path, folder: Path,
         start: int, verbose: Optional[int]) -> TrainResult:
    """The run, its checkpoints read from `out` and its files written into `folder`."""
    import keras

    folder.mkdir(parents=True, exist_ok=True)
    base = Path(program.file).resolve().parent if program.file and Path(program.file).exists() else Path.cwd()
    splits = datasets.load(plan.data.name, plan.data.args, base=base, seed=plan.seed)
    train_split, validation = splits.train, splits.validation
    if validation is None and plan.validation > 0:
        train_split, validation = datasets.hold_out(train_split, plan.validation, plan.seed)
    for vocabulary, name in ((splits.source_vocabulary, "source"), (splits.target_vocabulary, "target")):
        if vocabulary is not None:
            vocabulary.save(folder / f"{name}.vocabulary.json")

    truncated = plan.bptt.name == "truncated"
    keras.utils.set_random_seed(plan.seed)
    with place.scope():
        if start:
            model = keras.saving.load_model(_checkpoint(out, start) / "model.keras")
        elif truncated:
            from .lower import build_network

            model = build_network(program, network, stateful_batch=plan.batch, **values)
        else:
            model = program.build(network, **values)
        # Under truncated BPTT the model that trains is stateful, of a fixed batch; the one that is
        # evaluated and saved is its twin, the same network of any batch, given its weights.
        twin = None
        if truncated:
            _check_truncation(model, network)
            twin = program.build(network, **values)
    judged = twin or model
    for split, what in ((train_split, "training"), (validation, "validation"), (splits.test, "test")):
        if split is not None:
            _check_fits(judged, split, what)
    chunks = _chunks(train_split, plan.bptt.args["k"]) if truncated else 1
    steps = _batches_per_epoch(train_split.size, plan, place) * chunks
    with place.scope():
        for compiled in ([] if start else [model]) + ([twin] if twin is not None else []):
            _compile(compiled, plan, steps_per_epoch=steps)
    if not start:
        _write_json(folder / "run.json", {"spec": str(Path(program.file).resolve()) if program.file else None,
                                          "network": network, "values": values, "plan": _plain(asdict(plan))})

    verbose = (1 if sys.stdout.isatty() else 2) if verbose is None else verbose
    started = time.perf_counter()
    history = _History(folder / "history.csv", keep=start)
    if start < plan.epochs:
        stream = _stream(train_split, plan, start)
        board = keras.callbacks.TensorBoard(log_dir=str(folder / "tensorboard"), write_graph=False)
        callbacks = [_EpochEnd(folder, history), board]
        if truncated:  # the twin validates (first: the other callbacks see its figures)
            callbacks = [_Resets(chunks), _TwinValidation(twin, validation, plan.batch)] + callbacks
        model.fit(stream, epochs=plan.epochs, initial_epoch=start, shuffle=False,  # the stream is shuffled
                  steps_per_epoch=steps, validation_data=None if truncated else _validation(validation),
                  verbose=verbose, callbacks=callbacks)
    seconds = time.perf_counter() - started

    if twin is not None:  # the twin is saved: with the trained weights, and the optimizer's state
        twin.set_weights(model.get_weights())
        twin.optimizer.build(twin.trainable_variables)
        for mine, trained in zip(twin.optimizer.variables, model.optimizer.variables):
            mine.assign(trained)
    final = {}
    for name, split in (("validation", validation), ("test", splits.test)):
        if split is not None:
            x, y, w = _arrays(split)
            final[name] = _plain(judged.evaluate(x, y, sample_weight=w, batch_size=plan.batch, verbose=0,
                                                 return_dict=True))
    judged.save(folder / "model.keras")
    _write_json(folder / "metrics.json", {"network": network, "epochs": plan.epochs, "seed": plan.seed,
                                          "data": splits.description, "seconds": round(seconds, 1),
                                          "strategy": plan.strategy.name, "replicas": place.replicas,
                                          "workers": place.workers, "last_epoch": history.last, **final})
    return TrainResult(judged, final, plan.epochs, seconds, folder)


# ---------------------------------------------------------------- placement (tf.distribute)


@dataclass
class _Placement:
    """Where a run trains: its tf.distribute strategy (None: the default, one device), its replicas and
    workers, and whether this process is the chief (the one that writes the run's folder)."""

    strategy: object = None
    replicas: int = 1
    workers: int = 1
    chief: bool = True

    def scope(self):
        import contextlib

        return self.strategy.scope() if self.strategy is not None else contextlib.nullcontext()


def _placement(name: str) -> _Placement:
    """The strategy `strategy = NAME` names, made (a UsageError where it cannot be: no TF_CONFIG, no TPU)."""
    if name == "default":
        return _Placement()
    import tensorflow as tf

    if name == "mirrored":
        strategy = tf.distribute.MirroredStrategy()  # every local GPU, or the CPU
        return _Placement(strategy, strategy.num_replicas_in_sync)
    if name == "multi_worker":
        chief, workers = _cluster()
        strategy = tf.distribute.MultiWorkerMirroredStrategy()  # reads TF_CONFIG
        _reduce_nests(strategy)
        return _Placement(strategy, strategy.num_replicas_in_sync, workers, chief)
    if name == "tpu":
        try:
            # TPU_NAME names the TPU (`local` for a TPU VM's own); else Cloud TPU's metadata is asked
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=os.environ.get("TPU_NAME"))
            tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
        except (ValueError, RuntimeError, tf.errors.OpError) as e:
            reason = " ".join(str(e).split()) or type(e).__name__
            raise UsageError(f"`strategy = tpu`: no TPU was found ({reason}); set TPU_NAME to the TPU's "
                             "name, or `local` on a TPU VM") from None
        strategy = tf.distribute.TPUStrategy(resolver)
        return _Placement(strategy, strategy.num_replicas_in_sync)
    raise AssertionError(f"training lets through strategy {name}")


def _reduce_nests(strategy) -> None:
    """Make MultiWorkerMirroredStrategy's `reduce` take what Keras 3 gives it (keras-team/keras#20585).

    Keras 3's fit and evaluate ask two things of `strategy.reduce` that this strategy's refuses: before
    the first step they reduce a whole batch `(x, y)` at once (`_maybe_symbolic_build`), where it takes
    one value only; and after each step they average each replica's scalar figures with `axis=0`, where
    a scalar has no axis 0. Here a nest is reduced value by value, and a scalar across replicas (what
    Keras does under MirroredStrategy: the mean of the replicas' figures). Only this object changes."""
    import tensorflow as tf

    one = strategy.reduce

    def reduce(reduce_op, value, axis=None):
        if isinstance(value, (tuple, list, dict)):
            return tf.nest.map_structure(lambda v: reduce(reduce_op, v, axis=axis), value)
        if axis is not None and strategy.experimental_local_results(value)[0].shape.rank == 0:
            axis = None
        return one(reduce_op, value, axis=axis)

    strategy.reduce = reduce


_TF_CONFIG_FORM = ('TF_CONFIG must be a JSON object {"cluster": {"worker": ["HOST:PORT", ...]}, '
                   '"task": {"type": "worker", "index": I}} (see docs/cluster.md)')


def _cluster() -> tuple:
    """(whether this task is the chief, the number of tasks) of the cluster in TF_CONFIG, checked: the chief
    is the `chief` task if the cluster has one, else worker 0."""
    text = os.environ.get("TF_CONFIG")
    if not text or not text.strip():
        raise UsageError("`strategy = multi_worker` reads its cluster from the TF_CONFIG environment variable, "
                         "which is not set (see docs/cluster.md)")
    try:
        config = json.loads(text)
    except ValueError as e:
        raise UsageError(f"TF_CONFIG is not valid JSON: {e}") from None
    cluster = config.get("cluster") if isinstance(config, dict) else None
    task = config.get("task") if isinstance(config, dict) else None
    if not (isinstance(cluster, dict) and cluster and isinstance(task, dict)
            and all(isinstance(v, list) and v and all(isinstance(a, str) and ":" in a for a in v)
                    for v in cluster.values())
            and isinstance(task.get("type"), str) and isinstance(task.get("index"), int)):
        raise UsageError(_TF_CONFIG_FORM)
    others = sorted(set(cluster) - {"chief", "worker"})
    if others:
        raise UsageError(f"TF_CONFIG's cluster has a `{others[0]}` job: `strategy = multi_worker` runs `chief` "
                         "and `worker` tasks only")
    kind, index = task["type"], task["index"]
    if kind not in cluster or not 0 <= index < len(cluster[kind]):
        jobs = ", ".join(f"{n} {job}{'s' * (n != 1)}" for job, n in ((j, len(v)) for j, v in cluster.items()))
        raise UsageError(f"TF_CONFIG's task is {kind} {index}, which its cluster ({jobs}) does not have")
    chief = kind == "chief" or ("chief" not in cluster and index == 0)
    return chief, sum(len(v) for v in cluster.values())


def _batches_per_epoch(n: int, plan: training.TrainPlan, place: _Placement) -> int:
    """How many batches an epoch of n examples takes. A strategy's replicas and a stateful model take whole
    batches only: the last, partial batch of each epoch is left out (each epoch leaves out others)."""
    if plan.strategy.name == "default" and plan.bptt.name == "full":
        return -(-n // plan.batch)
    why = "truncated BPTT" if plan.bptt.name == "truncated" else f"`strategy = {plan.strategy.name}`"
    if plan.batch % place.replicas:
        raise UsageError(f"the batch of {plan.batch} examples does not divide among the {place.replicas} replicas "
                         f"of `strategy = {plan.strategy.name}`: make `batch` a multiple of {place.replicas}")
    if n < plan.batch:
        raise UsageError(f"the training split has {n} examples, fewer than a batch ({plan.batch}): {why} trains "
                         "on whole batches only")
    return n // plan.batch


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


def _stream(split, plan: training.TrainPlan, start: int):
    """The training stream of epochs `start` to `plan.epochs - 1` as `fit` takes it: batches, or under
    truncated BPTT their chunks, of whole batches only under a strategy or truncated BPTT.

    Under a strategy, `fit` hands the stream to tf.distribute, which cuts each global batch into equal
    parts, one a replica; across workers each worker draws the same batches (the order is the seed's)
    and keeps its replicas' parts. tests/test_distribute.py checks that the loss curve is one device's."""
    k = plan.bptt.args["k"] if plan.bptt.name == "truncated" else None
    whole = plan.strategy.name != "default" or k is not None
    return _batches(split, plan.batch, plan.seed, start, plan.epochs, whole=whole, chunk=k)


def _batches(split, batch: int, seed: int, start: int, epochs: int, *, whole: bool = False,
             chunk: Optional[int] = None):
    """The training split as one tf.data stream of the batches of epochs `start` to `epochs - 1`, each
    epoch in its own order, drawn from (seed, epoch) alone: a resumed run sees the batches an
    uninterrupted one would. (A Python PyDataset did the same at twice the time a step.)

    `whole`: each epoch's last, partial batch is left out. `chunk` k: each batch `(B, T, ...)` comes as
    its chunks of k steps, `(B, k, ...)` in order along the time axis (the last one shorter when k does
    not divide T); per-sequence weights `(B,)` go with every chunk."""
    import tensorflow as tf

    arrays = [tf.constant(a) for a in split.inputs] + [tf.constant(split.targets)]
    if split.sample_weight is not None:
        arrays.append(tf.constant(split.sample_weight))
    n, inputs = split.size, len(split.inputs)

    def epoch_order(epoch):
        order = tf.random.experimental.stateless_shuffle(tf.range(n, dtype=tf.int64),
                                                         seed=tf.stack([tf.cast(seed, tf.int64), epoch]))
        return tf.data.Dataset.from_tensor_slices(order).batch(batch, drop_remainder=whole)

    def gather(rows):
        return tuple(tf.gather(a, rows) for a in arrays)

    def chunks(*picked):
        steps = int(picked[0].shape[1])

        def cut(i):  # the arrays with a time axis sliced; a weight per sequence (rank 1) kept whole
            return tuple(a if a.shape.rank == 1 else a[:, i * chunk:(i + 1) * chunk] for a in picked)

        return tf.data.Dataset.range(-(-steps // chunk)).map(cut)

    def keras_form(*picked):
        x = picked[0] if inputs == 1 else tuple(picked[:inputs])
        return (x,) + tuple(picked[inputs:])

    stream = tf.data.Dataset.range(start, epochs).flat_map(epoch_order).map(gather,
                                                                            num_parallel_calls=tf.data.AUTOTUNE)
    if chunk is not None:
        stream = stream.flat_map(chunks)
    return stream.map(keras_form).prefetch(tf.data.AUTOTUNE)


# ---------------------------------------------------------------- truncated BPTT


def _chunks(split, k: int) -> int:
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


def _check_truncation(model, network: str) -> None:
    """A UsageError where a stateful model cannot train on chunks: a layer that is not carried forward
    in time, an input or the output without a time axis."""
    import keras

    for layer in model._flatten_layers(include_self=False):
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


def _Resets(chunks: int):
    """The callback that resets the states before each batch of sequences: every `chunks` steps."""
    import keras

    class Resets(keras.callbacks.Callback):
        def on_train_batch_begin(self, step, logs=None):
            if step % chunks == 0:
                reset_states(self.model)

    return Resets()


def _TwinValidation(twin, split, batch: int):
    """The callback that, after each epoch, gives the stateless twin the trained weights and adds its loss
    and metrics on the validation split to the epoch's figures (as `val_...`, as fit's own validation)."""
    import keras

    class TwinValidation(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            twin.set_weights(self.model.get_weights())
            if split is None or logs is None:
                return
            x, y, w = _arrays(split)
            found = twin.evaluate(x, y, sample_weight=w, batch_size=batch, verbose=0, return_dict=True)
            logs.update({f"val_{k}": v for k, v in found.items()})

    return TwinValidation()


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
    except OSError as e:
        raise UsageError(f"cannot resume from {out}: cannot read its run.json ({e.strerror})") from None
    except ValueError as e:  # not JSON, or not UTF-8
        raise UsageError(f"cannot resume from {out}: its run.json is not valid JSON ({e})") from None
    if not (isinstance(previous, dict) and isinstance(previous.get("plan"), dict)):
        raise UsageError(f"cannot resume from {out}: its run.json is not the record of a run")
    same = {"network": network, "values": values, "plan": _plain(asdict(_with(plan, epochs=0)))}
    # a setting that a run of an earlier rnndsl did not record had its default
    defaults = _plain(asdict(training.TrainPlan(network, training.Choice(""), training.Choice(""))))
    was = {"network": previous.get("network"), "values": previous.get("values"),
           "plan": {**defaults, **previous["plan"], "epochs": 0}}
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


def read_arrays(path) -> dict:
    """The arrays of a .npz archive, {name: array}; a one-line UsageError where the file cannot be read
    (missing, a folder, not a .npz archive, a damaged one, arrays of Python objects)."""
    import zipfile

    path = Path(path)
    try:
        with path.open("rb") as f:
            archive = zipfile.is_zipfile(f)
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror}") from None
    if not archive:  # np.load would take a .npy file, or try to unpickle anything else
        raise UsageError(f"cannot read {path}: it is not a .npz archive (numpy.savez writes one)")
    try:
        with np.load(path, allow_pickle=False) as found:
            return {name: found[name] for name in found.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise UsageError(f"cannot read {path}: {' '.join(str(e).split())}") from None


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
