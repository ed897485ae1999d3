"""The rate benchmark: what a recurrent layer that runs every k steps costs in training time.

A layer that runs at a slower rate is written two ways in rnndsl, and they cost differently:
  - in a network, `x >> Subsample(k) >> LSTM(units) >> UpSampling1D(k)`: the LSTM's loop runs over T / k
    steps, so its part of a training step should take about 1 / k of the time it takes on every step;
  - in a cell, equations with a schedule, `c[t] = ... every k` and `h[t] = ... every k` (the LSTM of
    specs/std/lstm.rnn with both states scheduled): every step computes the update and keeps it only where
    mod(t, k) == 0 (docs/language.md, "Schedules"), so the loop still runs T steps and the time stays about
    that of k = 1; the schedule changes what the cell means, not what it costs.

Timed, in one process, the models taking turns (bench/memory.py's `turns`), the median of a full training step
(train_on_batch: forward, backward, Adam) after warm-up: batch 32, 256 steps of 16 inputs, 64 units, then
Dense(1) at every step, MSE. The Subsample networks are timed with the LSTM lowered both ways (fused to
keras.layers.LSTM, and as a generated cell), each against the same network with the LSTM on every step
lowered the same way; the scheduled cell, a generated cell always, against the generated LSTM on every step.
The ratio of each to its every-step network is reported beside 1 / k, and, from a least-squares fit of the
Subsample networks' times to a + b / k, the share of a step that runs at the LSTM's rate, b / (a + b): the rest
(the readout, Adam's update, the resampling, the call's overhead) stays whatever k is. Runnable alone:
`.venv/bin/python bench/rates.py [--repeats N]`.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import argparse  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402

import rnndsl  # noqa: E402
import memory  # noqa: E402 -- bench/memory.py, beside this file: its timing and tables

BATCH, STEPS, INPUTS, UNITS = 32, 256, 16, 64
RATES = (1, 2, 4, 8)  # each divides STEPS, so UpSampling1D gives back exactly STEPS steps

SPEC = f'''import "std/lstm.rnn"

cell ScheduledLSTM(units: int, k: int) {{
    "specs/std/lstm.rnn's LSTM with both states updated every k steps and held in between."
    input x: [in]
    param W_i, W_f, W_c, W_o: [units, in] ~ glorot_uniform
    param U_i, U_f, U_c, U_o: [units, units] ~ orthogonal
    param b_i, b_c, b_o: [units] = 0
    param b_f: [units] = 1

    i[t] = sigmoid(W_i @ x[t] + U_i @ h[t-1] + b_i)
    f[t] = sigmoid(W_f @ x[t] + U_f @ h[t-1] + b_f)
    g[t] = tanh(W_c @ x[t] + U_c @ h[t-1] + b_c)
    o[t] = sigmoid(W_o @ x[t] + U_o @ h[t-1] + b_o)
    c[t] = f[t] * c[t-1] + i[t] * g[t] every k
    h[t] = o[t] * tanh(c[t]) every k
    output h
}}

network EveryStep(units: int = {UNITS}) {{
    input x: seq[{INPUTS}]
    output Dense(1)(LSTM(units)(x))
}}

network Subsampled(units: int = {UNITS}, k: int = 2) {{
    input x: seq[{INPUTS}]
    slow = x >> Subsample(k) >> LSTM(units) >> UpSampling1D(k)
    output Dense(1)(slow)
}}

network Scheduled(units: int = {UNITS}, k: int = 2) {{
    input x: seq[{INPUTS}]
    output Dense(1)(ScheduledLSTM(units, k)(x))
}}
'''


def batch():
    """One fixed batch: inputs (BATCH, STEPS, INPUTS), targets (BATCH, STEPS, 1)."""
    rng = np.random.default_rng(0)
    return (rng.normal(size=(BATCH, STEPS, INPUTS)).astype("float32"),
            rng.normal(size=(BATCH, STEPS, 1)).astype("float32"))


def models() -> dict:
    """{row name: compiled model}: the every-step LSTM and the Subsample networks, fused and generated, and the
    scheduled cell at each rate."""
    program = rnndsl.load(SPEC)
    built = {}
    for fused, how in ((True, "fused"), (False, "generated")):
        built[f"LSTM on every step, {how}"] = program.build("EveryStep", fused=fused)
        for k in RATES:
            built[f"Subsample({k}) >> LSTM >> UpSampling1D({k}), {how}"] = program.build(
                "Subsampled", k=k, fused=fused)
    for k in RATES:
        built[f"LSTM with `every {k}` equations, generated"] = program.build("Scheduled", k=k)
    for model in built.values():
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    return built


def times(repeats: int) -> dict:
    """{row name: ms}: the median training step of each model, the models taking turns."""
    x, y = batch()
    steps = {name: (lambda model=model: model.train_on_batch(x, y)) for name, model in models().items()}
    return {name: 1000 * t for name, t in memory.turns(steps, repeats).items()}


def scaling(found: dict, how: str) -> tuple:
    """(a, b) of the least-squares fit time(k) = a + b / k (ms) over the Subsample networks lowered `how`: a, the
    part of a step that does not shrink with the rate (the readout, Adam's update, the resampling, the call's
    overhead), b the part that runs at the LSTM's rate."""
    k = np.asarray(RATES, dtype=float)
    t = np.asarray([found[f"Subsample({r}) >> LSTM >> UpSampling1D({r}), {how}"] for r in RATES])
    (a, b), *_ = np.linalg.lstsq(np.stack([np.ones_like(k), 1 / k], axis=1), t, rcond=None)
    return float(a), float(b)


def ratios(found: dict) -> dict:
    """{ratio name: value}: each network's step against its every-step network's, named with 1 / k beside it;
    and, from the fit time(k) = a + b / k, the share b / (a + b) of the k = 1 step that shrinks as 1 / k."""
    out = {}
    for how in ("fused", "generated"):
        base = found[f"LSTM on every step, {how}"]
        for k in RATES:
            out[f"Subsample({k}) / every step, {how} (1/k = {1 / k:.3f})"] = (
                found[f"Subsample({k}) >> LSTM >> UpSampling1D({k}), {how}"] / base)
        a, b = scaling(found, how)
        out[f"Subsample, {how}: share of the k = 1 step at the LSTM's rate, b / (a + b) of a + b/k"] = b / (a + b)
    base = found["LSTM on every step, generated"]
    for k in RATES:
        out[f"`every {k}` / every step, generated (1/k = {1 / k:.3f})"] = (
            found[f"LSTM with `every {k}` equations, generated"] / base)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    found = times(args.repeats)
    print(f"Training step (forward, backward, Adam), batch {BATCH}, {STEPS} steps, {INPUTS} inputs, {UNITS} units, "
          f"Dense(1) at every step; median of {args.repeats} after 3 warm-up steps, the models taking turns.\n")
    memory.print_tables(found, ratios(found))


if __name__ == "__main__":
    main()
