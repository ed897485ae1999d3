"""ctc: connectionist temporal classification, for targets not aligned to the frames.

Graves, Fernandez, Gomez & Schmidhuber (2006), Connectionist temporal
classification: labelling unsegmented sequence data with recurrent neural
networks. A network that emits, at every frame, a distribution over the
labels and one extra `blank` defines the probability of a labelling z as the
sum over all paths pi (one symbol a frame) that the map B (merge repeated
symbols, then drop blanks) takes to z:

    p(z | x) = sum_{pi : B(pi) = z}  prod_t y[t, pi_t]

`rnndsl train` uses this module when a train block says `loss = ctc` (and
`metric = label_error_rate`).

Conventions (every function here keeps them):

- Network output `(batch, T, classes + 1)`: per-frame probabilities, what a
  `Dense(classes + 1, softmax)` layer gives (the loss and the decoders take
  `from_logits=True` for raw scores instead). The blank is the LAST index,
  `classes`; Keras's op wants the blank's index, which it is given.
- Targets: int `(batch, L)` label ids in `[0, classes)`, padded at the end
  with -1.
- Frame lengths (the real frames of each sequence are a prefix, padding at
  the end): the NumPy functions take `lengths`, either counts `(batch,)` or
  a sample mask `(batch, T)` (nonzero on real frames); None means all T.
  The Keras loss and metric find them where Keras puts them:
  * the Keras mask of the network's output (a `Masking` layer, an
    `Embedding(mask_zero=True)`), which Keras passes along with `y_pred`;
  * a `sample_weight` of shape `(batch, T)` given to `fit` or `evaluate`
    (1 on real frames): it marks frames, it does not weight them; an
    example's weight is its largest frame weight, so a row of zeros drops
    the example. A `sample_weight` of shape `(batch,)` weights examples and
    lets all T frames count.
  Both given: a frame counts where both say so. Neither: all T frames count.
  Keras gives sample weights to the metrics compiled as `weighted_metrics`
  only: compile `LabelErrorRate` there when the frames come by weights.
  Why not let padded frames count and have the network emit blank there:
  padding would then change the loss of a sequence, and a network that
  reads right to left would see the padding first.
- The loss of one example is -ln p(z | x). When z cannot fit in the
  frames (|z| plus the number of repeated neighbours in z exceeds the
  frame count) p is 0, and what the loss gives is the back end's op's:
  * TensorFlow: a large finite loss (about 708, a little more for longer
    sequences) rather than infinity, with finite gradients;
  * JAX: a larger finite loss, about 1e5 (Keras's op scores a step no path
    may take ln p = -1e5 rather than -inf), with finite gradients;
  * PyTorch: `IMPOSSIBLE_LOSS` (1e5, as on JAX), with no gradient (the op
    itself gives infinity there, and NaN gradients to the whole batch).
  The other examples' losses and gradients are the same on all three.
- Label error rate (Graves et al. 2006, section 5.1): the total edit
  distance (substitutions, insertions, deletions) between the decodings and
  the targets over the total number of target labels; with no target labels
  at all, the total edit distance itself.

Keras: the loss and the metric are written with `keras.ops` alone, so they
run on Keras's TensorFlow, JAX and PyTorch back ends (TensorFlow is imported
only where it is the back end, to scale a mean under `tf.distribute`). The
loss is `keras.ops.ctc_loss`: the back end's batched forward algorithm and
its gradient (TensorFlow's op, PyTorch's, and on JAX a scan of Keras's own).
The metric decodes greedily and counts edits with dense, fixed-shape ops (no
ragged or sparse tensors, no `py_function`), because Keras XLA-compiles the
training step on a GPU by default (`jit_compile="auto"`) and always on JAX;
the loss and the metric both compile with `jit_compile=True`.

The decoders and the edit distance are NumPy: they run on arrays, with no
model built.
"""

from __future__ import annotations

import math
from typing import Sequence

import keras
import numpy as np
from keras import ops

