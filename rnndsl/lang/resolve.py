"""resolve: AST -> bound program (imports, scopes, hyperparameters).

`resolve(module, file, folder, finder)` reads the imports (found by
`rnndsl.lang.specfiles`: next to the importing file, then the standard library, then
the search path), then binds every name of every cell and network:

- in a cell, a name is a hyperparameter, an input, a declared parameter, a
  value defined by an equation, or a built-in function; a cell that declares no
  `param` at all takes every other bare name as an implicit parameter (the way
  papers write `W`, `U`, `b`), while a cell that declares some must declare all;
- in a network, a name is a hyperparameter, an input, a bound value, a cell, or
  a layer that `rnndsl.lang.layers` knows.

The result is a `BoundProgram`: per cell and network, tables of what each name
is, with shapes still as expressions (inference comes later). Every problem is
collected as a diagnostic; a cell with errors is left out of the program.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

from . import ast as A
from . import limits, training
from .builtins import (
    CONSTANT_NAMES, CONSTRAINTS, FITS, FUNCTIONS, HYPER_TYPES, INITIALIZERS, KEYWORD_ONLY, REQUIRED,
    SOLVERS, ACTIVATIONS, Param,
)
from .dims import Dim
from .errors import ResolveError, RnnDslError, SpecImportError, did_you_mean
from .layers import CELL_KEYWORDS, DTYPES, ENCODER_DECODER, ENCODER_DECODER_PARAMS, KERAS_LAYERS, KINDS, WRAPPERS
from ..draw.notation import latex_problem
from .parse import parse_file

# ---------------------------------------------------------------- results


@dataclass
class Hyper:
    """A hyperparameter: its type, its default (a Python value, or None), where declared."""

    name: str
    type: str
    default: object
    span: A.Span


@dataclass
class ParamInfo:
    name: str
    shape: Optional[A.Shape]
    init: Union[A.Init, A.ConstInit, None]
    fixed: bool
    constraints: tuple
    span: A.Span
    implicit: bool = False  # used in an equation without a `param` declaration
    fit: Optional[A.Fit] = None  # computed from data in closed form, not trained


@dataclass
class ValueInfo:
    """A value defined by an equation (`h[t] = ...`) or a continuous state (`d/dt y = ...`)."""

    name: str
    stmt: Union[A.Equation, A.ODE]
    position: int  # which target of a multi-target equation
    span: A.Span

    @property
    def ode(self) -> bool:
        return isinstance(self.stmt, A.ODE)


@dataclass
class BoundCell:
    ast: A.Cell
    name: str
    file: str
    doc: Optional[str]
    over: str  # "time" or "tree"
    index: str  # "t" or "n"
    hparams: dict
    inputs: dict  # name -> A.InputDecl
    params: dict  # name -> ParamInfo
    values: dict  # name -> ValueInfo, in equation order
    state_decls: dict  # name -> A.StateDecl
    outputs: list  # of A.Name
    free_dims: list  # dimension names bound when the cell is applied
    solver: Optional[str] = None
    step: object = None  # float, or the name of the hyperparameter giving it
    delays: dict = field(default_factory=dict)  # name -> largest delay it is read at
    notation: dict = field(default_factory=dict)  # name -> LaTeX, from `notation` statements

    @property
    def states(self) -> list:
        """The cell's states in the spec's order: values read at an earlier step or defined by an ODE, then
        inputs read at an earlier step."""
        states = [n for n, v in self.values.items() if v.ode or self.delays.get(n, 0) >= 1]
        return states + [n for n in self.inputs if self.delays.get(n, 0) >= 1]

    @property
    def span(self) -> A.Span:
        return self.ast.name.span


@dataclass
class CellRef:
    """A cell with hyperparameter values, as a network applies it: `LSTM(units)`."""

    cell: str
    args: dict  # hyperparameter name -> Dim | float | bool | str
    returns: str
    span: A.Span


@dataclass
class Application:
    """One layer applied to values; `id` is its node in the network graph."""

    id: str
    kind: str  # "keras", "cell" or a wrapper ("Stack", "Bidirectional")
    layer: str  # Keras layer name, or the cell's name
    args: dict
    inputs: list  # value ids
    span: A.Span
    cell: Optional[CellRef] = None
    names: tuple = ()  # the names it is bound to
    initial: dict = field(default_factory=dict)  # a cell's initial states: state name -> value id
    ports: dict = field(default_factory=dict)  # with `returns=states`: state name -> value id of its final value


@dataclass
class NetInputInfo:
    name: str
    kind: str
    dtype: str
    dims: tuple  # of Dim
    span: A.Span


@dataclass
class BoundNetwork:
    ast: A.Network
    name: str
    file: str
    doc: Optional[str]
    hparams: dict
    inputs: dict  # name -> NetInputInfo
    apps: list  # of Application, in order
    values: dict  # bound name -> value id
    outputs: list  # of (value id, span)
    notation: dict = field(default_factory=dict)  # name -> LaTeX, from `notation` statements

    @property
    def span(self) -> A.Span:
        return self.ast.name.span


@dataclass
class BoundProgram:
    file: str
    doc: Optional[str]
    cells: dict
    networks: dict
    files: list  # every file read, the main one first
    main_names: list  # names defined in the main file, in order


# ---------------------------------------------------------------- entry


def resolve(module: A.Module, file: str, folder: Optional[Path], finder):
    """Bind every name of `module` and of the files it imports.

    Returns (BoundProgram, errors). `folder` is where the main file's imports start
    (None: only the standard library and the search path); `finder` finds the
    imports (`rnndsl.lang.specfiles`: a search path, or the texts a saved model carries).
    """
    errors: list[RnnDslError] = []
    modules = _load_imports(module, file, folder, finder, errors)
    definitions: dict[str, tuple] = {}  # name -> (AST item, file)
    for mod, mod_file in modules:
        for item in mod.items:
            if isinstance(item, A.Import):
                continue
            name = item.name.id
            if name in definitions:
                first, _ = definitions[name]
                errors.append(ResolveError(
                    f"`{name}` is defined twice", item.name.span, label="second definition",
                    notes=[f"first defined at {first.name.span}"], code="E0204"))
                continue
            definitions[name] = (item, mod_file)
    cells: dict[str, BoundCell] = {}
    cell_asts = {n: it for n, (it, _) in definitions.items() if isinstance(it, A.Cell)}
    for name, (item, mod_file) in definitions.items():
        if isinstance(item, A.Cell):
            bound, errs = _CellResolver(item, mod_file).run()
            errors += errs
            if bound is not None and not errs:
                cells[name] = bound
    networks: dict[str, BoundNetwork] = {}
    for name, (item, mod_file) in definitions.items():
        if isinstance(item, A.Network):
            bound, errs = _NetworkResolver(item, mod_file, cell_asts, cells).run()
            errors += errs
            if bound is not None and not errs:
                networks[name] = bound
    main_names = [i.name.id for i in module.items if not isinstance(i, A.Import)]
    program = BoundProgram(file, module.doc, cells, networks, [f for _, f in modules], main_names)
    return program, errors


def _load_imports(module: A.Module, file: str, folder: Optional[Path], finder, errors: list) -> list:
    """The main module and every module it imports, transitively, each once."""
    seen: set = set()
    out = [(module, file)]
    stack = [(module, folder, [file])]
    while stack:
        mod, directory, chain = stack.pop()
        for imp in mod.imports:
            try:
                found = finder.find(imp.path.value, directory)
            except SpecImportError as e:  # the finder knows why; the import statement says where
                e.span = imp.path.span
                errors.append(e)
                continue
            if found.name in chain:
                errors.append(SpecImportError(
                    f"import cycle: {' -> '.join(chain + [found.name])}", imp.path.span,
                    label="imports a file that imports this one", code="E0502"))
                continue
            if found.key in seen:
                continue
            seen.add(found.key)
            parsed = parse_file(found.text, found.name)
            if parsed.errors and not_a_spec(found.text, parsed.errors[0]):
                errors.append(SpecImportError(
                    f"`{found.name}` is not an rnndsl spec", imp.path.span, label="imports a file of another kind",
                    notes=[f"its line {parsed.errors[0].span.line} is not a statement of the language "
                           f"(see it with `rnndsl check {found.name}`)"], code="E0505"))
                continue
            errors.extend(parsed.errors)
            if parsed.module is None:
                continue
            out.append((parsed.module, found.name))
            stack.append((parsed.module, found.folder, chain + [found.name]))
    return out


def not_a_spec(text: str, first_error: RnnDslError) -> bool:
    """Whether a file whose first syntax error is `first_error` is of another kind altogether:
    the error is on its first line that holds anything but comments. (Its text is then not
    quoted: an import of `/etc/passwd` renamed `.rnn` shows none of its lines.)"""
    for number, line in enumerate(text.split("\n", first_error.span.line)[: first_error.span.line], 1):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            return number >= first_error.span.line
    return True


# ---------------------------------------------------------------- shared checks


def _literal(expr) -> object:
    """The Python value of a literal expression (number, -number, string, true/false), else a sentinel."""
    if isinstance(expr, A.Number):
        return expr.value
    if isinstance(expr, A.UnaryOp) and isinstance(expr.operand, A.Number):
        return -expr.operand.value if expr.op == "-" else expr.operand.value
    if isinstance(expr, A.String):
        return expr.value
    if isinstance(expr, A.Name) and expr.id in CONSTANT_NAMES:
        return CONSTANT_NAMES[expr.id]
    return _NOT_LITERAL


_NOT_LITERAL = object()


def _a(noun: str) -> str:
    """`noun` with its indefinite article: "an int", "a float"."""
    return ("an " if noun[:1] in "aeiou" else "a ") + noun


def _type_ok(type_name: str, value) -> bool:
    if type_name == "bool":
        return isinstance(value, bool)
    if type_name == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if type_name == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, str)


def _resolve_hparams(hparams: tuple, errors: list) -> dict:
    out: dict[str, Hyper] = {}
    for hp in hparams:
        name = hp.name.id
        if name in out:
            errors.append(ResolveError(f"hyperparameter `{name}` is declared twice", hp.name.span,
                                       label="second declaration", code="E0204"))
            continue
        type_name = hp.type.id
        if type_name not in HYPER_TYPES:
            errors.append(ResolveError(
                f"unknown hyperparameter type `{type_name}`", hp.type.span, label="not a type",
                notes=did_you_mean(type_name, HYPER_TYPES) + ["types are int, float, bool and str"],
                code="E0202"))
            continue
        default = None
        if hp.default is not None:
            default = _literal(hp.default)
            if default is _NOT_LITERAL or not _type_ok(type_name, default):
                shown = "an expression" if default is _NOT_LITERAL else _a(type(default).__name__)
                errors.append(ResolveError(
                    f"the default of `{name}` is not {_a(type_name)}", hp.default.span,
                    label=f"expected {_a(type_name)} literal, found {shown}", code="E0203"))
                continue
            if type_name == "float":
                default = float(default)
        out[name] = Hyper(name, type_name, default, hp.name.span)
    return out


def dim_of(expr, known: dict, errors: list, free: Optional[set] = None, where: str = "") -> Optional[Dim]:
    """A shape expression as a Dim.

    `known` maps int hyperparameter names to their symbol; names in `free`
    (when given, a set that collects) become free dimensions; others are errors.
    """
    if isinstance(expr, A.Number):
        if isinstance(expr.value, int):
            return Dim.const(expr.value)
        errors.append(ResolveError("a dimension must be an integer", expr.span,
                                   label=f"`{expr.text}` is not an integer", code="E0207"))
        return None
    if isinstance(expr, A.Name):
        hyper = known.get(expr.id)
        if isinstance(hyper, Hyper):
            if hyper.type != "int":
                errors.append(ResolveError(
                    f"`{expr.id}` is a {hyper.type} hyperparameter; a dimension must be an int",
                    expr.span, label="not an int", notes=[f"`{expr.id}` is declared at {hyper.span}"],
                    code="E0207"))
                return None
            return Dim.sym(expr.id)
        if expr.id in known:  # a free dimension declared by an input shape
            return Dim.sym(expr.id)
        if free is not None:
            free.add(expr.id)
            return Dim.sym(expr.id)
        errors.append(ResolveError(
            f"unknown dimension `{expr.id}`{where}", expr.span, label="not declared",
            notes=did_you_mean(expr.id, known) + ["a dimension is an int hyperparameter, an integer, "
                                                  "or a name from an `input` shape"],
            code="E0201"))
        return None
    if isinstance(expr, A.BinOp) and expr.op in ("+", "-", "*"):
        left = dim_of(expr.left, known, errors, free, where)
        right = dim_of(expr.right, known, errors, free, where)
        if left is None or right is None:
            return None
        return {"+": left + right, "-": left - right, "*": left * right}[expr.op]
    errors.append(ResolveError("a dimension is an integer expression over `+`, `-` and `*`", expr.span,
                               label="not a dimension", code="E0207"))
    return None


def _check_call_args(name: str, args: tuple, params: tuple, span: A.Span, errors: list,
                     what: str, code: str = "E0209") -> Optional[dict]:
    """Match `args` to `params` by position, then keyword. Returns {param name: A.Arg}; None after an error
    (`code`: E0209 in cells and networks, E0805 in a train block)."""
    bound: dict[str, A.Arg] = {}
    names = [p.name for p in params]
    ok = True
    for i, arg in enumerate(args):
        if arg.name is None:
            if bound and any(a.name is not None for a in args[:i]):
                errors.append(ResolveError("a positional argument follows a keyword argument",
                                           arg.span, code=code))
                return None
            if i >= len(params):
                errors.append(ResolveError(
                    f"{what} `{name}` takes {len(params)} argument{'s' if len(params) != 1 else ''}, "
                    f"given {len(args)}", arg.span, label="extra argument", code=code))
                return None
            bound[names[i]] = arg
        else:
            key = arg.name.id
            if key not in names:
                errors.append(ResolveError(
                    f"{what} `{name}` has no argument `{key}`", arg.name.span, label="unknown keyword",
                    notes=did_you_mean(key, names) + ([f"its arguments are {', '.join(names)}"]
                                                      if names else [f"`{name}` takes no arguments"]),
                    code=code))
                ok = False
                continue
            if key in bound:
                errors.append(ResolveError(f"argument `{key}` is given twice", arg.name.span,
                                           code=code))
                ok = False
                continue
            bound[key] = arg
    for p in params:
        if p.name not in bound and p.default is REQUIRED:
            errors.append(ResolveError(f"{what} `{name}` needs its argument `{p.name}`", span,
                                       label=f"`{p.name}` is missing", code=code))
            ok = False
    return bound if ok else None


# ---------------------------------------------------------------- cells


class _CellResolver:
    def __init__(self, cell: A.Cell, file: str):
        self.cell = cell
        self.file = file
        self.errors: list[RnnDslError] = []

    def error(self, message, span, label="", notes=(), code="E0201"):
        self.errors.append(ResolveError(message, span, label=label, notes=notes, code=code))

    def run(self):
        cell = self.cell
        self.hparams = _resolve_hparams(cell.hparams, self.errors)
        self.over = "time"
        if cell.over is not None:
            if cell.over.id != "tree":
                self.error(f"unknown recurrence domain `{cell.over.id}`", cell.over.span,
                           label="expected `tree`", notes=did_you_mean(cell.over.id, ["tree"])
                           + ["a cell runs over time unless it says `over tree`"], code="E0205")
                return None, self.errors
            self.over = "tree"
        self.index = "n" if self.over == "tree" else "t"
        self.inputs: dict = {}
        self.params: dict = {}
        self.values: dict = {}
        self.state_decls: dict = {}
        self.outputs: list = []
        self.free: set = set()
        self.delays: dict = {}
        self._declare()
        self._check_shapes()
        self._solver()
        for stmt in cell.body:
            if isinstance(stmt, (A.Equation, A.ODE)):
                self._expr(stmt.value, generator=None)
        self._check_states_and_outputs()
        known = [*self.hparams, *self.inputs, *self.params, *self.values, *sorted(self.free)]
        notation = _notations(cell.body, known, "cell", self.errors)
        if self.errors:
            return None, self.errors
        return BoundCell(
            ast=cell, name=cell.name.id, file=self.file, doc=cell.doc, over=self.over,
            index=self.index, hparams=self.hparams, inputs=self.inputs, params=self.params,
            values=self.values, state_decls=self.state_decls, outputs=self.outputs,
            free_dims=sorted(self.free), solver=self.solver_name, step=self.step,
            delays=self.delays, notation=notation,
        ), []

    # ---- declarations

    def _taken(self, name: str):
        """Where `name` is already declared in this cell, if it is."""
        if name in self.hparams:
            return "hyperparameter", self.hparams[name].span
        if name in self.inputs:
            return "input", self.inputs[name].span
        if name in self.params:
            return "parameter", self.params[name].span
        if name in self.values:
            return "value", self.values[name].span
        return None

    def _claim(self, name: A.Name, what: str) -> bool:
        taken = self._taken(name.id)
        if taken is not None:
            kind, span = taken
            self.error(f"`{name.id}` is declared twice", name.span, label=f"already {_a(kind)}",
                       notes=[f"the {kind} `{name.id}` is declared at {span}"], code="E0204")
            return False
        if name.id == self.index:
            self.error(f"`{name.id}` is the cell's index and cannot be a {what}", name.span,
                       code="E0204")
            return False
        return True

    def _declare(self):
        self.declares_params = any(isinstance(s, A.ParamDecl) for s in self.cell.body)
        for stmt in self.cell.body:
            if isinstance(stmt, A.InputDecl):
                for n in stmt.names:
                    if self._claim(n, "input"):
                        self.inputs[n.id] = stmt
            elif isinstance(stmt, A.ParamDecl):
                for n in stmt.names:
                    if self._claim(n, "parameter"):
                        self.params[n.id] = ParamInfo(n.id, stmt.shape, stmt.init, stmt.fixed,
                                                      stmt.constraints, n.span, fit=stmt.fit)
                self._check_init(stmt)
            elif isinstance(stmt, A.Equation):
                if len(stmt.targets) > 1 and not _is_call(stmt.value, "split"):
                    self.error("several values are defined at once only by `split`", stmt.targets[1].span,
                               label="a second target", notes=["write `a[t], b[t] = split(z[t], 2)`"],
                               code="E0214")
                for i, target in enumerate(stmt.targets):
                    self._check_target(target)
                    if self._claim(target.name, "value"):
                        self.values[target.name.id] = ValueInfo(target.name.id, stmt, i, target.name.span)
            elif isinstance(stmt, A.ODE):
                if self._claim(stmt.name, "value"):
                    self.values[stmt.name.id] = ValueInfo(stmt.name.id, stmt, 0, stmt.name.span)
        for stmt in self.cell.body:
            if isinstance(stmt, A.StateDecl):
                name = stmt.name.id
                if name in self.state_decls:
                    self.error(f"state `{name}` is declared twice", stmt.name.span, code="E0204")
                elif name not in self.values:
                    self.error(f"state `{name}` has no equation", stmt.name.span,
                               label="no `" + name + "[t] = ...` in this cell",
                               notes=did_you_mean(name, self.values), code="E0211")
                else:
                    self.state_decls[name] = stmt
                    if stmt.init is not None:
                        self._state_init(stmt)
            elif isinstance(stmt, A.OutputDecl):
                self.outputs.extend(stmt.names)

    def _check_target(self, target: A.Target):
        idx = target.index
        if isinstance(idx, A.Name) and idx.id == self.index:
            return
        self.error(f"an equation defines `{target.name.id}` at `{self.index}`", idx.span,
                   label=f"write `{target.name.id}[{self.index}]`",
                   notes=[f"read earlier values on the right: `{target.name.id}[t-1]`"
                          if self.index == "t" else "read children on the right, in a reduction"],
                   code="E0212")

    def _check_init(self, decl: A.ParamDecl):
        init = decl.init
        if isinstance(init, A.Init):
            name = init.name.id
            if name not in INITIALIZERS:
                self.error(f"unknown initializer `{name}`", init.name.span, label="not an initializer",
                           notes=did_you_mean(name, INITIALIZERS), code="E0208")
            else:
                bound = _check_call_args(name, init.args, INITIALIZERS[name], init.span, self.errors,
                                         "initializer")
                for arg in (bound or {}).values():
                    self._constant_number(arg.value)
        elif isinstance(init, A.ConstInit):
            self._constant_number(init.value)
        if decl.fit is not None:
            fit = decl.fit
            if fit.name.id not in FITS:
                self.error(f"unknown fit `{fit.name.id}`", fit.name.span, label="not a closed-form fit",
                           notes=did_you_mean(fit.name.id, FITS) + [f"fits are {', '.join(FITS)}"], code="E0210")
            else:
                bound = _check_call_args(fit.name.id, fit.args, FITS[fit.name.id], fit.span, self.errors, "fit")
                for arg in (bound or {}).values():
                    self._constant_number(arg.value)
        for c in decl.constraints:
            if c.name.id not in CONSTRAINTS:
                self.error(f"unknown constraint `{c.name.id}`", c.name.span, label="not a constraint",
                           notes=did_you_mean(c.name.id, CONSTRAINTS)
                           + [f"constraints are {', '.join(CONSTRAINTS)}"], code="E0210")
            else:
                bound = _check_call_args(c.name.id, c.args, CONSTRAINTS[c.name.id], c.span, self.errors,
                                         "constraint")
                for arg in (bound or {}).values():
                    self._constant_number(arg.value)

    def _constant_number(self, expr):
        """A number known before training: a literal, a numeric hyperparameter, or arithmetic of those."""
        if isinstance(expr, A.Number):
            return
        if isinstance(expr, A.Name):
            hyper = self.hparams.get(expr.id)
            if hyper is not None and hyper.type in ("int", "float"):
                return
            self.error(f"`{expr.id}` is not a numeric constant", expr.span,
                       label="expected a number or a numeric hyperparameter",
                       notes=did_you_mean(expr.id, [h for h, v in self.hparams.items()
                                                    if v.type in ("int", "float")]), code="E0209")
            return
        if isinstance(expr, A.UnaryOp):
            return self._constant_number(expr.operand)
        if isinstance(expr, A.BinOp) and expr.op in ("+", "-", "*", "/", "**"):
            self._constant_number(expr.left)
            self._constant_number(expr.right)
            return
        self.error("expected a numeric constant", expr.span, label="not a constant", code="E0209")

    def _state_init(self, stmt: A.StateDecl):
        init = stmt.init
        if isinstance(init, A.Name) and init.id in self.params:
            return  # a learned initial state
        self._constant_number(init)

    def _check_shapes(self):
        known = dict(self.hparams)
        for name, decl in self.inputs.items():
            for d in decl.shape.dims:
                dim_of(d, known, self.errors, free=self.free)
        known.update({f: f for f in self.free})
        shaped = [(p.name, p.shape) for p in self.params.values() if p.shape is not None]
        shaped += [(s.name.id, s.shape) for s in self.state_decls.values() if s.shape is not None]
        for name, shape in shaped:
            for d in shape.dims:
                dim_of(d, known, self.errors, where=f" in the shape of `{name}`")

    def _solver(self):
        cell = self.cell
        odes = [s for s in cell.body if isinstance(s, A.ODE)]
        self.solver_name, self.step = None, None
        if cell.solver is None:
            for ode in odes:
                self.error("a continuous-time equation needs a solver", ode.span,
                           label=f"`d/dt {ode.name.id}` with no solver",
                           notes=[f"write `cell {cell.name.id}(...) solver rk4` (or euler)"], code="E0215")
            return
        name = cell.solver.name.id
        if name not in SOLVERS:
            self.error(f"unknown solver `{name}`", cell.solver.name.span, label="not a solver",
                       notes=did_you_mean(name, SOLVERS) + ["solvers are euler and rk4"], code="E0213")
            return
        if not odes:
            self.error(f"solver `{name}` but no `d/dt` equation", cell.solver.span,
                       label="nothing to integrate", code="E0215")
            return
        bound = _check_call_args(name, cell.solver.args, SOLVERS[name], cell.solver.span, self.errors,
                                 "solver")
        if bound is None:
            return
        self.solver_name = name
        if "step" in bound:
            value = bound["step"].value
            literal = _literal(value)
            if isinstance(value, A.Name) and value.id in self.hparams:
                if self.hparams[value.id].type not in ("int", "float"):
                    self.error(f"the step size `{value.id}` is not a number", value.span, code="E0216")
                self.step = value.id
            elif isinstance(literal, (int, float)) and not isinstance(literal, bool) and literal > 0:
                self.step = float(literal)
            else:
                self.error("the step size must be a positive number or a hyperparameter", value.span,
                           label="not a step size", code="E0216")
        elif "dt" in self.hparams and self.hparams["dt"].type in ("int", "float"):
            self.step = "dt"
        else:
            self.error(f"solver `{name}` has no step size", cell.solver.span,
                       label="no `step=` and no `dt` hyperparameter",
                       notes=[f"write `solver {name}(step=0.1)`, or add `dt: float = 0.1` to the cell's "
                              "hyperparameters"], code="E0216")

    # ---- expressions

    def _names_in_scope(self) -> list:
        return list(self.hparams) + list(self.inputs) + list(self.params) + list(self.values)

    def _expr(self, expr, generator: Optional[A.Generator]):
        if isinstance(expr, (A.Number,)):
            return
        if isinstance(expr, A.String):
            self.error("a string is only an argument of `einsum`", expr.span, label="not a value",
                       code="E0225")
            return
        if isinstance(expr, A.Name):
            self._bare_name(expr, generator)
            return
        if isinstance(expr, A.Indexed):
            self._indexed(expr, generator)
            return
        if isinstance(expr, A.UnaryOp):
            self._expr(expr.operand, generator)
            return
        if isinstance(expr, A.BinOp):
            if expr.op == ">>":
                self.error("`>>` chains layers in a network; a cell's equations cannot use it",
                           expr.span, code="E0224")
                return
            self._expr(expr.left, generator)
            self._expr(expr.right, generator)
            return
        if isinstance(expr, A.Call):
            self._call(expr, generator)
            return
        self.error("not an expression", expr.span, code="E0201")

    def _bare_name(self, expr: A.Name, generator):
        name = expr.id
        if generator is not None and name == generator.var.id:
            self.error(f"`{name}` stands for a child: read a child's value as `h[{name}]`", expr.span,
                       code="E0219")
            return
        if name == self.index or (self.index == "t" and name == "t"):
            self.error(f"`{name}` is the cell's index, not a value", expr.span,
                       label=f"index a value with it: `h[{name}]`", code="E0219")
            return
        if name in CONSTANT_NAMES or name in self.hparams or name in self.params:
            return
        if name in self.inputs or name in self.values:
            self._read(name, 0)
            return
        if name in FUNCTIONS:
            self.error(f"`{name}` is a function; call it: `{name}(...)`", expr.span, code="E0219")
            return
        if self.declares_params:
            self.error(f"unknown name `{name}`", expr.span, label="not declared in this cell",
                       notes=did_you_mean(name, self._names_in_scope())
                       + [f"declare a parameter with `param {name}`"], code="E0201")
            return
        # Paper style: a cell that declares no parameters takes free names as parameters.
        if name not in self.params:
            self.params[name] = ParamInfo(name, None, None, False, (), expr.span, implicit=True)

    def _read(self, name: str, delay: int):
        self.delays[name] = max(self.delays.get(name, 0), delay)

    def _indexed(self, expr: A.Indexed, generator):
        name = expr.name.id
        if name not in self.inputs and name not in self.values:
            if name in self.params or name in self.hparams:
                kind = "parameter" if name in self.params else "hyperparameter"
                self.error(f"`{name}` is a {kind}; it has no time index", expr.span,
                           label=f"write `{name}`", code="E0221")
            else:
                self.error(f"unknown value `{name}`", expr.name.span, label="no input or equation defines it",
                           notes=did_you_mean(name, list(self.inputs) + list(self.values)), code="E0201")
            return
        delay = self._delay(expr, generator)
        if delay is not None:
            self._read(name, delay)

    def _delay(self, expr: A.Indexed, generator) -> Optional[int]:
        """The delay of a read: 0 for `h[t]`, k for `h[t-k]`, 1 for a child `h[k]`."""
        idx = expr.index
        name = expr.name.id
        if self.over == "tree":
            if isinstance(idx, A.Name) and idx.id == "n":
                return 0
            if generator is not None and isinstance(idx, A.Name) and idx.id == generator.var.id:
                return 1
            reduction = f"`sum({name}[k] for k in children(n))`"
            if isinstance(idx, A.BinOp) and isinstance(idx.left, A.Name) and idx.left.id in ("n", "t"):
                # `h[n-1]`, `h[t-1]`: the step before, in a tree, is the children (`h[n]` would be a cycle, E0401)
                self.error("a tree cell indexes by node", idx.span, label="a node has children, not a previous node",
                           notes=[f"read the children's values in a reduction: {reduction}"], code="E0105")
                return None
            hint = f"`{name}[n]`" + (f" or a child `{name}[{generator.var.id}]`" if generator else "")
            self.error("a tree cell indexes by node", idx.span, label=f"write {hint}",
                       notes=[f"read children in a reduction: {reduction}"], code="E0105")
            return None
        if isinstance(idx, A.Name) and idx.id == "t":
            return 0
        if isinstance(idx, A.BinOp) and isinstance(idx.left, A.Name) and idx.left.id == "t" \
                and isinstance(idx.right, A.Number) and isinstance(idx.right.value, int):
            if idx.op == "-" and idx.right.value > limits.MAX_DELAY:
                # The cell keeps the last k values of what it reads at t-k, in its state, for every sequence.
                self.error(f"`{name}[t-{idx.right.value}]` reads too far back", idx.span,
                           label=f"a delay is at most {limits.MAX_DELAY} steps",
                           notes=[f"the cell would carry {name}'s last {idx.right.value} values in its state"],
                           code="E0105")
                return None
            if idx.op == "-":
                return idx.right.value
            if idx.op == "+":
                self.error(f"`{name}[t+{idx.right.value}]` reads the future", idx.span,
                           label="a cell only sees the present and the past",
                           notes=["for a backward pass over time, wrap the cell in "
                                  "`Bidirectional(...)` in a network"], code="E0220")
                return None
        self.error("a time index must be `t` or `t-k`", idx.span, label=f"write `{name}[t]` or `{name}[t-1]`",
                   notes=["k is a positive integer: `h[t-2]` is the value two steps back"], code="E0105")
        return None

    def _call(self, expr: A.Call, generator):
        func = expr.func
        if not isinstance(func, A.Name):
            self.error("only built-in functions can be called in a cell", expr.span, code="E0203")
            return
        name = func.id
        if name == "children":
            self.error("`children(n)` is only read in a reduction", expr.span,
                       label="write `sum(h[k] for k in children(n))`", code="E0222")
            return
        if name not in FUNCTIONS:
            if name in self.values or name in self.inputs:
                self.error(f"`{name}` is a value, not a function", expr.span,
                           label=f"index it with brackets: `{name}[{self.index}]`", code="E0223")
                return
            else:
                self.error(f"unknown function `{name}`", func.span, label="not a built-in function",
                           notes=did_you_mean(name, FUNCTIONS), code="E0203")
            for arg in expr.args:
                self._expr(arg.value, generator)
            return
        sig = FUNCTIONS[name]
        if expr.generator is not None:
            self._generator(name, sig, expr.generator, generator)
            return
        params = sig.params
        args = expr.args
        if sig.variadic:
            # Extra positional tensors; `concat` takes `axis=` as its only keyword.
            positional = [a for a in args if a.name is None]
            keywords = [a for a in args if a.name is not None]
            allowed = KEYWORD_ONLY.get(name, {})
            for kw in keywords:
                if kw.name.id not in allowed:
                    self.error(f"function `{name}` has no argument `{kw.name.id}`", kw.name.span,
                               label="unknown keyword", notes=did_you_mean(kw.name.id, allowed), code="E0209")
                else:
                    self._constant_arg(name, allowed[kw.name.id][0], kw)
            if len(positional) < len(params) + 1:
                self.error(f"`{name}` needs at least {len(params) + 1} arguments", expr.span, code="E0209")
            for i, arg in enumerate(positional):
                kind = params[i].kind if i < len(params) else sig.variadic
                if kind == "tensor":
                    self._expr(arg.value, generator)
                else:
                    self._constant_arg(name, kind, arg)
            return
        bound = _check_call_args(name, args, params, expr.span, self.errors, "function")
        if bound is None:
            return
        for p in params:
            if p.name in bound:
                arg = bound[p.name]
                if p.kind == "tensor":
                    self._expr(arg.value, generator)
                else:
                    self._constant_arg(name, p.kind, arg)

    def _constant_arg(self, func: str, kind: str, arg: A.Arg):
        value = arg.value
        literal = _literal(value)
        if kind == "str":
            if not isinstance(literal, str):
                self.error(f"`{func}` takes a string here", value.span, label="expected a string literal",
                           notes=['`einsum("ij,j->i", W, x[t])`'], code="E0209")
        elif kind == "axis":
            if not (isinstance(literal, int) and not isinstance(literal, bool)):
                self.error(f"the axis of `{func}` must be an integer literal", value.span,
                           label="not an integer", code="E0209")
        elif kind == "int":
            hyper = self.hparams.get(value.id) if isinstance(value, A.Name) else None
            if hyper is not None and hyper.type == "int":
                return
            if not (isinstance(literal, int) and not isinstance(literal, bool) and literal > 0):
                self.error(f"`{func}` takes a positive integer here", value.span,
                           label="expected an integer literal or int hyperparameter", code="E0209")

    def _generator(self, name, sig, gen: A.Generator, outer):
        if not sig.reduction:
            self.error(f"`{name}` does not reduce over children", gen.span,
                       label="only sum, mean, max, min, prod and norm do", code="E0222")
            return
        if outer is not None:
            self.error("reductions over children do not nest", gen.span, code="E0222")
            return
        if self.over != "tree":
            self.error("`children(n)` needs a tree cell", gen.source.span,
                       label="this cell runs over time",
                       notes=[f"write `cell {self.cell.name.id}(...) over tree`"], code="E0222")
            return
        if gen.source.id != "children":
            self.error(f"a reduction iterates over `children(n)`, not `{gen.source.id}`", gen.source.span,
                       code="E0222")
            return
        if gen.node.id != "n":
            self.error("iterate over the children of the current node, `children(n)`", gen.node.span,
                       code="E0222")
            return
        taken = self._taken(gen.var.id)
        if taken is not None or gen.var.id == "n":
            self.error(f"the child variable `{gen.var.id}` hides a name of the cell", gen.var.span,
                       label="choose another name", code="E0204")
            return
        self._expr(gen.body, gen)

    # ---- after the equations

    def _check_states_and_outputs(self):
        if not self.outputs:
            self.error(f"cell `{self.cell.name.id}` has no output", self.cell.name.span,
                       label="add `output NAME`", code="E0218")
        seen = set()
        for out in self.outputs:
            if out.id in seen:
                self.error(f"`{out.id}` is an output twice", out.span, code="E0204")
            seen.add(out.id)
            if out.id not in self.values:
                self.error(f"output `{out.id}` is not defined by an equation", out.span,
                           label="no equation", notes=did_you_mean(out.id, self.values), code="E0217")
        for name, decl in self.state_decls.items():
            is_state = self.delays.get(name, 0) >= 1 or self.values[name].ode
            if not is_state:
                self.error(f"`{name}` is declared a state but never read at an earlier step",
                           decl.name.span, label="not a state",
                           notes=[f"a value becomes state when it is read as `{name}[t-1]`"], code="E0211")


def _notations(body: tuple, known: list, where: str, errors: list) -> dict:
    """The `notation` statements of a cell's or network's body: name -> LaTeX, each checked."""
    notation: dict = {}
    for stmt in body:
        if not isinstance(stmt, A.Notation):
            continue
        name, latex = stmt.name.id, stmt.latex.value
        if stmt.word is not None and stmt.word.id != "notation":
            errors.append(ResolveError(
                f"unknown statement `{stmt.word.id} {name} = \"...\"`", stmt.word.span, label="not a statement",
                notes=did_you_mean(stmt.word.id, ["notation"]) + ['a name\'s LaTeX is given by `notation NAME = "..."`'],
                code="E0234"))
        elif name not in known:
            errors.append(ResolveError(
                f"notation for `{name}`, which this {where} does not declare", stmt.name.span,
                label="not a name of this " + where, notes=did_you_mean(name, known), code="E0232"))
        elif name in notation:
            errors.append(ResolveError(f"notation for `{name}` is given twice", stmt.name.span,
                                       label="second notation", code="E0204"))
        elif problem := latex_problem(latex):
            escapes = ["a string turns `\\t` into a tab and `\\n` into a newline: write a LaTeX backslash "
                       "as `\\\\`, as in `notation h_tilde = \"\\\\tilde{h}\"`"] if "control" in problem else []
            errors.append(ResolveError(f"the notation for `{name}` {problem}", stmt.latex.span,
                                       label="not usable LaTeX", notes=escapes, code="E0233"))
        else:
            notation[name] = latex
    return notation


def _is_call(expr, name: str) -> bool:
    return isinstance(expr, A.Call) and isinstance(expr.func, A.Name) and expr.func.id == name


# ---------------------------------------------------------------- networks


class _NetworkResolver:
    def __init__(self, net: A.Network, file: str, cell_asts: dict, cells: dict):
        self.net = net
        self.file = file
        self.cell_asts = cell_asts  # every cell in scope, even those with errors
        self.cells = cells
        self.errors: list[RnnDslError] = []
        self.apps: list[Application] = []
        self.values: dict[str, str] = {}
        self.inputs: dict[str, NetInputInfo] = {}
        self.failed: set = set()  # names whose definition had an error: uses stay quiet
        self.blocked = False  # a cell it applies has errors: no network, and no more noise

    def error(self, message, span, label="", notes=(), code="E0201"):
        self.errors.append(ResolveError(message, span, label=label, notes=notes, code=code))

    def run(self):
        self.hparams = _resolve_hparams(self.net.hparams, self.errors)
        outputs = []
        for stmt in self.net.body:
            if isinstance(stmt, A.NetInput):
                for name in stmt.names:
                    self._input(name, stmt.type)
            elif isinstance(stmt, A.Bind):
                value = self._flow(stmt.value, bound=True)
                if value is None:
                    self.failed.update(n.id for n in stmt.names)
                    continue
                app = self._app(value)
                if app is not None and app.ports:
                    self._bind_states(stmt, app)
                    continue
                if len(stmt.names) != 1:
                    self.error("bind one name to a layer's output", stmt.names[1].span,
                               notes=["a cell applied with `returns=states` binds one name per state"],
                               code="E0214")
                    continue
                name = stmt.names[0]
                if self._defined(name):
                    self.error(f"`{name.id}` is defined twice", name.span, label="second definition",
                               code="E0204")
                    continue
                self.values[name.id] = value
                if app is not None:
                    app.names += (name.id,)
            elif isinstance(stmt, A.NetOutput):
                for expr in stmt.values:
                    value = self._flow(expr)
                    if value is not None:
                        outputs.append((value, expr.span))
        if not outputs and not any(isinstance(s, A.NetOutput) for s in self.net.body):
            self.error(f"network `{self.net.name.id}` has no output", self.net.name.span,
                       label="add `output NAME`", code="E0218")
        self.errors += training.check(self.net, self.hparams)
        notation: dict = {}
        if not self.blocked:
            known = [*self.hparams, *self.inputs, *self.values, *sorted(self.failed)]
            notation = _notations(self.net.body, known, "network", self.errors)
        if self.errors or self.blocked:
            return None, self.errors
        return BoundNetwork(self.net, self.net.name.id, self.file, self.net.doc, self.hparams,
                            self.inputs, self.apps, self.values, outputs, notation), []

    def _bind_states(self, stmt: A.Bind, app: Application):
        """`c, h = LSTM(units, returns=states)(x)`: one name per state, in the cell's order."""
        states = list(app.ports)
        if len(stmt.names) != len(states):
            self.error(f"`{app.layer}` has {len(states)} state{'s' if len(states) != 1 else ''} "
                       f"({', '.join(states)}): bind {len(states)} name{'s' if len(states) != 1 else ''}, "
                       f"given {len(stmt.names)}", stmt.span, code="E0214")
            self.failed.update(n.id for n in stmt.names)
            return
        for name, state in zip(stmt.names, states):
            if self._defined(name):
                self.error(f"`{name.id}` is defined twice", name.span, label="second definition", code="E0204")
                continue
            self.values[name.id] = app.ports[state]
        app.names += tuple(n.id for n in stmt.names)

    def _defined(self, name: A.Name) -> bool:
        return name.id in self.values or name.id in self.hparams

    def _app(self, value_id: str) -> Optional[Application]:
        return next((a for a in self.apps if a.id == value_id), None)

    def _input(self, name: A.Name, typ: A.TypeExpr):
        if self._defined(name):
            self.error(f"`{name.id}` is defined twice", name.span, code="E0204")
            return
        kind = typ.kind.id
        self.failed.add(name.id)  # until the type is known good
        if kind not in KINDS:
            self.error(f"unknown type `{kind}`", typ.kind.span, label="not a kind of value",
                       notes=did_you_mean(kind, KINDS) + ["kinds are seq, vec, tree and grid"], code="E0230")
            return
        items = list(typ.items)
        dtype = "float"
        if items and isinstance(items[0], A.Name) and items[0].id in DTYPES:
            dtype = items.pop(0).id
        dims = []
        free: set = set()
        for item in items:
            d = dim_of(item, self.hparams, self.errors, free=free)
            if d is not None:
                dims.append(d)
        if kind == "grid" and len(dims) < 2:
            self.error("a grid has at least two dimensions: `grid[H, W, ...]`", typ.span, code="E0230")
        if kind in ("seq", "vec", "tree") and not dims and dtype == "float":
            self.error(f"`{kind}[]` has no features", typ.span,
                       label=f"write `{kind}[32]`, or `{kind}[int]` for tokens", code="E0230")
        self.failed.discard(name.id)
        self.values[name.id] = name.id
        self.inputs[name.id] = NetInputInfo(name.id, kind, dtype, tuple(dims), name.span)

    # ---- data flow

    def _flow(self, expr, bound: bool = False) -> Optional[str]:
        """Resolve a data-flow expression; returns the id of the value it produces.

        `bound`: the expression is the right side of a binding, the one place where a cell's states
        (`returns=states`) can be taken apart into names."""
        value = self._flow_value(expr)
        app = self._app(value) if value is not None else None
        if app is not None and app.ports and not bound:
            self.error(f"the states of `{app.layer}` are several values: bind them to names",
                       app.cell.span, label="returns=states",
                       notes=[f"write `{', '.join(app.ports)} = {app.layer}(..., returns=states)(...)`"],
                       code="E0214")
            return None
        return value

    def _flow_value(self, expr) -> Optional[str]:
        if isinstance(expr, A.Name):
            if expr.id in self.values:
                return self.values[expr.id]
            if expr.id in self.failed:
                return None
            if expr.id in self.cell_asts or expr.id in KERAS_LAYERS:
                self.error(f"`{expr.id}` is a layer; apply it to a value", expr.span,
                           label=f"write `{expr.id}(...)(x)` or `x >> {expr.id}(...)`", code="E0227")
                return None
            self.error(f"unknown value `{expr.id}`", expr.span, label="not an input or bound name",
                       notes=did_you_mean(expr.id, self.values), code="E0201")
            return None
        if isinstance(expr, A.BinOp) and expr.op == ">>":
            source = self._flow(expr.left)
            if source is None:
                self._check_layer(expr.right)
                return None
            return self._apply(expr.right, [source], expr.span)
        if isinstance(expr, A.Call) and isinstance(expr.func, A.Call):
            inputs, initial = [], {}
            for arg in expr.args:
                value = self._flow(arg.value)
                if value is None:
                    self._check_layer(expr.func)
                    return None
                if arg.name is None:
                    inputs.append(value)
                elif arg.name.id in initial:
                    self.error(f"initial state `{arg.name.id}` is given twice", arg.name.span, code="E0209")
                    return None
                else:
                    initial[arg.name] = value
            if expr.generator is not None:
                self.error("a layer is applied to values, not to a generator", expr.span, code="E0222")
                return None
            return self._apply(expr.func, inputs, expr.span, initial)
        if isinstance(expr, A.Call) and isinstance(expr.func, A.Name):
            name = expr.func.id
            if name in self.cell_asts or name in KERAS_LAYERS or name in WRAPPERS or name == ENCODER_DECODER:
                self.error(f"`{name}(...)` is a layer; apply it to a value", expr.span,
                           label=f"write `{name}(...)(x)` or `x >> {name}(...)`", code="E0227")
            else:
                self._unknown_layer(expr.func)
            return None
        self.error("a network combines values with layers", expr.span,
                   label="not a layer application",
                   notes=["apply layers: `Dense(10)(x)`, `x >> LSTM(64)`; combine values with "
                          "`Add()(a, b)` or `Concatenate()(a, b)`"], code="E0228")
        return None

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

    def _check_layer(self, layer_expr) -> None:
        """Report the errors of a layer whose input failed: its own still show (one run, every error)."""
        if isinstance(layer_expr, A.Name):
            layer_expr = A.Call(layer_expr, (), None, layer_expr.span)
        if not (isinstance(layer_expr, A.Call) and isinstance(layer_expr.func, A.Name)):
            return
        name = layer_expr.func.id
        if name in KERAS_LAYERS:
            self._layer_args(name, layer_expr, KERAS_LAYERS[name].params)
        elif name in WRAPPERS:
            self._layer_args(name, layer_expr, WRAPPERS[name])
        elif name == ENCODER_DECODER:
            self._layer_args(name, layer_expr, ENCODER_DECODER_PARAMS)
        elif name in self.cell_asts:
            self._cell_ref(layer_expr)
        else:
            self._unknown_layer(layer_expr.func)

    def _unknown_layer(self, name: A.Name):
        known = list(self.cell_asts) + list(KERAS_LAYERS) + list(WRAPPERS) + [ENCODER_DECODER]
        self.error(f"unknown layer `{name.id}`", name.span, label="not a cell or a known layer",
                   notes=did_you_mean(name.id, known), code="E0226")

    def _apply(self, layer_expr, inputs: list, span: A.Span, initial: Optional[dict] = None) -> Optional[str]:
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
            args = self._layer_args(name, layer_expr, spec.params)
            if args is None:
                return None
            if spec.arity is not None and len(inputs) != spec.arity:
                self.error(f"`{name}` takes {spec.arity} input, given {len(inputs)}", span, code="E0231")
                return None
            if not inputs:
                self.error(f"`{name}` needs an input", span, code="E0231")
                return None
            app = Application(app_id, "keras", name, args, inputs, span)
        elif name in WRAPPERS:
            args = self._layer_args(name, layer_expr, WRAPPERS[name])
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
            cell = self._cell_ref(layer_expr)
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
            self._unknown_layer(layer_expr.func)
            return None
        self.apps.append(app)
        return app_id

    def _encoder_decoder(self, app_id: str, call: A.Call, inputs: list, span: A.Span) -> Optional[Application]:
        """`EncoderDecoder(encoder, decoder, vocab, embed, ...)(source, target)`: its two cells run over
        time and give sequences; `target` is a network input (the tokens the decoder reads)."""
        args = self._layer_args(ENCODER_DECODER, call, ENCODER_DECODER_PARAMS)
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

    def _layer_args(self, name, call: A.Call, params: tuple, what: str = "layer") -> Optional[dict]:
        """{param: value} for a layer's (or cell's) arguments, defaults filled in; None on errors."""
        bound = _check_call_args(name, call.args, params, call.span, self.errors, what)
        if bound is None:
            return None
        out = {}
        for p in params:
            if p.name in bound:
                value = self._arg_value(name, p, bound[p.name].value)
                if value is _NOT_LITERAL:
                    return None
                out[p.name] = value
            else:
                out[p.name] = p.default
        return out

    def _cell_ref(self, call: A.Call) -> Optional[CellRef]:
        name = call.func.id
        if name not in self.cells:
            # The cell has errors of its own, reported already; keep this network quiet.
            self.blocked = True
            return None
        cell = self.cells[name]
        params = tuple(Param(h.name, h.type, h.default if h.default is not None else REQUIRED)
                       for h in cell.hparams.values()) + CELL_KEYWORDS
        args = self._layer_args(name, call, params, "cell")
        if args is None:
            return None
        returns = args.pop("returns")
        return CellRef(name, args, returns, call.span)

    def _arg_value(self, layer: str, p: Param, expr):
        """The value of a layer argument: a Dim, a number, a bool, a word, or a CellRef."""
        kind = p.kind
        if kind == "cell":
            if isinstance(expr, A.Call) and isinstance(expr.func, A.Name) and expr.func.id in self.cell_asts:
                ref = self._cell_ref(expr)
                return ref if ref is not None else _NOT_LITERAL
            self.error(f"`{layer}` wraps a cell", expr.span, label="expected a cell such as `LSTM(units)`",
                       notes=did_you_mean(getattr(getattr(expr, "func", expr), "id", ""), self.cell_asts),
                       code="E0209")
            return _NOT_LITERAL
        if kind in ("dim", "int"):
            if kind == "int":
                literal = _literal(expr)
                if isinstance(literal, int) and not isinstance(literal, bool):
                    return literal
            errors: list = []
            d = dim_of(expr, self.hparams, errors)
            if d is None:
                self.error(f"argument `{p.name}` of `{layer}` must be an int", expr.span,
                           label="expected an integer, an int hyperparameter, or arithmetic of those",
                           notes=[e.message for e in errors[:1]], code="E0209")
                return _NOT_LITERAL
            return d if kind == "dim" else (d.value if d.value is not None else d)
        if kind == "float" or kind == "number":
            literal = _literal(expr)
            if isinstance(literal, (int, float)) and not isinstance(literal, bool):
                return float(literal)
            if isinstance(expr, A.Name) and expr.id in self.hparams and self.hparams[expr.id].type in ("int", "float"):
                return A.Name(expr.id, expr.span)
            self.error(f"argument `{p.name}` of `{layer}` must be a number", expr.span,
                       label="expected a number", code="E0209")
            return _NOT_LITERAL
        if kind == "bool":
            literal = _literal(expr)
            if isinstance(literal, bool):
                return literal
            if isinstance(expr, A.Name) and expr.id in self.hparams and self.hparams[expr.id].type == "bool":
                return A.Name(expr.id, expr.span)
            self.error(f"argument `{p.name}` of `{layer}` must be true or false", expr.span,
                       label="expected a bool", code="E0209")
            return _NOT_LITERAL
        if kind == "str":
            literal = _literal(expr)
            if isinstance(literal, str):
                return literal
            self.error(f"argument `{p.name}` of `{layer}` must be a string", expr.span, code="E0209")
            return _NOT_LITERAL
        if kind == "activation" or kind.startswith("enum:"):
            words = ACTIVATIONS if kind == "activation" else tuple(kind[5:].split("|"))
            if isinstance(expr, A.Name) and expr.id in words:
                return expr.id
            literal = _literal(expr)
            if isinstance(literal, str) and literal in words:
                return literal
            shown = expr.id if isinstance(expr, A.Name) else ""
            if kind == "activation":
                self.error(f"argument `{p.name}` of `{layer}` must be an activation function", expr.span,
                           label="not an activation",
                           notes=did_you_mean(shown, words) + [f"activations are {', '.join(words)}"],
                           code="E0209")
            else:
                self.error(f"argument `{p.name}` of `{layer}` must be one of {', '.join(words)}", expr.span,
                           label="not one of those", notes=did_you_mean(shown, words), code="E0209")
            return _NOT_LITERAL
        raise AssertionError(f"unknown argument kind {kind}")
