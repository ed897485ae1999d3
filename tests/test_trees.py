"""Trees end to end: the language of tree cells (arity, children by position, leaves, `concat` over children,
`returns=nodes`) and its diagnostics; tree networks that build, save and reload, train, evaluate and predict;
the checks of tree data. The cells' numbers against their papers' equations are tests/test_tree_cells.py's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from helpers import checked, diagnostics
from rnndsl.cli import main

ROOT = Path(__file__).resolve().parent.parent

# ---------------------------------------------------------------- diagnostics

DIAGNOSTICS = {
    'arity_not_a_number': (
        'cell T(units: int) over tree(two) {\n    input x: [units]\n    h[n] = tanh(x[n]) + sum(h[k] for k in children(n))\n    output h\n}\n',
        "error[E0205]: a tree's arity is a whole number of children\n  --> spec.rnn:1:20\n   |\n 1 | cell T(units: int) over tree(two) {\n   |                    ^^^^^^^^^^^^^^ write `over tree(2)`: 1 to 64 children per node\n   = note: `over tree` alone takes any number of children, read in reductions\n"),
    'arity_zero': (
        'cell T(units: int) over tree(0) {\n    input x: [units]\n    h[n] = tanh(x[n]) + sum(h[k] for k in children(n))\n    output h\n}\n',
        "error[E0205]: a tree's arity is a whole number of children\n  --> spec.rnn:1:20\n   |\n 1 | cell T(units: int) over tree(0) {\n   |                    ^^^^^^^^^^^^ write `over tree(2)`: 1 to 64 children per node\n   = note: `over tree` alone takes any number of children, read in reductions\n"),
    'arity_too_large': (
        'cell T(units: int) over tree(65) {\n    input x: [units]\n    h[n] = tanh(x[n]) + sum(h[k] for k in children(n))\n    output h\n}\n',
        "error[E0205]: a tree's arity is a whole number of children\n  --> spec.rnn:1:20\n   |\n 1 | cell T(units: int) over tree(65) {\n   |                    ^^^^^^^^^^^^^ write `over tree(2)`: 1 to 64 children per node\n   = note: `over tree` alone takes any number of children, read in reductions\n"),
    'arity_keyword': (
        'cell T(units: int) over tree(k=2) {\n    input x: [units]\n    h[n] = tanh(x[n]) + sum(h[k] for k in children(n))\n    output h\n}\n',
        "error[E0205]: a tree's arity is a whole number of children\n  --> spec.rnn:1:20\n   |\n 1 | cell T(units: int) over tree(k=2) {\n   |                    ^^^^^^^^^^^^^^ write `over tree(2)`: 1 to 64 children per node\n   = note: `over tree` alone takes any number of children, read in reductions\n"),
    'child_without_arity': (
        'cell T(units: int) over tree {\n    input x: [units]\n    h[n] = tanh(x[n] + h[child(n, 0)]) + sum(h[k] for k in children(n))\n    output h\n}\n',
        'error[E0105]: `child(n, 0)` needs a tree of fixed arity\n  --> spec.rnn:3:26\n   |\n 3 |     h[n] = tanh(x[n] + h[child(n, 0)]) + sum(h[k] for k in children(n))\n   |                          ^^^^^^^^^^^ this cell takes any number of children\n   = note: write `cell T(...) over tree(2)` for two children a node, or read the children in a reduction: `sum(h[k] for k in children(n))`\n'),
    'child_past_arity': (
        'cell T(units: int) over tree(2) {\n    input x: [units]\n    h[n] = tanh(x[n] + h[child(n, 2)]) + sum(h[k] for k in children(n))\n    output h\n}\n',
        "error[E0105]: `child(n, 2)` is past the tree's arity\n  --> spec.rnn:3:35\n   |\n 3 |     h[n] = tanh(x[n] + h[child(n, 2)]) + sum(h[k] for k in children(n))\n   |                                   ^ `over tree(2)`: children 0 to 1\n"),
    'child_malformed': (
        'cell T(units: int) over tree(2) {\n    input x: [units]\n    h[n] = tanh(x[n] + h[child(k, 0)]) + sum(h[k] for k in children(n))\n    output h\n}\n',
        'error[E0105]: a child is read by its position: `child(n, i)`\n  --> spec.rnn:3:26\n   |\n 3 |     h[n] = tanh(x[n] + h[child(k, 0)]) + sum(h[k] for k in children(n))\n   |                          ^^^^^^^^^^^ write `h[child(n, 0)]`\n   = note: i is a whole number, from 0\n'),
    'child_as_call': (
        'cell T(units: int) over tree(2) {\n    input x: [units]\n    h[n] = tanh(x[n] + child(n, 0)) + sum(h[k] for k in children(n))\n    output h\n}\n',
        "error[E0222]: `child(n, i)` is read as an index\n  --> spec.rnn:3:24\n   |\n 3 |     h[n] = tanh(x[n] + child(n, 0)) + sum(h[k] for k in children(n))\n   |                        ^^^^^^^^^^^ write `h[child(n, 0)]`: child 0's value of `h`\n"),
    'concat_without_arity': (
        'cell T(units: int) over tree {\n    input x: [units]\n    h[n] = tanh(x[n] + sum(concat(h[k] for k in children(n)))) + sum(h[k] for k in children(n))\n    output h\n}\n',
        "error[E0222]: `concat` over children needs a tree of fixed arity\n  --> spec.rnn:3:34\n   |\n 3 |     h[n] = tanh(x[n] + sum(concat(h[k] for k in children(n)))) + sum(h[k] for k in children(n))\n   |                                  ^^^^^^^^^^^^^^^^^^^^^^^^^^^ a node's number of children varies in this cell\n   = note: write `cell T(...) over tree(2)`: then `concat` puts the children side by side\n"),
    'leaf_in_time_cell': (
        'cell T(units: int) {\n    input x: [units]\n    h[t] = where(leaf(n), x[t], h[t-1])\n    output h\n}\n',
        'error[E0222]: `leaf(n)` needs a tree cell\n  --> spec.rnn:3:18\n   |\n 3 |     h[t] = where(leaf(n), x[t], h[t-1])\n   |                  ^^^^^^^ this cell runs over time\n   = note: write `cell T(...) over tree`\n'),
    'leaf_malformed': (
        'cell T(units: int) over tree(2) {\n    input x: [units]\n    h[n] = where(leaf(k), x[n], h[child(n, 0)])\n    output h\n}\n',
        'error[E0222]: `leaf` takes the node: `leaf(n)`\n  --> spec.rnn:3:18\n   |\n 3 |     h[n] = where(leaf(k), x[n], h[child(n, 0)])\n   |                  ^^^^^^^ write `leaf(n)`\n'),
    'leaf_not_a_number': (
        'cell T(units: int) over tree(2) {\n    input x: [units]\n    h[n] = leaf(n) * x[n] + h[child(n, 0)]\n    output h\n}\n',
        'error[E0304]: a bool value in `*`\n  --> spec.rnn:3:12\n   |\n 3 |     h[n] = leaf(n) * x[n] + h[child(n, 0)]\n   |            ^^^^^^^ a bool\n   = note: use `where(cond, a, b)` to choose by a condition\n'),
    'softmax_over_children': (
        'cell T(units: int) over tree(2) {\n    input x: [units]\n    h[n] = softmax(h[k] for k in children(n))\n    output h\n}\n',
        'error[E0222]: `softmax` does not reduce over children\n  --> spec.rnn:3:19\n   |\n 3 |     h[n] = softmax(h[k] for k in children(n))\n   |                   ^^^^^^^^^^^^^^^^^^^^^^^^^^^ only sum, mean, max, min, prod, norm and (in a tree of fixed arity) concat do\n'),
    'state_never_read_at_a_child': (
        'cell T(units: int) over tree(2) {\n    input x: [units]\n    state h: [units] = 0\n    h[n] = tanh(x[n])\n    output h\n}\n',
        'error[E0211]: `h` is declared a state but never read at a child\n  --> spec.rnn:3:11\n   |\n 3 |     state h: [units] = 0\n   |           ^ not a state\n   = note: a value becomes state when a node reads it at a child: `h[k]` in a reduction over children, or `h[child(n, 0)]`\n'),
    'returns_nodes_on_time': (
        'import "std/lstm.rnn"\nnetwork N {\n    input x: seq[3]\n    output LSTM(4, returns=nodes)(x)\n}\n',
        'error[E0305]: cell `LSTM` runs over time: it has no nodes to return\n  --> spec.rnn:4:12\n   |\n 4 |     output LSTM(4, returns=nodes)(x)\n   |            ^^^^^^^^^^^^^^^^^^^^^^^^^ returns=nodes\n   = note: `returns=nodes` is for tree cells; a time cell returns `sequences`, `last` or `states`\n'),
    'bidirectional_tree': (
        'import "std/treelstm.rnn"\nnetwork N {\n    input x: tree[3]\n    output Bidirectional(ChildSumTreeLSTM(4))(x)\n}\n',
        "error[E0305]: cell `ChildSumTreeLSTM` runs over trees, which have no backward direction\n  --> spec.rnn:4:12\n   |\n 4 |     output Bidirectional(ChildSumTreeLSTM(4))(x)\n   |            ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^ Bidirectional\n   = note: a tree cell reads a node's children: apply it alone\n"),
}


@pytest.mark.parametrize("name", sorted(DIAGNOSTICS))
def test_diagnostic(name):
    spec, expected = DIAGNOSTICS[name]
    assert diagnostics(spec) + "\n" == expected


# ---------------------------------------------------------------- the language


def test_ordered_children_in_the_ir():
    program = checked('import "std/recursive.rnn"\n')
    G = program.graph("RNTN")
    assert G.header.over == "tree" and G.header.arity == 2
    assert sorted((u, use.slot) for u, _, use in G.uses() if use.child) == [("h", None)]
    assert [rec.op for _, rec in G.records() if rec.kind == "op" and rec.op.startswith(("children.", "tree."))] \
        == ["children.concat", "tree.leaf"]
    assert [str(d) for d in G.shape("z")] == ["2*units"]
    binary = checked('import "std/treelstm.rnn"\n').graph("BinaryTreeLSTM")
    assert sorted((u, use.slot) for u, _, use in binary.uses() if use.slot is not None) == [("c", 0), ("c", 1)]


def test_explain_tells_how_a_tree_cell_lowers(capsys):
    assert main(["check", "--explain", str(ROOT / "specs/std/recursive.rnn")]) == 0
    out = capsys.readouterr().out
    assert "  runs over tree nodes, 2 child slots each\n" in out
    assert "  lowers:  tree layer: the nodes whose children are done, every tree of a batch at once, " \
           "one level a round (on TensorFlow; on JAX and PyTorch every node each round)\n" in out
    assert "generated" not in out


def _tree_layer(spec: str, name: str, input_dim: int, **hparams):
    """The tree layer of cell `name` of `spec`, for inputs of `input_dim` features."""
    from rnndsl.keras.cell import cell_source
    from rnndsl.keras.tree import TreeLayer

    return TreeLayer(cell_source(checked(spec), name), name, input_dim, hparams)


def test_a_missing_child_reads_the_initial_state():
    """`over tree(2)`: a leaf's two slots and a unary node's second read `state h = 0.5`."""
    layer = _tree_layer("cell S over tree(2) {\n    input x: [1]\n    state h: [1] = 0.5\n"
                        "    h[n] = x[n] + h[child(n, 0)] + 10 * h[child(n, 1)]\n    output h\n}\n", "S", 1)
    # root 0 with one child 1 (slot 0), which is a leaf; a second tree of one node
    values = np.array([[[1.0], [2.0]], [[3.0], [0.0]]], "float32")
    children = np.array([[[1, -1], [-1, -1]], [[-1, -1], [-1, -1]]], "int32")
    out = layer([values, children]).numpy()[..., 0]
    leaf = 2 + 0.5 + 10 * 0.5
    np.testing.assert_allclose(out, [[1 + leaf + 10 * 0.5, leaf], [3 + 0.5 + 5, 0]])


def test_a_learned_initial_state_is_a_parameter():
    layer = _tree_layer("cell S over tree(2) {\n    input x: [2]\n    param h0: [2] = 0\n    state h: [2] = h0\n"
                        "    h[n] = x[n] + sum(h[k] for k in children(n))\n    output h\n}\n", "S", 2)
    values, children = np.ones((1, 1, 2), "float32"), -np.ones((1, 1, 2), "int32")
    layer([values, children])
    layer.weights_by_name["h0"].assign([0.25, -1.0])
    np.testing.assert_allclose(layer([values, children]).numpy()[0, 0], [1.5, -1.0])  # 1 + 2 * h0


def test_reductions_over_no_children_and_over_some():
    spec = ("cell R over tree {\n    input x: [1]\n    state h: [1] = 0\n"
            "    s[n] = sum(h[k] for k in children(n))\n    m[n] = max(h[k] for k in children(n))\n"
            "    a[n] = mean(h[k] for k in children(n))\n    p[n] = prod(h[k] for k in children(n))\n"
            "    h[n] = x[n] + s[n] + 100 * m[n] + 10000 * a[n] + 1000000 * p[n]\n    output h\n}\n")
    layer = _tree_layer(spec, "R", 1)
    values = np.array([[[1.0], [2.0], [3.0]]], "float32")
    children = np.array([[[1, 2], [-1, -1], [-1, -1]]], "int32")
    out = layer([values, children]).numpy()[0, :, 0]
    leaves = [2 + 1e6, 3 + 1e6]  # a leaf: sum, max, mean 0 and prod 1 over no children
    a, b = leaves
    np.testing.assert_allclose(out, [1 + (a + b) + 100 * b + 10000 * (a + b) / 2 + 1e6 * a * b, a, b], rtol=1e-6)


# ---------------------------------------------------------------- networks

NETWORKS = '''import "std/treelstm.rnn"

network Sentiment(vocab: int = 20, units: int = 8) {
    input words: tree[int]
    emb = Embedding(vocab, units)(words)
    h = BinaryTreeLSTM(units)(emb)
    output Dense(3, activation=softmax)(h)
}

network Root(vocab: int = 20, units: int = 8) {
    input words: tree[int]
    c, h = ChildSumTreeLSTM(units, returns=states)(Embedding(vocab, units)(words))
    top = Stack(ChildSumTreeLSTM(units, returns=last), depth=2)(Embedding(vocab, units)(words))
    output Dense(2, activation=softmax)(h), top
}

network Given(units: int = 8) {
    input x: tree[3]
    input h0: vec[units]
    output ChildSumTreeLSTM(units, returns=last)(x, c=h0, h=h0)
}
'''


def _batch():
    """Two trees of token ids: `(2 (1 a) (3 (1 b) (4 c)))` and a lone leaf."""
    tokens = np.array([[0, 5, 0, 6, 7], [8, 0, 0, 0, 0]], "int32")
    children = -np.ones((2, 5, 2), "int32")
    children[0, 0] = [1, 2]
    children[0, 2] = [3, 4]
    return tokens, children


def test_tree_networks_build_save_and_reload(tmp_path):
    import keras

    program = checked(NETWORKS)
    tokens, children = _batch()
    model = program.build("Sentiment")
    assert [t.name for t in model.inputs] == ["words", "words_children"]
    out = model([tokens, children]).numpy()
    assert out.shape == (2, 5, 3)
    np.testing.assert_allclose(out[0].sum(-1), 1, rtol=1e-5)
    np.testing.assert_allclose(out[1, 1:], 1 / 3, rtol=1e-6)  # padding nodes: 0 from the tree layer
    model.save(tmp_path / "s.keras")
    again = keras.saving.load_model(tmp_path / "s.keras")
    np.testing.assert_allclose(again([tokens, children]).numpy(), out, atol=1e-6)
    root, top = program.build("Root")([tokens, children])
    assert root.shape == (2, 2) and top.shape == (2, 8)


def test_initial_states_by_keyword_are_refused():
    import rnndsl

    with pytest.raises(rnndsl.SpecErrors) as info:
        checked(NETWORKS).build("Given")
    error = info.value.errors[0]
    assert (error.code, error.message, error.label) == (
        "E0602", "a tree cell's initial states are its spec's: `ChildSumTreeLSTM` takes none by keyword", "c=, h=")


TRAINED = '''import "std/treelstm.rnn"

network Formulas(vocab: int = 12, units: int = 8) {
    input formula: tree[int]
    h = BinaryTreeLSTM(units, returns=last)(Embedding(vocab, units)(formula))
    output Dense(2, activation=softmax)(h)
    train {
        data = boolean_formulas(train=64, test=16, max_leaves=4, test_min_leaves=5, test_max_leaves=6)
        loss = cross_entropy
        metrics = accuracy
        epochs = 1
        batch = 16
    }
}
'''


def test_train_evaluate_and_predict_a_tree_network(tmp_path, capsys):
    spec = tmp_path / "formulas.rnn"
    spec.write_text(TRAINED)
    run = tmp_path / "run"
    assert main(["train", str(spec), "--out", str(run)]) == 0
    assert "test: accuracy" in capsys.readouterr().out
    assert main(["evaluate", str(run)]) == 0
    assert capsys.readouterr().out.startswith("test: accuracy ")
    tokens = np.array([[4, 5, 6, 0]], "int32")
    children = np.array([[[1, 2], [-1, -1], [-1, -1], [-1, -1]]], "int32")
    np.savez(tmp_path / "in.npz", formula=tokens, formula_children=children)
    assert main(["predict", str(run), "--data", str(tmp_path / "in.npz"), "-o", str(tmp_path / "out.npz")]) == 0
    assert np.load(tmp_path / "out.npz")["outputs"].shape == (1, 2)
    bad = {
        "range": (0, 0, 0, 9, "tree 0: node 0's child 0 is 9, not a node (0 to 3) or -1"),
        "order": (0, 2, 0, 1, "tree 0: node 2's child 1 comes before it (node 0 is the root, and a child's "
                              "index is above its parent's)"),
        "twice": (0, 1, 0, 2, "tree 0: node 2 is the child of two nodes"),
    }
    for name, (i, j, c, value, message) in bad.items():
        broken = children.copy()
        broken[i, j, c] = value
        np.savez(tmp_path / f"{name}.npz", formula=tokens, formula_children=broken)
        assert main(["predict", str(run), "--data", str(tmp_path / f"{name}.npz"), "-o",
                     str(tmp_path / "o.npz")]) == 1
        assert capsys.readouterr().err == f"error[E0701]: the inputs: input `formula_children`: {message}\n"
    wide = np.concatenate([children, -np.ones((1, 4, 1), "int32")], axis=2)
    wide[0, 0, 2] = 3
    np.savez(tmp_path / "wide.npz", formula=tokens, formula_children=wide)
    assert main(["predict", str(run), "--data", str(tmp_path / "wide.npz"), "-o", str(tmp_path / "o.npz")]) == 1
    assert capsys.readouterr().err == ("error[E0701]: the inputs: input `formula_children`: tree 0: node 0 has a "
                                       "child in slot 2, but the cell takes 2 children a node\n")


def test_slots_past_the_arity_without_children_are_left_alone():
    """A children array wider than `over tree(2)` (the data's widest node elsewhere) with its extra slots
    empty runs as the two slots alone (the fuzzer found the reshape that failed)."""
    layer = _tree_layer("cell S over tree(2) {\n    input x: [1]\n    state h: [1] = 0\n"
                        "    h[n] = x[n] + sum(h[k] for k in children(n))\n    output h\n}\n", "S", 1)
    values = np.ones((1, 3, 1), "float32")
    narrow = np.array([[[1, 2], [-1, -1], [-1, -1]]], "int32")
    wide = np.concatenate([narrow, -np.ones((1, 3, 2), "int32")], axis=2)
    np.testing.assert_allclose(layer([values, wide]).numpy(), layer([values, narrow]).numpy())
    np.testing.assert_allclose(layer([values, narrow]).numpy()[0, :, 0], [3, 1, 1])


def test_render_and_typeset_tree_networks_and_cells(tmp_path, capsys):
    spec = tmp_path / "trees.rnn"
    spec.write_text(NETWORKS)
    for args in (["--network", "Sentiment"], ["--cell", "BinaryTreeLSTM"], ["--cell", "BinaryTreeLSTM", "--style",
                                                                             "paper"]):
        out = tmp_path / "d.svg"
        assert main(["render", str(spec), *args, "-o", str(out)]) == 0
        assert out.read_text().lstrip().startswith(("<?xml", "<svg", "<!--"))
    out = tmp_path / "default.svg"
    assert main(["render", str(spec), "--cell", "BinaryTreeLSTM", "-o", str(out)]) == 0
    assert ">child 0<" in out.read_text() and ">child 1<" in out.read_text()
    assert "(over tree(2))" in out.read_text()
    capsys.readouterr()
    assert main(["latex", str(spec), "--cell", "BinaryTreeLSTM"]) == 0
    assert r"\mathbf{c}_{C_{0}(n)}" in capsys.readouterr().out


def test_a_node_without_a_word_reads_no_input_under_mask_zero():
    """With `Embedding(..., mask_zero=true)` a node of token 0 (a treebank's inner node) reads x[n] = 0, whatever
    the embedding of id 0; without it, the embedding of id 0 (a learned vector)."""
    spec = ('import "std/treelstm.rnn"\nnetwork M {{\n    input words: tree[int]\n'
            '    output BinaryTreeLSTM(4)(Embedding(10, 3, mask_zero={mask})(words))\n}}\n')
    tokens, children = _batch()
    for mask in ("true", "false"):
        model = checked(spec.format(mask=mask)).build("M")
        embedding = next(layer for layer in model.layers if layer.name.startswith("embedding"))
        table = embedding.embeddings.numpy()
        outputs = []
        for row in (0.0, 5.0):
            table[0] = row
            embedding.embeddings.assign(table)
            outputs.append(model([tokens, children]).numpy())
        same = np.allclose(outputs[0], outputs[1])
        assert same == (mask == "true"), mask


def test_children_that_are_no_nodes_do_not_stop_the_layer():
    """Called directly (rnndsl's data checks are not in the way), an index past the tree is no child, and a
    cycle ends with the loop's bound: garbage in, numbers out, no TensorFlow error."""
    layer = _tree_layer("cell S over tree {\n    input x: [1]\n    state h: [1] = 0\n"
                        "    h[n] = x[n] + sum(h[k] for k in children(n))\n    output h\n}\n", "S", 1)
    values = np.ones((1, 3, 1), "float32")
    out = layer([values, np.array([[[7], [2], [1]]], "int32")]).numpy()  # 7 is no node; 1 and 2 a cycle
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out[0, 0], [1.0])
