"""textmate: a small TextMate tokenizer for testing editors/rnndsl.tmLanguage.json.

It implements the subset of TextMate grammar semantics that the grammar uses,
the way vscode-textmate does:

* the text is tokenized a line at a time; each line is searched with a "\\n"
  appended (vscode-textmate does the same), so a rule can see the line's end;
* a rule is a `match` rule (with `name` and `captures`), a `begin`/`end` rule
  (`name`, `contentName`, `beginCaptures`, `endCaptures`, `captures` for both,
  and `patterns` for its content), or a list of `patterns`; `include` names
  `#key` in the `repository`, `$self` or `$base` (the grammar's top patterns);
* at a position, every candidate rule is searched from there; the leftmost
  match wins and, among matches that start at the same place, the first rule
  in order; the open `end` pattern counts first, before the content patterns
  (`applyEndPatternLast` is not supported);
* a begin/end rule stays open across lines until its `end` matches;
* text that no rule matches keeps the enclosing scopes.

Not supported, and rejected with GrammarError where it would matter: injections,
`while`, back-references from `end` to `begin` captures, `applyEndPatternLast`,
includes of other grammars (`source.x`), and rules that match the empty string
without opening or closing a begin/end rule (vscode-textmate stops such loops;
here they are an error of the grammar).

The regex engine is pluggable. `PythonRegex` (the default) uses `re`: the grammar
restricts itself to syntax that means the same in Oniguruma, the engine of the
editors (editors/README.md lists the restrictions). `OnigurumaRegex` uses
Oniguruma itself through the `onigurumacffi` package (a dev dependency), so
that the tests can check that the two agree.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional


class GrammarError(ValueError):
    """The grammar uses something this engine does not implement, or loops."""


@dataclass(frozen=True)
class Token:
    line: int  # 0-based
    start: int  # column of the first character
    text: str
    scopes: tuple  # outermost first; the grammar's scopeName is scopes[0]


# ---------------------------------------------------------------- regex engines

class PythonRegex:
    """A compiled pattern of Python's `re`; search(s, pos) -> Match | None."""

    name = "re"

    def __init__(self, pattern: str):
        try:
            self._re = re.compile(pattern)
        except re.error as err:
            raise GrammarError(f"{pattern!r}: {err}") from err
        self.groups = self._re.groups

    def search(self, s: str, pos: int):
        m = self._re.search(s, pos)
        if m is None:
            return None
        return [m.span(i) if m.start(i) >= 0 else None for i in range(self.groups + 1)]


class OnigurumaRegex:
    """A compiled pattern of Oniguruma (onigurumacffi), the regex engine of TextMate editors."""

    name = "oniguruma"

    def __init__(self, pattern: str):
        import onigurumacffi

        try:
            self._re = onigurumacffi.compile(pattern)
        except onigurumacffi.OnigError as err:
            raise GrammarError(f"{pattern!r}: {err}") from err
        self.groups = self._re.number_of_captures()

    def search(self, s: str, pos: int):
        m = self._re.search(s, pos)
        if m is None:
            return None
        # a group that did not take part has the byte offset -1 (onigurumacffi's _Match._begs)
        return [m.span(i) if m._begs[i] >= 0 else None for i in range(self.groups + 1)]


# ---------------------------------------------------------------- rules

@dataclass(eq=False)
class _Match:
    regex: object
    name: Optional[str]
    captures: dict


@dataclass(eq=False)
class _BeginEnd:
    begin: object
    end: object
    name: Optional[str]
    content_name: Optional[str]
    begin_captures: dict
    end_captures: dict
    patterns: list = field(default_factory=list)  # resolved leaf rules, filled after compiling


_UNSUPPORTED = ("while", "applyEndPatternLast", "injections", "injectionSelector")


