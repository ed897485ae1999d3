"""Tests of `rnndsl.lang.fmt`: the canonical layout, comments, blank lines, parentheses,
round trips (formatted text parses to an equal AST) and idempotence."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnndsl.lang import ast as A
from rnndsl.lang.errors import SpecErrors
from rnndsl.lang.fmt import check, format_expr, format_text
from rnndsl.lang.parse import parse, parse_file

ROOT = Path(__file__).resolve().parent.parent


def dedent(s: str) -> str:
    return textwrap.dedent(s).lstrip("\n")


def fmt(s: str) -> str:
    return format_text(dedent(s))


def assert_formats(source: str, expected: str) -> None:
    """`source` formats to `expected`, which is a fixed point and parses to the same AST."""
    got = fmt(source)
    expected = dedent(expected)
    assert got == expected
    assert format_text(got) == got
    assert parse(got) == parse(dedent(source))


def net_expr(expr: str) -> str:
    """The formatted text of `expr`, written as a network binding."""
    out = format_text(f"network N {{\n    v = {expr}\n}}\n")
    prefix, suffix = "network N {\n    v = ", "\n}\n"
    assert out.startswith(prefix) and out.endswith(suffix), out
    return out[len(prefix):-len(suffix)]


# ---------------------------------------------------------------- constructs


def test_cell_with_every_declaration():
    assert_formats(
        """
        cell   LSTM( units :int,forget_bias: float=1.0 ){
          input  x,y : [ in ]
          param  W_i,W_f :[units,in]~glorot_uniform fixed constrain positive,max_norm( 3 )
          param  b : [ units ]= 0
          param  V
          param  U: [units, units] ~ orthogonal()
          param  R ~ reservoir(density = 0.1, spectral_radius=0.9) fixed
          state  c : [units]=0
          state  m
          state  z: [2 * units]
          i[t]=sigmoid(W_i@x[t]+U@h[ t - 1 ]+b)
          a[ t ] ,b2[t]=split( z[t],2 )
          output  h ,c
        }
        """,
        """
        cell LSTM(units: int, forget_bias: float = 1.0) {
            input x, y: [in]
            param W_i, W_f: [units, in] ~ glorot_uniform fixed constrain positive, max_norm(3)
            param b: [units] = 0
            param V
            param U: [units, units] ~ orthogonal
            param R ~ reservoir(density=0.1, spectral_radius=0.9) fixed
            state c: [units] = 0
            state m
            state z: [2*units]
            i[t] = sigmoid(W_i @ x[t] + U @ h[t-1] + b)
            a[t], b2[t] = split(z[t], 2)
            output h, c
        }
        """,
    )


def test_cell_header_forms():
    assert_formats(
        """
        cell A() {
        }
        cell B over tree {
        }
        cell C(dt: float = 0.1) solver euler {
        }
        cell D(units: int) solver rk4( step = 0.05 ) {
        }
        cell E(name: str = "x", on: bool = true, k: int = -1) over tree solver euler(step=dt) {
        }
        """,
        """
        cell A {
        }

        cell B over tree {
        }

        cell C(dt: float = 0.1) solver euler {
        }

        cell D(units: int) solver rk4(step=0.05) {
        }

        cell E(name: str = "x", on: bool = true, k: int = -1) over tree solver euler(step=dt) {
        }
        """,
    )


def test_one_line_cell_is_opened():
    assert_formats("cell A { input x: [3]\n output x }", "cell A {\n    input x: [3]\n    output x\n}\n")
    assert_formats("cell A {}", "cell A {\n}\n")


def test_ode_and_constraints():
    assert_formats(
        """
        cell CTRNN(units: int, dt: float = 0.1) solver rk4 {
            input I: [units]
            param tau: [units] = 1 constrain positive
            param W: [units, units] constrain clip(-1, 1), unit_norm
            d/dt   y=(-y+W@sigmoid(y-theta)+I[t])/tau
            output y
        }
        """,
        """
        cell CTRNN(units: int, dt: float = 0.1) solver rk4 {
            input I: [units]
            param tau: [units] = 1 constrain positive
            param W: [units, units] constrain clip(-1, 1), unit_norm
            d/dt y = (-y + W @ sigmoid(y - theta) + I[t]) / tau
            output y
        }
        """,
    )


def test_tree_cell_generator():
    assert_formats(
        """
        cell TreeLSTM(units: int) over tree {
            input x: [in]
            h_sum[n] = sum( h[k]  for  k  in  children( n ) )
            c[n] = i[n] * u[n] + sum(f[k]*c[k] for k in children(n))
            output h
        }
        """,
        """
        cell TreeLSTM(units: int) over tree {
            input x: [in]
            h_sum[n] = sum(h[k] for k in children(n))
            c[n] = i[n] * u[n] + sum(f[k] * c[k] for k in children(n))
            output h
        }
        """,
    )


def test_memory_functions_and_keywords():
    assert_formats(
        """
        cell NTM(N: int, W: int) {
            input x: [in]
            M[t] = M[t-1] * (1 - outer(w[t], e[t])) + outer(w[t], a[t])
            w[t] = softmax(beta * cosine(M[t-1], k[t]), axis = -1)
            s[t] = circular_conv(w[t], g[t])
            y[t] = einsum( "ij,j->i" , M[t], w[t] )
            z[t] = where(m[t] > 0.5, y[t], z[t-1])
            output y
        }
        """,
        """
        cell NTM(N: int, W: int) {
            input x: [in]
            M[t] = M[t-1] * (1 - outer(w[t], e[t])) + outer(w[t], a[t])
            w[t] = softmax(beta * cosine(M[t-1], k[t]), axis=-1)
            s[t] = circular_conv(w[t], g[t])
            y[t] = einsum("ij,j->i", M[t], w[t])
            z[t] = where(m[t] > 0.5, y[t], z[t-1])
            output y
        }
        """,
    )


def test_network():
    assert_formats(
        """
        import  "std/cells.rnn"
        network Tagger(vocab: int = 10000,tags: int = 17, units: int = 256) {
          input  words : seq[ int ]
          input  a, b: grid[H, W, 2 * units]
          emb  = Embedding(vocab,128)(words)
          ctx  = Bidirectional(LSTM(units),merge=concat)(emb)
          deep = ctx>>Stack(GRU(units),depth=2)>>Dropout(0.5)
          l, r = Split()(deep)
          output Dense(tags, activation=softmax)(deep) , ctx
        }
        """,
        """
        import "std/cells.rnn"

        network Tagger(vocab: int = 10000, tags: int = 17, units: int = 256) {
            input words: seq[int]
            input a, b: grid[H, W, 2*units]
            emb = Embedding(vocab, 128)(words)
            ctx = Bidirectional(LSTM(units), merge=concat)(emb)
            deep = ctx >> Stack(GRU(units), depth=2) >> Dropout(0.5)
            l, r = Split()(deep)
            output Dense(tags, activation=softmax)(deep), ctx
        }
        """,
    )


def test_continuation_lines_are_joined():
    assert_formats(
        """
        cell A {
            h[t] = tanh(W @ x[t] +
                        U @ h[t-1]
                        + b)
            param W: [3,
                      4]
            c[t] = a[t] *
                b[t]
        }
        """,
        """
        cell A {
            h[t] = tanh(W @ x[t] + U @ h[t-1] + b)
            param W: [3, 4]
            c[t] = a[t] * b[t]
        }
        """,
    )


@pytest.mark.parametrize("written", ["1.0", "1.", ".5", "1e-3", "2.5E+04", "007", "0", "10000"])
def test_numbers_are_kept_as_written(written):
    assert net_expr(written) == written
    assert net_expr(f"x * {written}") == f"x * {written}"


def test_strings_are_requoted():
    src = 'network N {\n    v = f("a\\"b", "back\\\\slash", "tab\\tx", "nl\\ny")\n}\n'
    assert format_text(src) == src
    value = parse(src).networks[0].body[0].value
    assert [a.value.value for a in value.args] == ['a"b', "back\\slash", "tab\tx", "nl\ny"]
    # An unknown escape keeps its backslash in the value: the backslash is escaped.
    assert net_expr('"\\q"') == '"\\\\q"'
    # A raw tab is printed escaped; a triple-quoted string that is not a docstring on one line.
    assert net_expr('f("a\tb")') == 'f("a\\tb")'
    assert net_expr('f("""x\ny""")') == 'f("x\\ny")'


def test_docstrings():
    assert_formats(
        '''
        """The module.

        Two paragraphs."""
        cell A {
        "One line, \\"quoted\\"."
            output h
        }
        network N {
            """Several
        lines \\\\ here."""
            output x
        }
        ''',
        '''
        """The module.

        Two paragraphs."""

        cell A {
            "One line, \\"quoted\\"."
            output h
        }

        network N {
            """Several
        lines \\\\ here."""
            output x
        }
        ''',
    )


def test_docstring_with_trailing_blanks_on_a_line_is_escaped():
    # Triple quotes would leave trailing whitespace on a line: \n escapes instead.
    src = '"""first   \nsecond"""\n'
    out = format_text(src)
    assert out == '"first   \\nsecond"\n'
    assert parse(out) == parse(src)
    assert parse(out).doc == "first   \nsecond"


def test_quotes_in_a_triple_quoted_docstring():
    # Escaped only where it would end the string: before two more quotes, and at the end.
    src = 'cell A {\n    """Import it with `import "std/cells.rnn"`.\n    Ends in a quote: "x\\""""\n}\n'
    assert format_text(src) == src
    assert parse(src).cells[0].doc == 'Import it with `import "std/cells.rnn"`.\n    Ends in a quote: "x"'
    out = format_text('"""a\n\\"\\"\\""""\n')
    assert out == '"""a\n""\\""""\n'
    assert parse(out).doc == 'a\n"""'


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet='a "\\\n\t#{}', max_size=12))
def test_random_docstrings_round_trip(doc):
    literal = format_expr(A.String(doc))  # a plain string; fmt prints it as a docstring
    out = format_text(f"{literal}\ncell A {{\n    {literal}\n    output h\n}}\n")
    module = parse(out)
    assert module.doc == doc and module.cells[0].doc == doc
    assert format_text(out) == out
    assert all(line == line.rstrip() for line in out.split("\n"))


