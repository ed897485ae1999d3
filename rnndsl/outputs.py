"""outputs: the files a command writes, checked before any work and written whole or not at all.

`check_output` refuses an output that cannot be written or that would overwrite an input;
`replace_text` writes over a file keeping its mode (a full disk leaves the old text);
`save_model` saves a Keras model. A failed write is a one-line UsageError.
"""

from __future__ import annotations

import os
from pathlib import Path

from .lang.errors import UsageError

__all__ = ["check_output", "replace_text", "same_file", "save_model"]


def check_output(out: Path, *inputs: str) -> None:
    """Refuse, before any work, an output that cannot be written or that would overwrite an input."""
    for given in inputs:
        if same_file(out, Path(given)):
            raise UsageError(f"the output {out} is the input {given}: it would be overwritten; "
                             "give another -o")
    if out.is_dir():
        raise UsageError(f"cannot write {out}: it is a directory")
    folder = out.parent
    if not folder.is_dir():
        raise UsageError(f"cannot write {out}: there is no folder {folder}")


def replace_text(path: Path, text: str) -> None:
    """Write `text` over the file `path` whole or not at all (a full disk leaves the old text),
    keeping its mode; a file that may not be written is left alone."""
    if not os.access(path, os.W_OK) or not os.stat(path).st_mode & 0o222:
        raise UsageError(f"cannot write {path}: it is read-only")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.chmod(tmp, os.stat(path).st_mode & 0o7777)
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise UsageError(f"cannot write {path}: {e.strerror or e}") from None


def same_file(a: Path, b: Path) -> bool:
    """Whether `a` and `b` are one existing file (by device and inode: a link or another spelling too)."""
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def save_model(model, path: str) -> None:
    """`model.save(path)`, a failed write (a full disk, a read-only file system) a one-line error."""
    try:
        model.save(path)
    except OSError as e:
        raise UsageError(f"cannot write {path}: {e.strerror or e}") from None

