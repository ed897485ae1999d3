"""Registers rnndsl's Keras classes as soon as Keras is imported, without importing it first.

`keras.saving.load_model` finds a generated cell by its registered name, so
the classes must be registered in any process that has imported rnndsl. But
`rnndsl check` must never import TensorFlow. So: if Keras is already loaded,
register now; otherwise wait, with a finder on `sys.meta_path`, until the
`keras` package has finished loading, and register then.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys


# The modules that register Keras classes a saved model may name: generated cells and
# initializers (lower), the CTC loss and label error rate (ctc), the encoder-decoder (seq2seq).
REGISTERING = ("rnndsl.keras.lower", "rnndsl.keras.ctc", "rnndsl.keras.seq2seq")


def _register() -> None:
    for name in REGISTERING:
        importlib.import_module(name)


def install() -> None:
    if "keras" in sys.modules:
        _register()
        return
    if not any(isinstance(f, _AfterKeras) for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterKeras())


class _AfterKeras(importlib.abc.MetaPathFinder):
    """Wraps the loader of the `keras` package so that REGISTERING is imported right after it."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "keras":
            return None
        sys.meta_path.remove(self)  # find the real spec, once
        spec = importlib.util.find_spec("keras")
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        original = loader.exec_module

        def exec_module(module):
            original(module)
            _register()

        loader.exec_module = exec_module
        return spec
