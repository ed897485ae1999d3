"""tokens: text -> tokens, with every lexical error, and the layout of statements.

1. lex: Lark's lexer, with bad characters reported and skipped so that lexing
   goes on; comments are kept aside for `fmt`;
2. layout: newlines that do not end a statement are dropped (inside brackets,
   after an operator, blank lines) and a newline is put before every `}`.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from typing import Optional

from lark import TextSlice, Token
from lark.exceptions import UnexpectedCharacters
from lark.lexer import LexerState, LineCounter

from .errors import RnnDslError, SpecSyntaxError
from .lark_grammar import MAX_ERRORS, Origin, token_lexer


@dataclass(frozen=True)
class Comment:
    """A `# ...` comment; `own_line` when nothing but blanks precede it on its line."""

    text: str
    line: int
    column: int
    own_line: bool


_LOOKALIKES = {
    "\u2212": "-", "\u2013": "-", "\u00d7": "*", "\u22c5": "*", "\u00b7": "*",
    "\u2299": "*", "\u2218": "*", "\u2264": "<=", "\u2265": ">=", "\u2260": "!=",
    "\u03c3": "sigmoid", "\u201c": '"', "\u201d": '"',
}


def lex(text: str, file: str):
    """Tokens (whitespace dropped, comments taken out) and lexical errors."""
    origin = Origin(file, text)
    tokens: list[Token] = []
    comments: list[Comment] = []
    errors: list[RnnDslError] = []
    at = LineCounter("\n")  # where lexing starts: char_pos, line, column, line_start_pos
    while True:
        try:
            for tok in token_lexer().lex(LexerState(TextSlice(text, at.char_pos, None), at), None):
                if tok.type == "WS":
                    continue
                if tok.type == "COMMENT":
                    before = text[text.rfind("\n", 0, tok.start_pos) + 1 : tok.start_pos]
                    comments.append(Comment(str(tok), tok.line, tok.column, not before.strip()))
                    continue
                if tok == '""' and text.startswith('"""', tok.start_pos):
                    # A `"""` that is never closed (the lexer took `""` for an empty
                    # string): the rest of the file is inside it.
                    span = origin.span(tok.line, tok.column, tok.line, tok.column + 3)
                    errors.append(SpecSyntaxError("unterminated string", span, label="this string is never closed",
                                                  notes=['a `"""` string ends at the next `"""`'], code="E0116"))
                    return tokens, comments, errors
                if tok.type == "NUMBER" and len(errors) < MAX_ERRORS:
                    problem = _number_problem(str(tok))
                    if problem is not None:
                        errors.append(SpecSyntaxError(problem, origin.token_span(tok),
                                                      label=_NUMBER_RANGE, code="E0121"))
                tokens.append(tok)
            return tokens, comments, errors
        except UnexpectedCharacters as e:
            error, blank_to = _bad_character(origin, e)
            if len(errors) < MAX_ERRORS:
                errors.append(error)
            # Skip the bad text (never past its line) and lex on after it, positions kept.
            # (Lexing again from the top took minutes on a file full of bad characters.)
            at = LineCounter("\n")
            at.line, at.line_start_pos = e.line, e.pos_in_stream - (e.column - 1)
            at.char_pos, at.column = blank_to, e.column + (blank_to - e.pos_in_stream)


# The numbers a spec may write: an integer fits in 64 bits (what NumPy and TensorFlow hold),
# a float is finite. Anything larger is a typo, and would overflow somewhere downstream.
MAX_INTEGER = 2**63 - 1
_NUMBER_RANGE = f"integers are at most {MAX_INTEGER}, floats at most about 1.8e308"


def _number_problem(text: str) -> Optional[str]:
    """Why the number `text` (a NUMBER token) is out of range, or None."""
    shown = text if len(text) <= 20 else text[:12] + "…" + text[-4:]
    if text.isdigit():
        if len(text) > 19 or int(text) > MAX_INTEGER:
            return f"the integer `{shown}` is too large"
        return None
    mantissa, _, exponent = text.lower().partition("e")
    if len(exponent.lstrip("+-")) > 6 or not math.isfinite(float(text)):
        # (a 7-digit exponent underflows to 0 or overflows: either way not what was meant)
        return f"the number `{shown}` is too large for a float" if not exponent.startswith("-") \
            else f"the number `{shown}` is too small for a float"
    return None