class Grammar:
    """A TextMate grammar (the JSON form), compiled with one regex engine."""

    def __init__(self, grammar: dict, regex=PythonRegex):
        self.scope_name = grammar["scopeName"]
        self._regex = regex
        self._raw = grammar
        self._repository = grammar.get("repository", {})
        self._compiled: dict = {}  # id(raw rule) -> compiled rule
        self._expanding: set = set()
        for key in _UNSUPPORTED:
            if key in grammar:
                raise GrammarError(f"unsupported key {key!r}")
        self.patterns = self._expand(grammar.get("patterns", []))

    @classmethod
    def load(cls, path, regex=PythonRegex) -> "Grammar":
        return cls(json.loads(Path(path).read_text(encoding="utf-8")), regex)

    # Compiling: every list of patterns becomes a flat list of match and
    # begin/end rules, includes replaced by what they name, in order.

    def _expand(self, patterns: list) -> list:
        out = []
        for raw in patterns:
            out.extend(self._leaves(raw))
        return out

    def _leaves(self, raw: dict) -> list:
        for key in _UNSUPPORTED:
            if key in raw:
                raise GrammarError(f"unsupported key {key!r} in {raw}")
        if "include" in raw:
            ref = raw["include"]
            if ref in ("$self", "$base"):
                target = {"patterns": self._raw.get("patterns", [])}
                key = ("$self",)
            elif ref.startswith("#"):
                if ref[1:] not in self._repository:
                    raise GrammarError(f"include of a missing repository entry {ref!r}")
                target = self._repository[ref[1:]]
                key = ref
            else:
                raise GrammarError(f"include of another grammar {ref!r}")
            if key in self._expanding:  # a cycle of includes within one list adds nothing new
                return []
            self._expanding.add(key)
            try:
                return self._leaves(target)
            finally:
                self._expanding.discard(key)
        if "match" in raw:
            return [self._compile_match(raw)]
        if "begin" in raw:
            return [self._compile_begin_end(raw)]
        if "patterns" in raw:
            return self._expand(raw["patterns"])
        raise GrammarError(f"a rule with neither match, begin, include nor patterns: {raw}")

    def _captures(self, raw) -> dict:
        out = {}
        for k, v in (raw or {}).items():
            if "patterns" in v:
                raise GrammarError("captures with patterns are not supported")
            if "name" in v:
                out[int(k)] = v["name"]
        return out

    def _compile_match(self, raw: dict) -> _Match:
        if id(raw) not in self._compiled:
            self._compiled[id(raw)] = _Match(self._regex(raw["match"]), raw.get("name"),
                                             self._captures(raw.get("captures")))
        return self._compiled[id(raw)]

    def _compile_begin_end(self, raw: dict) -> _BeginEnd:
        if id(raw) in self._compiled:
            return self._compiled[id(raw)]
        if "end" not in raw:
            raise GrammarError(f"a begin rule without end: {raw}")
        if re.search(r"(?<!\\)(?:\\\\)*\\[1-9]", raw["end"]):
            raise GrammarError(f"back-references in end are not supported: {raw['end']!r}")
        both = raw.get("captures")
        rule = _BeginEnd(self._regex(raw["begin"]), self._regex(raw["end"]), raw.get("name"),
                         raw.get("contentName"), self._captures(raw.get("beginCaptures", both)),
                         self._captures(raw.get("endCaptures", both)))
        self._compiled[id(raw)] = rule  # before its patterns: they may include it again
        outer, self._expanding = self._expanding, set()  # its patterns are a list of their own
        try:
            rule.patterns = self._expand(raw.get("patterns", []))
        finally:
            self._expanding = outer
        return rule

    def regexes(self) -> Iterator[str]:
        """Every regex source in the grammar (match, begin, end), in file order."""
        def walk(node):
            if isinstance(node, dict):
                for key in ("match", "begin", "end"):
                    if isinstance(node.get(key), str):
                        yield node[key]
                for value in node.values():
                    yield from walk(value)
            elif isinstance(node, list):
                for value in node:
                    yield from walk(value)
        yield from walk(self._raw)

    # Tokenizing

    def tokenize(self, text: str) -> list[Token]:
        """The tokens of `text`, line by line; each line ends with its "\\n" (vscode-textmate's convention)."""
        tokens: list[Token] = []
        stack: list = []  # open begin/end rules: (rule, scopes of the begin/end, scopes of the content)
        base = (self.scope_name,)
        for lineno, line in enumerate(text.split("\n")):
            line += "\n"
            pos, stalls = 0, 0
            while pos < len(line):
                rule, content = (stack[-1][0], stack[-1][2]) if stack else (None, base)
                candidates = ([rule.end] if rule else []) + [r.begin if isinstance(r, _BeginEnd) else r.regex
                                                             for r in (rule.patterns if rule else self.patterns)]
                best, best_i = None, -1
                for i, regex in enumerate(candidates):
                    spans = regex.search(line, pos)
                    if spans is not None and (best is None or spans[0][0] < best[0][0]):
                        best, best_i = spans, i
                        if spans[0][0] == pos:
                            break  # nothing can start further left; later rules lose the tie
                if best is None:
                    self._emit(tokens, lineno, line, pos, len(line), content)
                    break
                start, end = best[0]
                self._emit(tokens, lineno, line, pos, start, content)
                if rule is not None and best_i == 0:  # the open rule ends
                    outer = stack[-1][1]
                    self._emit_captured(tokens, lineno, line, best, outer, rule.end_captures)
                    stack.pop()
                else:
                    chosen = (rule.patterns if rule else self.patterns)[best_i - (1 if rule else 0)]
                    scopes = content + ((chosen.name,) if chosen.name else ())
                    if isinstance(chosen, _BeginEnd):
                        self._emit_captured(tokens, lineno, line, best, scopes, chosen.begin_captures)
                        inner = scopes + ((chosen.content_name,) if chosen.content_name else ())
                        stack.append((chosen, scopes, inner))
                    else:
                        if start == end:
                            raise GrammarError(f"line {lineno + 1}: an empty match of {chosen.regex!r} loops")
                        self._emit_captured(tokens, lineno, line, best, scopes, chosen.captures)
                stalls = stalls + 1 if end == pos else 0
                if stalls > 100:
                    raise GrammarError(f"line {lineno + 1}: empty begin/end matches loop at column {pos}")
                pos = end
        return tokens

    @staticmethod
    def _emit(tokens, lineno, line, start, end, scopes):
        if end > start:
            tokens.append(Token(lineno, start, line[start:end], scopes))

    @staticmethod
    def _emit_captured(tokens, lineno, line, spans, scopes, captures):
        """The tokens of one match: each character gets the scopes of the groups around it."""
        start, end = spans[0]
        if start == end:
            return
        # groups in the order TextMate nests them: by start, the wider first, then by number
        groups = sorted(((spans[g], g) for g in captures if g < len(spans) and spans[g] and spans[g][1] > spans[g][0]),
                        key=lambda sg: (sg[0][0], -sg[0][1], sg[1]))
        run_start, run_scopes = start, None
        for col in range(start, end + 1):
            here = None if col == end else scopes + tuple(
                captures[g] for (s, e), g in groups if s <= col < e)
            if here != run_scopes:
                if run_scopes is not None:
                    tokens.append(Token(lineno, run_start, line[run_start:col], run_scopes))
                run_start, run_scopes = col, here


