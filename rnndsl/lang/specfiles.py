"""Where spec text comes from, and what rnndsl reads to get it.

A spec is read from three places only, each with its rules:

- **a file the user names** (`rnndsl check FILE`, `rnndsl.load(path)`): `read_spec`
  reads a regular file (a folder, a FIFO or a device is refused, never waited
  on) of at most `MAX_SPEC_BYTES`, as UTF-8 (a byte-order mark is dropped) with no
  NUL byte;
- **an import** (`import "lib/lstm.rnn"`): the path is relative, `/`-separated,
  with no `..`, `.` or empty part, and names a `.rnn` file. `SearchPath` looks
  for it in the importing file's folder, then in the standard library, then in
  each folder given explicitly (`--path DIR`, then `RNNDSL_PATH`). The file is
  read as above; one that does not parse from its first statement is "not an
  rnndsl spec", and none of its text is quoted;
- **a saved model**: its config carries every spec text it needs, and
  `CarriedTexts` finds imports among those texts alone, reading no file.

Spec text given as a string (`rnndsl.load(text)`) is held to the same size limit.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Iterable, Optional, Sequence, Union

from .errors import SpecImportError, UsageError, cut

# The largest spec rnndsl reads or compiles. The standard library's largest file is
# about 10 KiB; a spec of a megabyte is surely not one a person wrote.
MAX_SPEC_BYTES = 1 << 20

# The environment variable of folders to search for imports after the standard library,
# separated as PATH is (`:`, or `;` on Windows).
PATH_VARIABLE = "RNNDSL_PATH"


@dataclass(frozen=True)
class SpecText:
    """A spec's text, the name its diagnostics give it, and where its own imports start.

    `folder` is None for a text that imports only among carried texts (a saved model's);
    `key` tells one file from another (a file imported twice is read once)."""

    name: str
    text: str
    folder: Optional[Path]
    key: object


def display_path(path: Path) -> str:
    """`path` as diagnostics show it: relative to the current folder when under it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        return path.as_posix()
    return path.as_posix() if rel.startswith("..") else Path(rel).as_posix()


def stdlib_root() -> Path:
    """The standard library of specs (`specs/` in the repository, `rnndsl/specs` installed)."""
    return Path(str(resources.files("rnndsl.specs")))


def check_size(text: str, name: str) -> None:
    """Refuse spec text over MAX_SPEC_BYTES (a UsageError)."""
    if len(text) > MAX_SPEC_BYTES:  # characters: a bound on the bytes too, within 4x
        raise UsageError(f"{name} is {_size(len(text.encode('utf-8', 'surrogatepass')))}: "
                         f"a spec is at most {_size(MAX_SPEC_BYTES)}")


def read_spec(path: Union[str, os.PathLike]) -> str:
    """The text of the spec file the user named; anything unreadable is a `UsageError`."""
    try:
        return read_spec_file(Path(path), display_path(Path(path)))
    except _Unreadable as e:
        raise UsageError(str(e)) from None


class _Unreadable(Exception):
    """Why a spec file cannot be had: a whole message, naming the file as its caller shows it."""


def read_spec_file(path: Path, shown: str) -> str:
    """The text of `path`, named `shown` in messages: a regular file of at most MAX_SPEC_BYTES, UTF-8
    (a byte-order mark dropped) with no NUL byte. Raises `_Unreadable`.

    Opened without blocking and checked on the open descriptor, so that a FIFO or a device (or
    one swapped in after a check) is refused, never waited on; read no further than the limit."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise _Unreadable(f"no such file: {shown}") from None
    except IsADirectoryError:
        raise _Unreadable(f"{shown} is a directory, not a spec file") from None
    except (OSError, ValueError) as e:
        raise _Unreadable(f"cannot read {shown}: {_reason(e)}") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise _Unreadable(f"{shown} is a directory, not a spec file")
        if not stat.S_ISREG(info.st_mode):
            raise _Unreadable(f"{shown} is not a regular file: a spec is read from a file, not a device or a pipe")
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(MAX_SPEC_BYTES + 1)
    except OSError as e:
        raise _Unreadable(f"cannot read {shown}: {_reason(e)}") from None
    finally:
        os.close(fd)
    if len(data) > MAX_SPEC_BYTES:
        raise _Unreadable(f"{shown} is over {_size(MAX_SPEC_BYTES)}: a spec is at most {_size(MAX_SPEC_BYTES)}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise _Unreadable(f"{shown} is not UTF-8 text (byte {e.start} is 0x{data[e.start]:02x})") from None
    if "\x00" in text:
        raise _Unreadable(f"{shown} is binary, not a spec file (it contains NUL bytes)")
    return text


def _reason(e: Exception) -> str:
    if isinstance(e, ValueError):  # a NUL byte in the path
        return "the path contains a NUL byte"
    return e.strerror or type(e).__name__


def _size(n: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} bytes"


# ---------------------------------------------------------------- imports


def import_problem(path: str) -> Optional[str]:
    """Why an import path is not allowed, or None: relative, `/`-separated, no `..`, `.`
    or empty part, ending in `.rnn`."""
    if not path:
        return "the import path is empty"
    if "\x00" in path:
        return "the import path contains a NUL byte"
    if "\\" in path:
        return "an import path separates its parts with `/`, not `\\`"
    if path.startswith("/") or (len(path) > 1 and path[1] == ":"):
        return "an import path is relative: absolute paths are not imported"
    parts = path.split("/")
    if ".." in parts:
        return "an import path may not go up a folder (`..`)"
    if "" in parts or "." in parts:
        return "an import path has no empty or `.` part"
    if not path.endswith(".rnn"):
        return "an import names a `.rnn` spec file"
    return None


IMPORT_POLICY = ("imports are looked for next to the importing file, then in the standard library, "
                 "then in the folders of --path and RNNDSL_PATH")


class SearchPath:
    """Finds imports on the file system: the importing file's folder, the standard library,
    then `folders` (from `--path` and RNNDSL_PATH)."""

    def __init__(self, folders: Sequence[Union[str, os.PathLike]] = ()):
        self.folders = tuple(Path(f) for f in folders)

    @classmethod
    def from_environment(cls, folders: Iterable[Union[str, os.PathLike]] = ()) -> "SearchPath":
        """`folders`, then those of RNNDSL_PATH."""
        listed = os.environ.get(PATH_VARIABLE, "")
        return cls(list(folders) + [f for f in listed.split(os.pathsep) if f])

    def roots(self, importing_folder: Optional[Path]) -> list:
        return ([importing_folder] if importing_folder is not None else []) + [stdlib_root(), *self.folders]

    def find(self, path: str, importing_folder: Optional[Path]) -> SpecText:
        """The spec `path` names; raises `SpecImportError` (with no span) when it cannot be had."""
        problem = import_problem(path)
        if problem is not None:
            raise SpecImportError(f"cannot import `{cut(path, 60)}`: {problem}", label="not an allowed import path",
                                  notes=[IMPORT_POLICY], code="E0504")
        roots = self.roots(importing_folder)
        for root in roots:
            candidate = root.joinpath(*path.split("/"))
            try:
                os.stat(candidate)
            except (FileNotFoundError, NotADirectoryError):
                continue
            except OSError as e:  # a link loop, a name too long, a folder it may not enter
                raise SpecImportError(f"cannot read `{cut(path, 60)}`: {_reason(e)}",
                                      label="cannot read this import", code="E0503") from None
            # A link is followed: one the user made is theirs to make (a spec cannot make one).
            real = Path(os.path.realpath(candidate))
            name = display_path(real)
            try:
                text = read_spec_file(real, name)
            except _Unreadable as e:
                raise SpecImportError(str(e), label="cannot read this import", code="E0503") from None
            return SpecText(name, text, real.parent, real)
        places = ([display_path(importing_folder)] if importing_folder is not None else []) \
            + [f"the standard library ({display_path(stdlib_root())})"] + [display_path(f) for f in self.folders]
        notes = [f"looked in {', '.join(places[:-1])} and {places[-1]}" if len(places) > 1 else f"looked in {places[0]}"]
        if not self.folders:
            notes.append("give other folders to search with --path DIR or RNNDSL_PATH")
        raise SpecImportError(f"cannot find `{cut(path, 60)}`", label="no such spec file", notes=notes,
                              code="E0501")


class CarriedTexts:
    """Finds imports among the spec texts a saved model carries, by their import path; reads no file."""

    def __init__(self, texts: Optional[dict] = None):
        self.texts = dict(texts or {})

    def find(self, path: str, importing_folder: Optional[Path]) -> SpecText:
        if path in self.texts:
            return SpecText(path, self.texts[path], None, path)
        raise SpecImportError(f"cannot import `{path}`: a saved model's spec imports only the texts it carries",
                              label="not carried by the model", code="E0504")
