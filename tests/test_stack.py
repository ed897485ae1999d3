"""The neural stack and queue of specs/std/stack.rnn against Grefenstette, Hermann, Suleyman & Blunsom
(2015), Learning to transduce with unbounded memory.

The references below are written from the paper's equations (sections 3.1 to 3.3, quoted in the
specs' docstrings), not from the spec: the memory grows by one row a step, as the paper's does, and
each strength and read weight is a loop over the rows, where the spec keeps a fixed matrix of `slots`
rows and sums with running sums. In float64 the lowered cell equals the reference to rounding, and
its gradient (tf.GradientTape) equals central differences of the reference to rtol 1e-5; in float32,
the layer as users build it, the outputs agree to 1e-5.

The paper's Figure 1 (a) works a stack through three steps; its numbers are checked exactly (to 1e-6)
on the memory equations of the spec, taken from the spec's text into a cell whose inputs are the
push strength d, the pop strength u and the value v. The queue's example, the same pushes and pops,
is computed by hand from its equations.

A last test trains each cell 200 Adam steps from saturated push and pop gates and a large learning
rate on a small sequence reversal, and finds no NaN in losses, gradients or weights.
"""

from __future__ import annotations

import contextlib
import functools
import zlib
from pathlib import Path

import numpy as np
import pytest

from helpers import central_differences, train_without_nan
import rnndsl

tf = pytest.importorskip("tensorflow")

SPEC = Path(__file__).resolve().parent.parent / "specs" / "std" / "stack.rnn"
CELLS = {"stack": "NeuralStack", "queue": "NeuralQueue"}

BATCH, INPUT_DIM, UNITS, OUT, WIDTH = 2, 3, 4, 2, 3
FD_EPS = 1e-6


def _seed(*parts) -> int:
    return zlib.crc32("/".join(map(str, parts)).encode())


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


# ------------------------------------------------------------------ the paper's equations, in NumPy


def memory_step(V: list, s: list, d: float, u: float, v: np.ndarray, kind: str):
    """One step of the paper's memory: rows V[0 .. t-2] and strengths s of the step before, the step's
    push strength d, pop strength u and value v -> (V_t, s_t, r_t), with t - 1 rows before and t after.

    Stack (section 3.1, eqs. 1-3), rows 1-based as in the paper:
        V_t[i] = V_{t-1}[i] (i < t), v_t (i = t)
        s_t[i] = max(0, s_{t-1}[i] - max(0, u_t - sum_{j=i+1}^{t-1} s_{t-1}[j])) (i < t), d_t (i = t)
        r_t = sum_{i=1}^{t} min(s_t[i], max(0, 1 - sum_{j=i+1}^{t} s_t[j])) V_t[i]
    Queue (section 3.2): the same with the sums over j = 1 .. i-1, the rows below i."""
    t = len(s) + 1

    def others(strengths, i, last):  # the strengths the pop and the read reach before row i
        rows = range(0, i) if kind == "queue" else range(i + 1, last)
        return sum(strengths[j] for j in rows)

    new_s = [max(0.0, s[i] - max(0.0, u - others(s, i, t - 1))) for i in range(t - 1)] + [d]
    new_V = V + [v]
    r = np.zeros_like(v)
    for i in range(t):
        r = r + min(new_s[i], max(0.0, 1.0 - others(new_s, i, t))) * new_V[i]
    return new_V, new_s, r


