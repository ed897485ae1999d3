"""rnndsl: a compiler for recurrent neural networks.

    prog = rnndsl.load("spec.rnn")        # parse, resolve, type-check: a checked Program
    prog.graph("LSTM")                    # the NetworkX graph of a cell or network
    prog.render("LSTM", "lstm.svg")       # its diagram

TensorFlow is imported only by the passes that lower to Keras.
"""

from .errors import RnnDslError, SpecErrors, UsageError
from .program import Program, load

__all__ = ["load", "Program", "RnnDslError", "SpecErrors", "UsageError"]
__version__ = "0.1.0"
