"""Length curricula and bucketing by length (issue 16): `curriculum = linear(start, epochs)` grows the
lengths a generator draws for the fresh training splits; `bucket = N` makes batches of like lengths, each
cut after its longest sequence's steps rounded up to a multiple of N, where that changes nothing the loss
reads (rnndsl.train.buckets)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from helpers import checked, data_error, diagnostics

pytest.importorskip("tensorflow")

SPEC = """import "std/lstm.rnn"

network Copy {
    input x: seq[5]
    h = LSTM(8)(x)
    output Dense(4, activation=sigmoid)(h)
    train {
        data = copy_bits(bits=4, min_length=2, max_length=10, train=48, test=16)
        fresh = true
        curriculum = linear(start=3, epochs=4)
        bucket = 4
        loss = binary_cross_entropy
        metrics = wrong_bits
        batch = 8
        epochs = 6
    }
}
"""


def _plan(spec: str = SPEC):
    from rnndsl.train.run import plan_of

    program = checked(spec)
    return program, plan_of(program, "Copy", {})


def test_the_settings_are_planned():
    _, plan = _plan()
    assert plan.curriculum.name == "linear" and plan.curriculum.args == {"start": 3, "epochs": 4}
    assert plan.bucket == 4


def test_the_curriculum_grows_the_length_linearly_then_holds():
    from rnndsl.train.buckets import curriculum_args

    _, plan = _plan()
    grown = [curriculum_args(plan, epoch)["max_length"] for epoch in range(7)]
    assert grown == [3, 4, 6, 8, 10, 10, 10]
    assert curriculum_args(plan, 0)["min_length"] == 2  # only the grown argument changes
    _, plain = _plan(SPEC.replace("        curriculum = linear(start=3, epochs=4)\n", ""))
    assert curriculum_args(plain, 0) == dict(plain.data.args)


def test_bucketed_batches_hold_every_example_once_in_like_lengths():
    from rnndsl.train.buckets import bucket_batches

    lengths = np.random.default_rng(0).integers(1, 42, size=100)
    batches = bucket_batches(lengths, 16, 8, np.random.default_rng(1))
    rows = np.concatenate([r for r, _ in batches])
    assert sorted(rows.tolist()) == list(range(100))
    assert [len(r) for r, _ in batches].count(4) == 1  # one partial batch
    for r, steps in batches:
        assert steps % 8 == 0 and lengths[r].max() <= steps < lengths[r].max() + 8
    spans = sorted((lengths[r].min(), lengths[r].max()) for r, _ in batches)
    assert all(hi <= lo_next + 8 for (_, hi), (lo_next, _) in zip(spans, spans[1:]))  # sorted by length
    whole = bucket_batches(lengths, 16, 8, np.random.default_rng(1), whole=True)
    assert all(len(r) == 16 for r, _ in whole) and len(whole) == 6


def test_used_steps_end_at_the_last_weighted_step():
    from rnndsl.train.buckets import used_steps
    from rnndsl.train.sources import load

    split = load("copy_bits", {"bits": 4, "min_length": 1, "max_length": 10, "train": 20, "test": 0},
                 base=".", seed=0).train
    lengths = (split.inputs[0][:, :, 4] == 1).argmax(axis=1)  # the delimiter's step is the sequence's length
    np.testing.assert_array_equal(used_steps(split), 2 * lengths + 1)


def test_the_stream_grows_and_cuts_its_batches(tmp_path):
    from rnndsl.train.run import _training_batches
    from rnndsl.train.sources import load

    _, plan = _plan()
    split = load(plan.data.name, plan.data.args, base=tmp_path, seed=plan.seed).train
    steps = [[int(b[0].shape[1]) for b in epoch] for epoch in
             (_training_batches(plan, split, e, tmp_path).take(6) for e in (0, 5))]
    assert max(steps[0]) <= 8  # epoch 0 draws at most 3 vectors: 7 steps used, rounded up to 8
    assert max(steps[1]) > 8 and all(s % 4 == 0 or s == 21 for s in steps[1])
    again = [int(b[0].shape[1]) for b in _training_batches(plan, split, 5, tmp_path).take(6)]
    assert again == steps[1]  # a resumed run sees the batches an uninterrupted one would


def test_a_run_with_a_curriculum_and_buckets_trains(tmp_path):
    from rnndsl.train.run import run

    program, _ = _plan()
    result = run(program, "Copy", out=tmp_path / "run", verbose=0)
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert result.epochs == 6 and np.isfinite(metrics["last_epoch"]["loss"])
    assert np.isfinite(metrics["test"]["wrong_bits"])


def test_bucketing_refuses_a_network_that_reads_backward(tmp_path):
    from rnndsl.train.run import run

    spec = SPEC.replace("h = LSTM(8)(x)", "h = Bidirectional(LSTM(8))(x)")
    message = data_error(run, checked(spec), "Copy", out=tmp_path / "run", verbose=0)
    assert ("`bucket` cuts each batch after its last weighted step, which is right only when the output at a step "
            "reads no later step; `Copy`'s output at step 9 changes with the inputs after it") in message


def test_bucketing_needs_a_weight_per_step(tmp_path):
    from rnndsl.train.run import run

    spec = SPEC.replace("data = copy_bits(bits=4, min_length=2, max_length=10, train=48, test=16)",
                        "data = adding(steps=10, train=48, test=16)").replace(
        "input x: seq[5]", "input x: seq[2]").replace("h = LSTM(8)(x)", "h = LSTM(8, returns=last)(x)").replace(
        "Dense(4, activation=sigmoid)", "Dense(1)").replace("binary_cross_entropy", "mse").replace(
        "metrics = wrong_bits", "metrics = mse").replace("linear(start=3, epochs=4)", "linear(start=4, epochs=4)")
    message = data_error(run, checked(spec), "Copy", out=tmp_path / "run", verbose=0)
    assert "`bucket` cuts each batch after its last weighted step: the training data has no sample weight per step" \
        in message


@pytest.mark.parametrize("change, message", [
    (("        fresh = true\n", ""),
     "error[E0807]: a curriculum changes the training split from epoch to epoch: it needs `fresh = true`"),
    (("copy_bits(bits=4, min_length=2, max_length=10, train=48, test=16)", "reber(train=48, test=16)"),
     "error[E0807]: a curriculum grows the lengths a generator draws; `reber` has none to grow"),
    (("linear(start=3, epochs=4)", "linear(start=1, epochs=4)"),
     "error[E0807]: the curriculum starts at `max_length` = 1: it must be from 2 to 10, the source's own "
     "`max_length`"),
    (("linear(start=3, epochs=4)", "linear(start=11, epochs=4)"),
     "error[E0807]: the curriculum starts at `max_length` = 11: it must be from 2 to 10"),
    (("linear(start=3, epochs=4)", "linear(start=3, epochs=0)"),
     "error[E0807]: the curriculum grows over `epochs` = 0: at least 1"),
    (("linear(start=3, epochs=4)", "steps(3)"), "error[E0804]: unknown curriculum `steps`"),
    (("bucket = 4", "bucket = -1"), "error[E0806]: `bucket` must be from 0 to 2147483647, not -1"),
    (("        fresh = true\n        curriculum = linear(start=3, epochs=4)\n", "        bptt = truncated(5)\n"),
     "error[E0807]: `bucket` and `bptt = truncated(...)` do not go together: the chunks of a batch carry its "
     "states from one to the next"),
])
def test_settings_that_do_not_go_together(change, message):
    assert message in diagnostics(SPEC.replace(*change))


@pytest.mark.parametrize("whole, chunk", [(False, None), (True, None), (True, 4)])
def test_the_numpy_stream_is_the_tf_data_streams_form(whole, chunk):
    """Under JAX and PyTorch the training split's batches come from a generator of NumPy arrays: the same
    batches in form as the tf.data stream's on TensorFlow (each epoch every example once, a partial batch left
    out when whole, the chunks of k steps in order, a weight per sequence with every chunk), in an order drawn
    from (seed, epoch) alone, so that a stream started at a later epoch goes on as the first one does."""
    import tensorflow as tf

    from rnndsl.train.containers import Split
    from rnndsl.train.stream import _batches, _numpy_batches

    rows = np.arange(10, dtype="float32")
    x = np.repeat(rows[:, None, None], 10, axis=1) + np.arange(10, dtype="float32")[None, :, None] / 100
    split = Split((x, np.arange(10, dtype="int32")), np.repeat(rows[:, None], 10, axis=1), rows + 1)
    numpy_stream = list(_numpy_batches(split, 4, 7, 0, 3, whole=whole, chunk=chunk))
    tf_stream = [tf.nest.map_structure(np.asarray, b) for b in _batches(split, 4, 7, 0, 3, whole=whole, chunk=chunk)]
    assert len(numpy_stream) == len(tf_stream)
    for mine, theirs in zip(numpy_stream, tf_stream):
        assert tf.nest.map_structure(np.shape, mine) == tf.nest.map_structure(np.shape, theirs)
        (features, ids), targets, weights = mine
        assert (ids == np.floor(features[:, 0, 0])).all() and (weights == ids + 1).all()  # rows kept together
        assert (targets == np.floor(features[..., 0])).all()
    firsts = [b[0][1] for b, n in zip(numpy_stream, range(len(numpy_stream))) if chunk is None or n % 3 == 0]
    per_epoch = np.split(np.concatenate(firsts), 3)
    for epoch in per_epoch:
        assert len(set(epoch)) == len(epoch) == (8 if whole else 10)
    assert not all((per_epoch[0] == e).all() for e in per_epoch[1:])  # each epoch in its own order
    later = list(_numpy_batches(split, 4, 7, 2, 3, whole=whole, chunk=chunk))
    assert all((a[0][1] == b[0][1]).all() for a, b in zip(later, numpy_stream[-len(later):]))
