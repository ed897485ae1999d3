"""Tree data: the `Tree` container and its arrays (rnndsl.train.trees), the `treebank` and `trees`
readers (rnndsl.train.tree_readers), and the `boolean_formulas` and `sentiment_trees` generators
(rnndsl.train.tree_tasks).

The array layout is checked on a known tree and, for every generated split, by its invariants
(pre-order, padding); generated labels are checked against evaluators written here, on trees
decoded from the arrays; generated trees are written as files and read back to the same
arrays; every bad-data diagnostic is matched by its text.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from helpers import checked, data_error, diagnostics
from rnndsl.lang import training
from rnndsl.lang.errors import DataError
from rnndsl.lang.sources import check_args
from rnndsl.train import tree_tasks, trees
from rnndsl.train.containers import Vocabulary
from rnndsl.train.sources import SOURCES, load
from rnndsl.train.tree_readers import parse_bracketed
from rnndsl.train.trees import Tree, height, nodes, size, to_bracketed, to_json, tree_arrays


def gen(source: str, seed: int = 0, **args):
    return load(source, args, base=".", seed=seed)


def read(source: str, tmp_path, **args):
    return load(source, args, base=tmp_path, seed=0)


def write(tmp_path, name: str, *lines) -> str:
    (tmp_path / name).write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return name


def arrays(split) -> list:
    return [*split.inputs, split.targets] + ([] if split.sample_weight is None else [split.sample_weight])


def same_arrays(a, b) -> bool:
    return all(x.dtype == y.dtype and np.array_equal(x, y) for x, y in zip(arrays(a), arrays(b), strict=True))


def check_layout(tokens: np.ndarray, children: np.ndarray) -> list:
    """The size of each tree, after checking the contract: pre-order numbering from the root,
    each real node the child of exactly one earlier node, padding all -1 and nobody's child."""
    sizes = []
    for tok, ch in zip(tokens, children):
        seen, order, stack = set(), [], [0]
        while stack:  # pre-order walk from the root by the child indices
            j = stack.pop()
            assert j not in seen
            seen.add(j)
            order.append(j)
            kids = [int(c) for c in ch[j] if c >= 0]
            assert list(ch[j][:len(kids)]) == kids and all(c > j for c in kids)  # -1 only after the children
            stack.extend(reversed(kids))
        assert order == list(range(len(order)))
        n = len(order)
        assert (ch[n:] == -1).all() and (tok[n:] == 0).all()
        sizes.append(n)
    return sizes


def decode(split, i: int, vocabulary: Vocabulary) -> Tree:
    """Tree i of a split, rebuilt from its arrays, its labels from targets (nodes) or the root's."""
    tokens, children = split.inputs
    per_node = split.targets.ndim == 2

    def build(j):
        word = vocabulary.tokens[tokens[i, j]] if tokens[i, j] else None
        if per_node:
            label = int(split.targets[i, j]) if split.sample_weight[i, j] else None
        else:
            label = int(split.targets[i]) if j == 0 else None
        return Tree(label, word, tuple(build(int(c)) for c in children[i, j] if c >= 0))

    return build(0)


# ---------------------------------------------------------------- the known tree

SST = "(3 (2 It) (4 (2 's) (3 fun)))"


def test_the_layout_of_a_known_tree(tmp_path):
    write(tmp_path, "a.txt", SST, "", "(1 (0 bad) (2 film))")
    d = read("treebank", tmp_path, path="a.txt")
    tokens, children = d.train.inputs
    v = d.source_vocabulary
    assert v.tokens == ("<pad>", "<unk>", "<s>", "</s>", "'s", "It", "bad", "film", "fun")
    assert tokens.dtype == children.dtype == d.train.targets.dtype == np.int32
    assert tokens.tolist() == [[0, 5, 0, 4, 8], [0, 6, 7, 0, 0]]
    assert children.tolist() == [[[1, 2], [-1, -1], [3, 4], [-1, -1], [-1, -1]],
                                 [[1, 2], [-1, -1], [-1, -1], [-1, -1], [-1, -1]]]
    assert d.train.targets.tolist() == [[3, 2, 4, 2, 3], [1, 0, 2, 0, 0]]
    assert d.train.sample_weight.dtype == np.float32
    assert d.train.sample_weight.tolist() == [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]
    assert d.classes == ("0", "1", "2", "3", "4") and d.validation is None and d.test is None
    assert d.description == ("a.txt: 2 trees of up to 5 nodes, 9 words in the vocabulary, 5 classes, "
                             "labels at the nodes")
    root = read("treebank", tmp_path, path="a.txt", labels="root")
    assert root.train.targets.tolist() == [3, 1] and root.train.sample_weight is None
    assert np.array_equal(root.train.inputs[1], children)


