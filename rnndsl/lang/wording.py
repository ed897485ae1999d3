"""wording: how messages quote what they are about (a value, a cell of a file, a count).

Plain Python, shared by the checks of the front end and the readers of rnndsl.train, so that
one value reads the same in every message.
"""

from __future__ import annotations

import json

__all__ = ["one_line", "cut", "count", "split_names", "show"]


def one_line(message) -> str:
    """`message` on one line: every run of white space one space."""
    return " ".join(str(message).split())


def cut(text, width: int = 20) -> str:
    """A cell of a file as a message quotes it: one line, printable, at most `width` characters."""
    text = "".join(c if c.isprintable() else "?" for c in one_line(text))
    return text if len(text) <= width else text[:width - 1] + "…"


def count(n: int, what: str) -> str:
    """`n` things: "1 pair", "3 pairs"."""
    return f"{n} {what}{'s' * (n != 1)}"


def split_names(listed: str) -> list:
    """The names of a comma-separated list (array names, file paths), each stripped."""
    return [s.strip() for s in listed.split(",")]


def show(value) -> str:
    """A value as a spec writes it (a number of many digits cut short)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return cut(repr(value), 24)
