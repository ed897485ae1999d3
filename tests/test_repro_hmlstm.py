"""Training reproduction of the hierarchical multiscale LSTM (issue 19; Chung, Ahn & Bengio 2017): on generated
text with words and sentences, the boundaries its first layer's detector z1 learns, against the true word
boundaries (precision and recall), beside a detector firing at random at the same rate. Marked `slow`:
`make repro` runs it, in well under 10 minutes on 2 CPU cores.

The text (`text`): a vocabulary of 24 made-up words over the 9 letters of LETTERS, 2 to 6 letters long, no word
the prefix of another (drawn once, from seed 1000), in four classes of 6: subjects, adverbs, verbs, objects.
A sentence is a subject, 0 to 2 adverbs, a verb and an object, the words separated by one space and the last
followed by a full stop; the verb agrees with the subject (the first three subjects go with the first three
verbs, the last three with the last three). Sentences follow one another separated by a space. Each sequence
starts at a sentence's start and is cut after T + 1 characters; the network reads T one-hot characters and
predicts the next at every step.

The network: the standard library's HMLSTM(32) (specs/std/hmlstm.rnn, through the Python API,
rnndsl.keras.cell.cell_rnn, observing its outputs y, z1 and z2 side by side), then Dense(11, softmax) on y.
`slope` is a hyperparameter of the spec, fixed in a built cell, so it is annealed by rebuilding: training runs
in stages at slope 1, 2, 3, 4 and 5 (the paper raises it from 1 toward 5), each stage a model built at its
slope with the last stage's weights and Adam's moments carried over.

A word boundary is the step whose character is a word's last letter (the paper's figures show z1 firing at the
ends of words; the detector fires at t to end the segment there, so that the top layer reads the word at t and
the bottom layer starts afresh at t + 1). z1 is read as the cell computes it, 1 or 0. Precision: the share of
the steps where z1 = 1 that are word boundaries; recall: the share of word boundaries where z1 = 1. A detector
firing at random at the same rate r reaches, in expectation, precision b (the boundaries' share of the steps)
and recall r; one firing at random among the letters alone, precision b / (the letters' share of the steps).
The figures against the step after the last letter (the space or the full stop) and against words' first
letters are recorded too, and the detector's rate at each kind of step.

docs/reproductions.md records the figures reached, and how they compare with the paper's claim.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

import rnndsl
from test_repro import _keras, _record

pytestmark = pytest.mark.slow

SPEC = Path(__file__).resolve().parents[1] / "specs" / "std" / "hmlstm.rnn"
LETTERS = "abdikmotu"
CHARS = LETTERS + " ."  # 11 characters: the letters, the space, the full stop
SPACE, STOP = len(LETTERS), len(LETTERS) + 1
UNITS, T, BATCH = 32, 100, 64
SLOPES, STEPS_PER_SLOPE, LEARNING_RATE = (1.0, 2.0, 3.0, 4.0, 5.0), 250, 3e-3
SEED = 0


def vocabulary(seed: int = 1000, classes: int = 4, per_class: int = 6, lengths=(2, 6)) -> list:
    """`classes` lists of `per_class` distinct made-up words of LETTERS, `lengths` letters long (inclusive),
    none the prefix of another."""
    rng = np.random.default_rng(seed)
    words, out = [], []
    for _ in range(classes):
        kind = []
        while len(kind) < per_class:
            w = "".join(rng.choice(list(LETTERS), int(rng.integers(lengths[0], lengths[1] + 1))))
            if not any(w.startswith(v) or v.startswith(w) for v in words):
                words.append(w)
                kind.append(w)
        out.append(kind)
    return out


def sentence(rng, words: list) -> str:
    """A subject, 0 to 2 adverbs, a verb agreeing with the subject, an object; a full stop after the last."""
    subjects, adverbs, verbs, objects = words
    half = len(subjects) // 2
    number = int(rng.integers(2))  # which half of the subjects, and so of the verbs
    chosen = [subjects[number * half + int(rng.integers(half))]]
    chosen += [adverbs[int(rng.integers(len(adverbs)))] for _ in range(int(rng.integers(3)))]
    chosen += [verbs[number * half + int(rng.integers(half))], objects[int(rng.integers(len(objects)))]]
    return " ".join(chosen) + "."


def text(rng, words: list, n: int) -> str:
    """The first n characters of sentences separated by a space."""
    out = ""
    while len(out) < n:
        out += sentence(rng, words) + " "
    return out[:n]


def character_data(seed: int, count: int, words: list):
    """`count` sequences of T characters (indices into CHARS), the next character at each step, and where the
    word boundaries are (a word's last letter: a letter followed by a space or a full stop)."""
    rng = np.random.default_rng(seed)
    index = {c: i for i, c in enumerate(CHARS)}
    chars = np.array([[index[c] for c in text(rng, words, T + 1)] for _ in range(count)])
    x, y = chars[:, :-1], chars[:, 1:]
    return x, y, (x < SPACE) & (y >= SPACE)


def _model(program, slope: float):
    """One-hot characters (batch, T, 11) -> (the next character's probabilities, [z1, z2] at every step)."""
    keras = _keras(SEED)
    from rnndsl.keras.cell import cell_rnn

    x = keras.Input((None, len(CHARS)))
    seen = cell_rnn(program, "HMLSTM", input_dim=len(CHARS), outputs=["y", "z1", "z2"], units=UNITS, slope=slope,
                    name="hmlstm")(x)
    p = keras.layers.Dense(len(CHARS), activation="softmax", name="next")(seen[..., :2 * UNITS])
    return keras.Model(x, [p, seen[..., 2 * UNITS:]], name="hmlstm_text")


def _train(program, x, y):
    """Train by stages of SLOPES, STEPS_PER_SLOPE batches each; the last stage's model and the seconds taken."""
    import keras
    import tensorflow as tf

    started = time.perf_counter()
    eye = np.eye(len(CHARS), dtype="float32")
    rng = np.random.default_rng(SEED)
    model = optimizer = None
    for slope in SLOPES:
        built = _model(program, slope)
        carried = keras.optimizers.Adam(LEARNING_RATE, clipnorm=1.0)
        carried.build(built.trainable_variables)
        if model is not None:  # the last stage's weights and Adam's moments
            built.set_weights(model.get_weights())
            assert len(optimizer.variables) == len(carried.variables)
            for old, new in zip(optimizer.variables, carried.variables):
                assert old.shape == new.shape and old.name == new.name
                new.assign(old)
        model, optimizer = built, carried

        @tf.function(autograph=False)  # no Python control flow to convert
        def step(xb, yb):
            with tf.GradientTape() as tape:
                p, _ = model(xb, training=True)
                loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(yb, p))
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            return loss

        for _ in range(STEPS_PER_SLOPE):
            batch = rng.integers(0, len(x), BATCH)
            assert np.isfinite(float(step(eye[x[batch]], y[batch])))
    return model, time.perf_counter() - started


