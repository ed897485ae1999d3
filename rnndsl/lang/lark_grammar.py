"""lark_grammar: the grammar, the Lark parser and lexer built from it, and where things are in a text.

The grammar is `grammar/rnndsl.lark` (LALR(1), basic lexer), read from inside
the installed package. Every pass of parsing makes its spans through the
`Origin` of the text it reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from lark import Lark, Token

from . import ast as A

# The most syntax errors one file reports; lexing and parsing stop collecting there.
MAX_ERRORS = 20


@lru_cache(maxsize=None)
def grammar_text() -> str:
    """The text of `rnndsl.lark`, found inside the installed package."""
    return resources.files("rnndsl.grammar").joinpath("rnndsl.lark").read_text(encoding="utf-8")


@lru_cache(maxsize=None)
def lark_parser() -> Lark:
    """The LALR parser, built once per process."""
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
def token_lexer():
    """The lexer that keeps whitespace and comments, built once (`Lark.lex` builds one a call)."""
    return lark_parser()._build_lexer(dont_ignore=True)


@dataclass(frozen=True)
class Origin:
    """The file being parsed: its name and its text, which every span made from it carries."""

    file: str
    text: str

    def span(self, line: int, column: int, end_line: int, end_column: int) -> A.Span:
        return A.Span(self.file, line, column, end_line, end_column, self.text)

    def node_span(self, meta) -> A.Span:
        """The span of a parse-tree node (Lark's `meta`)."""
        return self.span(meta.line, meta.column, meta.end_line, meta.end_column)

    def token_span(self, tok: Token) -> A.Span:
        return self.span(tok.line, tok.column, tok.end_line, tok.end_column)
