"""The registry of operations (rnndsl.lang.ops): every entry, through every stage, against its NumPy reference.

For each built-in function a one-step cell calls it on its entry's example arguments; the test checks
that the language accepts the call, that inference gives the reference's shape, that the lowered cell
computes the reference's values, and that its gradient equals the reference's by central differences.
Then the registry's labels reach the LaTeX and the diagrams, and `cumsum` and `cumprod` run in a cell.
"""

from __future__ import annotations

import numpy as np
import pytest

import rnndsl
from helpers import diagnostics
from rnndsl.draw import notation
from rnndsl.lang.builtins import FUNCTIONS
from rnndsl.lang.heads import GATHER
from rnndsl.lang.ops import OPERATIONS

tf = pytest.importorskip("tensorflow")


def _is_tensor(arg) -> bool:
    return isinstance(arg, tuple)


def _call_text(op) -> tuple:
    """(spec text of a one-step cell that calls `op` on its example, the output names)."""
    attrs = dict(op.attrs)
    decls, args = [], []
    for p in op.signature.params:  # string constants (`einsum`'s subscripts) come first
        if p.kind == "str":
            args.append(f'"{attrs.pop(p.name)}"')
    for i, arg in enumerate(op.example):
        if _is_tensor(arg):
            decls.append(f"    input x{i}: [{', '.join(map(str, arg))}]")
            args.append(f"x{i}[t] > 0" if (op.name == "where" and i == 0) else f"x{i}[t]")
        else:
            args.append(repr(arg))
    args += [f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in attrs.items()]
    if not any(_is_tensor(a) for a in op.example):  # `arange(n)`: the cell still reads an input, unused
        decls.append("    input unused: [1]")
    call = f"{op.name}({', '.join(args)})"
    if op.name == "split":
        outputs = [f"y{i}" for i in range(dict(op.attrs)["parts"])]
        body = f"    {', '.join(o + '[t]' for o in outputs)} = {call}"
    else:
        outputs = ["y"]
        body = f"    y[t] = {call}"
    return "cell C {\n" + "\n".join(decls) + "\n" + body + f"\n    output {', '.join(outputs)}\n}}\n", outputs


def _inputs(op, rng, batch: int = 3) -> list:
    low, high = (0.5, 1.5) if op.positive else (-1.5, 1.5)
    found = [rng.uniform(low, high, size=(batch,) + a) for a in op.example if _is_tensor(a)]
    return found or [rng.uniform(low, high, size=(batch, 1))]  # the unused input of `_call_text`


def _reference(op, xs: list) -> np.ndarray:
    """The entry's NumPy reference, example by example, flattened side by side as the cell outputs it."""
    attrs = dict(op.attrs)
    rows = []
    for b in range(xs[0].shape[0]):
        tensors = iter([x[b] for x in xs][:sum(map(_is_tensor, op.example))])
        args = []
        for i, a in enumerate(op.example):
            value = next(tensors) if _is_tensor(a) else a
            args.append(value > 0 if (op.name == "where" and i == 0) else value)
        out = op.reference(*args, **attrs)
        pieces = out if isinstance(out, list) else [out]
        rows.append(np.concatenate([np.ravel(p) for p in pieces]))
    return np.stack(rows)


# `stack_heads` reads the heads of a cell with heads (a call on an input is an error): tests/test_heads.py
# runs it, per head against NumPy
PER_EXAMPLE = [name for name in OPERATIONS if name != GATHER]


@pytest.fixture(scope="module")
def built():
    """{name: (program, model, outputs)} for every registry entry: each cell compiled and built once."""
    found = {}
    for name in PER_EXAMPLE:
        op = OPERATIONS[name]
        text, outputs = _call_text(op)
        program = rnndsl.load(text)
        size = sum(int(np.prod(a)) for a in op.example if _is_tensor(a)) or 1
        found[name] = (program, program.build("C", input_size=size), outputs)
    return found


def test_the_functions_of_the_language_are_the_registry():
    assert list(FUNCTIONS) == list(OPERATIONS)
    assert {"cumsum", "cumprod", "matmul"} & set(OPERATIONS) == {"cumsum", "cumprod"}  # operators are not


def _first_step(outputs):
    """A cell model's outputs (one tensor, or a list of one per output) at the first step, flattened side by
    side: `(batch, Σ sizes)`."""
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    return tf.concat([tf.reshape(o[:, 0], (tf.shape(o)[0], -1)) for o in outputs], axis=-1)


