"""network_layers: the layers a network applies, resolved into `Application`s.

A layer is a Keras layer that rnndsl.lang.layers knows (`Dense(10)`), a
wrapper of a cell (`Stack(GRU(units), depth=2)`, `Bidirectional(...)`), the
`EncoderDecoder` configuration, or a cell of the program (`LSTM(units)`).
`LayerApplier` applies one to values (checking its inputs and a cell's initial
states); `LayerArguments` reads its arguments against the layer's parameters.
"""

from __future__ import annotations

import functools
import re
from typing import Optional

from . import ast as A
from .bound import Application, CellRef
from .builtins import ACTIVATIONS, REQUIRED, Param
from .checks import NOT_LITERAL, Reporter, check_call_args, dim_of, literal
from .errors import did_you_mean
from .layers import CELL_KEYWORDS, ENCODER_DECODER, ENCODER_DECODER_PARAMS, KERAS_LAYERS, WRAPPERS
from .specfiles import stdlib_root


MAX_SHOWN = 12  # the cells in scope that an unknown layer's diagnostic names


@functools.lru_cache(maxsize=1)
def standard_cells() -> dict:
    """{cell: `std/FILE.rnn`, the file of the standard library that defines it}: read from the files' text, only
    when a layer is unknown (a cell a user applies without importing it)."""
    found: dict = {}
    for path in sorted((stdlib_root() / "std").glob("*.rnn")):
        for cell in re.findall(r"^cell\s+(\w+)", path.read_text(encoding="utf-8"), flags=re.M):
            found.setdefault(cell, f"std/{path.name}")
    return found


