"""run: train a network as its `train` block says, with Keras (`rnndsl train`).

`run(program, network, ...)` builds the network, loads its data
(rnndsl.train.sources), compiles the model as the plan says (rnndsl.lang.training) and
trains it epoch by epoch, writing into the run's folder (rnndsl.train.folder):

    run.json          what was run: the spec, the network, its hyperparameters, the plan
    history.csv       one row per epoch: loss and metrics, on the training and validation splits, and the
                      training time until its end (of every session of a resumed run)
    tensorboard/      TensorBoard logs (`tensorboard --logdir DIR/tensorboard`)
    checkpoints/      epoch-NNNN/: the model with its optimizer state after each complete epoch
    model.keras       the trained model
    metrics.json      the final metrics on the test split (or the validation split), the training time
                      of every session
    *.vocabulary.json the vocabularies of token data, beside the model

Checkpoints lose nothing: an epoch's checkpoint is written into a temporary
folder and renamed into place, so `checkpoints/` only ever holds complete
ones; `resume=True` continues from the last. Each epoch's shuffling and
random seed derive from (seed, epoch) alone (rnndsl.train.stream), so a resumed
run goes on exactly as an uninterrupted one of the same seed would.

`strategy = mirrored | multi_worker | tpu` builds and compiles the model in a
tf.distribute strategy's scope (rnndsl.train.placement); `batch` is the global batch,
cut into equal parts among the replicas, and under multi_worker only the chief writes
the run's folder (docs/cluster.md). `bptt = truncated(k)` trains a stateful twin
of the network (a fixed batch of B sequences) on chunks `(B, k, ...)` of each
batch, its states carried from chunk to chunk and reset before each batch
(rnndsl.train.bptt); the stateless network, given the trained weights, is evaluated
and saved. `method = rtrl` (or `uoro`, `snap1`) lowers every cell to a generated one and trains the epochs by
real-time recurrent learning (or its approximations) instead of `fit` (rnndsl.train.rtrl_fit), with the same
callbacks and files. A trained run is read back, evaluated and asked for predictions by
rnndsl.train.saved_run.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

from ..lang import training
from ..lang.errors import UsageError
from ..lang.train_rules import ONLINE
from .backend import set_seed
from .bptt import Resets, TwinValidation, check_truncation, chunk_count
from .board import Board
from .callbacks import Diverged, EpochEnd, LossWatch, diverged_message, plateau_callbacks
from .checks import hold_out
from .folder import (History, checkpoint_folder, checkpoint_folders, complete_checkpoints, load_saved_model,
                     make_folder, plain, resume_point, with_changes, write_json, writing)
from .model_checks import check_model_fits
from .placement import batches_per_epoch, placement
from . import rtrl_fit, search_fit
from .rtrl_fit import updates_per_batch
from .sources import load
from .buckets import check_bucketing, curriculum_args, generated_stream
from .stream import epoch_seed, fresh_stream, keras_arrays, training_stream, validation_data

__all__ = ["TrainResult", "plan_of", "run"]


@dataclass
class TrainResult:
    """What a run reached: the model, its final metrics by split, the epochs it ran, and whether it stopped
    before its plan's last epoch (`stop = plateau(...)`: then the model holds its best epoch's weights)."""

    model: object
    metrics: dict
    epochs: int
    seconds: float
    out: Path
    stopped: bool = False


def plan_of(program, network: str, values: dict) -> training.TrainPlan:
    """The network's train block evaluated with its hyperparameters (defaults, then `values`)."""
    from ..lang.hparams import bind

    env = bind(program.graphs[network], values)
    plan = training.plan(program.graphs[network], env)
    if plan is None:
        raise UsageError(f"network `{network}` has no `train` block: add `train {{ data = ...  loss = ... }}`")
    return plan


