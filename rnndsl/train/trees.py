"""trees: labelled trees, and the arrays that a tree network reads (n trees, N nodes, K children).

- `Tree`: one node, its label (a class id, or None), its word (or None) and its children, in
  order. Every function here walks trees with an explicit stack, never by recursion, so a tree
  100,000 levels deep is as good as a flat one.
- `nodes`, `size`, `height`: a tree's nodes in pre-order, how many, the longest path down.
- `tree_arrays`: a list of trees laid out as arrays, nodes numbered in pre-order:

  tokens    int32 `(n, N)`: the vocabulary id of each node's word; 0 (`<pad>`) where the node
            has none (the inner nodes of a treebank) and at padding nodes;
  children  int32 `(n, N, K)`: `children[i, j, c]` is the index of node j's c-th child in tree
            i, -1 where there is none; node 0 is the root, a child's index is above its
            parent's, and padding nodes (past the tree's size) are all -1 and nobody's child;
  targets   labels="nodes": int32 `(n, N)` each node's class id, 0 where it has none; with
            weight float32 `(n, N)`, 1 at labelled nodes, 0 at unlabelled and padding ones.
            labels="root": int32 `(n,)`, the root's class id; weight None.

- `to_bracketed` and `to_json` write a tree in the forms that rnndsl.train.tree_readers reads.

NumPy only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import re

import numpy as np

from ..lang.errors import DataError
from ..lang.wording import count
from .containers import Vocabulary

__all__ = ["Tree", "MAX_NODES", "MAX_CELLS", "WORD", "LABELS", "nodes", "size", "height", "tree_arrays",
           "to_bracketed", "to_json"]

MAX_NODES = 100_000  # the most nodes of one tree that a data source accepts
MAX_CELLS = 2 ** 28  # the most entries of the padded arrays of one split, all of them together (n * N * (K + 2))
LABELS = ("nodes", "root")  # the label layouts of `tree_arrays`
WORD = re.compile(r"[^\s()]+")  # a word of the bracketed form: no white space, no bracket


@dataclass(frozen=True, eq=False, repr=False, slots=True)
class Tree:
    """One node of a tree: `label`, a class id (None: unlabelled, weighted 0 in the loss);
    `word`, the token at the node (None: none, token 0); `children`, its subtrees in order (a
    leaf has none). Two trees are equal when they have the same nodes in the same places."""

    label: Optional[int] = None
    word: Optional[str] = None
    children: tuple = ()

    def _key(self) -> tuple:
        return tuple((n.label, n.word, len(n.children)) for n in nodes(self))

    def __eq__(self, other) -> bool:
        return isinstance(other, Tree) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        text = to_bracketed(self, strict=False)
        return f"Tree<{text if len(text) <= 200 else text[:199] + '…'}>"


def nodes(tree: Tree) -> list:
    """The tree's nodes in pre-order: a node before its children, children left to right."""
    out, stack = [], [tree]
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(reversed(node.children))
    return out


def size(tree: Tree) -> int:
    """The number of nodes."""
    return len(nodes(tree))


