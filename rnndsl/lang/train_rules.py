"""train_rules: which settings of a `train` block go together (E0807), each of them checked alone.

`conflict(values, block)` gives the first TrainError of a block whose settings are each right on their
own (rnndsl.lang.training evaluates them) but not side by side: a metric that needs another loss,
truncated BPTT with CTC or a strategy, `fresh` without a generator, a curriculum without `fresh` or
with a length that is no length of the source, bucketing with truncated BPTT, online learning (RTRL, UORO,
SnAp-1) with truncation, CTC or a strategy. `rtrl_network` gives the one of a network that an online
`method` cannot train (its layers' applications, from rnndsl.lang.resolve_network). No TensorFlow here.
"""

from __future__ import annotations

from typing import Optional

from . import ast as A
from .errors import RnnDslError
from .builtins import SEARCHES
from .sources import CURRICULUM, GENERATED, SIGNATURES

__all__ = ["TrainError", "conflict", "rtrl_network", "ONLINE", "RTRL_LAYERS"]


class TrainError(RnnDslError):
    """A problem in a `train` block (E08xx)."""

    code = "E0801"


def conflict(values: dict, block: A.Train) -> Optional[RnnDslError]:
    """The first pair of settings of `block` that do not go together; `values` {setting: its value}."""
    for rule in (_metrics, _search, _method, _truncation, _fresh, _curriculum):
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


def _search(values: dict, block: A.Train):
    """A global search of the weights (`optimizer = cma_es(...)`) scores every weight set on the whole training
    split, without gradients: the settings about gradients, rates and batches of changing data go without it."""
    optimizer = values["optimizer"]
    if optimizer.name not in SEARCHES:
        return None
    against = [("method", values["method"].name != "bptt", values["method"]),
               ("bptt", values["bptt"].name != "full", values["bptt"]),
               ("schedule", values["schedule"].name != "constant", values["schedule"]),
               ("stop", values["stop"].name != "none", values["stop"]),
               ("strategy", values["strategy"].name != "default", values["strategy"]),
               ("loss", values["loss"].name == "ctc", values["loss"]),
               ("fresh", values["fresh"], None), ("bucket", values["bucket"], None),
               ("curriculum", values["curriculum"].name != "none", values["curriculum"])]
    for setting, clashes, chosen in against:
        if clashes:
            written = f"{setting} = {chosen.name}" if chosen is not None else setting
            span = chosen.span if chosen is not None else _setting(block, setting).span
            return _error(f"`optimizer = {optimizer.name}` searches the weights without gradients, scoring every "
                          f"weight set on the whole training split: it does not go with `{written}`", span,
                          notes=["a search has its own stopping point, its `budget` of weight sets; train by "
                                 "gradients for the rest"])
    return None


def _method(values: dict, block: A.Train):
    method = values["method"]
    if method.name not in ONLINE:
        return None
    name, label = method.name, ONLINE[method.name]
    if values["bptt"].name == "truncated":
        return _error(f"`method = {name}` carries its sensitivities through whole sequences and keeps no history "
                      "to truncate: it does not go with `bptt = truncated(...)`", values["bptt"].span,
                      label="truncated BPTT",
                      notes=[f"`method = {name}(every=k)` updates the weights every k steps instead"])
    if values["loss"].name == "ctc":
        return _error(f"`method = {name}` adds up a loss at every step, and `loss = ctc` has no targets per step",
                      method.span, label=label, notes=["use `method = bptt` with `loss = ctc`"])
    if values["strategy"].name != "default":
        return _error(f"`method = {name}` carries the sensitivities of a batch on one device: it runs with "
                      f"`strategy = default`, not `{values['strategy'].name}`", method.span, label=label)
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


# ================================================================ the networks RTRL trains

# The online methods (builtins.METHODS but bptt), each with its name in messages: they train the same networks.
ONLINE = {"rtrl": "RTRL", "uoro": "UORO", "snap1": "SnAp-1"}
RTRL_LAYERS = ("Dense", "Activation")  # the layers after the cell: each acts on one step at a time
RTRL_NETWORKS = ("one recurrent cell over time steps that reads the network's input, a sequence of features, and "
                 "gives a value every step (`returns=sequences`), then only per-step layers ("
                 + ", ".join(RTRL_LAYERS) + "), one after another, to the one output")