def test_tree_helpers():
    t = Tree(3, None, (Tree(2, "It"), Tree(4, None, (Tree(2, "'s"), Tree(3, "fun")))))
    assert size(t) == 5 and height(t) == 2 and height(Tree(0, "x")) == 0
    assert [n.word for n in nodes(t)] == [None, "It", None, "'s", "fun"]
    assert to_bracketed(t) == SST and repr(t) == f"Tree<{SST}>"
    assert to_bracketed(t, ("a", "b", "c", "d", "e")) == "(d (c It) (e (c 's) (d fun)))"
    assert t == Tree(3, None, (Tree(2, "It"), Tree(4, None, (Tree(2, "'s"), Tree(3, "fun")))))
    assert t != Tree(3, None, (Tree(2, "It"), Tree(4, None, (Tree(2, "'s"),)), Tree(3, "fun")))
    assert len({t, Tree(3, None, t.children)}) == 1
    assert to_json(t) == {"label": 3, "children": [{"label": 2, "word": "It"}, {"label": 4, "children": [
        {"label": 2, "word": "'s"}, {"label": 3, "word": "fun"}]}]}
    tokens, children, y, w = tree_arrays([Tree(1, "a")], Vocabulary.build([["a"]]), min_nodes=3, min_arity=2)
    assert tokens.tolist() == [[4, 0, 0]] and children.tolist() == [[[-1, -1]] * 3]
    assert y.tolist() == [[1, 0, 0]] and w.tolist() == [[1, 0, 0]]
    for bad, message in ((Tree(None, "a"), "a label at every node"), (Tree(1), "a word or children"),
                         (Tree(1, "a b"), "a space or a bracket"), (Tree(1, "a)"), "a space or a bracket")):
        with pytest.raises(ValueError, match=message):
            to_bracketed(bad)
    with pytest.raises(DataError, match="tree 2: the root has no label"):
        tree_arrays([Tree(1, "a"), Tree(None, "b")], Vocabulary.build([]), "root")


def test_arrays_too_large_are_refused(monkeypatch):
    monkeypatch.setattr(trees, "MAX_CELLS", 100)
    assert data_error(tree_arrays, [Tree(1, "a")] * 30, Vocabulary.build([]), min_nodes=2) == (
        "30 trees of up to 2 nodes and 1 child a node make arrays of 180 entries, above 100, the most a split may hold")


def test_unknown_words_validation_a_common_arity_and_a_saved_vocabulary(tmp_path):
    write(tmp_path, "a.txt", SST)
    write(tmp_path, "v.txt", "(1 (1 fun) (0 dull))")
    write(tmp_path, "t.txt", "(2 (2 It) (1 dull))", "(4 (1 a) (1 b) (2 c))")
    d = read("treebank", tmp_path, path="a.txt", test="t.txt", validation="v.txt")
    v = d.source_vocabulary
    assert [v.decode(row) for row in d.test.inputs[0]] == [["<pad>", "It", "<unk>", "<pad>"],
                                                           ["<pad>", "<unk>", "<unk>", "<unk>"]]
    assert v.decode(d.validation.inputs[0][0]) == ["<pad>", "fun", "<unk>"]
    # K is the most children in any split (3, in the test split); N is each split's own
    assert d.train.inputs[1].shape == (1, 5, 3) and d.test.inputs[1].shape == (2, 4, 3)
    assert d.validation.inputs[1].shape == (1, 3, 3)
    assert d.description.startswith("a.txt: 1 tree of up to 5 nodes, validation v.txt: 1, test t.txt: 2, ")
    check_layout(*d.test.inputs)
    Vocabulary.build([["fun", "It", "'s", "x"]]).save(tmp_path / "v.json")
    d = read("treebank", tmp_path, path="a.txt", vocabulary="v.json")
    assert len(d.source_vocabulary) == 8 and d.source_vocabulary.decode(d.train.inputs[0][0])[1] == "It"
    Vocabulary.build([["fun"]]).save(tmp_path / "w.json")
    assert data_error(read, "treebank", tmp_path, path="a.txt", vocabulary="w.json") == (
        f"{tmp_path / 'a.txt'}:1: word `It` is not in the vocabulary {tmp_path / 'w.json'}")