def _bad_character(origin: Origin, e: UnexpectedCharacters):
    text = origin.text
    pos = e.pos_in_stream
    ch = text[pos]
    line_end = text.find("\n", pos)
    line_end = len(text) if line_end < 0 else line_end
    span = origin.span(e.line, e.column, e.line, e.column + 1)
    if ch == '"':
        return (
            SpecSyntaxError("unterminated string", span, label="this string is never closed",
                            notes=["a string ends on the line it starts; `\"\"\"` strings may span lines"],
                            code="E0116"),
            line_end,
        )
    if ch in _LOOKALIKES:
        name = unicodedata.name(ch, "character").lower()
        return (
            SpecSyntaxError(f"`{ch}` ({name}) is not an rnndsl operator", span,
                            label=f"write `{_LOOKALIKES[ch]}`", code="E0117"),
            pos + 1,
        )
    if ch == "^":
        return (
            SpecSyntaxError("`^` is not an operator", span, label="write `**` for a power",
                            notes=["`x ** 2` squares x element-wise"], code="E0118"),
            pos + 1,
        )
    if ch == "%":
        return (
            SpecSyntaxError("`%` is not an operator", span, label="write `mod(a, b)` for a remainder",
                            notes=["`mod(t, 4) == 0` holds at every fourth step"], code="E0118"),
            pos + 1,
        )
    if ch == ";":
        return (
            SpecSyntaxError("`;` does not end a statement", span, label="remove it",
                            notes=["a statement ends at the end of its line"], code="E0119"),
            pos + 1,
        )
    if ch == "'":
        close = text.find("'", pos + 1, line_end)  # one error for a whole 'string'
        return (
            SpecSyntaxError("strings use double quotes", span, label='write `"`', code="E0116"),
            close + 1 if close >= 0 else pos + 1,
        )
    shown = ch if ch.isprintable() else f"U+{ord(ch):04X}"
    return (
        SpecSyntaxError(f"unexpected character `{shown}`", span, label="not part of the language",
                        code="E0115"),
        pos + 1,
    )


# ---------------------------------------------------------------- layout

_OPEN = {"LPAR": "RPAR", "LSQB": "RSQB"}
_CLOSE = {"RPAR", "RSQB"}
# A newline right after one of these does not end the statement.
_CONTINUES = {"ADD_OP", "MUL_OP", "COMP_OP", "COMMA", "EQUAL", "_CHAIN", "_POW", "TILDE"}


def layout(tokens: list[Token]) -> tuple[list[Token], list[Optional[Token]]]:
    """Drop the newlines that do not end statements; put one before each `}`.

    Returns the tokens, and for each the innermost `(` or `[` open around it
    (for the "never closed" diagnostic).
    """
    out: list[Token] = []
    openers: list[Optional[Token]] = []
    brackets: list[Token] = []

    def last_type() -> Optional[str]:
        return out[-1].type if out else None

    for tok in tokens:
        t = tok.type
        if t == "_NL":
            if brackets or last_type() in (None, "_NL", "LBRACE") or out[-1].type in _CONTINUES:
                continue
        elif t in ("LBRACE", "RBRACE"):
            unclosed = brackets[-1] if brackets else None
            brackets = []  # brackets never span braces: an unclosed `(` ends here
            if t == "RBRACE" and last_type() not in (None, "_NL", "LBRACE"):
                out.append(_newline_before(tok))
                openers.append(unclosed)
        elif t in _OPEN:
            brackets.append(tok)
        elif t in _CLOSE and brackets:
            brackets.pop()
        openers.append(brackets[-1] if brackets else None)
        out.append(tok)
    if out and out[-1].type not in ("_NL", "LBRACE"):
        out.append(_newline_before(out[-1], after=True))
        openers.append(brackets[-1] if brackets else None)
    return out, openers


def _newline_before(tok: Token, after: bool = False) -> Token:
    line, col = (tok.end_line, tok.end_column) if after else (tok.line, tok.column)
    pos = tok.end_pos if after else tok.start_pos
    return Token("_NL", "\n", pos, line, col, line, col, pos)