def _scores(fired: np.ndarray, truth: np.ndarray) -> dict:
    """Precision, recall and F1 of the steps `fired` against `truth`, and those a detector firing at random at
    the same rate reaches in expectation."""
    hits = float((fired & truth).sum())
    precision, recall = hits / max(fired.sum(), 1), hits / truth.sum()
    rate, share = float(fired.mean()), float(truth.mean())
    f1 = 2 * precision * recall / max(precision + recall, 1e-12)
    chance_f1 = 2 * share * rate / max(share + rate, 1e-12)
    return {k: round(v, 4) for k, v in dict(precision=precision, recall=recall, f1=f1, rate=rate,
                                            chance_precision=share, chance_recall=rate, chance_f1=chance_f1).items()}


def test_the_text_has_words_and_sentences():
    words = vocabulary()
    flat = [w for kind in words for w in kind]
    assert len(set(flat)) == 24 and {len(w) for w in flat} <= set(range(2, 7)) and len({len(w) for w in flat}) > 2
    sample = text(np.random.default_rng(0), words, 2000)
    assert sample == text(np.random.default_rng(0), words, 2000)  # deterministic
    for s in sample.split(". ")[:-1]:
        said = s.split(" ")
        assert said[0] in words[0] and said[-2] in words[2] and said[-1] in words[3]
        assert all(w in words[1] for w in said[1:-2]) and len(said) <= 5
        assert words[0].index(said[0]) // 3 == words[2].index(said[-2]) // 3  # agreement
    x, y, ends = character_data(3, 4, words)
    assert x.shape == y.shape == ends.shape == (4, T)
    np.testing.assert_array_equal(x[:, 1:], y[:, :-1])