def reference(p: dict, x: np.ndarray, kind: str):
    """The cell of section 3.3 with an LSTM controller, as specs/std/stack.rnn writes it, over x:
    [batch, T, in] -> (o: [batch, T, out], s: [batch, T, T] (row t's strengths, zeros past t),
    r: [batch, T, width]).

        (h_t, c_t) = LSTM([x_t; r_{t-1}], (h_{t-1}, c_{t-1}))    gates i, f, g, o from one split
        d_t = sigmoid(W_d h_t + b_d), u_t = sigmoid(W_u h_t + b_u)
        v_t = tanh(W_v h_t + b_v), o_t = tanh(W_o h_t + b_o)
        (V_t, s_t, r_t) = memory(V_{t-1}, s_{t-1}, d_t, u_t, v_t)"""
    B, T, _ = x.shape
    units = p["W_h"].shape[1]
    width = p["W_v"].shape[0]
    outs, strengths, reads = [], [], []
    for b in range(B):
        h, c, r = np.zeros(units), np.zeros(units), np.zeros(width)
        V, s = [], []
        o_b, s_b, r_b = [], [], []
        for t in range(T):
            z = p["W_x"] @ x[b, t] + p["W_r"] @ r + p["W_h"] @ h + p["b_h"]
            zi, zf, zg, zo = np.split(z, 4)
            c = sigmoid(zf) * c + sigmoid(zi) * np.tanh(zg)
            h = sigmoid(zo) * np.tanh(c)
            d = float(sigmoid(p["W_d"] @ h + p["b_d"]))
            u = float(sigmoid(p["W_u"] @ h + p["b_u"]))
            v = np.tanh(p["W_v"] @ h + p["b_v"])
            o_b.append(np.tanh(p["W_o"] @ h + p["b_o"]))
            V, s, r = memory_step(V, s, d, u, v, kind)
            s_b.append(np.pad(np.array(s), (0, T - len(s))))
            r_b.append(r)
        outs.append(o_b)
        strengths.append(s_b)
        reads.append(r_b)
    return np.array(outs), np.array(strengths), np.array(reads)


# ------------------------------------------------------------------ the lowered cells


@contextlib.contextmanager
def floatx(dtype: str):
    """Keras's default float type and dtype policy (which Keras fixes from the float type at its first use),
    for the layers built and called inside."""
    import keras

    before = keras.config.floatx(), keras.config.dtype_policy()
    keras.config.set_floatx(dtype)
    keras.config.set_dtype_policy(dtype)
    try:
        yield
    finally:
        keras.config.set_floatx(before[0])
        keras.config.set_dtype_policy(before[1])


@functools.lru_cache(maxsize=None)
def _program():
    return rnndsl.load(SPEC)


SHAPES = {
    "W_x": (4 * UNITS, INPUT_DIM), "W_r": (4 * UNITS, WIDTH), "W_h": (4 * UNITS, UNITS), "b_h": (4 * UNITS,),
    "W_d": (UNITS,), "W_u": (UNITS,), "b_d": (), "b_u": (),
    "W_v": (WIDTH, UNITS), "b_v": (WIDTH,), "W_o": (OUT, UNITS), "b_o": (OUT,),
}


def _weights(kind: str, T: int, slots: int) -> dict:
    """Seeded random weights of a run, float64, by name."""
    rng = np.random.default_rng(_seed(kind, T, slots, "weights"))
    params = {name: rng.normal(0.0, 0.6, size=shape) for name, shape in SHAPES.items()}
    params["W_d"] *= 2.0 / 0.6  # push and pop strengths that differ from step to step, ...
    params["W_u"] *= 2.0 / 0.6
    params["b_d"] = np.full((), 1.0)  # ... pushes a little stronger than pops, so that reads reach below the top 1
    return params


def _built(kind: str, T: int, slots: int, dtype: str):
    """The lowered cell as a layer that outputs o, s and r at each step, with the run's weights:
    (layer, {name: float64 weights}); in float32 the reference sees the float32-rounded weights."""
    from rnndsl.keras.cell import cell_rnn

    with floatx(dtype):
        layer = cell_rnn(_program(), CELLS[kind], input_dim=INPUT_DIM, units=UNITS, out=OUT, width=WIDTH,
                         slots=slots, outputs=["o", "s", "r"])
        layer(np.zeros((BATCH, T, INPUT_DIM), dtype))
    params = {}
    for name, value in _weights(kind, T, slots).items():
        value = value.astype(dtype)
        layer.cell.weights_by_name[name].assign(value)
        params[name] = value.astype(np.float64)
    return layer, params


def _inputs(kind: str, T: int):
    rng = np.random.default_rng(_seed(kind, T, "data"))
    x = rng.normal(0.0, 1.0, size=(BATCH, T, INPUT_DIM)).astype(np.float32).astype(np.float64)
    R = rng.normal(0.0, 1.0, size=(BATCH, T, OUT)).astype(np.float32).astype(np.float64)
    return x, R


def _split(y: np.ndarray, slots: int):
    return y[..., :OUT], y[..., OUT:OUT + slots], y[..., OUT + slots:]


