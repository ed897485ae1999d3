"""parse: text -> AST (`rnndsl.lang.ast.Module`), with every syntax error of the file.

The grammar is `grammar/rnndsl.lark` (LALR(1), basic lexer). Parsing runs in
three steps:

1. lex: Lark's lexer, with bad characters reported and skipped so that lexing
   goes on; comments are kept aside for `fmt`;
2. post-lex (`_layout`): newlines that do not end a statement are dropped
   (inside brackets, after an operator, blank lines) and a newline is put
   before every `}`;
3. parse the tokens one by one with Lark's interactive parser. On a syntax
   error the parser goes back to the last statement boundary, skips to the end
   of the line and goes on, so one run reports every broken statement (a
   broken header goes on into its body; `cell` inside a block closes it).

Errors are named by a table of common mistakes (`_MISTAKES`), matched the way
Lark's `match_examples` does: by the parser state and the token at the error.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Optional

from lark import Lark, TextSlice, Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedToken
from lark.lexer import LexerState, LineCounter

from . import ast as A
from .errors import RnnDslError, SpecSyntaxError

MAX_ERRORS = 20
# Deeper parse trees are refused: building the AST (and every later pass over it)
# recurses once per level, and Python's stack ends at about 1000 frames.
MAX_DEPTH = 200


@dataclass(frozen=True)
class Comment:
    """A `# ...` comment; `own_line` when nothing but blanks precede it on its line."""

    text: str
    line: int
    column: int
    own_line: bool


@dataclass(frozen=True)
class Parsed:
    """A parsed file: its AST, its comments (for `fmt`) and its syntax errors."""

    module: Optional[A.Module]
    comments: tuple
    errors: tuple


def parse(text: str, file: str = "<string>") -> A.Module:
    """Parse `text` to a Module; raise `SpecErrors` with every syntax error."""
    from .errors import SpecErrors

    result = parse_file(text, file)
    if result.errors:
        raise SpecErrors(result.errors)
    return result.module


def parse_file(text: str, file: str = "<string>") -> Parsed:
    """Parse `text`, collecting syntax errors instead of raising them.

    The last results are kept by (file, text): a standard-library file imported
    by many specs in one run is parsed once. The key is the text itself, so two
    texts given one name never share a result.
    """
    return _parse_file(text, file)


@lru_cache(maxsize=64)
def _parse_file(text: str, file: str) -> Parsed:
    origin = _Origin(file, text)
    tokens, comments, errors = _lex(text, file)
    laid_out, openers = _layout(tokens)
    tree, parse_errors = _parse_tokens(laid_out, openers, origin)
    # A skipped bad character leaves a hole that the parser trips on, on its line or
    # further on in its statement (a statement goes on after `=` or `(`): keep its error only.
    bad_lines = {e.span.line for e in errors}
    ends = [(t.line, t.column) for t in laid_out if t.type == "_NL"]
    holes = [((e.span.line, e.span.column), _next_at(ends, (e.span.line, e.span.column))) for e in errors]
    errors += [
        e for e in parse_errors
        if e.span.line not in bad_lines
        and not any(start <= (e.span.line, e.span.column) <= end for start, end in holes)
    ]
    module = None
    too_deep = _too_deep(tree, origin) if tree is not None else None
    if too_deep is not None:
        errors.append(too_deep)
    elif tree is not None:
        module = _ASTBuilder(origin).transform(tree)
    errors.sort(key=lambda e: (e.span.line, e.span.column))
    return Parsed(module, tuple(comments), tuple(errors[:MAX_ERRORS]))


def _too_deep(tree: Tree, origin: _Origin) -> Optional[RnnDslError]:
    """An error at the first node nested deeper than MAX_DEPTH, or None (without recursion)."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            span = _span(origin, node.meta) if not node.meta.empty else A.NO_SPAN
            return SpecSyntaxError("expression nested too deeply", span, label="simplify this expression",
                                   notes=["name parts of it with equations of their own"])
        stack += [(c, depth + 1) for c in node.children if isinstance(c, Tree)]
    return None


def _next_at(positions: list, at: tuple) -> tuple:
    """The first of the sorted `positions` at or after `at` (the end of the file when none)."""
    return next((p for p in positions if p >= at), (float("inf"), 0))


# ---------------------------------------------------------------- the grammar


@lru_cache(maxsize=None)
def grammar_text() -> str:
    """The text of `rnndsl.lark`, found inside the installed package."""
    return resources.files("rnndsl.grammar").joinpath("rnndsl.lark").read_text(encoding="utf-8")


