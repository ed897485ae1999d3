"""CTC (rnndsl.keras.ctc): the loss and the decoders against sums over every path, written out here.

The reference for p(z | x) is the definition itself (Graves et al. 2006):
the sum, over all (classes + 1)^T paths that collapse to z, of the product
of the per-frame probabilities. The label error rate is checked against
edit distances counted by hand; the Keras metric against the NumPy one; the
Keras loss by training a tiny model, and by saving and reloading it.
"""

from __future__ import annotations

import itertools
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

from rnndsl.keras import ctc  # noqa: E402

RNG = np.random.default_rng(2006)


# ---------------------------------------------------------------- the reference: every path


def _collapse(path, blank):
    """B, written again here: keep a symbol that differs from the one before it and is not the blank."""
    return tuple(s for k, s in enumerate(path) if s != blank and (k == 0 or s != path[k - 1]))


def _labelling_probs(probs):
    """{labelling: p(labelling | x)}: every path of length T over the C symbols (blank last), collapsed."""
    T, C = probs.shape
    sums = {}
    for path in itertools.product(range(C), repeat=T):
        z = _collapse(path, C - 1)
        sums[z] = sums.get(z, 0.0) + np.prod(probs[np.arange(T), list(path)])
    assert sum(sums.values()) == pytest.approx(1.0)  # the paths are every outcome, once each
    return sums


def _tables(batch, T, C, concentration=1.0):
    """Random per-frame distributions `(batch, T, C)`."""
    return RNG.dirichlet(np.full(C, concentration), size=(batch, T))


def _padded(targets, width):
    return np.array([list(z) + [-1] * (width - len(z)) for z in targets], np.int32)


def _nll(targets, probs, **kwargs):
    return np.asarray(ctc.CTCLoss(reduction=None, **kwargs)(targets, probs), np.float64)


# ---------------------------------------------------------------- the loss


@pytest.mark.parametrize("T, target", [(2, [0]), (3, [0]), (3, [1]), (3, [0, 1]), (3, [1, 0]),
                                       (4, [0, 1]), (4, [1, 1]), (4, [0, 1, 0]), (3, [])])
def test_loss_is_minus_log_of_the_sum_over_all_alignments(T, target):
    probs = _tables(6, T, 3)  # 2 classes + blank, 6 random tables
    want = [-np.log(_labelling_probs(p)[tuple(target)]) for p in probs]
    got = _nll(_padded([target] * 6, 3), probs.astype(np.float32))
    np.testing.assert_allclose(got, want, rtol=2e-5)


def test_repeated_label_needs_a_blank_between():
    probs = _tables(5, 3, 3)
    got = _nll(_padded([[0, 0]] * 5, 2), probs)
    # In 3 frames, (0, blank, 0) is the one path to [0, 0]: (0, 0, x) and (x, 0, 0) merge the two 0s.
    only_path = probs[:, 0, 0] * probs[:, 1, 2] * probs[:, 2, 0]
    np.testing.assert_allclose(got, -np.log(only_path), rtol=2e-5)
    np.testing.assert_allclose(got, [-np.log(_labelling_probs(p)[(0, 0)]) for p in probs], rtol=2e-5)
    # In 2 frames there is none: p = 0 (the op reports a large loss, not infinity).
    assert (_nll(_padded([[0, 0]] * 5, 2), probs[:, :2]) > 100).all()
    # whereas [0, 1] fits in 2 frames
    assert (_nll(_padded([[0, 1]] * 5, 2), probs[:, :2]) < 100).all()


def test_loss_of_a_batch_with_padded_targets_and_logits():
    probs = _tables(4, 4, 4)  # 3 classes + blank
    targets = [[2], [0, 1, 2], [1, 1], [2, 0]]
    want = [-np.log(_labelling_probs(p)[tuple(z)]) for p, z in zip(probs, targets)]
    np.testing.assert_allclose(_nll(_padded(targets, 3), probs), want, rtol=2e-5)
    logits = np.log(probs) + RNG.normal(size=(4, 4, 1))  # a softmax does not see a per-frame shift
    np.testing.assert_allclose(_nll(_padded(targets, 3), logits, from_logits=True), want, rtol=2e-5)
    # the default reduction is the mean over the batch
    mean = float(ctc.CTCLoss()(_padded(targets, 3), probs))
    assert mean == pytest.approx(np.mean(want), rel=2e-5)


