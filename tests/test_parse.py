"""parse: text -> AST, and the syntax diagnostics.

AST nodes compare without their spans, so the expected trees below are written
without positions; spans are checked on their own. Every diagnostic is checked
by its full rendered text, as `rnndsl check` prints it.
"""

from __future__ import annotations

import re

import pytest

from rnndsl.lang import ast as A
from rnndsl.lang.errors import RnnDslError, SpecErrors
from rnndsl.lang.parse import parse, parse_file
from rnndsl.lang.syntax_errors import _failure_key, _mistakes, mistake_catalogue

# ---------------------------------------------------------------- helpers


def N(id: str) -> A.Name:
    return A.Name(id)


def Num(value) -> A.Number:
    return A.Number(value)


def Bin(op: str, left, right) -> A.BinOp:
    return A.BinOp(op, _e(left), _e(right))


def Ix(name: str, index) -> A.Indexed:
    return A.Indexed(N(name), _e(index))


def Call(func, *args, generator=None) -> A.Call:
    return A.Call(_e(func), tuple(args), generator)


def Pos(value) -> A.Arg:
    return A.Arg(_e(value))


def Kw(name: str, value) -> A.Arg:
    return A.Arg(_e(value), N(name))


def _e(x):
    """Shorthand in expected trees: a str is a Name, an int or float a Number."""
    if isinstance(x, str):
        return N(x)
    if isinstance(x, (int, float)):
        return Num(x)
    return x


T_1 = Bin("-", "t", 1)  # the index `t-1`


def cell_body(text: str) -> tuple:
    """The statements of a cell whose body is `text`."""
    module = parse("cell C {\n" + text + "\n}\n")
    return module.items[0].body


def expr(text: str):
    """The expression `text`, as the right side of a network binding."""
    module = parse("network N {\n    y = " + text + "\n}\n")
    return module.items[0].body[0].value


def errors(text: str, file: str = "m.rnn") -> str:
    """The full diagnostic text that `parse` raises for `text`."""
    with pytest.raises(SpecErrors) as info:
        parse(text, file)
    rendered = info.value.render()
    assert isinstance(rendered, str)
    return rendered


# ---------------------------------------------------------------- modules, imports, docstrings


def test_empty_file_is_an_empty_module():
    assert parse("") == A.Module((), None)
    assert parse("\n\n   \n# just a comment\n") == A.Module((), None)


def test_module_docstring_and_imports():
    module = parse('"""Standard cells.\n\nMore text."""\nimport "std/cells.rnn"\nimport "../x.rnn"\n')
    assert module == A.Module(
        (A.Import(A.String("std/cells.rnn")), A.Import(A.String("../x.rnn"))),
        "Standard cells.\n\nMore text.",
    )
    assert module.imports == module.items
    assert module.cells == () and module.networks == ()


def test_one_line_docstring_with_escapes():
    module = parse('"a \\"quoted\\" word\\tand a \\\\ backslash\\n"\n')
    assert module.doc == 'a "quoted" word\tand a \\ backslash\n'


def test_a_string_later_in_the_file_is_not_a_docstring():
    with pytest.raises(SpecErrors):
        parse('import "a.rnn"\n"not a docstring"\n')


def test_items_keep_source_order():
    module = parse('cell A {\n}\nimport "x.rnn"\nnetwork B {\n}\ncell C {\n}\n')
    assert [type(i).__name__ for i in module.items] == ["Cell", "Import", "Network", "Cell"]
    assert [c.name.id for c in module.cells] == ["A", "C"]
    assert [n.name.id for n in module.networks] == ["B"]


# ---------------------------------------------------------------- cells


def test_cell_header_with_hyperparameters_over_and_docstring():
    module = parse(
        'cell TreeLSTM(units: int, scale: float = 0.5, peep: bool = true, name: str = "t") over tree {\n'
        '    """Child-sum."""\n'
        "    output h\n"
        "}\n"
    )
    assert module.items == (
        A.Cell(
            N("TreeLSTM"),
            (
                A.HyperParam(N("units"), N("int")),
                A.HyperParam(N("scale"), N("float"), Num(0.5)),
                A.HyperParam(N("peep"), N("bool"), N("true")),
                A.HyperParam(N("name"), N("str"), A.String("t")),
            ),
            over=A.Domain(N("tree")),
            doc="Child-sum.",
            body=(A.OutputDecl((N("h"),)),),
        ),
    )


def test_cell_with_empty_hyperparameters_and_no_body():
    assert parse("cell A() {\n}\n").items == (A.Cell(N("A")),)
    assert parse("cell A {}\n").items == (A.Cell(N("A")),)


def test_negative_default():
    (hp,) = parse("cell A(bias: float = -1.5) {\n}\n").items[0].hparams
    assert hp.default == A.UnaryOp("-", Num(1.5))


def test_cell_solver_with_and_without_arguments():
    rk4 = parse("cell A(dt: float = 0.1) solver rk4(step=dt / 2) {\n}\n").items[0]
    assert rk4.solver == A.Solver(N("rk4"), (Kw("step", Bin("/", "dt", 2)),))
    assert rk4.over is None
    euler = parse("cell A solver euler {\n}\n").items[0]
    assert euler.solver == A.Solver(N("euler"))
    both = parse("cell A over tree solver euler {\n}\n").items[0]
    assert (both.over, both.solver) == (A.Domain(N("tree")), A.Solver(N("euler")))
    binary = parse("cell A over tree(2) {\n    h[n] = h[child(n, 1)]\n}\n").items[0]
    assert binary.over == A.Domain(N("tree"), (A.Arg(Num(2)),))
    assert binary.body[0].value.index == A.Call(N("child"), (A.Arg(N("n")), A.Arg(Num(1))))


def test_input_declarations():
    assert cell_body("input x: [in]\ninput a, b, c: [2*units, units + in, 3]\ninput s: []") == (
        A.InputDecl((N("x"),), A.Shape((N("in"),))),
        A.InputDecl(
            (N("a"), N("b"), N("c")),
            A.Shape((Bin("*", 2, "units"), Bin("+", "units", "in"), Num(3))),
        ),
        A.InputDecl((N("s"),), A.Shape(())),
    )


