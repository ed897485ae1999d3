"""saved_run: a trained run read back from its folder: evaluated on its data, asked for predictions.

`open_run(out)` reads the folder that rnndsl.train.run wrote (its record and trained model);
`evaluate` gives the loss and metrics on a split of the run's own data; `read_arrays` reads a
.npz file of inputs as data is read (rnndsl.train.files); `predict` gives the model's outputs,
and for a CTC model the greedy decoding; `predictions` is what `rnndsl predict` saves: an
encoder-decoder decoding freely, a CTC model's labels by beam search (rnndsl.train.decode).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..lang.errors import DataError, UsageError
from .checks import hold_out
from .decode import ctc_beam_labels, decode_freely, padded_labels
from .files import FileError, WrongFormat, open_arrays
from .folder import load_saved_model, plain, read_record
from .model_checks import check_model_fits, check_token_ids, check_trees
from .sources import load
from .stream import keras_arrays

__all__ = ["SavedRun", "open_run", "evaluate", "read_arrays", "predict", "predictions"]


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
    record = read_record(out, f"cannot read the run in {out}: ")
    if not (out / "model.keras").exists():
        raise UsageError(f"{out} holds no trained model: the run did not finish (continue it with --resume)")
    return SavedRun(out, record, load_saved_model(out / "model.keras", f"cannot read the run in {out}: its model"))


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
    check_model_fits(saved.model, chosen, split, plan["loss"]["name"])
    x, y, w = keras_arrays(chosen)
    return plain(saved.model.evaluate(x, y, sample_weight=w, batch_size=plan["batch"], verbose=0,
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
    check_trees(saved.model, inputs, "the inputs")
    outputs = np.asarray(saved.model.predict(inputs[0] if len(inputs) == 1 else inputs, verbose=0))
    result = {"outputs": outputs}
    if saved.plan["loss"]["name"] == "ctc":
        from ..keras.ctc import greedy_decode

        result["labels"] = padded_labels(greedy_decode(outputs))
    return result


def predictions(saved: SavedRun, arrays: dict, *, beam: int = 1) -> tuple:
    """(what `rnndsl predict` saves, {name: array}; the `Decoded` of an encoder-decoder, else None).

    An encoder-decoder decodes the sources freely, greedily or keeping `beam` hypotheses
    (rnndsl.train.decode.decode_freely); any other model gives `predict`'s outputs, and a CTC
    model's labels come by prefix beam search where `beam` > 1. A UsageError for `beam` < 1, or
    > 1 for a model that decodes nothing."""
    from ..keras.seq2seq import decoder_of

    if beam < 1:
        raise UsageError(f"--beam keeps at least 1 hypothesis, not {beam}")
    if decoder_of(saved.model) is not None:
        decoded, result = decode_freely(saved, arrays, beam=beam)
        return result, decoded
    result = predict(saved, arrays)
    if beam > 1:
        if "labels" not in result:
            raise UsageError(f"--beam decodes CTC and encoder-decoder models; the model of {saved.out} is neither")
        result["labels"] = ctc_beam_labels(result["outputs"], beam)
    return result, None