def test_frame_lengths_from_a_frame_mask_and_from_a_keras_mask():
    probs = _tables(3, 4, 3)
    frames = np.array([4, 2, 3])
    targets = [[0, 1], [1], [1, 0]]
    want = [-np.log(_labelling_probs(p[:n])[tuple(z)]) for p, n, z in zip(probs, frames, targets)]
    mask = (np.arange(4)[None, :] < frames[:, None]).astype(np.float32)
    loss = ctc.CTCLoss(reduction=None)
    np.testing.assert_allclose(loss(_padded(targets, 2), probs, sample_weight=mask), want, rtol=2e-5)
    mean = float(ctc.CTCLoss()(_padded(targets, 2), probs, sample_weight=mask))
    assert mean == pytest.approx(np.mean(want), rel=2e-5)
    # A row of zeros drops its example; (batch,) weights weight examples over all their frames.
    mask[1] = 0
    np.testing.assert_allclose(loss(_padded(targets, 2), probs, sample_weight=mask), [want[0], 0, want[2]], rtol=2e-5)
    all_frames = [-np.log(_labelling_probs(p)[tuple(z)]) for p, z in zip(probs, targets)]
    np.testing.assert_allclose(loss(_padded(targets, 2), probs, sample_weight=np.array([1.0, 0.5, 2.0])),
                               np.array(all_frames) * [1.0, 0.5, 2.0], rtol=2e-5)
    # The Keras mask that a Masking layer puts on its output: padded frames are all zeros here.
    padded = (probs * (np.arange(4)[None, :, None] < frames[:, None, None])).astype(np.float32)
    masked = keras.layers.Masking(0.0)(padded)
    np.testing.assert_allclose(loss(_padded(targets, 2), masked), want, rtol=2e-5)


# ---------------------------------------------------------------- greedy decoding


def _peaked(paths, C):
    """Tables `(batch, T, C)` whose most probable symbol at frame t is paths[b][t]."""
    T = max(len(p) for p in paths)
    probs = RNG.uniform(0.0, 0.1, size=(len(paths), T, C))
    for b, path in enumerate(paths):
        probs[b, np.arange(len(path)), path] = 0.9
    return probs / probs.sum(-1, keepdims=True)


def test_greedy_decoding_by_hand():
    b = 3  # blank: 3 classes
    paths = [[0, 0, b, 0, 1, 1, b],  # runs merge; a blank separates the two 0s
             [1, 1, 1, 1, 1, 1, 1],
             [b, b, b, b, b, b, b],
             [b, 2, b, b, 2, 2, 0],
             [2, 1, 2, 1, b, 1, 1]]
    want = [[0, 0, 1], [1], [], [2, 2, 0], [2, 1, 2, 1, 1]]
    probs = _peaked(paths, 4)
    assert ctc.greedy_decode(probs) == want
    assert ctc.greedy_decode(np.log(probs)) == want  # logits: the same argmax
    lengths = np.array([4, 0, 7, 5, 3])  # cut after frame 4, no frames, all, ...
    cut = [[0, 0], [], [], [2, 2], [2, 1, 2]]
    assert ctc.greedy_decode(probs, lengths) == cut
    mask = (np.arange(7)[None, :] < lengths[:, None]).astype(np.float32)
    assert ctc.greedy_decode(probs, mask) == cut


# ---------------------------------------------------------------- beam search