def run(program, network: str, *, values: Optional[dict] = None, out: Path, epochs: Optional[int] = None,
        resume: bool = False, verbose: Optional[int] = None, mixed_precision: bool = False,
        jit_compile: Optional[bool] = None) -> TrainResult:
    """Train `network` of `program` as its train block says; `values` set hyperparameters (as --set does).

    `mixed_precision` computes in float16 with float32 weights (Keras's `mixed_float16` policy, for this run
    alone; the loss scaled against underflow); `jit_compile` compiles the training step with XLA or not,
    where None leaves it to rnndsl (`rnndsl.keras.network.xla_pays`).

    Under `strategy = multi_worker` every worker runs this: the chief writes the run's folder `out`,
    another worker the same files into a temporary folder of its own, deleted at the end (every worker
    saves, as TensorFlow asks, since saving may read variables that all workers hold together)."""
    values = dict(values or {})
    plan = plan_of(program, network, values)
    if epochs is not None:
        plan = with_changes(plan, epochs=epochs)
    searched = plan.optimizer.name in search_fit.SEARCHES  # weights searched: no gradients, no optimizer state
    if searched and resume:
        raise UsageError(f"`optimizer = {plan.optimizer.name}` keeps its search's state in memory only: a run of it "
                         "is not resumed; start it again with another --out")
    if mixed_precision and plan.method.name in ONLINE:
        raise UsageError(f"`method = {plan.method.name}` carries its sensitivities in the weights' precision: train "
                         "it without --mixed-precision")
    out = Path(out)
    # first: a multi-worker strategy sets up TensorFlow's collectives, before anything else runs
    place = placement(plan.strategy.name)
    start = resume_point(out, network, values, plan) if resume else 0
    if place.chief:
        # a folder without a complete checkpoint holds no run to keep: a fresh run starts over there
        if not resume and complete_checkpoints(out):
            raise UsageError(f"{out} holds a run already: give --resume to continue it, or another --out")
        make_folder(out)
        for stale in checkpoint_folders(out, complete=False):
            shutil.rmtree(stale, ignore_errors=True)
    folder = out if place.chief else Path(tempfile.mkdtemp(prefix="rnndsl-worker-"))
    import keras

    policy = keras.mixed_precision.dtype_policy()
    try:
        if mixed_precision:
            keras.mixed_precision.set_dtype_policy("mixed_float16")
        return _run(program, network, values, plan, place, out, folder, start, verbose, jit_compile)
    finally:
        keras.mixed_precision.set_dtype_policy(policy)
        if not place.chief:
            shutil.rmtree(folder, ignore_errors=True)


def _run(program, network: str, values: dict, plan: training.TrainPlan, place, out: Path, folder: Path,
         start: int, verbose: Optional[int], jit_compile: Optional[bool]) -> TrainResult:
    """The run, its checkpoints read from `out` and its files written into `folder`."""
    base = Path(program.file).resolve().parent if program.file and Path(program.file).exists() else Path.cwd()
    splits = load(plan.data.name, plan.data.args, base=base, seed=plan.seed)
    train_split, validation = splits.train, splits.validation
    if validation is None and plan.validation > 0:
        train_split, validation = hold_out(train_split, plan.validation, plan.seed)
    for vocabulary, name in ((splits.source_vocabulary, "source"), (splits.target_vocabulary, "target")):
        if vocabulary is not None:
            path = folder / f"{name}.vocabulary.json"
            with writing(path):
                vocabulary.save(path)

    truncated, rtrl = plan.bptt.name == "truncated", plan.method.name in ONLINE  # rtrl: trained online
    searched = plan.optimizer.name in search_fit.SEARCHES
    set_seed(plan.seed)
    from ..keras.network import Lowered, describe, lower_network

    with place.scope():
        paths: dict = {}  # the fused layers' cells, where the model is lowered here (not resumed)
        if start:
            model = load_saved_model(checkpoint_folder(out, start) / "model.keras",
                                     f"cannot resume from {out}: its checkpoint",
                                     "; delete that checkpoint's folder to resume from the one before")
        else:
            lowered = lower_network(program, network, stateful_batch=plan.batch if truncated else None,
                                    fused=not (rtrl or searched), **values)  # RTRL steps a generated cell
            model, paths = lowered.model, lowered.fused_paths
        # Under truncated BPTT the model that trains is stateful, of a fixed batch; the one that is
        # evaluated and saved is its twin, the same network of any batch, given its weights.
        twin = None
        if truncated:
            check_truncation(model, network)
            twin = program.build(network, **values)
    judged = twin or model
    if verbose != 0:  # which path each recurrent layer took, as `rnndsl build` says
        print(describe(Lowered(model, paths)))
    for split, what in ((train_split, "training"), (validation, "validation"), (splits.test, "test")):
        if split is not None:
            check_model_fits(judged, split, what, plan.loss.name)
    if rtrl:  # before training: a model RTRL cannot step, or more sensitivities than the limit for the batch
        rtrl_fit.check(model, plan.batch, plan.method.name)
    if searched:
        search_fit.check(model, plan)
    chunks = chunk_count(train_split, plan.bptt.args["k"]) if truncated else 1
    # fresh: every epoch a whole new training split, of the generator's size (none of it held out)
    steps = batches_per_epoch(splits.train.size if plan.fresh else train_split.size, plan, place) * chunks
    # the optimizer's steps an epoch (a schedule's unit): under RTRL, one every k steps of each batch
    updates = steps * (updates_per_batch(train_split, plan.method.args["every"]) if rtrl else 1)
    with place.scope():
        for compiled in ([] if start else [model]) + ([twin] if twin is not None else []):
            _compile(compiled, plan, steps_per_epoch=updates, jit=jit_compile)
    if not start:
        write_json(folder / "run.json", {"spec": str(Path(program.file).resolve()) if program.file else None,
                                         "network": network, "values": values, "plan": plain(asdict(plan))})

    verbose = (1 if sys.stdout.isatty() else 2) if verbose is None else verbose
    started = time.perf_counter()
    history = History(folder / "history.csv", keep=start, out=out)
    if start < plan.epochs:
        if plan.bucket:
            check_bucketing(judged, train_split)
        stream = _training_batches(plan, train_split, start, base)
        watch = LossWatch()
        # the plateau's callbacks before the history's, which then records the learning rate they set
        callbacks = [watch, *plateau_callbacks(plan, "val_loss" if validation is not None else "loss"),
                     EpochEnd(folder, history, watch, started), Board(folder)]
        if truncated:  # the twin validates (first: the other callbacks see its figures)
            callbacks = [Resets(chunks), TwinValidation(twin, validation, plan.batch)] + callbacks
        if searched:
            search_fit.fit(model, plan, train_split, validation, history, folder, started, verbose)
        elif rtrl:
            rtrl_fit.fit(model, plan, stream, steps, start, validation, callbacks, verbose)
        else:
            model.fit(stream, epochs=plan.epochs, initial_epoch=start, shuffle=False,  # the stream is shuffled
                      steps_per_epoch=steps, validation_data=None if truncated else validation_data(validation),
                      verbose=verbose, callbacks=callbacks)
        if watch.diverged:
            raise Diverged(diverged_message(watch.diverged, complete_checkpoints(folder)))
    seconds = history.started + time.perf_counter() - started  # every session's, of a resumed run

    if twin is not None:  # the twin is saved: with the trained weights, and the optimizer's state
        twin.set_weights(model.get_weights())
        twin.optimizer.build(twin.trainable_variables)
        for mine, trained in zip(twin.optimizer.variables, model.optimizer.variables):
            mine.assign(trained)
    final = {}
    for name, split in (("validation", validation), ("test", splits.test)):
        if split is not None:
            x, y, w = keras_arrays(split)
            final[name] = plain(judged.evaluate(x, y, sample_weight=w, batch_size=plan.batch, verbose=0,
                                                return_dict=True))
    with writing(folder / "model.keras"):
        judged.save(folder / "model.keras")
    write_json(folder / "metrics.json", {"network": network, "epochs": plan.epochs, "seed": plan.seed,
                                         "data": splits.description, "seconds": round(seconds, 1),
                                         "strategy": plan.strategy.name, "replicas": place.replicas,
                                         "workers": place.workers, "last_epoch": history.last, **final})
    # a run that stopped early (`stop = plateau(...)`) ran fewer epochs than its plan's
    return TrainResult(judged, final, history.epochs, seconds, folder, stopped=history.epochs < plan.epochs)