class LayerApplier(Reporter):
    """Applies layers to the values of a network; `apps` collects the applications in order.

    `cell_asts`: every cell in scope, even those with errors; `cells`: the bound ones; `inputs`: the
    network's inputs (the `EncoderDecoder`'s target must be one)."""

    def __init__(self, cell_asts: dict, cells: dict, hparams: dict, inputs: dict, errors: list,
                 networks=frozenset()):
        super().__init__(errors)
        self.networks = networks  # the program's networks' names
        self.cell_asts = cell_asts
        self.cells = cells
        self.inputs = inputs
        self.apps: list[Application] = []
        self.arguments = LayerArguments(cell_asts, cells, hparams, errors)

    @property
    def blocked(self) -> bool:
        """A cell it applies has errors: no network, and no more noise."""
        return self.arguments.blocked

    def _initial_states(self, app: Application, states: list, initial: dict) -> bool:
        """Check a cell's initial states given by keyword (every state or none) into `app.initial`."""
        for kw, value in initial.items():
            if kw.id not in states:
                listed = ", ".join(states) if states else "none"
                self.error(f"cell `{app.layer}` has no state `{kw.id}` (its states: {listed})", kw.span,
                           label="not a state", notes=did_you_mean(kw.id, states), code="E0209")
                return False
            app.initial[kw.id] = value
        missing = [s for s in states if s not in app.initial]
        if app.initial and missing:
            self.error(f"give every initial state of `{app.layer}` or none: "
                       f"{', '.join(f'`{s}`' for s in missing)} missing", app.span, code="E0209")
            return False
        return True

    def check(self, layer_expr) -> None:
        """Report the errors of a layer whose input failed: its own still show (one run, every error)."""
        if isinstance(layer_expr, A.Name):
            layer_expr = A.Call(layer_expr, (), None, layer_expr.span)
        if not (isinstance(layer_expr, A.Call) and isinstance(layer_expr.func, A.Name)):
            return
        name = layer_expr.func.id
        if name in KERAS_LAYERS:
            self.arguments.layer(name, layer_expr, KERAS_LAYERS[name].params)
        elif name in WRAPPERS:
            self.arguments.layer(name, layer_expr, WRAPPERS[name])
        elif name == ENCODER_DECODER:
            self.arguments.layer(name, layer_expr, ENCODER_DECODER_PARAMS)
        elif name in self.cell_asts:
            self.arguments.cell_ref(layer_expr)
        else:
            self.unknown(layer_expr.func)

    def unknown(self, name: A.Name):
        """E0226, with what the name could have been: a close name in scope, a cell of the standard library
        (to import), and what is in scope: the layers, the configurations and the cells."""
        if name.id in self.networks:
            # a network of this name (which also hides a cell of the name, defined twice: E0204)
            self.error(f"`{name.id}` is a network, not a layer: a network is not applied in another", name.span,
                       label="a network", notes=["apply the cells or layers it applies; where a cell has this name "
                                                 "too, only the first definition counts (E0204)"], code="E0226")
            return
        layers, configurations = sorted(KERAS_LAYERS), sorted(list(WRAPPERS) + [ENCODER_DECODER])
        cells = sorted(self.cell_asts)
        notes = did_you_mean(name.id, cells + layers + configurations)
        library = standard_cells()
        if name.id in library:
            notes.append(f"`{name.id}` is a cell of the standard library: `import \"{library[name.id]}\"`")
        elif not notes:
            close = did_you_mean(name.id, library)
            if close:
                found = close[0].split("`")[1]
                notes.append(f"did you mean `{found}`, a cell of the standard library? `import \"{library[found]}\"`")
        shown = ", ".join(cells[:MAX_SHOWN]) + (f" and {len(cells) - MAX_SHOWN} more" if len(cells) > MAX_SHOWN else "")
        notes += [f"the layers: {', '.join(layers)}", f"the configurations of a cell: {', '.join(configurations)}",
                  f"the cells in scope: {shown}" if cells else
                  "no cells in scope: define one, or import a file of them, such as `import \"std/cells.rnn\"`"]
        self.error(f"unknown layer `{name.id}`", name.span, label="not a cell or a known layer", notes=notes,
                   code="E0226")

    def apply(self, layer_expr, inputs: list, span: A.Span, initial: Optional[dict] = None) -> Optional[str]:
        """Apply a layer to values; `initial` ({A.Name: value id}, by keyword) are a cell's initial states."""
        if isinstance(layer_expr, A.Name):
            layer_expr = A.Call(layer_expr, (), None, layer_expr.span)
        if not (isinstance(layer_expr, A.Call) and isinstance(layer_expr.func, A.Name)):
            self.error("expected a layer such as `Dense(10)`", layer_expr.span, code="E0226")
            return None
        name = layer_expr.func.id
        app_id = f"{name}_{len(self.apps) + 1}"
        if initial and name not in self.cell_asts:
            first = next(iter(initial))
            what = "a cell applied on its own" if name in WRAPPERS else "cells"
            self.error(f"`{name}` takes its inputs by position", first.span,
                       label="a keyword input", notes=[f"initial states by keyword are given to {what}"],
                       code="E0209")
            return None
        if name in KERAS_LAYERS:
            spec = KERAS_LAYERS[name]
            args = self.arguments.layer(name, layer_expr, spec.params)
            if args is None:
                return None
            if spec.arity is not None and len(inputs) != spec.arity:
                plural = "s" if spec.arity != 1 else ""
                self.error(f"`{name}` takes {spec.arity} input{plural}, given {len(inputs)}", span, code="E0231")
                return None
            if not inputs:
                self.error(f"`{name}` needs an input", span, code="E0231")
                return None
            app = Application(app_id, "keras", name, args, inputs, span)
        elif name in WRAPPERS:
            args = self.arguments.layer(name, layer_expr, WRAPPERS[name])
            if args is None:
                return None
            cell = args.pop("cell")
            if len(inputs) != 1:
                self.error(f"`{name}` takes 1 input, given {len(inputs)}", span, code="E0231")
                return None
            if cell.returns == "states":
                self.error(f"`{name}` does not give its cell's states", cell.span, label="returns=states",
                           notes=["apply the cell on its own to take its states"], code="E0209")
                return None
            app = Application(app_id, name, cell.cell, args, inputs, span, cell=cell)
        elif name == ENCODER_DECODER:
            app = self._encoder_decoder(app_id, layer_expr, inputs, span)
            if app is None:
                return None
        elif name in self.cell_asts:
            cell = self.arguments.cell_ref(layer_expr)
            if cell is None:
                return None
            n_inputs = sum(len(s.names) for s in self.cell_asts[name].body if isinstance(s, A.InputDecl))
            if len(inputs) != n_inputs:
                self.error(f"cell `{name}` takes {n_inputs} input{'s' if n_inputs != 1 else ''}, "
                           f"given {len(inputs)}", span, code="E0231")
                return None
            app = Application(app_id, "cell", name, {}, inputs, span, cell=cell)
            states = self.cells[name].states
            if not self._initial_states(app, states, initial or {}):
                return None
            if cell.returns == "states":
                app.ports = {s: f"{app_id}.{s}" for s in states}
        else:
            self.unknown(layer_expr.func)
            return None
        self.apps.append(app)
        return app_id

    def _encoder_decoder(self, app_id: str, call: A.Call, inputs: list, span: A.Span) -> Optional[Application]:
        """`EncoderDecoder(encoder, decoder, vocab, embed, ...)(source, target)`: its two cells run over
        time and give sequences; `target` is a network input (the tokens the decoder reads)."""
        args = self.arguments.layer(ENCODER_DECODER, call, ENCODER_DECODER_PARAMS)
        if args is None:
            return None
        for role in ("encoder", "decoder"):
            ref = args[role]
            if ref.returns != "sequences":
                self.error(f"the {role} of `{ENCODER_DECODER}` runs over the whole sequence", ref.span,
                           label=f"returns={ref.returns}",
                           notes=["the configuration takes the final states and outputs it needs itself"],
                           code="E0209")
                return None
        if len(inputs) != 2:
            self.error(f"`{ENCODER_DECODER}` takes 2 inputs (the source features and the target tokens), "
                       f"given {len(inputs)}", span, code="E0231")
            return None
        if inputs[1] not in self.inputs:
            self.error(f"the target of `{ENCODER_DECODER}` is a network input: the tokens the decoder reads",
                       span, label="the second input is computed",
                       notes=["declare it `input target: seq[int]` and pass it as it is: the decoder embeds "
                              "the tokens itself, and reads its own predictions when it decodes freely"],
                       code="E0231")
            return None
        sampling = args["sampling"]
        if isinstance(sampling, float) and not 0.0 <= sampling <= 1.0:
            self.error(f"`sampling` is a probability, in [0, 1], not {sampling:g}", call.span, code="E0209")
            return None
        return Application(app_id, ENCODER_DECODER, args["decoder"].cell, args, inputs, span)