def test_single_line_triple_quoted_docstring_uses_plain_quotes():
    assert format_text('cell A {\n    """Doc."""\n}\n') == 'cell A {\n    "Doc."\n}\n'


# ---------------------------------------------------------------- parentheses


@pytest.mark.parametrize(
    "written, expected",
    [
        # + - are left-associative
        ("(a - b) - c", "a - b - c"),
        ("a - (b - c)", "a - (b - c)"),
        ("a + (b + c)", "a + (b + c)"),
        ("a + (b - c)", "a + (b - c)"),
        ("((a))", "a"),
        # * / @ bind tighter than + -
        ("(a * b) + c", "a * b + c"),
        ("a * (b + c)", "a * (b + c)"),
        ("(a + b) * c", "(a + b) * c"),
        ("a / (b * c)", "a / (b * c)"),
        ("(a / b) * c", "a / b * c"),
        ("(W @ x) @ y", "W @ x @ y"),
        ("W @ (x @ y)", "W @ (x @ y)"),
        # an element-wise product in a matrix product, or the other way round, keeps its parentheses
        ("(M * U) @ h", "(M * U) @ h"),
        ("M * U @ h", "(M * U) @ h"),
        ("M / U @ h", "(M / U) @ h"),
        ("W @ x * g", "(W @ x) * g"),
        ("M * (U @ h)", "M * (U @ h)"),
        ("a * b * c", "a * b * c"),
        ("A @ B @ x", "A @ B @ x"),
        ("a * b / c", "a * b / c"),
        # unary
        ("-(a)", "-a"),
        ("-(a * b)", "-(a * b)"),
        ("(-a) * b", "-a * b"),
        ("a * (-b)", "a * -b"),
        ("a - (-b)", "a - -b"),
        ("-(-a)", "-(-a)"),
        ("- -a", "-(-a)"),
        ("+(-a)", "+(-a)"),
        ("-(a + b)", "-(a + b)"),
        # ** is right-associative and binds tighter than unary on its left only
        ("a ** (b ** c)", "a ** b ** c"),
        ("(a ** b) ** c", "(a ** b) ** c"),
        ("-(x ** 2)", "-x ** 2"),
        ("(-x) ** 2", "(-x) ** 2"),
        ("x ** (-2)", "x ** -2"),
        ("x ** -y ** 2", "x ** -y ** 2"),
        ("(a * b) ** 2", "(a * b) ** 2"),
        ("2 ** (a * b)", "2 ** (a * b)"),
        ("f(x) ** 2", "f(x) ** 2"),
        ("(x[t]) ** 2", "x[t] ** 2"),
        # comparisons do not chain, and are looser than arithmetic
        ("(a < b) == c", "(a < b) == c"),
        ("a == (b < c)", "a == (b < c)"),
        ("(a + 1) > (b * 2)", "a + 1 > b * 2"),
        ("a + (b > c)", "a + (b > c)"),
        # >> is the loosest, left-associative, and takes a comparison on its right
        ("(a >> b) >> c", "a >> b >> c"),
        ("a >> (b >> c)", "a >> (b >> c)"),
        ("a >> (b < c)", "a >> b < c"),
        ("(a >> b) < c", "(a >> b) < c"),
        ("(a >> b) + c", "(a >> b) + c"),
        # calls: the callee is a postfix expression
        ("(f)(x)", "f(x)"),
        ("(a + b)(x)", "(a + b)(x)"),
        ("(-a)(x)", "(-a)(x)"),
        ("(a ** b)(x)", "(a ** b)(x)"),
        ("(Dense(3))(x)", "Dense(3)(x)"),
        ("f((a + b), (c))", "f(a + b, c)"),
        ("f(x=(a >> b))", "f(x=a >> b)"),
        # an index is written tight, with its own parentheses
        ("x[(t - 1)]", "x[t-1]"),
        ("x[(t - 1) * 2]", "x[(t-1)*2]"),
        ("x[t - (1 - k)]", "x[t-(1-k)]"),
        ("x[-(-1)]", "x[-(-1)]"),
        ("x[t - -1]", "x[t--1]"),
        ("x[f(a + b, axis = 1)]", "x[f(a+b, axis=1)]"),
        # `d/dt` is a token: a tight `d/dt` keeps its spaces
        ("x[d / dt]", "x[d / dt]"),
        ("x[d / dtau]", "x[d / dtau]"),
        ("x[dd / dt]", "x[dd/dt]"),
        ("x[d / t]", "x[d/t]"),
    ],
)
def test_minimal_parentheses(written, expected):
    assert net_expr(written) == expected
    v = f"network N {{\n    v = {written}\n}}\n"
    assert parse(format_text(v)) == parse(v)


