"""Free decoding's search over the tokens of a step function: greedy, and beam search.

Pure NumPy over a step function `step(tokens (n,), carry) -> (log probabilities
(n, vocab), the new carry, alignments (n, S) or None)`, each of the n rows one
hypothesis; rnndsl.keras.seq2seq gives the step of a model's decoder.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np


@dataclass
class Decoded:
    """Free decoding's result for a batch: `tokens` int32 (batch, L), each sequence ended by `</s>`
    and padded with 0 after it (or cut at the maximum length); `scores` (batch,) the log
    probability of each sequence; `alignments` (batch, L, S), each step's attention over the
    source (None without attention)."""

    tokens: np.ndarray
    scores: np.ndarray
    alignments: Optional[np.ndarray]


def greedy(step: Callable, carry: tuple, batch: int, *, start: int, end: int, max_length: int) -> Decoded:
    """Feed each step's most probable token back until every row has given `end` (or `max_length`
    steps). `step(tokens (n,), carry) -> (log probs (n, V), carry, alignments (n, S) or None)`."""
    tokens = np.full(batch, start, "int32")
    done = np.zeros(batch, bool)
    out, scores, aligned = [], np.zeros(batch), []
    for _ in range(max_length):
        log_probs, carry, alignment = step(tokens, carry)
        tokens = log_probs.argmax(axis=-1).astype("int32")
        scores += np.where(done, 0.0, log_probs[np.arange(batch), tokens])
        out.append(np.where(done, 0, tokens))
        if alignment is not None:
            aligned.append(np.where(done[:, None], 0.0, alignment))
        done |= tokens == end
        if done.all():
            break
    return Decoded(np.stack(out, axis=1).astype("int32"), scores, np.stack(aligned, axis=1) if aligned else None)


def beam_search(step: Callable, carry: tuple, batch: int, *, beam: int, start: int, end: int,
                max_length: int) -> Decoded:
    """The most probable sequences found by keeping, at every step, the `beam` most probable
    prefixes of each source (Graves 2012; Sutskever, Vinyals & Le 2014). A prefix that gives `end`
    is finished; the search for a source stops when its best finished sequence is at least as
    probable as every unfinished prefix (log probabilities only fall as a prefix grows), or at
    `max_length` steps, where unfinished prefixes count as they are. With `beam` at least the
    number of prefixes of every length, it is the exhaustive search.

    `step` and `carry` are as for `greedy`, over rows `source * beam + k`."""
    rows = np.repeat(np.arange(batch), beam)
    carry = tuple(a[rows] for a in carry)
    tokens = np.full(batch * beam, start, "int32")
    # only one live copy of the start: the others begin at -inf, so the first step does not repeat it
    scores = np.tile(np.r_[0.0, np.full(beam - 1, -np.inf)], batch)
    history = np.zeros((batch * beam, 0), "int32")
    aligned = None
    best = [(-np.inf, None, None)] * batch  # (score, tokens, alignments) of each source's best finished
    live = np.ones(batch, bool)
    for length in range(1, max_length + 1):
        log_probs, carry, alignment = step(tokens, carry)
        vocab = log_probs.shape[-1]
        total = (scores[:, None] + log_probs).reshape(batch, beam * vocab)
        picked = np.argsort(-total, axis=1, kind="stable")[:, :beam]  # (batch, beam)
        parent = (np.arange(batch)[:, None] * beam + picked // vocab).reshape(-1)
        tokens = (picked % vocab).reshape(-1).astype("int32")
        scores = np.take_along_axis(total, picked, axis=1).reshape(-1)
        history = np.concatenate([history[parent], tokens[:, None]], axis=1)
        if alignment is not None:
            step_alignment = alignment[parent][:, None, :]
            aligned = step_alignment if aligned is None else np.concatenate([aligned[parent], step_alignment], axis=1)
        carry = tuple(a[parent] for a in carry)
        ended = (tokens == end) | (length == max_length)
        for row in np.flatnonzero(ended & np.isfinite(scores)):
            source = row // beam
            if live[source] and scores[row] > best[source][0]:
                best[source] = (scores[row], history[row], None if aligned is None else aligned[row])
        scores = np.where(tokens == end, -np.inf, scores)  # a finished prefix grows no further
        for source in np.flatnonzero(live):
            if best[source][0] >= scores[source * beam:(source + 1) * beam].max():
                live[source] = False
        if not live.any():
            break
    width = max(len(t) for _, t, _ in best)
    out = np.zeros((batch, width), "int32")
    for i, (_, t, _) in enumerate(best):
        out[i, :len(t)] = t
    alignments = None
    if aligned is not None:
        alignments = np.zeros((batch, width, aligned.shape[-1]))
        for i, (_, t, a) in enumerate(best):
            alignments[i, :len(t)] = a
    return Decoded(out, np.array([s for s, _, _ in best]), alignments)