# ---------------------------------------------------------------- the bracketed form: errors


@pytest.mark.parametrize("line, message", [
    ("(3 (2 It) (4 (2 's) (3 fun))", "2:29: unbalanced parentheses: the line ends before the `)` that closes the "
                                     "`(` at column 1"),
    ("(3 (2 It) (4 (2 's) (3 fun",
     "2:27: unbalanced parentheses: the line ends before the `)` that closes the `(` at column 21"),
    ("(3 (2 It)))", "2:11: unbalanced parentheses: this `)` closes no `(`"),
    (")", "2:1: expected `(` to open a tree, found `)`"),
    ("It (3 fun)", "2:1: expected `(` to open a tree, found `It`"),
    ("( (2 a))", "2:3: expected a label after `(`, found `(`"),
    ("(3 (2 a) ())", "2:11: expected a label after `(`, found `)`"),
    ("(NP (2 a))", "2:2: expected a label, an integer from 0 to 9999, found `NP`"),
    ("(3 (2.5 a))", "2:5: expected a label, an integer from 0 to 9999, found `2.5`"),
    ("(-1 a)", "2:2: expected a label, an integer from 0 to 9999, found `-1`"),
    ("(10000 a)", "2:2: expected a label, an integer from 0 to 9999, found `10000`"),
    ("(3 (2 It) (2))", "2:13: expected a word or a subtree after the label, found `)`"),
    ("(3 (2 It)) (1 x)", "2:12: text after the tree: `(`"),
    ("(3 (2 It)) trailing", "2:12: text after the tree: `trailing`"),
    ("(3 a b)", "2:6: expected a subtree or `)` after the word `a`, found the word `b`"),
    ("(3 (2 a) b)", "2:10: expected a subtree or `)`, found the word `b`: a node's word comes before its children"),
    ("(3 (2 a) " + "w" * 40 + ")", "2:10: expected a subtree or `)`, found the word `" + "w" * 19 + "…`"),
    ("(" + "x" * 40 + " a)", "2:2: expected a label, an integer from 0 to 9999, found `xxxxxxxxxxxxxxxxxxx…`"),
])
def test_bracketed_errors(tmp_path, line, message):
    write(tmp_path, "t.txt", SST, line)
    assert data_error(read, "treebank", tmp_path, path="t.txt").startswith(f"{tmp_path / 't.txt'}:{message}")


def test_bracketed_file_errors(tmp_path):
    write(tmp_path, "e.txt", "", "   ")
    assert data_error(read, "treebank", tmp_path, path="e.txt") == f"{tmp_path / 'e.txt'}: no trees"
    write(tmp_path, "a.txt", SST)
    assert data_error(read, "treebank", tmp_path, path="a.txt", test="missing.txt") == (
        f"{tmp_path / 'missing.txt'}: no such file")
    (tmp_path / "b.txt").write_bytes(b"(1 \xff)\n")
    assert data_error(read, "treebank", tmp_path, path="b.txt") == f"{tmp_path / 'b.txt'}:1: not UTF-8 text"
    assert data_error(read, "treebank", tmp_path, path="../a.txt").startswith(
        "argument `path` of `treebank` names a path that leaves the spec's folder")
    (tmp_path / "u.jsonl").write_text(json.dumps({"word": "a"}) + "\n")
    assert data_error(read, "trees", tmp_path, path="u.jsonl", labels="root") == (
        f'{tmp_path / "u.jsonl"}:1: the root has no label, which labels="root" needs')


