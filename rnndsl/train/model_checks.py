"""model_checks: whether a split's arrays fit a built model, before training or evaluating.

`check_model_fits` compares the arrays with the shapes the model declares
(rnndsl.train.checks.check_fits), then with the output the model gives for inputs of these
shapes (traced, nothing computed); `check_token_ids` refuses a token id past the vocabulary
of a layer that reads it; `check_trees` refuses children arrays that are not trees of the
layout rnndsl.keras.tree reads. Each problem is one DataError line.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from ..lang.errors import DataError
from .backend import is_tensorflow
from .checks import check_fits

__all__ = ["check_model_fits", "check_token_ids", "check_trees"]


def check_model_fits(model, split, what: str, loss: str) -> None:
    """A DataError before training when a split's arrays do not fit the model's inputs and output: the shapes
    the model declares, then the output for inputs of these shapes (steps that the model leaves open, None,
    must be the targets' too), except under CTC, whose targets are shorter label sequences."""
    names = [t.name for t in model.inputs]
    check_fits(split, [tuple(t.shape) for t in model.inputs], tuple(model.outputs[0].shape),
               names=names, what=f"the {what} data")
    check_token_ids(model, split.inputs, f"the {what} data")
    check_trees(model, split.inputs, f"the {what} data")
    output = None if loss == "ctc" else _output_shape(model, split, what)
    if output is not None:
        check_fits(split, [(None,) + a.shape[1:] for a in split.inputs], output, names=names,
                   what=f"the {what} data")


def check_token_ids(model, inputs, what: str) -> None:
    """A DataError where an integer input of `model` holds a token id past the vocabulary of a layer that
    reads it (TensorFlow's gather would stop the run with an error of its own, mid-epoch)."""
    vocabularies = _vocabularies(model)
    for i, array in enumerate(inputs):
        array = np.asarray(array)
        if i in vocabularies and array.size and array.dtype.kind in "iu":
            size, layer = vocabularies[i]
            top = int(array.max())
            if top >= size:
                raise DataError(f"{what}: input `{model.inputs[i].name}` holds the token id {top}, but `{layer}` "
                                f"reads ids 0 to {size - 1}")


def check_trees(model, inputs, what: str) -> None:
    """A DataError where the children array that a tree layer of `model` reads is not a batch of trees as
    rnndsl.keras.tree lays them out: indices -1 (none) or of a node of the same tree, each child after its
    parent (so there is no cycle), no node a child twice, no child past a fixed arity's slots, and as many
    nodes as the nodes' values."""
    index = {id(t): i for i, t in enumerate(model.inputs)}
    for layer in model.layers:
        if type(layer).__name__ != "TreeLayer":
            continue
        for node in layer._inbound_nodes:
            values_at, children_at = (index.get(id(t)) for t in list(node.input_tensors)[:2])
            if children_at is None:
                continue
            children = np.asarray(inputs[children_at])
            problem = _tree_problem(children, layer.arity)
            nodes = None if values_at is None else np.asarray(inputs[values_at]).shape[1]
            if problem is None and nodes is not None and nodes != children.shape[1]:
                problem = f"{children.shape[1]} nodes a tree, but input `{model.inputs[values_at].name}` has {nodes}"
            if problem:
                raise DataError(f"{what}: input `{model.inputs[children_at].name}`: {problem}")


def _tree_problem(children: np.ndarray, arity: Optional[int]) -> Optional[str]:
    """What is wrong with a children array `(n, N, K)`, or None."""
    if children.ndim != 3 or children.dtype.kind not in "iu":
        return f"expected int children (trees, nodes, children), found {children.dtype} {children.shape}"
    n, size, _ = children.shape
    bad = np.argwhere((children < -1) | (children >= size))
    if len(bad):
        i, j, c = bad[0]
        return f"tree {i}: node {j}'s child {c} is {children[i, j, c]}, not a node (0 to {size - 1}) or -1"
    parents = np.arange(size).reshape(1, -1, 1)
    bad = np.argwhere((children >= 0) & (children <= parents))
    if len(bad):
        i, j, c = bad[0]
        return (f"tree {i}: node {j}'s child {children[i, j, c]} comes before it "
                "(node 0 is the root, and a child's index is above its parent's)")
    if arity is not None and children.shape[2] > arity and (children[:, :, arity:] >= 0).any():
        i, j, c = np.argwhere(children[:, :, arity:] >= 0)[0]
        return f"tree {i}: node {j} has a child in slot {c + arity}, but the cell takes {arity} children a node"
    for i in range(n):
        found = children[i][children[i] >= 0]
        if len(found) != len(np.unique(found)):
            twice = int(next(k for k in found if (found == k).sum() > 1))
            return f"tree {i}: node {twice} is the child of two nodes"
    return None


def _vocabularies(model) -> dict:
    """{input index: (vocabulary size, layer name)}: the smallest vocabulary of the layers that read each input
    of `model` as token ids (an Embedding; an encoder-decoder's target)."""
    index = {id(t): i for i, t in enumerate(model.inputs)}
    found: dict = {}
    for layer in model.layers:
        for node in layer._inbound_nodes:
            tensors = list(node.input_tensors)
            if type(layer).__name__ == "Embedding" and tensors:
                reads, size = tensors[0], layer.input_dim
            elif type(layer).__name__ == "EncoderDecoder" and len(tensors) > 1:
                reads, size = tensors[1], layer.vocab
            else:
                continue
            i = index.get(id(reads))
            if i is not None and (i not in found or size < found[i][0]):
                found[i] = (size, layer.name)
    return found


def _output_shape(model, split, what: str) -> Optional[tuple]:
    """The shape of the model's output for one example of the split's shapes (batch None): the model traced
    (a TensorFlow graph on TensorFlow, Keras's symbolic call elsewhere), nothing computed. A DataError where
    the trace fails on sequence inputs of different lengths; None where it fails otherwise (training reports
    what it finds)."""
    try:
        output = _traced_output(model, [((1,) + a.shape[1:], t.dtype) for a, t in zip(split.inputs, model.inputs)])
    except Exception:  # noqa: BLE001 -- Keras wraps what a layer raises in a ValueError, TensorFlow in its own
        steps = sorted({a.shape[1] for a in split.inputs if a.ndim == 3 or a.dtype.kind in "iu"})
        if len(steps) > 1:
            raise DataError(f"the {what} data: the model cannot take its inputs of {' and '.join(map(str, steps))} "
                            "steps together: give every input the same number of steps") from None
        return None
    return (None,) + tuple(output.shape[1:])


def _traced_output(model, shapes: list):
    """The model's first output (a symbolic tensor) for inputs of these (shape, dtype)."""
    import keras

    if is_tensorflow():
        import tensorflow as tf

        specs = [tf.TensorSpec(shape, dtype) for shape, dtype in shapes]
        call = tf.function(lambda *x: model(list(x) if len(x) > 1 else x[0], training=False))
        return tf.nest.flatten(call.get_concrete_function(*specs).structured_outputs)[0]
    inputs = [keras.KerasTensor(shape, dtype) for shape, dtype in shapes]
    return keras.tree.flatten(model.compute_output_spec(inputs if len(inputs) > 1 else inputs[0], training=False))[0]