@pytest.mark.parametrize(
    "written",
    [
        "a - (b - (c - d))",
        "((a - b) - c) - d",
        "a / (b / c) / d",
        "-a ** -b ** -c",
        "(-a) ** (-b) ** (-c)",
        "((-a) ** b) ** c",
        "- - - a",
        "+-+-a",
        "-(a - b) * -(c + d) ** 2",
        "(a < b) == (c >= d)",
        "x >> (y >> z) >> (p < q)",
        "f(g(h(x)))(y)(z)",
        "(a + b)(c)(d)",
        "sum(h[k] ** 2 for k in children(n)) / (1 + mean(c[k] for k in children(n)))",
        "x[t-1] - x[(t - 1) - 1] + x[t - (1 - 1)]",
        "W @ (U @ (V @ x))",
        "2 * (3 * (4 * x))",
        '"s" + f("a", b="c")',
        "1e-3 * -.5 - 2.",
        "in * in",
        "d / dt / d / dt",
    ],
)
def test_tricky_expressions_round_trip(written):
    src = f"network N {{\n    v = {written}\n}}\ncell C {{\n    param W: [{written}]\n    h[{written}] = {written}\n}}\n"
    out = format_text(src)
    assert parse(out) == parse(src)
    assert format_text(out) == out


# Random expression trees: printed, parsed back, equal.

