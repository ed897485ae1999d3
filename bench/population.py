"""The population benchmark: 64 weight sets evaluated in one batched pass against one model at a time.

rnndsl.train.population runs the members of a population together, `tf.vectorized_map` over Keras's
`stateless_call` (a network) or over a generated cell's step (a controller): TensorFlow's vectorizer turns
each matmul by a weight into one batched matmul over the members. Timed, in one process, the ways taking
turns, the median of each after warm-up, for 64 members:

  sequences: a network of examples/adding.rnn's shape (AddingTanh: an Elman cell of 16 units, last step,
      Dense(1)), on one batch of 32 sequences of 50 steps, each member's MSE: batched
      (Population.losses, one call); one at a time, the same compiled `stateless_call` called 64 times
      from Python with each member's weights; and one at a time inside one graph (`tf.map_fn`, no
      vectorization);
  controller loop: the double-pole cart of rnndsl.train.poles under PoleRNN (examples/poles.rnn, 3
      units), 200 actions, every cart kept running (no failure test, so each way does the same work), one
      `tf.while_loop` compiled with and without XLA: batched (64 controllers and carts in one loop) against
      the same loop run for one controller and cart, 64 times.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import rnndsl  # noqa: E402
from rnndsl.keras.cell import cell_rnn  # noqa: E402
from rnndsl.train import poles  # noqa: E402
from rnndsl.train.population import Controller, Population  # noqa: E402

tf.get_logger().setLevel("ERROR")

ROOT = Path(__file__).resolve().parents[1]
MEMBERS, BATCH, STEPS, UNITS = 64, 32, 50, 16
ACTIONS, CONTROLLER_UNITS = 200, 3


def sequence_ways() -> dict:
    """{way: a function that evaluates the 64 members once} for the network on sequences."""
    model = rnndsl.load(ROOT / "examples" / "adding.rnn").build("AddingTanh", units=UNITS, fused=False)
    population = Population(model)
    rng = np.random.default_rng(0)
    flat = rng.normal(scale=0.3, size=(MEMBERS, population.dimension))
    x = tf.constant(rng.random((BATCH, STEPS, 2)).astype("float32"))
    y = tf.constant(rng.random((BATCH, 1)).astype("float32"))
    stacked = population.split(tf.constant(flat))
    members = [[w[i] for w in stacked] for i in range(MEMBERS)]  # each member's weights, one tensor a variable
    fixed = [v.value for v in model.non_trainable_variables]

    @tf.function(autograph=False)
    def one(weights):
        out, _ = model.stateless_call(list(weights), fixed, x)
        return tf.reduce_mean(tf.square(out - y))

    @tf.function(autograph=False)
    def mapped(stacked):
        return tf.map_fn(lambda ws: one(ws), stacked, fn_output_signature=tf.float32)

    def loop():
        return [float(one(m)) for m in members]

    return {"sequences: batched (vectorized_map)": lambda: population.losses(flat, x, y, "mse"),
            "sequences: one at a time, Python loop": loop,
            "sequences: one at a time, tf.map_fn": lambda: mapped(stacked).numpy()}


def controller_ways() -> dict:
    """{way: a function that runs the 64 controllers and carts for ACTIONS actions once}."""
    layer = cell_rnn(rnndsl.load(ROOT / "examples" / "poles.rnn"), "PoleRNN", input_dim=3, units=CONTROLLER_UNITS)
    layer.build((None, None, 3))
    controller = Controller(layer)
    flat = np.random.default_rng(1).normal(scale=0.3, size=(MEMBERS, controller.dimension))

    def run(flat):
        weights = controller.split(flat)
        count = tf.shape(flat)[0]
        cart = tf.tile(tf.constant(poles.start(1)), [count, 1])

        def body(t, cart, states):
            seen = tf.cast(poles.observe(cart, xp=tf), tf.float32)[:, None, :]
            out, states = controller.step(weights, seen, states)
            return t + 1, poles.advance(cart, poles.FORCE * tf.cast(out[:, 0, 0], tf.float64), tf), states

        _, cart, _ = tf.while_loop(lambda t, *_: t < ACTIONS, body, (0, cart, controller.initial_state(weights, 1)))
        return cart

    singles = [tf.constant(flat[i:i + 1]) for i in range(MEMBERS)]
    batched = tf.constant(flat)
    ways = {}
    for jit in (True, False):
        compiled = tf.function(run, autograph=False, jit_compile=jit)
        xla = "XLA on" if jit else "XLA off"
        ways[f"controller loop, {xla}: batched, one loop"] = lambda c=compiled: c(batched).numpy()
        ways[f"controller loop, {xla}: one at a time, 64 loops"] = lambda c=compiled: [c(s).numpy() for s in singles]
    return ways


def turns(ways: dict, repeats: int, warmup: int = 2) -> dict:
    """Median time (ms) of each way, after warm-up, the ways taking turns."""
    for way in ways.values():
        for _ in range(warmup):
            way()
    found: dict = {name: [] for name in ways}
    for _ in range(repeats):
        for name, way in ways.items():
            t0 = time.perf_counter()
            way()
            found[name].append(time.perf_counter() - t0)
    return {name: 1000 * statistics.median(t) for name, t in found.items()}


def times(repeats: int) -> dict:
    """{way: median ms} for both cases."""
    return {**turns(sequence_ways(), repeats), **turns(controller_ways(), repeats)}


def ratios(found: dict) -> dict:
    """One at a time / batched: the gain of the batched pass."""
    seq = "sequences: batched (vectorized_map)"
    out = {"sequences: Python loop / batched": found["sequences: one at a time, Python loop"] / found[seq],
           "sequences: tf.map_fn / batched": found["sequences: one at a time, tf.map_fn"] / found[seq]}
    for xla in ("XLA on", "XLA off"):
        alone, together = (found[f"controller loop, {xla}: {way}"]
                           for way in ("one at a time, 64 loops", "batched, one loop"))
        out[f"controller loop, {xla}: one at a time / batched"] = alone / together
    return out


def rows(repeats: int = 10) -> tuple:
    """(times, ratios) as Markdown table rows: ["| way | ms |", ...], ["| ratio | value |", ...]."""
    found = times(repeats)
    return ([f"| {name} | {t:.1f} |" for name, t in found.items()],
            [f"| {name} | {r:.1f} |" for name, r in ratios(found).items()])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    found, gains = rows(args.repeats)
    print(f"\nPopulation of {MEMBERS}: a network (Elman {UNITS} units, Dense(1)) on {BATCH} sequences of {STEPS} "
          f"steps; PoleRNN ({CONTROLLER_UNITS} units) on the double-pole cart for {ACTIONS} actions. Median of "
          f"{args.repeats} after 2 warm-ups, the ways taking turns.\n")
    print("| way | median (ms) |\n| --- | --- |")
    print("\n".join(found))
    print("\n| ratio | value |\n| --- | --- |")
    print("\n".join(gains))


if __name__ == "__main__":
    main()