def test_words_may_hold_any_character_but_space_and_brackets(tmp_path):
    write(tmp_path, "a.txt", "(1\t(0 -LRB-)  (2 naïve,\"x\"{}) )")
    d = read("treebank", tmp_path, path="a.txt")
    assert d.source_vocabulary.decode(d.train.inputs[0][0]) == ["<pad>", "-LRB-", 'naïve,"x"{}']
    write(tmp_path, "b.txt", "(1 and (1 T) (0 not (1 T)))")  # a word at an inner node, before its children
    d = read("treebank", tmp_path, path="b.txt")
    assert d.source_vocabulary.decode(d.train.inputs[0][0]) == ["and", "T", "not", "T"]
    assert d.train.inputs[1][0].tolist() == [[1, 2], [-1, -1], [3, -1], [-1, -1]]


# ---------------------------------------------------------------- very deep and very large trees


def test_a_tree_100000_nodes_deep(tmp_path):
    depth = trees.MAX_NODES - 1
    line = "(1 " * depth + "(0 leaf)" + ")" * depth
    write(tmp_path, "deep.txt", line, "(2 x)")
    d = read("treebank", tmp_path, path="deep.txt")
    tokens, children = d.train.inputs
    assert tokens.shape == (2, trees.MAX_NODES) and children.shape == (2, trees.MAX_NODES, 1)
    assert np.array_equal(children[0, :-1, 0], np.arange(1, trees.MAX_NODES)) and children[0, -1, 0] == -1
    assert d.source_vocabulary.decode([tokens[0, -1]]) == ["leaf"]
    tree = other = Tree(0, "leaf")
    for _ in range(depth):
        tree, other = Tree(1, "x", (tree,)), Tree(1, "x", (other,))
    assert size(tree) == trees.MAX_NODES and height(tree) == depth
    assert to_bracketed(tree).count("(") == trees.MAX_NODES and tree == other and tree != other.children[0]
    assert repr(tree).endswith("…>") and hash(tree) == hash(tree)
    assert len(to_json(tree)) == 3
    del tree  # and freeing it does not overflow the C stack either
    write(tmp_path, "big.txt", "(1 " * trees.MAX_NODES + "(0 a)" + ")" * trees.MAX_NODES)
    assert data_error(read, "treebank", tmp_path, path="big.txt") == (
        f"{tmp_path / 'big.txt'}:1:300001: a tree of more than 100000 nodes, the most rnndsl reads")


# ---------------------------------------------------------------- JSON lines


def jsonl(tmp_path, name: str, *values) -> str:
    return write(tmp_path, name, *(v if isinstance(v, str) else json.dumps(v) for v in values))


def test_json_trees_with_string_labels_and_unlabelled_nodes(tmp_path):
    jsonl(tmp_path, "a.jsonl", {"label": "pos", "children": [{"word": "very"}, {"label": "pos", "word": "fun",
                                                                                "id": 7}]},
          "", {"label": "neg", "word": "dull", "children": []}, {"label": "neu", "word": "the", "children": None})
    jsonl(tmp_path, "t.jsonl", {"label": "neg", "children": [{"label": None, "word": "dull"}, {"word": "x"}]})
    d = read("trees", tmp_path, path="a.jsonl", test="t.jsonl")
    assert d.classes == ("neg", "neu", "pos")
    assert d.train.targets.tolist() == [[2, 0, 2], [0, 0, 0], [1, 0, 0]]
    assert d.train.sample_weight.tolist() == [[1, 0, 1], [1, 0, 0], [1, 0, 0]]
    assert d.source_vocabulary.decode(d.train.inputs[0][0]) == ["<pad>", "very", "fun"]
    assert d.test.sample_weight.tolist() == [[1, 0, 0]]
    assert d.source_vocabulary.decode(d.test.inputs[0][0]) == ["<pad>", "dull", "<unk>"]
    assert read("trees", tmp_path, path="a.jsonl", labels="root").train.targets.tolist() == [2, 0, 1]