_NAMES = ["a", "b", "x", "W", "h", "d", "dt", "dtau", "in", "t", "k", "n", "sum", "f_1"]
_BINARY = ["+", "-", "*", "/", "@", "**", "<", "<=", ">", ">=", "==", "!=", ">>"]


def _exprs():
    names = st.sampled_from(_NAMES).map(A.Name)
    # `in` is a keyword that the grammar allows as an atom only: not indexed, not a keyword argument.
    plain_names = st.sampled_from([n for n in _NAMES if n != "in"]).map(A.Name)
    numbers = st.sampled_from(["0", "1", "2.5", "1e-3", ".5", "3."]).map(
        lambda s: A.Number(int(s) if s.isdigit() else float(s), s))
    strings = st.text(alphabet='ab"\\\n\t #', max_size=4).map(A.String)
    leaves = names | numbers | strings

    def extend(sub):
        args = st.lists(
            st.builds(A.Arg, sub, st.none() | plain_names), max_size=3
        ).map(lambda a: tuple(sorted(a, key=lambda x: x.name is not None)))
        return (
            st.builds(A.BinOp, st.sampled_from(_BINARY), sub, sub)
            | st.builds(A.UnaryOp, st.sampled_from(["-", "+"]), sub)
            | st.builds(A.Indexed, plain_names, sub)
            | st.builds(A.Call, sub, args)
            | st.builds(lambda f, body, v, node: A.Call(
                f, (), A.Generator(body, v, A.Name("children"), node)),
                names, sub, plain_names, plain_names)
        )

    return st.recursive(leaves, extend, max_leaves=12)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_exprs())