def test_beam_search_finds_the_most_probable_labelling_of_exhaustive_search():
    for trial in range(24):
        T, C = 1 + trial % 5, 3 + trial % 2  # T <= 5, 2 or 3 classes + blank
        probs = _tables(1, T, C, concentration=0.8)[0]
        sums = _labelling_probs(probs)
        best = max(sums, key=sums.get)
        # Wide enough to keep every prefix (every labelling of up to T labels): then the search is exact.
        beams = ctc.prefix_beam_search(np.log(probs), beam_width=sum((C - 1) ** k for k in range(T + 1)))
        assert beams[0][0] == best
        for labelling, log_p in beams:  # every labelling's probability, not only the best one's
            assert np.exp(log_p) == pytest.approx(sums[labelling], rel=1e-9)
        assert ctc.beam_search_decode(probs[None], beam_width=400) == [list(best)]


def test_beam_search_by_batch_with_frame_lengths():
    probs = _tables(4, 5, 4)
    lengths = np.array([5, 3, 1, 0])
    want = []
    for p, n in zip(probs, lengths):
        sums = _labelling_probs(p[:n])
        want.append(list(max(sums, key=sums.get)))
    assert ctc.beam_search_decode(probs, beam_width=400, lengths=lengths) == want
    assert ctc.beam_search_decode(np.log(probs) + 3.0, beam_width=400, lengths=lengths, from_logits=True) == want


def test_best_path_is_not_the_most_probable_labelling():
    # The classic case: one class `a` and the blank, two frames, p(a) = 0.4 at each. The best path is
    # (blank, blank), so greedy decoding says [] with p 0.36; but [a] collects (a, a), (a, blank),
    # (blank, a): 0.16 + 0.24 + 0.24 = 0.64.
    probs = np.array([[[0.4, 0.6], [0.4, 0.6]]])
    sums = _labelling_probs(probs[0])
    assert sums[()] == pytest.approx(0.36) and sums[(0,)] == pytest.approx(0.64)
    assert ctc.greedy_decode(probs) == [[]]
    assert ctc.beam_search_decode(probs, beam_width=1) == [[]]  # a beam of one keeps only () after frame 1
    assert ctc.beam_search_decode(probs, beam_width=2) == [[0]]


# ---------------------------------------------------------------- label error rate


def test_edit_distance_and_label_error_rate_by_hand():
    assert ctc.edit_distance([0, 1, 2], [0, 2]) == 1  # delete 1
    assert ctc.edit_distance([], [1, 2]) == 2  # insert both
    assert ctc.edit_distance([1, 2, 3], [3, 2, 1]) == 2  # substitute the ends
    assert ctc.edit_distance([0, 0, 1], [0, 1, 1]) == 1
    assert ctc.edit_distance([1, 2, 3, 4], [2, 3, 4, 5]) == 2  # delete 1, insert 5: not 4 substitutions
    assert ctc.edit_distance([2, 2], [2, 2]) == 0
    decoded = [[0, 1, 2], [], [1, 2, 3], [1, 2, 3, 4]]
    targets = _padded([[0, 2], [1, 2], [3, 2, 1], [2, 3, 4, 5]], 4)
    assert ctc.label_error_rate(decoded, targets) == pytest.approx((1 + 2 + 2 + 2) / (2 + 2 + 3 + 4))
    assert ctc.label_error_rate([[1]], [[-1, -1]]) == 1.0  # no target labels: the edits themselves


def test_keras_metric_equals_the_numpy_label_error_rate():
    eager, compiled = ctc.LabelErrorRate(), ctc.LabelErrorRate()
    # XLA: Keras compiles the training step, metrics included, with XLA on a GPU by default.
    xla_update = tf.function(compiled.update_state, jit_compile=True)
    all_decoded, all_targets = [], []
    for batch in range(2):
        logits = 3.0 * RNG.normal(size=(6, 10, 4))
        probs = (np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)).astype(np.float32)
        lengths = RNG.integers(1, 11, size=6)
        mask = (np.arange(10)[None, :] < lengths[:, None]).astype(np.float32)
        mask[batch] = 0  # a row of zeros drops its example, as in the loss
        targets = _padded([list(RNG.integers(0, 3, size=RNG.integers(0, 5))) for _ in range(6)], 5)
        eager.update_state(targets, probs, sample_weight=mask)
        xla_update(targets, probs, sample_weight=mask)
        kept = np.arange(6) != batch
        all_decoded += ctc.greedy_decode(probs[kept], lengths[kept])
        all_targets += list(targets[kept])
    want = ctc.label_error_rate(all_decoded, all_targets)
    assert 0.3 < want  # the random decodings are far from the targets: the check counts real edits
    assert float(eager.result()) == pytest.approx(want, rel=1e-6)
    assert float(compiled.result()) == pytest.approx(want, rel=1e-6)
    eager.reset_state()
    assert float(eager.result()) == 0.0


