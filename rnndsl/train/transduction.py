"""transduction: generated tasks whose targets are sequences of their own length.

A synthetic speech task for connectionist temporal classification (`speech`), and dates in
words to ISO 8601 for an encoder-decoder (`dates`). Source functions as in
rnndsl.train.generators, named by `TRANSDUCTION`. NumPy only.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np

from .containers import END, Data, Split, Vocabulary, padded, teacher_forced
from .generators import draw_order, generated_data

__all__ = ["TRANSDUCTION", "MONTHS"]


def speech(base: Path, seed: int, *, train: int, test: int, validation: int, phonemes: int, features: int,
           min_labels: int, max_labels: int, min_frames: int, max_frames: int, noise: float) -> Data:
    """A synthetic speech-like task for connectionist temporal classification (Graves et al.
    2006, "Connectionist temporal classification"): label unsegmented sequences of frames.

    Each phoneme has a fixed random prototype, a standard normal vector of `features`. An
    utterance is a random sequence of `min_labels` to `max_labels` phonemes, no phoneme twice in
    a row (so that every segment boundary shows in the frames); each phoneme lasts `min_frames`
    to `max_frames` frames, each frame its prototype plus Gaussian noise.

    inputs: float32 `(n, T, features)`, padded at the end with zeros to the longest utterance of
    all the splits; sample_weight: float32 `(n, T)`, the frame mask (1 at real frames; an
    utterance's input length is its sum). targets: int32 `(n, max_labels)` phoneme ids 0 to
    phonemes - 1, padded with -1 (a label length is the count of ids >= 0). Keras's own CTC
    loss takes 0 as the blank: add 1 to the ids (and pad with 0) for it."""
    rng = np.random.default_rng(seed)
    prototypes = rng.normal(size=(phonemes, features))

    def utterance():
        count = int(rng.integers(min_labels, max_labels + 1))
        # each next label is a different phoneme: a step of 1 to phonemes - 1 around the inventory
        labels = np.cumsum(np.concatenate([[rng.integers(phonemes)], rng.integers(1, phonemes, size=count - 1)]))
        labels %= phonemes
        durations = rng.integers(min_frames, max_frames + 1, size=count)
        frames = np.repeat(prototypes[labels], durations, axis=0)
        return labels, frames + noise * rng.normal(size=frames.shape)

    drawn = {name: [utterance() for _ in range(k)] for name, k in draw_order(train, test, validation)}
    steps = max(len(frames) for utterances in drawn.values() for _, frames in utterances)
    made = {}
    for name, utterances in drawn.items():
        n = len(utterances)
        x = np.zeros((n, steps, features), "float32")
        w = np.zeros((n, steps), "float32")
        y = np.full((n, max_labels), -1, "int32")
        for i, (labels, frames) in enumerate(utterances):
            x[i, :len(frames)] = frames
            w[i, :len(frames)] = 1.0
            y[i, :len(labels)] = labels
        made[name] = Split((x,), y, w)
    task = f"synthetic speech (CTC), {phonemes} phonemes in {features} features, up to {steps} frames"
    return generated_data(made, task, "utterances")


MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december")
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_UNITS = ("", "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth")
_TEENS = ("tenth", "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth", "seventeenth",
          "eighteenth", "nineteenth")
_FIRST_DAY, _LAST_DAY = datetime.date(1900, 1, 1), datetime.date(2099, 12, 31)


def _ordinal_word(day: int) -> str:
    """1 -> "first", 23 -> "twenty-third", 30 -> "thirtieth"."""
    if day < 10:
        return _UNITS[day]
    if day < 20:
        return _TEENS[day - 10]
    tens, unit = divmod(day, 10)
    tens_word = ("twenty", "thirty")[tens - 2]
    return f"{tens_word}-{_UNITS[unit]}" if unit else tens_word[:-1] + "ieth"


def _ordinal_suffix(day: int) -> str:
    """1 -> "1st", 12 -> "12th", 23 -> "23rd"."""
    suffix = "th" if 10 <= day % 100 < 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def _date_words(date: datetime.date, style: int) -> str:
    """A date written in one of six styles, lower case, tokens separated by spaces."""
    month, day, year = MONTHS[date.month - 1], date.day, str(date.year)
    return (f"the {_ordinal_word(day)} of {month} {year}",
            f"{month} {_ordinal_word(day)} {year}",
            f"{day} {month} {year}",
            f"{month} {day} , {year}",
            f"the {_ordinal_suffix(day)} of {month[:3]} {year}",
            f"{_WEEKDAYS[date.weekday()]} , {month} {day} , {year}")[style]


_DATE_STYLES = 6


def _date_vocabularies() -> tuple:
    """(source, target): every word any style writes, and the characters of ISO dates."""
    words = {"the", "of", ","} | set(MONTHS) | {m[:3] for m in MONTHS} | set(_WEEKDAYS)
    words |= {w for d in range(1, 32) for w in (_ordinal_word(d), _ordinal_suffix(d), str(d))}
    words |= {str(y) for y in range(_FIRST_DAY.year, _LAST_DAY.year + 1)}
    return Vocabulary.build([sorted(words)]), Vocabulary.build([list("0123456789-")])


def dates(base: Path, seed: int, *, train: int, test: int, validation: int) -> Data:
    """A toy translation task: dates written in words ("the twenty-third of march 1994",
    "march 23 , 1994", "wednesday , march 23 , 1994", six styles) to ISO 8601 ("1994-03-23"),
    for an encoder-decoder (Sutskever, Vinyals & Le 2014; Bahdanau, Cho & Bengio 2015) trained
    with teacher forcing. Dates are uniform over 1900-2099; source tokens are words, target
    tokens characters.

    inputs: (source ids int32 `(n, S)` padded with 0, decoder input ids int32 `(n, 11)`: `<s>` and
    the target shifted right); targets: int32 `(n, 11)`, the 10 characters and `</s>`;
    sample_weight `(n, 11)`, 0 at padding (there is none: every ISO date has 10 characters).
    `source_vocabulary` and `target_vocabulary` hold the ids."""
    rng = np.random.default_rng(seed)
    source_vocabulary, target_vocabulary = _date_vocabularies()
    span = (_LAST_DAY - _FIRST_DAY).days
    drawn = {}
    for name, k in draw_order(train, test, validation):
        days, styles = rng.integers(0, span + 1, size=k), rng.integers(0, _DATE_STYLES, size=k)
        chosen = [_FIRST_DAY + datetime.timedelta(days=int(d)) for d in days]
        drawn[name] = ([source_vocabulary.encode(_date_words(d, int(s)).split()) for d, s in zip(chosen, styles)],
                       [target_vocabulary.encode(d.isoformat()) + [END] for d in chosen])
    source_length = max(len(ids) for sources, _ in drawn.values() for ids in sources)
    made = {}
    for name, (sources, targets) in drawn.items():
        decoder, y, w = teacher_forced(targets, 11)
        made[name] = Split((padded(sources, source_length), decoder), y, w)
    return generated_data(made, "dates in words to ISO 8601", "dates",
                          source_vocabulary=source_vocabulary, target_vocabulary=target_vocabulary)



TRANSDUCTION = {"speech": speech, "dates": dates}
