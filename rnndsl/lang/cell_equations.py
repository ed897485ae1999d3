"""cell_equations: the right sides of a cell's equations, every name in them bound.

A read `h[t-k]` records its delay (a value read at an earlier step becomes
state); in a tree cell `h[k]` for a child `k` of a reduction
`sum(h[k] for k in children(n))`, and `h[child(n, i)]` in a tree of fixed
arity, are reads one step back. Calls are checked against the built-in
functions' signatures (rnndsl.lang.builtins); `leaf(n)` is the tree's.
"""

from __future__ import annotations

from typing import Optional

from . import ast as A
from . import limits
from .bound import ParamInfo
from .builtins import CONSTANT_NAMES, FUNCTIONS, KEYWORD_ONLY
from .checks import Reporter, check_call_args
from .errors import did_you_mean
from .grid_reads import grid_delay
from .tree_reads import check_leaf, child_slot


class EquationResolver(Reporter):
    """Reads equations against a cell's scope (a `CellResolver`: its tables, `taken` and `names_in_scope`),
    adding implicit parameters to its `params` and delays to its `delays`."""

    def __init__(self, scope):
        super().__init__(scope.errors)
        self.scope = scope
        self.cell = scope.cell
        self.hparams, self.inputs, self.params, self.values = scope.hparams, scope.inputs, scope.params, scope.values
        self.index, self.over, self.arity, self.delays = scope.index, scope.over, scope.arity, scope.delays
        self.declares_params = scope.declares_params
        self.constants = scope.constants

    def expr(self, expr, generator: Optional[A.Generator]):
        """Bind every name in `expr`; `generator`: the reduction over children it is inside, if any."""
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
            self.expr(expr.operand, generator)
            return
        if isinstance(expr, A.BinOp):
            if expr.op == ">>":
                self.error("`>>` chains layers in a network; a cell's equations cannot use it",
                           expr.span, code="E0224")
                return
            self.expr(expr.left, generator)
            self.expr(expr.right, generator)
            return
        if isinstance(expr, A.Call):
            self._call(expr, generator)
            return
        if isinstance(expr, A.Vector):
            self.constants.vector(expr)
            return
        self.error("not an expression", expr.span, code="E0201")

    def _bare_name(self, expr: A.Name, generator):
        name = expr.id
        if generator is not None and name == generator.var.id:
            self.error(f"`{name}` stands for a child: read a child's value as `h[{name}]`", expr.span,
                       code="E0219")
            return
        if self.over == "time" and name == "t":
            # the step's number: a counter state the cell carries (rnndsl.lang.schedules)
            self.scope.step_reads.append(expr.span)
            return
        if name in self.index.split(", ") or (self.index == "t" and name == "t"):
            self.error(f"`{name}` is the cell's index, not a value", expr.span,
                       label=f"index a value with it: `h[{self.index if self.over == 'grid' else name}]`",
                       code="E0219")
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
                       notes=did_you_mean(name, self.scope.names_in_scope())
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
        if self.over == "grid":
            return grid_delay(self, name, idx)
        if self.over == "tree":
            if isinstance(idx, A.Name) and idx.id == "n":
                return 0
            if generator is not None and isinstance(idx, A.Name) and idx.id == generator.var.id:
                return 1
            if isinstance(idx, A.Call) and isinstance(idx.func, A.Name) and idx.func.id == "child":
                return 1 if child_slot(self, name, idx) is not None else None
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
        if name == "child":
            self.error("`child(n, i)` is read as an index", expr.span,
                       label="write `h[child(n, 0)]`: child 0's value of `h`", code="E0222")
            return
        if name == "leaf":
            check_leaf(self, expr)
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
                self.expr(arg.value, generator)
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
                    self.constants.function_arg(name, allowed[kw.name.id][0], kw)
            if len(positional) < len(params) + 1:
                self.error(f"`{name}` needs at least {len(params) + 1} arguments", expr.span, code="E0209")
            for i, arg in enumerate(positional):
                kind = params[i].kind if i < len(params) else sig.variadic
                if kind == "tensor":
                    self.expr(arg.value, generator)
                else:
                    self.constants.function_arg(name, kind, arg)
            return
        bound = check_call_args(name, args, params, expr.span, self.errors, "function")
        if bound is None:
            return
        for p in params:
            if p.name in bound:
                arg = bound[p.name]
                if p.kind == "tensor":
                    self.expr(arg.value, generator)
                else:
                    self.constants.function_arg(name, p.kind, arg)

    def _generator(self, name, sig, gen: A.Generator, outer):
        if name == "concat" and self.over == "tree" and self.arity is None:
            self.error("`concat` over children needs a tree of fixed arity", gen.span,
                       label="a node's number of children varies in this cell",
                       notes=[f"write `cell {self.cell.name.id}(...) over tree(2)`: then `concat` puts the "
                              "children side by side"], code="E0222")
            return
        if not sig.reduction and name != "concat":
            self.error(f"`{name}` does not reduce over children", gen.span,
                       label="only sum, mean, max, min, prod, norm and (in a tree of fixed arity) concat do",
                       code="E0222")
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
        taken = self.scope.taken(gen.var.id)
        if taken is not None or gen.var.id == "n":
            self.error(f"the child variable `{gen.var.id}` hides a name of the cell", gen.var.span,
                       label="choose another name", code="E0204")
            return
        self.expr(gen.body, gen)

    # ---- after the equations