# Keras keeps a tensor's mask as its attribute, or, for a tensor that takes none (a JAX array), in a table by
# the tensor's id; this function reads either. Keras exports no public name for it.
from keras.src.backend import get_keras_mask

from . import PACKAGE

NEG_INF = -math.inf
EPSILON = 1e-7  # probabilities are clipped to this before the log, as Keras's cross-entropies do
IMPOSSIBLE_LOSS = 1e5  # PyTorch: the loss of a target that cannot fit in its frames (JAX gives about this)


# ---------------------------------------------------------------- NumPy: lengths, collapse, decoders


def frame_lengths(lengths, batch: int, T: int) -> np.ndarray:
    """The number of real frames of each sequence, `(batch,)` int.

    `lengths`: None (all T frames), counts `(batch,)`, or a sample mask
    `(batch, T)` whose nonzero entries are the real frames (a prefix).
    """
    if lengths is None:
        return np.full(batch, T, dtype=np.int64)
    lengths = np.asarray(lengths)
    if lengths.shape == (batch, T):
        return np.count_nonzero(lengths, axis=1).astype(np.int64)
    if lengths.shape == (batch,):
        counts = lengths.astype(np.int64)
        if (counts < 0).any() or (counts > T).any():
            raise ValueError(f"frame lengths must lie in [0, {T}], got {counts.tolist()}")
        return counts
    raise ValueError(f"lengths must have shape ({batch},) or ({batch}, {T}), not {lengths.shape}")


def collapse(path: Sequence[int], blank: int) -> list[int]:
    """B of Graves et al. (2006): merge runs of a symbol into one, then drop the blanks."""
    out, previous = [], None
    for symbol in path:
        symbol = int(symbol)
        if symbol != previous and symbol != blank:
            out.append(symbol)
        previous = symbol
    return out


def greedy_decode(probs, lengths=None) -> list[list[int]]:
    """Best path decoding: the most probable symbol at each frame, then B (collapse).

    probs: `(batch, T, classes + 1)`, blank last (probabilities or logits:
    the argmax is the same). lengths: see `frame_lengths`.
    Returns one list of label ids a sequence.
    """
    probs = _batch_of_frames(probs)
    batch, T, C = probs.shape
    n = frame_lengths(lengths, batch, T)
    best = probs.argmax(axis=-1)
    return [collapse(best[b, : n[b]], C - 1) for b in range(batch)]


def prefix_beam_search(log_probs, beam_width: int) -> list[tuple[tuple[int, ...], float]]:
    """CTC prefix beam search over one sequence (Graves 2012, section 7.5; Hannun et al. 2014), no language model.

    log_probs: `(T, classes + 1)` natural-log probabilities, blank last.
    Returns the surviving prefixes after the last frame, best first, as
    (labelling, ln p(labelling)); with a beam at least as wide as the
    number of distinct prefixes, every probability is exact and the first is
    the most probable labelling.

    Each prefix carries two probabilities up to frame t: of the paths that
    collapse to it and end in a blank (p_b), and of those ending in its last
    label (p_nb). They are kept apart because a label that repeats the last
    one extends the prefix only after a blank; a repeat right after it
    merges into it.
    """
    log_probs = np.asarray(log_probs, dtype=np.float64)
    if log_probs.ndim != 2:
        raise ValueError(f"log_probs must be (T, classes + 1), not {log_probs.shape}")
    if beam_width < 1:
        raise ValueError(f"beam_width must be at least 1, not {beam_width}")
    blank = log_probs.shape[1] - 1
    beams: dict[tuple[int, ...], tuple[float, float]] = {(): (0.0, NEG_INF)}  # the empty prefix, before any frame
    for frame in log_probs.tolist():  # Python floats: the inner loop is scalar work
        nxt: dict[tuple[int, ...], list[float]] = {}

        def add(prefix, blank_end: bool, value: float) -> None:
            if value == NEG_INF:  # no path: a prefix that no path reaches takes no place in the beam
                return
            entry = nxt.setdefault(prefix, [NEG_INF, NEG_INF])
            i = 0 if blank_end else 1
            entry[i] = _logaddexp(entry[i], value)

        for prefix, (p_b, p_nb) in beams.items():
            total = _logaddexp(p_b, p_nb)
            add(prefix, True, total + frame[blank])  # a blank keeps the labelling
            last = prefix[-1] if prefix else None
            for c in range(blank):
                if frame[c] == NEG_INF:
                    continue
                if c == last:
                    add(prefix, False, p_nb + frame[c])  # c c: merged into the same labelling
                    add(prefix + (c,), False, p_b + frame[c])  # c blank c: a second c
                else:
                    add(prefix + (c,), False, total + frame[c])
        ranked = sorted(nxt.items(), key=lambda kv: (-_logaddexp(*kv[1]), len(kv[0]), kv[0]))
        beams = {prefix: (p_b, p_nb) for prefix, (p_b, p_nb) in ranked[:beam_width]}
    return [(prefix, _logaddexp(p_b, p_nb)) for prefix, (p_b, p_nb) in beams.items()]