def height(tree: Tree) -> int:
    """The number of edges on the longest path from the root down to a leaf: 0 for a leaf."""
    best, stack = 0, [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        best = max(best, depth)
        stack.extend((c, depth + 1) for c in node.children)
    return best


def tree_arrays(trees: Sequence[Tree], vocabulary: Vocabulary, labels: str = "nodes", *,
                min_nodes: int = 1, min_arity: int = 1,
                where: Optional[Sequence[str]] = None) -> tuple:
    """(tokens, children, targets, weight) of `trees`, laid out as the module's docstring says.
    N is the largest tree's size and K the most children of any node; they are at least
    `min_nodes` and `min_arity` (to lay out several splits alike). Words not in `vocabulary`
    are `<unk>`.

    A `DataError` for a tree without a root label under labels="root", or arrays too large;
    `where[i]` (a file and line) names tree i in messages, else "tree i" (from 1)."""
    if labels not in LABELS:
        raise ValueError(f"labels is one of {LABELS}, not {labels!r}")
    n = len(trees)
    walks = [_walk(t) for t in trees]
    N = max([len(w) for w in walks] + [min_nodes, 1])
    K = max([len(node.children) for w in walks for node, _ in w] + [min_arity, 1])
    if n * N * (K + 2) > MAX_CELLS:
        raise DataError(f"{n} trees of up to {count(N, 'node')} and {count(K, 'child')} a node make arrays of "
                        f"{n * N * (K + 2)} entries, above {MAX_CELLS}, the most a split may hold")
    tokens = np.zeros((n, N), "int32")
    children = np.full((n, N, K), -1, "int32")
    if labels == "nodes":
        targets, weight = np.zeros((n, N), "int32"), np.zeros((n, N), "float32")
    else:
        targets, weight = np.zeros((n,), "int32"), None
    for i, walk in enumerate(walks):
        if labels == "root":
            if trees[i].label is None:
                raise DataError(f"{where[i] if where else f'tree {i + 1}'}: the root has no label, which "
                                'labels="root" needs')
            targets[i] = trees[i].label
        for j, (node, parent) in enumerate(walk):
            if node.word is not None:
                (tokens[i, j],) = vocabulary.encode([node.word])
            if parent is not None:
                children[i, parent[0], parent[1]] = j
            if weight is not None and node.label is not None:
                targets[i, j], weight[i, j] = node.label, 1.0
    return tokens, children, targets, weight


def _walk(tree: Tree) -> list:
    """[(node, (parent's index, which child) or None)] in pre-order."""
    out, stack = [], [(tree, None)]
    while stack:
        node, parent = stack.pop()
        j = len(out)
        out.append((node, parent))
        stack.extend((node.children[c], (j, c)) for c in range(len(node.children) - 1, -1, -1))
    return out


def to_bracketed(tree: Tree, classes: Sequence[str] = (), *, strict: bool = True) -> str:
    """The tree in the bracketed form of the Penn Treebank, as the Stanford Sentiment Treebank
    writes it: `(3 (2 It) (4 (2 's) (3 fun)))`, each node `(LABEL [WORD] CHILD...)`. Labels
    are written as integers (what `treebank` reads), or by name where `classes` are given.

    A ValueError (unless not `strict`, for a tree's repr) for what the form cannot hold: a
    node without a label, without a word and children, or a word with a space or a bracket."""
    parts, stack = [], [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, str):  # a closing bracket
            parts.append(node)
            continue
        if strict:
            if node.label is None:
                raise ValueError("the bracketed form needs a label at every node")
            if node.word is None and not node.children:
                raise ValueError("the bracketed form needs a word or children at every node")
            if node.word is not None and not WORD.fullmatch(node.word):
                raise ValueError(f"the word {node.word!r} has a space or a bracket, which the bracketed form "
                                 "cannot hold")
        label = "_" if node.label is None else classes[node.label] if classes else str(node.label)
        parts.append(f"({label}" + ("" if node.word is None else f" {node.word}"))
        stack.append(")")
        for child in reversed(node.children):
            stack.append(child)
            stack.append(" ")
    return "".join(parts)


def to_json(tree: Tree, classes: Sequence[str] = (), *, label: str = "label", word: str = "word",
            children: str = "children") -> dict:
    """The tree as nested JSON objects, `{"label": 3, "word": "fun", "children": [...]}`, what
    `trees` reads (keys as named; `word` and `children` only where a node has them, `label`
    only where it has one; labels by name where `classes` are given). `json.dumps` nests
    only so deep: about 490 levels of tree."""
    def node_object(node: Tree) -> dict:
        out = {}
        if node.label is not None:
            out[label] = classes[node.label] if classes else node.label
        if node.word is not None:
            out[word] = node.word
        return out

    root = node_object(tree)
    stack = [(tree, root)]
    while stack:
        node, made = stack.pop()
        if node.children:
            made[children] = [node_object(c) for c in node.children]
            stack.extend(zip(node.children, made[children]))
    return root
