"""syntax_errors: a Lark parse error as an rnndsl diagnostic.

Unclosed and unmatched brackets and braces are named as such. Other errors
are named by a table of common mistakes (`_MISTAKE_TABLE`), matched the way
Lark's `match_examples` does: by the parser state and the token at the error;
what the table does not know reads "unexpected ...", with what was expected.
"""

from __future__ import annotations

from functools import lru_cache

from lark import Token
from lark.exceptions import UnexpectedToken

from .errors import RnnDslError, SpecSyntaxError
from .lark_grammar import Origin, lark_parser
from .tokens import layout, lex

_NAMES = {
    "_NL": "end of line", "$END": "end of file", "NAME": "a name", "NUMBER": "a number",
    "STRING": "a string", "LBRACE": "`{`", "RBRACE": "`}`", "LPAR": "`(`", "RPAR": "`)`",
    "LSQB": "`[`", "RSQB": "`]`", "COMMA": "`,`", "COLON": "`:`", "EQUAL": "`=`",
    "ADD_OP": "`+` or `-`", "MUL_OP": "`*`, `/` or `@`", "COMP_OP": "a comparison",
    "TILDE": "`~`", "DDT": "`d/dt`", "FIXED": "`fixed`", "FIT": "`fit`",
}


def _shown(tok: Token) -> str:
    if tok.type == "_NL":
        return "end of line"
    if tok.type == "$END":
        return "end of file"
    return f"`{tok}`"


def describe(e: UnexpectedToken, tok: Token, opener, prev, braces, origin: Origin, at_end=False) -> RnnDslError:
    """Turn a Lark error into a diagnostic, naming the mistake when the table knows it."""
    span = origin.token_span(tok)
    if at_end or tok.type == "$END":
        if braces:
            opened = braces[-1]
            return SpecSyntaxError("unclosed `{`", origin.token_span(opened),
                                   label="this `{` is never closed",
                                   notes=["add `}` at the end of the block"], code="E0102")
        return SpecSyntaxError("unexpected end of file", span, code="E0101")
    if opener is not None and opener.line < tok.line:
        close = ")" if opener.type == "LPAR" else "]"
        return SpecSyntaxError(f"unclosed `{opener}`", origin.token_span(opener),
                               label=f"this `{opener}` is never closed",
                               notes=[f"add `{close}`; the statement ran on to line {tok.line}"],
                               code="E0110")
    if tok.type == "RBRACE" and not braces:
        return SpecSyntaxError("unmatched `}`", span, label="no `{` is open here", code="E0120")
    if tok.type in ("LBRACE",) or str(tok) in ("cell", "network", "import"):
        if braces and str(tok) in ("cell", "network", "import"):
            opened = braces[-1]
            return SpecSyntaxError(f"`{tok}` inside a block: a `}}` is missing", span,
                                   label=f"`{tok}` starts a new item",
                                   notes=[f"the `{{` at {origin.token_span(opened)} is never closed"],
                                   code="E0102")
    mistake = _mistakes().get((e.state.position, tok.type))
    if mistake is not None:
        code, message, label, notes = mistake
        return SpecSyntaxError(message.format(tok=tok, prev=prev), span,
                               label=label.format(tok=tok, prev=prev), notes=list(notes), code=code)
    expected = sorted({_NAMES[t] if t in _NAMES else _literal(t) for t in e.expected})
    notes = [f"expected {_one_of(expected)}"] if expected else []
    return SpecSyntaxError(f"unexpected {_shown(tok)}", span, label="not expected here",
                           notes=notes, code="E0101")


def _literal(terminal: str) -> str:
    pattern = lark_parser().get_terminal(terminal).pattern
    return f"`{pattern.value}`" if pattern.type == "str" else terminal.lower()


def _one_of(items: list[str]) -> str:
    if len(items) == 1:
        return items[0]
    if len(items) > 8:
        items = items[:8] + ["..."]
    return "one of " + ", ".join(items)


