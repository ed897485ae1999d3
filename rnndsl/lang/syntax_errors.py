"""syntax_errors: a Lark parse error as an rnndsl diagnostic.

Unclosed and unmatched brackets and braces are named as such. Other errors
are named by the catalogue of common mistakes (`grammar/mistakes.toml`), matched the way
Lark's `match_examples` does: by the parser state and the token at the error;
what the table does not know reads "unexpected ...", with what was expected.
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from importlib import resources
from typing import NamedTuple

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
        return SpecSyntaxError(mistake.message.format(tok=tok, prev=prev), span,
                               label=mistake.label.format(tok=tok, prev=prev), notes=list(mistake.notes),
                               code=mistake.code)
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
    if len(items) > 10:  # a cell's statements, each a word, a name and `}`, are 10
        items = items[:10] + ["..."]
    return "one of " + ", ".join(items)


class Mistake(NamedTuple):
    """One entry of `grammar/mistakes.toml`: the diagnostic, and texts that make the mistake."""

    code: str
    message: str  # `{prev}`, `{tok}`: the token before the failure, the token at it
    label: str
    notes: tuple
    examples: tuple


@lru_cache(maxsize=None)
def mistake_catalogue() -> tuple:
    """The mistakes of `grammar/mistakes.toml`, in its order (read once, at the first syntax error)."""
    text = resources.files("rnndsl.grammar").joinpath("mistakes.toml").read_text(encoding="utf-8")
    return tuple(Mistake(m["code"], m["message"], m["label"], tuple(m["notes"]), tuple(m["examples"]))
                 for m in tomllib.loads(text)["mistake"])


@lru_cache(maxsize=None)
def _mistakes() -> dict:
    """{(parser state, token type): Mistake} from the examples."""
    table: dict = {}
    for mistake in mistake_catalogue():
        for example in mistake.examples:
            key = _failure_key(example)
            if key is not None:
                table.setdefault(key, mistake)
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
