"""`rnndsl train`: a run's folder, bad data before training, checkpoints that survive SIGKILL, --resume."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from rnndsl.train import sources as datasets  # noqa: E402
from rnndsl.lang import errors as rnndsl_errors  # noqa: E402
from rnndsl.cli import main  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RNNDSL = [sys.executable, "-m", "rnndsl.cli"]


def spec(tmp_path, train: str, name: str = "run.rnn") -> Path:
    """A small adding-problem network with the given train block body."""
    body = "\n".join(" " * 8 + line for line in train.strip().split("\n"))
    path = tmp_path / name
    path.write_text('import "std/elman.rnn"\n\nnetwork Add(units: int = 8) {\n    input x: seq[2]\n'
                    "    h = Elman(units, returns=last)(x)\n    output Dense(1)(h)\n\n"
                    f"    train {{\n{body}\n    }}\n}}\n", encoding="utf-8")
    return path


SMALL = """
data = adding(steps=10, train=256, test=64)
loss = mse
metrics = mae
optimizer = adam(learning_rate=1e-2, clipnorm=1)
batch = 32
epochs = 2
validation = 0.25
seed = 3
"""


def test_a_run_writes_its_folder(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", str(spec(tmp_path, SMALL)), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "test: loss " in printed and "validation: loss " in printed
    assert "trained Add for 2 epochs in " in printed
    for name in ("run.json", "history.csv", "model.keras", "metrics.json", "tensorboard"):
        assert (out / name).exists(), name
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["epoch-0001", "epoch-0002"]
    with (out / "history.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert {"loss", "mae", "val_loss", "val_mae"} <= set(rows[0])
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs"] == 2 and metrics["seed"] == 3
    assert metrics["data"].startswith("adding problem")
    assert set(metrics["test"]) == {"loss", "mae"} and set(metrics["validation"]) == {"loss", "mae"}
    run = json.loads((out / "run.json").read_text())
    assert run["network"] == "Add" and run["plan"]["optimizer"]["args"] == {"learning_rate": 0.01, "clipnorm": 1.0}
    # the trained model reloads, and gives the test metrics it was saved with; its cell took the fused path,
    # and Keras's own loss and metric: it is plain Keras (tests/test_fused.py loads one without rnndsl)
    with zipfile.ZipFile(out / "model.keras") as archive:
        assert "rnndsl" not in archive.read("config.json").decode()
    import keras

    model = keras.saving.load_model(out / "model.keras")
    data = datasets.load("adding", {"steps": 10, "train": 256, "test": 64}, base=tmp_path, seed=3)
    mse = float(np.mean((np.asarray(model(data.test.inputs[0])) - data.test.targets) ** 2))
    assert mse == pytest.approx(metrics["test"]["loss"], rel=1e-4)
    # a second run into the same folder is refused
    assert main(["train", str(spec(tmp_path, SMALL)), "--out", str(out)]) == 2
    assert capsys.readouterr().err == (f"error: {out} holds a run already: give --resume to continue it, "
                                       "or another --out\n")


def test_set_and_epochs_reach_the_run(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", str(spec(tmp_path, SMALL)), "--set", "units=3", "--epochs", "1", "--out", str(out)]) == 0
    run = json.loads((out / "run.json").read_text())
    assert run["values"] == {"units": 3} and run["plan"]["epochs"] == 1
    shapes = sorted(tuple(w.shape) for w in _weights_of(out / "model.keras"))
    assert (3, 3) in shapes and (1, 3) not in shapes and (3, 1) in shapes  # U of 3 units, Dense(1) reads 3
    assert [p.name for p in (out / "checkpoints").iterdir()] == ["epoch-0001"]


def test_bad_data_is_a_diagnostic_before_training(tmp_path, capsys):
    np.savez(tmp_path / "d.npz", x=np.zeros((10, 5, 3), "float32"), y=np.zeros((10, 1), "float32"))
    path = spec(tmp_path, 'data = npz("d.npz")\nloss = mse')
    out = tmp_path / "run"
    assert main(["train", str(path), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error[E0701]: the training data: input `x` has shape (10, 5, 3), "
                          "the model's is (None, None, 2): 3 features, not 2"), err
    assert not (out / "checkpoints").exists()
    np.savez(tmp_path / "d.npz", x=np.full((10, 5, 2), np.nan, "float32"), y=np.zeros((10, 1), "float32"))
    assert main(["train", str(path), "--out", str(out)]) == 1
    assert "NaN" in capsys.readouterr().err
    (tmp_path / "d.npz").unlink()
    assert main(["train", str(path), "--out", str(out)]) == 1
    assert "d.npz" in capsys.readouterr().err


def test_usage_errors(tmp_path, capsys):
    plain = tmp_path / "plain.rnn"
    plain.write_text("network P {\n    input x: seq[2]\n    output x\n}\n", encoding="utf-8")
    assert main(["train", str(plain), "--out", str(tmp_path / "r")]) == 2
    assert capsys.readouterr().err == ("error: network `P` has no `train` block: add "
                                       "`train { data = ...  loss = ... }`\n")
    assert main(["train", str(spec(tmp_path, SMALL)), "--epochs", "0"]) == 2
    assert capsys.readouterr().err == "error: --epochs takes a number of epochs of at least 1\n"
    assert main(["train", str(spec(tmp_path, SMALL)), "--resume", "--out", str(tmp_path / "none")]) == 2
    assert capsys.readouterr().err == (f"error: nothing to resume in {tmp_path / 'none'}: it has no complete "
                                       "checkpoint; without --resume, a run starts over there\n")
    assert main(["train", str(spec(tmp_path, SMALL)), "--network", "Ad"]) == 2
    assert "has no network named `Ad`; did you mean `Add`?" in capsys.readouterr().err


def _weights(path: Path) -> list:
    import keras

    return [np.asarray(w) for w in keras.saving.load_model(path).weights]


_weights_of = _weights


# Long enough an epoch (about a second on 2 cores) to be killed in the middle of one.
KILLED = """
data = adding(steps=40, train=6000, test=64)
loss = mse
optimizer = adam(learning_rate=3e-3)
schedule = cosine(alpha=0.1)
batch = 16
epochs = 4
seed = 5
"""


def test_a_killed_run_resumes_to_the_same_weights(tmp_path):
    """SIGKILL in the middle of an epoch; --resume continues from the last complete checkpoint and ends
    with the weights of an uninterrupted run of the same seed."""
    path = spec(tmp_path, KILLED)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONDONTWRITEBYTECODE": "1"}
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    subprocess.run(RNNDSL + ["train", str(path), "--out", str(whole)], check=True, env=env, capture_output=True)

    proc = subprocess.Popen(RNNDSL + ["train", str(path), "--out", str(killed)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    first = killed / "checkpoints" / "epoch-0001"
    deadline = time.monotonic() + 300
    while not first.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert first.exists(), proc.communicate()[0].decode()[-2000:]
    time.sleep(0.5)  # into the second epoch
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = sorted(p.name for p in (killed / "checkpoints").iterdir())
    assert done and done[-1] < "epoch-0004" and not (killed / "model.keras").exists(), done

    resumed = subprocess.run(RNNDSL + ["train", str(path), "--out", str(killed), "--resume"], env=env,
                             capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    for a, b in zip(_weights(whole / "model.keras"), _weights(killed / "model.keras")):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    with (killed / "history.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == ["1", "2", "3", "4"]
    # each row's time counts the sessions before: it grows across the kill, and metrics.json's is the last row's
    seconds = [float(r["seconds"]) for r in rows]
    assert seconds[0] > 0 and all(a < b for a, b in zip(seconds, seconds[1:])), seconds
    assert json.loads((killed / "metrics.json").read_text())["seconds"] >= seconds[-1]


def test_resume_refuses_another_run(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", str(spec(tmp_path, SMALL)), "--epochs", "1", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["train", str(spec(tmp_path, SMALL)), "--set", "units=4", "--resume", "--out", str(out)]) == 2
    assert capsys.readouterr().err == (f"error: cannot resume from {out}: it is a run of another network, "
                                       "hyperparameters or train block\n")
    # the same run, given more epochs, goes on from its checkpoint; a record without the settings that an
    # earlier rnndsl did not write (strategy, bptt) is a run with their defaults
    record = json.loads((out / "run.json").read_text())
    del record["plan"]["strategy"], record["plan"]["bptt"]
    (out / "run.json").write_text(json.dumps(record))
    assert main(["train", str(spec(tmp_path, SMALL)), "--epochs", "2", "--resume", "--out", str(out)]) == 0
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["epoch-0001", "epoch-0002"]


def test_evaluate_and_predict_a_saved_run(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", str(spec(tmp_path, SMALL)), "--epochs", "1", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    capsys.readouterr()
    assert main(["evaluate", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("test: loss ") and f"loss {metrics['test']['loss']:.4g}" in printed
    assert main(["evaluate", str(out), "--split", "validation"]) == 0
    assert capsys.readouterr().out.startswith(f"validation: loss {metrics['validation']['loss']:.4g}")

    x = np.random.default_rng(0).uniform(size=(5, 10, 2)).astype("float32")
    np.savez(tmp_path / "in.npz", x=x)
    assert main(["predict", str(out), "--data", str(tmp_path / "in.npz"), "-o", str(tmp_path / "p.npz")]) == 0
    assert capsys.readouterr().out == f"wrote {tmp_path / 'p.npz'}: outputs (5, 1)\n"
    import keras

    expected = np.asarray(keras.saving.load_model(out / "model.keras")(x))
    np.testing.assert_allclose(np.load(tmp_path / "p.npz")["outputs"], expected, rtol=1e-5, atol=1e-6)

    np.savez(tmp_path / "bad.npz", x=x[:, :, :1])
    assert main(["predict", str(out), "--data", str(tmp_path / "bad.npz"), "-o", str(tmp_path / "p.npz")]) == 1
    assert capsys.readouterr().err == "error[E0701]: input `x` has shape (5, 10, 1), the model's is (None, None, 2)\n"
    assert main(["evaluate", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (f"error: {tmp_path} holds no run: it has no run.json "
                                       "(train one with `rnndsl train`)\n")
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    (unfinished / "run.json").write_text((out / "run.json").read_text())
    assert main(["evaluate", str(unfinished)]) == 2
    assert capsys.readouterr().err == (f"error: {unfinished} holds no trained model: the run did not finish "
                                       "(continue it with --resume)\n")
    from rnndsl.train.saved_run import SavedRun, evaluate, open_run

    saved = open_run(out)
    no_validation = SavedRun(out, {**saved.record, "plan": {**saved.plan, "validation": 0.0}}, saved.model)
    with pytest.raises(rnndsl_errors.UsageError) as e:
        evaluate(no_validation, "validation")
    assert e.value.message == "the run's data has no validation split"
    assert main(["predict", str(out), "--data", str(tmp_path / "in.npz"), "-o", str(tmp_path / "p.txt")]) == 2
    assert capsys.readouterr().err.endswith("does not end in .npz\n")

    # the Python API reads the same run: Program.evaluate and Program.predict
    import rnndsl

    program = rnndsl.load(spec(tmp_path, SMALL))
    assert program.evaluate(out=out) == pytest.approx(metrics["test"], rel=1e-5)
    assert program.evaluate("Add", out=out, split="validation") == pytest.approx(metrics["validation"], rel=1e-5)
    np.testing.assert_allclose(program.predict({"x": x}, out=out)["outputs"], expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(rnndsl.UsageError, match=r"--beam decodes CTC and encoder-decoder models; the model of .* "
                                                r"is neither"):
        program.predict({"x": x}, out=out, beam=2)
    record = json.loads((out / "run.json").read_text())
    (out / "run.json").write_text(json.dumps({**record, "network": "Elsewhere"}))
    with pytest.raises(rnndsl.UsageError) as e:
        program.evaluate(out=out)
    assert e.value.message == f"the run in {out} trained network `Elsewhere`, not `Add`"


def test_a_ctc_run_predicts_label_sequences(tmp_path, capsys):
    path = tmp_path / "ctc.rnn"
    path.write_text('import "std/lstm.rnn"\n\nnetwork C {\n    input frames: seq[4]\n'
                    "    h = Masking()(frames) >> Bidirectional(LSTM(8))\n"
                    "    output Dense(4, activation=softmax)(h)\n\n    train {\n"
                    "        data = speech(phonemes=3, features=4, train=64, test=16)\n"
                    "        loss = ctc\n        metrics = label_error_rate\n        epochs = 1\n    }\n}\n",
                    encoding="utf-8")
    out = tmp_path / "run"
    assert main(["train", str(path), "--out", str(out)]) == 0
    assert "test: label_error_rate " in capsys.readouterr().out
    frames = datasets.load("speech", {"phonemes": 3, "features": 4, "train": 64, "test": 16}, base=tmp_path,
                           seed=0).test.inputs[0]
    np.savez(tmp_path / "in.npz", frames=frames)
    assert main(["predict", str(out), "--data", str(tmp_path / "in.npz"), "-o", str(tmp_path / "p.npz")]) == 0
    result = np.load(tmp_path / "p.npz")
    assert result["outputs"].shape == frames.shape[:2] + (4,)
    from rnndsl.keras.ctc import greedy_decode

    decoded = greedy_decode(result["outputs"])
    assert [list(row[row >= 0]) for row in result["labels"]] == decoded


def test_resume_with_a_damaged_run_json(tmp_path, capsys):
    out = tmp_path / "run"
    path = spec(tmp_path, SMALL)
    assert main(["train", str(path), "--epochs", "1", "--out", str(out)]) == 0
    record = out / "run.json"
    good = json.loads(record.read_text())
    damaged = [
        ("{not json", "its run.json is not valid JSON (Expecting property name enclosed in double quotes: "
                      "line 1 column 2 (char 1))"),
        (b"\xff\xfe", "its run.json is not valid JSON ('utf-8' codec can't decode byte 0xff in position 0: "
                      "invalid start byte)"),
        ("[1, 2]", "its run.json is not the record of a run"),
        ('{"network": "Add", "plan": "adam"}', "its run.json is not the record of a run"),
        (None, "cannot read its run.json (No such file or directory)"),
    ]
    for content, message in damaged:
        if content is None:
            record.unlink()
        elif isinstance(content, bytes):
            record.write_bytes(content)
        else:
            record.write_text(content)
        capsys.readouterr()
        assert main(["train", str(path), "--epochs", "2", "--resume", "--out", str(out)]) == 2
        assert capsys.readouterr().err == f"error: cannot resume from {out}: {message}\n"
    assert [p.name for p in (out / "checkpoints").iterdir()] == ["epoch-0001"]  # nothing trained

    # a damaged history.csv, or a damaged checkpoint
    record.write_text(json.dumps(good))
    history = (out / "history.csv").read_text()
    (out / "history.csv").write_text("epoch,loss\n1,\n")
    assert main(["train", str(path), "--epochs", "2", "--resume", "--out", str(out)]) == 2
    assert capsys.readouterr().err == (f"error: cannot resume from {out}: its history.csv is damaged (delete it to "
                                       "resume without the history of the epochs before)\n")
    (out / "history.csv").write_text(history)
    checkpoint = out / "checkpoints" / "epoch-0001" / "model.keras"
    checkpoint.write_bytes(b"PK\x03\x04 damaged")
    assert main(["train", str(path), "--epochs", "2", "--resume", "--out", str(out)]) == 2
    assert capsys.readouterr().err.startswith(f"error: cannot resume from {out}: its checkpoint {checkpoint} cannot "
                                              "be read (")
    # evaluate reads the record as --resume does
    record.write_text('{"network": "Add", "plan": {"data": {"name": "adding"}, "loss": {"name": "mse"}}}')
    assert main(["evaluate", str(out)]) == 2
    assert capsys.readouterr().err == (f"error: cannot read the run in {out}: its run.json is not the record of a "
                                       "run\n")
    record.write_text(json.dumps(good))
    (out / "model.keras").write_bytes(b"not a model")
    assert main(["evaluate", str(out)]) == 2
    assert capsys.readouterr().err.startswith(f"error: cannot read the run in {out}: its model {out / 'model.keras'} "
                                              "cannot be read (")


TWO_INPUTS = """import "std/elman.rnn"

