"""lexer: a Pygments lexer for `.rnn` specs, so that minted, Sphinx and Jupyter highlight them.

Registered under the `pygments.lexers` entry point as `rnn` (pyproject.toml):
`pygmentize -l rnn spec.rnn`, `\\begin{minted}{rnn}` in LaTeX, or
```` ```rnn ```` in Sphinx and Markdown. Its tokens follow the grammar
(grammar/rnndsl.lark): keywords, names, the built-in functions, numbers, strings
(docstrings apart), comments, operators and punctuation; `d/dt` is one token.
"""

from __future__ import annotations

from pygments.lexer import RegexLexer, bygroups, words
from pygments.token import Comment, Keyword, Name, Number, Operator, Punctuation, String, Whitespace

from .builtins import FUNCTIONS

# The grammar's keywords: those that open a declaration, and the rest.
DECLARATIONS = ("cell", "network", "import", "input", "param", "state", "output", "train", "notation", "heads")
KEYWORDS = ("over", "solver", "fit", "constrain", "fixed", "for", "in", "every", "when")
CONSTANTS = ("true", "false", "none", "t")


class RnnLexer(RegexLexer):
    """Pygments lexer of rnndsl's `.rnn` spec language."""

    name = "rnndsl"
    aliases = ["rnn", "rnndsl"]
    filenames = ["*.rnn"]

    tokens = {
        "root": [
            (r"[ \t\f\r]+", Whitespace),
            (r"\n", Whitespace),
            (r"#[^\n]*", Comment.Single),
            (r'"""(?:[^"\\]|\\.|"(?!""))*"""', String.Doc),
            (r'"(?:[^"\\\n]|\\.)*"', String.Double),
            (r"(cell|network)(\s+)([A-Za-z_][A-Za-z0-9_]*)", bygroups(Keyword.Declaration, Whitespace, Name.Class)),
            (r"d/dt(?![A-Za-z0-9_])", Operator.Word),
            (words(DECLARATIONS, suffix=r"\b"), Keyword.Declaration),
            (words(KEYWORDS, suffix=r"\b"), Keyword),
            (words(CONSTANTS, suffix=r"\b"), Keyword.Constant),
            (words(tuple(sorted(FUNCTIONS, key=len, reverse=True)), suffix=r"(?=\s*\()"), Name.Builtin),
            (r"[A-Za-z_][A-Za-z0-9_]*", Name),
            (r"([0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)([eE][+-]?[0-9]+)?", Number),
            (r">>|\*\*|<=|>=|==|!=|[-+*/@<>=~]", Operator),
            (r"[()\[\]{},:]", Punctuation),
        ],  # anything else is a character the grammar rejects: Pygments marks it an Error token
    }
