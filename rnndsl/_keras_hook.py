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


def install() -> None:
    if "keras" in sys.modules:
        importlib.import_module("rnndsl.lower")
        return
    if not any(isinstance(f, _AfterKeras) for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterKeras())


class _AfterKeras(importlib.abc.MetaPathFinder):
    """Wraps the loader of the `keras` package so that rnndsl.lower is imported right after it."""

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
            importlib.import_module("rnndsl.lower")

        loader.exec_module = exec_module
        return spec
