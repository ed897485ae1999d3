"""token_readers: token sequences from text files beside the spec.

Sentence pairs for an encoder-decoder (`pairs`: `source<TAB>target` per line) and labelled
token sequences in JSON lines (`jsonl`), their vocabularies built from the training split or
read from saved ones. Source functions as in rnndsl.train.generators, named by
`TOKEN_READERS`. Bad data raises `DataError` with one line naming the file and line. NumPy only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import numpy as np

from ..lang.errors import DataError
from ..lang.sources import INT_MAX
from ..lang.wording import count, cut
from .containers import END, Data, Split, Vocabulary, padded, teacher_forced
from .files import data_file, json_lines, text_lines

__all__ = ["TOKEN_READERS"]


def _read_pairs(file: Path) -> list:
    """[(line number, source tokens, target tokens)] of a `source<TAB>target` file."""
    pairs = []
    for number, line in text_lines(file):
        parts = line.split("\t")
        if len(parts) != 2:
            raise DataError(f"{file}:{number}: expected `source<TAB>target`, found "
                            f"{'no tab' if len(parts) == 1 else f'{len(parts) - 1} tabs'}")
        source, target = parts[0].split(), parts[1].split()
        for side, tokens in (("source", source), ("target", target)):
            if not tokens:
                raise DataError(f"{file}:{number}: the {side} is empty")
        pairs.append((number, source, target))
    if not pairs:
        raise DataError(f"{file}: no sentence pairs")
    return pairs


def _saved_vocabulary(base: Path, path: Optional[str]) -> Optional[tuple]:
    """(the vocabulary, its file) when a saved one is named."""
    if path is None:
        return None
    file = data_file(base, path)
    return Vocabulary.load(file), file


def _known(tokens, saved: Optional[tuple], where: str, what: str) -> None:
    """A `DataError` for the first token not in a saved vocabulary."""
    if saved is None:
        return
    vocabulary, file = saved
    for t in tokens:
        if t not in vocabulary:
            raise DataError(f"{where}: {what} `{cut(t)}` is not in the vocabulary {file}")


def pairs_file(base: Path, seed: int, *, path: str, test: Optional[str], source_vocabulary: Optional[str],
               target_vocabulary: Optional[str]) -> Data:
    """Sequence pairs for an encoder-decoder with teacher forcing (translation, summarising):
    one `source<TAB>target` pair per line, tokens separated by spaces. The vocabularies are
    built from the training pairs, unless saved ones are named (then every token must be in
    them); a test token that the built vocabulary lacks is `<unk>`. The caller saves the
    vocabularies beside the model (`Vocabulary.save`).

    inputs: (source ids int32 `(n, S)`, decoder input ids int32 `(n, T)`: `<s>` and the target
    shifted right), padded with 0; targets: int32 `(n, T)`, the target tokens and `</s>`;
    sample_weight `(n, T)`, 0 at padding. S and T are the longest of training and test."""
    read = {"train": (data_file(base, path), _read_pairs(data_file(base, path)))}
    if test:
        read["test"] = (data_file(base, test), _read_pairs(data_file(base, test)))
    saved_source = _saved_vocabulary(base, source_vocabulary)
    saved_target = _saved_vocabulary(base, target_vocabulary)
    for file, pairs in read.values():
        for number, source, target in pairs:
            _known(source, saved_source, f"{file}:{number}", "source token")
            _known(target, saved_target, f"{file}:{number}", "target token")
    training = read["train"][1]
    sources = saved_source[0] if saved_source else Vocabulary.build(s for _, s, _ in training)
    targets = saved_target[0] if saved_target else Vocabulary.build(t for _, _, t in training)
    encoded = {name: ([sources.encode(s) for _, s, _ in pairs], [targets.encode(t) + [END] for _, _, t in pairs])
               for name, (_, pairs) in read.items()}
    source_length = max(len(ids) for s, _ in encoded.values() for ids in s)
    target_length = max(len(ids) for _, t in encoded.values() for ids in t)
    made = {}
    for name, (s, t) in encoded.items():
        decoder, y, w = teacher_forced(t, target_length)
        made[name] = Split((padded(s, source_length), decoder), y, w)
    return Data(made["train"], None, made.get("test"), sources, targets,
                description=f"{path}: {count(len(training), 'pair')}"
                            + (f", test {test}: {made['test'].size}" if test else "")
                            + f"; vocabularies of {len(sources)} source and {len(targets)} target tokens")


def _read_jsonl(file: Path, field_name: str, label_name: str) -> list:
    """[(line number, tokens, label)] of a JSON-lines file; a label is an int (a bool as 0 or 1)
    or a string, or a list of them, one per token."""
    examples, kind_of_first = [], None
    for number, where, example in json_lines(file):
        if not isinstance(example, dict):
            raise DataError(f"{where}: expected a JSON object, found {type(example).__name__}")
        for key in (field_name, label_name):
            if key not in example:
                raise DataError(f"{where}: no field `{key}`")
        tokens = example[field_name]
        if isinstance(tokens, str):
            tokens = tokens.split()
        if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
            raise DataError(f"{where}: `{field_name}` must be a list of strings (or one string of tokens)")
        if not tokens:
            raise DataError(f"{where}: `{field_name}` has no tokens")
        label = example[label_name]
        per_token = isinstance(label, list)
        for value in (label if per_token else [label]):
            if not isinstance(value, (int, str)) or (isinstance(value, int) and not 0 <= value <= INT_MAX):
                raise DataError(f"{where}: `{label_name}` must be a class, a string or an integer from 0 to "
                                f"{INT_MAX}, or a list of classes, one per token; not {cut(json.dumps(value))}")
        if per_token and len(label) != len(tokens):
            raise DataError(f"{where}: {len(label)} labels for {len(tokens)} tokens")
        values = label if per_token else [label]
        kind = ("per token " if per_token else "") + ("strings" if any(isinstance(v, str) for v in values)
                                                       else "integers")
        if values and any(isinstance(v, str) for v in values) and not all(isinstance(v, str) for v in values):
            raise DataError(f"{where}: `{label_name}` mixes strings and integers")
        if kind_of_first is None:
            kind_of_first = (kind, number)
        elif kind != kind_of_first[0]:
            raise DataError(f"{where}: `{label_name}` is {kind}, but line {kind_of_first[1]}'s is "
                            f"{kind_of_first[0]}")
        examples.append((number, tokens, label))
    if not examples:
        raise DataError(f"{file}: no examples")
    return examples


def jsonl_file(base: Path, seed: int, *, path: str, field: str, label: str, test: Optional[str],
               vocabulary: Optional[str]) -> Data:
    """Labelled token sequences from JSON lines, `{"tokens": ["a", "film"], "label": 1}` per
    line (the keys named by `field` and `label`): sequence classification (one label per
    line), or sequence labelling, tagging (a list of labels, one per token). A label is an
    integer class id (true and false are 1 and 0), or a string: string classes are numbered
    in sorted order of the training labels and `Data.classes` names them. The vocabulary is
    built from the training tokens unless a saved one is named; a test token the built
    vocabulary lacks is `<unk>`.

    inputs: token ids int32 `(n, T)`, padded with 0 (an Embedding with mask_zero skips it);
    targets: int32 class ids `(n,)`, or `(n, T)` per token with sample_weight `(n, T)`, 0 at
    padding."""
    read = {"train": (data_file(base, path), _read_jsonl(data_file(base, path), field, label))}
    if test:
        read["test"] = (data_file(base, test), _read_jsonl(data_file(base, test), field, label))
    kinds = {name: isinstance(examples[0][2], list) for name, (_, examples) in read.items()}
    if len(set(kinds.values())) > 1:
        raise DataError(f"{read['test'][0]}: labels are {'per token' if kinds['test'] else 'one per example'}, "
                        f"but in {read['train'][0]} {'per token' if kinds['train'] else 'one per example'}")
    per_token = kinds["train"]
    saved = _saved_vocabulary(base, vocabulary)
    for file, examples in read.values():
        for number, tokens, _ in examples:
            _known(tokens, saved, f"{file}:{number}", "token")
    training = read["train"][1]
    words = saved[0] if saved else Vocabulary.build(tokens for _, tokens, _ in training)

    def values(lab):
        return lab if per_token else [lab]

    named = isinstance(values(training[0][2])[0], str)
    classes = tuple(sorted({v for _, _, lab in training for v in values(lab)})) if named else ()
    class_id = {c: i for i, c in enumerate(classes)}
    length = max(len(tokens) for _, examples in read.values() for _, tokens, _ in examples)
    made = {}
    for name, (file, examples) in read.items():
        if named:
            for number, _, lab in examples:
                unseen = next((v for v in values(lab) if v not in class_id), None)
                if unseen is not None:
                    raise DataError(f"{file}:{number}: label {cut(json.dumps(unseen))} is not among the training "
                                    "labels")
        ids = [[class_id[v] if named else int(v) for v in values(lab)] for _, _, lab in examples]
        x = padded([words.encode(tokens) for _, tokens, _ in examples], length)
        if per_token:
            y = padded(ids, length)
            w = np.zeros((len(examples), length), "float32")
            for i, (_, tokens, _) in enumerate(examples):
                w[i, :len(tokens)] = 1.0
            made[name] = Split((x,), y, w)
        else:
            made[name] = Split((x,), np.array([i for (i,) in ids], "int32"))
    return Data(made["train"], None, made.get("test"), source_vocabulary=words, classes=classes,
                description=f"{path}: {count(len(training), 'sequence')}"
                            + (f", test {test}: {made['test'].size}" if test else "")
                            + f", {len(words)} tokens in the vocabulary"
                            + (f", {len(classes)} classes" if named else ""))



TOKEN_READERS = {"pairs": pairs_file, "jsonl": jsonl_file}
