"""The back-end benchmark of `make bench`: a training step of the spec LSTM on Keras's TensorFlow, PyTorch and
JAX back ends.

Keras chooses its back end once a process, so each back end runs in a child process of its own
(KERAS_BACKEND): the spec LSTM of specs/std/lstm.rnn, 32 inputs, 128 units, batch 64, 100 steps, MSE, Adam,
generated (`fused=False`) and on the fused path (Keras's own LSTM); the median of a full training step
(`train_on_batch`) after warm-up. The times are each back end's own, on the CPU, as Keras runs it by default
(TensorFlow and JAX compile the step; PyTorch runs it eagerly).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = ("tensorflow", "torch", "jax")

CHILD = r"""
import json, statistics, sys, time
import numpy as np, keras, rnndsl
repeats = int(sys.argv[1])
program = rnndsl.load(sys.argv[2])
rng = np.random.default_rng(0)
x = rng.normal(size=(64, 100, 32)).astype("float32")
y = rng.normal(size=(64, 100, 128)).astype("float32")
found = {}
for fused in (False, True):
    model = program.build("LSTM", input_size=32, units=128, fused=fused)
    model.compile(optimizer="adam", loss="mse")
    for _ in range(2):
        model.train_on_batch(x, y)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.train_on_batch(x, y)
        times.append(time.perf_counter() - start)
    found["fused" if fused else "generated"] = 1000 * statistics.median(times)
print(json.dumps(found))
"""


def times(repeats: int) -> dict:
    """{"spec LSTM, generated, torch": ms, ...}: the median training step on each back end."""
    found = {}
    for backend in BACKENDS:
        done = subprocess.run([sys.executable, "-c", CHILD, str(repeats), str(ROOT / "specs" / "std" / "lstm.rnn")],
                              capture_output=True, text=True, timeout=1800,
                              env={**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"})
        if done.returncode != 0:
            raise RuntimeError(f"the {backend} back end failed:\n{done.stderr[-3000:]}")
        for path, ms in json.loads(done.stdout.strip().splitlines()[-1]).items():
            found[f"spec LSTM, {path}, {backend}"] = ms
    return found


if __name__ == "__main__":
    for name, ms in times(int(sys.argv[1]) if len(sys.argv) > 1 else 7).items():
        print(f"| {name} | {ms:.1f} |")