class LayerArguments(Reporter):
    """A layer's (or a cell's) arguments as values: Dims, numbers, bools, words and `CellRef`s."""

    def __init__(self, cell_asts: dict, cells: dict, hparams: dict, errors: list):
        super().__init__(errors)
        self.cell_asts = cell_asts
        self.cells = cells
        self.hparams = hparams
        self.blocked = False  # a cell applied has errors of its own

    def layer(self, name, call: A.Call, params: tuple, what: str = "layer") -> Optional[dict]:
        """{param: value} for a layer's (or cell's) arguments, defaults filled in; None on errors."""
        bound = check_call_args(name, call.args, params, call.span, self.errors, what)
        if bound is None:
            return None
        out = {}
        for p in params:
            if p.name in bound:
                value = self._arg_value(name, p, bound[p.name].value)
                if value is NOT_LITERAL:
                    return None
                out[p.name] = value
            else:
                out[p.name] = p.default
        return out

    def cell_ref(self, call: A.Call) -> Optional[CellRef]:
        name = call.func.id
        if name not in self.cells:
            # The cell has errors of its own, reported already; keep this network quiet.
            self.blocked = True
            return None
        cell = self.cells[name]
        params = tuple(Param(h.name, h.type, h.default if h.default is not None else REQUIRED)
                       for h in cell.hparams.values()) + CELL_KEYWORDS
        args = self.layer(name, call, params, "cell")
        if args is None:
            return None
        returns = args.pop("returns")
        return CellRef(name, args, returns, call.span)

    def _arg_value(self, layer: str, p: Param, expr):
        """The value of a layer argument: a Dim, a number, a bool, a word, or a CellRef."""
        kind = p.kind
        if kind == "cell":
            if isinstance(expr, A.Call) and isinstance(expr.func, A.Name) and expr.func.id in self.cell_asts:
                ref = self.cell_ref(expr)
                return ref if ref is not None else NOT_LITERAL
            inner = getattr(getattr(expr, "func", expr), "id", "")
            notes = did_you_mean(inner, self.cell_asts)
            if inner in WRAPPERS:  # `Stack(Bidirectional(LSTM(units)))`: layers of layers are chained
                notes.append(f"a `{layer}` of `{inner}` layers is written as a chain of them, one per layer: "
                             f"`x >> {expr.span.source()} >> {expr.span.source()}`")
            self.error(f"`{layer}` wraps a cell", expr.span, label="expected a cell such as `LSTM(units)`",
                       notes=notes, code="E0209")
            return NOT_LITERAL
        if kind in ("dim", "int"):
            if kind == "int":
                given = literal(expr)
                if isinstance(given, int) and not isinstance(given, bool):
                    return given
            errors: list = []
            d = dim_of(expr, self.hparams, errors)
            if d is None:
                self.error(f"argument `{p.name}` of `{layer}` must be an int", expr.span,
                           label="expected an integer, an int hyperparameter, or arithmetic of those",
                           notes=[e.message for e in errors[:1]], code="E0209")
                return NOT_LITERAL
            return d if kind == "dim" else (d.value if d.value is not None else d)
        if kind in ("float", "number", "bool"):
            # A literal of the kind (a bool is no number, though Python's bool is an int), or a
            # hyperparameter of a type that fits, kept by name.
            want_bool = kind == "bool"
            given = literal(expr)
            if isinstance(given, bool) == want_bool and isinstance(given, (int, float)):
                return given if want_bool else float(given)
            types = ("bool",) if want_bool else ("int", "float")
            if isinstance(expr, A.Name) and expr.id in self.hparams and self.hparams[expr.id].type in types:
                return A.Name(expr.id, expr.span)
            wanted, label = ("true or false", "expected a bool") if want_bool else ("a number", "expected a number")
            self.error(f"argument `{p.name}` of `{layer}` must be {wanted}", expr.span, label=label, code="E0209")
            return NOT_LITERAL
        if kind == "str":
            given = literal(expr)
            if isinstance(given, str):
                return given
            self.error(f"argument `{p.name}` of `{layer}` must be a string", expr.span, code="E0209")
            return NOT_LITERAL
        if kind == "activation" or kind.startswith("enum:"):
            words = ACTIVATIONS if kind == "activation" else tuple(kind[5:].split("|"))
            if isinstance(expr, A.Name) and expr.id in words:
                return expr.id
            given = literal(expr)
            if isinstance(given, str) and given in words:
                return given
            shown = expr.id if isinstance(expr, A.Name) else ""
            if kind == "activation":
                self.error(f"argument `{p.name}` of `{layer}` must be an activation function", expr.span,
                           label="not an activation",
                           notes=did_you_mean(shown, words) + [f"activations are {', '.join(words)}"],
                           code="E0209")
            else:
                self.error(f"argument `{p.name}` of `{layer}` must be one of {', '.join(words)}", expr.span,
                           label="not one of those", notes=did_you_mean(shown, words), code="E0209")
            return NOT_LITERAL
        raise AssertionError(f"unknown argument kind {kind}")