network Two(units: int = 4) {
    input a: seq[2]
    input b: seq[1]
    h = Concatenate()(a, b) >> Elman(units, returns=last)
    output Dense(1)(h)

    train {
        data = npz("two.npz", inputs="a,b", targets="y")
        loss = mse
        epochs = 1
    }
}
"""


def test_predict_needs_every_input_of_a_network_by_name(tmp_path, capsys):
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(40, 6, 2)).astype("float32"), rng.normal(size=(40, 6, 1)).astype("float32")
    np.savez(tmp_path / "two.npz", a=a, b=b, y=rng.normal(size=(40, 1)).astype("float32"))
    (tmp_path / "two.rnn").write_text(TWO_INPUTS, encoding="utf-8")
    out = tmp_path / "run"
    assert main(["train", str(tmp_path / "two.rnn"), "--out", str(out)]) == 0
    capsys.readouterr()
    np.savez(tmp_path / "in.npz", a=a[:5], c=b[:5])
    assert main(["predict", str(out), "--data", str(tmp_path / "in.npz"), "-o", str(tmp_path / "p.npz")]) == 1
    assert capsys.readouterr().err == "error[E0701]: give the model's input `b` (the arrays given: a, c)\n"
    np.savez(tmp_path / "in.npz", b=b[:5], a=a[:5])
    assert main(["predict", str(out), "--data", str(tmp_path / "in.npz"), "-o", str(tmp_path / "p.npz")]) == 0
    assert capsys.readouterr().out == f"wrote {tmp_path / 'p.npz'}: outputs (5, 1)\n"
    import keras

    expected = np.asarray(keras.saving.load_model(out / "model.keras")([a[:5], b[:5]]))
    np.testing.assert_allclose(np.load(tmp_path / "p.npz")["outputs"], expected, rtol=1e-5, atol=1e-6)
    missing = tmp_path / "missing.npz"
    assert main(["predict", str(out), "--data", str(missing), "-o", str(tmp_path / "p.npz")]) == 2
    assert capsys.readouterr().err == f"error: cannot read {missing}: no such file\n"


def test_unreadable_arrays(tmp_path):
    """train.read_arrays: every way a .npz can fail to read is one line."""
    from rnndsl.lang.errors import UsageError
    from rnndsl.train.saved_run import read_arrays

    np.savez(tmp_path / "good.npz", x=np.arange(6).reshape(2, 3))
    whole = (tmp_path / "good.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(whole[:len(whole) // 2])
    (tmp_path / "empty.npz").write_bytes(b"")
    (tmp_path / "text.npz").write_text("not arrays\n")
    np.save(tmp_path / "one.npy", np.zeros(3))
    np.savez(tmp_path / "objects.npz", x=np.array([{"a": 1}], dtype=object))
    (tmp_path / "folder.npz").mkdir()
    os.mkfifo(tmp_path / "fifo.npz")  # refused at once, not waited on
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False,
                                                  "shape": (2 ** 22, 2 ** 22, 2)})
    with zipfile.ZipFile(tmp_path / "huge.npz", "w") as archive:  # a header that claims 256 TiB
        archive.writestr("x.npy", header.getvalue())
    assert list(read_arrays(tmp_path / "good.npz")) == ["x"]
    not_npz = "it is not a .npz archive (numpy.savez writes one)"
    cases = [("cut.npz", "not a NumPy file: a damaged .npz archive"), ("empty.npz", not_npz), ("text.npz", not_npz),
             ("one.npy", not_npz),
             ("objects.npz", "array `x`: an array of Python objects: rnndsl reads arrays of numbers only"),
             ("folder.npz", "a folder, not a file"), ("none.npz", "no such file"),
             ("fifo.npz", "not a regular file (a pipe, a device or a socket): data is read from files only"),
             ("huge.npz", "array `x`: its header says shape (4194304, 4194304, 2) of float64, 256 TiB, but the "
                          "file holds 0 bytes after it: it is cut short or damaged")]
    for name, reason in cases:
        with pytest.raises(UsageError) as e:
            read_arrays(tmp_path / name)
        assert e.value.message == f"cannot read {tmp_path / name}: {reason}", name


# ---------------------------------------------------------------- folders stuck, unwritable, full


TINY = """
data = adding(steps=5, train=64, test=16)
loss = mse
batch = 32
epochs = 1
"""


def test_a_folder_without_a_complete_checkpoint_starts_over(tmp_path, capsys):
    """A run killed while writing its first checkpoint leaves only `epoch-0001.partial`: --resume says there is
    nothing to resume, a fresh run starts over there; a resumed run removes stale partial checkpoints too."""
    path, out = spec(tmp_path, TINY), tmp_path / "run"
    (out / "checkpoints" / "epoch-0001.partial").mkdir(parents=True)
    (out / "checkpoints" / "epoch-0001.partial" / "model.keras").write_bytes(b"PK\x03\x04 cut short")
    (out / "run.json").write_text("{}")
    assert main(["train", str(path), "--out", str(out), "--resume"]) == 2
    assert capsys.readouterr().err == (f"error: nothing to resume in {out}: it has no complete checkpoint; without "
                                       "--resume, a run starts over there\n")
    assert main(["train", str(path), "--out", str(out)]) == 0
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["epoch-0001"]
    assert json.loads((out / "run.json").read_text())["network"] == "Add"
    (out / "checkpoints" / "epoch-0002.partial").mkdir()
    assert main(["train", str(path), "--out", str(out), "--resume", "--epochs", "2"]) == 0
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["epoch-0001", "epoch-0002"]


def _refuse(monkeypatch, cls, method: str, error: int, name: str):
    """Make `cls.method(self, ...)` raise OSError(error) for the file or folder `name`: self's name (a Path's
    method), or its first argument's (Model.save's), as a full disk or a read-only file system would."""
    original = getattr(cls, method)

    def refused(self, *args, **kwargs):
        if name in (Path(str(self)).name, Path(str(args[0] if args else "")).parent.name):
            raise OSError(error, os.strerror(error))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(cls, method, refused)


def test_an_out_folder_that_cannot_be_written(tmp_path, capsys, monkeypatch):
    import errno

    path = spec(tmp_path, TINY)
    (tmp_path / "file").write_text("")
    assert main(["train", str(path), "--out", str(tmp_path / "file")]) == 2
    assert capsys.readouterr().err == (f"error: cannot write {tmp_path / 'file'}: it is a file, not a folder (give "
                                       "another --out)\n")
    assert main(["train", str(path), "--out", str(tmp_path / "file" / "run")]) == 2
    assert capsys.readouterr().err == f"error: cannot write {tmp_path / 'file' / 'run'}: Not a directory\n"
    # a read-only file system (monkeypatched: a test may run as root, whom chmod does not stop)
    with monkeypatch.context() as m:
        _refuse(m, Path, "mkdir", errno.EROFS, "run")
        assert main(["train", str(path), "--out", str(tmp_path / "run")]) == 2
        assert capsys.readouterr().err == f"error: cannot write {tmp_path / 'run'}: Read-only file system\n"
    (tmp_path / "run").mkdir()
    with monkeypatch.context() as m:
        _refuse(m, Path, "write_text", errno.EROFS, "run.json.tmp")
        assert main(["train", str(path), "--out", str(tmp_path / "run")]) == 2
        assert capsys.readouterr().err == (f"error: cannot write {tmp_path / 'run' / 'run.json'}: Read-only file "
                                           "system\n")
    assert not (tmp_path / "run" / "checkpoints").exists() and not list((tmp_path / "run").glob("*.tmp"))


def test_a_full_disk_during_training(tmp_path, capsys, monkeypatch):
    """ENOSPC while writing a checkpoint, history.csv or metrics.json: one line, exit 2, the last complete
    checkpoint kept and no partial one left."""
    import errno

    import keras

    path, out = spec(tmp_path, TINY), tmp_path / "run"
    with monkeypatch.context() as m:
        _refuse(m, keras.Model, "save", errno.ENOSPC, "epoch-0002.partial")
        assert main(["train", str(path), "--out", str(out), "--epochs", "2"]) == 2
    assert capsys.readouterr().err == (f"error: cannot write {out / 'checkpoints' / 'epoch-0002'}: No space left on "
                                       "device (the checkpoint of epoch 1 is kept)\n")
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["epoch-0001"]
    assert not (out / "model.keras").exists()

    for name, epochs in (("history.csv.tmp", "3"), ("metrics.json.tmp", "2")):
        with monkeypatch.context() as m:
            _refuse(m, Path, "write_text", errno.ENOSPC, name)
            assert main(["train", str(path), "--out", str(out), "--epochs", epochs, "--resume"]) == 2
        target = out / name.removesuffix(".tmp")
        assert capsys.readouterr().err == f"error: cannot write {target}: No space left on device\n"
        assert not (out / name).exists()
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["epoch-0001", "epoch-0002"]

    import tensorflow as tf  # TensorBoard's writes fail with TensorFlow's errors, not OSError

    def full(*args, **kwargs):
        raise tf.errors.ResourceExhaustedError(None, None, "{{function_node __wrapped__WriteSummary}} events.out; "
                                                           "No space left on device [Op:WriteSummary]")

    monkeypatch.setattr(tf.summary, "scalar", full)
    assert main(["train", str(path), "--out", str(out), "--epochs", "3", "--resume"]) == 2
    assert capsys.readouterr().err == (f"error: cannot write {out / 'tensorboard'}: events.out; No space left on "
                                       "device\n")


# ---------------------------------------------------------------- data that cannot train


SEQUENCES = """import "std/elman.rnn"