def test_json_trees_with_other_keys_and_integer_labels(tmp_path):
    jsonl(tmp_path, "a.jsonl", {"y": 1, "w": "a", "kids": [{"y": True, "w": "b"}, {"y": 3, "w": "c"}]})
    d = read("trees", tmp_path, path="a.jsonl", label="y", word="w", children="kids")
    assert d.classes == ("0", "1", "2", "3") and d.train.targets.tolist() == [[1, 1, 3]]
    assert d.train.inputs[1][0].tolist() == [[1, 2], [-1, -1], [-1, -1]]


@pytest.mark.parametrize("lines, message", [
    (['{"label": 1', ], "j.jsonl:1: not JSON: Expecting ',' delimiter (column 12)"),
    (["[1, 2]"], "j.jsonl:1: at the root: expected a node, a JSON object, found a list"),
    ([{"label": 1, "children": [{"label": 0}, 3]}],
     "j.jsonl:1: at children[1]: expected a node, a JSON object, found a number"),
    ([{"label": 1, "children": {"label": 0}}], "j.jsonl:1: at the root: `children` must be a list of nodes, not an "
                                                "object"),
    ([{"label": 1, "children": [{"children": [{"children": "ab"}]}]}],
     "j.jsonl:1: at children[0].children[0]: `children` must be a list of nodes, not a string"),
    ([{"label": -1}], "j.jsonl:1: at the root: `label` must be a class, a string or an integer from 0 to 9999; "
                      "not -1"),
    ([{"label": 1.5}], "j.jsonl:1: at the root: `label` must be a class, a string or an integer from 0 to 9999; "
                       "not 1.5"),
    ([{"label": [1]}], "j.jsonl:1: at the root: `label` must be a class"),
    ([{"label": 1, "word": ""}], "j.jsonl:1: at the root: `word` must be a word, a string that is not empty; "
                                 'not ""'),
    ([{"label": 1, "word": 5}], "j.jsonl:1: at the root: `word` must be a word, a string that is not empty; not 5"),
    ([{"label": 1, "children": [{"label": "a"}]}], "j.jsonl:1: `label` mixes strings and integers"),
    ([{"label": 1}, {"label": "a"}], "j.jsonl:2: `label` is strings, but line 1's is integers"),
    (['{"children": [' * 600 + "]}" * 600], "j.jsonl:1: not JSON that rnndsl reads: nested too deeply"),
    ([], "j.jsonl: no trees"),
])
def test_json_errors(tmp_path, lines, message):
    jsonl(tmp_path, "j.jsonl", *lines)
    assert data_error(read, "trees", tmp_path, path="j.jsonl").startswith(
        message.replace("j.jsonl", str(tmp_path / "j.jsonl")))


def test_json_errors_across_files(tmp_path):
    jsonl(tmp_path, "a.jsonl", {"label": "pos", "word": "a"})
    jsonl(tmp_path, "b.jsonl", {"label": "pos", "word": "a"}, {"label": "meh", "word": "a"})
    jsonl(tmp_path, "c.jsonl", {"word": "a"}, {"label": 1, "word": "a"})
    assert data_error(read, "trees", tmp_path, path="a.jsonl", test="b.jsonl") == (
        f'{tmp_path / "b.jsonl"}:2: label "meh" is not among the training labels')
    assert data_error(read, "trees", tmp_path, path="a.jsonl", validation="c.jsonl") == (
        f'{tmp_path / "c.jsonl"}: labels are integers, but in {tmp_path / "a.jsonl"} strings')
    jsonl(tmp_path, "big.jsonl", {"label": 0, "children": [{"word": "a"}] * trees.MAX_NODES})
    assert data_error(read, "trees", tmp_path, path="big.jsonl") == (
        f"{tmp_path / 'big.jsonl'}:1: a tree of more than 100000 nodes, the most rnndsl reads")


# ---------------------------------------------------------------- generated formulas


def truth(tree: Tree) -> int:
    """A formula's value, evaluated here by recursion (the trees of the tests are small)."""
    values = [truth(c) for c in tree.children]
    return {"T": lambda: 1, "F": lambda: 0, "not": lambda: 1 - values[0], "and": lambda: values[0] and values[1],
            "or": lambda: values[0] or values[1], "xor": lambda: values[0] != values[1]}[tree.word]()


