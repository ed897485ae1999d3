"""lower: generated Keras cells equal Keras's own layers; networks build, save and reload."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

import rnndsl  # noqa: E402
from rnndsl.cli import main  # noqa: E402
from rnndsl.keras.cell import GeneratedCell, GeneratedRNN, cell_rnn  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
STD = ROOT / "specs" / "std"
RNG = np.random.default_rng(7)


def _pair(cell, keras_layer, to_keras):
    """The generated layer and Keras's own, with the same weights, built on x: (2, 6, 3)."""
    program = rnndsl.load(STD / f"{cell.lower() if cell != 'Elman' else 'elman'}.rnn")
    ours = cell_rnn(program, cell, input_dim=3, units=4)
    x = RNG.normal(size=(2, 6, 3)).astype("float32")
    ours(x)
    for v in ours.cell.weights_by_name.values():
        v.assign(RNG.normal(scale=0.5, size=v.shape).astype("float32"))
    theirs = keras_layer
    theirs(x)
    theirs.set_weights(to_keras({n: v.numpy() for n, v in ours.cell.weights_by_name.items()}))
    return ours, theirs, x


def _lstm_weights(w):
    return [np.concatenate([w[f"W_{g}"].T for g in "ifco"], 1),
            np.concatenate([w[f"U_{g}"].T for g in "ifco"], 1),
            np.concatenate([w[f"b_{g}"] for g in "ifco"])]


def _gru_weights(w):
    return [np.concatenate([w[f"W_{g}"].T for g in "zrh"], 1),
            np.concatenate([w[f"U_{g}"].T for g in "zrh"], 1),
            np.stack([np.concatenate([w[f"bx_{g}"] for g in "zrh"]),
                      np.concatenate([w[f"bh_{g}"] for g in "zrh"])])]


def _elman_weights(w):
    return [w["W"].T, w["U"].T, w["b"]]


PAIRS = {
    "LSTM": (lambda: keras.layers.LSTM(4, return_sequences=True), _lstm_weights),
    "GRU": (lambda: keras.layers.GRU(4, return_sequences=True, reset_after=True), _gru_weights),
    "Elman": (lambda: keras.layers.SimpleRNN(4, return_sequences=True), _elman_weights),
}


@pytest.mark.parametrize("cell", sorted(PAIRS))
def test_generated_cell_equals_keras_forward_and_gradient(cell):
    make, to_keras = PAIRS[cell]
    ours, theirs, x = _pair(cell, make(), to_keras)
    probe = RNG.normal(size=(2, 6, 4)).astype("float32")
    xt = tf.constant(x)

    def grads(layer):
        with tf.GradientTape() as tape:
            tape.watch(xt)
            y = layer(xt)
            loss = tf.reduce_sum(y * probe)
        return y, tape.gradient(loss, [xt] + layer.trainable_weights)

    y1, g1 = grads(ours)
    y2, g2 = grads(theirs)
    np.testing.assert_allclose(y1.numpy(), y2.numpy(), atol=1e-5)
    np.testing.assert_allclose(g1[0].numpy(), g2[0].numpy(), atol=1e-5)
    # weight gradients, mapped to Keras's layout like the weights themselves
    ours_named = dict(zip([w.name for w in ours.trainable_weights], [g.numpy() for g in g1[1:]]))
    for mine, theirs_g in zip(to_keras(ours_named), g2[1:]):
        np.testing.assert_allclose(mine, theirs_g.numpy(), atol=1e-5)


def test_weights_keep_the_spec_names():
    program = rnndsl.load(STD / "lstm.rnn")
    layer = cell_rnn(program, "LSTM", input_dim=3, units=4, name="enc")
    layer(np.zeros((1, 2, 3), "float32"))
    paths = [w.path for w in layer.weights]
    assert paths[0].endswith("enc/W_i")
    assert {p.rsplit("/", 1)[1] for p in paths} == {f"{k}_{g}" for k in "WUb" for g in "ifco"}


