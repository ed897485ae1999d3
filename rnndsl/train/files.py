"""files: data files read safely, the text files and the NumPy arrays that data sources read.

Only regular files are read (a FIFO or a device is refused without waiting for a writer; a
symbolic link is followed), text files up to MAX_TEXT_BYTES and array files up to
MAX_ARRAY_BYTES, and an array's size is checked against its file before it is allocated. What
cannot be read raises `FileError` (a `DataError`) with one line naming the file. A data path
is relative to the spec's folder and stays inside it (`data_file`). NumPy only.
"""

from __future__ import annotations

import json
import math
import os
import stat
import zipfile
import zlib
from pathlib import Path

import numpy as np

from ..lang.errors import DataError
from ..lang.sources import path_problem
from ..lang.wording import count, cut, one_line

__all__ = ["MAX_TEXT_BYTES", "MAX_ARRAY_BYTES", "FileError", "WrongFormat", "Archive", "data_file", "read_text",
           "text_lines", "json_lines",
           "open_arrays"]


MAX_TEXT_BYTES = 256 * 2 ** 20  # a text file: csv, tsv, pairs, jsonl, a vocabulary
MAX_ARRAY_BYTES = 2 * 2 ** 30  # an .npy or .npz file, and the arrays read from one .npz archive together


def data_file(base: Path, path: str) -> Path:
    """A data file's path: relative to the spec's folder, and inside it (check_args checks it first)."""
    problem = path_problem(path)
    if problem:
        raise DataError(f"the data path {problem}")
    return base / path