def test_formulas_are_labelled_with_their_truth_values():
    d = gen("boolean_formulas", seed=3, train=300, test=100, validation=50, labels="nodes")
    v = d.source_vocabulary
    assert d.classes == ("false", "true")
    for name, (low, high) in (("train", (1, 8)), ("validation", (1, 8)), ("test", (12, 16))):
        split = getattr(d, name)
        sizes = check_layout(*split.inputs)
        assert split.inputs[1].shape[2] == 2
        leaves = []
        for i in range(split.size):
            tree = decode(split, i, v)
            assert size(tree) == sizes[i]
            assert [n.label for n in nodes(tree)] == [int(truth(n)) for n in nodes(tree)]
            leaves.append(sum(n.word in ("T", "F") for n in nodes(tree)))
            assert all((n.word in ("T", "F")) == (not n.children) for n in nodes(tree))
            assert all(len(n.children) == (1 if n.word == "not" else 2) for n in nodes(tree) if n.children)
        assert low == min(leaves) and max(leaves) == high, name
        assert (split.targets[:, 0] == 1).sum() == split.size // 2  # balanced roots
    root = gen("boolean_formulas", seed=3, train=300, test=100, validation=50)
    assert root.train.targets.ndim == 1 and np.array_equal(root.train.targets, d.train.targets[:, 0])
    assert np.array_equal(root.test.inputs[1], d.test.inputs[1])


def parse_prefix(tokens: list) -> int:
    """The value of a formula in the bracketed prefix form, by a stack machine written here."""
    stack = []
    for t in reversed(tokens):  # right to left: operands are on the stack when their operator comes
        if t in ("T", "F"):
            stack.append(int(t == "T"))
        elif t == "not":
            stack.append(1 - stack.pop())
        elif t in ("and", "or", "xor"):
            a, b = stack.pop(), stack.pop()
            stack.append({"and": a & b, "or": a | b, "xor": a ^ b}[t])
    (value,) = stack
    return value


def test_the_sequence_form_holds_the_same_formulas():
    tree_form = gen("boolean_formulas", seed=1, train=200, test=50)
    sequences = gen("boolean_formulas", seed=1, train=200, test=50, form="sequence")
    v = sequences.source_vocabulary
    (x,) = sequences.train.inputs
    assert x.dtype == np.int32 and np.array_equal(sequences.train.targets, tree_form.train.targets)
    for i in range(20):
        tokens = v.decode(x[i], strip=True)
        assert parse_prefix(tokens) == sequences.train.targets[i]
        assert tokens == tree_tasks.formula_tokens(decode(tree_form.train, i, tree_form.source_vocabulary))
    assert tree_tasks.formula_tokens(Tree(0, "and", (Tree(1, "T"), Tree(0, "not", (Tree(1, "T"),))))) == [
        "(", "and", "T", "(", "not", "T", ")", ")"]


def test_generators_are_deterministic_and_validation_changes_nothing_else():
    for source in ("boolean_formulas", "sentiment_trees"):
        a, b = gen(source, seed=5, train=100, test=30), gen(source, seed=5, train=100, test=30)
        assert same_arrays(a.train, b.train) and same_arrays(a.test, b.test)
        c = gen(source, seed=6, train=100, test=30)
        assert not np.array_equal(a.train.inputs[0], c.train.inputs[0])
        with_validation = gen(source, seed=5, train=100, test=30, validation=20)
        assert same_arrays(a.train, with_validation.train) and same_arrays(a.test, with_validation.test)
        assert with_validation.validation.size == 20 and gen(source, train=10, test=0).test is None


# ---------------------------------------------------------------- generated sentiment trees


def sentiment(tree: Tree) -> int:
    """A node's polarity (-1, 0, +1), by the rule of docs/tree-data.md, evaluated here by recursion."""
    if not tree.children:
        return (tree.word in tree_tasks.POSITIVE) - (tree.word in tree_tasks.NEGATIVE)
    left, right = tree.children
    if left.word == "not" and not left.children:
        return -sentiment(right)
    return int(np.sign(sentiment(left) + sentiment(right)))