def test_fixed_parameters_are_not_trainable_and_constraints_apply():
    program = rnndsl.load(STD / "esn.rnn")
    layer = cell_rnn(program, "ESN", input_dim=3, units=6)
    layer(np.zeros((1, 2, 3), "float32"))
    assert layer.trainable_weights == []
    w = layer.cell.weights_by_name["W"].numpy()
    assert abs(np.max(np.abs(np.linalg.eigvals(w))) - 0.9) < 1e-4  # the spectral radius it was scaled to
    indrnn = cell_rnn(rnndsl.load(STD / "indrnn.rnn"), "IndRNN", input_dim=3, units=4)
    indrnn(np.zeros((1, 2, 3), "float32"))
    u = indrnn.cell.weights_by_name["u"]
    assert u.constraint is not None
    np.testing.assert_allclose(u.constraint(tf.constant([3.0, -3.0, 0.5])).numpy(), [1.0, -1.0, 0.5])


def test_config_round_trip():
    program = rnndsl.load(STD / "gru.rnn")
    layer = cell_rnn(program, "GRU", input_dim=3, units=4)
    config = layer.cell.get_config()
    assert "cell GRU(units: int)" in config["spec"]
    rebuilt = GeneratedCell.from_config(config)
    assert rebuilt.get_config() == config
    assert rebuilt.state_size == layer.cell.state_size == [4]


def _two_step_delay():
    """A cell that reads its state two steps back: h[t] = x[t] + h[t-2], on inputs of 2."""
    program = rnndsl.load("""
        cell D(n: int) {
            input x: [n]
            h[t] = x[t] + h[t-2]
            output h
        }
    """)
    return cell_rnn(program, "D", input_dim=2, n=2)


def test_delays_of_two_steps_and_matrix_states():
    layer = _two_step_delay()
    x = np.arange(10, dtype="float32").reshape(1, 5, 2)
    y = layer(x).numpy()[0]
    expected = [x[0, 0], x[0, 1], x[0, 2] + x[0, 0], x[0, 3] + x[0, 1], x[0, 4] + x[0, 2] + x[0, 0]]
    np.testing.assert_allclose(y, expected)
    ntm = cell_rnn(rnndsl.load(STD / "ntm.rnn"), "NTM", input_dim=3, controller=5, slots=6, width=3)
    assert ntm.cell.state_size == [5, 6, 18, 3]  # ctrl, w, M (6 x 3, flattened), r
    assert ntm(np.ones((2, 4, 3), "float32")).shape == (2, 4, 8)


HOISTABLE = [("elman.rnn", "Elman", dict(units=4)), ("lstm.rnn", "LSTM", dict(units=4)),
             ("gru.rnn", "GRU", dict(units=4)), ("indrnn.rnn", "IndRNN", dict(units=4)),
             ("ctrnn.rnn", "CTRNN", dict(units=4)), ("esn.rnn", "ESN", dict(units=4)),
             ("jordan.rnn", "Jordan", dict(hidden=4, out=2)),
             ("ntm.rnn", "NTM", dict(controller=5, slots=6, width=3, shifts=3))]


SCHEDULES = [(hoist, fuse) for hoist in ("always", "never") for fuse in ("always", "never")]


@pytest.mark.parametrize("file, cell, hparams", HOISTABLE, ids=[c for _, c, _ in HOISTABLE])
def test_every_schedule_computes_the_same(file, cell, hparams):
    """The same weights give the same outputs and gradients whether input-only work runs before the loop or in
    it, and whether sibling matmuls run one by one or stacked."""
    program = rnndsl.load(STD / file)
    x = tf.constant(RNG.normal(size=(2, 5, 3)).astype("float32"))
    layers = {s: cell_rnn(program, cell, input_dim=3, hoist=s[0], fuse=s[1], **hparams) for s in SCHEDULES}
    plans = {s: layer.cell.plan for s, layer in layers.items()}
    assert plans["always", "never"].hoisted_order and not plans["never", "never"].hoisted_order
    assert not plans["always", "never"].group_of
    reference = layers["never", "never"]
    for layer in layers.values():
        layer(x)
    results = {}
    for s, layer in layers.items():
        for v, w in zip(layer.cell.weights_by_name.values(), reference.cell.weights_by_name.values()):
            v.assign(w)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
            loss = tf.reduce_sum(y * y)
        results[s] = [y] + tape.gradient(loss, [x] + layer.trainable_weights)
    for s in SCHEDULES:
        for a, b in zip(results[s], results["never", "never"]):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-5)