network Seq(units: int = 4) {
    input x: seq[2]
    h = Elman(units)(x)
    output Dense(1)(h)

    train {
        data = DATA
        loss = mse
        epochs = 1
    }
}
"""


def _train_on(tmp_path, data: str, text: str = SEQUENCES) -> int:
    path = tmp_path / "seq.rnn"
    path.write_text(text.replace("DATA", data), encoding="utf-8")
    return main(["train", str(path), "--out", str(tmp_path / "run")])


def test_data_of_no_steps_or_of_lengths_that_differ(tmp_path, capsys):
    x, y = np.zeros((10, 5, 2), "float32"), np.zeros((10, 5, 1), "float32")
    np.savez(tmp_path / "d.npz", x=x[:, :0], y=y)
    assert _train_on(tmp_path, 'npz("d.npz")') == 1
    assert capsys.readouterr().err == (f"error[E0701]: {tmp_path / 'd.npz'}: array `x` has shape (10, 0, 2): 0 steps; "
                                       "a sequence needs at least one step\n")
    np.savez(tmp_path / "d.npz", x=x, y=np.zeros((10, 7, 1), "float32"))
    assert _train_on(tmp_path, 'npz("d.npz")') == 1
    assert capsys.readouterr().err == ("error[E0701]: the training data: the targets have shape (10, 7, 1), the "
                                       "model's output (None, 5, 1): 7 steps, not 5\n")
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y[:8])
    assert _train_on(tmp_path, 'npy("x.npy", "y.npy")') == 1
    assert capsys.readouterr().err == (f"error[E0701]: npy: {tmp_path / 'x.npy'} has 10 examples, but "
                                       f"{tmp_path / 'y.npy'} has 8\n")
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False,
                                                  "shape": (2 ** 22, 2 ** 22, 2 ** 0, 2)})
    (tmp_path / "x.npy").write_bytes(header.getvalue() + bytes(64))
    assert _train_on(tmp_path, 'npy("x.npy", "y.npy")') == 1
    assert capsys.readouterr().err == (f"error[E0701]: {tmp_path / 'x.npy'}: its header says shape (4194304, 4194304, "
                                       "1, 2) of float32, 128 TiB, but the file holds 64 bytes after it: it is cut "
                                       "short or damaged\n")
    assert _train_on(tmp_path, 'npz("../d.npz")') == 1
    assert capsys.readouterr().err.startswith("error[E0806]: argument `path` of `npz` names a path that leaves the "
                                              "spec's folder (`..`), \"../d.npz\": a data path is relative")
    two = TWO_INPUTS.replace('npz("two.npz", inputs="a,b", targets="y")', "DATA")
    np.savez(tmp_path / "two.npz", a=x[:, :, :2], b=np.zeros((10, 6, 1), "float32"), y=y[:, 0])
    assert _train_on(tmp_path, 'npz("two.npz", inputs="a,b", targets="y")', two) == 1
    assert capsys.readouterr().err == ("error[E0701]: the training data: the model cannot take its inputs of 5 and 6 "
                                       "steps together: give every input the same number of steps\n")
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_a_loss_that_becomes_nan_stops_training(tmp_path, capsys):
    """Targets of 1e30 make the loss infinite at once: training stops there, writes no checkpoint of the
    diverged weights, keeps the last good one, says where and what to try."""
    rng = np.random.default_rng(0)
    x, y = rng.uniform(size=(64, 5, 2)).astype("float32"), rng.uniform(size=(64, 1)).astype("float32")
    huge = np.where(np.arange(64)[:, None] % 2 == 0, np.float32(1e30), y)
    np.savez(tmp_path / "d.npz", x=x, y=huge)
    path = spec(tmp_path, 'data = npz("d.npz")\nloss = mse\nbatch = 32\nepochs = 1')
    out = tmp_path / "run"
    hint = ("lower the learning rate, clip the gradients (`optimizer = adam(clipnorm=1)`), or look for huge values "
            "in the data")
    assert main(["train", str(path), "--out", str(out)]) == 1
    assert capsys.readouterr().err == (f"error[E0702]: the loss became inf at step 1 of epoch 1: training stopped, "
                                       f"and no checkpoint was written; {hint}\n")
    assert not (out / "checkpoints").exists() or not list((out / "checkpoints").iterdir())
    np.savez(tmp_path / "d.npz", x=x, y=y)  # a good first epoch, then the data goes bad
    assert main(["train", str(path), "--out", str(out)]) == 0
    np.savez(tmp_path / "d.npz", x=x, y=huge)
    capsys.readouterr()
    assert main(["train", str(path), "--out", str(out), "--resume", "--epochs", "2"]) == 1
    assert capsys.readouterr().err == (f"error[E0702]: the loss became inf at step 1 of epoch 2: training stopped, "
                                       f"and the checkpoint of epoch 1 is kept; {hint}\n")
    assert [p.name for p in (out / "checkpoints").iterdir()] == ["epoch-0001"]
    with (out / "history.csv").open() as f:
        assert [r["epoch"] for r in csv.DictReader(f)] == ["1"]


TOKENS = """import "std/elman.rnn"

