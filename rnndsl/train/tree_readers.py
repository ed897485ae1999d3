"""tree_readers: labelled trees from text files beside the spec, one tree a line.

`treebank`: bracketed trees in the form of the Penn Treebank as the Stanford Sentiment
Treebank writes them, `(3 (2 It) (4 (2 's) (3 fun)))`; `trees`: JSON lines of nested nodes,
`{"label": 3, "children": [{"label": 2, "word": "It"}, ...]}`. Both give the arrays of
rnndsl.train.trees (`tree_arrays`): token ids and child indices in pre-order, with a label at
every node or at the root. Source functions as in rnndsl.train.generators, named by
`TREE_READERS`. Bad data raises `DataError` with one line naming the file, the line and, for
the bracketed form, the column. Trees are read with explicit stacks, never by recursion.
NumPy only.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Optional

from ..lang.errors import DataError
from ..lang.wording import count, cut
from .containers import Data, Split, Vocabulary
from .files import data_file, json_lines, text_lines
from .trees import MAX_NODES, Tree, nodes, tree_arrays

__all__ = ["TREE_READERS", "MAX_CLASSES", "parse_bracketed", "json_tree"]

MAX_CLASSES = 10_000  # an integer label is below it
_TOKEN = re.compile(r"[()]|[^\s()]+")  # a bracket, or a word or label: anything else but white space
_LABEL = re.compile(r"[0-9]+")


# ================================================================ the bracketed form


def _label(text: str, at: str) -> int:
    if not _LABEL.fullmatch(text) or int(text) >= MAX_CLASSES:
        raise DataError(f"{at}: expected a label, an integer from 0 to {MAX_CLASSES - 1}, found `{cut(text)}`")
    return int(text)


def parse_bracketed(line: str, where: str) -> Tree:
    """The tree of one line in the bracketed form, `(LABEL [WORD] CHILD...)` at every node: a
    leaf is `(LABEL WORD)`; an inner node `(LABEL CHILD...)` (a treebank's), or `(LABEL WORD
    CHILD...)` (a word at an inner node, as an operator in a formula). Labels are integers
    from 0; a word is anything but white space and brackets. A `DataError` naming
    `where:column` for anything else."""
    stack = []  # the open nodes: [label, word, children, column of the `(`]
    root, found, expect_label = None, 0, False
    for m in _TOKEN.finditer(line):
        token, at = m.group(), f"{where}:{m.start() + 1}"
        if root is not None:
            if token == ")":
                raise DataError(f"{at}: unbalanced parentheses: this `)` closes no `(`")
            raise DataError(f"{at}: text after the tree: `{cut(token)}`")
        if expect_label:
            if token in ("(", ")"):
                raise DataError(f"{at}: expected a label after `(`, found `{token}`")
            stack[-1][0], expect_label = _label(token, at), False
        elif token == "(":
            found += 1
            if found > MAX_NODES:
                raise DataError(f"{at}: a tree of more than {MAX_NODES} nodes, the most rnndsl reads")
            stack.append([None, None, [], m.start() + 1])
            expect_label = True
        elif not stack:
            raise DataError(f"{at}: expected `(` to open a tree, found `{cut(token)}`")
        elif token == ")":
            label, word, children, _ = stack.pop()
            if word is None and not children:
                raise DataError(f"{at}: expected a word or a subtree after the label, found `)`")
            node = Tree(label, word, tuple(children))
            if stack:
                stack[-1][2].append(node)
            else:
                root = node
        else:  # a word
            _, word, children, _ = stack[-1]
            if children:
                raise DataError(f"{at}: expected a subtree or `)`, found the word `{cut(token)}`: a node's word "
                                "comes before its children")
            if word is not None:
                raise DataError(f"{at}: expected a subtree or `)` after the word `{cut(word)}`, found the word "
                                f"`{cut(token)}`")
            stack[-1][1] = token
    if stack:
        raise DataError(f"{where}:{len(line.rstrip()) + 1}: unbalanced parentheses: the line ends before the `)` "
                        f"that closes the `(` at column {stack[-1][3]}")
    if root is None:
        raise DataError(f"{where}:1: expected a tree, found a blank line")
    return root


def _read_bracketed(file: Path) -> list:
    """[(line number, tree)] of a file of bracketed trees, one a line."""
    read = [(number, parse_bracketed(line, f"{file}:{number}")) for number, line in text_lines(file)]
    if not read:
        raise DataError(f"{file}: no trees")
    return read


# ================================================================ JSON lines


def _json_kind(value) -> str:
    """What a JSON value is, for a message."""
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    return {dict: "an object", list: "a list", str: "a string"}.get(type(value), "a number")


def _node_path(ref, children: str) -> str:
    """`children[0].children[2]` of a node's chain of (parent's chain, which child); "the root"."""
    steps = []
    while ref is not None:
        ref, c = ref
        steps.append(f"{children}[{c}]")
    return ".".join(reversed(steps)) or "the root"


def json_tree(value, where: str, label: str = "label", word: str = "word", children: str = "children") -> Tree:
    """The tree of one JSON value: a node is an object with an optional label (an integer from
    0, true or false, or a string; null or none: unlabelled), an optional word (a string) and
    optional children (a list of nodes); other keys are ignored. A string label is kept as the
    string (the reader numbers the classes). A `DataError` naming `where` and the node."""
    preorder, stack = [], [(value, None)]
    while stack:
        node, ref = stack.pop()
        if not isinstance(node, dict):
            raise DataError(f"{where}: at {_node_path(ref, children)}: expected a node, a JSON object, found "
                            f"{_json_kind(node)}")
        if len(preorder) >= MAX_NODES:
            raise DataError(f"{where}: a tree of more than {MAX_NODES} nodes, the most rnndsl reads")
        lab, text, kids = node.get(label), node.get(word), node.get(children)
        if isinstance(lab, bool):
            lab = int(lab)
        if lab is not None and not (isinstance(lab, str) or isinstance(lab, int) and 0 <= lab < MAX_CLASSES):
            raise DataError(f"{where}: at {_node_path(ref, children)}: `{label}` must be a class, a string or an "
                            f"integer from 0 to {MAX_CLASSES - 1}; not {cut(json.dumps(lab))}")
        if text is not None and not (isinstance(text, str) and text):
            raise DataError(f"{where}: at {_node_path(ref, children)}: `{word}` must be a word, a string that is "
                            f"not empty; not {cut(json.dumps(text))}")
        if kids is not None and not isinstance(kids, list):
            raise DataError(f"{where}: at {_node_path(ref, children)}: `{children}` must be a list of nodes, not "
                            f"{_json_kind(kids)}")
        kids = kids or []
        preorder.append((lab, text, len(kids)))
        stack.extend((kids[c], (ref, c)) for c in range(len(kids) - 1, -1, -1))
    return _assemble(preorder)


def _assemble(preorder: list) -> Tree:
    """The tree of its nodes in pre-order, (label, word, number of children) each."""
    built = []
    for lab, text, k in reversed(preorder):
        kids = tuple(built.pop() for _ in range(k))
        built.append(Tree(lab, text, kids))
    return built[0]


def _read_json_trees(file: Path, keys: tuple) -> list:
    """[(line number, tree)] of a file of JSON lines, one tree a line; labels all integers or all strings."""
    read, first_kind = [], None
    for number, where, value in json_lines(file):
        tree = json_tree(value, where, *keys)
        kinds = {isinstance(n.label, str) for n in nodes(tree) if n.label is not None}
        if len(kinds) > 1:
            raise DataError(f"{where}: `{keys[0]}` mixes strings and integers")
        if kinds:
            kind = "strings" if kinds.pop() else "integers"
            if first_kind is None:
                first_kind = (kind, number)
            elif kind != first_kind[0]:
                raise DataError(f"{where}: `{keys[0]}` is {kind}, but line {first_kind[1]}'s is {first_kind[0]}")
        read.append((number, tree))
    if not read:
        raise DataError(f"{file}: no trees")
    return read


# ================================================================ the arrays


def _relabel(tree: Tree, class_id: dict, where: str) -> Tree:
    """The tree with its string labels replaced by their class ids."""
    preorder = []
    for n in nodes(tree):
        if n.label is not None and n.label not in class_id:
            raise DataError(f"{where}: label {cut(json.dumps(n.label))} is not among the training labels")
        preorder.append((None if n.label is None else class_id[n.label], n.word, len(n.children)))
    return _assemble(preorder)


def _tree_data(base: Path, read: dict, labels: str, vocabulary: Optional[str], path: str, what: str) -> Data:
    """Data from {split name: (file, [(line number, tree)])}: the vocabulary built from the
    training trees' words or read, the labels numbered, every split laid out by `tree_arrays`
    with the same K (the most children of any node in any split)."""
    saved = None
    if vocabulary is not None:
        saved_file = data_file(base, vocabulary)
        saved = Vocabulary.load(saved_file)
        for file, trees in read.values():
            for number, tree in trees:
                unknown = next((n.word for n in nodes(tree) if n.word is not None and n.word not in saved), None)
                if unknown is not None:
                    raise DataError(f"{file}:{number}: word `{cut(unknown)}` is not in the vocabulary {saved_file}")
    training = read["train"][1]
    words = saved or Vocabulary.build([n.word for n in nodes(t) if n.word is not None] for _, t in training)
    every = [n for _, trees in read.values() for _, t in trees for n in nodes(t)]
    kinds = {name: {isinstance(n.label, str) for _, t in trees for n in nodes(t) if n.label is not None}
             for name, (_, trees) in read.items()}
    if len(set().union(*kinds.values())) > 1:  # each file's labels are of one kind: its first line's
        first = next(name for name in read if kinds[name])
        other = next(name for name in read if kinds[name] and kinds[name] != kinds[first])
        shown = {frozenset({True}): "strings", frozenset({False}): "integers"}
        raise DataError(f"{read[other][0]}: labels are {shown[frozenset(kinds[other])]}, but in {read[first][0]} "
                        f"{shown[frozenset(kinds[first])]}")
    named = any(isinstance(n.label, str) for n in every)
    if named:
        classes = tuple(sorted({n.label for _, t in training for n in nodes(t) if n.label is not None}))
        class_id = {c: i for i, c in enumerate(classes)}
        read = {name: (file, [(number, _relabel(t, class_id, f"{file}:{number}")) for number, t in trees])
                for name, (file, trees) in read.items()}
    else:
        classes = tuple(str(i) for i in range(max([n.label for n in every if n.label is not None], default=0) + 1))
    arity = max([len(n.children) for n in every] + [1])
    made = {}
    for name, (file, trees) in read.items():
        tokens, children, y, w = tree_arrays([t for _, t in trees], words, labels, min_arity=arity,
                                             where=[f"{file}:{number}" for number, _ in trees])
        made[name] = Split((tokens, children), y, w)
    largest = made["train"].inputs[0].shape[1]
    given = {name: file for name, (file, _) in read.items()}
    return Data(made["train"], made.get("validation"), made.get("test"), source_vocabulary=words, classes=classes,
                description=f"{path}: {count(len(training), what)} of up to {count(largest, 'node')}"
                            + "".join(f", {name} {given[name].name}: {made[name].size}"
                                      for name in ("validation", "test") if name in made)
                            + f", {len(words)} words in the vocabulary, {len(classes)} "
                            + ("class" if len(classes) == 1 else "classes")
                            + f", labels at the {'root' if labels == 'root' else 'nodes'}")


def _splits(base: Path, path: str, validation: Optional[str], test: Optional[str], read_file) -> dict:
    files = {"train": path, "validation": validation, "test": test}
    return {name: (data_file(base, p), read_file(data_file(base, p))) for name, p in files.items() if p}


def treebank_file(base: Path, seed: int, *, path: str, test: Optional[str], labels: str, vocabulary: Optional[str],
                  validation: Optional[str]) -> Data:
    """Labelled trees in the bracketed form of the Penn Treebank, as the Stanford Sentiment
    Treebank (Socher et al. 2013) writes them, one tree a line: `(3 (2 It) (4 (2 's) (3 fun)))`.
    Every node is `(LABEL CHILD...)` and a leaf `(LABEL WORD)`; a node may also carry a word
    before its children, `(1 and (1 T) (0 F))`. Labels are integers from 0 to 9999, and the
    classes are their values, "0" up to the largest seen; a word is anything but white space
    and brackets. `validation` and `test` name files of the same form (SST's dev and test).

    The vocabulary is built from the training trees' words unless a saved one is named (then
    every word must be in it); a word of another split that the built vocabulary lacks is
    `<unk>`. inputs: (tokens int32 `(n, N)`, children int32 `(n, N, K)`), nodes in pre-order,
    root first (rnndsl.train.trees); labels="nodes": targets int32 `(n, N)` with sample_weight
    `(n, N)`, 1 at every node of a tree and 0 at padding; labels="root": targets `(n,)`. N is
    the largest tree of the split, K the most children of a node in any split."""
    read = _splits(base, path, validation, test, _read_bracketed)
    return _tree_data(base, read, labels, vocabulary, path, "tree")


def trees_file(base: Path, seed: int, *, path: str, test: Optional[str], labels: str, vocabulary: Optional[str],
               label: str, word: str, children: str, validation: Optional[str]) -> Data:
    """Labelled trees in JSON lines, one tree a line, each node an object with the keys that
    `label`, `word` and `children` name, all optional: `{"label": 1, "children": [{"label": 1,
    "word": "fun"}, ...]}`. A label is an integer class id (true and false are 1 and 0), or a
    string: string classes are numbered in sorted order of the training labels and
    `Data.classes` names them; integer classes are "0" up to the largest seen. A node without
    a label weighs 0 (labels="nodes"); a root without one is an error with labels="root".
    Nesting is limited by the JSON reader: about 490 levels of tree.

    The vocabulary and the arrays are those of `treebank`."""
    read = _splits(base, path, validation, test, lambda file: _read_json_trees(file, (label, word, children)))
    return _tree_data(base, read, labels, vocabulary, path, "tree")


TREE_READERS = {"treebank": treebank_file, "trees": trees_file}
