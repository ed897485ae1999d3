"""The TextMate grammar of `.rnn` specs (editors/rnndsl.tmLanguage.json), for VS Code, Sublime and TextMate.

It is tokenized by tests/textmate.py, a small engine with TextMate's matching
rules, on Python's `re` (the grammar keeps to regex syntax that means the same
in Oniguruma), and on Oniguruma itself, the editors' regex engine, through
`onigurumacffi` (a dev dependency). Its
token classes follow the Pygments lexer (rnndsl.lang.lexer), which this checks
character by character on every spec, example and documented block.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

import pytest
from pygments.token import Comment, Error, Keyword, Name, Number, Operator, Punctuation, String

import rnndsl.lang.lexer
from rnndsl.lang.builtins import FUNCTIONS

from textmate import Grammar, GrammarError, PythonRegex, illegal, unportable

ROOT = Path(__file__).resolve().parents[1]
GRAMMAR_PATH = ROOT / "editors" / "rnndsl.tmLanguage.json"
SPECS = sorted((ROOT / "specs").rglob("*.rnn")) + sorted((ROOT / "examples").glob("*.rnn"))
DOC_BLOCKS = re.findall(r"```rnn\n(.*?)```", (ROOT / "docs" / "language.md").read_text(encoding="utf-8"), re.S)

RAW = json.loads(GRAMMAR_PATH.read_text(encoding="utf-8"))
GRAMMAR = Grammar(RAW)

SAMPLE = ('import "std/lstm.rnn"\n'
          'cell Leaky(units: int, tau: float = 2.0) solver euler {\n'
          '    """A leaky unit."""\n'
          '    notation tau = "\\\\tau"\n'
          '    param W: [units, in] ~ glorot_uniform fixed  # not trained\n'
          '    d/dt h = (-h + tanh(W @ x[t])) / tau * 1e-3\n'
          '    output h\n'
          '}\n'
          'network Net {\n'
          '    y = Leaky(units=4) >> Leaky(units=2)\n'
          '}\n')


def _found(text: str, grammar: Grammar = GRAMMAR) -> set:
    """(text, innermost scope) of every token but whitespace."""
    return {(t.text, t.scopes[-1]) for t in grammar.tokenize(text) if t.text.strip()}


# ---------------------------------------------------------------- the file

def test_the_grammar_is_json_for_source_rnn():
    assert RAW["scopeName"] == "source.rnn"
    assert RAW["fileTypes"] == ["rnn"]
    assert RAW["name"] == "rnndsl"
    # every include resolves and every regex compiles (Grammar raises GrammarError otherwise)
    assert GRAMMAR.patterns and set(RAW["repository"]) == {i["include"][1:] for i in RAW["patterns"]}


def test_builtins_are_the_functions_of_rnndsl_builtins():
    match = re.fullmatch(r"\(\?:([a-z_|]+)\)\(\?=\[ \\t\\f\\r\]\*\\\(\)", RAW["repository"]["builtin"]["match"])
    assert match, RAW["repository"]["builtin"]["match"]
    assert match.group(1).split("|") == sorted(FUNCTIONS)


def _words(key: str, index: int = -1) -> set:
    rule = RAW["repository"][key]
    match = (rule["patterns"][index] if "patterns" in rule else rule)["match"]
    return set(re.search(r"\(\?:([a-z_|]+)\)", match).group(1).split("|"))


def test_word_classes_are_the_pygments_lexers():
    declarations = _words("declaration") | {"import"}
    assert declarations == set(rnndsl.lang.lexer.DECLARATIONS)
    assert _words("keyword") == set(rnndsl.lang.lexer.KEYWORDS)
    assert _words("constant") == set(rnndsl.lang.lexer.CONSTANTS)


def test_regexes_mean_the_same_in_oniguruma_and_python():
    regexes = list(GRAMMAR.regexes())
    assert len(regexes) > 15
    assert {r: unportable(r) for r in regexes if unportable(r)} == {}
    # the check itself refuses what differs
    for bad in (r"\bcell\b", r"\w+", r"\s", "a$", "^a", "[[a]]", "[a&&b]", "(?i)t", "a{2}"):
        assert unportable(bad), bad


# ---------------------------------------------------------------- no illegal tokens where the language is valid

@pytest.mark.parametrize("path", SPECS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_spec_has_no_illegal_tokens(path):
    assert not illegal(GRAMMAR.tokenize(path.read_text(encoding="utf-8")))


def test_the_documented_examples_have_no_illegal_tokens():
    assert len(DOC_BLOCKS) > 10
    for block in DOC_BLOCKS:
        assert not illegal(GRAMMAR.tokenize(block)), block


# ---------------------------------------------------------------- scopes

def test_scopes_of_a_sample():
    found = _found(SAMPLE)
    assert ("import", "keyword.control.import.rnn") in found
    assert ("cell", "storage.type.rnn") in found and ("network", "storage.type.rnn") in found
    assert ("Leaky", "entity.name.type.rnn") in found and ("Net", "entity.name.type.rnn") in found
    assert ("Leaky", "variable.other.rnn") in found  # a cell used in a network is a name
    assert ("notation", "storage.type.rnn") in found
    assert ("param", "storage.type.rnn") in found and ("output", "storage.type.rnn") in found
    assert ("solver", "keyword.other.rnn") in found and ("fixed", "keyword.other.rnn") in found
    assert ("in", "keyword.other.rnn") in found
    assert ("t", "constant.language.rnn") in found
    assert ("tau", "variable.other.rnn") in found  # a name that starts like the time index `t`
    assert ("d/dt", "keyword.operator.derivative.rnn") in found
    assert ("tanh", "support.function.builtin.rnn") in found
    assert ("1e-3", "constant.numeric.rnn") in found and ("2.0", "constant.numeric.rnn") in found
    assert ("@", "keyword.operator.arithmetic.rnn") in found
    assert ("~", "keyword.operator.initializer.rnn") in found
    assert (">>", "keyword.operator.chain.rnn") in found
    assert ("=", "keyword.operator.assignment.rnn") in found
    assert ("{", "punctuation.section.braces.begin.rnn") in found
    assert (",", "punctuation.separator.comma.rnn") in found
    assert ("#", "punctuation.definition.comment.rnn") in found
    assert (" not trained", "comment.line.number-sign.rnn") in found
    assert ("A leaky unit.", "string.quoted.docstring.rnn") in found
    assert ('"""', "punctuation.definition.string.begin.rnn") in found
    assert ("std/lstm.rnn", "string.quoted.double.rnn") in found
    assert ("\\\\", "constant.character.escape.rnn") in found
    assert ("inputs", "variable.other.rnn") in _found("inputs = x\n")  # a keyword's prefix is a name


