"""training: a network's `train { ... }` block, checked and evaluated into a TrainPlan.

No TensorFlow here: `rnndsl check` checks a train block as it checks the rest
of a spec, and `rnndsl.train.run` runs the plan with Keras. The settings
(docs/language.md, "Training"):

    data       = SOURCE(ARGS)     required: a generator or a file reader (sources.SIGNATURES)
    loss       = NAME             required: builtins.LOSSES
    metrics    = NAME, ...        builtins.METRICS; none by default
    optimizer  = NAME(ARGS)       builtins.OPTIMIZERS, or a search of builtins.SEARCHES; adam() by default
    schedule   = NAME(ARGS)       builtins.SCHEDULES: the learning rate over the run; constant by default
    stop       = NAME(ARGS)       builtins.STOPS: stop early when the loss stops falling; never by default
    batch      = INT              32
    epochs     = INT              10
    validation = FLOAT            0: the fraction of the training split held out, when the source has none
    seed       = INT              0: weights, data and shuffling
    strategy   = NAME             builtins.STRATEGIES: where it trains (tf.distribute); default: one device
    bptt       = NAME(ARGS)       builtins.BPTT: full, or truncated(k): chunks of k steps, states carried
    method     = NAME(ARGS)       builtins.METHODS: bptt, or rtrl, uoro or snap1(every=k): online learning
    fresh      = BOOL             false: a new training split every epoch, drawn from a generator
    curriculum = NAME(ARGS)       builtins.CURRICULA: the lengths of the fresh splits grow over the run
    bucket     = INT              0: batches of like lengths, each cut to a multiple of this many steps

A value is a constant expression over the network's hyperparameters (`batch =
2 * units`, `data = adding(steps=T)`), a word (`loss = mse`), or a call of a
word with arguments (`optimizer = adam(learning_rate=1e-3, clipnorm=1)`).
Values are evaluated twice: by `check`, with the hyperparameters' defaults
(a value that reads a hyperparameter without a default is checked for its
form only), and by `plan` with the values a run gives (`--set`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from . import ast as A
from .builtins import (BPTT, CONSTANT_NAMES, CURRICULA, LOSSES, METHODS, METRICS, OPTIMIZERS, REQUIRED,
                       SCHEDULES, SEARCHES, STOPS, STRATEGIES, Param)
from .checks import check_call_args, with_article
from .errors import SpecErrors, did_you_mean
from .train_rules import ONLINE, TrainError, conflict
from .sources import INT_MAX, SIGNATURES, check_args, finite
from .sources import REQUIRED as SOURCE_REQUIRED


@dataclass(frozen=True)
class Choice:
    """A chosen word with its arguments: `adam(learning_rate=0.001)` is Choice("adam", {...})."""

    name: str
    args: dict = field(default_factory=dict)
    span: A.Span = A.NO_SPAN


@dataclass(frozen=True)
class TrainPlan:
    """A checked train block with every value known."""

    network: str
    data: Choice
    loss: Choice
    metrics: tuple = ()
    optimizer: Choice = Choice("adam")
    schedule: Choice = Choice("constant")
    stop: Choice = Choice("none")  # early stopping on a plateau of the loss
    batch: int = 32
    epochs: int = 10
    validation: float = 0.0
    seed: int = 0
    strategy: Choice = Choice("default")
    bptt: Choice = Choice("full")
    fresh: bool = False  # a new training split every epoch, drawn from the generator
    curriculum: Choice = Choice("none")  # how the lengths of the fresh splits grow over the run
    bucket: int = 0  # batches of sequences of like lengths, each cut to a multiple of `bucket` steps; 0: off
    method: Choice = Choice("bptt")  # how the gradient is computed: bptt, or rtrl, uoro or snap1(every=k)


# setting -> (what it takes, default); REQUIRED settings have no default.
SETTINGS = {
    "data": ("source", REQUIRED),
    "loss": ("loss", REQUIRED),
    "metrics": ("metrics", ()),
    "optimizer": ("optimizer", Choice("adam")),
    "schedule": ("schedule", Choice("constant")),
    "stop": ("stop", Choice("none")),
    "batch": ("positive int", 32),
    "epochs": ("positive int", 10),
    "validation": ("fraction", 0.0),
    "seed": ("int", 0),
    "strategy": ("strategy", Choice("default")),
    "bptt": ("bptt", Choice("full")),
    "fresh": ("bool", False),
    "curriculum": ("curriculum", Choice("none")),
    "bucket": ("int", 0),
    "method": ("method", Choice("bptt")),
}
CHOICES = {"loss": LOSSES, "metrics": METRICS, "optimizer": {**OPTIMIZERS, **SEARCHES}, "schedule": SCHEDULES,
           "stop": STOPS,
           "strategy": STRATEGIES, "bptt": BPTT, "curriculum": CURRICULA, "method": METHODS}


class _Unknown:
    """The value of a hyperparameter with no default, while checking: any checks on it wait for a run."""

    def __repr__(self) -> str:
        return "<unknown>"


UNKNOWN = _Unknown()


@dataclass(frozen=True)
class _Word:
    """A bare name that is no hyperparameter: a choice like `mse`."""

    id: str
    span: A.Span


def trains(network: A.Network) -> list:
    """The `train` blocks of a network (one at most is allowed)."""
    return [s for s in network.body if isinstance(s, A.Train) and (s.word is None or s.word.id == "train")]


def check(network: A.Network, hparams: dict) -> list:
    """Every error of the network's train block; `hparams` {name: bound.Hyper}."""
    errors = [TrainError(f"a network has no `{b.word.id} {{ ... }}` block", b.word.span, label="unknown block",
                         notes=["the block in a network is `train { ... }`"], code="E0801")
              for b in network.body if isinstance(b, A.Train) and b.word is not None and b.word.id != "train"]
    blocks = trains(network)
    errors += [TrainError(f"network `{network.name.id}` has a second `train` block", b.span,
                         label="second train block", notes=[f"the first is at {blocks[0].span}"], code="E0802")
              for b in blocks[1:]]
    if blocks:
        env = {h.name: (UNKNOWN if h.default is None else h.default) for h in hparams.values()}
        _Planner(network.name.id, env, errors).run(blocks[0])
    return errors