def test_random_expressions_round_trip(e):
    for tight in (False, True):
        text = format_expr(e, tight=tight)
        module = parse(f"network N {{\n    v = {text}\n}}\n")
        assert module.networks[0].body[0].value == e, text
    shaped = parse(f"cell C {{\n    param W: [{format_expr(e, tight=True)}]\n}}\n")
    assert shaped.cells[0].body[0].shape.dims == (e,)


# ---------------------------------------------------------------- comments


def test_comments_own_line_trailing_and_end_of_block():
    assert_formats(
        """
        # The cell.
        cell A(units: int) {   # header
              # about x
            input x: [in]    # the input
          # about h
            h[t] = tanh(W @ x[t])#tight
            output h
                # end of the block
            # second line
        }   # after the brace
        """,
        """
        # The cell.
        cell A(units: int) {  # header
            # about x
            input x: [in]  # the input
            # about h
            h[t] = tanh(W @ x[t])  #tight
            output h
            # end of the block
            # second line
        }  # after the brace
        """,
    )


def test_comments_between_items_and_at_end_of_file():
    assert_formats(
        """
        import "a.rnn"  # first import
        # about b
        import "b.rnn"
        cell A {
        }
        # about B

        # more about B
        cell B {
        }


        # the end
        # really
        """,
        """
        import "a.rnn"  # first import
        # about b
        import "b.rnn"

        cell A {
        }

        # about B

        # more about B
        cell B {
        }

        # the end
        # really
        """,
    )


def test_comments_before_and_after_module_docstring():
    assert_formats(
        '''
        # Copyright line
        # second line

        "The module."  # trailing on the docstring
        # after the docstring
        cell A {
        }
        ''',
        '''
        # Copyright line
        # second line

        "The module."  # trailing on the docstring

        # after the docstring
        cell A {
        }
        ''',
    )


def test_comments_around_block_docstring():
    assert_formats(
        """
        cell A {
            # before the docstring
            "Doc."  # on the docstring
            # after the docstring
            output h
        }
        """,
        """
        cell A {
            # before the docstring
            "Doc."  # on the docstring
            # after the docstring
            output h
        }
        """,
    )


def test_comments_inside_a_multiline_statement_move_before_it():
    assert_formats(
        """
        cell A {
            input x: [3]

            h[t] = tanh(W @ x[t]   # input part
                # recurrent part
                + U @ h[t-1])      # and the rest
            output h
        }
        """,
        """
        cell A {
            input x: [3]

            # recurrent part
            h[t] = tanh(W @ x[t] + U @ h[t-1])  # input part  # and the rest
            output h
        }
        """,
    )


def test_comments_inside_a_multiline_header():
    assert_formats(
        """
        cell A(units: int,    # width
               # the bias
               b: float = 1.0) {
        }
        """,
        """
        # the bias
        cell A(units: int, b: float = 1.0) {  # width
        }
        """,
    )


def test_comments_in_empty_block_and_one_line_block():
    assert_formats("cell A {\n# nothing yet\n}\n", "cell A {\n    # nothing yet\n}\n")
    assert_formats("cell A { output h }  # one line\n", "cell A {\n    output h\n}  # one line\n")
    assert_formats("cell A { output h  # on h\n}\n", "cell A {\n    output h  # on h\n}\n")


def test_comment_only_file_and_comment_text_kept():
    assert format_text("#a\n\n\n   #  b   \n") == "#a\n\n#  b\n"
    assert format_text("# x ~ y = [t-1]  \"quoted\" # again\n") == "# x ~ y = [t-1]  \"quoted\" # again\n"


def test_every_comment_survives():
    src = dedent(SAMPLES["lstm"])
    out = format_text(src)
    before = [c.text for c in parse_file(src).comments]
    after = [c.text for c in parse_file(out).comments]
    assert before == after
    assert len(before) == 4


# ---------------------------------------------------------------- blank lines


