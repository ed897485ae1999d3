"""Registers rnndsl's Keras classes as soon as Keras is imported, without importing it first.

`keras.saving.load_model` finds a generated cell by its registered name, so
the classes must be registered in any process that has imported rnndsl. But
`rnndsl check` must never import TensorFlow. So: if Keras is already loaded,
register now; otherwise wait, with a finder on `sys.meta_path`, until the
`keras` package has finished loading, and register then.

The registering modules import one another (the generated cell reads the
initializers and the interpreter). When Keras is first imported by one of
rnndsl's own modules, that module is still running, and the registering
modules could not import its names yet: so the finder also watches
rnndsl.keras's modules as they load, and registering waits until none of them
is running.
"""

from __future__ import annotations

import importlib
import importlib.abc
import sys

# The modules that register Keras classes and functions a saved model may name: initializers
# and constraints (initializers), generated cells (cell), the activations Keras lacks (layers),
# the CTC loss and label error rate (ctc), the encoder-decoder (seq2seq), tree cells (tree), grid cells (grid),
# masked convolutions (masked_conv), the metrics of whole sequences (sequence_metrics), the layers that change the
# rate of a sequence (rate).
REGISTERING = ("rnndsl.keras.initializers", "rnndsl.keras.cell", "rnndsl.keras.layers", "rnndsl.keras.ctc",
               "rnndsl.keras.seq2seq", "rnndsl.keras.tree", "rnndsl.keras.grid", "rnndsl.keras.masked_conv",
               "rnndsl.keras.sequence_metrics", "rnndsl.keras.rate")
WATCHED = "rnndsl.keras."  # the modules whose loading delays registering


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
    """Wraps the loaders of the `keras` package and of rnndsl.keras's modules, so that REGISTERING is
    imported once Keras has loaded and no module of rnndsl.keras is still running; then leaves."""

    def __init__(self):
        self.running = 0  # how many of rnndsl.keras's modules are being run now
        self.registered = False

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "keras" and not fullname.startswith(WATCHED):
            return None
        spec = self._real_spec(fullname, path, target)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        original = loader.exec_module
        ours = int(fullname != "keras")

        def exec_module(module):
            self.running += ours
            try:
                original(module)
            finally:
                self.running -= ours
            if not self.running and "keras" in sys.modules:
                self._register_once()

        loader.exec_module = exec_module
        return spec

    def _real_spec(self, fullname, path, target):
        """The spec that the finders after this one give."""
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                return spec
        return None

    def _register_once(self) -> None:
        if self.registered:
            return
        self.registered = True
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        _register()
