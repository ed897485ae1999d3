"""train_rules: which settings of a `train` block go together (E0807), each of them checked alone.

`conflict(values, block)` gives the first TrainError of a block whose settings are each right on their
own (rnndsl.lang.training evaluates them) but not side by side: a metric that needs another loss,
truncated BPTT with CTC or a strategy, `fresh` without a generator, a curriculum without `fresh` or
with a length that is no length of the source, bucketing with truncated BPTT. No TensorFlow here.
"""

from __future__ import annotations

from typing import Optional

from . import ast as A
from .errors import RnnDslError
from .sources import CURRICULUM, GENERATED, SIGNATURES

__all__ = ["TrainError", "conflict"]


class TrainError(RnnDslError):
    """A problem in a `train` block (E08xx)."""

    code = "E0801"


def conflict(values: dict, block: A.Train) -> Optional[RnnDslError]:
    """The first pair of settings of `block` that do not go together; `values` {setting: its value}."""
    for rule in (_metrics, _truncation, _fresh, _curriculum):
        found = rule(values, block)
        if found is not None:
            return found
    return None


def _error(message: str, span, label: str = "", notes=()) -> RnnDslError:
    return TrainError(message, span, label=label, notes=notes, code="E0807")


def _setting(block: A.Train, name: str):
    return next(s for s in block.settings if s.name.id == name)


def _metrics(values: dict, block: A.Train):
    stepwise = [m for m in values["metrics"] if m.name in ("wrong_bits", "sequence_accuracy")]
    if stepwise and values["loss"].name == "ctc":
        return _error(f"the metric `{stepwise[0].name}` compares outputs and targets step by step: CTC's are not "
                      "aligned", stepwise[0].span, notes=["use `label_error_rate` with `loss = ctc`"])
    if "label_error_rate" in {m.name for m in values["metrics"]} and values["loss"].name != "ctc":
        return _error("the metric `label_error_rate` decodes CTC outputs: it needs `loss = ctc`",
                      next(m.span for m in values["metrics"] if m.name == "label_error_rate"))
    return None


def _truncation(values: dict, block: A.Train):
    bptt = values["bptt"]
    if bptt.name != "truncated":
        return None
    if values["loss"].name == "ctc":
        # CTC aligns a whole label sequence with a whole sequence of frames: a chunk has no targets of its own
        return _error("truncated BPTT trains on chunks of the sequences, and `loss = ctc` has no targets per "
                      "step to cut into chunks", bptt.span, label="truncated BPTT",
                      notes=["use `bptt = full` with `loss = ctc`"])
    if values["strategy"].name != "default":
        # the carried states are variables of the batch's size, which replicas cannot share
        return _error(f"truncated BPTT carries the states of a batch on one device: it runs with "
                      f"`strategy = default`, not `{values['strategy'].name}`", bptt.span, label="truncated BPTT")
    if values["fresh"]:
        return _error("`fresh` and `bptt = truncated(...)` do not go together yet", _setting(block, "fresh").span,
                      label="fresh = true", notes=["truncated BPTT carries states across the chunks of one split"])
    if values["bucket"]:
        return _error("`bucket` and `bptt = truncated(...)` do not go together: the chunks of a batch carry its "
                      "states from one to the next, so its sequences stay in one batch", _setting(block, "bucket").span,
                      label="bucket")
    return None


def _fresh(values: dict, block: A.Train):
    if values["fresh"] and values["data"].name not in GENERATED:
        return _error(f"`fresh` draws new examples every epoch from a generator; `{values['data'].name}` is not one",
                      _setting(block, "fresh").span, label="fresh = true",
                      notes=[f"the generators: {', '.join(sorted(GENERATED))}"])
    return None


def _curriculum(values: dict, block: A.Train):
    chosen, source = values["curriculum"], values["data"]
    if chosen.name == "none":
        return None
    if not values["fresh"]:
        return _error("a curriculum changes the training split from epoch to epoch: it needs `fresh = true`",
                      chosen.span, label="curriculum")
    grown = CURRICULUM.get(source.name)
    if grown is None:
        return _error(f"a curriculum grows the lengths a generator draws; `{source.name}` has none to grow",
                      chosen.span, label="curriculum",
                      notes=[f"the sources with a length: {', '.join(f'{k} ({v})' for k, v in CURRICULUM.items())}"])
    start, epochs, full = chosen.args["start"], chosen.args["epochs"], source.args[grown]
    lowest = _lowest(source.name, source.args, grown)
    if not lowest <= start <= full:
        return _error(f"the curriculum starts at `{grown}` = {start}: it must be from {lowest} to {full}, the "
                      f"source's own `{grown}`", chosen.span, label="start out of range")
    if epochs < 1:
        return _error(f"the curriculum grows over `epochs` = {epochs}: at least 1", chosen.span,
                      label="epochs below 1")
    return None


def _lowest(source: str, args: dict, grown: str) -> int:
    """The smallest value the grown argument may take: its own minimum, and the range's low end (`min_length`
    for `max_length`)."""
    low = int(SIGNATURES[source].param(grown).minimum or 1)
    if grown.startswith("max_"):
        low = max(low, args.get("min_" + grown[4:], low))
    return low