network Tokens {
    input w: seq[int]
    output Embedding(5, 4)(w) >> Elman(3) >> Dense(2, activation=softmax)
    train {
        data = npz("data.npz")
        loss = cross_entropy
        epochs = 1
        batch = 4
    }
}
"""


def test_token_ids_past_the_vocabulary_are_a_data_error(tmp_path, capsys):
    """TensorFlow's gather stopped such a run mid-epoch with an internal error; the ids are checked first."""
    path = tmp_path / "tokens.rnn"
    path.write_text(TOKENS)
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, (8, 6))
    np.savez(tmp_path / "data.npz", x=np.full((8, 6), 9), y=labels)
    assert main(["train", str(path), "--out", str(tmp_path / "bad")]) == 1
    assert capsys.readouterr().err == ("error[E0701]: the training data: input `w` holds the token id 9, but "
                                       "`embedding_1` reads ids 0 to 4\n")
    np.savez(tmp_path / "data.npz", x=rng.integers(0, 5, (8, 6)), y=labels)
    assert main(["train", str(path), "--out", str(tmp_path / "run")]) == 0
    np.savez(tmp_path / "new.npz", w=np.full((2, 6), 7))
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "run"), "--data", str(tmp_path / "new.npz"),
                 "-o", str(tmp_path / "p.npz")]) == 1
    assert capsys.readouterr().err == ("error[E0701]: the inputs: input `w` holds the token id 7, but "
                                       "`embedding_1` reads ids 0 to 4\n")


