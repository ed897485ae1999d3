"""tree_tasks: generated tasks over trees, for recursive networks and their sequence baselines.

Boolean formulas over T and F (`boolean_formulas`), trained on small formulas and tested on
larger ones, and a small synthetic sentiment treebank in which negation flips the polarity of
its scope (`sentiment_trees`). Each is given as trees (rnndsl.train.trees: token ids and child
indices in pre-order) or, for a sequence model on the same examples, as token sequences
(`form="sequence"`). Source functions as in rnndsl.train.generators, named by `TREE_TASKS`;
the functions that draw one example (`random_formula`, `random_sentence`) and evaluate one
(`formula_value`, `polarity`) are public for tests. Trees are built with explicit stacks,
never by recursion. NumPy only.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from .containers import SPECIALS, Data, Split, Vocabulary, padded
from .generators import draw_order, generated_data
from .trees import Tree, nodes, tree_arrays

__all__ = ["TREE_TASKS", "FORMULA_WORDS", "OPERATORS", "NEGATION_RATE", "POSITIVE", "NEGATIVE", "NEUTRAL",
           "SENTIMENTS", "random_formula", "formula_value", "formula_tokens", "random_sentence", "polarity",
           "sentence_words"]


def _build(preorder: list, label) -> Tree:
    """The tree of its nodes in pre-order, (word, number of children) each, each node's label
    `label(word, children)` computed from its children's trees, bottom-up."""
    built = []
    for word, k in reversed(preorder):
        kids = tuple(built.pop() for _ in range(k))
        built.append(Tree(label(word, kids), word, kids))
    return built[0]


def _balanced(rng: np.random.Generator, k: int, classes: int, draw) -> list:
    """`k` examples, `draw()` each, their root classes as even as `k` allows in a random
    order: each drawn again until its root has the class it is due."""
    made = []
    for wanted in rng.permutation(np.arange(k) % classes):
        tree = draw()
        while tree.label != wanted:
            tree = draw()
        made.append(tree)
    return made


def _data(drawn: dict, vocabulary: Vocabulary, labels: str, form: str, tokens, task: str, unit: str,
          classes: tuple) -> Data:
    """Data of {split name: trees}: the trees' arrays (K = 2) or, with form="sequence", the
    token sequences `tokens(tree)` padded to the longest of all the splits, labelled by their roots."""
    made = {}
    if form == "sequence":
        length = max(len(tokens(t)) for trees in drawn.values() for t in trees)
        for name, trees in drawn.items():
            x = padded([vocabulary.encode(tokens(t)) for t in trees], length)
            made[name] = Split((x,), np.array([t.label for t in trees], "int32"))
    else:
        for name, trees in drawn.items():
            ids, children, y, w = tree_arrays(trees, vocabulary, labels, min_arity=2)
            made[name] = Split((ids, children), y, w)
    return replace(generated_data(made, task, unit, source_vocabulary=vocabulary), classes=classes)


# ================================================================ Boolean formulas


OPERATORS = {"and": lambda a, b: a & b, "or": lambda a, b: a | b, "xor": lambda a, b: a ^ b}
NEGATION_RATE = 0.2  # the chance that a subformula (not directly under a `not`) is negated
FORMULA_WORDS = ("(", ")", "T", "F", "not", "and", "or", "xor")


def formula_value(word: str, children: tuple) -> int:
    """The truth value (0 or 1) of a node of a formula, from its word and its children's labels."""
    if word in ("T", "F"):
        return int(word == "T")
    if word == "not":
        return 1 - children[0].label
    return OPERATORS[word](children[0].label, children[1].label)