def test_param_declarations_with_every_option():
    body = cell_body(
        "param W_i, W_f: [units, in] ~ glorot_uniform\n"
        "param U: [units, units] ~ normal(0.0, std=0.1) fixed\n"
        "param b: [units] = 0\n"
        "param tau: [units] = 1 constrain positive\n"
        "param R: [units, units] ~ reservoir(0.1, 0.95) fixed constrain max_norm(3), clip(-1, 1)\n"
        "param V\n"
        "param G fixed\n"
        "param c = -0.5 constrain nonneg"
    )
    assert body == (
        A.ParamDecl((N("W_i"), N("W_f")), A.Shape((N("units"), N("in"))), A.Init(N("glorot_uniform"))),
        A.ParamDecl(
            (N("U"),), A.Shape((N("units"), N("units"))),
            A.Init(N("normal"), (Pos(0.0), Kw("std", 0.1))), fixed=True,
        ),
        A.ParamDecl((N("b"),), A.Shape((N("units"),)), A.ConstInit(Num(0))),
        A.ParamDecl(
            (N("tau"),), A.Shape((N("units"),)), A.ConstInit(Num(1)),
            constraints=(A.Constraint(N("positive")),),
        ),
        A.ParamDecl(
            (N("R"),), A.Shape((N("units"), N("units"))),
            A.Init(N("reservoir"), (Pos(0.1), Pos(0.95))), fixed=True,
            constraints=(
                A.Constraint(N("max_norm"), (Pos(3),)),
                A.Constraint(N("clip"), (Pos(A.UnaryOp("-", Num(1))), Pos(1))),
            ),
        ),
        A.ParamDecl((N("V"),)),
        A.ParamDecl((N("G"),), fixed=True),
        A.ParamDecl(
            (N("c"),), init=A.ConstInit(A.UnaryOp("-", Num(0.5))),
            constraints=(A.Constraint(N("nonneg")),),
        ),
    )


def test_state_and_output_declarations():
    assert cell_body("state h\nstate c: [units]\nstate M: [N, W] = M0\nstate m = 0\noutput h, c, M") == (
        A.StateDecl(N("h")),
        A.StateDecl(N("c"), A.Shape((N("units"),))),
        A.StateDecl(N("M"), A.Shape((N("N"), N("W"))), N("M0")),
        A.StateDecl(N("m"), None, Num(0)),
        A.OutputDecl((N("h"), N("c"), N("M"))),
    )


def test_equations():
    assert cell_body("h[t] = tanh(W @ x[t] + U @ h[t-1] + b)\ny[t] = h") == (
        A.Equation(
            (A.Target(N("h"), N("t")),),
            Call("tanh", Pos(Bin("+", Bin("+", Bin("@", "W", Ix("x", "t")), Bin("@", "U", Ix("h", T_1))), "b"))),
        ),
        A.Equation((A.Target(N("y"), N("t")),), N("h")),
    )


def test_multi_target_equation():
    (eq,) = cell_body("z[t], r[t], n[t] = split(W @ x[t], 3, axis=-1)")
    assert eq == A.Equation(
        (A.Target(N("z"), N("t")), A.Target(N("r"), N("t")), A.Target(N("n"), N("t"))),
        Call("split", Pos(Bin("@", "W", Ix("x", "t"))), Pos(3), Kw("axis", A.UnaryOp("-", Num(1)))),
    )


def test_ode():
    (ode,) = cell_body("d/dt y = (-y + W @ sigmoid(y - theta) + I[t]) / tau")
    assert ode == A.ODE(
        N("y"),
        Bin(
            "/",
            Bin("+", Bin("+", A.UnaryOp("-", N("y")), Bin("@", "W", Call("sigmoid", Pos(Bin("-", "y", "theta"))))),
                Ix("I", "t")),
            "tau",
        ),
    )


def test_generator_over_children():
    (eq,) = cell_body("hs[n] = sum(h[k] * f[k] for k in children(n))")
    assert eq == A.Equation(
        (A.Target(N("hs"), N("n")),),
        Call("sum", generator=A.Generator(Bin("*", Ix("h", "k"), Ix("f", "k")), N("k"), N("children"), N("n"))),
    )


def test_keywords_as_name_prefixes_are_names():
    body = cell_body("input inputs, cells, in_dim, fixed_point: [in]\nstate_h[t] = for_x + over1 + networks")
    assert body[0].names == (N("inputs"), N("cells"), N("in_dim"), N("fixed_point"))
    assert body[1].targets[0].name == N("state_h")
    assert body[1].value == Bin("+", Bin("+", "for_x", "over1"), "networks")


def test_in_as_a_dimension_name():
    (decl, eq) = cell_body("param W: [units, in]\nh[t] = x[in] + in")
    assert decl.shape == A.Shape((N("units"), N("in")))
    assert eq.value == Bin("+", Ix("x", "in"), "in")


# ---------------------------------------------------------------- networks