# The table of common mistakes: (code, message, label, notes) and example texts
# that fail at the same parser state with the same token.
_MISTAKE_TABLE = [
    (("E0103", "`=` where a declaration needs `:`", "write `:` before a shape",
      ["declarations give shapes with `:`, as in `input x: [in]`"]),
     ["cell A {\ninput x = [3]\n}", "cell A {\nstate h = [3]\n}"]),
    (("E0103", "`=` where a network input needs `:`", "write `:` before a type",
      ["network inputs give types with `:`, as in `input words: seq[int]`"]),
     ["network N {\ninput x = seq[3]\n}"]),
    (("E0103", "a parameter's shape is given with `:`", "write `:` before the shape",
      ["`param W: [units, in] ~ glorot_uniform`; `= 0` sets a constant initial value"]),
     ["cell A {\nparam W = [3]\n}"]),
    (("E0104", "equations use `=`, not `:`", "write `=`",
      ["an equation reads `h[t] = tanh(W @ x[t])`"]),
     ["cell A {\nh[t]: x[t]\n}"]),
    (("E0105", "empty index", "write a time index such as `[t]` or `[t-1]`", []),
     ["cell A {\nh[] = x[t]\n}", "cell A {\nh[t] = x[]\n}"]),
    (("E0106", "hyperparameter `{prev}` has no type", "write `{prev}: int` (or float, bool, str)",
      ["a hyperparameter reads `units: int = 128`"]),
     ["cell A(units) {\n}", "cell A(units = 3) {\n}", "cell A(units, b: int) {\n}",
      "network N(units) {\n}", "network N(units = 3) {\n}"]),
    (("E0107", "a cell or network needs a name and a body", "expected a name, then `(...)` or `{{`",
      ["`cell Elman(units: int) { ... }`"]),
     ["cell {\n}", "network {\n}", "cell A: {\n}", "cell A units: int {\n}"]),
    (("E0108", "missing operator between `{prev}` and `{tok}`",
      "an operator is missing before this",
      ["write `W @ x` for a matrix product, `W * x` for an element-wise one"]),
     ["cell A {\nh[t] = W x[t]\n}", "cell A {\nh[t] = 2 x[t]\n}",
      "cell A {\nh[t] = f(W x[t])\n}"]),
    (("E0109", "equation for `{prev}` has no time index", "write `{prev}[t] =`",
      ["a cell's equations define values at a step: `h[t] = ...`"]),
     ["cell A {\nh = x[t]\n}"]),
    (("E0111", "`output` takes names, not indexed values", "remove the index",
      ["write `output h`"]),
     ["cell A {\noutput h[t]\n}"]),
    (("E0112", "an import takes a quoted path", 'write `import "path/file.rnn"`', []),
     ["import cells\n", "import std/cells.rnn\n"]),
    (("E0113", "a network input needs a kind", "write `seq[...]`, `vec[...]`, `tree[...]` or `grid[...]`",
      ["`input x: seq[32]` is a sequence of 32-vectors; `seq[int]` one of tokens"]),
     ["network N {\ninput x: [3]\n}"]),
    (("E0114", "a continuous state has no index after `d/dt`", "write `d/dt {prev} = ...`",
      ["`d/dt y = -y + I[t]`: the solver steps y from t to t+1"]),
     ["cell A {\nd/dt y[t] = x[t]\n}"]),
]


@lru_cache(maxsize=None)
def _mistakes() -> dict:
    """{(parser state, token type): (code, message, label, notes)} from the examples."""
    table: dict = {}
    for entry, examples in _MISTAKE_TABLE:
        for example in examples:
            key = _failure_key(example)
            if key is not None:
                table.setdefault(key, entry)
    return table


def _failure_key(text: str):
    tokens, _, _ = lex(text, "<example>")
    ip = lark_parser().parse_interactive("")
    for tok in layout(tokens)[0]:
        try:
            ip.feed_token(tok)
        except UnexpectedToken as e:
            return (e.state.position, tok.type)
    return None