def test_a_plateau_stops_the_run_and_lowers_the_rate(tmp_path, capsys):
    """`stop = plateau(...)`: no fall of the validation loss by 100 in 2 epochs ends the run after epoch 3, with
    epoch 1's weights; `schedule = plateau(...)` halves the rate after each epoch without such a fall."""
    out = tmp_path / "run"
    block = SMALL.replace("epochs = 2", "epochs = 30") + ("schedule = plateau(factor=0.5, patience=1, min_delta=100)\n"
                                                         "stop = plateau(patience=2, min_delta=100)\n")
    assert main(["train", str(spec(tmp_path, block)), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert ("trained Add for 3 epochs in " in printed
            and "(stopped early: the loss stopped falling; the model has its best epoch's weights)" in printed)
    with (out / "history.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    # the rate each epoch trained at: halved after epoch 2, the first without a fall
    assert [float(r["learning_rate"]) for r in rows] == pytest.approx([0.01, 0.01, 0.005])
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["validation"]["loss"] == pytest.approx(float(rows[0]["val_loss"]), rel=1e-4)  # epoch 1's


def test_plateau_arguments_are_checked(tmp_path, capsys):
    bad = SMALL + "stop = plateau(patience=2, factor=0.5)\n"
    assert main(["check", str(spec(tmp_path, bad))]) == 1
    assert "error[E0805]: stop `plateau` has no argument `factor`" in capsys.readouterr().err
    bad = SMALL + "stop = early\n"
    assert main(["check", str(spec(tmp_path, bad))]) == 1
    err = capsys.readouterr().err
    assert "error[E0804]: unknown stop `early`" in err and "= note: stops: none, plateau" in err