def test_network():
    module = parse(
        'import "std/cells.rnn"\n'
        "network Tagger(vocab: int = 10000, units: int = 256) {\n"
        '    "Tags tokens."\n'
        "    input  words: seq[int]\n"
        "    input  a, b: grid[H, W, 3]\n"
        "    input  v: vec[float, 2*units]\n"
        "    input  tr: tree[]\n"
        "    emb  = Embedding(vocab, 128, mask_zero=true)(words)\n"
        "    ctx  = Bidirectional(LSTM(units), merge=concat)(emb)\n"
        "    deep = ctx >> Stack(GRU(units), depth=2) >> Dropout(0.5)\n"
        "    l, r = Split()(deep)\n"
        "    output Dense(17, activation=softmax)(deep), l\n"
        "}\n"
    )
    assert module.items[1] == A.Network(
        N("Tagger"),
        (A.HyperParam(N("vocab"), N("int"), Num(10000)), A.HyperParam(N("units"), N("int"), Num(256))),
        "Tags tokens.",
        (
            A.NetInput((N("words"),), A.TypeExpr(N("seq"), (N("int"),))),
            A.NetInput((N("a"), N("b")), A.TypeExpr(N("grid"), (N("H"), N("W"), Num(3)))),
            A.NetInput((N("v"),), A.TypeExpr(N("vec"), (N("float"), Bin("*", 2, "units")))),
            A.NetInput((N("tr"),), A.TypeExpr(N("tree"), ())),
            A.Bind(
                (N("emb"),),
                Call(Call("Embedding", Pos("vocab"), Pos(128), Kw("mask_zero", "true")), Pos("words")),
            ),
            A.Bind(
                (N("ctx"),),
                Call(Call("Bidirectional", Pos(Call("LSTM", Pos("units"))), Kw("merge", "concat")), Pos("emb")),
            ),
            A.Bind(
                (N("deep"),),
                Bin(">>", Bin(">>", "ctx", Call("Stack", Pos(Call("GRU", Pos("units"))), Kw("depth", 2))),
                    Call("Dropout", Pos(0.5))),
            ),
            A.Bind((N("l"), N("r")), Call(Call("Split"), Pos("deep"))),
            A.NetOutput((Call(Call("Dense", Pos(17), Kw("activation", "softmax")), Pos("deep")), N("l"))),
        ),
    )


# ---------------------------------------------------------------- lexical details


def test_comments_are_ignored_and_kept_for_fmt():
    text = "# top\ncell A {  # trailing\n    # own line\n    h[t] = x[t]  # why\n}\n# last, no newline"
    parsed = parse_file(text)
    assert parsed.errors == ()
    assert parsed.module == parse("cell A {\n    h[t] = x[t]\n}\n")
    assert [(c.text, c.line, c.column, c.own_line) for c in parsed.comments] == [
        ("# top", 1, 1, True),
        ("# trailing", 2, 11, False),
        ("# own line", 3, 5, True),
        ("# why", 4, 18, False),
        ("# last, no newline", 6, 1, True),
    ]


def test_hash_inside_a_string_is_not_a_comment():
    assert parse('import "a#b.rnn"\n').items == (A.Import(A.String("a#b.rnn")),)


def test_layout_does_not_change_the_tree():
    one_line = parse("cell A {\n    h[t] = tanh(W @ x[t] + U @ h[t-1] + b) * 2\n}\n")
    continued = parse(
        "cell A {\n"
        "\n"
        "    h[t] = tanh(W @ x[t] +   # a comment after an operator\n"
        "\n"
        "                U @ h[t-1]\n"
        "                + b) *\n"
        "         2\n"
        "}"
    )
    assert one_line == continued


@pytest.mark.parametrize("op", ["+", "-", "*", "/", "@", "**", "<", ">=", "=="])
def test_a_newline_after_a_binary_operator_continues(op):
    (eq,) = cell_body(f"h[t] = a {op}\n    b")
    assert eq.value == Bin(op, "a", "b")


def test_a_newline_continues_after_comma_equal_tilde_and_chain():
    # ... but not after `:`, nor before an operator (see the error tests below)
    body = cell_body(
        "param W,\n    U: [units,\n     in] ~\n    normal(0,\n    1)\n"
        "param b =\n    0\n"
        "h[t] =\n    x[t]"
    )
    assert body == cell_body("param W, U: [units, in] ~ normal(0, 1)\nparam b = 0\nh[t] = x[t]")
    assert expr("x >>\n    Dense(3) >>\n    Dropout(0.1)") == expr("x >> Dense(3) >> Dropout(0.1)")


def test_a_newline_inside_brackets_continues():
    assert cell_body("h[t] = f(\n    x[\n    t\n    ]\n    ,\n    axis = 0\n)") == cell_body(
        "h[t] = f(x[t], axis=0)"
    )


def test_crlf_tabs_and_form_feeds_are_whitespace():
    assert parse("cell A {\r\n\th[t] =\tx[t]\f\r\n}\r\n") == parse("cell A {\n    h[t] = x[t]\n}\n")


def test_triple_quoted_strings_span_lines_and_hold_quotes():
    module = parse('"""line one\n"quoted" and ""two""\nend"""\n')
    assert module.doc == 'line one\n"quoted" and ""two""\nend'


def test_numbers():
    assert [(n.value, type(n.value), n.text) for n in (expr(s) for s in ("7", "1.0", "2.", ".5", "1e3", "2.5E-2"))] == [
        (7, int, "7"), (1.0, float, "1.0"), (2.0, float, "2."), (0.5, float, ".5"),
        (1000.0, float, "1e3"), (0.025, float, "2.5E-2"),
    ]


def test_strings_in_expressions():
    assert expr('einsum("ij,j->i", A, x)') == Call("einsum", Pos(A.String("ij,j->i")), Pos("A"), Pos("x"))


# ---------------------------------------------------------------- precedence and associativity


@pytest.mark.parametrize(
    "text, tree",
    [
        ("a + b * c", Bin("+", "a", Bin("*", "b", "c"))),
        ("a * b + c", Bin("+", Bin("*", "a", "b"), "c")),
        ("a - b - c", Bin("-", Bin("-", "a", "b"), "c")),
        ("a / b * c @ d", Bin("@", Bin("*", Bin("/", "a", "b"), "c"), "d")),
        ("W @ x + b", Bin("+", Bin("@", "W", "x"), "b")),
        ("(a + b) * c", Bin("*", Bin("+", "a", "b"), "c")),
        ("a ** b ** c", Bin("**", "a", Bin("**", "b", "c"))),
        ("-a ** 2", A.UnaryOp("-", Bin("**", "a", 2))),
        ("a ** -b", Bin("**", "a", A.UnaryOp("-", N("b")))),
        ("2 * -x", Bin("*", 2, A.UnaryOp("-", N("x")))),
        ("-x @ W", Bin("@", A.UnaryOp("-", N("x")), "W")),
        ("- -a", A.UnaryOp("-", A.UnaryOp("-", N("a")))),
        ("+a - b", Bin("-", A.UnaryOp("+", N("a")), "b")),
        ("a + b < c * d", Bin("<", Bin("+", "a", "b"), Bin("*", "c", "d"))),
        ("a != -b", Bin("!=", "a", A.UnaryOp("-", N("b")))),
        ("x >> f >> g", Bin(">>", Bin(">>", "x", "f"), "g")),
        ("x + y >> f", Bin(">>", Bin("+", "x", "y"), "f")),
        ("x >> a < b", Bin(">>", "x", Bin("<", "a", "b"))),
        ("x >> f(1)(2)", Bin(">>", "x", Call(Call("f", Pos(1)), Pos(2)))),
        ("h[t-1] ** 2", Bin("**", Ix("h", T_1), 2)),
        ("f(x) ** g(y)", Bin("**", Call("f", Pos("x")), Call("g", Pos("y")))),
        ("(((a)))", N("a")),
    ],
)
def test_precedence(text, tree):
    assert expr(text) == tree


