"""folder: a run's folder on disk: its record, its history, its checkpoints.

Every write either happens whole or not at all (a temporary file or folder renamed into
place), and one that fails (a full disk, a read-only file system) is a one-line UsageError
(`writing`). A checkpoint is `checkpoints/epoch-NNNN/`, the model with its optimizer state;
the last KEEP_CHECKPOINTS complete ones are kept. `read_record` reads run.json back, and
`resume_point` checks that a run to resume is of the same network and plan.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shutil
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ..lang import training
from ..lang.errors import UsageError

__all__ = ["CHECKPOINTS", "KEEP_CHECKPOINTS", "History", "writing", "make_folder", "checkpoint_folder",
           "save_checkpoint", "checkpoint_folders", "complete_checkpoints", "load_saved_model", "resume_point",
           "read_record", "with_changes", "write_json", "write_text", "plain"]


@contextlib.contextmanager
def writing(path: Path, kept: str = ""):
    """A write of `path` that fails (a full disk, a read-only file system, no permission) as one line:
    `cannot write PATH: REASON`, then `kept`, what stays of the run."""
    try:
        yield
    except OSError as e:
        reason = e.strerror or (os.strerror(e.errno) if e.errno else " ".join(str(e).split()))
        raise UsageError(f"cannot write {path}: {reason}{kept}") from None


def make_folder(path: Path) -> None:
    """A folder of the run (its own, tensorboard/), made where it is not; a UsageError where it cannot be."""
    if path.exists() and not path.is_dir():
        raise UsageError(f"cannot write {path}: it is a file, not a folder (give another --out)")
    with writing(path):
        path.mkdir(parents=True, exist_ok=True)


class History:
    """history.csv: one row per epoch, rewritten whole each epoch (a resumed run keeps its first rows). Each row
    has the epoch's loss and metrics, and `seconds`: the training time of the run until the epoch's end, over
    every session of a resumed run (`started`, the time of the sessions before this one, is the last kept
    row's)."""

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
        self.started = float(self.rows[-1].get("seconds", 0.0)) if self.rows else 0.0

    @property
    def epochs(self) -> int:
        """The number of the last epoch it has a row of (0 before the first)."""
        return int(self.rows[-1]["epoch"]) if self.rows else 0

    @property
    def last(self) -> dict:
        """The last epoch's loss and metrics."""
        return {k: float(v) for k, v in self.rows[-1].items() if k not in ("epoch", "seconds")} if self.rows else {}

    def add(self, epoch: int, logs: dict, seconds: float) -> None:
        """The row of `epoch`, `seconds` (this session's time until its end) after the sessions before."""
        self.rows.append({"epoch": epoch, **{k: f"{float(v):.6g}" for k, v in logs.items()},
                          "seconds": f"{self.started + seconds:.1f}"})
        fields = ["epoch"] + sorted({k for r in self.rows for k in r} - {"epoch"})
        text = io.StringIO(newline="")
        writer = csv.DictWriter(text, fields)
        writer.writeheader()
        writer.writerows(self.rows)
        write_text(self.path, text.getvalue())


def _history_row(row: dict) -> dict:
    """A row of history.csv read back: the epoch an int, every figure a number (a ValueError if not)."""
    return {"epoch": int(row["epoch"]), **{k: f"{float(v):.6g}" for k, v in row.items() if k != "epoch"}}


CHECKPOINTS = "checkpoints"


KEEP_CHECKPOINTS = 2


def checkpoint_folder(out: Path, epoch: int) -> Path:
    return out / CHECKPOINTS / f"epoch-{epoch:04d}"


def save_checkpoint(model, out: Path, epoch: int) -> None:
    """The model with its optimizer state after `epoch`, in a folder that appears whole or not at all. A
    failed write (a full disk) removes the partial folder and says which checkpoint stays."""
    final = checkpoint_folder(out, epoch)
    tmp = final.with_name(final.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    kept = [e for e in complete_checkpoints(out) if e < epoch]
    try:
        with writing(final, f" (the checkpoint of epoch {kept[-1]} is kept)" if kept else ""):
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
    for old in complete_checkpoints(out)[:-KEEP_CHECKPOINTS]:
        shutil.rmtree(checkpoint_folder(out, old), ignore_errors=True)


def checkpoint_folders(out: Path, complete: bool) -> list:
    """The folders in checkpoints/: the complete ones (`epoch-NNNN`), or the partial ones (`*.partial`)."""
    folder = out / CHECKPOINTS
    try:
        found = list(folder.iterdir()) if folder.is_dir() else []
    except OSError as e:
        raise UsageError(f"cannot read {folder}: {e.strerror}") from None
    if not complete:
        return [p for p in found if p.name.endswith(".partial")]
    return [p for p in found if p.is_dir() and p.name.startswith("epoch-") and p.name.split("-")[1].isdigit()]


def complete_checkpoints(out: Path) -> list:
    return sorted(int(p.name.split("-")[1]) for p in checkpoint_folders(out, complete=True))


def load_saved_model(path: Path, what: str, hint: str = ""):
    """The saved model at `path` (a checkpoint's with its optimizer state); a UsageError, `what PATH cannot
    be read (WHY)HINT`, where it is damaged."""
    from ..keras.saved import UnloadableModel, load_model

    try:
        return load_model(path)
    except UnloadableModel as e:
        raise UsageError(f"{what} {path} cannot be read ({e.reason}){hint}") from None


def resume_point(out: Path, network: str, values: dict, plan) -> int:
    """The last complete epoch of the run in `out`, checked to be a run of the same network and plan."""
    done = complete_checkpoints(out)
    if not done:
        raise UsageError(f"nothing to resume in {out}: it has no complete checkpoint; without --resume, a run "
                         "starts over there")
    previous = read_record(out, f"cannot resume from {out}: ")
    same = {"network": network, "values": values, "plan": plain(asdict(with_changes(plan, epochs=0)))}
    was = {"network": previous.get("network"), "values": previous.get("values"),
           "plan": {**previous["plan"], "epochs": 0}}
    if plain(same) != plain(was):
        raise UsageError(f"cannot resume from {out}: it is a run of another network, hyperparameters or train block")
    return min(done[-1], plan.epochs)


def read_record(out: Path, context: str) -> dict:
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
    defaults = plain(asdict(training.TrainPlan("", training.Choice(""), training.Choice(""))))
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


def with_changes(plan, **changes):
    from dataclasses import replace

    return replace(plan, **changes)


def write_json(path: Path, value) -> None:
    write_text(path, json.dumps(value, indent=2) + "\n")


def write_text(path: Path, text: str) -> None:
    """Write `text` over `path` whole or not at all (a full disk leaves the old file); a failed write one line."""
    tmp = path.with_name(path.name + ".tmp")
    with writing(path):
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


def plain(value):
    """JSON-ready: dataclasses' dicts, spans dropped, NumPy numbers as Python's."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items() if k != "span"}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return value