def beam_search_decode(probs, beam_width: int = 16, lengths=None, from_logits: bool = False) -> list[list[int]]:
    """The most probable labelling of each sequence, by CTC prefix beam search (see `prefix_beam_search`).

    probs: `(batch, T, classes + 1)` probabilities, blank last (logits with
    `from_logits=True`). lengths: see `frame_lengths`.
    Returns one list of label ids a sequence.
    """
    probs = _batch_of_frames(probs)
    batch, T, _ = probs.shape
    n = frame_lengths(lengths, batch, T)
    log_probs = _log_softmax(probs) if from_logits else _log(probs)
    return [list(prefix_beam_search(log_probs[b, : n[b]], beam_width)[0][0]) for b in range(batch)]


# ---------------------------------------------------------------- NumPy: edit distance, label error rate


def edit_distance(a: Sequence[int], b: Sequence[int]) -> int:
    """Levenshtein distance: the fewest substitutions, insertions and deletions that turn a into b."""
    a, b = list(a), list(b)
    row = list(range(len(b) + 1))  # distances from the empty prefix of a
    for i, x in enumerate(a, 1):
        diagonal, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            diagonal, row[j] = row[j], min(row[j] + 1,  # delete x
                                           row[j - 1] + 1,  # insert y
                                           diagonal + (x != y))  # substitute (free if equal)
    return row[-1]


def strip_padding(targets) -> list[list[int]]:
    """Targets padded with -1, `(batch, L)` (or already lists) -> one list of label ids a sequence."""
    return [[int(v) for v in row if v >= 0] for row in targets]


def label_error_rate(decoded: Sequence[Sequence[int]], targets) -> float:
    """Sum of edit distances(decoded, target) / sum of target lengths (Graves et al. 2006's LER).

    decoded: one list of label ids a sequence (what the decoders return);
    targets: `(batch, L)` padded with -1, or lists. With no target labels at
    all, the total edit distance.
    """
    targets = strip_padding(targets)
    if len(decoded) != len(targets):
        raise ValueError(f"{len(decoded)} decodings for {len(targets)} targets")
    edits = sum(edit_distance(d, z) for d, z in zip(decoded, targets))
    return edits / max(sum(len(z) for z in targets), 1)


# ---------------------------------------------------------------- Keras: the loss