# ---------------------------------------------------------------- training, saving, reloading


def _toy(n, T=8, classes=2, seed=0):
    """Frames of a noisy one-hot code of a symbol path; the target is the first 5 to T frames' path,
    collapsed. The frames after those are padding, marked by the (batch, T) frame mask, and look like
    real frames: a loss or metric that counted them would differ."""
    rng = np.random.default_rng(seed)
    paths = rng.integers(0, classes + 1, size=(n, T))
    lengths = rng.integers(5, T + 1, size=n)
    mask = (np.arange(T)[None, :] < lengths[:, None]).astype(np.float32)
    x = np.eye(classes + 1)[paths] + 0.3 * rng.normal(size=(n, T, classes + 1))
    targets = [_collapse(list(p[:k]), classes) for p, k in zip(paths, lengths)]
    return x.astype(np.float32), _padded(targets, T), mask


def test_ctc_loss_trains_a_model_that_saves_and_reloads(tmp_path):
    keras.utils.set_random_seed(0)
    x, y, mask = _toy(64)
    model = keras.Sequential([keras.Input((None, 3)), keras.layers.Dense(3, activation="softmax")])
    # No XLA: compiling the step takes about 10 s on a CPU (the metric compiles with XLA above).
    # weighted_metrics, as `rnndsl train` compiles: Keras gives the frame mask to those, not to `metrics`.
    model.compile(keras.optimizers.Adam(0.05), loss=ctc.CTCLoss(), weighted_metrics=[ctc.LabelErrorRate()],
                  jit_compile=False)
    history = model.fit(x, y, sample_weight=mask, batch_size=16, epochs=10, verbose=0).history  # 40 steps
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    assert history["label_error_rate"][-1] < history["label_error_rate"][0]

    # evaluate: the mean over the examples of -ln p(z | x) over each one's real frames
    probs = np.asarray(model(x))
    frames = mask.sum(1).astype(np.int32)  # ctc_nll with these is checked against all paths above
    loss, ler = model.evaluate(x, y, sample_weight=mask, batch_size=64, verbose=0)
    assert loss == pytest.approx(float(np.mean(ctc.ctc_nll(y, probs, frames))), rel=1e-5)
    assert ler == pytest.approx(ctc.label_error_rate(ctc.greedy_decode(probs, frames), y), rel=1e-6)
    # what they would be if the padding frames counted
    assert loss < 0.5 * float(np.mean(ctc.ctc_nll(y, probs)))
    assert ler < 0.5 * ctc.label_error_rate(ctc.greedy_decode(probs), y)

    path = tmp_path / "ctc.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded.loss, ctc.CTCLoss)
    np.testing.assert_allclose(np.asarray(loaded(x)), probs, rtol=1e-6)
    np.testing.assert_allclose(loaded.evaluate(x, y, sample_weight=mask, batch_size=64, verbose=0), [loss, ler],
                               rtol=1e-5)


def test_loss_and_metric_configs_round_trip():
    loss = ctc.CTCLoss(from_logits=True, reduction="sum", name="c")
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(loss))
    assert isinstance(again, ctc.CTCLoss)
    assert (again.from_logits, again.reduction, again.name) == (True, "sum", "c")
    metric = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(ctc.LabelErrorRate(name="ler")))
    assert isinstance(metric, ctc.LabelErrorRate) and metric.name == "ler"