@lru_cache(maxsize=None)
def _lark() -> Lark:
    return Lark(
        grammar_text(),
        parser="lalr",
        lexer="basic",
        # A statement's span ends at its last token, not after the newline that ends it.
        propagate_positions=_not_newline,
        maybe_placeholders=True,
        # No `cache`: Lark's cache is a pickle in the shared temp folder, under a name
        # anyone can guess, and unpickling a file another user planted runs their code.
        # Building the tables takes about 0.1 s, once per process.
    )


def _not_newline(node) -> bool:
    """Lark's `propagate_positions` filter."""
    return not (isinstance(node, Token) and node.type == "_NL")


@lru_cache(maxsize=None)
def _lexer():
    """The lexer that keeps whitespace and comments, built once (`Lark.lex` builds one a call)."""
    return _lark()._build_lexer(dont_ignore=True)


@dataclass(frozen=True)
class _Origin:
    """The file being parsed: its name and its text, which every span made from it carries."""

    file: str
    text: str

    def span(self, line: int, column: int, end_line: int, end_column: int) -> A.Span:
        return A.Span(self.file, line, column, end_line, end_column, self.text)


def _span(origin: _Origin, meta) -> A.Span:
    return origin.span(meta.line, meta.column, meta.end_line, meta.end_column)


def _token_span(origin: _Origin, tok: Token) -> A.Span:
    return origin.span(tok.line, tok.column, tok.end_line, tok.end_column)


# ---------------------------------------------------------------- lexing

# Characters that people type for an operator, and what rnndsl spells it.
_LOOKALIKES = {
    "\u2212": "-", "\u2013": "-", "\u00d7": "*", "\u22c5": "*", "\u00b7": "*",
    "\u2299": "*", "\u2218": "*", "\u2264": "<=", "\u2265": ">=", "\u2260": "!=",
    "\u03c3": "sigmoid", "\u201c": '"', "\u201d": '"',
}


