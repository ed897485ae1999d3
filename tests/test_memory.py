"""Memory-augmented cells (issue 16): numerically safe addressing, and the primitives memories need.

The NTM of the standard library trains from adversarial starting values (a start weighting with
negative entries, a sharpening exponent of about 50) without a NaN; the formula it replaced,
`w ** gamma / sum(w ** gamma)`, gives NaN at the first step from the same start. The registry
entries themselves (`sharpen`, `sort_matrix`, the exclusive and reverse scans) are checked against
their NumPy references, values and gradients, by tests/test_ops.py; here they are used as a DNC's
allocation uses them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import rnndsl
from helpers import checked, diagnostics, train_without_nan

tf = pytest.importorskip("tensorflow")

STD = Path(__file__).resolve().parent.parent / "specs" / "std"


def _adversarial_ntm():
    import keras

    from rnndsl.keras.cell import cell_rnn

    keras.utils.set_random_seed(0)
    layer = cell_rnn(rnndsl.load(STD / "ntm.rnn"), "NTM", input_dim=4, controller=16, slots=8, width=4)
    model = keras.Sequential([keras.Input((6, 4)), layer, keras.layers.Dense(4)])
    weights = layer.cell.weights_by_name
    w0 = np.full(8, 0.2, "float32")
    w0[2:5] = -0.05  # what Adam once made of an unconstrained start
    weights["w0"].assign(w0)
    weights["b_gamma"].assign(50.0)  # gamma about 51: sharpening a diffuse weighting underflows
    return model, layer


def test_the_old_sharpening_is_nan_from_this_start():
    w_s = np.full(8, 1 / 8, "float32")
    w_s[2:5] = -0.05 / 8
    gamma = np.float32(51.3)
    with np.errstate(all="ignore"):
        assert np.isnan(w_s ** gamma / np.sum(w_s ** gamma)).any()


def test_the_ntm_trains_200_steps_from_adversarial_starts_without_nan():
    import keras

    model, layer = _adversarial_ntm()
    optimizer = keras.optimizers.Adam(1e-2)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 2, (16, 6, 4)).astype("float32")
    y = x[:, ::-1]  # reverse the sequence: the head must address

    losses = train_without_nan(model, x, y, keras.losses.MeanSquaredError(), optimizer)
    assert (layer.cell.weights_by_name["w0"].numpy() >= 0).all()  # `constrain nonneg` after the first step
    assert losses[-1] < losses[0]


DNC_ALLOCATION = """cell Allocation(slots: int) {
    input u: [slots]
    P[t] = sort_matrix(u[t])
    sorted[t] = P[t] @ u[t]
    a[t] = transpose(P[t]) @ ((1 - sorted[t]) * cumprod(sorted[t], exclusive=true))
    output a
}
"""


def dnc_allocation(u: np.ndarray) -> np.ndarray:
    """Graves et al. (2016), the allocation weighting: slots in order of usage, free ones first,
    a[phi_j] = (1 - u[phi_j]) prod_{i<j} u[phi_i]."""
    order = np.argsort(u, kind="stable")
    a = np.zeros_like(u)
    product = 1.0
    for j in order:
        a[j] = (1 - u[j]) * product
        product *= u[j]
    return a


@pytest.mark.parametrize("jit", [False, True])
def test_the_ntm_has_a_gradient_where_its_key_is_zero(jit):
    """The controller starts at 0, so an input of zeros at the first step gives a key of zeros; the cosine
    of a zero key is 0, and its gradient was inf * 0 = NaN (under XLA) through the key's norm."""
    import keras

    from rnndsl.keras.cell import cell_rnn

    keras.utils.set_random_seed(0)
    layer = cell_rnn(rnndsl.load(STD / "ntm.rnn"), "NTM", input_dim=4, controller=8, slots=8, width=4)
    model = keras.Sequential([keras.Input((3, 4)), layer, keras.layers.Dense(4)])
    x = np.ones((2, 3, 4), "float32")
    x[:, 0] = 0.0

    def gradients():
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(model(x) ** 2)
        return tape.gradient(loss, model.trainable_variables)

    found = tf.function(gradients, jit_compile=jit)()
    named = dict(zip([v.name for v in model.trainable_variables], found))
    assert all(np.isfinite(g.numpy()).all() for g in found)
    assert np.abs(named["W_k"].numpy()).sum() > 0  # the key does get a gradient


def test_a_dnc_allocation_written_with_the_primitives_is_the_paper_s():
    program = checked(DNC_ALLOCATION)
    model = program.build("Allocation", slots=5)
    u = np.random.default_rng(0).uniform(0, 1, (3, 2, 5)).astype("float32")
    got = np.asarray(model(u))
    want = np.stack([np.stack([dnc_allocation(u[b, t].astype("float64")) for t in range(2)]) for b in range(3)])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


