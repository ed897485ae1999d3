"""infer: shapes and dtypes by unification; network edge types. Diagnostics are matched on their full text."""

import pytest

from helpers import checked, diagnostics
from rnndsl.lang.dims import Dim

CASES = {
    "add_mismatch": (
        """
cell A(units: int) {
    input x: [in]
    param W: [units, in]
    h[t] = tanh(W @ x[t] + x[t] + h[t-1])
    output h
}
""",
        """\
error[E0302]: shape mismatch in `+`: [units] vs [in]
  --> spec.rnn:4:28
   |
 4 |     h[t] = tanh(W @ x[t] + x[t] + h[t-1])
   |                            ^^^^ [in]
  --> spec.rnn:4:17
   |
 4 |     h[t] = tanh(W @ x[t] + x[t] + h[t-1])
   |                 ^^^^^^^^ [units]
""",
    ),
    "matmul_mismatch": (
        """
cell A(units: int) {
    input x: [in]
    param W: [units, units]
    h[t] = tanh(W @ x[t] + h[t-1])
    output h
}
""",
        """\
error[E0302]: shape mismatch in `@`: [units, units] @ [in]
  --> spec.rnn:4:21
   |
 4 |     h[t] = tanh(W @ x[t] + h[t-1])
   |                     ^^^^ [in]
  --> spec.rnn:4:17
   |
 4 |     h[t] = tanh(W @ x[t] + h[t-1])
   |                 ^ [units, units]
  --> spec.rnn:3:14
   |
 3 |     param W: [units, units]
   |              ^^^^^^^^^^^^^^ `W` is declared [units, units] here
   = note: the left side's last dimension (units) must equal the right side's first (in)
""",
    ),
    "matmul_rank": (
        """
cell A(units: int) {
    input x: [in]
    param W: [units, in, in]
    h[t] = tanh(W @ x[t] + h[t-1])
    output h
}
""",
        """\
error[E0301]: `@` takes matrices and vectors, found [units, in, in] @ [in]
  --> spec.rnn:4:17
   |
 4 |     h[t] = tanh(W @ x[t] + h[t-1])
   |                 ^^^^^^^^ [units, in, in] @ [in]
   = note: `W @ x` with W: [m, n] and x: [n] gives [m]
""",
    ),
    "cannot_infer": (
        """
cell A(units: int) {
    input x: [in]
    h[t] = tanh(W @ x[t] + U @ h[t-1] + b)
    output h
}
""",
        """\
error[E0303]: cannot infer the shape of parameter `W`
  --> spec.rnn:3:17
   |
 3 |     h[t] = tanh(W @ x[t] + U @ h[t-1] + b)
   |                 ^ known so far: [?, in]
   = note: declare it: `param W: [?, in]`

error[E0303]: cannot infer the shape of parameter `U`
  --> spec.rnn:3:28
   |
 3 |     h[t] = tanh(W @ x[t] + U @ h[t-1] + b)
   |                            ^ known so far: [?, ?]
   = note: declare it: `param U: [?, ?]`

error[E0303]: cannot infer the shape of parameter `b`
  --> spec.rnn:3:41
   |
 3 |     h[t] = tanh(W @ x[t] + U @ h[t-1] + b)
   |                                         ^ known so far: [?]
   = note: declare it: `param b: [?]`
""",
    ),
    "state_shape_conflict": (
        """
cell A(units: int) {
    input x: [in]
    param W: [units, in]
    state h: [in] = 0
    h[t] = tanh(W @ x[t] + h[t-1])
    output h
}
""",
        """\
error[E0302]: shape mismatch in `+`: [units] vs [in]
  --> spec.rnn:5:28
   |
 5 |     h[t] = tanh(W @ x[t] + h[t-1])
   |                            ^^^^^^ [in]
  --> spec.rnn:5:17
   |
 5 |     h[t] = tanh(W @ x[t] + h[t-1])
   |                 ^^^^^^^^ [units]
""",
    ),
    "bool_arithmetic": (
        """
cell A(units: int) {
    input x: [units]
    h[t] = (x[t] > 0) * x[t] + h[t-1]
    output h
}
""",
        """\
error[E0304]: a bool value in `*`
  --> spec.rnn:3:13
   |
 3 |     h[t] = (x[t] > 0) * x[t] + h[t-1]
   |             ^^^^^^^^ a bool
   = note: use `where(cond, a, b)` to choose by a condition
""",
    ),
    "where_condition": (
        """
cell A(units: int) {
    input x: [units]
    h[t] = where(x[t], x[t], h[t-1])
    output h
}
""",
        """\
error[E0304]: the condition of `where` is not a comparison
  --> spec.rnn:3:18
   |
 3 |     h[t] = where(x[t], x[t], h[t-1])
   |                  ^^^^ a float value
   = note: write `where(x > 0, a, b)`
""",
    ),
    "axis_out_of_range": (
        """
cell A(units: int) {
    input x: [units]
    h[t] = softmax(x[t], axis=1) + h[t-1]
    output h
}
""",
        """\
error[E0306]: axis 1 is out of range for [units]
  --> spec.rnn:3:12
   |
 3 |     h[t] = softmax(x[t], axis=1) + h[t-1]
   |            ^^^^^^^^^^^^^^^^^^^^^ rank 1
""",
    ),
    "split_uneven": (
        """
cell A(units: int) {
    input x: [3]
    a[t], b[t] = split(x[t], 2)
    output a
}
""",
        """\
error[E0302]: cannot split [3] into 2 equal parts along axis 0
  --> spec.rnn:3:24
   |
 3 |     a[t], b[t] = split(x[t], 2)
   |                        ^^^^ [3]
""",
    ),
    "einsum_bad": (
        """
cell A(units: int) {
    input x: [units]
    param T: [units, units, units]
    h[t] = tanh(einsum("ijk,j->i", T, x[t], h[t-1]))
    output h
}
""",
        """\
error[E0307]: einsum subscripts `ijk,j->i` name 2 operands, given 3
  --> spec.rnn:4:17
   |
 4 |     h[t] = tanh(einsum("ijk,j->i", T, x[t], h[t-1]))
   |                 ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
""",
    ),
    "net_input_mismatch": (
        """
cell R(units: int) {
    input x: [units]
    param W: [units, units]
    h[t] = tanh(W @ x[t] + h[t-1])
    output h
}

network N(units: int = 8) {
    input x: seq[4]
    output R(units)(x)
}
""",
        """\
error[E0305]: cell `R` input `x` takes seq[units], found seq[4]
   --> spec.rnn:10:12
    |
 10 |     output R(units)(x)
    |            ^^^^^^^^^^^ `x` is seq[4]
    = note: `x: [units]` is declared at spec.rnn:2:11
""",
    ),
    "net_bound_dim": (
        """
cell Two(units: int) {
    input x, y: [in]
    param W, V: [units, in]
    h[t] = tanh(W @ x[t] + V @ y[t] + h[t-1])
    output h
}

network N(units: int = 8) {
    input a: seq[4]
    input b: seq[5]
    output Two(units)(a, b)
}
""",
        """\
error[E0305]: cell `Two` input `y` takes seq[in], found seq[5]
   --> spec.rnn:11:12
    |
 11 |     output Two(units)(a, b)
    |            ^^^^^^^^^^^^^^^^ `b` is seq[5]
    = note: `y: [in]` is declared at spec.rnn:2:14
    = note: `in` is bound to 4 by `Two` at spec.rnn:11:12
""",
    ),
    "net_tokens": (
        """
cell R(units: int) {
    input x: [in]
    param W: [units, in]
    h[t] = tanh(W @ x[t] + h[t-1])
    output h
}

network N(units: int = 8) {
    input w: seq[int]
    a = R(units)(w)
    b = Embedding(100, 16)(Dense(4)(w))
    output a
}
""",
        """\
error[E0305]: cell `R` takes float features, found seq[int]
   --> spec.rnn:10:9
    |
 10 |     a = R(units)(w)
    |         ^^^^^^^^^^^ `w` is seq[int]
    = note: embed tokens first: `Embedding(vocab, 128)(words)`

error[E0305]: `Dense` takes float features, found seq[int]
   --> spec.rnn:11:28
    |
 11 |     b = Embedding(100, 16)(Dense(4)(w))
    |                            ^^^^^^^^^^^ applied to seq[int]
""",
    ),
    "net_concat": (
        """
network N {
    input a: seq[4]
    input b: vec[4]
    output Concatenate()(a, b)
}
""",
        """\
error[E0305]: `Concatenate` takes values of one kind: seq[4] vs vec[4]
  --> spec.rnn:4:12
   |
 4 |     output Concatenate()(a, b)
   |            ^^^^^^^^^^^^^^^^^^^ applied to seq[4], vec[4]
""",
    ),
    "initial_state_types": (
        """
import "std/cells.rnn"

network Bad(units: int = 16) {
    input source: seq[8]
    input target: seq[5]
    input v: vec[4]
    enc_c, enc_h = LSTM(units, returns=states)(source)
    d = GRU(units * 2)(target, h=enc_c)
    e = GRU(units)(target, h=v)
    f = GRU(units)(target, h=source)
    output d, e, f
}
""",
        """\
error[E0305]: initial state `h` of `GRU` takes vec[2*units], found vec[units]
  --> spec.rnn:8:9
   |
 8 |     d = GRU(units * 2)(target, h=enc_c)
   |         ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^ `enc_c` is vec[units]
   = note: `h` is [units] in cell `GRU`

error[E0305]: initial state `h` of `GRU` takes vec[units], found vec[4]
  --> spec.rnn:9:9
   |
 9 |     e = GRU(units)(target, h=v)
   |         ^^^^^^^^^^^^^^^^^^^^^^^ `v` is vec[4]
   = note: `h` is [units] in cell `GRU`

error[E0305]: initial state `h` of `GRU` takes vec[units], found seq[8]
   --> spec.rnn:10:9
    |
 10 |     f = GRU(units)(target, h=source)
    |         ^^^^^^^^^^^^^^^^^^^^^^^^^^^^ `source` is seq[8]
    = note: `h` is [units] in cell `GRU`
""",
    ),
    # ---- limits (rnndsl.lang.limits): sizes that would hang or crash the build are errors at check
    "cell_default_zero": (
        """
cell C(units: int = 0) {
    input x: [in]
    param W: [units, in]
    param U: [units, units]
    h[t] = tanh(W @ x[t] + U @ h[t-1])
    output h
}
""",
        """\
error[E0308]: parameter `W` is [0, ?] with units = 0: a dimension is at least 1
  --> spec.rnn:3:11
   |
 3 |     param W: [units, in]
   |           ^
   = note: `units` = 0 is the default at spec.rnn:1:8
""",
    ),
    "network_default_negative": (
        """
import "std/cells.rnn"

network N(units: int = -1) {
    input x: seq[3]
    output GRU(units)(x)
}
""",
        """\
error[E0308]: parameter `W_z` of `GRU` is [-1, 3] with units = -1: a dimension is at least 1
  --> spec.rnn:5:12
   |
 5 |     output GRU(units)(x)
   |            ^^^^^^^^^^^^^
   = note: `units` = -1 is the default at spec.rnn:3:11
""",
    ),
    "unbound_input_dimension": (
        """
import "std/cells.rnn"

network N(rows: int = 8) {
    input x: seq[inf]
    input y: seq[row]
    input image: grid[H, W, 3]
    output GRU(4)(x)
}
""",
        """\
error[E0201]: unknown dimension `inf` in the type of input `x`
  --> spec.rnn:4:11
   |
 4 |     input x: seq[inf]
   |           ^ `inf` is not a hyperparameter of `N`
   = note: a network's sizes are integers and its int hyperparameters: `network N(inf: int = ...)`

error[E0201]: unknown dimension `row` in the type of input `y`
  --> spec.rnn:5:11
   |
 5 |     input y: seq[row]
   |           ^ `row` is not a hyperparameter of `N`
   = note: did you mean `rows`?
   = note: a network's sizes are integers and its int hyperparameters: `network N(row: int = ...)`
""",
    ),
    "dimension_too_large": (
        """
import "std/cells.rnn"

network N {
    input x: seq[2147483648]
    output GRU(4)(x)
}
""",
        """\
error[E0308]: input `x` is seq[2147483648]: a dimension is at most 16777216 (2**24)
  --> spec.rnn:4:11
   |
 4 |     input x: seq[2147483648]
   |           ^
""",
    ),
    "too_many_entries": (
        """
import "std/cells.rnn"

network N(vocab: int = 100000, units: int = 50000) {
    input words: seq[int]
    e = Embedding(vocab, 40000)(words)
    output e >> GRU(units)
}
""",
        """\
error[E0308]: weight `embeddings` of `Embedding` is [100000, 40000] (4000000000 entries) with vocab = 100000: a tensor has at most 2147483647 (2**31 - 1) entries
  --> spec.rnn:5:9
   |
 5 |     e = Embedding(vocab, 40000)(words)
   |         ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
   = note: `vocab` = 100000 is the default at spec.rnn:3:11

error[E0308]: parameter `U_z` of `GRU` is [50000, 50000] (2500000000 entries) with units = 50000: a tensor has at most 2147483647 (2**31 - 1) entries
  --> spec.rnn:6:12
   |
 6 |     output e >> GRU(units)
   |            ^^^^^^^^^^^^^^^
   = note: `units` = 50000 is the default at spec.rnn:3:32
""",
    ),
    "embedding_too_large": (
        """
import "std/cells.rnn"

network N {
    input words: seq[int]
    output Embedding(4611686018427387904, 8)(words) >> GRU(4)
}
""",
        """\
error[E0308]: argument `input_dim` of `Embedding` is 4611686018427387904: a dimension is at most 16777216 (2**24)
  --> spec.rnn:5:12
   |
 5 |     output Embedding(4611686018427387904, 8)(words) >> GRU(4)
   |            ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
""",
    ),
    "stack_too_deep": (
        """
import "std/cells.rnn"

network N(layers: int = 0) {
    input x: seq[3]
    a = Stack(GRU(4), depth=1000000000)(x)
    output Stack(GRU(4), depth=layers)(a)
}
""",
        """\
error[E0308]: `Stack` has depth 1000000000: a stack has 1 to 1000 layers
  --> spec.rnn:5:9
   |
 5 |     a = Stack(GRU(4), depth=1000000000)(x)
   |         ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^

error[E0308]: `Stack` has depth 0 with layers = 0: a stack has 1 to 1000 layers
  --> spec.rnn:6:12
   |
 6 |     output Stack(GRU(4), depth=layers)(a)
   |            ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
   = note: `layers` = 0 is the default at spec.rnn:3:11
""",
    ),
    "dropout_rate": (
        """
network N(rate: float = 1.5) {
    input x: seq[3]
    output x >> Dropout(rate) >> Dropout(-0.5)
}
""",
        """\
error[E0209]: `rate` of `Dropout` is a fraction, in [0, 1), not 1.5
  --> spec.rnn:3:12
   |
 3 |     output x >> Dropout(rate) >> Dropout(-0.5)
   |            ^^^^^^^^^^^^^^^^^^
   = note: `rate` = 1.5 is the default at spec.rnn:1:11

error[E0209]: `rate` of `Dropout` is a fraction, in [0, 1), not -0.5
  --> spec.rnn:3:12
   |
 3 |     output x >> Dropout(rate) >> Dropout(-0.5)
   |            ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
""",
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_diagnostic_text(name):
    spec, expected = CASES[name]
    assert diagnostics(spec) + "\n" == expected


# ---------------------------------------------------------------- inferred shapes


def _shapes(program, cell):
    return {k: {n: "[" + ", ".join(map(str, s)) + "]" for n, s in v.items()}
            for k, v in program.cells[cell].signature.items()}


def test_parameter_shapes_are_inferred_from_the_equations():
    program = checked("""
        cell Elman(units: int) {
            input x: [in]
            param U: [units, units]
            param W, b
            h[t] = tanh(W @ x[t] + U @ h[t-1] + b)
            output h
        }
    """)
    sig = _shapes(program, "Elman")
    assert sig["params"] == {"U": "[units, units]", "W": "[units, in]", "b": "[units]"}
    assert sig["states"] == {"h": "[units]"}
    assert sig["outputs"] == {"h": "[units]"}


def test_paper_style_cell_takes_free_names_as_parameters():
    program = checked("""
        cell Jordan(hidden: int, out: int) {
            input x: [in]
            param W: [hidden, in]
            param V: [out, hidden]
            param U, b, c
            h[t] = tanh(W @ x[t] + U @ y[t-1] + b)
            y[t] = sigmoid(V @ h[t] + c)
            output y
        }
    """)
    sig = _shapes(program, "Jordan")
    assert sig["params"] == {"W": "[hidden, in]", "V": "[out, hidden]", "U": "[hidden, out]",
                             "b": "[hidden]", "c": "[out]"}
    graph = program.graph("Jordan")
    assert graph.node("U").implicit is False


def test_implicit_parameters_in_a_cell_without_param_declarations():
    program = checked("""
        cell Mix(units: int) {
            input x: [units]
            h[t] = tanh(A @ x[t] + B @ h[t-1] + x[t])
            output h
        }
    """)
    sig = _shapes(program, "Mix")
    assert sig["params"] == {"A": "[units, units]", "B": "[units, units]"}
    assert program.graph("Mix").node("A").implicit is True


def test_memory_functions_give_their_shapes():
    program = checked("""
        cell Mem(n: int, w: int) {
            input k: [w]
            param beta: []
            state M: [n, w] = 0
            c[t] = softmax(beta * cosine(M[t-1], k[t]))
            s[t] = circular_conv(c[t], softmax(S @ k[t]))
            o[t] = outer(s[t], k[t])
            M[t] = M[t-1] * (1 - o[t]) + o[t]
            r[t] = s[t] @ M[t]
            y[t] = concat(r[t], k[t], sum(M[t], axis=0))
            a[t], b[t], p[t] = split(y[t], 3)
            e[t] = einsum("ij,j->i", M[t], k[t]) + M[t] @ (transpose(M[t]) @ s[t]) * mean(k[t])
            output y
            param S: [3, w]
        }
    """)
    g = program.graph("Mem")
    shapes = {n: "[" + ", ".join(map(str, g.node(n).shape)) + "]" for n in "csoMryabpe"}
    assert shapes == {"c": "[n]", "s": "[n]", "o": "[n, w]", "M": "[n, w]", "r": "[w]",
                      "y": "[3*w]", "a": "[w]", "b": "[w]", "p": "[w]", "e": "[n]"}


def test_second_order_tensor_is_inferred_through_einsum():
    program = checked("""
        cell SecondOrder(units: int) {
            input x: [in]
            h[t] = sigmoid(einsum("ijk,j,k->i", T, x[t], h[t-1]) + b)
            state h: [units] = 0
            output h
        }
    """)
    assert _shapes(program, "SecondOrder")["params"] == {"T": "[units, in, units]", "b": "[units]"}


def test_comparisons_are_bool_and_where_chooses():
    program = checked("""
        cell Spike(units: int, threshold: float = 1.0) {
            input x: [units]
            v[t] = where(v[t-1] > threshold, 0 * x[t], v[t-1] + x[t])
            s[t] = v[t] > threshold
            output v
        }
    """)
    g = program.graph("Spike")
    assert g.node("s").dtype == "bool"
    assert g.node("v").dtype == "float"


def test_network_edges_are_typed():
    program = checked("""
        cell R(units: int) {
            input x: [in]
            param W: [units, in]
            param U: [units, units]
            h[t] = tanh(W @ x[t] + U @ h[t-1])
            output h
        }

        network Net(vocab: int = 100, units: int = 16) {
            input words: seq[int]
            emb = Embedding(vocab, 32)(words)
            both = Bidirectional(R(units), merge=concat)(emb)
            summed = Bidirectional(R(units), merge=sum)(emb)
            deep = Concatenate()(both, summed) >> Stack(R(units), depth=3)
            last = R(2 * units, returns=last)(deep)
            output Dense(5, activation=softmax)(last)
        }
    """)
    g = program.graph("Net")
    types = {(u, v): str(flow.type) for u, v, flow in g.uses()}
    assert types == {
        ("words", "Embedding_1"): "seq[int]",
        ("Embedding_1", "Bidirectional_2"): "seq[32]",
        ("Embedding_1", "Bidirectional_3"): "seq[32]",
        ("Bidirectional_2", "Concatenate_4"): "seq[2*units]",
        ("Bidirectional_3", "Concatenate_4"): "seq[units]",
        ("Concatenate_4", "Stack_5"): "seq[3*units]",
        ("Stack_5", "R_6"): "seq[units]",
        ("R_6", "Dense_7"): "vec[2*units]",
        ("Dense_7", "output"): "vec[5]",
    }


def test_dims_print_and_solve():
    from rnndsl.lang.dims import solve

    units = Dim.sym("units")
    assert str(2 * units + Dim.sym("in") - 3) == "in + 2*units - 3"
    assert str(units * units) == "units*units"
    assert (units * 4).exact_div(2) == units * 2
    assert (units * 3).exact_div(2) is None
    var, value = solve(Dim.sym("?a") + 1, units)
    assert var == "?a" and value == units - 1
    assert solve(Dim.sym("?a") * Dim.sym("?a"), units) is None


# ---------------------------------------------------------------- limits

LIMIT_CASES = ["cell_default_zero", "network_default_negative", "unbound_input_dimension", "dimension_too_large",
               "too_many_entries", "embedding_too_large", "stack_too_deep", "dropout_rate"]


@pytest.mark.parametrize("name", LIMIT_CASES)
def test_check_command_reports_sizes_out_of_limits(name, tmp_path, monkeypatch, capsys):
    from rnndsl.cli import main

    spec, expected = CASES[name]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "spec.rnn").write_text(spec.lstrip("\n"))
    assert main(["check", "spec.rnn"]) == 1
    n = expected.count("error[")
    assert capsys.readouterr().err == f"{expected}\n{n} error{'s' if n > 1 else ''} in spec.rnn\n"


def test_a_stack_is_typed_in_a_few_layers_whatever_its_depth():
    program = checked("""
        import "std/cells.rnn"

        cell Grow(units: int) {
            input x: [in]
            param W: [units, in]
            y[t] = concat(tanh(W @ x[t]), x[t])
            output y
        }

        network N(units: int = 2) {
            input x: seq[5]
            grown = Stack(Grow(units), depth=3)(x)
            output Stack(GRU(units), depth=1000)(grown)
        }
    """)
    g = program.graph("N")
    assert {(u, v): str(flow.type) for u, v, flow in g.uses()} == {
        ("x", "Stack_1"): "seq[5]", ("Stack_1", "Stack_2"): "seq[3*units + 5]", ("Stack_2", "output"): "seq[units]"}
    # a cell whose size grows is typed layer by layer; the GRU's second layer reads what it gives, and so does
    # every layer above it: the 998 above are not typed one by one
    assert [len(g.node(n).instances) for n in ("Stack_1", "Stack_2")] == [3, 2]


def test_an_integer_dimension_solves_from_a_total_size():
    from rnndsl.lang.dims import solve_int

    n = Dim.sym("in")
    assert solve_int(n, "in", 9999999999) == 9999999999  # at once, not by trying every value below
    assert solve_int(3 * n + 2, "in", 14) == 4
    assert solve_int(3 * n + 2, "in", 15) is None
    assert solve_int(n * n + n, "in", 42) == 6
    assert solve_int(n * n, "in", 50) is None
    assert solve_int(n, "in", 0) is None  # a dimension is at least 1