def plan(G, env: dict) -> Optional[TrainPlan]:
    """The train block of the network graph `G` (its header's `train`) evaluated with the hyperparameters
    `env` {name: value}; None if it has none.

    Raises SpecErrors where a value is wrong for these hyperparameters."""
    block = G.header.train
    if block is None:
        return None
    errors: list = []
    result = _Planner(G.name, env, errors).run(block)
    if errors:
        raise SpecErrors(errors)
    return result


class _Planner:
    def __init__(self, network: str, env: dict, errors: list):
        self.network, self.env, self.errors = network, env, errors

    def error(self, message: str, span, label: str = "", notes=(), code: str = "E0801") -> None:
        self.errors.append(TrainError(message, span, label=label, notes=notes, code=code))

    def run(self, block: A.Train) -> Optional[TrainPlan]:
        values: dict = {}
        first = len(self.errors)
        misspelt = False  # an unknown setting may be the missing one: say it once
        for s in block.settings:
            key = s.name.id
            if key not in SETTINGS:
                self.error(f"`train` has no setting `{key}`", s.name.span, label="unknown setting",
                           notes=did_you_mean(key, SETTINGS) + [f"the settings are {', '.join(SETTINGS)}"])
                misspelt = True
                continue
            if key in values:
                self.error(f"`{key}` is set twice", s.name.span, label="second setting", code="E0802")
                continue
            kind = SETTINGS[key][0]
            if kind != "metrics" and len(s.values) > 1:
                self.error(f"`{key}` takes one value", s.values[1].span, label="extra value", code="E0806")
                values[key] = None
                continue
            values[key] = self._setting(key, kind, s.values)
        for key, (kind, default) in SETTINGS.items():
            if key not in values:
                if default is REQUIRED and not misspelt:
                    self.error(f"the `train` block of `{self.network}` needs `{key} = ...`", block.span,
                               label=f"no `{key}`", notes=[_needs(key)], code="E0803")
                values[key] = default
        if len(self.errors) > first or any(v is UNKNOWN for v in values.values()):
            return None
        found = conflict(values, block)
        if found is not None:
            self.errors.append(found)
            return None
        return TrainPlan(self.network, **values)

    # ---- one setting

    def _setting(self, key: str, kind: str, exprs: tuple):
        if kind == "metrics":
            return tuple(c for c in (self._choice(e, "metrics", METRICS) for e in exprs) if c is not None)
        if kind == "source":
            return self._source(exprs[0])
        if kind in CHOICES:
            chosen = self._choice(exprs[0], kind, CHOICES[kind])
            if kind == "bptt" and chosen is not None and chosen.name == "truncated":
                k = chosen.args["k"]
                if k is not UNKNOWN and k < 1:
                    arg = exprs[0].args[0].value  # truncated takes one argument: k
                    self.error(f"`k` of `truncated(k)` must be at least 1 (steps a chunk), not {k!r}", arg.span,
                               label="not at least 1", code="E0806")
                    return None
            if kind == "method" and chosen is not None and chosen.name in ONLINE:
                every = chosen.args.get("every", 1)
                if every is not UNKNOWN and every < 1:
                    arg = exprs[0].args[0].value  # an online method takes one argument: every
                    self.error(f"`every` of `{chosen.name}(every=k)` must be at least 1 (steps between updates), not "
                               f"{every!r}", arg.span, label="not at least 1", code="E0806")
                    return None
                chosen = Choice(chosen.name, {"every": every}, chosen.span)
            return chosen
        value = self._constant(exprs[0])
        if value is None or value is UNKNOWN:
            return value
        expr = exprs[0]
        if kind in ("int", "positive int"):
            if not (isinstance(value, int) and not isinstance(value, bool)):
                return self._bad(key, expr, "an integer", value)
            if kind == "positive int" and value < 1:
                return self._bad(key, expr, "at least 1", value)
            if not 0 <= value <= INT_MAX:
                return self._bad(key, expr, f"from {int(kind == 'positive int')} to {INT_MAX}", value)
        elif kind == "bool":
            if not isinstance(value, bool):
                return self._bad(key, expr, "true or false", value)
        elif kind == "fraction":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
                return self._bad(key, expr, "a fraction in [0, 1)", value)
            value = float(value)
        return value

    def _bad(self, key: str, expr, wanted: str, value):
        self.error(f"`{key}` must be {wanted}, not {_shown(value)}", expr.span, label=f"not {wanted}", code="E0806")
        return None

    def _choice(self, expr, what: str, table: dict) -> Optional[Choice]:
        """A word of `table`, bare or called with arguments, its arguments checked and evaluated."""
        if isinstance(expr, A.Call) and isinstance(expr.func, A.Name):
            name, args, span = expr.func.id, expr.args, expr.func.span
        elif isinstance(expr, A.Name) and expr.id not in self.env:
            name, args, span = expr.id, (), expr.span
        else:
            self.error(f"`{what}` is one of {', '.join(table)}", expr.span, label="not a name",
                       code="E0804")
            return None
        if name not in table:
            self.error(f"unknown {_noun(what)} `{name}`", span, label=f"not {with_article(_noun(what))}",
                       notes=did_you_mean(name, table) + [f"{_plural(what)}: {', '.join(table)}"], code="E0804")
            return None
        bound = self._args(name, args, table[name], expr.span, _noun(what))
        if bound is None:
            return None
        return Choice(name, bound, expr.span)

    def _args(self, name: str, args: tuple, params: tuple, span, what: str) -> Optional[dict]:
        """`args` matched to `params` (position, then keyword), evaluated and type-checked: {name: value}."""
        bound = check_call_args(name, args, params, span, self.errors, what, code="E0805")
        if bound is None:
            return None
        given = {key: arg.value for key, arg in bound.items()}
        ok = True
        out: dict = {}
        for p in params:
            if p.name not in given:
                continue
            value = self._constant(given[p.name])
            if value is None:
                ok = False
            elif value is not UNKNOWN and not _kind_ok(p.kind, value):
                self.error(f"argument `{p.name}` of {what} `{name}` must be {_kind_noun(p.kind)}, not {_shown(value)}",
                           given[p.name].span, label=f"not {_kind_noun(p.kind)}", code="E0806")
                ok = False
            elif p.kind == "number" and value is not UNKNOWN and not finite(value):
                self.error(f"argument `{p.name}` of {what} `{name}` must be a finite number, not {_shown(value)}",
                           given[p.name].span, label="not a finite number", code="E0806")
                ok = False
            else:
                out[p.name] = float(value) if p.kind == "number" and value is not UNKNOWN else value
        return out if ok else None

    def _source(self, expr) -> Optional[Choice]:
        """`data = SOURCE(ARGS)`: a source of rnndsl.lang.sources, its arguments checked there."""
        if isinstance(expr, A.Call) and isinstance(expr.func, A.Name):
            name, args, span = expr.func.id, expr.args, expr.func.span
        elif isinstance(expr, A.Name):
            name, args, span = expr.id, (), expr.span
        else:
            self.error("`data` is a source: a generator such as `adding(steps=100)` or a file such as "
                       "`npz(\"data.npz\")`", expr.span, label="not a source", code="E0804")
            return None
        if name not in SIGNATURES:
            self.error(f"unknown data source `{name}`", span, label="not a source",
                       notes=did_you_mean(name, SIGNATURES) + [f"sources: {', '.join(SIGNATURES)}"],
                       code="E0804")
            return None
        params = tuple(Param(p.name, _DATA_KINDS.get(p.type, p.type),
                             REQUIRED if p.default is SOURCE_REQUIRED else p.default)
                       for p in SIGNATURES[name].params)
        bound = self._args(name, args, params, expr.span, "data source")
        if bound is None:
            return None
        if not any(v is UNKNOWN for v in bound.values()):
            for message in check_args(name, bound):
                self.error(message, expr.span, code="E0806")
        return Choice(name, bound, expr.span)

    def _constant(self, expr):
        """The value of a constant expression over the hyperparameters; None after an error."""
        if isinstance(expr, A.Number):
            return expr.value
        if isinstance(expr, A.String):
            return expr.value
        if isinstance(expr, A.Name):
            if expr.id in self.env:
                return self.env[expr.id]
            if expr.id in CONSTANT_NAMES:
                return CONSTANT_NAMES[expr.id]
            self.error(f"unknown name `{expr.id}`", expr.span, label="not a hyperparameter",
                       notes=did_you_mean(expr.id, self.env) + ["a value here is a number, a string, "
                                                                "true or false, or a hyperparameter"],
                       code="E0806")
            return None
        if isinstance(expr, A.UnaryOp) and expr.op in "+-":
            v = self._constant(expr.operand)
            if v is None or v is UNKNOWN:
                return v
            if not _is_number(v):
                return self._not_arithmetic(expr, v)
            return -v if expr.op == "-" else v
        if isinstance(expr, A.BinOp) and expr.op in ("+", "-", "*", "/", "**"):
            a, b = self._constant(expr.left), self._constant(expr.right)
            if a is None or b is None:
                return None
            if a is UNKNOWN or b is UNKNOWN:
                return UNKNOWN
            for v in (a, b):
                if not _is_number(v):
                    return self._not_arithmetic(expr, v)
            if expr.op == "/" and b == 0 or expr.op == "**" and a == 0 and b < 0:
                self.error("division by zero", expr.span, code="E0806")
                return None
            # an integer power of thousands of digits (10 ** 10 ** 10 would take hours) is no setting's value
            if expr.op == "**" and isinstance(a, int) and isinstance(b, int) and b * abs(a).bit_length() > 4096:
                return self._too_large(expr)
            try:
                return {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b, "/": lambda: a / b,
                        "**": lambda: a ** b}[expr.op]()
            except OverflowError:  # a float beyond its range (2.0 ** 5000), an int too large to divide
                return self._too_large(expr)
        self.error("a value here is a constant: numbers, strings, hyperparameters and + - * / **", expr.span,
                   label="not a constant", code="E0806")
        return None

    def _not_arithmetic(self, expr, value):
        self.error(f"arithmetic on {_shown(value)}, which is not a number", expr.span, code="E0806")
        return None

    def _too_large(self, expr):
        self.error(f"the value of `{expr.op}` here is too large a number", expr.span, label="too large",
                   code="E0806")
        return None


