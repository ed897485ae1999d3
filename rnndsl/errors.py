"""Diagnostics: every problem with a spec or a command line is an `RnnDslError`.

An error carries a code, a one-line message, the span it points at (with a
short label printed under the caret), notes, and a trail of further spans (a
cycle, one step per line). `render()` prints it as DESIGN.md shows:

    error[E0302]: shape mismatch in `+`: [units] vs [in]
      --> specs/std/cells.rnn:7:21
       |
     7 |     f[t] = sigmoid(W_f @ x[t] + U_f @ h + b_f)
       |                    ^^^^^^^^^^^^ [in]
       = note: `in` is bound to 32 by `Tagger` at examples/tagger.rnn:6:12

Error codes by stage: E01xx syntax, E02xx names and declarations (resolve),
E03xx shapes and types (infer), E04xx causality, E05xx imports, E09xx usage.
"""

from __future__ import annotations

import difflib
from typing import Iterable, Optional, Sequence

from .ast import Span

# The text of every file read, by the name its spans carry: diagnostics print lines from it.
SOURCES: dict[str, str] = {}


def register_source(name: str, text: str) -> None:
    SOURCES[name] = text


class RnnDslError(Exception):
    """A problem with a spec or a command line; `render()` gives the full diagnostic."""

    code = "E0000"

    def __init__(
        self,
        message: str,
        span: Optional[Span] = None,
        *,
        label: str = "",
        notes: Sequence[str] = (),
        trail: Sequence[tuple] = (),
        code: Optional[str] = None,
    ):
        super().__init__(message)
        self.message = message
        self.span = span
        self.label = label
        self.notes = list(notes)
        self.trail = list(trail)  # [(span, label)]: further places, printed in order
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.render()

    def render(self) -> str:
        lines = [f"error[{self.code}]: {self.message}"]
        if self.span is not None:
            lines += _snippet(self.span, self.label)
        for span, label in self.trail:
            lines += _snippet(span, label)
        pad = " " * (_gutter(self.span) + 1)
        lines += [f"{pad}= note: {note}" for note in self.notes]
        return "\n".join(lines)


class SpecSyntaxError(RnnDslError):
    code = "E0101"


class ResolveError(RnnDslError):
    code = "E0201"


class ShapeError(RnnDslError):
    code = "E0301"


class CausalityError(RnnDslError):
    code = "E0401"


class SpecImportError(RnnDslError):
    code = "E0501"


class UsageError(RnnDslError):
    """A bad command line or an unreadable input file: the CLI exits 2 and prints one line."""

    code = "E0901"

    def render(self) -> str:
        return f"error: {self.message}"


class LayoutError(UsageError):
    """Graphviz's `dot` ran but gave no drawing (it exited non-zero): one line, as for a
    missing `dot`, with dot's own first error line."""


class DataError(RnnDslError):
    """Data that does not fit the model (a missing array, a wrong shape): one line, and the CLI exits 1."""

    code = "E0701"

    def render(self) -> str:
        return f"error[{self.code}]: {self.message}"


class SpecErrors(RnnDslError):
    """All the errors found in one run, in source order; raised by `rnndsl.load`."""

    code = "E0000"

    def __init__(self, errors: Iterable[RnnDslError]):
        self.errors = sorted(errors, key=_order)
        first = self.errors[0]
        super().__init__(first.message, first.span, code=first.code)

    def render(self) -> str:
        n = len(self.errors)
        summary = f"{n} error{'s' if n != 1 else ''} found"
        return "\n\n".join([e.render() for e in self.errors] + [summary])


def _order(e: RnnDslError):
    s = e.span
    return (s.file, s.line, s.column) if s is not None else ("", 0, 0)


def _gutter(span: Optional[Span]) -> int:
    return len(str(span.line)) + 1 if span is not None else 2


def _snippet(span: Span, label: str) -> list[str]:
    width = _gutter(span)
    pad = " " * (width + 1)
    out = [f"{' ' * width}--> {span}"]
    text = SOURCES.get(span.file)
    if text is None or span.line < 1:
        return out
    source_lines = text.split("\n")  # the lexer counts lines by \n alone
    raw = source_lines[span.line - 1].rstrip("\r") if span.line <= len(source_lines) else ""
    # Control characters would garble the terminal: show them as `?` (one column each).
    line_text = "".join(c if c == "\t" or c.isprintable() else "?" for c in raw)
    expanded = line_text.expandtabs(4)
    start = len(line_text[: span.column - 1].expandtabs(4))
    if span.end_line == span.line:
        end = len(line_text[: max(span.end_column - 1, span.column)].expandtabs(4))
    else:
        end = len(expanded.rstrip())
    carets = "^" * max(1, end - start)
    under = (" " * start + carets + (" " + label if label else "")).rstrip()
    out += [f"{pad}|", f"{span.line:>{width}} | {expanded}".rstrip(), f"{pad}| {under}"]
    return out


def did_you_mean(name: str, candidates: Iterable[str]) -> list[str]:
    """A 'did you mean' note for a misspelt name, or none."""
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    return [f"did you mean `{close[0]}`?"] if close else []
