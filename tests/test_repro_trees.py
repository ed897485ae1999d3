"""Training reproductions over trees (issue 15): the networks of examples/trees.rnn, each trained by its
train block as `rnndsl train` runs it (rnndsl.train.run.run), from its seed. Marked `slow`: `make repro`
runs them; each takes well under 10 minutes on 2 CPU cores.

- Boolean formulas (as in Bowman et al. 2015's logic tasks): trained on formulas of at most 8 constants,
  tested on 12 to 16. The binary Tree-LSTM must reach 98% (the issue's figure); the LSTM that reads the
  bracketed formula with the same budget is reported beside it.
- A synthetic sentiment treebank (rnndsl.train.tree_tasks.sentiment_trees) in which negation flips its
  scope's polarity and a phrase's label depends on its bracketing: the RNTN and the binary Tree-LSTM
  trained on every node's label, their root and all-node accuracy on the test trees; the LSTM reading
  the words alone is reported beside them. This treebank is ours, so there is no paper's figure: the
  check is that a tree model gets at least 90% of the test roots right, where the words-only LSTM gets
  about half (a third is chance), and so that it has learnt the composition, not the words.

docs/reproductions.md records the figures reached.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

import rnndsl
from test_repro import _record

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _train(network: str, tmp_path):
    """Train `network` of examples/trees.rnn by its train block: (the result, the test split)."""
    from rnndsl.train import sources as data
    from rnndsl.train.run import plan_of, run

    program = rnndsl.load(EXAMPLES / "trees.rnn")
    plan = plan_of(program, network, {})
    test = data.load(plan.data.name, plan.data.args, base=EXAMPLES, seed=plan.seed).test
    return run(program, network, out=tmp_path / network, verbose=0), test


def _predicted(model, test) -> np.ndarray:
    """The class a model gives each example (or each node) of `test`."""
    inputs = list(test.inputs) if len(test.inputs) > 1 else test.inputs[0]
    return np.asarray(model.predict(inputs, verbose=0)).argmax(-1)


def _accuracies(model, test) -> tuple:
    """(root accuracy, accuracy over every labelled node) of a model that labels every node, on `test`."""
    predicted = _predicted(model, test)
    weight = test.sample_weight
    nodes = float(((predicted == test.targets) * weight).sum() / weight.sum())
    return float((predicted[:, 0] == test.targets[:, 0]).mean()), nodes


def _root_accuracy(model, test) -> float:
    return float((_predicted(model, test) == test.targets).mean())


def test_boolean_formulas_generalize_to_larger_trees(tmp_path):
    started = time.perf_counter()
    tree, test = _train("FormulasTreeLSTM", tmp_path)
    accuracy = _root_accuracy(tree.model, test)
    assert tree.metrics["test"]["accuracy"] == pytest.approx(accuracy, abs=1e-6)
    lstm, lstm_test = _train("FormulasLSTM", tmp_path)
    baseline = _root_accuracy(lstm.model, lstm_test)
    _record("Boolean formulas, 12-16 constants: BinaryTreeLSTM(32)", "test accuracy", accuracy, ">= 0.98", 0,
            started, lstm_bracketed_string=baseline, tree_seconds=round(tree.seconds, 1),
            lstm_seconds=round(lstm.seconds, 1))
    assert accuracy >= 0.98


@pytest.mark.parametrize("network", ["SentimentRNTN", "SentimentTreeLSTM"])
def test_sentiment_treebank_with_negation(network, tmp_path):
    started = time.perf_counter()
    trained, test = _train(network, tmp_path)
    root, nodes = _accuracies(trained.model, test)
    lstm, lstm_test = _train("SentimentLSTM", tmp_path)
    baseline = _root_accuracy(lstm.model, lstm_test)
    _record(f"synthetic sentiment treebank: {network}", "test root accuracy", root, ">= 0.9", 0, started,
            all_nodes=nodes, lstm_words_root=baseline, seconds_training=round(trained.seconds, 1))
    assert root >= 0.9 and nodes >= 0.9
    assert root > baseline + 0.2  # the composition, not the words