def ctc_nll(targets, y_pred, frames=None, from_logits: bool = False):
    """Per-example -ln p(z | x), `(batch,)`.

    targets: int `(batch, L)` padded with -1; y_pred: `(batch, T, classes + 1)`
    probabilities (logits with `from_logits=True`), blank last, the last
    dimension known; frames: int `(batch,)` real frames, None for all T.
    """
    y_pred = ops.cast(ops.convert_to_tensor(y_pred), "float32")  # float16 log-probabilities lose the tail
    classes_and_blank = y_pred.shape[-1]
    if classes_and_blank is None:
        raise ValueError("CTC needs the number of classes: the last dimension of y_pred must be known")
    if from_logits:
        log_probs = ops.log_softmax(y_pred, axis=-1)
    else:
        # The op normalizes its input with a softmax; on log-probabilities that is the identity.
        log_probs = ops.log(ops.clip(y_pred, EPSILON, 1.0))
    targets = ops.cast(ops.convert_to_tensor(targets), "int32")
    real = targets >= 0
    target_lengths = ops.sum(ops.cast(real, "int32"), axis=1)
    targets = ops.where(real, targets, 0)  # the op reads only the first target_length entries; -1 is no class
    frames = _all_frames(y_pred) if frames is None else ops.cast(frames, "int32")
    if keras.backend.backend() != "torch":
        return ops.ctc_loss(targets, log_probs, target_lengths, frames, mask_index=classes_and_blank - 1)
    # PyTorch's op gives an example that cannot fit infinity, and NaN gradients to the whole batch: such an
    # example is scored with an empty target (finite) and its loss replaced by a constant, with no gradient.
    repeats = ops.sum(ops.cast((targets[:, 1:] == targets[:, :-1]) & real[:, 1:], "int32"), axis=1)
    fits = target_lengths + repeats <= frames
    losses = ops.ctc_loss(targets, log_probs, ops.where(fits, target_lengths, 0), frames,
                          mask_index=classes_and_blank - 1)
    return ops.where(fits, losses, IMPOSSIBLE_LOSS)


@keras.saving.register_keras_serializable(package=PACKAGE)
class CTCLoss(keras.losses.Loss):
    """CTC loss: -ln p(z | x) per example, reduced over the batch (by default its mean).

    `y_true`: int `(batch, L)` targets padded with -1; `y_pred`:
    `(batch, T, classes + 1)` softmax probabilities, blank last (logits with
    `from_logits=True`). Frame lengths come from the Keras mask of `y_pred`
    and a `(batch, T)` `sample_weight` (see the module's docstring); `call`
    alone lets all T frames count.
    """

    def __init__(self, from_logits: bool = False, reduction="sum_over_batch_size", name: str = "ctc", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.from_logits = from_logits

    def call(self, y_true, y_pred):
        return ctc_nll(y_true, y_pred, None, self.from_logits)

    def __call__(self, y_true, y_pred, sample_weight=None):
        # Keras's Loss.__call__ would treat a (batch, T) mask or sample weight as weights of
        # (batch,) losses; here they give the frame lengths, and only then does the batch reduce.
        with keras.name_scope(self.name):
            frames, weights = _frames_and_weights(y_pred, sample_weight)
            losses = ctc_nll(y_true, y_pred, frames, self.from_logits)
            return ops.cast(_reduce(losses, weights, self.reduction), self.dtype)

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits}


def _frames_and_weights(y_pred, sample_weight):
    """(frames `(batch,)` int32 or None, example weights `(batch,)` float32 or None).

    y_pred: `(batch, T, C)`, maybe with a Keras mask `(batch, T)`; sample_weight: None, `(batch,)`,
    `(batch, 1)` or `(batch, T)`.
    """
    mask = get_keras_mask(y_pred)  # set by Keras on a masked layer's output
    weights = None
    if sample_weight is not None:
        sample_weight = ops.cast(ops.convert_to_tensor(sample_weight), "float32")
        if len(sample_weight.shape) == 2 and sample_weight.shape[1] != 1:
            real = sample_weight > 0
            mask = real if mask is None else ops.logical_and(ops.cast(mask, "bool"), real)
            weights = ops.max(sample_weight, axis=1)
        else:
            weights = ops.reshape(sample_weight, (-1,))
    frames = None if mask is None else ops.sum(ops.cast(mask, "int32"), axis=1)
    return frames, weights