def test_a_builtin_only_before_a_call():
    found = _found("sum = tanh (x) + sum_x(y) + tanhx + maximum(a, b) + log_softmax(z)\n")
    assert ("tanh", "support.function.builtin.rnn") in found
    assert ("maximum", "support.function.builtin.rnn") in found
    assert ("log_softmax", "support.function.builtin.rnn") in found
    assert ("sum", "variable.other.rnn") in found and ("sum", "support.function.builtin.rnn") not in found
    assert ("sum_x", "variable.other.rnn") in found and ("tanhx", "variable.other.rnn") in found


def test_d_dt_is_one_token_and_d_dtau_is_a_division():
    assert ("d/dt", "keyword.operator.derivative.rnn") in _found("d/dt h = -h\n")
    found = _found("y = d/dtau\n")
    assert ("d", "variable.other.rnn") in found and ("dtau", "variable.other.rnn") in found
    assert ("/", "keyword.operator.arithmetic.rnn") in found


def test_a_docstring_over_several_lines():
    text = ('cell C {\n'
            '    """First line, "quoted" $ é,\n'
            '    # not a comment\n'
            '    last line."""  h = 1e-3\n'
            '}\n')
    tokens = GRAMMAR.tokenize(text)
    inside = [t for t in tokens if "string.quoted.docstring.rnn" in t.scopes]
    assert "".join(t.text for t in inside) == text[text.index('"""'):text.index('."""') + 4]
    assert [t.line for t in inside if t.text == '"""'] == [1, 3]
    assert not illegal(tokens)
    after = [(t.text, t.scopes[-1]) for t in tokens if t.line == 3 and "string.quoted.docstring.rnn" not in t.scopes]
    assert ("h", "variable.other.rnn") in after and ("1e-3", "constant.numeric.rnn") in after