def test_blank_lines_inside_a_block():
    assert_formats(
        """
        cell A {


            input x: [3]



            param W
            param U

            h[t] = W @ x[t]


        }
        """,
        """
        cell A {
            input x: [3]

            param W
            param U

            h[t] = W @ x[t]
        }
        """,
    )


def test_exactly_one_blank_line_between_items():
    assert_formats(
        '"Doc."\nimport "a.rnn"\nimport "b.rnn"\n\n\n\nimport "c.rnn"\ncell A {\n}\ncell B {\n}\n\n\n\nnetwork N {\n}\n',
        '"Doc."\n\nimport "a.rnn"\nimport "b.rnn"\n\nimport "c.rnn"\n\ncell A {\n}\n\ncell B {\n}\n\nnetwork N {\n}\n',
    )


def test_file_ends_with_one_newline_and_no_trailing_whitespace():
    assert format_text("cell A {\n    output h\n}") == "cell A {\n    output h\n}\n"
    assert format_text("\n\n\ncell A {\n    output h   \n}   \n\n\n\n") == "cell A {\n    output h\n}\n"
    out = format_text(dedent(SAMPLES["lstm"]).replace("\n", "   \n"))
    assert all(line == line.rstrip() for line in out.split("\n"))
    assert out.endswith("}\n") and not out.endswith("\n\n")


def test_crlf_input():
    src = "# c\r\ncell A {  # h\r\n    output h\r\n\r\n\r\n}\r\n"
    assert format_text(src) == "# c\ncell A {  # h\n    output h\n}\n"


def test_empty_file():
    assert format_text("") == ""
    assert format_text("\n\n  \n") == ""
    assert check("")
    assert not check("\n")


# ---------------------------------------------------------------- errors, check


def test_syntax_error_raises_spec_errors():
    with pytest.raises(SpecErrors) as info:
        format_text("cell A {\n    h[t] = W x[t]\n    output h\n}\n", "bad.rnn")
    assert info.value.errors[0].span.file == "bad.rnn"
    assert info.value.errors[0].span.line == 2
    with pytest.raises(SpecErrors):
        format_text("cell A {\n    input x = [3]\n")
    with pytest.raises(SpecErrors):
        check("network N {\n    x = (a\n}\n")


def test_check():
    formatted = fmt(SAMPLES["lstm"])
    assert check(formatted)
    assert not check(formatted.replace("W_i @ x[t]", "W_i@x[t]"))
    assert not check(formatted + "\n")
    assert not check(formatted.replace("    ", "  "))


# ---------------------------------------------------------------- every spec

SAMPLES = {
    "lstm": """
        # Long short-term memory with a forget gate (Hochreiter & Schmidhuber 1997; Gers et al. 2000).
        cell LSTM(units: int, forget_bias: float = 1.0) {
            input  x: [in]                            # `in` is bound when the cell is applied
            param  W_i, W_f, W_o, W_c: [units, in]    ~ glorot_uniform
            param  U_i, U_f, U_o, U_c: [units, units] ~ orthogonal
            param  b_i, b_f, b_o, b_c: [units]        = 0

            i[t] = sigmoid(W_i @ x[t] + U_i @ h[t-1] + b_i)
            f[t] = sigmoid(W_f @ x[t] + U_f @ h[t-1] + b_f + forget_bias)
            o[t] = sigmoid(W_o @ x[t] + U_o @ h[t-1] + b_o)
            c[t] = f[t] * c[t-1] + i[t] * tanh(W_c @ x[t] + U_c @ h[t-1] + b_c)
            h[t] = o[t] * tanh(c[t])
            output h
        }

        # Jordan (1986): the context is the previous output, not the hidden layer.
        cell Jordan(hidden: int, out: int) {
            input x: [in]
            h[t] = tanh(W @ x[t] + U @ y[t-1] + b)
            y[t] = softmax(V @ h[t] + c)
            output y
        }

        # Continuous time: tau dy/dt = -y + W sigma(y - theta) + I(t), stepped by a solver.
        cell CTRNN(units: int, dt: float = 0.1) solver rk4 {
            input  I: [units]
            param  tau: [units] = 1 constrain positive
            d/dt y = (-y + W @ sigmoid(y - theta) + I[t]) / tau
            output y
        }
    """,
    "tagger": """
        \"\"\"A tagger.

        Embeddings, a bidirectional LSTM and a GRU stack.\"\"\"
        import "std/cells.rnn"

        network Tagger(vocab: int = 10000, tags: int = 17, units: int = 256) {
            input  words: seq[int]
            emb  = Embedding(vocab, 128)(words)                  # seq[128]
            ctx  = Bidirectional(LSTM(units), merge=concat)(emb) # seq[2*units]
            deep = Stack(GRU(units), depth=2)(ctx)               # seq[units]
            output Dense(tags, softmax)(deep)                    # seq[tags]
        }
    """,
    "tree_esn": """
        cell TreeLSTM(units: int) over tree {
            "Child-Sum Tree-LSTM (Tai et al. 2015)."
            input x: [in]
            h_tilde[n] = sum(h[k] for k in children(n))
            i[n] = sigmoid(W_i @ x[n] + U_i @ h_tilde[n] + b_i)
            f_k[n] = sigmoid(W_f @ x[n] + sum(U_f @ h[k] for k in children(n)))
            c[n] = i[n] * u[n] + sum(f[k] * c[k] for k in children(n))
            h[n] = o[n] * tanh(c[n])
            output h, c
        }

        cell ESN(units: int, leak: float = 0.3) {
            input u: [in]
            param W_in: [units, in] ~ uniform(-0.5, 0.5) fixed
            param W: [units, units] ~ reservoir(density=0.1, spectral_radius=0.95) fixed
            x[t] = (1 - leak) * x[t-1] + leak * tanh(W_in @ u[t] + W @ x[t-1])
            a[t], b[t] = split(x[t], 2)
            output x
        }
    """,
}


