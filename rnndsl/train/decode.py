"""decode: a trained run's outputs decoded into label or token sequences (`rnndsl predict`).

A CTC model's frame probabilities become label sequences, greedily (`padded_labels` of
`rnndsl.keras.ctc.greedy_decode`, as `rnndsl.train.saved_run.predict` gives them) or by prefix
beam search (`ctc_beam_labels`). An encoder-decoder decodes freely from its sources alone
(`decode_freely`), its tokens named by the vocabularies saved beside its model
(`saved_vocabularies`), and `draw_attention` draws one source's attention as a heat map.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from ..lang.errors import UsageError
from .containers import Vocabulary
from .model_checks import check_token_ids

__all__ = ["padded_labels", "ctc_beam_labels", "saved_vocabularies", "token_names", "decode_freely", "draw_attention"]


def padded_labels(decoded: list) -> np.ndarray:
    """int32 `(n, L)`: label id sequences (a list of n lists), padded at the end with -1 to the
    longest, L (0 when every one is empty)."""
    labels = np.full((len(decoded), max((len(d) for d in decoded), default=0)), -1, "int32")
    for i, d in enumerate(decoded):
        labels[i, :len(d)] = d
    return labels


def ctc_beam_labels(outputs, beam: int) -> np.ndarray:
    """CTC labels by prefix beam search keeping `beam` hypotheses: `outputs`, a CTC model's
    probabilities `(n, T, classes + 1)` with the blank last, to int32 `(n, L)` padded with -1."""
    from ..keras.ctc import beam_search_decode

    return padded_labels(beam_search_decode(outputs, beam))


def saved_vocabularies(folder: Path) -> dict:
    """{"source": Vocabulary, "target": Vocabulary}: those that a run of token data saved in `folder`."""
    return {name: Vocabulary.load(folder / f"{name}.vocabulary.json")
            for name in ("source", "target") if (folder / f"{name}.vocabulary.json").exists()}


def token_names(ids: list, vocabulary: Optional[Vocabulary]) -> list:
    """The tokens of `ids` by `vocabulary`; an id it lacks (or any id, without one) as its number."""
    if vocabulary is None:
        return [str(i) for i in ids]
    return [vocabulary.tokens[i] if 0 <= i < len(vocabulary) else str(i) for i in ids]


def decode_freely(saved, given: dict, *, beam: int = 1) -> tuple:
    """(the `Decoded` of rnndsl.keras.seq2seq, what `rnndsl predict` saves of it): the encoder-decoder
    of the run `saved` (a SavedRun) decoding the sources in `given` ({input name: array}) greedily,
    or by beam search keeping `beam` hypotheses. The arrays: `tokens` int32 `(n, L)`, `scores`
    `(n,)`, with attention `alignments` `(n, L, S)`, and with a saved target vocabulary `text`."""
    from ..keras.seq2seq import decode, decoded_arrays

    target_vocabulary = saved_vocabularies(saved.out).get("target")  # a damaged one is reported first
    check_token_ids(saved.model, [given.get(t.name) for t in saved.model.inputs], "the inputs")
    decoded = decode(saved.model, given, beam=beam)
    return decoded, decoded_arrays(decoded, target_vocabulary)


def draw_attention(saved, given: dict, decoded, example: int, path) -> None:
    """Save the attention of the `example`-th source of `given` over its decoding (`decoded`, with
    alignments) as a PNG heat map at `path`: a row per output token to `</s>`, a column per source
    token (padding left out; a source of feature vectors has a column per step), tokens named by
    the run's saved vocabularies. A UsageError where the file cannot be written."""
    from ..keras.seq2seq import heat_map, source_names

    vocabularies = saved_vocabularies(saved.out)
    source = np.asarray(given[source_names(saved.model)[0]])[example]
    source_ids = [int(i) for i in source if int(i) != 0] if source.ndim == 1 else list(range(len(source)))
    output_ids = [int(i) for i in decoded.tokens[example]]
    output_ids = output_ids[:output_ids.index(0)] if 0 in output_ids else output_ids
    try:
        heat_map(decoded.alignments[example], token_names(source_ids, vocabularies.get("source")),
                 token_names(output_ids, vocabularies.get("target")), path)
    except OSError as e:
        raise UsageError(f"cannot write {path}: {e.strerror}") from None