def test_hmlstm_boundaries_against_word_boundaries(tmp_path):
    started = time.perf_counter()
    program = rnndsl.load(SPEC)
    words = vocabulary()
    x, y, _ = character_data(1, 20_000, words)
    tx, ty, ends = character_data(2, 500, words)
    model, seconds = _train(program, x, y)
    eye = np.eye(len(CHARS), dtype="float32")
    p, z = model.predict(eye[tx], verbose=0, batch_size=250)
    assert set(np.unique(z)) <= {0.0, 1.0}  # the detectors as the cell computes them
    bits = float(-np.log2(np.take_along_axis(p, ty[..., None], -1)).mean())
    frequencies = np.bincount(y.ravel(), minlength=len(CHARS)) / y.size
    unigram = float(-np.log2(frequencies[ty]).mean())  # the characters' frequencies alone
    z1, z2 = z[..., 0] > 0.5, z[..., 1] > 0.5
    after = np.zeros_like(ends)
    after[:, 1:] = ends[:, :-1]  # the space or full stop after a word's last letter
    first = np.zeros_like(ends)
    first[:, 1:] = tx[:, :-1] == SPACE  # a word's first letter (but at the sequence's start)
    last_of_sentence = ends & (ty == STOP)
    inner = (tx < SPACE) & ~ends & ~first
    kinds = {"last letter": ends, "space": tx == SPACE, "full stop": tx == STOP, "first letter": first,
             "other letters": inner}
    rates = {k: round(float(z1[m].mean()), 3) for k, m in kinds.items()}
    words_at_end = _scores(z1, ends)
    words_after = _scores(z1, after)
    words_start = _scores(z1, first)
    sentences = _scores(z2, last_of_sentence | (tx == STOP))
    # a detector firing at random among the letters alone (where words end) reaches this precision
    words_at_end["chance_precision_among_letters"] = round(float(ends.sum() / (tx < SPACE).sum()), 4)
    _record(f"HM-LSTM({UNITS}) on generated words and sentences: z1 against word ends", "precision, recall of z1",
            [words_at_end["precision"], words_at_end["recall"]],
            "reported, not asserted: the paper's word-end boundaries are not reached", SEED, started, seconds_training=round(seconds, 1),
            bits_per_char=round(bits, 3), unigram_bits_per_char=round(unigram, 3), z1_vs_last_letter=words_at_end,
            z1_vs_space_or_stop=words_after, z1_vs_first_letter=words_start, z1_rate_by_step=rates,
            z2_vs_sentence_end=sentences, z2_rate=round(float(z2.mean()), 3), slopes=list(SLOPES),
            steps=STEPS_PER_SLOPE * len(SLOPES))
    assert bits < 0.65 and bits < unigram - 2  # it learnt the text
    # No threshold on precision and recall against word ends: no seed or setting tried reached the paper's
    # claim (docs/reproductions.md), and seed 0's figures clear chance only because z1 is silent at the spaces.
    # What seeds 0, 1 and 2 share: the detector neither always nor never fires, and keeps silent at the spaces.
    assert 0.1 < words_at_end["rate"] < 0.9 and rates["space"] < 0.2