def _spec_files():
    files = sorted(ROOT.glob("specs/**/*.rnn")) + sorted(ROOT.glob("examples/**/*.rnn"))
    return [pytest.param(p.read_text(encoding="utf-8"), str(p), id=str(p.relative_to(ROOT))) for p in files]


def _samples():
    return [pytest.param(dedent(text), f"<{name}>", id=name) for name, text in SAMPLES.items()]


@pytest.mark.parametrize("text, file", _samples() + _spec_files())
def test_specs_are_idempotent_and_round_trip(text, file):
    parsed = parse_file(text, file)
    assert not parsed.errors, "\n".join(e.render() for e in parsed.errors)
    once = format_text(text, file)
    assert format_text(once, file) == once
    assert parse(once, file) == parsed.module
    assert [c.text.rstrip() for c in parse_file(once).comments] == [c.text.rstrip() for c in parsed.comments]
    assert check(once, file)


def test_samples_are_not_vacuous():
    assert len(_samples()) >= 3
    for param in _samples():
        text, _ = param.values
        assert parse(text).items


def test_sample_layout():
    assert fmt(SAMPLES["tagger"]) == dedent(
        '''
        """A tagger.

        Embeddings, a bidirectional LSTM and a GRU stack."""

        import "std/cells.rnn"

        network Tagger(vocab: int = 10000, tags: int = 17, units: int = 256) {
            input words: seq[int]
            emb = Embedding(vocab, 128)(words)  # seq[128]
            ctx = Bidirectional(LSTM(units), merge=concat)(emb)  # seq[2*units]
            deep = Stack(GRU(units), depth=2)(ctx)  # seq[units]
            output Dense(tags, softmax)(deep)  # seq[tags]
        }
        '''
    )


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(["lstm", "tree_esn"]),
    st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from(["blank", "own", "trailing", "indent"])),
             max_size=12),
)
def test_random_comments_and_blank_lines(name, edits):
    """Comments and blank lines sprinkled over a sample: all kept, in order; idempotent."""
    lines = dedent(SAMPLES[name]).split("\n")
    n = 0
    for pos, kind in edits:
        i = pos % (len(lines) + 1)
        n += 1
        if kind == "blank":
            lines.insert(i, "")
        elif kind == "own":
            lines.insert(i, f"# c{n}")
        elif kind == "indent":
            lines.insert(i, f"      # c{n}  ")
        elif i < len(lines) and lines[i].strip():
            lines[i] += f"  # c{n}"
    src = "\n".join(lines)
    out = format_text(src)
    assert parse(out) == parse(src)
    assert format_text(out) == out
    assert [c.text.rstrip() for c in parse_file(out).comments] == [c.text.rstrip() for c in parse_file(src).comments]
    assert "\n\n\n" not in out and "{\n\n" not in out and "\n\n}" not in out
    assert all(line == line.rstrip() for line in out.split("\n"))