def test_sibling_matmuls_run_as_one():
    """LSTM: the four input projections (hoisted) and the four recurrent ones (in the loop) each stack."""
    layer = cell_rnn(rnndsl.load(STD / "lstm.rnn"), "LSTM", input_dim=3, hoist="always", fuse="always", units=4)
    plan = layer.cell.plan
    assert [sorted(g.params) for g in plan.hoisted_groups] == [["W_c", "W_f", "W_i", "W_o"]]
    assert [(sorted(g.params), g.operand) for g in plan.step_groups] == [(["U_c", "U_f", "U_i", "U_o"], ("h", 1))]
    layer(np.zeros((2, 3, 3), "float32"))
    graph = tf.function(lambda x: layer(x)).get_concrete_function(tf.TensorSpec((2, 3, 3))).graph.as_graph_def()
    body = next(f for f in graph.library.function if "while_body" in f.signature.name)
    assert sum(n.op in ("MatMul", "BatchMatMulV2") for n in body.node_def) == 1  # one GEMM per step
    assert not any(n.op == "ConcatV2" for n in body.node_def)  # the matrices are stacked before the loop
    with pytest.raises(ValueError, match="fuse must be one of auto, always, never, not 'yes'"):
        cell_rnn(rnndsl.load(STD / "lstm.rnn"), "LSTM", input_dim=3, fuse="yes", units=4)


def test_a_memory_cell_runs_its_head_projections_as_one_matmul():
    """The NTM plans for XLA (optimize.plans_for_xla): its controller's input projection is hoisted, and the
    projections of its head's parameters, matrices and dot products with vectors, are one matmul a step,
    with the values and gradients of the cell run op by op."""
    program = rnndsl.load(STD / "ntm.rnn")
    sizes = dict(controller=6, slots=5, width=3)
    fused = cell_rnn(program, "NTM", input_dim=2, **sizes)
    plain = cell_rnn(program, "NTM", input_dim=2, hoist="never", fuse="never", **sizes)
    plan = fused.cell.plan
    assert plan.frontier != ["x"]
    assert [(sorted(g.params), g.operand, g.dots.count(True)) for g in plan.step_groups] == [
        (["W_a", "W_e", "W_k", "W_s", "v_beta", "v_g", "v_gamma"], ("ctrl", 0), 3)]
    x = tf.constant(np.random.default_rng(0).normal(size=(2, 4, 2)).astype("float32"))
    results = []
    for layer in (fused, plain):
        layer(x[:, :1])
        results.append(layer)
    for w, v in zip(plain.trainable_weights, fused.trainable_weights):
        w.assign(v)
    found = []
    for layer in results:
        with tf.GradientTape() as tape:
            y = layer(x)
            loss = tf.reduce_sum(y ** 2)
        found.append([y] + tape.gradient(loss, layer.trainable_weights))
    for a, b in zip(*found):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)


def test_hoisting_on_a_cpu_only_when_the_loop_reads_no_more(monkeypatch):
    """`auto` hoists on an accelerator; on a CPU only where the frontier is no wider than the inputs."""
    import rnndsl.keras.interpret

    program = rnndsl.load(STD / "indrnn.rnn")
    monkeypatch.setattr(rnndsl.keras.interpret, "accelerator", lambda: True)
    assert cell_rnn(program, "IndRNN", input_dim=4, units=8).cell.plan.hoisted_order
    monkeypatch.setattr(rnndsl.keras.interpret, "accelerator", lambda: False)
    narrow = cell_rnn(program, "IndRNN", input_dim=16, units=8)  # W @ x[t]: 8 per step instead of 16
    wide = cell_rnn(program, "IndRNN", input_dim=4, units=8)  # 8 per step instead of 4
    assert narrow.cell.plan.hoisted_order and not wide.cell.plan.hoisted_order
    with pytest.raises(ValueError, match="hoist must be one of auto, always, never, not 'sometimes'"):
        cell_rnn(program, "IndRNN", input_dim=4, hoist="sometimes", units=8)


