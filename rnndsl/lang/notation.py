"""notation: the `notation` statements of a cell or a network, a name's LaTeX, checked.

A notation's LaTeX is set in the equations that rnndsl.draw writes, so `check`
refuses what would break them (`latex_problem`).
"""

from __future__ import annotations

from typing import Optional

from . import ast as A
from .errors import ResolveError, did_you_mean


def check_notations(body: tuple, known: list, where: str, errors: list) -> dict:
    """The `notation` statements of a cell's or network's body: name -> LaTeX, each checked."""
    notation: dict = {}
    for stmt in body:
        if not isinstance(stmt, A.Notation):
            continue
        name, latex = stmt.name.id, stmt.latex.value
        if stmt.word is not None and stmt.word.id != "notation":
            errors.append(ResolveError(
                f"unknown statement `{stmt.word.id} {name} = \"...\"`", stmt.word.span, label="not a statement",
                notes=did_you_mean(stmt.word.id, ["notation"]) + ['a name\'s LaTeX is given by `notation NAME = "..."`'],
                code="E0234"))
        elif name not in known:
            errors.append(ResolveError(
                f"notation for `{name}`, which this {where} does not declare", stmt.name.span,
                label="not a name of this " + where, notes=did_you_mean(name, known), code="E0232"))
        elif name in notation:
            errors.append(ResolveError(f"notation for `{name}` is given twice", stmt.name.span,
                                       label="second notation", code="E0204"))
        elif problem := latex_problem(latex):
            escapes = ["a string turns `\\t` into a tab and `\\n` into a newline: write a LaTeX backslash "
                       "as `\\\\`, as in `notation h_tilde = \"\\\\tilde{h}\"`"] if "control" in problem else []
            errors.append(ResolveError(f"the notation for `{name}` {problem}", stmt.latex.span,
                                       label="not usable LaTeX", notes=escapes, code="E0233"))
        else:
            notation[name] = latex
    return notation


def latex_problem(latex_text: str) -> Optional[str]:
    """Why `latex_text`, a `notation` statement's string, cannot stand for a name in an equation; or None.

    It is set in math mode inside an `align` row, so it must not end a group or a row early: balanced
    braces, no `$`, `%`, `#` or `&`, no control characters, and no `\\`, `^` or `_` with nothing after it."""
    if not latex_text.strip():
        return "is empty"
    if any(ord(c) < 32 for c in latex_text):
        return "contains a control character (a tab or a newline)"
    depth, i = 0, 0
    while i < len(latex_text):
        c = latex_text[i]
        if c == "\\":
            if i + 1 == len(latex_text):
                return "ends in a backslash"
            i += 2  # an escaped character: \{ \$ \% \\
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth < 0:
                return "closes a brace it did not open"
        elif c == "$":
            return "contains `$`: give the math itself, without dollar signs"
        elif c in "%#&":
            return f"contains `{c}`, which LaTeX reads as markup: write `\\\\{c}`"
        elif c in "^_" and not latex_text[i + 1:].strip():
            return f"ends in `{c}`, with nothing to raise or lower"
        i += 1
    if depth:
        return "leaves a brace open"
    return None
