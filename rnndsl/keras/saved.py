"""Loading a saved `.keras` model the way rnndsl's commands do: any failure is one line.

A saved model is read by Keras in safe mode (no Python code, no lambdas); each
generated cell in it compiles the spec text its config carries, hermetically
(`rnndsl.keras.cell.compile_cell`: no file is read, imports are refused, the front
end's limits hold). What Keras makes of a bad file, a crafted config or spec
text with errors is a chain of exceptions; `load_model` makes it a UsageError
that says what was wrong, in one line.
"""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path
from typing import Union

from ..lang.errors import RnnDslError, SpecErrors, UsageError, cut

# The largest `.keras` file loaded; its config is read whole into memory by Keras.
MAX_MODEL_BYTES = 8 << 30
# The largest config.json inside it: a generated cell's spec is a few kilobytes.
MAX_CONFIG_BYTES = 64 << 20


class UnloadableModel(UsageError):
    """A file that is not a model rnndsl can load; `reason` says why, without the file's name."""

    def __init__(self, path: Path, reason: str):
        super().__init__(f"cannot load the model {path}: {reason}")
        self.reason = reason


def load_model(path: Union[str, os.PathLike]):
    """`keras.saving.load_model(path)`, in safe mode; raises `UnloadableModel` for a file that is not
    a model rnndsl can load."""
    import keras

    p = Path(path)
    _check_file(p)
    try:
        return keras.saving.load_model(p, safe_mode=True)
    except Exception as e:  # Keras wraps what went wrong in its own errors: find ours in the chain
        raise UnloadableModel(p, _reason(e)) from None


def _check_file(p: Path) -> None:
    try:
        info = os.stat(p)
    except FileNotFoundError:
        raise UnloadableModel(p, "no such file") from None
    except OSError as e:
        raise UnloadableModel(p, e.strerror or type(e).__name__) from None
    if not stat.S_ISREG(info.st_mode):
        raise UnloadableModel(p, "not a regular file")
    if info.st_size > MAX_MODEL_BYTES:
        raise UnloadableModel(p, f"it is over {MAX_MODEL_BYTES >> 30} GiB")
    try:
        with zipfile.ZipFile(p) as archive:
            config = archive.getinfo("config.json")
    except (zipfile.BadZipFile, OSError, KeyError, ValueError):
        raise UnloadableModel(p, "not a .keras file (a zip archive with a config.json)") from None
    if config.file_size > MAX_CONFIG_BYTES:
        raise UnloadableModel(p, f"its config.json is over {MAX_CONFIG_BYTES >> 20} MiB")


def _reason(error: BaseException) -> str:
    """What went wrong, from the innermost rnndsl error in the chain, else from the outermost error."""
    seen = set()
    e = error
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, SpecErrors):
            first = e.errors[0]
            return cut(f"the spec text it carries has errors: error[{first.code}]: {first.message}", 240)
        if isinstance(e, RnnDslError):
            return cut(e.message, 240)
        e = e.__cause__ or e.__context__
    first_line = str(error).strip().split("\n", 1)[0]
    return cut(f"{type(error).__name__}: {first_line}", 240)