CONTINUED = [("LSTM(4)", "c, h", True), ("LSTM(4)", "c, h", False), ("GRU(4)", "h", True),
             ("Elman(4)", "h", False), ("NTM(5, 6, 3, 3)", "ctrl, w, M, r", False)]


@pytest.mark.parametrize("cell, states, fused", CONTINUED, ids=[f"{c.split('(')[0]}-{'fused' if f else 'generated'}"
                                                                for c, _, f in CONTINUED])
def test_final_states_carry_into_another_layer(cell, states, fused, tmp_path):
    """`s... = C(returns=states)(a)` then `C(s...)(b)`, the two with the same weights, is one run over a then b.

    This checks both directions of the state mapping (the spec's names and order against the layer's, a
    matrix state `M` as `(batch, 6, 3)`) on the fused and the generated path, and that the model reloads."""
    given = ", ".join(f"{s}={s}" for s in states.split(", "))
    program = rnndsl.load(f"""
        import "std/cells.rnn"
        network Continued() {{
            input first: seq[3]
            input second: seq[3]
            {states} = {cell.replace(")", ", returns=states)")}(first)
            output {cell}(second, {given})
        }}
    """)
    model = program.build("Continued", fused=fused)
    encoder, decoder = [layer for layer in model.layers if isinstance(layer, keras.layers.RNN)]
    assert isinstance(decoder, keras.layers.LSTM if fused and cell.startswith("LSTM") else
                      keras.layers.GRU if fused else GeneratedRNN)
    decoder.set_weights(encoder.get_weights())
    a, b = RNG.normal(size=(2, 4, 3)).astype("float32"), RNG.normal(size=(2, 3, 3)).astype("float32")
    whole = decoder(np.concatenate([a, b], axis=1)).numpy()
    got = model([a, b]).numpy()
    np.testing.assert_allclose(got, whole[:, 4:], rtol=1e-5, atol=1e-5)
    if cell.startswith("NTM"):
        shapes = [tuple(t.shape) for t in encoder(a)[1:]]
        assert shapes == [(2, 5), (2, 6), (2, 6, 3), (2, 3)]
    path = tmp_path / "continued.keras"
    model.save(path)
    np.testing.assert_allclose(keras.saving.load_model(path)([a, b]).numpy(), got, rtol=1e-6, atol=1e-6)


def test_a_state_read_two_steps_back_starts_from_the_given_value():
    layer = _two_step_delay()
    layer.return_state = True
    x = np.ones((1, 3, 2), "float32")
    y, h = layer(x, initial_state=[np.array([[10.0, 20.0]], "float32")])
    np.testing.assert_allclose(y.numpy()[0], [[11, 21], [11, 21], [12, 22]])  # h[-1] = h[0] = the given value
    np.testing.assert_allclose(h.numpy(), [[12, 22]])


def test_a_tree_cell_is_no_recurrent_layer_over_sequences():
    with pytest.raises(rnndsl.SpecErrors) as info:
        cell_rnn(rnndsl.load(STD / "treelstm.rnn"), "ChildSumTreeLSTM", input_dim=3, units=4)
    assert info.value.errors[0].code == "E0601"
    assert info.value.errors[0].message == ("`ChildSumTreeLSTM` runs over trees, not sequences: build it alone "
                                            "or in a network (rnndsl.keras.tree)")


def test_masked_steps_hold_the_state():
    program = rnndsl.load("""
        import "std/elman.rnn"
        network M(vocab: int = 20) {
            input w: seq[int]
            output Embedding(vocab, 4, mask_zero=true)(w) >> Elman(5, returns=last)
        }
    """)
    model = program.build("M")
    tokens = np.array([[3, 7, 2, 0, 0], [3, 7, 2, 9, 1]])
    padded = model(tokens).numpy()
    short = model(tokens[:, :3]).numpy()
    np.testing.assert_allclose(padded[0], short[0], atol=1e-6)
    assert not np.allclose(padded[1], short[1])


