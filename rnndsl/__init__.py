"""rnndsl: a compiler for recurrent neural networks.

    prog = rnndsl.load("spec.rnn")        # parse, resolve, type-check: a checked Program
    prog.graph("LSTM")                    # the NetworkX graph of a cell or network
    prog.render("LSTM", "lstm.svg")       # its diagram
    model = prog.build("Tagger", units=64) # a keras.Model (imports TensorFlow)

TensorFlow is imported only by the passes that lower to Keras.
"""

from importlib.metadata import version as _version

from .keras import hook as _keras_hook
from .lang.errors import RnnDslError, SpecErrors, UsageError
from .program import Program, load

_keras_hook.install()  # saved models reload in any process that has imported rnndsl

__all__ = ["load", "Program", "RnnDslError", "SpecErrors", "UsageError"]
__version__ = _version("rnndsl")  # pyproject.toml's