def random_formula(rng: np.random.Generator, leaves: int) -> Tree:
    """A random formula of `leaves` constants (T or F, evenly): a random binary bracketing (a
    node of m leaves splits into 1 to m - 1 on its left, evenly), each inner node `and`, `or`
    or `xor` (evenly), and each subformula, the whole one too, negated by `not` with chance
    NEGATION_RATE (never twice in a row). Each node's word is its constant or operator, its
    label the truth value of its subformula."""
    preorder, stack = [], [(leaves, True)]
    while stack:
        m, may_negate = stack.pop()
        if may_negate and rng.random() < NEGATION_RATE:
            preorder.append(("not", 1))
            stack.append((m, False))
        elif m == 1:
            preorder.append(("T" if rng.integers(2) else "F", 0))
        else:
            left = int(rng.integers(1, m))
            preorder.append((("and", "or", "xor")[rng.integers(3)], 2))
            stack.extend([(m - left, True), (left, True)])
    return _build(preorder, formula_value)


def formula_tokens(tree: Tree) -> list:
    """The formula as a sequence model reads it, bracketed in prefix form: a constant alone, an
    operator's node `( OP CHILD... )`: `( and T ( not F ) )`."""
    out, stack = [], [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            out.append(node)
        elif not node.children:
            out.append(node.word)
        else:
            out += ["(", node.word]
            stack.append(")")
            stack.extend(reversed(node.children))
    return out


def boolean_formulas(base: Path, seed: int, *, train: int, test: int, validation: int, max_leaves: int,
                     test_min_leaves: int, test_max_leaves: int, labels: str, form: str) -> Data:
    """Boolean formulas over the constants T and F with `and`, `or`, `xor` and `not`, each
    labelled with its truth value (0 false, 1 true; classes "false", "true"): the recursive
    networks' test of generalising to larger trees (as in Bowman et al. 2015's logic tasks).
    Training and validation formulas have 1 to `max_leaves` constants, test formulas
    `test_min_leaves` to `test_max_leaves` (each count equally likely); `random_formula` draws
    each one. Half the formulas of each split are true, in random order. Training formulas
    are drawn first, then the test ones, then the validation ones.

    form="tree": every node has its word, a leaf T or F, an inner node its operator; inputs
    (tokens int32 `(n, N)`, children int32 `(n, N, 2)`, `not` having one child) as
    rnndsl.train.trees lays them out; labels="root" (the default): targets int32 `(n,)`, the
    formula's value; labels="nodes": targets `(n, N)`, every subformula's value, with
    sample_weight `(n, N)`. form="sequence", for a sequence model on the same formulas: inputs
    token ids int32 `(n, T)`, the formula bracketed in prefix form (`( and T ( not F ) )`,
    `formula_tokens`), padded with 0 to the longest of all the splits; targets `(n,)`."""
    rng = np.random.default_rng(seed)
    vocabulary = Vocabulary(SPECIALS + FORMULA_WORDS)
    drawn = {}
    for name, k in draw_order(train, test, validation):
        low, high = (test_min_leaves, test_max_leaves) if name == "test" else (1, max_leaves)
        drawn[name] = _balanced(rng, k, 2, lambda: random_formula(rng, int(rng.integers(low, high + 1))))
    task = f"Boolean formulas of 1-{max_leaves} constants (test {test_min_leaves}-{test_max_leaves})"
    return _data(drawn, vocabulary, labels, form, formula_tokens, task, "formulas", ("false", "true"))


# ================================================================ sentiment with negation


POSITIVE = ("good", "great", "fun", "funny", "charming", "brilliant", "moving", "clever", "lovely", "superb")
NEGATIVE = ("bad", "dull", "boring", "awful", "weak", "tedious", "messy", "bland", "clumsy", "stale")
NEUTRAL = ("the", "a", "film", "movie", "plot", "story", "cast", "script", "it", "this", "is", "was", "and", "of",
           "director", "ending")
SENTIMENTS = ("negative", "neutral", "positive")  # class ids 0, 1, 2: polarity -1, 0, +1


def polarity(word, children: tuple) -> int:
    """The class of a node of a sentiment tree (0 negative, 1 neutral, 2 positive) from its word
    and its children's labels. A leaf: its word's polarity ("not" is neutral). A node whose
    left child is the leaf "not": its right child's polarity flipped (positive and negative
    swap, neutral stays). Any other node of two children: the sign of the sum of their
    polarities (+1 and -1 cancel to neutral; a neutral child leaves the other's)."""
    if not children:
        return 2 if word in POSITIVE else 0 if word in NEGATIVE else 1
    left, right = children
    if left.word == "not" and not left.children:
        return 2 - right.label
    return int(np.sign((left.label - 1) + (right.label - 1))) + 1


def random_sentence(rng: np.random.Generator, words: int, negation: float) -> Tree:
    """A random binary sentiment tree of `words` content words, words at the leaves only: a
    random binary bracketing (a phrase of m words splits into 1 to m - 1 on its left, evenly);
    each phrase, the whole sentence and single words too, is negated with chance `negation`
    (never twice in a row): it becomes the right child of a new node whose left child is the
    leaf "not". A content word is positive, negative or neutral with chances 1/4, 1/4, 1/2,
    then any word of its list (POSITIVE, NEGATIVE, NEUTRAL) evenly. Labels by `polarity`."""
    preorder, stack = [], [(words, True)]
    while stack:
        m, may_negate = stack.pop()
        if may_negate and rng.random() < negation:
            preorder += [(None, 2), ("not", 0)]
            stack.append((m, False))
        elif m == 1:
            lexicon = (POSITIVE, NEGATIVE, NEUTRAL, NEUTRAL)[rng.integers(4)]
            preorder.append((lexicon[rng.integers(len(lexicon))], 0))
        else:
            left = int(rng.integers(1, m))
            preorder.append((None, 2))
            stack.extend([(m - left, True), (left, True)])
    return _build(preorder, polarity)


def sentence_words(tree: Tree) -> list:
    """The sentence of a tree: its leaves' words, left to right."""
    return [n.word for n in nodes(tree) if not n.children and n.word is not None]


def sentiment_trees(base: Path, seed: int, *, train: int, test: int, validation: int, min_words: int, max_words: int,
                    negation: float, labels: str, form: str) -> Data:
    """A small synthetic sentiment treebank in the form of the Stanford Sentiment Treebank
    (Socher et al. 2013): binary trees, words at the leaves, a sentiment label at every node,
    in which negation flips the polarity of its scope. Three classes, "negative", "neutral",
    "positive" (ids 0, 1, 2). `random_sentence` draws each tree of `min_words` to `max_words`
    content words (each count equally likely) plus its "not"s; `polarity` labels it:

    - a leaf: its word's polarity, from a fixed lexicon of 10 positive, 10 negative and 16
      neutral words; "not" is neutral;
    - a node whose left child is the leaf "not": its right child's polarity, flipped;
    - any other node: the sign of the sum of its two children's polarities (+1, 0, -1).

    So the label depends on the bracketing, not on the words alone: ((good good) bad) is
    neutral, (good (good bad)) positive, and (not (good bad)) neutral. A third of the roots of
    each split is of each class, in random order. Training trees are drawn first, then the
    test ones, then the validation ones.

    form="tree": inputs (tokens int32 `(n, N)`, 0 at the inner nodes, children int32
    `(n, N, 2)`) as rnndsl.train.trees lays them out; labels="nodes" (the default): targets
    int32 `(n, N)`, every node's class, sample_weight `(n, N)`; labels="root": targets `(n,)`.
    form="sequence", for a sequence model: inputs token ids int32 `(n, T)`, the sentence's words
    (`sentence_words`) padded with 0 to the longest of all the splits; targets the root's class
    `(n,)`."""
    rng = np.random.default_rng(seed)
    vocabulary = Vocabulary(SPECIALS + ("not",) + POSITIVE + NEGATIVE + NEUTRAL)
    drawn = {}
    for name, k in draw_order(train, test, validation):
        drawn[name] = _balanced(rng, k, 3, lambda: random_sentence(rng, int(rng.integers(min_words, max_words + 1)),
                                                                     negation))
    task = f"synthetic sentiment trees of {min_words}-{max_words} words, negation {negation:g}"
    return _data(drawn, vocabulary, labels, form, sentence_words, task, "trees", SENTIMENTS)


TREE_TASKS = {"boolean_formulas": boolean_formulas, "sentiment_trees": sentiment_trees}