def test_the_cells_declare_the_paper_s_parameters_and_a_fixed_memory():
    from rnndsl.keras.cell import cell_rnn

    for kind, name in CELLS.items():
        layer = cell_rnn(_program(), name, input_dim=INPUT_DIM, units=UNITS, out=OUT, width=WIDTH, slots=5)
        layer(np.zeros((1, 2, INPUT_DIM), "float32"))
        shapes = {k: tuple(v.shape) for k, v in layer.cell.weights_by_name.items()}
        assert shapes == {**SHAPES, "one": (5,)}
        assert [id(w) for w in layer.non_trainable_weights] == [id(layer.cell.weights_by_name["one"])]
        # the states, in the order of their equations: c, h, count, s, V (5 x 3, flattened), r
        assert [int(n) for n in layer.cell.state_size] == [UNITS, UNITS, 1, 5, 5 * WIDTH, WIDTH]


# (T, slots): a single step; fewer steps than slots; exactly as many
RUNS = [(1, 1), (3, 5), (6, 6)]


@pytest.fixture
def float64():
    """Keras's float type float64 for the whole test: the layer takes it when it is built, and a constant
    that the lowered step makes (`where(..., 1, 0)`) when it is called."""
    with floatx("float64"):
        yield


@pytest.mark.parametrize("kind", list(CELLS))
@pytest.mark.parametrize("T, slots", RUNS, ids=[f"T{t}-slots{n}" for t, n in RUNS])
def test_forward_in_float64_is_the_paper_s(kind, T, slots, float64):
    """o, and the strengths and read vectors inside, at every step."""
    layer, params = _built(kind, T, slots, "float64")
    x, _ = _inputs(kind, T)
    o, s, r = _split(np.asarray(layer(x)), slots)
    want_o, want_s, want_r = reference(params, x, kind)
    np.testing.assert_allclose(o, want_o, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(s[..., :T], want_s, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(s[..., T:], 0.0)  # slots past the last step stay empty
    np.testing.assert_allclose(r, want_r, rtol=1e-10, atol=1e-12)


def cases(s: np.ndarray, kind: str) -> set:
    """The cases of the max and min of the paper's equations that strengths s: [batch, T, T] (from
    `reference`) reach: a row the pop empties, one it takes part of, one it leaves; a row read whole,
    in part, not at all (deeper than the top 1 of strength)."""
    seen = set()
    B, T, _ = s.shape
    for b in range(B):
        for t in range(1, T):
            before, after = s[b, t - 1, :t], s[b, t, :t]
            seen |= {"emptied"} if ((before > 0) & (after == 0)).any() else set()
            seen |= {"popped in part"} if ((after > 0) & (after < before - 1e-9)).any() else set()
            seen |= {"left"} if ((after == before) & (before > 0)).any() else set()
        for t in range(T):
            row = s[b, t, :t + 1]
            for i in range(t + 1):
                reach = row[:i].sum() if kind == "queue" else row[i + 1:].sum()
                weight = min(row[i], max(0.0, 1.0 - reach))
                if row[i] > 0:
                    seen.add("read whole" if weight == row[i] else "not read" if weight == 0 else "read in part")
    return seen


@pytest.mark.parametrize("kind", list(CELLS))
def test_the_checks_reach_every_case_of_the_equations(kind):
    """The weights and inputs of the longest run above drive the reference through every case."""
    params = _weights(kind, 6, 6)
    x, _ = _inputs(kind, 6)
    assert cases(reference(params, x, kind)[1], kind) == {
        "emptied", "popped in part", "left", "read whole", "read in part", "not read"}


@pytest.mark.parametrize("kind", list(CELLS))
def test_forward_in_float32_is_the_paper_s(kind):
    layer, params = _built(kind, 6, 8, "float32")
    x, _ = _inputs(kind, 6)
    o, s, r = _split(np.asarray(layer(x.astype(np.float32))), 8)
    want_o, want_s, want_r = reference(params, x, kind)
    np.testing.assert_allclose(o, want_o, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(s[..., :6], want_s, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(r, want_r, rtol=1e-5, atol=1e-5)


def _finite_difference(f, value: np.ndarray) -> np.ndarray:
    return central_differences(f, value, FD_EPS)


@pytest.mark.parametrize("kind", list(CELLS))
@pytest.mark.parametrize("T, slots", RUNS, ids=[f"T{t}-slots{n}" for t, n in RUNS])
def test_gradient_is_the_paper_s(kind, T, slots, float64):
    """d sum(o * R) / d (input, every trainable weight), float64, against central differences."""
    layer, params = _built(kind, T, slots, "float64")
    x, R = _inputs(kind, T)
    by_id = {id(v): k for k, v in layer.cell.weights_by_name.items()}
    trained = [(by_id[id(v)], v) for v in layer.trainable_weights]
    assert sorted(k for k, _ in trained) == sorted(SHAPES)

    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        o = layer(xt)[..., :OUT]
        loss = tf.reduce_sum(o * tf.constant(R))
    grads = tape.gradient(loss, [xt] + [v for _, v in trained])

    p = {k: v.copy() for k, v in params.items()}
    xr = x.copy()

    def ref_loss():
        return float(np.sum(reference(p, xr, kind)[0] * R))

    np.testing.assert_allclose(float(loss), ref_loss(), rtol=1e-10)
    for (what, value), got in zip([("input", xr)] + [(k, p[k]) for k, _ in trained], grads):
        np.testing.assert_allclose(np.asarray(got), _finite_difference(ref_loss, value), rtol=1e-5, atol=1e-8,
                                   err_msg=f"d loss / d {what}")


# ------------------------------------------------------------------ Figure 1 and a queue by hand


def memory_equations(cell: str) -> str:
    """The memory's equations of `cell` in specs/std/stack.rnn, from `idx[t] = ...` to `r[t] = ...`."""
    text = SPEC.read_text()
    body = text[text.index(f"cell {cell}("):]
    body = body[:body.index("\n}\n")]
    lines = body.splitlines()
    first = next(i for i, line in enumerate(lines) if line.strip().startswith("idx[t] ="))
    last = next(i for i, line in enumerate(lines) if line.strip().startswith("r[t] ="))
    return "\n".join(lines[first:last + 1])


MEMORY = """cell {name}Memory(slots: int, width: int) {{
    "The memory of {name}, driven by the push strength d, the pop strength u and the value v."
    input d, u: []
    input v: [width]
    param one: [slots] = 1 fixed
    state V: [slots, width] = 0
    state s: [slots] = 0
    state count: [] = 0
{equations}
    output r
}}
"""


def _drive(kind: str, d, u, slots: int):
    """The spec's memory driven by d[t], u[t] and v[t] = the t-th unit vector (so that r[t] lists the read
    weight of each row): (s: [T, slots], r: [T, slots]), float32."""
    from rnndsl.keras.cell import cell_rnn

    name = CELLS[kind]
    program = rnndsl.load(MEMORY.format(name=name, equations=memory_equations(name)))
    layer = cell_rnn(program, f"{name}Memory", input_dim=2 + slots, slots=slots, width=slots, outputs=["s", "r"])
    T = len(d)
    x = np.concatenate([np.array(d)[:, None], np.array(u)[:, None], np.eye(T, slots)], axis=1)[None]
    y = np.asarray(layer(x.astype("float32")))[0]
    return y[:, :slots], y[:, slots:]


def _paper(kind: str, d, u, slots: int):
    """The same from memory_step (the paper's growing memory), padded to `slots`."""
    V, s, ss, rs = [], [], [], []
    for t in range(len(d)):
        V, s, r = memory_step(V, s, d[t], u[t], np.eye(slots)[t], kind)
        ss.append(np.pad(np.array(s), (0, slots - len(s))))
        rs.append(r)
    return np.array(ss), np.array(rs)


# Figure 1 (a) of the paper: three steps of a stack, v_1, v_2, v_3 pushed with d = 0.8, 0.5, 0.9,
# popped with u = 0 (nothing to pop), 0.1, 0.9; r_1 = 0.8 v_1, r_2 = 0.5 v_2 + 0.5 v_1,
# r_3 = 0.9 v_3 + 0 v_2 + 0.1 v_1.
FIGURE_1 = dict(
    d=[0.8, 0.5, 0.9], u=[0.0, 0.1, 0.9],
    s=[[0.8, 0.0, 0.0], [0.7, 0.5, 0.0], [0.3, 0.0, 0.9]],
    r=[[0.8, 0.0, 0.0], [0.5, 0.5, 0.0], [0.1, 0.0, 0.9]],
)

# The same pushes and pops on a queue, by hand from section 3.2: the pop of 0.1 at t = 2 takes it
# from the front row (0.8 -> 0.7), and the read takes the front 1 of strength, 0.7 of v_1 and 0.3 of
# v_2; the pop of 0.9 at t = 3 empties row 1 (0.7) and takes 0.2 of row 2 (0.5 -> 0.3), and the read
# is 0.3 of v_2 and 0.7 of the 0.9 of v_3.
QUEUE = dict(
    d=[0.8, 0.5, 0.9], u=[0.0, 0.1, 0.9],
    s=[[0.8, 0.0, 0.0], [0.7, 0.5, 0.0], [0.0, 0.3, 0.9]],
    r=[[0.8, 0.0, 0.0], [0.7, 0.3, 0.0], [0.0, 0.3, 0.7]],
)


@pytest.mark.parametrize("kind, example", [("stack", FIGURE_1), ("queue", QUEUE)], ids=["figure-1", "queue"])
@pytest.mark.parametrize("slots", [3, 5])
def test_worked_example(kind, example, slots):
    s, r = _drive(kind, example["d"], example["u"], slots)
    want_s = np.pad(np.array(example["s"]), ((0, 0), (0, slots - 3)))
    want_r = np.pad(np.array(example["r"]), ((0, 0), (0, slots - 3)))
    np.testing.assert_allclose(s, want_s, atol=1e-6)
    np.testing.assert_allclose(r, want_r, atol=1e-6)
    # and the reference of the paper's equations gives the same numbers
    ref_s, ref_r = _paper(kind, example["d"], example["u"], slots)
    np.testing.assert_allclose(ref_s, want_s, atol=1e-12)
    np.testing.assert_allclose(ref_r, want_r, atol=1e-12)


def test_the_memory_equations_are_the_ones_in_the_spec():
    for name in CELLS.values():
        eq = memory_equations(name)
        assert eq.splitlines()[0].strip().startswith("idx[t] =") and "r[t] =" in eq.splitlines()[-1]
        assert len([line for line in eq.splitlines() if line.strip()]) == 6


# ------------------------------------------------------------------ training from adversarial starts

SYMBOLS, LENGTH = 3, 4  # reverse 4 symbols of 3: one-hot with a 0 for "no symbol"


def _reversal(rng, batch: int):
    """Inputs: LENGTH symbols, then LENGTH + 1 empty steps; targets: nothing (class 0), then the symbols
    reversed after a step's pause. [batch, 2 LENGTH + 1, SYMBOLS + 1] and [batch, 2 LENGTH + 1]."""
    T = 2 * LENGTH + 1
    seq = rng.integers(1, SYMBOLS + 1, size=(batch, LENGTH))
    ids = np.zeros((batch, T), "int64")
    ids[:, :LENGTH] = seq
    targets = np.zeros((batch, T), "int64")
    targets[:, LENGTH + 1:] = seq[:, ::-1]
    return np.eye(SYMBOLS + 1, dtype="float32")[ids], targets


@pytest.mark.parametrize("kind", list(CELLS))
def test_trains_200_steps_from_saturated_gates_without_nan(kind):
    import keras

    from rnndsl.keras.cell import cell_rnn

    keras.utils.set_random_seed(_seed(kind, "train"))
    T = 2 * LENGTH + 1
    layer = cell_rnn(_program(), CELLS[kind], input_dim=SYMBOLS + 1, units=16, out=8, width=4, slots=T)
    model = keras.Sequential([keras.Input((T, SYMBOLS + 1)), layer, keras.layers.Dense(SYMBOLS + 1)])
    w = layer.cell.weights_by_name
    # adversarial: push and pop gates saturated open (sigmoid(+-20) is 1 or 0 to float32), large weights
    w["b_d"].assign(20.0)
    w["b_u"].assign(20.0)
    w["W_d"].assign(w["W_d"].numpy() * 30)
    w["W_u"].assign(w["W_u"].numpy() * 30)
    w["W_v"].assign(w["W_v"].numpy() * 10)
    optimizer = keras.optimizers.Adam(0.1)
    x, y = _reversal(np.random.default_rng(0), 32)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    losses = train_without_nan(model, x, y, loss_fn, optimizer)
    np.testing.assert_array_equal(w["one"].numpy(), 1.0)  # fixed: not trained
    assert losses[-1] < losses[0]