def _training_batches(plan: training.TrainPlan, train_split, start: int, base):
    """The stream `fit` trains on from epoch `start`: the training split's batches, or fresh splits' (`fresh`),
    bucketed by length (`bucket`) or grown by a curriculum through rnndsl.train.buckets."""
    def fresh(epoch):
        return load(plan.data.name, curriculum_args(plan, epoch), base=base, seed=epoch_seed(plan.seed, epoch)).train

    if plan.bucket or plan.curriculum.name != "none":
        return generated_stream(fresh if plan.fresh else (lambda epoch: train_split), plan, start, train_split)
    if plan.fresh:
        return fresh_stream(lambda seed: load(plan.data.name, plan.data.args, base=base, seed=seed).train, plan, start)
    return training_stream(train_split, plan, start)


def _compile(model, plan: training.TrainPlan, steps_per_epoch: int, jit: Optional[bool] = None) -> None:
    import keras

    from ..keras.network import xla_pays

    if plan.optimizer.name in search_fit.SEARCHES:  # no gradient steps: Keras's loss and metrics, to evaluate
        model.compile(loss=_loss(plan.loss.name),
                      weighted_metrics=[_metric(m.name, plan.loss.name) for m in plan.metrics], jit_compile=False)
        return
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
                  weighted_metrics=[_metric(m.name, plan.loss.name) for m in plan.metrics],
                  jit_compile=(xla_pays(model) and plan.strategy.name == "default") if jit is None else jit)


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
    if name in ("wrong_bits", "sequence_accuracy"):
        from ..keras.sequence_metrics import SequenceAccuracy, WrongBits

        return WrongBits() if name == "wrong_bits" else SequenceAccuracy()
    if name == "accuracy":
        if loss == "cross_entropy":
            return keras.metrics.SparseCategoricalAccuracy(name="accuracy")
        if loss == "binary_cross_entropy":
            return keras.metrics.BinaryAccuracy(name="accuracy")
        return keras.metrics.Accuracy(name="accuracy")
    return {"binary_accuracy": keras.metrics.BinaryAccuracy(name="binary_accuracy"),
            "mse": keras.metrics.MeanSquaredError(name="mse"),
            "mae": keras.metrics.MeanAbsoluteError(name="mae")}[name]