def _all_frames(y_pred):
    """`(batch,)` int32, each T: from the tensor rather than its shape, which TensorFlow may know only when it
    runs."""
    return ops.sum(ops.ones_like(y_pred[:, :, 0], dtype="int32"), axis=1)


def _reduce(losses, weights, reduction):
    """Keras's reductions of per-example losses `(batch,)` (keras.losses.Loss), with per-example weights
    `(batch,)` or None: a scalar, or `(batch,)` for `reduction=None` or "none"."""
    if weights is not None:
        losses = ops.where(weights > 0, losses * weights, 0.0)  # a dropped example adds 0, never 0 * inf
    if reduction is None or reduction == "none":
        return losses
    total = ops.sum(losses)
    if reduction == "sum":
        return total
    if reduction == "mean_with_sample_weight" and weights is not None:
        divisor = ops.sum(weights)
    else:
        divisor = ops.cast(ops.shape(losses)[0], "float32")
    mean = ops.divide_no_nan(total, divisor)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf  # the back end: already imported

        # Under tf.distribute each replica's mean is summed across replicas, so it is divided by their number,
        # as Keras's own losses are; JAX and PyTorch reduce over the whole batch.
        mean = mean / tf.distribute.get_strategy().num_replicas_in_sync
    return mean


# ---------------------------------------------------------------- Keras: the metric