def test_comparisons_do_not_chain():
    with pytest.raises(SpecErrors):
        expr("a < b < c")


# ---------------------------------------------------------------- spans


def test_spans():
    text = (
        "# comment\n"
        "cell LSTM(units: int) {\n"
        "    input  x: [in]\n"
        "    h[t] = tanh(W @ x[t]) +\n"
        "        b\n"
        "    output h\n"
        "}\n"
    )
    module = parse(text, "specs/lstm.rnn")
    cell = module.items[0]
    inp, eq, out = cell.body
    S = A.Span
    assert module.span == S("specs/lstm.rnn", 2, 1, 7, 2)
    assert cell.span == S("specs/lstm.rnn", 2, 1, 7, 2)
    assert str(cell.span) == "specs/lstm.rnn:2:1"
    assert cell.name.span == S("specs/lstm.rnn", 2, 6, 2, 10)
    assert cell.hparams[0].span == S("specs/lstm.rnn", 2, 11, 2, 21)
    assert inp.span == S("specs/lstm.rnn", 3, 5, 3, 19)
    assert inp.shape.span == S("specs/lstm.rnn", 3, 15, 3, 19)
    assert inp.shape.dims[0].span == S("specs/lstm.rnn", 3, 16, 3, 18)
    assert eq.span == S("specs/lstm.rnn", 4, 5, 5, 10)
    assert eq.targets[0].span == S("specs/lstm.rnn", 4, 5, 4, 9)
    assert eq.value.span == S("specs/lstm.rnn", 4, 12, 5, 10)
    call = eq.value.left
    assert call.span == S("specs/lstm.rnn", 4, 12, 4, 26)
    matmul = call.args[0].value
    assert matmul.span == S("specs/lstm.rnn", 4, 17, 4, 25)
    assert matmul.right.span == S("specs/lstm.rnn", 4, 21, 4, 25)
    assert matmul.right.index.span == S("specs/lstm.rnn", 4, 23, 4, 24)
    assert eq.value.right.span == S("specs/lstm.rnn", 5, 9, 5, 10)
    assert out.span == S("specs/lstm.rnn", 6, 5, 6, 13)
    assert out.names[0].span == S("specs/lstm.rnn", 6, 12, 6, 13)


def test_span_of_the_last_statement_without_a_newline():
    (eq,) = parse("network N {\n  y = x >> f }", "n.rnn").items[0].body
    assert eq.span == A.Span("n.rnn", 2, 3, 2, 13)


def test_spans_count_a_tab_as_one_column():
    (eq,) = parse("cell A {\n\th[t] = x[t]\n}\n", "tab.rnn").items[0].body
    assert eq.value.span == A.Span("tab.rnn", 2, 9, 2, 13)


def test_every_node_has_a_span_in_its_file():
    module = parse(
        'import "x.rnn"\ncell A(u: int = 1) over tree solver euler(step=0.1) {\n "d"\n input x: [u]\n'
        " param W: [u, u] ~ normal(0, 1) fixed constrain clip(-1, 1)\n state s: [u] = 0\n"
        " h[n] = sum(W @ h[k] for k in children(n)) ** 2\n d/dt s = -s\n output h\n}\n"
        "network B {\n input w: seq[int]\n y = w >> A(3)\n output y\n}\n",
        "all.rnn",
    )
    nodes = list(A.walk(module))
    assert len(nodes) > 60
    for node in nodes:
        assert node.span.file == "all.rnn", node
        assert node.span.line >= 1 and node.span.column >= 1, node
        assert (node.span.end_line, node.span.end_column) > (node.span.line, node.span.column), node


# ---------------------------------------------------------------- the table of common mistakes


def test_every_example_of_the_mistake_table_names_its_mistake():
    table = _mistakes()
    assert len(mistake_catalogue()) >= 12
    for mistake in mistake_catalogue():
        for example in mistake.examples:
            key = _failure_key(example)
            assert key is not None, f"{example!r} parses: it is no example of a mistake"
            assert table[key] == mistake, f"{example!r} is taken by another entry"