# Usages with no zero, one zero, two zeros (equal: a tie), all equal (a DNC's first step), and ties between
# nonzero usages; each row's gradient is taken with the order held fixed, as both forms hold it.
USAGES = np.array([[0.5, 0.3, 0.7, 0.4, 0.9], [0.5, 0.0, 0.7, 0.4, 1.3], [0.0, 0.9, 0.0, 0.6, 0.8],
                   [0.0, 0.0, 0.0, 0.0, 0.0], [0.2, 0.6, 0.2, 0.6, 0.1]])


def _lowered(name: str, u, **attrs):
    """Registry entry `name` lowered on `u` (batch, 5) in float64, as a cell's step lowers it."""
    from rnndsl.keras.interpret import Operands
    from rnndsl.lang.dims import Dim
    from rnndsl.lang.ops import OPERATIONS

    return OPERATIONS[name].lower(Operands([u], [True], [(Dim.of(5),)], attrs, {}, "float64"))


def _sorted_form(u):
    """The allocation as sort_matrix and cumprod write it: `transpose(P) @ ((1 - P @ u) * cumprod(P @ u, exclusive))`."""
    P = _lowered("sort_matrix", u)
    ascending = tf.einsum("bij,bj->bi", P, u)
    running = _lowered("cumprod", ascending, axis=-1, exclusive=True, reverse=False)
    return tf.einsum("bji,bj->bi", P, (1 - ascending) * running)


def _value_and_gradient(form, u0: np.ndarray, w: np.ndarray):
    u = tf.constant(u0)
    with tf.GradientTape() as tape:
        tape.watch(u)
        a = form(u)
        loss = tf.reduce_sum(a * w)
    return a.numpy(), tape.gradient(loss, u).numpy()