@keras.saving.register_keras_serializable(package=PACKAGE)
class LabelErrorRate(keras.metrics.Metric):
    """Label error rate of greedy (best path) decoding, accumulated over batches.

    `update_state(y_true, y_pred, sample_weight=None)`: `y_true` int
    `(batch, L)` padded with -1; `y_pred` `(batch, T, classes + 1)`, blank
    last; frame lengths as for `CTCLoss`; a `(batch,)` weight scales an
    example's edits and labels. `result()`: total edits / total target
    labels (the total edits when there are no labels), as `label_error_rate`.
    """

    def __init__(self, name: str = "label_error_rate", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.edits = self.add_variable(shape=(), initializer="zeros", dtype="float32", name="edits")
        self.labels = self.add_variable(shape=(), initializer="zeros", dtype="float32", name="labels")

    def update_state(self, y_true, y_pred, sample_weight=None):
        frames, weights = _frames_and_weights(y_pred, sample_weight)  # before a conversion drops the mask
        y_pred = ops.convert_to_tensor(y_pred)
        if frames is None:
            frames = _all_frames(y_pred)
        decoded, decoded_lengths = _greedy_dense(y_pred, frames)
        targets = ops.cast(ops.convert_to_tensor(y_true), "int32")
        target_lengths = ops.sum(ops.cast(targets >= 0, "int32"), axis=1)
        edits = ops.cast(_edit_distances(decoded, decoded_lengths, targets, target_lengths), "float32")
        labels = ops.cast(target_lengths, "float32")
        if weights is not None:
            edits, labels = edits * weights, labels * weights
        self.edits.assign_add(ops.sum(edits))
        self.labels.assign_add(ops.sum(labels))

    def result(self):
        return self.edits / ops.maximum(self.labels, 1.0)

    def reset_state(self):
        self.edits.assign(0.0)
        self.labels.assign(0.0)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


# The metric runs inside the training step, which Keras XLA-compiles on a GPU by default (and JAX always
# compiles): so it is written with dense, fixed-shape ops only, no ragged or sparse tensors, and no
# `keras.ops.ctc_decode` (sparse on TensorFlow).


def _greedy_dense(y_pred, frames):
    """Best path decoding: `(batch, T, C)` scores, `(batch,)` frames -> (`(batch, T)` int32 label ids
    left-aligned and padded with -1, `(batch,)` int32 their counts)."""
    best = ops.cast(ops.argmax(y_pred, axis=-1), "int32")
    blank = ops.shape(y_pred)[-1] - 1
    T = ops.shape(best)[1]
    t = ops.cast(ops.arange(T), "int32")[None, :]
    previous = ops.pad(best[:, :-1], [[0, 0], [1, 0]], constant_values=-1)
    # A frame emits its symbol when it starts a new run (B merges the run) and is not a blank.
    keep = ops.logical_and(ops.logical_and(ops.not_equal(best, previous), ops.not_equal(best, blank)),
                           t < ops.cast(frames, "int32")[:, None])
    order = ops.argsort(ops.where(keep, t, t + T), axis=1)  # the kept frames first, in time order (keys unique)
    count = ops.sum(ops.cast(keep, "int32"), axis=1)
    labels = ops.take_along_axis(best, order, axis=1)
    return ops.where(t < count[:, None], labels, -1), count


def _edit_distances(h, h_len, z, z_len):
    """Levenshtein distances `(batch,)` int32 between the first h_len[b] ids of h[b] `(batch, H)` and the
    first z_len[b] of z[b] `(batch, L)` (int32 all).

    The table D[i, j] (distance between the first i of h and the first j of
    z) is filled one anti-diagonal d = i + j at a time: a cell needs only
    the two diagonals before it, so the loop runs H + L steps of vector work
    over the batch and the L + 1 columns. At step d, `last[b, j]` holds
    D[d - 1 - j, j] and `before[b, j]` holds D[d - 2 - j, j].
    """
    H, L = ops.shape(h)[1], ops.shape(z)[1]
    far = 1 << 30  # D of a cell outside the table: never the minimum
    j = ops.cast(ops.arange(L + 1), "int32")[None, :]
    zeros = ops.zeros_like(h_len)[:, None] + ops.zeros_like(j)  # (batch, L + 1); shapes from tensors, not ints
    z_at_j = ops.pad(z, [[0, 0], [1, 0]], constant_values=-2)  # z[j - 1]; column 0 reads no label
    top = ops.maximum(H - 1, 0)

    def shift(diagonal):  # entry j <- entry j - 1
        return ops.pad(diagonal[:, :-1], [[0, 0], [1, 0]], constant_values=far)

    def step(d, state):
        before, last, found = state
        i = d - j
        # h[i - 1] for each j: the same rows in every example, so one gather along the time axis.
        # A row outside the table reads any id (clipped): its cells never reach D[h_len, z_len].
        h_at_i = ops.take(h, ops.clip(i[0] - 1, 0, top), axis=1)
        substitute = ops.cast(ops.not_equal(h_at_i, z_at_j), "int32")
        cell = ops.minimum(ops.minimum(last + 1,  # D[i-1, j] + 1: delete h[i-1]
                                       shift(last) + 1),  # D[i, j-1] + 1: insert z[j-1]
                           shift(before) + substitute)  # D[i-1, j-1]: match, or substitute
        cell = ops.where(i >= 0, cell, far)
        at_end = ops.sum(ops.where(j == z_len[:, None], cell, 0), axis=1)  # D[d - z_len, z_len]
        found = ops.where(d == h_len + z_len, at_end, found)
        return last, cell, found  # the diagonal d - 1 becomes the one before

    start = ops.where(j == 0, zeros, zeros + far)  # d = 0: D[0, 0] = 0
    _, _, found = ops.fori_loop(1, H + L + 1, step, (zeros + far, start, ops.zeros_like(h_len)))
    return found


# ---------------------------------------------------------------- helpers


def _batch_of_frames(probs) -> np.ndarray:
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 3 or probs.shape[-1] < 1:
        raise ValueError(f"expected (batch, T, classes + 1) scores, not shape {probs.shape}")
    return probs


def _log(probs: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):  # ln 0 = -inf: a symbol the network never emits
        return np.log(probs)


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _logaddexp(a: float, b: float) -> float:
    """ln(e^a + e^b) for Python floats, exact at -inf."""
    if a == NEG_INF:
        return b
    if b == NEG_INF:
        return a
    if a < b:
        a, b = b, a
    return a + math.log1p(math.exp(b - a))