MISTAKES = [
    (
        "cell A(units: int) {\n    input x = [in]\n}\n",
        """\
error[E0103]: `=` where a declaration needs `:`
  --> m.rnn:2:13
   |
 2 |     input x = [in]
   |             ^ write `:` before a shape
   = note: declarations give shapes with `:`, as in `input x: [in]`

1 error found""",
    ),
    (
        "network N {\n    input words = seq[int]\n}\n",
        """\
error[E0103]: `=` where a network input needs `:`
  --> m.rnn:2:17
   |
 2 |     input words = seq[int]
   |                 ^ write `:` before a type
   = note: network inputs give types with `:`, as in `input words: seq[int]`

1 error found""",
    ),
    (
        "cell A {\n    h[t]: tanh(x[t])\n}\n",
        """\
error[E0104]: equations use `=`, not `:`
  --> m.rnn:2:9
   |
 2 |     h[t]: tanh(x[t])
   |         ^ write `=`
   = note: an equation reads `h[t] = tanh(W @ x[t])`

1 error found""",
    ),
    (
        "cell A {\n    h[t] = x[] + 1\n}\n",
        """\
error[E0105]: empty index
  --> m.rnn:2:14
   |
 2 |     h[t] = x[] + 1
   |              ^ write a time index such as `[t]` or `[t-1]`

1 error found""",
    ),
    (
        "cell A(units, depth: int) {\n}\n",
        """\
error[E0106]: hyperparameter `units` has no type
  --> m.rnn:1:13
   |
 1 | cell A(units, depth: int) {
   |             ^ write `units: int` (or float, bool, str)
   = note: a hyperparameter reads `units: int = 128`

1 error found""",
    ),
    (
        "cell LSTM units: int {\n    input x: [in]\n    h[t] = x[t]\n    output h\n}\n",
        """\
error[E0107]: a cell or network needs a name and a body
  --> m.rnn:1:11
   |
 1 | cell LSTM units: int {
   |           ^^^^^ expected a name, then `(...)` or `{`
   = note: `cell Elman(units: int) { ... }`

1 error found""",
    ),
    (
        "cell A {\n    h[t] = W x[t]\n}\n",
        """\
error[E0108]: missing operator between `W` and `x`
  --> m.rnn:2:14
   |
 2 |     h[t] = W x[t]
   |              ^ an operator is missing before this
   = note: write `W @ x` for a matrix product, `W * x` for an element-wise one

1 error found""",
    ),
    (
        "cell A {\n    h = tanh(x[t])\n}\n",
        """\
error[E0109]: equation for `h` has no time index
  --> m.rnn:2:7
   |
 2 |     h = tanh(x[t])
   |       ^ write `h[t] =`
   = note: a cell's equations define values at a step: `h[t] = ...`

1 error found""",
    ),
    (
        "cell A {\n    h[t] = x[t]\n    output h[t]\n}\n",
        """\
error[E0111]: `output` takes names, not indexed values
  --> m.rnn:3:13
   |
 3 |     output h[t]
   |             ^ remove the index
   = note: write `output h`

1 error found""",
    ),
    (
        "import cells\n",
        """\
error[E0112]: an import takes a quoted path
  --> m.rnn:1:8
   |
 1 | import cells
   |        ^^^^^ write `import "path/file.rnn"`

1 error found""",
    ),
    (
        "network N {\n    input x: [32]\n}\n",
        """\
error[E0113]: a network input needs a kind
  --> m.rnn:2:14
   |
 2 |     input x: [32]
   |              ^ write `seq[...]`, `vec[...]`, `tree[...]` or `grid[...]`
   = note: `input x: seq[32]` is a sequence of 32-vectors; `seq[int]` one of tokens

1 error found""",
    ),
    (
        "cell A solver euler {\n    d/dt y[t] = -y\n}\n",
        """\
error[E0114]: a continuous state has no index after `d/dt`
  --> m.rnn:2:11
   |
 2 |     d/dt y[t] = -y
   |           ^ write `d/dt y = ...`
   = note: `d/dt y = -y + I[t]`: the solver steps y from t to t+1

1 error found""",
    ),
    (
        "cell A(u: int) {\n    input x: [u]\n    every 2 {\n    }\n    h[t] = x[t]\n    output h\n}\n",
        """\
error[E0122]: a schedule block holds equations, and this one has none
  --> m.rnn:4:5
   |
 4 |     }
   |     ^ the block ends here
   = note: `every 4 { h[t] = ... }` computes each equation of the block every 4 steps

1 error found""",
    ),
    (
        "cell A(u: int) {\n    input x: [u]\n    every 2 {\n        param W: [u, u]\n        h[t] = W @ x[t]\n    }\n"
        "    output h\n}\n",
        """\
error[E0122]: a schedule block holds equations only
  --> m.rnn:4:9
   |
 4 |         param W: [u, u]
   |         ^^^^^ `param` cannot stand in a block
   = note: a declaration stands before the block
   = note: blocks do not nest: an equation has one schedule

1 error found""",
    ),
    (
        "cell A(u: int) {\n    input x: [u]\n    when sum(x[t]) > 0 {\n        every 3 {\n            h[t] = x[t]\n        }\n"
        "        y[t] = h[t]\n    }\n    output y\n}\n",
        """\
error[E0122]: a schedule block holds equations only
  --> m.rnn:4:9
   |
 4 |         every 3 {
   |         ^^^^^ `every` cannot stand in a block
   = note: a declaration stands before the block
   = note: blocks do not nest: an equation has one schedule

1 error found""",
    ),
]


def test_every_entry_of_the_mistake_table_has_a_test():
    headlines = [expected.split("\n", 1)[0] for _, expected in MISTAKES]
    for code, message, *_ in mistake_catalogue():
        pattern = re.escape(f"error[{code}]: {message}").replace(r"\{prev\}", ".+").replace(r"\{tok\}", ".+")
        assert [h for h in headlines if re.fullmatch(pattern, h)], f"no test for {code}: {message}"


@pytest.mark.parametrize("text, expected", MISTAKES, ids=[e[6:11] for _, e in MISTAKES])
def test_mistake(text, expected):
    assert errors(text) == expected


# ---------------------------------------------------------------- lexical errors