def _lex(text: str, file: str):
    """Tokens (whitespace dropped, comments taken out) and lexical errors."""
    origin = _Origin(file, text)
    tokens: list[Token] = []
    comments: list[Comment] = []
    errors: list[RnnDslError] = []
    at = LineCounter("\n")  # where lexing starts: char_pos, line, column, line_start_pos
    while True:
        try:
            for tok in _lexer().lex(LexerState(TextSlice(text, at.char_pos, None), at), None):
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
                        errors.append(SpecSyntaxError(problem, _token_span(origin, tok),
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


def _bad_character(origin: _Origin, e: UnexpectedCharacters):
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


def _layout(tokens: list[Token]) -> tuple[list[Token], list[Optional[Token]]]:
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


# ---------------------------------------------------------------- parsing with recovery


def _parse_tokens(tokens: list[Token], openers: list, origin: _Origin):
    lark = _lark()
    ip = lark.parse_interactive("")
    # Checkpoints share the parsed subtrees (`deepcopy_values=False`): a deep copy at
    # every statement made parsing quadratic in the file's length, and the tree is
    # only used when no error (hence no restore) happened.
    checkpoint = ip.copy(deepcopy_values=False)
    errors: list[RnnDslError] = []
    braces: list[Token] = []
    i = start = 0  # start: the first token of the statement being parsed
    while i < len(tokens):
        tok = tokens[i]
        try:
            ip.feed_token(tok)
        except UnexpectedToken as e:
            errors.append(_describe(e, tok, openers[i], tokens[i - 1] if i else None, braces, origin))
            if len(errors) >= MAX_ERRORS:
                return None, errors
            ip = checkpoint.copy(deepcopy_values=False)
            # `cell` (or `network`, `import`) inside a block: a `}` is missing; close the
            # block there and parse the new item as one.
            closed = None
            if i == start and braces and tok.type in ("CELL", "NETWORK", "IMPORT"):
                closed = _feed(ip, [Token.new_borrow_pos(t, v, tok) for t, v in (("RBRACE", "}"), ("_NL", "\n"))])
            if closed is not None:
                ip, checkpoint = closed, closed.copy(deepcopy_values=False)
                braces.pop()
                continue
            # Skip the rest of the broken statement, up to and including its newline.
            end = i
            while end < len(tokens) and tokens[end].type != "_NL":
                end += 1
            # A broken header: go on into its body as if it read `cell _ {`, so that the
            # body's statements are not reported one by one as out of place.
            brace = next((j for j in range(i, end) if tokens[j].type == "LBRACE"), None)
            entered = _enter_block(ip, tokens[start], tokens[brace]) if brace is not None else None
            if entered is not None:
                ip, checkpoint = entered, entered.copy(deepcopy_values=False)
                braces.append(tokens[brace])
                i = start = brace + 1
            else:
                i = start = end + 1
            continue
        if tok.type == "LBRACE":
            braces.append(tok)
        elif tok.type == "RBRACE" and braces:
            braces.pop()
        if tok.type in ("_NL", "LBRACE"):  # statement boundaries: recovery restarts here
            checkpoint = ip.copy(deepcopy_values=False)
            start = i + 1
        i += 1
    try:
        tree = ip.feed_eof(tokens[-1] if tokens else None)
    except UnexpectedToken as e:
        end = tokens[-1] if tokens else Token("$END", "", 0, 1, 1, 1, 1, 0)
        errors.append(_describe(e, end, None, None, braces, origin, at_end=True))
        return None, errors
    return (None if errors else tree), errors


def _enter_block(ip, first: Token, brace: Token):
    """`ip` after `cell _ {` (or `network _ {`) in place of a broken header, or None if that does not fit."""
    if first.type not in ("CELL", "NETWORK"):
        return None
    return _feed(ip, [first, Token.new_borrow_pos("NAME", "_", first), brace])


def _feed(ip, tokens: list):
    """A copy of `ip` after `tokens`, or None if they do not fit there."""
    fed = ip.copy(deepcopy_values=False)
    try:
        for tok in tokens:
            fed.feed_token(tok)
    except UnexpectedToken:
        return None
    return fed


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


def _describe(e: UnexpectedToken, tok: Token, opener, prev, braces, origin: _Origin, at_end=False) -> RnnDslError:
    """Turn a Lark error into a diagnostic, naming the mistake when the table knows it."""
    span = _token_span(origin, tok)
    if at_end or tok.type == "$END":
        if braces:
            opened = braces[-1]
            return SpecSyntaxError("unclosed `{`", _token_span(origin, opened),
                                   label="this `{` is never closed",
                                   notes=["add `}` at the end of the block"], code="E0102")
        return SpecSyntaxError("unexpected end of file", span, code="E0101")
    if opener is not None and opener.line < tok.line:
        close = ")" if opener.type == "LPAR" else "]"
        return SpecSyntaxError(f"unclosed `{opener}`", _token_span(origin, opener),
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
                                   notes=[f"the `{{` at {_token_span(origin, opened)} is never closed"],
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
    pattern = _lark().get_terminal(terminal).pattern
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
    tokens, _, _ = _lex(text, "<example>")
    ip = _lark().parse_interactive("")
    for tok in _layout(tokens)[0]:
        try:
            ip.feed_token(tok)
        except UnexpectedToken as e:
            return (e.state.position, tok.type)
    return None


# ---------------------------------------------------------------- tree -> AST


@v_args(meta=True)
class _ASTBuilder(Transformer):
    """Builds `rnndsl.lang.ast` nodes from Lark's parse tree, with spans."""

    def __init__(self, origin: _Origin):
        super().__init__()
        self.origin = origin

    def _s(self, meta) -> A.Span:
        return _span(self.origin, meta) if not meta.empty else A.NO_SPAN

    def _name(self, tok: Token) -> A.Name:
        return A.Name(str(tok), _token_span(self.origin, tok))

    # ---- module

    def start(self, meta, children):
        doc, items = self._body(children)
        return A.Module(items, doc, self._s(meta))

    def docstring(self, meta, children):
        return _Doc(_unquote(str(children[0])))

    def import_stmt(self, meta, children):
        tok = children[0]
        return A.Import(A.String(_unquote(str(tok)), _token_span(self.origin, tok)), self._s(meta))

    def _body(self, children):
        """Split the optional docstring (`[docstring]`, None when absent) off a block."""
        first, *body = children
        return (first.text if first is not None else None), tuple(body)

    def cell(self, meta, children):
        name, hparams, over, solver, *rest = children
        doc, body = self._body(rest)
        return A.Cell(self._name(name), hparams or (), over, solver, doc, body, self._s(meta))

    def network(self, meta, children):
        name, hparams, *rest = children
        doc, body = self._body(rest)
        return A.Network(self._name(name), hparams or (), doc, body, self._s(meta))

    def hparams(self, meta, children):
        return tuple(c for c in children if c is not None)

    def hparam(self, meta, children):
        name, typ, default = children
        return A.HyperParam(self._name(name), self._name(typ), default, self._s(meta))

    def cell_over(self, meta, children):
        return self._name(children[0])

    def cell_solver(self, meta, children):
        name, args = children
        return A.Solver(self._name(name), args or (), self._s(meta))

    # ---- cell statements

    def names(self, meta, children):
        return tuple(self._name(t) for t in children)

    def shape(self, meta, children):
        return A.Shape(tuple(c for c in children if c is not None), self._s(meta))

    def input_decl(self, meta, children):
        names, shape = children
        return A.InputDecl(names, shape, self._s(meta))

    def param_decl(self, meta, children):
        names, shape, init, fixed, fit, constraints = children
        return A.ParamDecl(names, shape, init, fixed is not None, constraints or (), self._s(meta), fit)

    def fit(self, meta, children):
        name, args = children
        return A.Fit(self._name(name), args or (), self._s(meta))

    def init_dist(self, meta, children):
        name, args = children
        return A.Init(self._name(name), args or (), self._s(meta))

    def init_const(self, meta, children):
        return A.ConstInit(children[0], self._s(meta))

    def constraints(self, meta, children):
        return tuple(children)

    def constraint(self, meta, children):
        name, args = children
        return A.Constraint(self._name(name), args or (), self._s(meta))

    def state_decl(self, meta, children):
        name, shape, init = children
        return A.StateDecl(self._name(name), shape, init, self._s(meta))

    def output_decl(self, meta, children):
        return A.OutputDecl(children[0], self._s(meta))

    def equation(self, meta, children):
        *targets, value = children
        return A.Equation(tuple(targets), value, self._s(meta))

    def target(self, meta, children):
        name, index = children
        return A.Target(self._name(name), index, self._s(meta))

    def ode(self, meta, children):
        _, name, value = children
        return A.ODE(self._name(name), value, self._s(meta))

    def notation_decl(self, meta, children):
        word, name, latex = children
        return A.Notation(self._name(name), A.String(_unquote(str(latex)), _token_span(self.origin, latex)),
                          self._s(meta), self._name(word))

    # ---- network statements

    def net_input(self, meta, children):
        names, typ = children
        return A.NetInput(names, typ, self._s(meta))

    def type(self, meta, children):
        kind, *items = children
        return A.TypeExpr(self._name(kind), tuple(i for i in items if i is not None), self._s(meta))

    def net_bind(self, meta, children):
        names, value = children
        return A.Bind(names, value, self._s(meta))

    def net_output(self, meta, children):
        return A.NetOutput(tuple(children), self._s(meta))

    def train_block(self, meta, children):
        word, *settings = children
        return A.Train(tuple(settings), self._s(meta), self._name(word))

    def train_setting(self, meta, children):
        name, *values = children
        return A.TrainSetting(self._name(name), tuple(values), self._s(meta))

    # ---- expressions

    def chain(self, meta, children):
        left, right = children
        return A.BinOp(">>", left, right, self._s(meta))

    def compare(self, meta, children):
        left, op, right = children
        return A.BinOp(str(op), left, right, self._s(meta))

    def binop(self, meta, children):
        left, op, right = children
        return A.BinOp(str(op), left, right, self._s(meta))

    def power(self, meta, children):
        left, right = children
        return A.BinOp("**", left, right, self._s(meta))

    def unary(self, meta, children):
        op, operand = children
        return A.UnaryOp(str(op), operand, self._s(meta))

    def indexed(self, meta, children):
        name, index = children
        return A.Indexed(self._name(name), index, self._s(meta))

    def call(self, meta, children):
        func, args = children
        if isinstance(args, A.Generator):
            return A.Call(func, (), args, self._s(meta))
        return A.Call(func, args, None, self._s(meta))

    def call_args(self, meta, children):
        return tuple(c for c in children if c is not None)

    def generator_args(self, meta, children):
        body, var, _in, source, node = children
        return A.Generator(body, self._name(var), self._name(source), self._name(node), self._s(meta))

    def pos_arg(self, meta, children):
        return A.Arg(children[0], None, self._s(meta))

    def kw_arg(self, meta, children):
        name, value = children
        return A.Arg(value, self._name(name), self._s(meta))

    def number(self, meta, children):
        tok = children[0]
        text = str(tok)
        # A number out of range is an error already (E0121, from the lexer); the tree is still
        # built, for `fmt` and for the errors further on, with a value that does not crash.
        value = int(text) if text.isdigit() and len(text) <= 19 else float(text)
        return A.Number(value, text, _token_span(self.origin, tok))

    def name(self, meta, children):
        return self._name(children[0])

    def in_name(self, meta, children):
        return self._name(children[0])

    def string(self, meta, children):
        tok = children[0]
        return A.String(_unquote(str(tok)), _token_span(self.origin, tok))


@dataclass(frozen=True)
class _Doc:
    text: str


def _unquote(s: str) -> str:
    body = s[3:-3] if s.startswith('"""') else s[1:-1]
    out, i = [], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            out.append({"n": "\n", "t": "\t", '"': '"', "\\": "\\"}.get(nxt, "\\" + nxt))
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)