# ---------------------------------------------------------------- what the language rejects

def test_a_dollar_is_illegal():
    assert ("$", "invalid.illegal.rnn") in _found("h = $x\n")


@pytest.mark.parametrize("char", ["$", "`", "?", "!", ";", "'", "\\", ".", "é", "\u00a0", "\v", "\u2212"])
def test_characters_the_language_rejects_are_illegal_outside_strings_and_comments(char):
    assert [t.text for t in illegal(GRAMMAR.tokenize(f"h = x {char} y\n"))] == [char]
    quoted = "\\\\" if char == "\\" else char  # a backslash in a string escapes the next character
    assert not illegal(GRAMMAR.tokenize(f'h = x  # {char}\nn = "{quoted}"\n"""{quoted}"""\n'))


def test_not_equal_is_an_operator_and_a_lone_bang_is_not():
    assert ("!=", "keyword.operator.comparison.rnn") in _found("y = a != b\n")


def test_an_unterminated_string_ends_illegally_at_the_end_of_its_line():
    tokens = GRAMMAR.tokenize('import "std/lstm.rnn\ncell C {}\n')
    assert [(t.line, t.text) for t in illegal(tokens)] == [(0, "\n")]
    assert ("C", "entity.name.type.rnn") in {(t.text, t.scopes[-1]) for t in tokens}


# ---------------------------------------------------------------- the same classes as the Pygments lexer

@lru_cache(maxsize=None)
def _tm_class(scopes: tuple):
    joined = " ".join(scopes)
    for prefix, kind in (("invalid.illegal", "error"), ("string.quoted.docstring", "doc"),
                         ("string.quoted.double", "string"), ("comment", "comment"),
                         ("entity.name.type", "class"), ("keyword.operator.derivative", "word-operator"),
                         ("keyword.operator", "operator"), ("storage.type", "declaration"),
                         ("keyword.control.import", "declaration"), ("keyword.other", "keyword"),
                         ("constant.language", "constant"), ("support.function.builtin", "builtin"),
                         ("variable.other", "name"), ("constant.numeric", "number"),
                         ("punctuation", "punctuation")):
        if re.search(rf"(^| ){re.escape(prefix)}(\.| |$)", joined):
            return kind
    return None


def _pygments_class(ttype, value: str):
    for parent, kind in ((Error, "error"), (String.Doc, "doc"), (String.Double, "string"), (Comment, "comment"),
                         (Name.Class, "class"), (Operator.Word, "word-operator"), (Operator, "operator"),
                         (Keyword.Declaration, "declaration"), (Keyword.Constant, "constant"),
                         (Keyword, "keyword"), (Name.Builtin, "builtin"), (Name, "name"), (Number, "number"),
                         (Punctuation, "punctuation")):
        if ttype in parent:
            return kind
    return None


def _differences(text: str) -> list:
    """(line, column, character, TextMate's class, Pygments') wherever the two disagree but on whitespace."""
    starts = [0]
    for line in text.split("\n"):
        starts.append(starts[-1] + len(line) + 1)
    ours = {}
    for t in GRAMMAR.tokenize(text):
        for k in range(len(t.text)):
            ours[starts[t.line] + t.start + k] = _tm_class(t.scopes)
    theirs = {}
    for index, ttype, value in rnndsl.lang.lexer.RnnLexer().get_tokens_unprocessed(text):
        for k in range(len(value)):
            theirs[index + k] = _pygments_class(ttype, value)
    return [(text.count("\n", 0, i) + 1, i - text.rfind("\n", 0, i), text[i], ours.get(i), theirs.get(i))
            for i, ch in enumerate(text) if ch not in " \t\f\r\n" and ours.get(i) != theirs.get(i)]


