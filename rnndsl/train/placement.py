"""placement: where a run trains, a tf.distribute strategy (`strategy = NAME` of the train block).

`placement(name)` makes the strategy (a UsageError where it cannot be: no TF_CONFIG, no TPU)
and says how many replicas and workers it has and whether this process is the chief, the
one that writes the run's folder; `batches_per_epoch` says how many whole batches an epoch
takes under it. TensorFlow is imported only where a strategy is made.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from ..lang import training
from ..lang.errors import UsageError

__all__ = ["Placement", "placement", "batches_per_epoch"]


@dataclass
class Placement:
    """Where a run trains: its tf.distribute strategy (None: the default, one device), its replicas and
    workers, and whether this process is the chief (the one that writes the run's folder)."""

    strategy: object = None
    replicas: int = 1
    workers: int = 1
    chief: bool = True

    def scope(self):
        import contextlib

        return self.strategy.scope() if self.strategy is not None else contextlib.nullcontext()


def placement(name: str) -> Placement:
    """The strategy `strategy = NAME` names, made (a UsageError where it cannot be: no TF_CONFIG, no TPU)."""
    if name == "default":
        return Placement()
    import keras

    if keras.backend.backend() != "tensorflow":
        raise UsageError(f"`strategy = {name}` is a tf.distribute strategy: it trains on Keras's TensorFlow back "
                         f"end, not on {keras.backend.backend()} (run with KERAS_BACKEND=tensorflow, or train on "
                         "one device with `strategy = default`)")
    import tensorflow as tf

    if name == "mirrored":
        strategy = tf.distribute.MirroredStrategy()  # every local GPU, or the CPU
        return Placement(strategy, strategy.num_replicas_in_sync)
    if name == "multi_worker":
        chief, workers = _cluster()
        strategy = tf.distribute.MultiWorkerMirroredStrategy()  # reads TF_CONFIG
        _reduce_nests(strategy)
        return Placement(strategy, strategy.num_replicas_in_sync, workers, chief)
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
        return Placement(strategy, strategy.num_replicas_in_sync)
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


def batches_per_epoch(n: int, plan: training.TrainPlan, place: Placement) -> int:
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
