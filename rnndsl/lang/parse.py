"""parse: text -> AST (`rnndsl.lang.ast.Module`), with every syntax error of the file.

Parsing runs in three steps:

1. lex (rnndsl.lang.tokens): Lark's lexer, with bad characters reported and
   skipped so that lexing goes on; comments are kept aside for `fmt`;
2. layout (rnndsl.lang.tokens): newlines that do not end a statement are
   dropped (inside brackets, after an operator, blank lines) and a newline is
   put before every `}`;
3. parse the tokens one by one with Lark's interactive parser (the grammar:
   rnndsl.lang.lark_grammar). On a syntax error the parser goes back to the
   last statement boundary, skips to the end of the line and goes on, so one
   run reports every broken statement (a broken header goes on into its body;
   `cell` inside a block closes it). rnndsl.lang.syntax_errors names the error.

The parse tree becomes the AST in rnndsl.lang.ast_builder.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Optional

from lark import Token, Tree
from lark.exceptions import UnexpectedToken

from . import ast as A
from .ast_builder import ASTBuilder
from .errors import RnnDslError, SpecErrors, SpecSyntaxError
from .lark_grammar import MAX_ERRORS, Origin, lark_parser
from .syntax_errors import describe
from .tokens import layout, lex

# Deeper parse trees are refused: building the AST (and every later pass over it)
# recurses once per level, and Python's stack ends at about 1000 frames.
MAX_DEPTH = 200


@dataclass(frozen=True)
class Parsed:
    """A parsed file: its AST, its comments (`rnndsl.lang.tokens.Comment`, for `fmt`) and its syntax errors."""

    module: Optional[A.Module]
    comments: tuple
    errors: tuple


def parse(text: str, file: str = "<string>") -> A.Module:
    """Parse `text` to a Module; raise `SpecErrors` with every syntax error."""
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
    origin = Origin(file, text)
    tokens, comments, errors = lex(text, file)
    laid_out, openers = layout(tokens)
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
        module = ASTBuilder(origin).transform(tree)
    errors.sort(key=lambda e: (e.span.line, e.span.column))
    return Parsed(module, tuple(comments), tuple(errors[:MAX_ERRORS]))


def _too_deep(tree: Tree, origin: Origin) -> Optional[RnnDslError]:
    """An error at the first node nested deeper than MAX_DEPTH, or None (without recursion)."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            span = origin.node_span(node.meta) if not node.meta.empty else A.NO_SPAN
            return SpecSyntaxError("expression nested too deeply", span, label="simplify this expression",
                                   notes=["name parts of it with equations of their own"])
        stack += [(c, depth + 1) for c in node.children if isinstance(c, Tree)]
    return None


def _next_at(positions: list, at: tuple) -> tuple:
    """The first of the sorted `positions` at or after `at` (the end of the file when none)."""
    return next((p for p in positions if p >= at), (float("inf"), 0))


# ---------------------------------------------------------------- parsing with recovery


def _parse_tokens(tokens: list[Token], openers: list, origin: Origin):
    tokens, openers = list(tokens), list(openers)  # recovery may take a `}` out
    lark = lark_parser()
    ip = lark.parse_interactive("")
    # Checkpoints share the parsed subtrees (`deepcopy_values=False`): a deep copy at
    # every statement made parsing quadratic in the file's length, and the tree is
    # only used when no error (hence no restore) happened.
    checkpoint = ip.copy(deepcopy_values=False)
    before = checkpoint  # the checkpoint before `checkpoint`: before the statement that opened a block
    errors: list[RnnDslError] = []
    braces: list[Token] = []
    i = start = 0  # start: the first token of the statement being parsed
    while i < len(tokens):
        tok = tokens[i]
        try:
            ip.feed_token(tok)
        except UnexpectedToken as e:
            errors.append(describe(e, tok, openers[i], tokens[i - 1] if i else None, braces, origin))
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
            # `every 2 { }`: a block that may not be empty; go on after it, as if it were not there.
            if tok.type == "RBRACE" and i and tokens[i - 1].type == "LBRACE" and braces:
                braces.pop()
                ip, checkpoint = before, before.copy(deepcopy_values=False)
                i = start = i + 2 if i + 1 < len(tokens) and tokens[i + 1].type == "_NL" else i + 1
                continue
            # Skip the rest of the broken statement, up to and including its newline.
            end = i
            while end < len(tokens) and tokens[end].type != "_NL":
                end += 1
            # A broken header: go on into its body as if it read `cell _ {`, so that the
            # body's statements are not reported one by one as out of place.
            brace = next((j for j in range(i, end) if tokens[j].type == "LBRACE"), None)
            if brace is not None and i == start and tok.type in ("EVERY", "WHEN"):
                # `every 3 {` inside a block (blocks do not nest): read on as if its equations stood in the
                # outer block, its `}` taken out
                _drop_closing(tokens, openers, brace)
                i = start = brace + 1
                continue
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
            before, checkpoint = checkpoint, ip.copy(deepcopy_values=False)
            start = i + 1
        i += 1
    try:
        tree = ip.feed_eof(tokens[-1] if tokens else None)
    except UnexpectedToken as e:
        end = tokens[-1] if tokens else Token("$END", "", 0, 1, 1, 1, 1, 0)
        errors.append(describe(e, end, None, None, braces, origin, at_end=True))
        return None, errors
    return (None if errors else tree), errors


def _drop_closing(tokens: list, openers: list, brace: int) -> None:
    """Take the `}` that closes the `{` at `brace` (and the newline after it) out of `tokens` and `openers`."""
    depth = 0
    for j in range(brace, len(tokens)):
        depth += {"LBRACE": 1, "RBRACE": -1}.get(tokens[j].type, 0)
        if depth == 0:
            end = j + 2 if j + 1 < len(tokens) and tokens[j + 1].type == "_NL" else j + 1
            del tokens[j:end], openers[j:end]
            return


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