def illegal(tokens: list[Token]) -> list[Token]:
    """The tokens with an invalid.illegal scope."""
    return [t for t in tokens if any(s.startswith("invalid.illegal") for s in t.scopes)]


# ---------------------------------------------------------------- portable regexes

# Escapes that mean the same in Oniguruma (Ruby syntax, UTF-8, as editors use it)
# and in Python's `re`: escaped punctuation, and \n \t \f \r. Left out on purpose:
# \b \B \w \W \d \D \s \S \h \H (Unicode classes that differ between the two; \h is
# a hex digit in Oniguruma and an error in re), \A \z \Z \G, \p{..}, \x.., \u.., \1.
PORTABLE_ESCAPES = frozenset('\\.()[]{}*+?|/-"#ntfr')
_GROUPS = ("(?:", "(?=", "(?!", "(?<=", "(?<!")


def unportable(pattern: str) -> list[str]:
    """What in `pattern` may not mean the same in Oniguruma and in Python `re` (empty: portable).

    Besides the escapes above, it refuses the anchors ^ and $ (Oniguruma's are
    line anchors, Python's are not), unescaped braces, groups other than (?:),
    (?=), (?!), (?<=), (?<! (no inline flags, named or atomic groups),
    possessive quantifiers, and inside a character class: `[` (a nested class
    in Oniguruma), `&&` (an intersection in Oniguruma), doubled `-`, `~`, `|`
    (future set operators in Python) and a `]` that comes first.
    """
    problems = []
    i, in_class, class_start = 0, False, -1
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            if pattern[i + 1:i + 2] not in PORTABLE_ESCAPES:
                problems.append(f"the escape \\{pattern[i + 1:i + 2]}")
            i += 2
            continue
        if in_class:
            if c == "]":
                if i == class_start + 1:
                    problems.append("a ] first in a character class")
                in_class = False
            elif c == "[":
                problems.append("a [ inside a character class")
            elif pattern[i:i + 2] in ("&&", "--", "~~", "||"):
                problems.append(f"{pattern[i:i + 2]} inside a character class")
        elif c == "[":
            in_class, class_start = True, i + (1 if pattern[i + 1:i + 2] == "^" else 0)
        elif c in "^$":
            problems.append(f"the anchor {c}")
        elif c in "{}":
            problems.append(f"an unescaped {c}")
        elif c == "(" and pattern[i + 1:i + 2] == "?" and not pattern.startswith(_GROUPS, i):
            problems.append(f"the group {pattern[i:i + 4]}...")
        elif c in "*+?" and pattern[i + 1:i + 2] == "+":
            problems.append(f"the possessive {c}+")
        i += 1
    if in_class:
        problems.append("an unterminated character class")
    return problems
