"""The Pygments lexer of `.rnn` specs (rnndsl.lang.lexer), registered as `rnn`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pygments.token import Error, Token

from rnndsl.lang.lexer import RnnLexer

ROOT = Path(__file__).resolve().parents[1]
SPECS = sorted((ROOT / "specs").rglob("*.rnn")) + sorted((ROOT / "examples").glob("*.rnn"))


def _tokens(text: str) -> list:
    return [(kind, value) for kind, value in RnnLexer().get_tokens(text) if value.strip()]


@pytest.mark.parametrize("path", SPECS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_spec_lexes_without_error_tokens(path):
    errors = [v for kind, v in RnnLexer().get_tokens(path.read_text(encoding="utf-8")) if kind in Error]
    assert not errors


def test_the_documented_examples_lex_without_error_tokens():
    blocks = re.findall(r"```rnn\n(.*?)```", (ROOT / "docs" / "language.md").read_text(encoding="utf-8"), re.S)
    assert len(blocks) > 10
    for block in blocks:
        assert not [v for kind, v in RnnLexer().get_tokens(block) if kind in Error], block


def test_token_kinds():
    text = ('import "std/lstm.rnn"\n'
            'cell Leaky(units: int, tau: float = 2.0) solver euler {\n'
            '    """A leaky unit."""\n'
            '    param W: [units, in] ~ glorot_uniform fixed  # not trained\n'
            '    d/dt h = (-h + tanh(W @ x[t])) / tau\n'
            '    output h\n'
            '}\n')
    found = _tokens(text)
    assert (Token.Keyword.Declaration, "import") in found
    assert (Token.Literal.String.Double, '"std/lstm.rnn"') in found
    assert (Token.Name.Class, "Leaky") in found
    assert (Token.Literal.String.Doc, '"""A leaky unit."""') in found
    assert (Token.Keyword, "solver") in found and (Token.Keyword, "fixed") in found
    assert (Token.Operator.Word, "d/dt") in found
    assert (Token.Name.Builtin, "tanh") in found
    assert (Token.Name, "tau") in found  # a name that starts like the time index `t`
    assert (Token.Keyword.Constant, "t") in found
    assert (Token.Literal.Number, "2.0") in found
    assert (Token.Operator, "@") in found and (Token.Operator, "~") in found
    assert (Token.Comment.Single, "# not trained") in found
    assert (Token.Name, "inputs") in _tokens("inputs = x\n")  # a keyword's prefix is a name
    noted = _tokens('notation beta = "\\\\beta"\n')
    assert (Token.Keyword.Declaration, "notation") in noted and (Token.Literal.String.Double, '"\\\\beta"') in noted


def test_a_character_the_language_rejects_is_an_error_token():
    assert (Token.Error, "$") in _tokens("h = $x\n")


def test_registered_with_pygments():
    from pygments.lexers import get_lexer_by_name, get_lexer_for_filename

    assert isinstance(get_lexer_by_name("rnn"), RnnLexer)
    assert isinstance(get_lexer_for_filename("lstm.rnn"), RnnLexer)
