"""resolve_cell: one cell's names bound, a `BoundCell`.

A name in a cell is a hyperparameter, an input, a declared parameter, a value
defined by an equation, or a built-in function; a cell that declares no
`param` at all takes every other bare name as an implicit parameter (the way
papers write `W`, `U`, `b`), while a cell that declares some must declare all.

`CellResolver` reads the declarations and holds the cell's tables (its scope);
`EquationResolver` (rnndsl.lang.cell_equations) reads the equations' right
sides against them, and `ConstantChecker` (rnndsl.lang.cell_constants) the
arguments that must be known before training.
"""

from __future__ import annotations

from typing import Optional

from . import ast as A
from . import limits
from .bound import INDEX, BoundCell, ParamInfo, ValueInfo
from .cell_constants import ConstantChecker
from .cell_equations import EquationResolver
from .checks import Reporter, dim_of, resolve_hparams, with_article
from .errors import did_you_mean
from .notation import check_notations
from .schedules import add_step_count, check_schedule


def resolve_cell(cell: A.Cell, file: str) -> tuple:
    """(BoundCell, []) for a cell without errors, else (None, its errors)."""
    return CellResolver(cell, file).run()


class CellResolver(Reporter):
    """A cell's declarations, read into its tables: `hparams`, `inputs`, `params`, `values`, `state_decls`,
    `outputs`, `free` (dimension names bound when the cell is applied) and `delays` (the largest delay
    each value is read at, filled in by the equations)."""

    def __init__(self, cell: A.Cell, file: str):
        super().__init__([])
        self.cell = cell
        self.file = file

    def run(self):
        cell = self.cell
        self.hparams = resolve_hparams(cell.hparams, self.errors)
        self.over, self.arity = "time", None
        if cell.over is not None:
            if cell.over.name.id not in ("tree", "grid"):
                self.error(f"unknown recurrence domain `{cell.over.name.id}`", cell.over.name.span,
                           label="expected `tree` or `grid`", notes=did_you_mean(cell.over.name.id, ["tree", "grid"])
                           + ["a cell runs over time unless it says `over tree` or `over grid`"], code="E0205")
                return None, self.errors
            self.over = cell.over.name.id
            if self.over == "grid" and cell.over.args:
                self.error("`over grid` takes no arguments", cell.over.span, label="write `over grid`",
                           notes=["a grid's height and width are its input's: `grid[H, W, d]`"], code="E0205")
                return None, self.errors
            if cell.over.args:
                self.arity = self._arity(cell.over)
                if self.arity is None:
                    return None, self.errors
        self.index = INDEX[self.over]
        self.inputs: dict = {}
        self.params: dict = {}
        self.values: dict = {}
        self.state_decls: dict = {}
        self.outputs: list = []
        self.free: set = set()
        self.delays: dict = {}
        self.constants = ConstantChecker(self.hparams, self.params, self.errors)
        self.heads = self._heads()
        self._declare()
        self._check_shapes()
        solver, step = self.constants.solver(cell)
        self.step_reads: list = []  # where the equations read `t` as a value
        equations = EquationResolver(self)
        schedules: dict = {}  # checked so far: a block's, once for all its equations
        for stmt in cell.body:
            if isinstance(stmt, (A.Equation, A.ODE)):
                equations.expr(stmt.value, generator=None)
                if isinstance(stmt, A.Equation) and stmt.schedule is not None:
                    check_schedule(self, equations, stmt, schedules)
        if self.step_reads:
            add_step_count(self)
        self._check_states_and_outputs()
        known = [*self.hparams, *self.inputs, *self.params, *self.values, *sorted(self.free)]
        notation = check_notations(cell.body, known, "cell", self.errors)
        if self.errors:
            return None, self.errors
        return BoundCell(
            ast=cell, name=cell.name.id, file=self.file, doc=cell.doc, over=self.over,
            index=self.index, hparams=self.hparams, inputs=self.inputs, params=self.params,
            values=self.values, state_decls=self.state_decls, outputs=self.outputs,
            free_dims=sorted(self.free), solver=solver, step=step, arity=self.arity,
            delays=self.delays, notation=notation, heads=self.heads,
        ), []

    def _arity(self, over: A.Domain) -> Optional[int]:
        """K of `over tree(K)`: a whole number of children, 1 to limits.MAX_ARITY (None after an error)."""
        arg = over.args[0]
        value = arg.value
        if len(over.args) == 1 and arg.name is None and isinstance(value, A.Number) \
                and isinstance(value.value, int) and 1 <= value.value <= limits.MAX_ARITY:
            return value.value
        self.error("a tree's arity is a whole number of children", over.span,
                   label=f"write `over tree(2)`: 1 to {limits.MAX_ARITY} children per node",
                   notes=["`over tree` alone takes any number of children, read in reductions"], code="E0205")
        return None

    def _heads(self) -> Optional[str]:
        """The int hyperparameter of the cell's `heads` statement (at most one), or None."""
        found = None
        for stmt in self.cell.body:
            if not isinstance(stmt, A.Heads):
                continue
            name = stmt.name.id
            if stmt.word.id != "heads":
                # `WORD NAME` is `heads NAME`, or a misspelt `output NAME`
                self.error(f"unknown statement `{stmt.word.id} {name}`", stmt.word.span, label="not a statement",
                           notes=did_you_mean(stmt.word.id, ["heads", "output"])
                           or ["a cell's heads are counted by `heads NAME`, NAME an int hyperparameter"], code="E0234")
            elif self.over == "tree":
                self.error("a cell over a tree has no heads", stmt.span, label="not in a tree cell",
                           code="E0206")
            elif found is not None:
                self.error("a cell has one `heads` statement", stmt.span, label="a second one",
                           notes=[f"the heads are counted by `{found}`: a value with heads has one per head"],
                           code="E0204")
            elif name not in self.hparams or self.hparams[name].type != "int":
                hint = did_you_mean(name, [h for h, info in self.hparams.items() if info.type == "int"])
                self.error(f"`heads {name}`: `{name}` is not an int hyperparameter of `{self.cell.name.id}`",
                           stmt.name.span, label="counts the heads", code="E0206",
                           notes=hint + [f"declare it: `cell {self.cell.name.id}(..., {name}: int = 2)`"])
            else:
                found = name
        return found

    # ---- the scope, as the equations read it

    def taken(self, name: str):
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

    def names_in_scope(self) -> list:
        return list(self.hparams) + list(self.inputs) + list(self.params) + list(self.values)

    # ---- declarations

    def _claim(self, name: A.Name, what: str) -> bool:
        taken = self.taken(name.id)
        if taken is not None:
            kind, span = taken
            self.error(f"`{name.id}` is declared twice", name.span, label=f"already {with_article(kind)}",
                       notes=[f"the {kind} `{name.id}` is declared at {span}"], code="E0204")
            return False
        if name.id in self.index.split(", "):
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
                self.constants.param_decl(stmt)
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
                               label=f"no `{name}[{self.index}] = ...` in this cell",
                               notes=did_you_mean(name, self.values), code="E0211")
                else:
                    self.state_decls[name] = stmt
                    if stmt.init is not None:
                        self.constants.state_init(stmt)
            elif isinstance(stmt, A.OutputDecl):
                self.outputs.extend(stmt.names)

    def _check_target(self, target: A.Target):
        idx = target.index
        if isinstance(idx, A.Name) and idx.id == self.index:
            return
        if isinstance(idx, A.Position) and self.over == "grid" \
                and [getattr(item, "id", None) for item in idx.items] == ["i", "j"]:
            return
        earlier = {"time": f"read earlier values on the right: `{target.name.id}[t-1]`",
                   "tree": "read children on the right, in a reduction",
                   "grid": f"read earlier positions on the right: `{target.name.id}[i-1, j]`"}
        self.error(f"an equation defines `{target.name.id}` at `{self.index}`", idx.span,
                   label=f"write `{target.name.id}[{self.index}]`", notes=[earlier[self.over]], code="E0212")

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
            if not is_state and self.over == "tree":
                read = f"`{name}[k]` in a reduction over children" + (
                    f", or `{name}[child(n, 0)]`" if self.arity else "")
                self.error(f"`{name}` is declared a state but never read at a child", decl.name.span,
                           label="not a state", notes=[f"a value becomes state when a node reads it at a child: "
                                                       f"{read}"], code="E0211")
            elif not is_state:
                self.error(f"`{name}` is declared a state but never read at an earlier step",
                           decl.name.span, label="not a state",
                           notes=[f"a value becomes state when it is read as `{name}[t-1]`"], code="E0211")


def _is_call(expr, name: str) -> bool:
    return isinstance(expr, A.Call) and isinstance(expr.func, A.Name) and expr.func.id == name
