"""`strategy = ...`: training under tf.distribute gives the loss curve of one device at the same global batch.

The mirrored run uses two logical CPU devices, which must be set before TensorFlow starts: it runs in a
subprocess. The multi-worker run is two `rnndsl train` processes on 127.0.0.1, each with its TF_CONFIG.
Both are compared with one single-device run of the same network, data, global batch and seed.
"""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from rnndsl.cli import main  # noqa: E402

RNNDSL = [sys.executable, "-m", "rnndsl.cli"]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONDONTWRITEBYTECODE": "1"}
# float32 sums in another order (two replicas' means averaged, not one mean): the curves agreed to the
# six digits history.csv keeps, and the final weights to 3e-6 (relative), when this test was written
RTOL = 1e-4


def spec(folder: Path, strategy: str, batch: int = 32) -> Path:
    """LSTM(8) on the adding problem, 20 steps, 384 training sequences (12 batches of 32), 3 epochs."""
    path = folder / f"{strategy}.rnn"
    path.write_text('import "std/lstm.rnn"\n\nnetwork Add(units: int = 8) {\n    input x: seq[2]\n'
                    "    h = LSTM(units, returns=last)(x)\n    output Dense(1)(h)\n\n    train {\n"
                    "        data = adding(steps=20, train=512, test=128)\n        loss = mse\n"
                    "        optimizer = adam(learning_rate=1e-2)\n"
                    f"        batch = {batch}\n        epochs = 3\n        validation = 0.25\n        seed = 1\n"
                    f"        strategy = {strategy}\n    }}\n}}\n", encoding="utf-8")
    return path


def curve(out: Path) -> dict:
    """history.csv's figures as {column: [value an epoch]} (not the epochs, nor the wall time `seconds`)."""
    with (out / "history.csv").open() as f:
        rows = list(csv.DictReader(f))
    return {k: [float(r[k]) for r in rows] for k in rows[0] if k not in ("epoch", "seconds")}