def test_allocation_is_the_sorted_form_in_values_and_gradients():
    """`allocation` has a gradient of its own (computed from the usage, where the sorted form keeps the
    permutation and the running product): in float64 it gives the sorted form's values and gradients, at
    usages of exactly 0 and at ties too, and the paper's values."""
    w = np.random.default_rng(0).normal(size=USAGES.shape)
    value, gradient = _value_and_gradient(lambda u: _lowered("allocation", u), USAGES, w)
    want_value, want_gradient = _value_and_gradient(_sorted_form, USAGES, w)
    np.testing.assert_allclose(value, want_value, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(value, np.stack([dnc_allocation(u) for u in USAGES]), rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(gradient, want_gradient, rtol=1e-12, atol=1e-14)
    assert gradient[1, 1] != 0 and gradient[2, 0] != 0  # at the first usage of 0 in order: not TensorFlow's 0


def test_allocation_has_the_gradient_of_the_paper_s_form_by_differences():
    """Where a small change keeps the order (no ties; one usage of 0), the gradient is the reference's by
    central differences."""
    rows = USAGES[:2]
    w = np.random.default_rng(1).normal(size=rows.shape)
    _, gradient = _value_and_gradient(lambda u: _lowered("allocation", u), rows, w)
    eps = 1e-7
    for b, row in enumerate(rows):
        numeric = [((dnc_allocation(row + eps * e) - dnc_allocation(row - eps * e)) * w[b]).sum() / (2 * eps)
                   for e in np.eye(5)]
        np.testing.assert_allclose(gradient[b], numeric, rtol=1e-6, atol=1e-8)


def test_allocation_and_cosine_of_a_parameter_train():
    """A parameter read as it is (a variable, not a tensor) passed to the operations with a gradient of their own:
    the layer runs, and the parameter gets the gradient of the paper's form."""
    program = checked("""cell C(slots: int) {
    input x: [slots]
    param u0: [slots] = 0.5
    param M: [slots, 3]
    param k: [3]
    y[t] = allocation(u0) * x[t] + cosine(M, k)
    output y
}
""")
    model = program.build("C", slots=4)
    x = np.random.default_rng(0).normal(size=(2, 3, 4))
    layer = next(l for l in model.layers if hasattr(l, "cell"))
    weights = layer.cell.weights_by_name
    weights["u0"].assign(np.array([0.5, 0.1, 0.9, 0.3], "float32"))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model(x.astype("float32"))[..., 0])
    grads = dict(zip([w.path for w in model.trainable_weights], tape.gradient(loss, model.trainable_weights)))
    grad_u0 = next(g for path, g in grads.items() if path.endswith("u0"))
    u0 = np.array([0.5, 0.1, 0.9, 0.3])
    eps = 1e-6
    numeric = [(dnc_allocation(u0 + eps * e)[0] - dnc_allocation(u0 - eps * e)[0]) / (2 * eps) * x[:, :, 0].sum()
               for e in np.eye(4)]
    np.testing.assert_allclose(np.asarray(grad_u0), numeric, rtol=1e-4, atol=1e-5)
    assert all(np.isfinite(np.asarray(g)).all() for g in grads.values())


def test_primitive_diagnostics():
    cell = "cell C(n: int) {{\n    input x: [n]\n    y[t] = {call}\n    output y\n}}\n"
    assert diagnostics(cell.format(call="cumsum(x[t], exclusive=1)")).startswith(
        "error[E0209]: `cumsum` takes `true` or `false` here\n")
    assert diagnostics(cell.format(call="sharpen(x[t], x[t])")).startswith(
        "error[E0302]: the exponent of `sharpen` is a scalar, found [n]\n")
    assert diagnostics(cell.format(call="sort_matrix(outer(x[t], x[t]))")).startswith("error[E0301]: ")
    assert diagnostics(cell.format(call="allocation(outer(x[t], x[t]))")) == (
        "error[E0301]: `allocation` takes vectors, found [n, n]\n"
        "  --> spec.rnn:3:23\n"
        "   |\n"
        " 3 |     y[t] = allocation(outer(x[t], x[t]))\n"
        "   |                       ^^^^^^^^^^^^^^^^^ [n, n]")


# ---------------------------------------------------------------- whole-sequence metrics


def test_wrong_bits_and_sequence_accuracy_of_binary_targets():
    from rnndsl.keras.sequence_metrics import SequenceAccuracy, WrongBits

    y_true = np.zeros((3, 4, 2), "float32")
    y_pred = np.full((3, 4, 2), 0.2, "float32")
    y_pred[1, 0, 0] = 0.9  # one wrong bit
    y_pred[2, :, :] = 0.7  # eight wrong bits, two of them at steps that count
    weight = np.array([[0, 0, 1, 1]] * 3, "float32")  # the answer's steps
    for metric, want, want_weighted in ((WrongBits(), 9 / 3, 4 / 3), (SequenceAccuracy(), 1 / 3, 2 / 3)):
        metric.update_state(y_true, y_pred)
        assert float(metric.result()) == pytest.approx(want)
        metric.reset_state()
        metric.update_state(y_true, y_pred, weight)
        assert float(metric.result()) == pytest.approx(want_weighted)


def test_wrong_bits_of_class_ids_weighted_by_sequence():
    from rnndsl.keras.sequence_metrics import WrongBits

    y_true = np.array([[1, 2], [0, 0]], "int32")
    y_pred = np.eye(3, dtype="float32")[[[1, 0], [2, 2]]]  # one wrong token, then two
    metric = WrongBits()
    metric.update_state(y_true, y_pred, np.array([1.0, 3.0], "float32"))
    assert float(metric.result()) == pytest.approx((1 * 1 + 2 * 3) / 4)


COPY = """import "std/lstm.rnn"
network Copy(units: int = 16) {
    input x: seq[10]
    output Dense(10, activation=softmax)(LSTM(units)(x))
    train {
        data = copy(length=3, delay=2, symbols=8, train=64, test=32)
        loss = cross_entropy
        metrics = wrong_bits, sequence_accuracy
        epochs = 1
        batch = 16
    }
}
"""


def test_the_copy_task_reports_wrong_bits_per_sequence(tmp_path):
    import json

    from rnndsl.keras.sequence_metrics import wrong_per_sequence
    from rnndsl.train import sources
    from rnndsl.train.run import plan_of, run

    program = checked(COPY)
    result = run(program, "Copy", out=tmp_path / "run", verbose=0)
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    test = sources.load("copy", dict(plan_of(program, "Copy", {}).data.args), base=tmp_path, seed=0).test
    wrong, _ = wrong_per_sequence(test.targets, result.model.predict(test.inputs[0], verbose=0), test.sample_weight)
    assert metrics["test"]["wrong_bits"] == pytest.approx(float(np.mean(wrong)), abs=1e-5)
    assert metrics["test"]["sequence_accuracy"] == pytest.approx(float(np.mean(np.asarray(wrong) == 0)), abs=1e-5)


def test_whole_sequence_metrics_do_not_read_ctc_outputs():
    spec = COPY.replace("loss = cross_entropy", "loss = ctc")
    assert "error[E0807]: the metric `wrong_bits` compares outputs and targets step by step: CTC's are not aligned" \
        in diagnostics(spec)


def test_ties_in_usage_keep_slot_order():
    """A DNC's usage starts all 0: the first slot is allocated, as a stable sort of the paper's order gives."""
    model = checked(DNC_ALLOCATION).build("Allocation", slots=4)
    u = np.array([[[0, 0, 0, 0], [0.5, 0.2, 0.5, 0.2]]], "float32")
    got = np.asarray(model(u))[0]
    np.testing.assert_allclose(got[0], [1, 0, 0, 0])
    np.testing.assert_allclose(got[1], dnc_allocation(u[0, 1].astype("float64")), rtol=1e-6)
    np.testing.assert_allclose(got[1], [0.5 * 0.04, 0.8, 0.5 * 0.02, 0.8 * 0.2], rtol=1e-6)


# ---------------------------------------------------------------- fresh examples every epoch


def test_every_epoch_draws_a_new_training_split(tmp_path):
    import json

    from rnndsl.train.run import plan_of, run
    from rnndsl.train.sources import load
    from rnndsl.train.stream import epoch_seed, fresh_stream

    spec = COPY.replace("epochs = 1", "epochs = 2\n        fresh = true")
    program = checked(spec)
    plan = plan_of(program, "Copy", {})
    assert plan.fresh

    def draw(seed):
        return load("copy", dict(plan.data.args), base=tmp_path, seed=seed).train

    batches = list(fresh_stream(draw, plan, 0))
    assert len(batches) == 2 * 64 // 16
    fixed = load("copy", dict(plan.data.args), base=tmp_path, seed=plan.seed).train
    first_epoch, second_epoch = batches[0][0], batches[4][0]
    assert not np.array_equal(first_epoch, fixed.inputs[0][:16])  # not the run's own draw
    assert not np.array_equal(first_epoch, second_epoch)  # nor the last epoch's
    np.testing.assert_array_equal(first_epoch, draw(epoch_seed(plan.seed, 0)).inputs[0][:16])
    resumed = list(fresh_stream(draw, plan, 1))  # a run resumed at epoch 1 sees what this one does
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(resumed, batches[4:]))
    result = run(program, "Copy", out=tmp_path / "run", verbose=0)
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert result.epochs == metrics["epochs"] == 2 and np.isfinite(metrics["last_epoch"]["loss"])


