"""train: run a network's `train` block with Keras (`rnndsl train`).

`run(program, network, ...)` builds the network, loads its data
(rnndsl.train.sources), compiles the model as the plan says (rnndsl.lang.training) and
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

import contextlib
import csv
import io
import json
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from .checks import check_fits, hold_out
from .files import FileError, WrongFormat, open_arrays
from .sources import load
from ..lang import training
from ..lang.errors import DataError, UsageError

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
    from ..keras.lower import hyperparameters

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
    if place.chief:
        # a folder without a complete checkpoint holds no run to keep: a fresh run starts over there
        if not resume and _complete_checkpoints(out):
            raise UsageError(f"{out} holds a run already: give --resume to continue it, or another --out")
        _make_folder(out)
        for stale in _checkpoint_folders(out, complete=False):
            shutil.rmtree(stale, ignore_errors=True)
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

    base = Path(program.file).resolve().parent if program.file and Path(program.file).exists() else Path.cwd()
    splits = load(plan.data.name, plan.data.args, base=base, seed=plan.seed)
    train_split, validation = splits.train, splits.validation
    if validation is None and plan.validation > 0:
        train_split, validation = hold_out(train_split, plan.validation, plan.seed)
    for vocabulary, name in ((splits.source_vocabulary, "source"), (splits.target_vocabulary, "target")):
        if vocabulary is not None:
            path = folder / f"{name}.vocabulary.json"
            with _writing(path):
                vocabulary.save(path)

    truncated = plan.bptt.name == "truncated"
    keras.utils.set_random_seed(plan.seed)
    with place.scope():
        if start:
            model = _load_model(_checkpoint(out, start) / "model.keras", f"cannot resume from {out}: its checkpoint",
                                "; delete that checkpoint's folder to resume from the one before")
        elif truncated:
            from ..keras.lower import build_network

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
            _check_fits(judged, split, what, plan.loss.name)
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
    history = _History(folder / "history.csv", keep=start, out=out)
    if start < plan.epochs:
        stream = _stream(train_split, plan, start)
        watch = _LossWatch()
        callbacks = [watch, _EpochEnd(folder, history, watch), _Board(folder)]
        if truncated:  # the twin validates (first: the other callbacks see its figures)
            callbacks = [_Resets(chunks), _TwinValidation(twin, validation, plan.batch)] + callbacks
        model.fit(stream, epochs=plan.epochs, initial_epoch=start, shuffle=False,  # the stream is shuffled
                  steps_per_epoch=steps, validation_data=None if truncated else _validation(validation),
                  verbose=verbose, callbacks=callbacks)
        if watch.diverged:
            raise Diverged(_diverged(watch.diverged, _complete_checkpoints(folder)))
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
    with _writing(folder / "model.keras"):
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
        from ..keras.ctc import CTCLoss

        return CTCLoss()
    return {"mse": keras.losses.MeanSquaredError(), "mae": keras.losses.MeanAbsoluteError(),
            "cross_entropy": keras.losses.SparseCategoricalCrossentropy(),
            "binary_cross_entropy": keras.losses.BinaryCrossentropy()}[name]


def _metric(name: str, loss: str):
    import keras

    if name == "label_error_rate":
        from ..keras.ctc import LabelErrorRate

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


def _EpochEnd(out: Path, history, watch):
    """The callback that, after each epoch, adds its row to history.csv and writes its checkpoint; not after
    an epoch whose loss diverged (`watch`): its weights are NaN, and the last checkpoint stays the last."""
    import keras

    class EpochEnd(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if watch.diverged:
                return
            history.add(epoch + 1, logs or {})
            _save_checkpoint(self.model, out, epoch + 1)

    return EpochEnd()


class Diverged(DataError):
    """The loss became NaN or infinite during training: one line, and the CLI exits 1."""

    code = "E0702"


def _LossWatch():
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


def _diverged(where: tuple, kept: list) -> str:
    epoch, step, loss = where
    checkpoint = f"the checkpoint of epoch {kept[-1]} is kept" if kept else "no checkpoint was written"
    return (f"the loss became {loss} at step {step} of epoch {epoch}: training stopped, and {checkpoint}; "
            "lower the learning rate, clip the gradients (`optimizer = adam(clipnorm=1)`), or look for huge "
            "values in the data")



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


def _check_fits(model, split, what: str, loss: str) -> None:
    """A DataError before training when a split's arrays do not fit the model's inputs and output: the shapes
    the model declares, then the output for inputs of these shapes (steps that the model leaves open, None,
    must be the targets' too), except under CTC, whose targets are shorter label sequences."""
    names = [t.name for t in model.inputs]
    check_fits(split, [tuple(t.shape) for t in model.inputs], tuple(model.outputs[0].shape),
                        names=names, what=f"the {what} data")
    check_token_ids(model, split.inputs, f"the {what} data")
    output = None if loss == "ctc" else _output_shape(model, split, what)
    if output is not None:
        check_fits(split, [(None,) + a.shape[1:] for a in split.inputs], output, names=names,
                            what=f"the {what} data")


def check_token_ids(model, inputs, what: str) -> None:
    """A DataError where an integer input of `model` holds a token id past the vocabulary of a layer that
    reads it (TensorFlow's gather would stop the run with an error of its own, mid-epoch)."""
    vocabularies = _vocabularies(model)
    for i, array in enumerate(inputs):
        array = np.asarray(array)
        if i in vocabularies and array.size and array.dtype.kind in "iu":
            size, layer = vocabularies[i]
            top = int(array.max())
            if top >= size:
                raise DataError(f"{what}: input `{model.inputs[i].name}` holds the token id {top}, but `{layer}` "
                                f"reads ids 0 to {size - 1}")


def _vocabularies(model) -> dict:
    """{input index: (vocabulary size, layer name)}: the smallest vocabulary of the layers that read each input
    of `model` as token ids (an Embedding; an encoder-decoder's target)."""
    index = {id(t): i for i, t in enumerate(model.inputs)}
    found: dict = {}
    for layer in model.layers:
        for node in layer._inbound_nodes:
            tensors = list(node.input_tensors)
            if type(layer).__name__ == "Embedding" and tensors:
                reads, size = tensors[0], layer.input_dim
            elif type(layer).__name__ == "EncoderDecoder" and len(tensors) > 1:
                reads, size = tensors[1], layer.vocab
            else:
                continue
            i = index.get(id(reads))
            if i is not None and (i not in found or size < found[i][0]):
                found[i] = (size, layer.name)
    return found


def _output_shape(model, split, what: str) -> Optional[tuple]:
    """The shape of the model's output for one example of the split's shapes (batch None): the model traced
    as a TensorFlow graph, nothing computed. A DataError where the trace fails on sequence inputs of
    different lengths; None where it fails otherwise (training reports what it finds)."""
    import tensorflow as tf

    specs = [tf.TensorSpec((1,) + a.shape[1:], t.dtype) for a, t in zip(split.inputs, model.inputs)]
    call = tf.function(lambda *x: model(list(x) if len(x) > 1 else x[0], training=False))
    try:
        output = call.get_concrete_function(*specs).structured_outputs
    except Exception:  # noqa: BLE001 -- Keras wraps what a layer raises in a ValueError, TensorFlow in its own
        steps = sorted({a.shape[1] for a in split.inputs if a.ndim == 3 or a.dtype.kind in "iu"})
        if len(steps) > 1:
            raise DataError(f"the {what} data: the model cannot take its inputs of {' and '.join(map(str, steps))} "
                            "steps together: give every input the same number of steps") from None
        return None
    return (None,) + tuple(tf.nest.flatten(output)[0].shape[1:])


# ---------------------------------------------------------------- the run's folder


@contextlib.contextmanager
def _writing(path: Path, kept: str = ""):
    """A write of `path` that fails (a full disk, a read-only file system, no permission) as one line:
    `cannot write PATH: REASON`, then `kept`, what stays of the run."""
    try:
        yield
    except OSError as e:
        reason = e.strerror or (os.strerror(e.errno) if e.errno else " ".join(str(e).split()))
        raise UsageError(f"cannot write {path}: {reason}{kept}") from None


def _make_folder(path: Path) -> None:
    """A folder of the run (its own, tensorboard/), made where it is not; a UsageError where it cannot be."""
    if path.exists() and not path.is_dir():
        raise UsageError(f"cannot write {path}: it is a file, not a folder (give another --out)")
    with _writing(path):
        path.mkdir(parents=True, exist_ok=True)


def _Board(folder: Path):
    """TensorBoard's callback, writing into folder/tensorboard/: what fails to write there (a full disk) one
    line, as for the run's other files. (TensorFlow's summary ops raise its own errors, not OSError.)"""
    import keras
    import tensorflow as tf

    logs = folder / "tensorboard"
    _make_folder(logs)

    def guarded(hook):
        def run(self, *args, **kwargs):
            try:
                return hook(self, *args, **kwargs)
            except tf.errors.OpError as e:
                first = re.sub(r"^\{\{[^}]*\}\}\s*|\s*\[Op:.*$", "", str(e.message).split("\n")[0])
                raise UsageError(f"cannot write {logs}: {first[:200]}") from None
        return run

    hooks = ("on_train_begin", "on_train_end", "on_epoch_end", "on_test_begin", "on_test_end", "on_train_batch_end")
    Board = type("Board", (keras.callbacks.TensorBoard,),
                 {name: guarded(getattr(keras.callbacks.TensorBoard, name)) for name in hooks})
    return Board(log_dir=str(logs), write_graph=False)


class _History:
    """history.csv: one row per epoch, rewritten whole each epoch (a resumed run keeps its first rows)."""

    def __init__(self, path: Path, keep: int, out: Path):
        self.path = path
        self.rows: list = []
        if keep and path.exists():
            try:
                with path.open(newline="", encoding="utf-8") as f:
                    self.rows = [_history_row(r) for r in csv.DictReader(f)]
            except (OSError, ValueError, TypeError, KeyError, csv.Error):
                raise UsageError(f"cannot resume from {out}: its history.csv is damaged (delete it to resume "
                                 "without the history of the epochs before)") from None
            self.rows = [r for r in self.rows if r["epoch"] <= keep]

    @property
    def last(self) -> dict:
        return {k: float(v) for k, v in self.rows[-1].items() if k != "epoch"} if self.rows else {}

    def add(self, epoch: int, logs: dict) -> None:
        self.rows.append({"epoch": epoch, **{k: f"{float(v):.6g}" for k, v in logs.items()}})
        fields = ["epoch"] + sorted({k for r in self.rows for k in r} - {"epoch"})
        text = io.StringIO(newline="")
        writer = csv.DictWriter(text, fields)
        writer.writeheader()
        writer.writerows(self.rows)
        _write_text(self.path, text.getvalue())


def _history_row(row: dict) -> dict:
    """A row of history.csv read back: the epoch an int, every figure a number (a ValueError if not)."""
    return {"epoch": int(row["epoch"]), **{k: f"{float(v):.6g}" for k, v in row.items() if k != "epoch"}}


def _checkpoint(out: Path, epoch: int) -> Path:
    return out / CHECKPOINTS / f"epoch-{epoch:04d}"


def _save_checkpoint(model, out: Path, epoch: int) -> None:
    """The model with its optimizer state after `epoch`, in a folder that appears whole or not at all. A
    failed write (a full disk) removes the partial folder and says which checkpoint stays."""
    final = _checkpoint(out, epoch)
    tmp = final.with_name(final.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    kept = [e for e in _complete_checkpoints(out) if e < epoch]
    try:
        with _writing(final, f" (the checkpoint of epoch {kept[-1]} is kept)" if kept else ""):
            tmp.mkdir(parents=True)
            model.save(tmp / "model.keras")
            (tmp / "epoch.json").write_text(json.dumps({"epoch": epoch}) + "\n", encoding="utf-8")
            _fsync_dir(tmp)
            shutil.rmtree(final, ignore_errors=True)
            os.replace(tmp, final)  # atomic: a rename within one folder
    except UsageError:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _fsync_dir(final.parent)
    for old in _complete_checkpoints(out)[:-KEEP_CHECKPOINTS]:
        shutil.rmtree(_checkpoint(out, old), ignore_errors=True)


def _checkpoint_folders(out: Path, complete: bool) -> list:
    """The folders in checkpoints/: the complete ones (`epoch-NNNN`), or the partial ones (`*.partial`)."""
    folder = out / CHECKPOINTS
    try:
        found = list(folder.iterdir()) if folder.is_dir() else []
    except OSError as e:
        raise UsageError(f"cannot read {folder}: {e.strerror}") from None
    if not complete:
        return [p for p in found if p.name.endswith(".partial")]
    return [p for p in found if p.is_dir() and p.name.startswith("epoch-") and p.name.split("-")[1].isdigit()]


def _complete_checkpoints(out: Path) -> list:
    return sorted(int(p.name.split("-")[1]) for p in _checkpoint_folders(out, complete=True))


def _load_model(path: Path, what: str, hint: str = ""):
    """The saved model at `path` (a checkpoint's with its optimizer state); a UsageError, `what PATH cannot
    be read (WHY)HINT`, where it is damaged."""
    from ..keras.saved import UnloadableModel, load_model

    try:
        return load_model(path)
    except UnloadableModel as e:
        raise UsageError(f"{what} {path} cannot be read ({e.reason}){hint}") from None


def _resume_point(out: Path, network: str, values: dict, plan) -> int:
    """The last complete epoch of the run in `out`, checked to be a run of the same network and plan."""
    done = _complete_checkpoints(out)
    if not done:
        raise UsageError(f"nothing to resume in {out}: it has no complete checkpoint; without --resume, a run "
                         "starts over there")
    previous = _read_record(out, f"cannot resume from {out}: ")
    same = {"network": network, "values": values, "plan": _plain(asdict(_with(plan, epochs=0)))}
    was = {"network": previous.get("network"), "values": previous.get("values"),
           "plan": {**previous["plan"], "epochs": 0}}
    if _plain(same) != _plain(was):
        raise UsageError(f"cannot resume from {out}: it is a run of another network, hyperparameters or train block")
    return min(done[-1], plan.epochs)


def _read_record(out: Path, context: str) -> dict:
    """The run.json of the run in `out`, checked to be a record of a run, its plan completed with the
    defaults of the settings that a run of an earlier rnndsl did not record; a UsageError after `context`."""
    try:
        record = json.loads((out / "run.json").read_text(encoding="utf-8"))
    except OSError as e:
        raise UsageError(f"{context}cannot read its run.json ({e.strerror})") from None
    except ValueError as e:  # not JSON, or not UTF-8
        raise UsageError(f"{context}its run.json is not valid JSON ({e})") from None
    except RecursionError:  # nested thousands deep
        record = None
    plan = record.get("plan") if isinstance(record, dict) else None
    if not isinstance(plan, dict):
        raise UsageError(f"{context}its run.json is not the record of a run")
    defaults = _plain(asdict(training.TrainPlan("", training.Choice(""), training.Choice(""))))
    plan = {**{k: v for k, v in defaults.items() if k not in ("network", "data", "loss")}, **plan}
    if not _is_plan(plan):
        raise UsageError(f"{context}its run.json is not the record of a run")
    return {**record, "plan": plan}


def _is_plan(plan: dict) -> bool:
    """Whether a recorded plan has what evaluating and resuming read: a data source and a loss by name, a
    positive batch, a seed and a validation fraction."""
    def is_int(v):
        return isinstance(v, int) and not isinstance(v, bool)

    choices = all(isinstance(plan.get(k), dict) and isinstance(plan[k].get("name"), str) for k in ("data", "loss"))
    return (choices and isinstance(plan["data"].get("args"), dict) and is_int(plan["batch"]) and plan["batch"] > 0
            and is_int(plan["seed"]) and isinstance(plan["validation"], (int, float)))


def _with(plan, **changes):
    from dataclasses import replace

    return replace(plan, **changes)


def _write_json(path: Path, value) -> None:
    _write_text(path, json.dumps(value, indent=2) + "\n")


def _write_text(path: Path, text: str) -> None:
    """Write `text` over `path` whole or not at all (a full disk leaves the old file); a failed write one line."""
    tmp = path.with_name(path.name + ".tmp")
    with _writing(path):
        try:
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, path)
        except OSError:
            tmp.unlink(missing_ok=True)
            raise


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
    out = Path(out)
    if not (out / "run.json").exists():
        raise UsageError(f"{out} holds no run: it has no run.json (train one with `rnndsl train`)")
    record = _read_record(out, f"cannot read the run in {out}: ")
    if not (out / "model.keras").exists():
        raise UsageError(f"{out} holds no trained model: the run did not finish (continue it with --resume)")
    return SavedRun(out, record, _load_model(out / "model.keras", f"cannot read the run in {out}: its model"))


def evaluate(saved: SavedRun, split: str = "test") -> dict:
    """The run's loss and metrics on one split of its own data ({name: value})."""
    plan = saved.plan
    spec = saved.record.get("spec")
    base = Path(spec).parent if spec else Path.cwd()
    found = load(plan["data"]["name"], plan["data"]["args"], base=base, seed=plan["seed"])
    chosen = getattr(found, split)
    if chosen is None and split == "validation" and plan["validation"] > 0:
        _, chosen = hold_out(found.train, plan["validation"], plan["seed"])
    if chosen is None:
        raise UsageError(f"the run's data has no {split} split")
    _check_fits(saved.model, chosen, split, plan["loss"]["name"])
    x, y, w = _arrays(chosen)
    return _plain(saved.model.evaluate(x, y, sample_weight=w, batch_size=plan["batch"], verbose=0,
                                       return_dict=True))


def read_arrays(path) -> dict:
    """The arrays of a .npz archive, {name: array}, read as the data of a train block is (a regular file,
    each array's size checked before it is allocated); a one-line UsageError where the file cannot be read
    (missing, a folder, a FIFO, too large, not a .npz archive, a damaged one, arrays of Python objects)."""
    try:
        with open_arrays(path, "npz") as found:
            return {name: found[name] for name in found.files}
    except WrongFormat:
        raise UsageError(f"cannot read {path}: it is not a .npz archive (numpy.savez writes one)") from None
    except FileError as e:
        raise UsageError(f"cannot read {path}: {e.reason}") from None


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
    check_token_ids(saved.model, inputs, "the inputs")
    outputs = np.asarray(saved.model.predict(inputs[0] if len(inputs) == 1 else inputs, verbose=0))
    result = {"outputs": outputs}
    if saved.plan["loss"]["name"] == "ctc":
        from ..keras.ctc import greedy_decode

        decoded = greedy_decode(outputs)
        width = max((len(d) for d in decoded), default=0)
        labels = np.full((len(decoded), width), -1, "int32")
        for i, d in enumerate(decoded):
            labels[i, :len(d)] = d
        result["labels"] = labels
    return result