def rtrl_network(block: A.Train, network: str, apps: list, inputs: dict, outputs: list,
                 cells: dict) -> Optional[RnnDslError]:
    """Why `method = rtrl` in `block` cannot train the network, or None (also where the block does not ask
    for RTRL). `apps`: its layer applications in order (bound.Application); `inputs` {name: NetInputInfo};
    `outputs` [(value id, span)]; `cells` {name: BoundCell}."""
    setting = next((s for s in block.settings if s.name.id == "method"), None)
    value = setting.values[0] if setting is not None and setting.values else None
    word = value.func if isinstance(value, A.Call) else value
    if not (isinstance(word, A.Name) and word.id in ONLINE):
        return None
    found = _rtrl_problem(network, apps, inputs, outputs, cells, value.span)
    if found is None:
        return None
    reason, span, label = found
    title = ONLINE[word.id]
    return _error(f"`method = {word.id}` cannot train `{network}`: {reason.replace('RTRL', title)}", span,
                  label=title if label == "RTRL" else label,
                  notes=[f"{title} trains {RTRL_NETWORKS}", "train this network with `method = bptt`"])


def _rtrl_problem(network: str, apps: list, inputs: dict, outputs: list, cells: dict, span) -> Optional[tuple]:
    """(reason, span, label) of the first thing in the network that RTRL does not train; None if none."""
    by_id = {a.id: a for a in apps}

    def source(value: str) -> str:
        return f"`{value}`" if value in inputs else f"the output of `{by_id[value].layer}`" if value in by_id else \
            f"`{value.split('.')[-1]}`"

    recurrent = [a for a in apps if a.kind != "keras"]
    if not recurrent:
        return f"`{network}` has no recurrent cell", span, "RTRL"
    if len(recurrent) > 1:
        names = ", ".join(f"`{a.layer}`" for a in recurrent)
        return f"it applies {len(recurrent)} recurrent layers ({names})", recurrent[1].span, "a second one"
    cell = recurrent[0]
    if cell.kind != "cell":
        return f"`{cell.kind}` is not one cell applied on its own", cell.span, cell.kind
    over = cells[cell.layer].over if cell.layer in cells else "time"
    if over != "time":
        return f"the cell `{cell.layer}` runs over {over}s, not time steps", cell.span, f"over {over}"
    if len(inputs) != 1:
        return f"it has {len(inputs)} inputs", span, "RTRL"
    (name, info), = inputs.items()
    if info.kind != "seq" or info.dtype != "float":
        what = f"a {info.kind}" if info.kind != "seq" else "a sequence of integer tokens"
        return f"its input `{name}` is {what}, not a sequence of features", info.span, "not seq[...] of features"
    if cell.inputs != [name]:
        read = " and ".join(source(v) for v in cell.inputs)
        return f"the cell `{cell.layer}` reads {read}, not the network's input `{name}`", cell.span, "RTRL"
    if cell.cell.returns != "sequences":
        return (f"the cell `{cell.layer}` gives `returns={cell.cell.returns}`, not a value every step: RTRL's "
                "loss is a loss per step", cell.cell.span, f"returns={cell.cell.returns}")
    if cell.initial:
        return f"the cell `{cell.layer}` starts from initial states that the network gives", cell.span, "RTRL"
    last = cell
    for app in apps:
        if app is cell:
            continue
        if app.layer not in RTRL_LAYERS:
            return f"`{app.layer}` is not a per-step layer", app.span, "not per step"
        if app.inputs != [last.id]:
            read = " and ".join(source(v) for v in app.inputs)
            return f"`{app.layer}` reads {read}, not the output of `{last.layer}` before it", app.span, "RTRL"
        last = app
    if len(outputs) != 1:
        return f"it has {len(outputs)} outputs", span, "RTRL"
    if outputs[0][0] != last.id:
        return (f"its output is {source(outputs[0][0])}, not that of its last layer, `{last.layer}`", outputs[0][1],
                "RTRL")
    return None
