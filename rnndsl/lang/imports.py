"""imports: the files a spec imports, found, read and parsed, each once.

The finder (`rnndsl.lang.specfiles`) knows where an import path leads: next
to the importing file, then the standard library, then the search path (or the
texts a saved model carries). Here: cycles, files read twice, and files that
are not specs at all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from . import ast as A
from .errors import RnnDslError, SpecImportError
from .parse import parse_file


def load_imports(module: A.Module, file: str, folder: Optional[Path], finder, errors: list) -> list:
    """The main module and every module it imports, transitively, each once."""
    seen: set = set()
    out = [(module, file)]
    stack = [(module, folder, [file])]
    while stack:
        mod, directory, chain = stack.pop()
        for imp in mod.imports:
            try:
                found = finder.find(imp.path.value, directory)
            except SpecImportError as e:  # the finder knows why; the import statement says where
                e.span = imp.path.span
                errors.append(e)
                continue
            if found.name in chain:
                errors.append(SpecImportError(
                    f"import cycle: {' -> '.join(chain + [found.name])}", imp.path.span,
                    label="imports a file that imports this one", code="E0502"))
                continue
            if found.key in seen:
                continue
            seen.add(found.key)
            parsed = parse_file(found.text, found.name)
            if parsed.errors and not_a_spec(found.text, parsed.errors[0]):
                errors.append(SpecImportError(
                    f"`{found.name}` is not an rnndsl spec", imp.path.span, label="imports a file of another kind",
                    notes=[f"its line {parsed.errors[0].span.line} is not a statement of the language "
                           f"(see it with `rnndsl check {found.name}`)"], code="E0505"))
                continue
            errors.extend(parsed.errors)
            if parsed.module is None:
                continue
            out.append((parsed.module, found.name))
            stack.append((parsed.module, found.folder, chain + [found.name]))
    return out


def not_a_spec(text: str, first_error: RnnDslError) -> bool:
    """Whether a file whose first syntax error is `first_error` is of another kind altogether:
    the error is on its first line that holds anything but comments. (Its text is then not
    quoted: an import of `/etc/passwd` renamed `.rnn` shows none of its lines.)"""
    for number, line in enumerate(text.split("\n", first_error.span.line)[: first_error.span.line], 1):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            return number >= first_error.span.line
    return True
