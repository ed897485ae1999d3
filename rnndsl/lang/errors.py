"""Diagnostics: every problem with a spec or a command line is an `RnnDslError`.

An error carries a code, a one-line message, the span it points at (with a
short label printed under the caret), notes, and a trail of further spans (a
cycle, one step per line). `render()` prints it so:

    error[E0302]: shape mismatch in `+`: [units] vs [in]
      --> specs/std/cells.rnn:7:21
       |
     7 |     f[t] = sigmoid(W_f @ x[t] + U_f @ h + b_f)
       |                    ^^^^^^^^^^^^ [in]
       = note: `in` is bound to 32 by `Tagger` at examples/tagger.rnn:6:12

Error codes by stage: E01xx syntax, E02xx names and declarations (resolve),
E03xx shapes and types (infer), E04xx causality, E05xx imports, E09xx usage;
warnings (lint) W01xx.
"""

from __future__ import annotations

import difflib
from typing import Iterable, Optional, Sequence

from .ast import Span

class RnnDslError(Exception):
    """A problem with a spec or a command line; `render()` gives the full diagnostic."""

    code = "E0000"
    severity = "error"  # what `render` calls it: an error, or a warning (SpecWarning)

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
        lines = [f"{self.severity}[{self.code}]: {cut(self.message)}"]
        if self.span is not None:
            lines += _snippet(self.span, self.label)
        for span, label in self.trail:
            lines += _snippet(span, label)
        pad = " " * (_gutter(self.span) + 1)
        lines += [f"{pad}= note: {cut(note)}" for note in self.notes]
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


class SpecWarning(RnnDslError):
    """A spec that checks but may not say what its writer meant (rnndsl.lang.lint, codes W01xx): `rnndsl
    check` prints it and exits 0, or 1 with `--deny-warnings`."""

    code = "W0100"
    severity = "warning"


class UsageError(RnnDslError):
    """A bad command line or an unreadable input file: the CLI exits 2 and prints one line."""

    code = "E0901"

    def render(self) -> str:
        return f"error: {cut(self.message)}"


class LayoutError(UsageError):
    """Graphviz's `dot` ran but gave no drawing (it exited non-zero): one line, as for a
    missing `dot`, with dot's own first error line."""


class DataError(RnnDslError):
    """Data that does not fit the model (a missing array, a wrong shape): one line, and the CLI exits 1."""

    code = "E0701"

    def render(self) -> str:
        return f"error[{self.code}]: {cut(self.message)}"


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


# The widest source line a diagnostic shows, and the longest message or note: longer
# ones are cut around what they point at (a 50 MB line must not become 50 MB of stderr).
MAX_SHOWN_COLUMNS = 100
MAX_MESSAGE = 300


def cut(text: str, limit: int = MAX_MESSAGE) -> str:
    """`text`, cut to `limit` characters with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _line(text: str, number: int) -> str:
    """Line `number` (from 1) of `text`, lines split at \n alone as the lexer counts them; ""
    past the end. Found by scanning to it, not by splitting the whole text."""
    at = 0
    for _ in range(number - 1):
        at = text.find("\n", at) + 1
        if at == 0:
            return ""
    end = text.find("\n", at)
    return text[at:] if end < 0 else text[at:end]


def _snippet(span: Span, label: str) -> list[str]:
    width = _gutter(span)
    pad = " " * (width + 1)
    out = [f"{' ' * width}--> {span}"]
    text = span.text
    if text is None or span.line < 1:
        return out
    raw = _line(text, span.line).rstrip("\r")
    first_column = max(0, span.column - 1 - MAX_SHOWN_COLUMNS)  # enough of a long line to show the span
    raw = raw[first_column : span.column - 1 + 2 * MAX_SHOWN_COLUMNS]
    column = span.column - first_column
    # Control characters would garble the terminal: show them as `?` (one column each).
    line_text = "".join(c if c == "\t" or c.isprintable() else "?" for c in raw)
    expanded = line_text.expandtabs(4)
    start = len(line_text[: column - 1].expandtabs(4))
    if span.end_line == span.line:
        end = len(line_text[: max(span.end_column - first_column - 1, column)].expandtabs(4))
    else:
        end = len(expanded.rstrip())
    shown, start, end = _window(expanded, start, end, cut_before=first_column > 0)
    carets = "^" * max(1, end - start)
    under = (" " * start + carets + (" " + cut(label) if label else "")).rstrip()
    out += [f"{pad}|", f"{span.line:>{width}} | {shown}".rstrip(), f"{pad}| {under}"]
    return out


def _window(line: str, start: int, end: int, cut_before: bool = False) -> tuple:
    """(what to show of `line`, start and end of the span in it): a line wider than
    MAX_SHOWN_COLUMNS is cut to a window around the span, with `…` where it was cut."""
    if len(line) <= MAX_SHOWN_COLUMNS and not cut_before:
        return line, start, end
    left = 0 if start < MAX_SHOWN_COLUMNS * 2 // 3 and not cut_before \
        else max(0, min(start - MAX_SHOWN_COLUMNS // 3, len(line) - MAX_SHOWN_COLUMNS))
    right = left + MAX_SHOWN_COLUMNS
    before = "…" if left > 0 or cut_before else ""
    after = "…" if right < len(line) else ""
    shift = len(before) - left
    return before + line[left:right] + after, start + shift, min(end, right) + shift


def did_you_mean(name: str, candidates: Iterable[str]) -> list[str]:
    """A 'did you mean' note for a misspelt name, or none."""
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    return [f"did you mean `{close[0]}`?"] if close else []