LEXICAL = [
    (
        "unterminated-string",
        'cell A {\n    h[t] = f("abc)\n}\n',
        """\
error[E0116]: unterminated string
  --> m.rnn:2:14
   |
 2 |     h[t] = f("abc)
   |              ^ this string is never closed
   = note: a string ends on the line it starts; `\"\"\"` strings may span lines

1 error found""",
    ),
    (
        "unterminated-string-at-the-end-of-an-equation",  # the statement would go on after `=`
        'cell A {\n    h[t] = "abc\n    y[t] = h[t]\n}\n',
        """\
error[E0116]: unterminated string
  --> m.rnn:2:12
   |
 2 |     h[t] = "abc
   |            ^ this string is never closed
   = note: a string ends on the line it starts; `\"\"\"` strings may span lines

1 error found""",
    ),
    (
        "unterminated-triple-quoted-string",  # the rest of the file is inside it
        '"""Standard cells.\n\nThey are "standard".\ncell A {\n}\n',
        """\
error[E0116]: unterminated string
  --> m.rnn:1:1
   |
 1 | \"\"\"Standard cells.
   | ^^^ this string is never closed
   = note: a `\"\"\"` string ends at the next `\"\"\"`

1 error found""",
    ),
    (
        "minus-sign",
        "cell A {\n    h[t] = x[t] \u2212 h[t\u22121]\n}\n",
        """\
error[E0117]: `\u2212` (minus sign) is not an rnndsl operator
  --> m.rnn:2:17
   |
 2 |     h[t] = x[t] \u2212 h[t\u22121]
   |                 ^ write `-`

error[E0117]: `\u2212` (minus sign) is not an rnndsl operator
  --> m.rnn:2:22
   |
 2 |     h[t] = x[t] \u2212 h[t\u22121]
   |                      ^ write `-`

2 errors found""",
    ),
    (
        "multiplication-sign",
        "cell A {\n    h[t] = W \u00d7 x[t]\n}\n",
        """\
error[E0117]: `\u00d7` (multiplication sign) is not an rnndsl operator
  --> m.rnn:2:14
   |
 2 |     h[t] = W \u00d7 x[t]
   |              ^ write `*`

1 error found""",
    ),
    (
        "sigma",
        "cell A {\n    h[t] = \u03c3(x[t])\n}\n",
        """\
error[E0117]: `\u03c3` (greek small letter sigma) is not an rnndsl operator
  --> m.rnn:2:12
   |
 2 |     h[t] = \u03c3(x[t])
   |            ^ write `sigmoid`

1 error found""",
    ),
    (
        "caret",
        "cell A {\n    h[t] = x[t] ^ 2\n}\n",
        """\
error[E0118]: `^` is not an operator
  --> m.rnn:2:17
   |
 2 |     h[t] = x[t] ^ 2
   |                 ^ write `**` for a power
   = note: `x ** 2` squares x element-wise

1 error found""",
    ),
    (
        "semicolon",
        "cell A {\n    h[t] = x[t];\n}\n",
        """\
error[E0119]: `;` does not end a statement
  --> m.rnn:2:16
   |
 2 |     h[t] = x[t];
   |                ^ remove it
   = note: a statement ends at the end of its line

1 error found""",
    ),
    (
        "single-quote",
        "import 'std/cells.rnn'\n",
        """\
error[E0116]: strings use double quotes
  --> m.rnn:1:8
   |
 1 | import 'std/cells.rnn'
   |        ^ write `"`

1 error found""",
    ),
    (
        "unexpected-character",
        "cell A {\n    h[t] = x[t] ? 1 : 0\n}\n",
        """\
error[E0115]: unexpected character `?`
  --> m.rnn:2:17
   |
 2 |     h[t] = x[t] ? 1 : 0
   |                 ^ not part of the language

1 error found""",
    ),
    (
        "unprintable-character",
        "cell A {\n    h[t] = x[t] +\x1b 1\n}\n",
        """\
error[E0115]: unexpected character `U+001B`
  --> m.rnn:2:18
   |
 2 |     h[t] = x[t] +? 1
   |                  ^ not part of the language

1 error found""",
    ),
    (
        "tabs-expand-under-the-caret",
        "cell A {\n\th[t] = x[t] ^ 2\n}\n",
        """\
error[E0118]: `^` is not an operator
  --> m.rnn:2:14
   |
 2 |     h[t] = x[t] ^ 2
   |                 ^ write `**` for a power
   = note: `x ** 2` squares x element-wise

1 error found""",
    ),
]


@pytest.mark.parametrize("text, expected", [c[1:] for c in LEXICAL], ids=[c[0] for c in LEXICAL])
def test_lexical_error(text, expected):
    assert errors(text) == expected


def test_a_bad_character_does_not_stop_lexing():
    parsed = parse_file("cell A {\n    h[t] = x[t] $ 2\n    y[t] = h[t]; \n}\n", "m.rnn")
    assert [(e.code, e.span.line, e.span.column) for e in parsed.errors] == [("E0115", 2, 17), ("E0119", 3, 16)]
    assert parsed.module is None


# ---------------------------------------------------------------- brackets and braces

BRACKETS = [
    (
        "unclosed-brace-at-end-of-file",
        "cell A(units: int) {\n    input x: [in]\n    h[t] = tanh(W @ x[t])\n",
        """\
error[E0102]: unclosed `{`
  --> m.rnn:1:20
   |
 1 | cell A(units: int) {
   |                    ^ this `{` is never closed
   = note: add `}` at the end of the block

1 error found""",
    ),
    (
        "unclosed-brace-as-the-last-character",
        "cell A {",
        """\
error[E0102]: unclosed `{`
  --> m.rnn:1:8
   |
 1 | cell A {
   |        ^ this `{` is never closed
   = note: add `}` at the end of the block

1 error found""",
    ),
    (
        "unclosed-brace-before-a-new-cell",
        "cell A {\n    h[t] = tanh(W @ x[t])\n\ncell B {\n    output h\n}\n",
        """\
error[E0102]: `cell` inside a block: a `}` is missing
  --> m.rnn:4:1
   |
 4 | cell B {
   | ^^^^ `cell` starts a new item
   = note: the `{` at m.rnn:1:8 is never closed

1 error found""",
    ),
    (
        "unclosed-brace-before-a-network",
        "cell A {\n    h[t] = x[t]\nnetwork N {\n    input x: seq[3]\n}\n",
        """\
error[E0102]: `network` inside a block: a `}` is missing
  --> m.rnn:3:1
   |
 3 | network N {
   | ^^^^^^^ `network` starts a new item
   = note: the `{` at m.rnn:1:8 is never closed

1 error found""",
    ),
    (
        "unclosed-paren",
        "cell A {\n    h[t] = tanh(W @ x[t]\n    output h\n}\n",
        """\
error[E0110]: unclosed `(`
  --> m.rnn:2:16
   |
 2 |     h[t] = tanh(W @ x[t]
   |                ^ this `(` is never closed
   = note: add `)`; the statement ran on to line 3

1 error found""",
    ),
    (
        "unclosed-paren-at-the-closing-brace",
        "cell A {\n    h[t] = tanh(W @ x[t]\n}\n",
        """\
error[E0110]: unclosed `(`
  --> m.rnn:2:16
   |
 2 |     h[t] = tanh(W @ x[t]
   |                ^ this `(` is never closed
   = note: add `)`; the statement ran on to line 3

1 error found""",
    ),
    (
        "unclosed-bracket",
        "cell A {\n    input x: [in\n    output h\n}\n",
        """\
error[E0110]: unclosed `[`
  --> m.rnn:2:14
   |
 2 |     input x: [in
   |              ^ this `[` is never closed
   = note: add `]`; the statement ran on to line 3

1 error found""",
    ),
    (
        "unmatched-brace",
        "cell A {\n    h[t] = x[t]\n    }\n}\n",
        """\
error[E0120]: unmatched `}`
  --> m.rnn:4:1
   |
 4 | }
   | ^ no `{` is open here

1 error found""",
    ),
]


