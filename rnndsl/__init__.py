"""rnndsl: a compiler for recurrent neural networks.

    prog = rnndsl.load("spec.rnn")        # parse, resolve, type-check: a checked Program
    prog.graph("LSTM")                    # the NetworkX graph of a cell or network
    prog.render("LSTM", "lstm.svg")       # its diagram
    model = prog.build("Tagger", units=64) # a keras.Model (imports TensorFlow)

TensorFlow is imported only by the passes that lower to Keras.
"""

from .keras import hook as _keras_hook
from .lang.errors import RnnDslError, SpecErrors, UsageError
from .program import Program, load

_keras_hook.install()  # saved models reload in any process that has imported rnndsl

__all__ = ["load", "Program", "RnnDslError", "SpecErrors", "UsageError"]


def __getattr__(name: str):
    # `rnndsl.__version__` is read from the installed package's metadata only when asked:
    # importing importlib.metadata costs about 40 ms, a tenth of `rnndsl check`.
    if name == "__version__":
        from importlib.metadata import version

        return version("rnndsl")  # pyproject.toml's
    raise AttributeError(f"module 'rnndsl' has no attribute {name!r}")