def _size(n: int) -> str:
    """A number of bytes for a message: 2 GiB, 1.5 MiB, 312 bytes."""
    for unit, scale in (("TiB", 2 ** 40), ("GiB", 2 ** 30), ("MiB", 2 ** 20), ("KiB", 2 ** 10)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return count(n, "byte")


class FileError(DataError):
    """A data file that cannot be read: missing, a folder, not a regular file, too large, damaged.
    `file` and `reason` apart, for a caller that words the message its own way."""

    def __init__(self, file, reason: str):
        super().__init__(f"{file}: {reason}")
        self.file, self.reason = file, reason


class WrongFormat(FileError):
    """A readable file of another format than the one asked for (an .npy array for an .npz archive)."""


def _open_file(path: Path, limit: int):
    """The regular file at `path`, open for reading bytes, of at most `limit` bytes; else a FileError.
    A FIFO or a device is refused without waiting for a writer; a symbolic link is followed."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO's open does not wait
    except FileNotFoundError:
        raise FileError(path, "no such file") from None
    except IsADirectoryError:
        raise FileError(path, "a folder, not a file") from None
    except OSError as e:
        raise FileError(path, f"cannot read it: {one_line(e.strerror or e)}") from None
    info = os.fstat(fd)
    if stat.S_ISDIR(info.st_mode):
        problem = "a folder, not a file"
    elif not stat.S_ISREG(info.st_mode):
        problem = "not a regular file (a pipe, a device or a socket): data is read from files only"
    elif info.st_size > limit:
        problem = _too_large(limit)
    else:
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    os.close(fd)
    raise FileError(path, problem)


def _too_large(limit: int) -> str:
    return f"larger than {_size(limit)}, the most a data file of its kind may hold"


def read_text(path: Path) -> str:
    """A text file's contents (UTF-8; a byte-order mark dropped), or a `DataError`."""
    try:
        with _open_file(path, MAX_TEXT_BYTES) as f:
            raw = f.read(MAX_TEXT_BYTES + 1)  # a file that grows, or lies about its size, stops here
    except OSError as e:
        raise FileError(path, f"cannot read it: {one_line(e.strerror or e)}") from None
    if len(raw) > MAX_TEXT_BYTES:
        raise FileError(path, _too_large(MAX_TEXT_BYTES))
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise DataError(f"{path}:{line}: not UTF-8 text") from None


# What reading a damaged .npy stream or .npz archive raises (zipfile: a bad CRC, an encrypted
# member, an unknown compression; zlib: a damaged deflate stream; numpy: a bad header).
_DAMAGED = (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError)


def text_lines(path: Path):
    """(line number, line) of the lines of a text file (read_text's limits) that are not blank."""
    for number, line in enumerate(read_text(path).splitlines(), 1):
        if line.strip():
            yield number, line


def json_lines(path: Path):
    """(line number, `file:line`, value) of each line of a JSON-lines file that is not blank; a DataError for
    a line that is not JSON, or nested too deeply for Python's reader."""
    for number, line in text_lines(path):
        where = f"{path}:{number}"
        try:
            value = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(f"{where}: not JSON: {e.msg} (column {e.colno})") from None
        except RecursionError:
            raise DataError(f"{where}: not JSON that rnndsl reads: nested too deeply") from None
        yield number, where, value


def _read_npy(stream, size: int, file, what: str = "") -> np.ndarray:
    """The array of an .npy stream of `size` bytes (a file, or a member of an .npz archive; `what`
    names the member). Its header is read first: an array larger than the bytes after it, or of
    Python objects, is refused before anything is allocated."""
    where = f"{what}: " if what else ""
    form = np.lib.format
    try:
        version = form.read_magic(stream)
        read_header = {(1, 0): form.read_array_header_1_0, (2, 0): form.read_array_header_2_0}.get(version)
        if read_header is None:
            raise FileError(file, f"{where}an .npy format version {version[0]}.{version[1]}, which rnndsl does "
                                  "not read")
        shape, _, dtype = read_header(stream)
        after_header = stream.tell()
    except _DAMAGED:  # numpy's messages quote the header: not repeated
        raise FileError(file, f"{where}not a NumPy array: its .npy header is damaged") from None
    if dtype.hasobject:
        raise FileError(file, f"{where}an array of Python objects: rnndsl reads arrays of numbers only")
    if any(d < 0 for d in shape):
        raise FileError(file, f"{where}not a NumPy array: its .npy header gives a negative size")
    needed = math.prod(shape) * dtype.itemsize
    if needed > size - after_header:
        raise FileError(file, f"{where}its header says shape {cut(shape, 40)} of {cut(dtype, 12)}, {_size(needed)}, "
                              f"but the file holds {_size(size - after_header)} after it: it is cut short or damaged")
    try:
        stream.seek(0)
        return form.read_array(stream, allow_pickle=False)
    except _DAMAGED:
        raise FileError(file, f"{where}its data is cut short or damaged") from None


class Archive:
    """An open .npz archive (`np.savez`): `files`, its arrays' names, and `archive[name]`, each array
    read as an .npy file is, checked before it is allocated; together at most MAX_ARRAY_BYTES."""

    def __init__(self, path: Path, stream):
        self.path, self._stream, self._left = path, stream, MAX_ARRAY_BYTES
        try:
            self._zip = zipfile.ZipFile(stream)
        except _DAMAGED:
            stream.close()
            raise FileError(path, "not a NumPy file: a damaged .npz archive") from None
        self._members = {(i.filename[:-4] if i.filename.endswith(".npy") else i.filename): i
                         for i in self._zip.infolist()}
        self.files = list(self._members)

    def __enter__(self) -> "Archive":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._zip.close()
        self._stream.close()

    def __getitem__(self, name: str) -> np.ndarray:
        member = self._members[name]
        what = f"array `{cut(name)}`"
        if member.file_size > self._left:
            raise FileError(self.path, f"{what}: {_too_large(MAX_ARRAY_BYTES)}, all its arrays together")
        self._left -= member.file_size
        try:
            with self._zip.open(member) as stream:
                return _read_npy(stream, member.file_size, self.path, what)
        except _DAMAGED:  # opening the member: a damaged, encrypted or unknown compressed one
            raise FileError(self.path, f"{what}: its data is cut short or damaged") from None

    def names(self, most: int = 8) -> str:
        """Its arrays' names for a message: the first `most`, each cut short."""
        shown = ", ".join(cut(n) for n in self.files[:most]) or "none"
        return shown + (f" and {len(self.files) - most} more" if len(self.files) > most else "")


def open_arrays(path, want: str):
    """The array of an .npy file (`want="npy"`) or the open `Archive` of an .npz file (`want="npz"`),
    for a path as given (no spec's folder); a FileError where it cannot be read, a WrongFormat
    where it is a NumPy file of the other kind, or none."""
    path = Path(path)
    stream = _open_file(path, MAX_ARRAY_BYTES)
    size = os.fstat(stream.fileno()).st_size
    try:
        magic = stream.read(len(np.lib.format.MAGIC_PREFIX))
        stream.seek(0)
    except OSError as e:
        stream.close()
        raise FileError(path, f"cannot read it: {one_line(e.strerror or e)}") from None
    found = "npz" if magic[:2] == b"PK" else "npy" if magic == np.lib.format.MAGIC_PREFIX else None
    if found != want:
        stream.close()
        raise WrongFormat(path, {"npy": "a single array, not an .npz archive: read it with npy(...)",
                                 "npz": "an .npz archive, not an .npy array: read it with npz(...)",
                                 None: "not a NumPy file: neither an .npy array nor an .npz archive"}[found])
    if found == "npz":
        return Archive(path, stream)
    with stream:
        return _read_npy(stream, size, path)
