"""cell_constants: a cell's arguments that must be known before training.

Initializers, fits and constraints of parameters, states' initial values, the
solver and its step size, and the constant arguments of built-in functions
(`axis=`, `split`'s parts, `einsum`'s subscripts): literals, hyperparameters,
or arithmetic of those.
"""

from __future__ import annotations

from . import ast as A
from .builtins import CONSTRAINTS, FITS, INITIALIZERS, SOLVERS
from .checks import Reporter, check_call_args, literal
from .errors import did_you_mean


class ConstantChecker(Reporter):
    """Checks constants against a cell's `hparams` and `params` (its tables, filled as it is read)."""

    def __init__(self, hparams: dict, params: dict, errors: list):
        super().__init__(errors)
        self.hparams = hparams
        self.params = params

    def param_decl(self, decl: A.ParamDecl):
        """A parameter's initializer, fit and constraints: known names, their arguments constants."""
        init = decl.init
        if isinstance(init, A.Init):
            self._named_call(init.name, init.args, init.span, INITIALIZERS, "initializer",
                             "not an initializer", [], "E0208")
        elif isinstance(init, A.ConstInit):
            self.value(init.value)
            self._fits(init.value, decl.shape, decl.names[0].id)
        if decl.fit is not None:
            fit = decl.fit
            self._named_call(fit.name, fit.args, fit.span, FITS, "fit", "not a closed-form fit",
                             [f"fits are {', '.join(FITS)}"], "E0210")
        for c in decl.constraints:
            self._named_call(c.name, c.args, c.span, CONSTRAINTS, "constraint", "not a constraint",
                             [f"constraints are {', '.join(CONSTRAINTS)}"], "E0210")

    def _named_call(self, name: A.Name, args: tuple, span: A.Span, table: dict, what: str, label: str,
                    listed: list, code: str):
        """`name(args)`, a word of `table` (initializers, fits, constraints) with constant arguments."""
        if name.id not in table:
            self.error(f"unknown {what} `{name.id}`", name.span, label=label,
                       notes=did_you_mean(name.id, table) + listed, code=code)
            return
        bound = check_call_args(name.id, args, table[name.id], span, self.errors, what)
        for arg in (bound or {}).values():
            self.number(arg.value)

    def number(self, expr):
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
            return self.number(expr.operand)
        if isinstance(expr, A.BinOp) and expr.op in ("+", "-", "*", "/", "**"):
            self.number(expr.left)
            self.number(expr.right)
            return
        self.error("expected a numeric constant", expr.span, label="not a constant", code="E0209")

    def value(self, expr):
        """A constant value: a number (see `number`), or a vector literal (see `vector`)."""
        if isinstance(expr, A.Vector):
            self.vector(expr)
        else:
            self.number(expr)

    def vector(self, expr: A.Vector):
        """`[1, -0.5, k]`: each entry a number, a negated number, or a numeric hyperparameter (so that the
        vector is a constant of the graph, its entries known when it is lowered)."""
        for item in expr.items:
            if isinstance(item, A.UnaryOp) and item.op == "-" and isinstance(item.operand, A.Number):
                continue
            if isinstance(item, A.Name) and item.id in self.hparams:
                self.number(item)
                continue
            if not isinstance(item, A.Number):
                self.error("a vector's entries are numbers or numeric hyperparameters", item.span,
                           label="not a number", code="E0209")

    def state_init(self, stmt: A.StateDecl):
        init = stmt.init
        if isinstance(init, A.Name) and init.id in self.params:
            return  # a learned initial state
        self.value(init)
        self._fits(init, stmt.shape, stmt.name.id)

    def _fits(self, init, shape, name: str):
        """A vector literal as an initial value fills the last axis, of a size written as a number, each row
        alike."""
        if not isinstance(init, A.Vector):
            return
        size = len(init.items)
        if shape is None:  # `state h = [3]`: a shape written with `=` is an initial value
            self.error(f"`{name}` has no shape, and a vector literal initialises it", init.span,
                       label="an initial value", code="E0302",
                       notes=[f"a shape is written with `:`: `{name}: {init.written()}`; a vector initial value "
                              f"needs a shape too: `{name}: [{size}] = {init.written()}`"])
            return
        last = shape.dims[-1] if shape.dims else None
        if not (isinstance(last, A.Number) and isinstance(last.value, int)):
            self.error(f"a vector of {size} entries initialises `{name}`, whose last axis must then be written as "
                       f"the number {size}", (last or init).span, label="not a number", code="E0302")
        elif last.value != size:
            self.error(f"a vector of {size} entries initialises `{name}`, whose last axis has {last.value}",
                       init.span, label=f"{size} entries", code="E0302")

    def solver(self, cell: A.Cell) -> tuple:
        """(solver name, step size) of a cell with `d/dt` equations: the step a float, or the name of the
        hyperparameter giving it. (None, None) when it has none, or on an error."""
        odes = [s for s in cell.body if isinstance(s, A.ODE)]
        if cell.solver is None:
            for ode in odes:
                self.error("a continuous-time equation needs a solver", ode.span,
                           label=f"`d/dt {ode.name.id}` with no solver",
                           notes=[f"write `cell {cell.name.id}(...) solver rk4` (or euler)"], code="E0215")
            return None, None
        name = cell.solver.name.id
        if name not in SOLVERS:
            self.error(f"unknown solver `{name}`", cell.solver.name.span, label="not a solver",
                       notes=did_you_mean(name, SOLVERS) + ["solvers are euler and rk4"], code="E0213")
            return None, None
        if not odes:
            self.error(f"solver `{name}` but no `d/dt` equation", cell.solver.span,
                       label="nothing to integrate", code="E0215")
            return None, None
        bound = check_call_args(name, cell.solver.args, SOLVERS[name], cell.solver.span, self.errors,
                                "solver")
        if bound is None:
            return None, None
        step = None
        if "step" in bound:
            value = bound["step"].value
            given = literal(value)
            if isinstance(value, A.Name) and value.id in self.hparams:
                if self.hparams[value.id].type not in ("int", "float"):
                    self.error(f"the step size `{value.id}` is not a number", value.span, code="E0216")
                step = value.id
            elif isinstance(given, (int, float)) and not isinstance(given, bool) and given > 0:
                step = float(given)
            else:
                self.error("the step size must be a positive number or a hyperparameter", value.span,
                           label="not a step size", code="E0216")
        elif "dt" in self.hparams and self.hparams["dt"].type in ("int", "float"):
            step = "dt"
        else:
            self.error(f"solver `{name}` has no step size", cell.solver.span,
                       label="no `step=` and no `dt` hyperparameter",
                       notes=[f"write `solver {name}(step=0.1)`, or add `dt: float = 0.1` to the cell's "
                              "hyperparameters"], code="E0216")
        return name, step

    def function_arg(self, func: str, kind: str, arg: A.Arg):
        """A constant argument of a built-in function: a string (`einsum`), an axis, a flag, a positive int."""
        value = arg.value
        given = literal(value)
        if kind == "str":
            if not isinstance(given, str):
                self.error(f"`{func}` takes a string here", value.span, label="expected a string literal",
                           notes=['`einsum("ij,j->i", W, x[t])`'], code="E0209")
        elif kind == "axis":
            if not (isinstance(given, int) and not isinstance(given, bool)):
                self.error(f"the axis of `{func}` must be an integer literal", value.span,
                           label="not an integer", code="E0209")
        elif kind == "bool":
            if not isinstance(given, bool):
                self.error(f"`{func}` takes `true` or `false` here", value.span, label="expected true or false",
                           code="E0209")
        elif kind == "int":
            hyper = self.hparams.get(value.id) if isinstance(value, A.Name) else None
            if hyper is not None and hyper.type == "int":
                return
            if not (isinstance(given, int) and not isinstance(given, bool) and given > 0):
                self.error(f"`{func}` takes a positive integer here", value.span,
                           label="expected an integer literal or int hyperparameter", code="E0209")