def test_every_merge_mode():
    for merge, width in (("concat", 8), ("sum", 4), ("mul", 4), ("ave", 4)):
        program = rnndsl.load('import "std/gru.rnn"\nnetwork B {\n    input x: seq[3]\n'
                              f"    output Bidirectional(GRU(4), merge={merge})(x)\n}}\n")
        assert program.build("B").output_shape == (None, None, width)


EXAMPLES = sorted(p.name for p in (ROOT / "examples").glob("*.rnn"))


@pytest.mark.parametrize("example", EXAMPLES)
def test_examples_save_and_reload_in_a_fresh_process(example, tmp_path):
    program = rnndsl.load(ROOT / "examples" / example)
    small = {k: 8 for k, h in program.networks[program.default_name()].graph.header.hparams.items()
             if h.type == "int"}
    model = program.build(**small)
    xs = {}
    for i, t in enumerate(model.inputs):  # each input, its unknown lengths 5 + its position
        shape = [2] + [d or 5 + i for d in t.shape[1:]]
        xs[t.name] = RNG.integers(1, 8, size=shape) if "int" in t.dtype else RNG.normal(size=shape).astype("float32")
        if t.name.endswith("_children"):  # a tree's, as many nodes as its values: a chain, node j's child j + 1
            nodes = xs[t.name.removesuffix("_children")].shape[1]
            xs[t.name] = -np.ones((2, nodes, 2), "int32")
            xs[t.name][:, :-1, 0] = np.arange(1, nodes)
    path = tmp_path / "model.keras"
    model.save(path)
    np.savez(tmp_path / "x.npz", **xs)
    outputs = model(xs if len(xs) > 1 else next(iter(xs.values())))
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]  # a network of several outputs
    np.savez(tmp_path / "y.npz", *[np.asarray(o) for o in outputs])
    script = ("import numpy as np, keras, rnndsl\n"
              f"m = keras.saving.load_model({str(path)!r})\n"
              f"x = dict(np.load({str(tmp_path / 'x.npz')!r})); y = np.load({str(tmp_path / 'y.npz')!r})\n"
              "x = x if len(x) > 1 else next(iter(x.values()))\n"
              "out = m(x)\nout = out if isinstance(out, (list, tuple)) else [out]\n"
              "assert len(out) == len(y.files), 'outputs differ in number'\n"
              "assert all(np.array_equal(np.asarray(o), y[f'arr_{i}']) for i, o in enumerate(out)), 'outputs differ'\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_build_command(tmp_path, capsys):
    spec = ROOT / "examples" / "sentiment.rnn"
    out = tmp_path / "s.keras"
    assert main(["build", str(spec), "--set", "units=8", "--set", "vocab=50", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "summary: cell LSTM, fused path (keras.layers.LSTM), " in printed and f"wrote {out}" in printed
    assert out.is_file()
    assert main(["build", str(spec), "--no-fused", "--set", "units=8", "--set", "vocab=50", "-o", str(out)]) == 0
    assert "summary: cell LSTM, generated path, " in capsys.readouterr().out
    assert main(["build", str(spec), "--set", "units=eight", "-o", str(out)]) == 1
    assert "error[E0241]: --set units=eight: `units` is an int" in capsys.readouterr().err
    assert main(["build", str(spec), "--set", "unit=8", "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "error[E0240]: network `Sentiment` has no hyperparameter `unit` (from --set unit=8)" in err
    assert "did you mean `units`?" in err
    assert main(["build", str(spec)]) == 2
    assert main(["build", str(spec), "-o", str(tmp_path / "s.h5")]) == 2
    assert capsys.readouterr().err.endswith("does not end in .keras\n")


def test_build_a_cell_alone(tmp_path, capsys):
    std = str(STD / "cells.rnn")
    out = tmp_path / "c.keras"
    assert main(["build", std, "--cell", "LSTM", "--set", "units=4", "--input-size", "3", "-o", str(out)]) == 0
    assert "lstm: cell LSTM, fused path (keras.layers.LSTM)" in capsys.readouterr().out
    model = rnndsl.load(STD / "hopfield.rnn").build("Hopfield", units=6)  # [units]: the size is fixed
    assert model.input_shape == (None, None, 6) and model.output_shape == (None, None, 6)
    assert main(["build", std, "--cell", "LSTM", "--set", "units=4", "-o", str(out)]) == 2
    assert capsys.readouterr().err == ("error: cell `LSTM` reads inputs whose size its hyperparameters leave open "
                                       "(`in`): give the input size (--input-size N)\n")
    assert main(["build", std, "--cell", "Hopfield", "--set", "units=4", "--input-size", "3", "-o", str(out)]) == 2
    assert capsys.readouterr().err == ("error: cell `Hopfield` reads inputs of total size 4 with these "
                                       "hyperparameters, not 3\n")
    assert main(["build", std, "--cell", "LSTM", "--input-size", "3", "-o", str(out)]) == 2
    assert capsys.readouterr().err == "error: cell `LSTM` needs a value for units (use --set units=...)\n"
    assert main(["build", std, "--cell", "LSTM", "--set", "units=4", "--input-size", "0", "-o", str(out)]) == 2
    assert capsys.readouterr().err == "error: --input-size takes a number of features of at least 1\n"
    assert main(["build", std, "--cell", "LSTN", "-o", str(out)]) == 2
    assert capsys.readouterr().err == f"error: {std} has no cell named `LSTN`; did you mean `LSTM`?\n"
    assert main(["build", std, "--cell", "ChildSumTreeLSTM", "--set", "units=4", "--input-size", "3",
                 "-o", str(out)]) == 0
    assert "childsumtreelstm: cell ChildSumTreeLSTM, tree path (level by level), 128 parameters" in \
        capsys.readouterr().out
    spec = str(ROOT / "examples" / "sentiment.rnn")
    assert main(["build", spec, "--input-size", "3", "-o", str(out)]) == 2
    assert capsys.readouterr().err == ("error: --input-size is for a cell alone; network `Sentiment` declares "
                                       "its inputs\n")


def test_ntm_from_its_own_start_learns_to_address():
    # A start that treats every slot alike stays so: the addressing would get no gradient.
    keras.utils.set_random_seed(0)  # the weights' start, and the data below, the same in every run and order
    rng = np.random.default_rng(0)
    layer = cell_rnn(rnndsl.load(STD / "ntm.rnn"), "NTM", input_dim=3, controller=5, slots=6, width=3)
    x = tf.constant(rng.normal(size=(2, 5, 3)).astype("float32"))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x) * rng.normal(size=(2, 5, 8)).astype("float32"))
    grads = tape.gradient(loss, layer.trainable_weights)
    # (from the old uniform start, W_k, W_s, v_beta, ... got gradients of 1e-8 and below: rounding noise; from
    # this start the smallest is 6.5e-5, W_k's)
    silent = [w.name for w, g in zip(layer.trainable_weights, grads) if g is None or np.max(np.abs(g)) < 1e-5]
    assert silent == []


def test_a_cell_without_state_lowers():
    program = rnndsl.load("cell A(n: int) {\n    input x: [n]\n    y[t] = 2 * x[t] + 1\n    output y\n}\n")
    layer = cell_rnn(program, "A", input_dim=2, n=2)
    np.testing.assert_allclose(layer(np.ones((1, 3, 2), "float32")).numpy(), np.full((1, 3, 2), 3.0))


def test_a_network_is_not_a_cell():
    program = rnndsl.load('network G {\n    input x: grid[4, 4, 3]\n    output Dense(2)(x)\n}\n')
    assert program.build("G")(np.ones((1, 4, 4, 3), "float32")).shape == (1, 4, 4, 2)  # a grid input lowers
    with pytest.raises(rnndsl.SpecErrors) as info:
        cell_rnn(program, "G", input_dim=3)
    assert info.value.errors[0].message == "`G` is a network, not a cell"


# ---------------------------------------------------------------- sizes and values that `build` is given

SIZED = """
cell C(units: int = 3) {
    input x: [in]
    param W: [units, in]
    param U: [units, units]
    h[t] = tanh(W @ x[t] + U @ h[t-1])
    output h
}

network N(units: int = 3, layers: int = 2, rate: float = 0.5) {
    input x: seq[3]
    output Stack(C(units), depth=layers)(x) >> Dropout(rate)
}
"""


@pytest.mark.parametrize("args, code, message", [
    (["--set", "units=0"], 1, "error[E0308]: parameter `W` of `C` is [0, 3] with units = 0: a dimension is at least 1"),
    (["--set", "units=-1"], 1,
     "error[E0308]: parameter `W` of `C` is [-1, 3] with units = -1: a dimension is at least 1"),
    (["--set", "units=100000"], 1, "error[E0308]: parameter `U` of `C` is [100000, 100000] (10000000000 entries) "
                                   "with units = 100000: a tensor has at most 2147483647 (2**31 - 1) entries"),
    (["--set", "layers=1000000000"], 1,
     "error[E0308]: `Stack` has depth 1000000000 with layers = 1000000000: a stack has 1 to 1000 layers"),
    (["--set", "rate=1"], 1, "error[E0209]: `rate` of `Dropout` is a fraction, in [0, 1), not 1 (rate = 1.0)"),
    (["--cell", "C", "--input-size", "9999999999"], 2,
     "error: cell `C` is given an input size of 9999999999: a dimension is at most 16777216 (2**24)"),
    (["--cell", "C", "--input-size", "3", "--set", "units=0"], 1,
     "error[E0308]: parameter `W` is [0, 3] with units = 0: a dimension is at least 1"),
    (["--cell", "C", "--input-size", "16000000", "--set", "units=1000"], 1,
     "error[E0308]: parameter `W` is [1000, 16000000] (16000000000 entries) with in = 16000000, units = 1000: "
     "a tensor has at most 2147483647 (2**31 - 1) entries"),
])
def test_build_holds_what_it_is_given_to_the_limits(args, code, message, tmp_path, capsys):
    spec = tmp_path / "spec.rnn"
    spec.write_text(SIZED)
    assert main(["check", str(spec)]) == 0
    capsys.readouterr()
    assert main(["build", str(spec), *args, "-o", str(tmp_path / "m.keras")]) == code
    assert capsys.readouterr().err.split("\n")[0] == message
    assert not (tmp_path / "m.keras").exists()


def test_build_from_python_holds_its_hyperparameters_to_their_types_and_the_limits():
    program = rnndsl.load(SIZED)
    with pytest.raises(rnndsl.SpecErrors) as info:
        program.build("N", units=0)
    assert info.value.errors[0].message == "parameter `W` of `C` is [0, 3] with units = 0: a dimension is at least 1"
    with pytest.raises(rnndsl.UsageError, match=r"^error: network `N`: `units` is an int, given 2\.5$"):
        program.build("N", units=2.5)
    with pytest.raises(rnndsl.UsageError, match=r"^error: network `N`: `rate` is a float, given 'high'$"):
        program.build("N", rate="high")
    assert program.build("N", units=np.int64(2), rate=0).output_shape == (None, None, 2)


def test_names_that_keras_would_see_twice_are_made_unique(tmp_path, capsys):
    """A cell named like its input, an input named like a layer, a binding named like a stack's layer."""
    spec = tmp_path / "spec.rnn"
    spec.write_text('import "std/gru.rnn"\n\n'
                    "cell x(units: int = 3) {\n    input x: [in]\n    param W: [units, in]\n"
                    "    h[t] = tanh(W @ x[t] + h[t-1])\n    output h\n}\n\n"
                    "network N {\n    input gru_1: seq[3]\n    s_1 = Dense(3)(GRU(4)(gru_1))\n"
                    "    s = Stack(x(), depth=2)(s_1)\n    output s\n}\n")
    assert main(["build", str(spec), "--cell", "x", "--input-size", "3", "-o", str(tmp_path / "x.keras")]) == 0
    assert "x: cell x, generated path, 9 parameters" in capsys.readouterr().out  # the layer keeps the cell's name
    model = rnndsl.load(spec).build("N")
    assert [layer.name for layer in model.layers] == ["gru_1", "gru_1_2", "s_1", "s_2_1", "s_2_2"]
    assert model(np.ones((1, 2, 3), "float32")).shape == (1, 2, 3)


def test_concatenate_counts_the_axes_of_the_items():
    program = rnndsl.load("network N {\n    input a, b: seq[2]\n    output Concatenate(axis=0)(a, b)\n}\n"
                          "network V {\n    input a, b: vec[2]\n    output Concatenate(axis=0)(a, b)\n}\n")
    a, b = np.ones((1, 3, 2), "float32"), np.zeros((1, 3, 2), "float32")
    np.testing.assert_array_equal(program.build("N")([a, b]), np.concatenate([a, b], axis=-1))
    np.testing.assert_array_equal(program.build("V")([a[:, 0], b[:, 0]]), np.concatenate([a[:, 0], b[:, 0]], -1))


def test_constants_beyond_float_range_are_infinities_not_crashes():
    program = rnndsl.load("cell P(units: int = 2) {\n    input x: [in]\n    param W: [units, in]\n"
                          "    param b: [units] = 10 ** 10 ** 10\n    state c: [units] = 1 / 0\n"
                          "    c[t] = minimum(c[t-1], 2)\n    h[t] = tanh(W @ x[t] + b) * c[t]\n    output h\n}\n")
    y = program.build("P", input_size=3)(np.ones((1, 2, 3), "float32"))
    np.testing.assert_array_equal(y, np.full((1, 2, 2), 2.0))  # tanh(inf) * minimum(inf, 2)


def test_arithmetic_of_constants_in_an_equation_is_float64():
    """`1 / tau` with `tau = 0` is an infinity in the model, as `constant` makes it, not ZeroDivisionError."""
    program = rnndsl.load("cell A(n: int = 2, tau: float = 0, k: float = 2) {\n    input x: [n]\n"
                          "    h[t] = (1 - k / tau) * h[t-1] + x[t] * (k ** 3 - 7) + minimum(k, 1 / tau)\n"
                          "    output h\n}\n")
    x = np.ones((1, 3, 2), "float32")
    y = np.asarray(program.build("A", input_size=2, fused=False)(x))
    assert np.isnan(y).all()  # (1 - inf) * h[t-1] is -inf * 0 at the first step: nan, as NumPy has it
    finite = np.asarray(program.build("A", input_size=2, fused=False, tau=4.0)(x))
    h, expected = np.zeros(2), []
    for _ in range(3):
        h = (1 - 2 / 4) * h + 1 * (2 ** 3 - 7) + min(2, 1 / 4)
        expected.append(h)
    np.testing.assert_allclose(finite[0], np.array(expected), rtol=1e-6)


def test_a_concatenate_axis_from_a_hyperparameter_is_a_diagnostic(capsys, tmp_path):
    path = tmp_path / "cat.rnn"
    path.write_text("network N(k: int = 1) {\n    input x: seq[4]\n    output Concatenate(k)(x)\n}\n")
    assert main(["check", str(path)]) == 1
    assert capsys.readouterr().err.startswith(
        "error[E0305]: the axis of `Concatenate` is a number written in the spec, not `k`\n")


@pytest.mark.parametrize("activation", rnndsl.lang.builtins.ACTIVATIONS)
def test_every_activation_of_a_dense_layer_builds_saves_and_reloads(activation, tmp_path):
    from rnndsl.lang.ops import OPERATIONS

    program = rnndsl.load(f"network N {{\n    input x: vec[3]\n    output Dense(2, activation={activation})(x)\n}}\n")
    model = program.build("N")
    x = np.random.default_rng(0).uniform(0.1, 2.0, size=(4, 3)).astype("float32")  # log and sqrt defined
    kernel, bias = (np.asarray(w) for w in model.layers[-1].weights)
    z = x @ kernel + bias
    reference = {"linear": z, "none": z, "softmax": np.asarray(keras.ops.softmax(z)),
                 "log_softmax": np.asarray(keras.ops.log_softmax(z))}.get(activation)
    if reference is None:
        with np.errstate(invalid="ignore"):  # log and sqrt of a negative are NaN in both
            reference = OPERATIONS[activation].reference(z.astype("float64"))
    np.testing.assert_allclose(np.asarray(model(x)), reference, rtol=1e-5, atol=1e-6)
    model.save(tmp_path / "m.keras")
    np.testing.assert_allclose(np.asarray(keras.saving.load_model(tmp_path / "m.keras")(x)), reference,
                               rtol=1e-5, atol=1e-6)