@pytest.mark.parametrize("text, expected", [c[1:] for c in BRACKETS], ids=[c[0] for c in BRACKETS])
def test_bracket_error(text, expected):
    assert errors(text) == expected


# ---------------------------------------------------------------- generic syntax errors

GENERIC = [
    (
        "two-operators",
        "cell A {\n    h[t] = x[t] +* 2\n}\n",
        """\
error[E0101]: unexpected `*`
  --> m.rnn:2:18
   |
 2 |     h[t] = x[t] +* 2
   |                  ^ not expected here
   = note: expected one of `(`, `+` or `-`, `[`, `in`, a name, a number, a string

1 error found""",
    ),
    (
        "operator-at-the-start-of-a-line",
        "cell A {\n    h[t] = x[t]\n        + b\n}\n",
        """\
error[E0101]: unexpected `+`
  --> m.rnn:3:9
   |
 3 |         + b
   |         ^ not expected here
   = note: expected one of `d/dt`, `every`, `input`, `output`, `param`, `state`, `when`, `}`, a name

1 error found""",
    ),
    (
        "header-without-a-body",
        "cell A(units: int)\n",
        """\
error[E0101]: unexpected end of line
  --> m.rnn:1:19
   |
 1 | cell A(units: int)
   |                   ^ not expected here
   = note: expected one of `over`, `solver`, `{`

1 error found""",
    ),
    (
        "chained-comparison",
        "cell A {\n    h[t] = a < b < c\n}\n",
        """\
error[E0101]: unexpected `<`
  --> m.rnn:2:18
   |
 2 |     h[t] = a < b < c
   |                  ^ not expected here
   = note: expected one of `)`, `+` or `-`, `,`, `>>`, `]`, `constrain`, `every`, `fit`, `fixed`, `for`, ...

1 error found""",
    ),
    (
        "colon-does-not-continue-a-line",
        "cell A {\n    param W:\n        [3]\n}\n",
        """\
error[E0101]: unexpected end of line
  --> m.rnn:2:13
   |
 2 |     param W:
   |             ^ not expected here
   = note: expected `[`

error[E0101]: unexpected `[`
  --> m.rnn:3:9
   |
 3 |         [3]
   |         ^ not expected here
   = note: expected one of `d/dt`, `every`, `input`, `output`, `param`, `state`, `when`, `}`, a name, a string

2 errors found""",
    ),
]


@pytest.mark.parametrize("text, expected", [c[1:] for c in GENERIC], ids=[c[0] for c in GENERIC])
def test_generic_syntax_error(text, expected):
    assert errors(text) == expected


# ---------------------------------------------------------------- several errors in one file

SEVERAL = '''\
"""A file with several mistakes."""
import "std/cells.rnn"

cell Elman(units: int) {
    input x: [in]
    param W: [units, in] ~ glorot_uniform
    h[t] = tanh(W @ x[t] + U @ h[t-1]) ^ 2
    output h
}

cell Broken(units) {
    input x = [in]
    param W: [units, in]
    h[t] = tanh(W x[t])
    output h
}

network Net(units: int = 8) {
    input  words: seq[int]
    emb  = Embedding(1000, 32)(words)
    deep = emb >> >> Elman(units)
    last = Elman(units, returns=last)(deep
    output Dense(3)(deep) \u00d7 2
}
'''


def test_several_errors_are_all_reported_in_source_order():
    assert errors(SEVERAL) == """\
error[E0118]: `^` is not an operator
  --> m.rnn:7:40
   |
 7 |     h[t] = tanh(W @ x[t] + U @ h[t-1]) ^ 2
   |                                        ^ write `**` for a power
   = note: `x ** 2` squares x element-wise

error[E0106]: hyperparameter `units` has no type
   --> m.rnn:11:18
    |
 11 | cell Broken(units) {
    |                  ^ write `units: int` (or float, bool, str)
    = note: a hyperparameter reads `units: int = 128`

error[E0103]: `=` where a declaration needs `:`
   --> m.rnn:12:13
    |
 12 |     input x = [in]
    |             ^ write `:` before a shape
    = note: declarations give shapes with `:`, as in `input x: [in]`

error[E0108]: missing operator between `W` and `x`
   --> m.rnn:14:19
    |
 14 |     h[t] = tanh(W x[t])
    |                   ^ an operator is missing before this
    = note: write `W @ x` for a matrix product, `W * x` for an element-wise one

error[E0101]: unexpected `>>`
   --> m.rnn:21:19
    |
 21 |     deep = emb >> >> Elman(units)
    |                   ^^ not expected here
    = note: expected one of `(`, `+` or `-`, `[`, `in`, a name, a number, a string

error[E0110]: unclosed `(`
   --> m.rnn:22:38
    |
 22 |     last = Elman(units, returns=last)(deep
    |                                      ^ this `(` is never closed
    = note: add `)`; the statement ran on to line 23

error[E0117]: `\u00d7` (multiplication sign) is not an rnndsl operator
   --> m.rnn:23:27
    |
 23 |     output Dense(3)(deep) \u00d7 2
    |                           ^ write `*`

7 errors found"""


