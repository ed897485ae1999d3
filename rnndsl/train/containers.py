"""containers: what a data source gives, batch first (n sequences, T steps, f features).

- `Split`: one set of examples: `inputs`, one array per network input, float32 `(n, T, f)` or
  `(n, f)`, or int32 token ids `(n, T)` where 0 pads; `targets`, float32 `(n, ...)`, or int32
  class or token ids `(n,)` / `(n, T)`; `sample_weight`, None, or float32 `(n,)` / `(n, T)`:
  0 at padded steps, 1 elsewhere;
- `Vocabulary`: tokens and their ids, the special ones first (`SPECIALS`: PAD, UNK, START, END);
- `Data`: a training split, and a validation and a test split where the source has them, with
  the vocabularies and class names of token data.

`teacher_forced` and `padded` lay out token id sequences as these arrays. NumPy only.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from ..lang.errors import DataError
from ..lang.wording import cut
from .files import read_text

__all__ = ["Split", "Vocabulary", "Data", "SPECIALS", "PAD", "UNK", "START", "END", "teacher_forced", "padded"]


@dataclass(frozen=True, eq=False)
class Split:
    """One set of examples. `inputs`: one array per network input, float32 `(n, T, f)` or
    `(n, f)`, or int32 token ids `(n, T)`; `targets`: `(n, ...)` float32, or int32 ids;
    `sample_weight`: None, or `(n,)` / `(n, T)`, 0 at padded steps and 1 elsewhere."""

    inputs: tuple
    targets: np.ndarray
    sample_weight: Optional[np.ndarray] = None

    def __post_init__(self):
        object.__setattr__(self, "inputs", tuple(self.inputs))  # a list is accepted

    @property
    def size(self) -> int:
        """The number of examples, n."""
        return int(len(self.targets))

    def subset(self, rows) -> "Split":
        """The examples at `rows` (indices into the first axis), in that order."""
        weight = None if self.sample_weight is None else self.sample_weight[rows]
        return Split(tuple(a[rows] for a in self.inputs), self.targets[rows], weight)


SPECIALS = ("<pad>", "<unk>", "<s>", "</s>")
PAD, UNK, START, END = range(4)


@dataclass(frozen=True)
class Vocabulary:
    """Tokens and their ids: `tokens[i]` is the token of id i. Ids 0-3 are `<pad>` (padding,
    which an Embedding with mask_zero skips), `<unk>` (a token not in the vocabulary), `<s>`
    and `</s>` (a sequence's start and end); the rest follow."""

    tokens: tuple
    _ids: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        tokens = tuple(self.tokens)
        if tokens[:len(SPECIALS)] != SPECIALS:
            raise ValueError(f"a vocabulary starts with {', '.join(SPECIALS)}")
        if not all(isinstance(t, str) for t in tokens):
            raise ValueError("a vocabulary's tokens are strings")
        ids = {t: i for i, t in enumerate(tokens)}
        if len(ids) != len(tokens):
            twice = next(t for t, k in Counter(tokens).items() if k > 1)
            raise ValueError(f"token `{cut(twice)}` is in the vocabulary twice")
        object.__setattr__(self, "tokens", tokens)
        object.__setattr__(self, "_ids", ids)

    @classmethod
    def build(cls, sequences, *, min_count: int = 1) -> "Vocabulary":
        """The vocabulary of a corpus (an iterable of token sequences): the special tokens, then
        every token seen at least `min_count` times, the most frequent first (ties in string
        order, so that the same corpus gives the same ids)."""
        counts = Counter(t for sequence in sequences for t in sequence)
        kept = sorted((t for t, k in counts.items() if k >= min_count and t not in SPECIALS),
                      key=lambda t: (-counts[t], t))
        return cls(SPECIALS + tuple(kept))

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token) -> bool:
        return token in self._ids

    def encode(self, tokens) -> list:
        """Ids of `tokens`; a token not in the vocabulary is `<unk>` (1)."""
        return [self._ids.get(t, UNK) for t in tokens]

    def decode(self, ids, *, strip: bool = False) -> list:
        """Tokens of `ids`. With `strip`, `<pad>` and `<s>` are left out and `</s>` ends the sequence."""
        out = []
        for i in ids:
            i = int(i)
            if strip and i == END:
                break
            if not strip or i not in (PAD, START):
                out.append(self.tokens[i])
        return out

    def save(self, path) -> None:
        """Write the vocabulary as JSON, `{"tokens": [...]}` in id order."""
        text = json.dumps({"tokens": list(self.tokens)}, ensure_ascii=False, indent=0)
        Path(path).write_text(text + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path) -> "Vocabulary":
        """Read a vocabulary that `save` wrote; a `DataError` if it is missing or is not one."""
        path = Path(path)
        try:
            found = json.loads(read_text(path))
        except json.JSONDecodeError as e:
            raise DataError(f"{path}:{e.lineno}: not JSON: {e.msg}") from None
        except RecursionError:
            raise DataError(f"{path}: not a vocabulary: JSON nested too deeply") from None
        tokens = found.get("tokens") if isinstance(found, dict) else None
        if not isinstance(tokens, list):
            raise DataError(f'{path}: not a vocabulary: expected {{"tokens": [...]}}')
        try:
            return cls(tuple(tokens))
        except ValueError as e:
            raise DataError(f"{path}: not a vocabulary: {e}") from None


@dataclass(frozen=True, eq=False)
class Data:
    """What a source gives: the splits, the vocabularies of token sequences (`pairs`, `dates`,
    `jsonl`), the names of class ids where the data named its classes (`classes[i]` is the
    name of id i), and a one-line description for the user."""

    train: Split
    validation: Optional[Split]
    test: Optional[Split]
    source_vocabulary: Optional[Vocabulary] = None
    target_vocabulary: Optional[Vocabulary] = None
    description: str = ""
    classes: tuple = ()


def teacher_forced(targets: list, length: int) -> tuple:
    """(decoder inputs, targets, weights), int32 `(n, length)` twice and float32 `(n, length)`,
    from target id sequences that end with `</s>`: the decoder reads `<s>` and then the target
    shifted right by one; padding is 0 with weight 0."""
    n = len(targets)
    decoder = np.zeros((n, length), "int32")
    y = np.zeros((n, length), "int32")
    for i, ids in enumerate(targets):
        y[i, :len(ids)] = ids
        decoder[i, :len(ids)] = [START] + ids[:-1]
    return decoder, y, (y != PAD).astype("float32")


def padded(sequences: list, length: int) -> np.ndarray:
    """int32 `(n, length)`: id sequences padded at the end with 0."""
    out = np.zeros((len(sequences), length), "int32")
    for i, ids in enumerate(sequences):
        out[i, :len(ids)] = ids
    return out
