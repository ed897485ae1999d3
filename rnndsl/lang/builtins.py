"""The names the language knows: functions, initializers, constraints, fits, solvers, and the words of
the train block.

Each entry gives a signature (rnndsl.lang.signature) that `resolve` checks calls against. The functions
are the registry's (rnndsl.lang.ops), where each entry also holds its shape rule and its lowering.
"""

from __future__ import annotations

import math

from .ops import ELEMENTWISE, KEYWORD_ONLY, OPERATIONS
from .signature import REQUIRED, Param, Signature

# The built-in functions' signatures; `KEYWORD_ONLY` names the arguments given only by keyword.
FUNCTIONS: dict[str, Signature] = {name: op.signature for name, op in OPERATIONS.items()}

INITIALIZERS: dict[str, tuple] = {
    "glorot_uniform": (), "glorot_normal": (), "he_uniform": (), "he_normal": (),
    "lecun_normal": (), "lecun_uniform": (), "orthogonal": (), "identity": (),
    "zeros": (), "ones": (),
    "constant": (Param("value", "number"),),
    "uniform": (Param("low", "number", -0.05), Param("high", "number", 0.05)),
    "normal": (Param("mean", "number", 0.0), Param("std", "number", 0.05)),
    "truncated_normal": (Param("mean", "number", 0.0), Param("std", "number", 0.05)),
    "reservoir": (Param("density", "number", 0.1), Param("spectral_radius", "number", 0.9)),
}

CONSTRAINTS: dict[str, tuple] = {
    "positive": (), "nonneg": (), "unit_norm": (),
    "max_norm": (Param("value", "number"),),
    "max_abs": (Param("value", "number"),),
    "clip": (Param("low", "number"), Param("high", "number")),
}

# Closed-form fits of a parameter from data (rnndsl.train.fit).
FITS: dict[str, tuple] = {
    "hebbian": (),
    "ridge": (Param("alpha", "number", 1e-6),),
}

SOLVERS: dict[str, tuple] = {
    "euler": (Param("step", "number", None),),
    "rk4": (Param("step", "number", None),),
}

HYPER_TYPES = ("int", "float", "bool", "str")

# Words that stand for themselves in a network's layer arguments.
ACTIVATIONS = ("linear", "none") + ELEMENTWISE + ("softmax", "log_softmax")
CONSTANT_NAMES = {"true": True, "false": False}

# ---------------------------------------------------------------- training (the `train` block)
# rnndsl.lang.training checks a train block against these; rnndsl.train.run maps them to Keras.
_CLIP = (Param("clipnorm", "number", None), Param("clipvalue", "number", None),
         Param("global_clipnorm", "number", None))

LOSSES: dict[str, tuple] = {
    "mse": (), "mae": (),
    "cross_entropy": (),         # integer class targets, a softmax output
    "binary_cross_entropy": (),  # 0/1 targets (one per output unit), sigmoid outputs
    "ctc": (),                   # label sequences, per-frame class probabilities (rnndsl.keras.ctc)
}
METRICS: dict[str, tuple] = {
    "accuracy": (), "binary_accuracy": (), "mse": (), "mae": (),
    "label_error_rate": (),      # with `loss = ctc`
    "wrong_bits": (),            # wrong bits (or tokens) per sequence, at the steps that count
    "sequence_accuracy": (),     # the fraction of sequences with none wrong
}
OPTIMIZERS: dict[str, tuple] = {
    "adam": (Param("learning_rate", "number", 1e-3), Param("beta_1", "number", 0.9),
             Param("beta_2", "number", 0.999), Param("epsilon", "number", 1e-7)) + _CLIP,
    "sgd": (Param("learning_rate", "number", 0.01), Param("momentum", "number", 0.0),
            Param("nesterov", "bool", False)) + _CLIP,
    "rmsprop": (Param("learning_rate", "number", 1e-3), Param("rho", "number", 0.9),
                Param("momentum", "number", 0.0)) + _CLIP,
    "adagrad": (Param("learning_rate", "number", 1e-3),) + _CLIP,
}
# Global searches of the weights, no gradient anywhere (rnndsl.train.evolve; a run: rnndsl.train.search_fit):
# `budget` weight sets evaluated in all, `population` of them a generation (none: the method's own), then the
# method's options, their defaults the libraries' (evolve.OPTIONS, which tests/test_search_train.py matches).
_SEARCH = (Param("budget", "int", 10000), Param("population", "int", None))
SEARCHES: dict[str, tuple] = {
    "cma_es": _SEARCH + (Param("sigma", "number", 0.5), Param("restarts", "int", 0), Param("patience", "int", None)),
    "ga": _SEARCH + (Param("sigma", "number", 0.2), Param("parents", "int", None), Param("crossover", "number", 0.5)),
    "pso": _SEARCH + (Param("sigma", "number", 0.5), Param("omega", "number", 0.5 / math.log(2.0)),
                      Param("phip", "number", 0.5 + math.log(2.0)), Param("phig", "number", 0.5 + math.log(2.0))),
    # one Markov chain, a weight set at a time: no population
    "annealing": (Param("budget", "int", 10000), Param("radius", "number", 2.0), Param("initial_temp", "number", 5230.0),
                  Param("visit", "number", 2.62), Param("accept", "number", -5.0), Param("local_search", "bool", False)),
}
# How the learning rate moves over the whole run (every step of every epoch).
SCHEDULES: dict[str, tuple] = {
    "constant": (),
    "cosine": (Param("alpha", "number", 0.0),),  # from the optimizer's rate down to alpha times it
    # the rate times `factor` after `patience` epochs in which the monitored loss fell by less than min_delta
    "plateau": (Param("factor", "number", 0.5), Param("patience", "int", 3), Param("min_delta", "number", 0.0),
                Param("min_rate", "number", 0.0)),
}
# When a run stops before its epochs: never, or after `patience` epochs in which the monitored loss fell by
# less than `min_delta`, keeping the weights of its best epoch (rnndsl.train.run).
STOPS: dict[str, tuple] = {"none": (), "plateau": (Param("patience", "int", 5), Param("min_delta", "number", 0.0))}
# Where the model trains (tf.distribute; docs/cluster.md): one device, the local devices, the workers of
# TF_CONFIG's cluster, a TPU.
STRATEGIES: dict[str, tuple] = {"default": (), "mirrored": (), "multi_worker": (), "tpu": ()}
# How far back in time gradients reach: through whole sequences, or through chunks of k steps, the
# states carried from chunk to chunk (truncated backpropagation through time).
BPTT: dict[str, tuple] = {"full": (), "truncated": (Param("k", "int"),)}
# How the gradient is computed: by backpropagation through time, or online, the weights updated every k steps
# (rnndsl.train.rtrl_fit): by exact real-time recurrent learning (Williams & Zipser 1989), or its
# approximations UORO (Tallec & Ollivier 2018) and SnAp-1 (Menick et al. 2021; rnndsl.train.online).
METHODS: dict[str, tuple] = {"bptt": (), "rtrl": (Param("every", "int", 1),), "uoro": (Param("every", "int", 1),),
                             "snap1": (Param("every", "int", 1),)}
# How the lengths of a fresh training split grow over the run: not at all, or from `start` to the source's
# own length, linearly over `epochs` epochs (rnndsl.train.stream.curriculum_args).
CURRICULA: dict[str, tuple] = {"none": (), "linear": (Param("start", "int"), Param("epochs", "int"))}