@pytest.fixture(scope="module")
def single(tmp_path_factory) -> Path:
    """The single-device run every distributed run is compared with."""
    folder = tmp_path_factory.mktemp("single")
    out = folder / "run"
    assert main(["train", str(spec(folder, "default")), "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["strategy"], metrics["replicas"], metrics["workers"]) == ("default", 1, 1)
    return out


MIRRORED = """
import sys
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from rnndsl.cli import main

odd, good, out = sys.argv[1:]
assert main(["train", odd, "--out", out + "-odd"]) == 2
sys.exit(main(["train", good, "--out", out]))
"""


def test_mirrored_over_two_devices_follows_one_device(tmp_path, single):
    out = tmp_path / "mirrored"
    odd = spec(tmp_path, "mirrored", batch=33).rename(tmp_path / "odd.rnn")
    done = subprocess.run([sys.executable, "-c", MIRRORED, str(odd), str(spec(tmp_path, "mirrored")), str(out)],
                          env=ENV, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    assert ("error: the batch of 33 examples does not divide among the 2 replicas of `strategy = mirrored`: "
            "make `batch` a multiple of 2\n") in done.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["strategy"], metrics["replicas"], metrics["workers"]) == ("mirrored", 2, 1)
    want, got = curve(single), curve(out)
    assert set(want) == set(got) == {"loss", "val_loss"}
    for key in want:
        np.testing.assert_allclose(got[key], want[key], rtol=RTOL, err_msg=key)
    assert want["loss"][-1] < want["loss"][0]  # it trained: a curve to compare, not a flat line


def _free_ports(n: int) -> list:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _cluster(args: list, scratch: Path) -> list:
    """Run `rnndsl ARGS` as two workers of a cluster on 127.0.0.1; their outputs. Each must end within
    4 minutes; a worker left waiting for the other is killed."""
    cluster = {"worker": [f"127.0.0.1:{port}" for port in _free_ports(2)]}
    workers = []
    try:
        for index in range(2):
            config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
            workers.append(subprocess.Popen(RNNDSL + args, env={**ENV, "TF_CONFIG": config, "TMPDIR": str(scratch)},
                                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
        logs = [w.communicate(timeout=240)[0] for w in workers]
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
                w.wait()
    for w, log in zip(workers, logs):
        assert w.returncode == 0, log[-3000:]
    return logs


def test_two_workers_follow_one_device(tmp_path, single):
    """Two epochs, then --resume for the third: the chief's curve is the single device's."""
    path = spec(tmp_path, "multi_worker")
    out = tmp_path / "run"
    scratch = tmp_path / "scratch"  # the workers' temporary folders
    scratch.mkdir()
    _cluster(["train", str(path), "--out", str(out), "--epochs", "2"], scratch)
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["epoch-0001", "epoch-0002"]
    logs = _cluster(["train", str(path), "--out", str(out), "--resume", "--epochs", "3"], scratch)
    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["strategy"], metrics["replicas"], metrics["workers"]) == ("multi_worker", 2, 2)
    want, got = curve(single), curve(out)
    assert len(got["loss"]) == 3
    for key in want:
        np.testing.assert_allclose(got[key], want[key], rtol=RTOL, err_msg=key)
    single_metrics = json.loads((single / "metrics.json").read_text())
    assert metrics["test"]["loss"] == pytest.approx(single_metrics["test"]["loss"], rel=RTOL)
    # only the chief wrote the run's folder; the other worker wrote into a temporary folder, now gone
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["epoch-0002", "epoch-0003"]
    assert [p.name for p in scratch.iterdir() if p.name.startswith("rnndsl-worker-")] == []
    assert "trained Add for 3 epochs" in logs[1]


def test_a_mirrored_run_resumes(tmp_path, single):
    """One replica here (this process's one CPU): the checkpoint reloads in the strategy's scope."""
    path = spec(tmp_path, "mirrored")
    out = tmp_path / "run"
    assert main(["train", str(path), "--out", str(out), "--epochs", "2"]) == 0
    assert main(["train", str(path), "--out", str(out), "--resume"]) == 0
    assert json.loads((out / "metrics.json").read_text())["replicas"] == 1
    want, got = curve(single), curve(out)
    for key in want:
        np.testing.assert_allclose(got[key], want[key], rtol=RTOL, err_msg=key)


TF_CONFIG_ERRORS = [
    (None, "`strategy = multi_worker` reads its cluster from the TF_CONFIG environment variable, which is not "
           "set (see docs/cluster.md)"),
    ("{cluster", "TF_CONFIG is not valid JSON: Expecting property name enclosed in double quotes: line 1 column 2 "
                 "(char 1)"),
    ('{"cluster": {"worker": ["127.0.0.1"]}, "task": {"type": "worker", "index": 0}}',
     'TF_CONFIG must be a JSON object {"cluster": {"worker": ["HOST:PORT", ...]}, "task": {"type": "worker", '
     '"index": I}} (see docs/cluster.md)'),
    ('{"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 2}}',
     "TF_CONFIG's task is worker 2, which its cluster (2 workers) does not have"),
    ('{"cluster": {"worker": ["a:1"], "ps": ["b:2"]}, "task": {"type": "worker", "index": 0}}',
     "TF_CONFIG's cluster has a `ps` job: `strategy = multi_worker` runs `chief` and `worker` tasks only"),
]


@pytest.mark.parametrize("config, message", TF_CONFIG_ERRORS, ids=["missing", "json", "form", "task", "ps"])
def test_a_bad_tf_config_is_a_usage_error(tmp_path, capsys, monkeypatch, config, message):
    if config is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", config)
    out = tmp_path / "run"
    assert main(["train", str(spec(tmp_path, "multi_worker")), "--out", str(out)]) == 2
    assert capsys.readouterr().err == f"error: {message}\n"
    assert not out.exists()


def test_no_tpu_is_a_usage_error(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("TPU_NAME", raising=False)
    monkeypatch.delenv("KUBE_GOOGLE_CLOUD_TPU_ENDPOINTS", raising=False)
    out = tmp_path / "run"
    assert main(["train", str(spec(tmp_path, "tpu")), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: `strategy = tpu`: no TPU was found ("), err
    assert err.endswith("); set TPU_NAME to the TPU's name, or `local` on a TPU VM\n") and err.count("\n") == 1
    assert not out.exists()


def test_a_strategy_trains_on_whole_batches(tmp_path, capsys):
    """Under a strategy each epoch's last, partial batch is left out; a split smaller than a batch is refused."""
    path = spec(tmp_path, "mirrored", batch=400)
    assert main(["train", str(path), "--out", str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err == ("error: the training split has 384 examples, fewer than a batch (400): "
                                       "`strategy = mirrored` trains on whole batches only\n")