@pytest.mark.parametrize("name", PER_EXAMPLE)
def test_every_operation_checks_lowers_and_matches_its_reference(name, built):
    op = OPERATIONS[name]
    program, model, outputs = built[name]
    xs = _inputs(op, np.random.default_rng(sum(map(ord, name))))
    expected = _reference(op, xs)
    G = program.graphs["C"]
    sizes = [int(np.prod([d.value for d in G.shape(o)])) for o in outputs]
    assert sum(sizes) == expected.shape[1]  # inference gave the reference's shapes
    x = np.concatenate([a.reshape(a.shape[0], -1) for a in xs], axis=1)[:, None, :]
    got = np.asarray(_first_step(model(x.astype("float32"))))
    # A cell's model gives every output (each of `split`'s pieces)
    np.testing.assert_allclose(got, expected, rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize("name", PER_EXAMPLE)
def test_every_operation_has_the_gradient_of_its_reference(name, built):
    op = OPERATIONS[name]
    _, model, _ = built[name]
    rng = np.random.default_rng(1 + sum(map(ord, name)))
    xs = _inputs(op, rng, batch=1)
    x = np.concatenate([a.reshape(1, -1) for a in xs], axis=1)
    weights = rng.normal(size=_reference(op, xs).shape)
    sizes = [int(np.prod(a.shape[1:])) for a in xs]

    def objective(flat: np.ndarray) -> float:
        parts = np.split(flat, np.cumsum(sizes)[:-1], axis=1)
        return float((_reference(op, [p.reshape(a.shape) for p, a in zip(parts, xs)]) * weights).sum())

    eps = 1e-6
    numeric = np.zeros_like(x)
    for j in range(x.shape[1]):
        step = np.zeros_like(x)
        step[0, j] = eps
        numeric[0, j] = (objective(x + step) - objective(x - step)) / (2 * eps)
    if op.gradient is not None:  # a straight-through estimator: its own gradient, not the reference's
        single = [a[0] for a in xs]
        cotangent = weights[0].reshape(np.shape(op.reference(*single)))
        numeric = np.concatenate([np.reshape(g, (1, -1)) for g in op.gradient(*single, cotangent)], axis=1)
    inputs = tf.constant(x[:, None, :].astype("float32"))
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        loss = tf.reduce_sum(_first_step(model(inputs)) * weights.astype("float32"))
    grad = tape.gradient(loss, inputs)
    got = np.zeros_like(x) if grad is None else np.asarray(grad)[:, 0, :]
    np.testing.assert_allclose(got, numeric, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("name", list(OPERATIONS))
def test_the_registry_labels_every_operation_in_latex_and_diagrams(name):
    op = OPERATIONS[name]
    if op.latex:
        assert notation.function_latex(name) == op.latex
    else:
        assert notation.function_latex(name) == "\\operatorname{" + name.replace("_", "\\_") + "}"
    assert notation.function_html(name) == (op.label or name)
    if op.big:
        assert notation.BIG_OPERATORS[name] == op.big
    for position, mark in op.marks:
        assert notation.OPERAND_MARKS[name][position] == mark


def _scan_cell(name: str, axis_text: str = "") -> rnndsl.Program:
    return rnndsl.load(f"""cell Scan(n: int) {{
    input x: [n, 3]
    param W: [3, 3] ~ glorot_uniform
    s[t] = {name}(x[t] + h[t-1]{axis_text})
    h[t] = tanh(s[t] @ W)
    output h
}}
""")


def _run_scan(program, reference, x, W):
    """Runs the Scan cell's equations in NumPy: h[t] = tanh(scan(x[t] + h[t-1]) @ W)."""
    h = np.zeros(x.shape[2:])
    out = []
    for t in range(x.shape[1]):
        h = np.tanh(reference(x[0, t] + h) @ W)
        out.append(h.ravel())
    return np.stack(out)


def test_cumsum_runs_in_a_recurrent_cell_as_its_reference_does():
    program = _scan_cell("cumsum", ", axis=0")
    assert [str(d) for d in program.graphs["Scan"].shape("s")] == ["n", "3"]
    model = program.build("Scan", input_size=6, n=2)
    x = np.random.default_rng(3).uniform(-1, 1, size=(1, 5, 2, 3))
    W = np.asarray(model.layers[-1].weights[0]).reshape(3, 3)
    got = np.asarray(model(x.reshape(1, 5, 6).astype("float32")))[0]
    expected = _run_scan(program, lambda v: np.cumsum(v, axis=0), x, W)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    assert "\\operatorname{cumsum}" in program.latex("Scan")


def test_cumprod_runs_in_a_recurrent_cell_as_its_reference_does():
    program = _scan_cell("cumprod")
    model = program.build("Scan", input_size=6, n=2)
    x = np.random.default_rng(4).uniform(-1, 1, size=(1, 5, 2, 3))
    W = np.asarray(model.layers[-1].weights[0]).reshape(3, 3)
    got = np.asarray(model(x.reshape(1, 5, 6).astype("float32")))[0]
    expected = _run_scan(program, lambda v: np.cumprod(v, axis=-1), x, W)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    assert "cumprod" in program.render("Scan", format="dot")


def test_a_scan_along_an_axis_the_value_lacks_is_an_error():
    assert diagnostics("""
        cell C {
            input x: [3]
            y[t] = cumsum(x[t], axis=1)
            output y
        }
        """) == (
        "error[E0306]: axis 1 is out of range for [3]\n"
        "  --> spec.rnn:3:12\n"
        "   |\n"
        " 3 |     y[t] = cumsum(x[t], axis=1)\n"
        "   |            ^^^^^^^^^^^^^^^^^^^^ rank 1")


@pytest.mark.parametrize("exclusive", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
def test_cumprod_has_the_gradient_of_the_product_where_an_entry_is_zero(exclusive, reverse):
    """TensorFlow's own cumprod gradient divides by the entry, and gives 0 at an entry of exactly 0 (a DNC's
    usage starts at 0); the product's gradient there is the product of the other factors. Values and gradients
    (float64) against the NumPy reference and its central differences (exact to rounding: a product is a
    polynomial), on rows with no zero, one zero and two."""
    from rnndsl.keras.interpret import Operands

    op = OPERATIONS["cumprod"]
    x0 = np.array([[0.5, 0.0, 0.7, 0.4, 1.3], [0.0, 0.9, 0.0, 0.6, 0.8], [0.5, -1.2, 0.7, 0.4, 1.3]])
    w = np.random.default_rng(0).normal(size=x0.shape)
    attrs = {"axis": -1, "exclusive": exclusive, "reverse": reverse}

    def objective(x: np.ndarray) -> float:
        return float((np.stack([op.reference(row, exclusive=exclusive, reverse=reverse) for row in x]) * w).sum())

    x = tf.constant(x0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = op.lower(Operands([x], [True], [(5,)], attrs, {}, "float64"))
        loss = tf.reduce_sum(y * w)
    eps = 1e-6
    numeric = np.array([[(objective(x0 + eps * e) - objective(x0 - eps * e)) / (2 * eps)
                         for e in np.eye(x0.size)[k * 5:(k + 1) * 5].reshape(5, *x0.shape)] for k in range(3)])
    np.testing.assert_allclose(y.numpy(), np.stack([op.reference(r, exclusive=exclusive, reverse=reverse)
                                                    for r in x0]), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(tape.gradient(loss, x).numpy(), numeric, rtol=1e-7, atol=1e-8)


def _composed_cosine(a, b, rows: bool):
    """`cosine` as the operations it is made of, TensorFlow's gradients through each."""
    key = tf.expand_dims(b, -2) if rows else b
    den = tf.sqrt(tf.maximum(tf.reduce_sum(a * a, -1) * tf.reduce_sum(key * key, -1), 1e-16))
    return tf.reduce_sum(a * key, -1) / den


@pytest.mark.parametrize("shapes, batched", [
    (((4, 3), (3,)), (True, True)),  # a memory's rows against a key
    (((4, 3), (3,)), (False, True)),  # a parameter's rows against each example's key
    (((4, 3), (3,)), (True, False)),
    (((3,), (3,)), (True, True)),  # two vectors
    (((3,), (3,)), (False, True)),
])
def test_cosine_has_the_gradient_of_the_operations_it_is_made_of(shapes, batched):
    """`cosine` has a gradient of its own (it keeps its operands alone for the backward pass); in float64 its
    values and gradients are those of the composed operations, with a row of zeros and a key of zeros (where
    the denominator is its floor, 1e-8) among the examples, and broadcast over the batch where an operand has
    no batch axis."""
    from rnndsl.keras.interpret import Operands
    from rnndsl.lang.dims import Dim

    rng = np.random.default_rng(0)
    values = [rng.normal(size=((3,) if b else ()) + s) for s, b in zip(shapes, batched)]
    if batched[0] and len(shapes[0]) == 2:
        values[0][0, 1] = 0.0  # a zero row
    if batched[1]:
        values[1][2] = 0.0  # a zero key
    a, b = (tf.constant(v) for v in values)
    rows = len(shapes[0]) == 2
    weights = rng.normal(size=(3,) + shapes[0][:-1])
    call = Operands([a, b], list(batched), [tuple(Dim.of(d) for d in s) for s in shapes], {}, {}, "float64")
    found = []
    for form in (lambda: OPERATIONS["cosine"].lower(call), lambda: _composed_cosine(a, b, rows)):
        with tf.GradientTape() as tape:
            tape.watch([a, b])
            value = form()
            loss = tf.reduce_sum(value * weights)
        found.append([value.numpy()] + [g.numpy() for g in tape.gradient(loss, [a, b])])
    for got, want in zip(*found):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_the_norm_of_a_zero_vector_has_the_gradient_zero():
    """`norm` is sqrt(sum(x ** 2)): at x = 0 the square root's gradient is infinite and the chain rule gives
    0 * inf, NaN; the lowering gives 0 there instead, and the usual gradient x / |x| elsewhere."""
    import keras
    import tensorflow as tf

    from rnndsl.lang.ops import root_of_squares

    x = tf.constant([[0.0, 0.0], [3.0, 4.0]])
    with tf.GradientTape() as tape:
        tape.watch(x)
        norms = root_of_squares(keras.ops, keras.ops.sum(keras.ops.square(x), axis=-1))
    np.testing.assert_allclose(norms.numpy(), [0.0, 5.0])
    np.testing.assert_allclose(tape.gradient(norms, x).numpy(), [[0.0, 0.0], [0.6, 0.8]])