def test_sentiment_trees_flip_polarity_under_negation():
    d = gen("sentiment_trees", seed=2, train=300, test=90, min_words=2, max_words=9)
    v = d.source_vocabulary
    assert d.classes == ("negative", "neutral", "positive")
    negated = 0
    for split in (d.train, d.test):
        check_layout(*split.inputs)
        words = []
        for i in range(split.size):
            tree = decode(split, i, v)
            assert all(len(n.children) in (0, 2) for n in nodes(tree))
            assert all((n.word is None) == bool(n.children) for n in nodes(tree))  # words at the leaves only
            assert [n.label for n in nodes(tree)] == [sentiment(n) + 1 for n in nodes(tree)]
            words.append(sum(n.word != "not" for n in nodes(tree) if not n.children))
            negated += sum(1 for n in nodes(tree) if n.children and n.children[0].word == "not")
        assert min(words) == 2 and max(words) == 9
        assert np.bincount(split.targets[:, 0]).tolist() == [split.size // 3] * 3
        assert (split.sample_weight == (np.arange(split.inputs[0].shape[1]) < np.array(
            check_layout(*split.inputs))[:, None])).all()
    assert negated > 100
    polarity = tree_tasks.polarity
    good, bad = Tree(2, "good"), Tree(0, "bad")
    assert polarity(None, (Tree(2, None, (good, good)), bad)) == 1  # ((good good) bad): neutral
    assert polarity(None, (good, Tree(1, None, (good, bad)))) == 2  # (good (good bad)): positive
    assert polarity(None, (Tree(1, "not"), good)) == 0 and polarity(None, (Tree(1, "not"), Tree(1, "the"))) == 1


def test_sentiment_sequences_are_the_sentences():
    trees_ = gen("sentiment_trees", seed=4, train=50, test=10, labels="root")
    sequences = gen("sentiment_trees", seed=4, train=50, test=10, labels="root", form="sequence")
    assert np.array_equal(trees_.train.targets, sequences.train.targets)
    for i in range(50):
        tree = decode(trees_.train, i, trees_.source_vocabulary)
        assert sequences.source_vocabulary.decode(sequences.train.inputs[0][i], strip=True) == [
            n.word for n in nodes(tree) if not n.children]


# ---------------------------------------------------------------- round trips through the files


@pytest.mark.parametrize("source, args", [("boolean_formulas", {"labels": "nodes"}), ("sentiment_trees", {}),
                                          ("sentiment_trees", {"labels": "root"}),
                                          ("boolean_formulas", {"labels": "root"})])
def test_generated_trees_round_trip_through_both_formats(tmp_path, source, args):
    d = gen(source, seed=7, train=120, test=40, **args)
    v = d.source_vocabulary
    v.save(tmp_path / "v.json")
    per_node = args.get("labels", "nodes") == "nodes"
    for split, name in ((d.train, "train"), (d.test, "test")):
        decoded = [decode(split, i, v) for i in range(split.size)]
        if per_node:  # the bracketed form needs a label at every node
            write(tmp_path, f"{name}.txt", *(to_bracketed(t) for t in decoded))
        jsonl(tmp_path, f"{name}.jsonl", *(to_json(t, d.classes) for t in decoded))
    readers = [("trees", ".jsonl")] + [("treebank", ".txt")] * per_node
    for reader, ext in readers:
        back = read(reader, tmp_path, path="train" + ext, test="test" + ext, vocabulary="v.json",
                    labels=args.get("labels", "nodes"))
        assert same_arrays(back.train, d.train) and same_arrays(back.test, d.test), reader
        assert back.source_vocabulary == v
        assert back.classes == (d.classes if reader == "trees" else tuple(str(i) for i in range(len(d.classes))))


# ---------------------------------------------------------------- the sources in a spec


def spec(data: str) -> str:
    return ('import "std/lstm.rnn"\n\nnetwork N(units: int = 4) {\n    input x: seq[int]\n'
            "    h = LSTM(units, returns=last)(Embedding(100, 8)(x))\n    output Dense(2, softmax)(h)\n\n"
            f"    train {{\n        data = {data}\n        loss = cross_entropy\n    }}\n}}\n")


@pytest.mark.parametrize("data", [
    'treebank("sst/train.txt", test="sst/test.txt", validation="sst/dev.txt", labels="root")',
    'trees("t.jsonl", label="y", word="w", children="kids", vocabulary="v.json")',
    "boolean_formulas(train=100, max_leaves=4 * units, test_min_leaves=12, test_max_leaves=16)",
    'sentiment_trees(train=100, test=10, min_words=2, max_words=10, negation=0.3, labels="root", form="sequence")',
])
def test_check_accepts_the_tree_sources(data):
    G = checked(spec(data)).graph("N")
    plan = training.plan(G, {"units": 4})
    assert plan.data.name == data.split("(")[0]


@pytest.mark.parametrize("data, message, note", [
    ('treebnk("a.txt")', "error[E0804]: unknown data source `treebnk`", "did you mean `treebank`?"),
    ("boolean_formula()", "error[E0804]: unknown data source `boolean_formula`", "did you mean `boolean_formulas`?"),
    ("boolean_formulas(max_leave=8)", "error[E0805]: data source `boolean_formulas` has no argument `max_leave`",
     "did you mean `max_leaves`?"),
    ('trees("a.jsonl", childs="kids")', "error[E0805]: data source `trees` has no argument `childs`",
     "did you mean `children`?"),
    ('treebank("a.txt", labels="leaves")',
     'error[E0806]: argument `labels` of `treebank` must be one of "nodes", "root", not "leaves"', ""),
    ('treebank("../a.txt")', "error[E0806]: argument `path` of `treebank` names a path that leaves the spec's folder",
     ""),
])
def test_check_reports_misspelt_sources_and_arguments(data, message, note):
    text = diagnostics(spec(data))
    assert text.startswith(message), text
    assert note in text, text


@pytest.mark.parametrize("source, args, message", [
    ("boolean_formulas", {"test_min_leaves": 20}, "`boolean_formulas`: `test_min_leaves` (20) is above "
                                                  "`test_max_leaves` (16)"),
    ("boolean_formulas", {"max_leaves": 5000}, "`boolean_formulas`: `max_leaves` (5000) is above 1000, the most "
                                               "constants of a generated formula"),
    ("boolean_formulas", {"form": "sequence", "labels": "nodes"},
     '`boolean_formulas`: `form="sequence"` labels each sequence once: it needs `labels="root"`'),
    ("sentiment_trees", {"form": "sequence"},
     '`sentiment_trees`: `form="sequence"` labels each sequence once: it needs `labels="root"`'),
    ("sentiment_trees", {"min_words": 5, "max_words": 4},
     "`sentiment_trees`: `min_words` (5) is above `max_words` (4)"),
    ("sentiment_trees", {"negation": 1}, "argument `negation` of `sentiment_trees` must be less than 1, not 1"),
    ("sentiment_trees", {"max_leaves": 4}, "`sentiment_trees` has no argument `max_leaves`; its arguments: train,"),
    ("trees", {"path": "a.jsonl", "word": "label"},
     '`trees`: `label`, `word` and `children` name the same key "label" twice'),
    ("treebank", {}, "`treebank` needs the argument `path` (str)"),
])
def test_argument_messages(source, args, message):
    messages = check_args(source, args)
    assert len(messages) == 1 and messages[0].startswith(message), messages


def test_the_sources_are_documented_with_every_argument():
    text = (Path(__file__).parent.parent / "docs" / "tree-data.md").read_text(encoding="utf-8")
    for name in ("treebank", "trees", "boolean_formulas", "sentiment_trees"):
        assert SOURCES[name].doc
        (row,) = [line for line in text.splitlines() if line.startswith(f"| `{name}(")]
        assert all(p.name in row.split("|")[1] for p in SOURCES[name].params), name
    assert parse_bracketed(SST, "f:1") == Tree(3, None, (Tree(2, "It"), Tree(4, None, (Tree(2, "'s"),
                                                                                  Tree(3, "fun")))))
    with pytest.raises(DataError, match="f:1:1: expected a tree, found a blank line"):
        parse_bracketed("  ", "f:1")