def test_the_good_statements_of_a_broken_file_parse():
    parsed = parse_file(SEVERAL, "m.rnn")
    assert parsed.module is None
    assert sorted(e.span.line for e in parsed.errors) == [7, 11, 12, 14, 21, 22, 23]
    # Only the reported lines are wrong: with them mended, the untouched rest parses.
    mended = {
        7: "    h[t] = tanh(W @ x[t] + U @ h[t-1]) ** 2",
        11: "cell Broken(units: int) {",
        12: "    input x: [in]",
        14: "    h[t] = tanh(W @ x[t])",
        21: "    deep = emb >> Elman(units)",
        22: "    last = Elman(units, returns=last)(deep)",
        23: "    output Dense(3)(deep) * 2",
    }
    lines = SEVERAL.splitlines()
    text = "\n".join(mended.get(n, line) for n, line in enumerate(lines, 1))
    module = parse(text, "mended.rnn")
    assert [(i.name.id, len(i.body)) for i in module.items[1:]] == [("Elman", 4), ("Broken", 4), ("Net", 5)]


# ---------------------------------------------------------------- recovery


def _codes(text: str) -> list:
    with pytest.raises(SpecErrors) as info:
        parse(text, "r.rnn")
    return [(e.code, e.span.line, e.span.column) for e in info.value.errors]


def test_a_broken_header_does_not_hide_or_spoil_its_body():
    text = "cell LSTM units: int {\n    input x = [in]\n    h[t] = x[t]\n    output h\n}\ncell B {\n    h = 1\n}\n"
    assert _codes(text) == [("E0107", 1, 11), ("E0103", 2, 13), ("E0109", 7, 7)]


def test_a_missing_brace_does_not_hide_the_next_items_errors():
    text = "cell A {\n    h[t] = x[t]\ncell B(u) {\n    h[t] = x[t] +* 1\n    output h\n}\n"
    assert _codes(text) == [("E0102", 3, 1), ("E0106", 3, 9), ("E0101", 4, 18)]


def test_at_most_twenty_errors_are_reported():
    text = "cell A {\n" + "    h[t] = x[t] +* 1\n" * 30 + "}\n"
    codes = _codes(text)
    assert len(codes) == 20
    assert codes[0] == ("E0101", 2, 18) and codes[-1] == ("E0101", 21, 18)


def test_parse_file_collects_errors_instead_of_raising():
    parsed = parse_file("cell A {\n    h[t] = x[t] ^ 2\n}\n", "p.rnn")
    assert parsed.module is None
    assert [type(e).__name__ for e in parsed.errors] == ["SpecSyntaxError"]
    assert all(isinstance(e, RnnDslError) for e in parsed.errors)
    good = parse_file("cell A {\n}\n", "p.rnn")
    assert good.errors == () and good.module == A.Module((A.Cell(N("A")),))


def test_parsing_is_linear_in_the_length_of_the_file():
    # A deep copy of the parser's stack at every statement once made a 1,000-line file take 30 s.
    import time

    cell = "cell C{i} {{\n    input x: [in]\n" + "    h[t] = tanh(W @ x[t] + U @ h[t-1] + b)\n" * 20 + "}}\n"
    text = "".join(cell.format(i=i) for i in range(40))  # 920 lines: about 1 s
    started = time.perf_counter()
    module = parse(text)
    assert len(module.cells) == 40
    assert time.perf_counter() - started < 8


# ---------------------------------------------------------------- limits


def test_only_ascii_digits_make_numbers():
    # `\d` would take U+0663 ARABIC-INDIC DIGIT THREE for a 3.
    assert _codes("cell A(u: int = \u0663) {\n}\n") == [("E0115", 1, 17)]


@pytest.mark.parametrize("number, message", [
    ("9" * 5000, "the integer `999999999999…9999` is too large"),
    ("9223372036854775808", "the integer `9223372036854775808` is too large"),
    ("1e400", "the number `1e400` is too large for a float"),
    ("1" + "0" * 400 + ".0", "the number `100000000000…00.0` is too large for a float"),
    ("1e-99999999", "the number `1e-99999999` is too small for a float"),
])
def test_a_number_out_of_range_is_an_error(number, message):
    parsed = parse_file("cell A(u: float = " + number + ") {\n}\n", "big.rnn")
    (error,) = parsed.errors
    assert error.code == "E0121" and error.message == message
    assert error.label == "integers are at most 9223372036854775807, floats at most about 1.8e308"


def test_the_largest_numbers_in_range_are_numbers():
    parsed = parse_file("cell A(u: int = 9223372036854775807, v: float = 1.7e308, w: float = 1e-400) {\n}\n")
    assert not parsed.errors
    assert [h.default.value for h in parsed.module.items[0].hparams] == [2**63 - 1, 1.7e308, 0.0]


@pytest.mark.parametrize(
    "expression",
    ["-" * 300 + "x", "a + " * 300 + "a", "a ** " * 300 + "a", "f(" * 100 + "x" + ")" * 100],
    ids=["unary", "sum", "power", "calls"],
)
def test_an_expression_nested_too_deeply_is_an_error(expression):
    parsed = parse_file("cell A {\n    h[t] = " + expression + "\n}\n", "deep.rnn")
    assert parsed.module is None
    (error,) = parsed.errors
    assert (error.code, error.message, error.span.line) == ("E0101", "expression nested too deeply", 2)
    assert error.notes == ["name parts of it with equations of their own"]


def test_deep_but_reasonable_nesting_parses():
    assert parse("cell A {\n    h[t] = " + "-" * 150 + "x + " + "(" * 500 + "y" + ")" * 500 + "\n}\n")
    assert parse("cell A {\n    h[t] = " + "f(" * 40 + "x" + ")" * 40 + "\n}\n")