def test_fresh_needs_a_generator():
    npz = COPY.replace("copy(length=3, delay=2, symbols=8, train=64, test=32)", 'npz("d.npz")').replace(
        "epochs = 1", "epochs = 1\n        fresh = true")
    assert "error[E0807]: `fresh` draws new examples every epoch from a generator; `npz` is not one" in \
        diagnostics(npz)
    truncated = COPY.replace("epochs = 1", "epochs = 1\n        fresh = true\n        bptt = truncated(2)")
    assert "error[E0807]: `fresh` and `bptt = truncated(...)` do not go together yet" in diagnostics(truncated)
    assert "error[E0806]: `fresh` must be true or false, not 1" in \
        diagnostics(COPY.replace("epochs = 1", "epochs = 1\n        fresh = 1"))


def test_where_of_numbers_takes_the_cell_s_dtype():
    """`where(c, 1, 0)` in a float64 cell: its numbers become a float64 tensor, not Keras's default float32."""
    from rnndsl.keras.cell import GeneratedCell, GeneratedRNN

    text = "cell C(n: int) {\n    input x: [n]\n    y[t] = x[t] * where(x[t] > 0, 1, 0)\n    output y\n}\n"
    layer = GeneratedRNN(GeneratedCell(text, "C", 2, {"n": 2}, dtype="float64"), return_sequences=True,
                         dtype="float64")
    out = layer(np.array([[[1.5, -2.0]]]))
    assert out.dtype == "float64"
    np.testing.assert_array_equal(np.asarray(out), [[[1.5, 0.0]]])


# ---------------------------------------------------------------- XLA where it pays


def test_memory_cells_train_compiled_by_xla_and_others_not(tmp_path):
    """optimize.xla_pays: a model whose recurrent layers all carry a memory matrix trains XLA-compiled (4x
    faster measured for the DNC on the CPU); an LSTM (2x slower so) and a tree layer (shapes known only at
    run time) do not."""
    from rnndsl.keras.network import xla_pays
    from rnndsl.train.run import run

    memory = checked('import "std/ntm.rnn"\nnetwork M {\n    input x: seq[3]\n'
                     '    output Dense(2)(NTM(controller=8, slots=6, width=4)(x))\n}\n')
    assert xla_pays(memory.build("M"))
    for layer in ("LSTM(4)", "IndRNN(4)"):  # on the fused path (Keras's layer); generated
        plain = checked(f'import "std/cells.rnn"\nnetwork N {{\n    input x: seq[3]\n    output {layer}(x)\n}}\n')
        assert not xla_pays(plain.build("N"))
    tree = checked('import "std/treelstm.rnn"\nnetwork T {\n    input x: tree[3]\n'
                   '    output ChildSumTreeLSTM(4, returns=last)(x)\n}\n')
    assert not xla_pays(tree.build("T"))
    spec = COPY.replace('import "std/lstm.rnn"', 'import "std/ntm.rnn"').replace(
        "LSTM(units)(x)", "NTM(controller=units, slots=8, width=4)(x)")
    result = run(checked(spec), "Copy", out=tmp_path / "run", verbose=0)
    assert result.model.jit_compile is True