_DATA_KINDS = {"int": "int", "float": "number", "str": "str", "bool": "bool"}


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _shown(value) -> str:
    """A value for a message: repr, a number of hundreds of digits cut short."""
    text = repr(value)
    return text if len(text) <= 24 else text[:23] + "…"


def _kind_ok(kind: str, value) -> bool:
    if value is None:  # an optional argument given no value, e.g. clipnorm
        return False
    if kind == "number":
        return _is_number(value)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "bool":
        return isinstance(value, bool)
    return isinstance(value, str)


def _kind_noun(kind: str) -> str:
    return {"number": "a number", "int": "an integer", "bool": "true or false", "str": "a string"}[kind]


def _noun(what: str) -> str:
    return {"loss": "loss", "metrics": "metric", "optimizer": "optimizer", "schedule": "schedule",
            "strategy": "strategy", "bptt": "bptt mode", "curriculum": "curriculum", "stop": "stop",
            "method": "training method"}.get(what, what)


def _plural(what: str) -> str:
    return {"loss": "losses", "metrics": "metrics", "optimizer": "optimizers", "schedule": "schedules",
            "strategy": "strategies", "bptt": "bptt modes", "curriculum": "curricula", "stop": "stops",
            "method": "training methods"}[what]


def _needs(key: str) -> str:
    return {"data": "a source of examples, e.g. `data = adding(steps=100)` or `data = npz(\"data.npz\")`",
            "loss": f"what training minimises: one of {', '.join(LOSSES)}"}[key]