def test_token_classes_are_the_pygments_lexers_on_every_spec_and_documented_block():
    texts = {str(p.relative_to(ROOT)): p.read_text(encoding="utf-8") for p in SPECS}
    texts.update({f"docs/language.md block {i}": block for i, block in enumerate(DOC_BLOCKS)})
    texts["sample"] = SAMPLE
    texts["edges"] = ('inputs = d/dtau + tau ** .5e+3 - 1.e5 >> sum_x(cellx, maximum (a, b)) # c\n'
                      'n = "a\\"b" $ ? é != <= >= == < > ~ ,:[]{}()\n'
                      'none, true, false, t, tt, t1, over_, xin, in_, network2\n')
    differences = {name: d[:5] for name, text in texts.items() if (d := _differences(text))}
    assert differences == {}


# ---------------------------------------------------------------- Oniguruma

def test_oniguruma_tokenizes_every_spec_and_documented_block_the_same():
    from textmate import OnigurumaRegex

    oniguruma = Grammar(RAW, OnigurumaRegex)
    texts = [p.read_text(encoding="utf-8") for p in SPECS] + DOC_BLOCKS + [SAMPLE]
    texts.append('h = $x ` ? ! é \u00a0 \v "a\\\n"""b\\\nc""" d/dtau 1.e5 .5\n')
    for text in texts:
        assert oniguruma.tokenize(text) == GRAMMAR.tokenize(text), text


# ---------------------------------------------------------------- the engine

def test_the_engine_follows_textmate_matching_rules():
    toy = Grammar({
        "scopeName": "source.toy",
        "patterns": [{"include": "#block"}, {"include": "#words"}],
        "repository": {
            "block": {"name": "meta.block.toy", "contentName": "meta.inside.toy",
                      "begin": r"(\{)", "end": r"(\})", "captures": {"1": {"name": "punctuation.toy"}},
                      "patterns": [{"include": "$self"}]},
            "words": {"patterns": [
                {"name": "keyword.first.toy", "match": "ab"},
                {"name": "keyword.second.toy", "match": "abc"},  # loses the tie: rule order
                {"match": "(x(y))z", "captures": {"1": {"name": "outer.toy"}, "2": {"name": "inner.toy"}}},
                {"name": "late.toy", "match": "q"},
            ]},
        },
    })
    tokens = [(t.line, t.text, t.scopes[1:]) for t in toy.tokenize("abc xyz {\nq{ab}\n} q")]
    assert tokens == [
        (0, "ab", ("keyword.first.toy",)),
        (0, "c ", ()),  # text no rule matches keeps the enclosing scopes
        (0, "x", ("outer.toy",)),
        (0, "y", ("outer.toy", "inner.toy")),
        (0, "z", ()),  # the part of a match outside its captures
        (0, " ", ()),
        (0, "{", ("meta.block.toy", "punctuation.toy")),
        (0, "\n", ("meta.block.toy", "meta.inside.toy")),
        (1, "q", ("meta.block.toy", "meta.inside.toy", "late.toy")),
        (1, "{", ("meta.block.toy", "meta.inside.toy", "meta.block.toy", "punctuation.toy")),
        (1, "ab", ("meta.block.toy", "meta.inside.toy", "meta.block.toy", "meta.inside.toy", "keyword.first.toy")),
        (1, "}", ("meta.block.toy", "meta.inside.toy", "meta.block.toy", "punctuation.toy")),
        (1, "\n", ("meta.block.toy", "meta.inside.toy")),
        (2, "}", ("meta.block.toy", "punctuation.toy")),
        (2, " ", ()),
        (2, "q", ("late.toy",)),
        (2, "\n", ()),
    ]
    with pytest.raises(GrammarError):
        Grammar({"scopeName": "source.bad", "patterns": [{"include": "#missing"}]})
    with pytest.raises(GrammarError):
        Grammar({"scopeName": "source.bad", "patterns": [{"match": "x*"}]}).tokenize("y")
    assert PythonRegex("(a)|(b)").search("xb", 0) == [(1, 2), None, (1, 2)]
