"""latex_expr: the LaTeX of a cell's expressions, as papers print them.

`ExpressionWriter` writes one checked cell's expressions and equations: bold vectors and
matrices (by their inferred shapes), `\\odot` for element-wise products, juxtaposition for
matrix products, a built-in function by its registry entry's name or its own form
(rnndsl.lang.ops: `a^\\top b` for `dot(a, b)`), and parentheses only where precedence needs
them. rnndsl.draw.latex arranges what it writes into `align` blocks and documents.
"""

from __future__ import annotations

import string
from typing import Optional

from ..lang import ast as A
from ..lang.builtins import FUNCTIONS
from ..lang.dims import Dim
from ..lang.operators import OP_SYMBOLS
from ..lang.ops import OPERATIONS
from ..lang.schedules import schedule_condition
from .notation import BIG_OPERATORS, OPERATION_SYMBOLS, dimension, function_latex, number_latex, tex_escape
from .notation import latex as name_latex

# How tightly each form binds, loosest first: an operand looser than its place needs parentheses.
# \odot binds looser than juxtaposition: (M * U) @ h is (M \odot U) h, which M \odot U h would not say.
# POWER is for what ends in a superscript (x^{2}, W^{\top}, 10^{-3}, \frac): a base must be an ATOM.
COMPARE, SUM, HADAMARD, PRODUCT, UNARY, POWER, ATOM = range(7)
# The comparisons, by their operators in a spec (`<`, as rnndsl.lang.operators' OP_SYMBOLS writes `lt`).
_COMPARISONS = {OP_SYMBOLS[name]: OPERATION_SYMBOLS[name][1] for name in ("lt", "le", "gt", "ge", "eq", "ne")}

# The precedence levels that a registry entry's `form` names (rnndsl.lang.ops), and how a field
# `{i:level}` of its template sets operand i.
_LEVELS = {"hadamard": HADAMARD, "product": PRODUCT, "unary": UNARY, "power": POWER, "atom": ATOM}
_FIELDS = {
    "expr": lambda w, e: w.expr(e),
    "product": lambda w, e: w.expr(e, PRODUCT),
    "unary": lambda w, e: w.operand(e, UNARY),
    "base": lambda w, e: w.base(e),
}


def _form_fields(template: str) -> list:
    """[(literal text, operand index or None, level)] of a form's template."""
    return [(literal, None if field is None else int(field), spec)
            for literal, field, spec, _ in string.Formatter().parse(template)]


def _form(w, template: str, precedence: str, operands: list) -> tuple:
    """(LaTeX, precedence) of a call written in its function's own form, `a^\\top b` for `dot(a, b)`."""
    out = []
    for literal, index, spec in _form_fields(template):
        out.append(literal)
        if index is not None:
            out.append(_FIELDS[spec](w, operands[index]))
    return "".join(out), _LEVELS[precedence]


def _form_arity(template: str) -> int:
    return 1 + max(i for _, i, _ in _form_fields(template) if i is not None)


def _span_key(span: A.Span) -> tuple:
    return (span.line, span.column, span.end_line, span.end_column)


def number(n: A.Number) -> tuple:
    """(LaTeX, precedence) of a number: `1e-6` is 10^{-6}, `2.5e-3` is 2.5 \\times 10^{-3}."""
    text = number_latex(n.text or repr(n.value))
    return text, PRODUCT if "\\times" in text else POWER if "^" in text else ATOM


def keyword(name: str, value: str) -> str:
    return f"\\mathrm{{{tex_escape(name)}}}{{=}}{value}"


HEAD_INDEX = "^{(i)}"  # the superscript of a value with heads: head i's


def _one_head(rec) -> Optional[tuple]:
    """A node's shape, without its head axis where it has heads."""
    return rec.shape[1:] if rec.heads and rec.shape else rec.shape


class ExpressionWriter:
    """Writes one checked cell's expressions. `G` is its typed graph: shapes decide boldness and `\\odot`."""

    def __init__(self, G):
        self.G = G
        self.notation = G.header.notation
        self.index = G.header.index  # "t", or "n" over trees
        self.continuous = G.header.solver is not None
        # the shape of every operation, by the span of the expression it came from
        self.op_shapes = {_span_key(rec.span): _one_head(rec) for _, rec in G.records()
                          if rec.kind == "op" and rec.span is not None}

    # ---- names and shapes

    def shape_of_name(self, name: str) -> Optional[tuple]:
        """One value's shape (one head's, where the value has heads)."""
        if name in self.G.nodes and self.G.node(name).kind in ("input", "param", "value"):
            return _one_head(self.G.node(name))
        return ()  # a hyperparameter, a dimension or a generator's variable: a number

    def scalar(self, e) -> bool:
        """Whether `e` is a number rather than a vector or matrix (unknown shapes count as vectors)."""
        if isinstance(e, A.Number):
            return True
        if isinstance(e, A.Name):
            return self.shape_of_name(e.id) == ()
        if isinstance(e, A.Indexed):
            return self.shape_of_name(e.name.id) == ()
        if isinstance(e, A.UnaryOp):
            return self.scalar(e.operand)
        shape = self.op_shapes.get(_span_key(e.span)) if e.span.line else None
        if shape is not None:
            return shape == ()
        if isinstance(e, A.BinOp) and e.op != "@":
            return self.scalar(e.left) and self.scalar(e.right)
        return False

    def name(self, name: str, index: Optional[str] = None) -> str:
        shape = self.shape_of_name(name)
        text = name_latex(name, bold=bool(shape), index=index, notation=self.notation)
        # a value with heads is written as head i's, as papers write a read head's key: k_t^{(i)}
        return text + HEAD_INDEX if self.has_heads(name) else text

    def has_heads(self, name: str) -> bool:
        return name in self.G.nodes and self.G.node(name).heads

    def read(self, name: str, index: str) -> str:
        """A value read at `index`: a subscript, or `(t)` in continuous time."""
        if self.continuous and index == "t":
            return f"{self.name(name)}(t)"
        return self.name(name, index)

    # ---- expressions

    def expr(self, e, outer: int = COMPARE) -> str:
        """`e` as LaTeX, in parentheses when it binds looser than `outer`, the place it stands in."""
        text, prec = self._expr(e)
        return f"\\left({text}\\right)" if prec < outer else text

    def base(self, e) -> str:
        """`e` as the base of a superscript: an atom, braced when a `notation` gave it one already."""
        text = self.expr(e, ATOM)
        return f"{{{text}}}" if "^" in text and not text.startswith("\\left(") else text

    def operand(self, e, outer: int) -> str:
        """`e` as the right operand of a product: a negative one in parentheses (a \\odot (-b))."""
        text = self.expr(e, outer)
        return f"\\left({text}\\right)" if text.startswith("-") else text

    def _expr(self, e) -> tuple:
        if isinstance(e, A.BinOp) and e.op in "+-":
            return " ".join(self.terms(e)), SUM
        if isinstance(e, A.Number):
            return number(e)
        if isinstance(e, A.String):
            return f"\\text{{{tex_escape(e.value)}}}", ATOM
        if isinstance(e, A.Name):
            if self.continuous and e.id in self.G.nodes and self.G.node(e.id).kind == "value":
                return f"{self.name(e.id)}(t)", ATOM
            return self.name(e.id), ATOM
        if isinstance(e, A.Indexed):
            return self.read(e.name.id, index_text(e.index)), ATOM
        if isinstance(e, A.UnaryOp):
            return f"{e.op}{self.expr(e.operand, UNARY)}", UNARY
        if isinstance(e, A.BinOp):
            return self._binop(e)
        if isinstance(e, A.Call):
            return self._call(e)
        if isinstance(e, A.Vector):  # a column vector, written as a transposed row
            entries = " & ".join(self.expr(item) for item in e.items)
            return f"\\begin{{pmatrix}}{entries}\\end{{pmatrix}}^{{\\top}}", ATOM
        raise TypeError(f"latex: not an expression: {type(e).__name__}")

    def _binop(self, e: A.BinOp) -> tuple:
        op = e.op
        if op in _COMPARISONS:
            return f"{self.expr(e.left, SUM)} {_COMPARISONS[op]} {self.expr(e.right, SUM)}", COMPARE
        if op == "/":
            return f"\\frac{{{self.expr(e.left)}}}{{{self.expr(e.right)}}}", POWER
        if op == "**":
            return f"{self.base(e.left)}^{{{self.expr(e.right)}}}", POWER
        if op == "*" and not self.scalar(e.left) and not self.scalar(e.right):
            return f"{self.expr(e.left, HADAMARD)} \\odot {self.operand(e.right, PRODUCT)}", HADAMARD
        left = self.expr(e.left, PRODUCT)
        right = self.operand(e.right, UNARY if op == "@" else PRODUCT)
        if right[:1].isdigit() or right.startswith("."):
            return f"{left} \\cdot {right}", PRODUCT
        return f"{left} {right}", PRODUCT  # a matrix product, or a number times anything

    def terms(self, e) -> list:
        """The right side as its top-level terms, `["a", "+ b", "- c"]`: where a long equation may break."""
        if isinstance(e, A.BinOp) and e.op in "+-":
            right = self.expr(e.right, HADAMARD if e.op == "-" else SUM)
            if right.startswith("-"):
                right = f"\\left({right}\\right)"
            return self.terms(e.left) + [f"{e.op} {right}"]
        return [self.expr(e)]

    # ---- calls

    def _call(self, call: A.Call) -> tuple:
        """(LaTeX, precedence) of a built-in function's call."""
        func = call.func.id if isinstance(call.func, A.Name) else None
        if call.generator is not None:
            return self._reduction(func, call.generator), SUM
        form = OPERATIONS[func].form if func in OPERATIONS else None
        if form is not None:
            operands = self._operands(func, call, _form_arity(form[0]))
            if operands is not None:  # `norm(h[t])`; `norm(h[t], axis=0)` is written as a call
                return _form(self, form[0], form[1], operands)
        if func == "concat" and call.args and all(a.name is None for a in call.args):
            return "\\left[" + "; ".join(self.expr(a.value) for a in call.args) + "\\right]", ATOM
        args = ", ".join(self.expr(a.value) if a.name is None else keyword(a.name.id, self.expr(a.value))
                         for a in call.args)
        head = function_latex(func or "?")
        big = "\\frac" in args or "\\sum" in args
        return (f"{head}\\left({args}\\right)" if big else f"{head}({args})"), ATOM

    @staticmethod
    def _operands(func: Optional[str], call: A.Call, count: int) -> Optional[list]:
        """The call's arguments in the order of the function's parameters, when it gives exactly its first
        `count`, by position or by keyword (`square(x=h[t])`); else None."""
        signature = FUNCTIONS.get(func or "")
        if signature is None or len(call.args) != count or len(signature.params) < count:
            return None
        names = [p.name for p in signature.params[:count]]
        given = {names[i]: a.value for i, a in enumerate(call.args) if a.name is None}
        given.update({a.name.id: a.value for a in call.args if a.name is not None})
        return [given[n] for n in names] if set(given) == set(names) else None

    def _reduction(self, func: Optional[str], gen: A.Generator) -> str:
        """`sum(h[k] for k in children(n))`: \\sum_{k \\in C(n)} h_k."""
        over = f"{gen.var.id} \\in C({gen.node.id})"
        if func in BIG_OPERATORS:
            return f"{BIG_OPERATORS[func][1]}_{{{over}}} {self.expr(gen.body, HADAMARD)}"
        return f"{function_latex(func or '?')}_{{{over}}}\\left({self.expr(gen.body)}\\right)"

    # ---- statements

    def equation(self, stmt) -> tuple:
        """(left side, the right side's terms) of one equation or ODE."""
        if isinstance(stmt, A.ODE):
            return f"\\frac{{d}}{{dt}} {self.name(stmt.name.id)}(t)", self.terms(stmt.value)
        targets = ", ".join(self.read(t.name.id, self.index) for t in stmt.targets)
        if stmt.schedule is not None:  # as papers write an update on some steps: by cases
            held = self.read(stmt.targets[0].name.id, "t-1")
            condition = self.expr(schedule_condition(stmt.schedule))
            return targets, (f"\\begin{{cases}} {self.expr(stmt.value)} & \\text{{if }} {condition} \\\\ "
                             f"{held} & \\text{{otherwise}} \\end{{cases}}")
        return targets, self.terms(stmt.value)

    def dims(self, shape) -> str:
        return dims_latex(shape, self.notation)


def index_text(e) -> str:
    """A time or node index as LaTeX: `t`, `t-1`, `k`."""
    if isinstance(e, A.Name):
        return e.id
    if isinstance(e, A.Number):
        return number(e)[0]
    if isinstance(e, A.BinOp) and e.op in "+-":
        return f"{index_text(e.left)}{e.op}{index_text(e.right)}"
    if isinstance(e, A.BinOp) and e.op == "*":
        return f"{index_text(e.left)}{index_text(e.right)}"
    if isinstance(e, A.Position):  # `i-1, j`
        return ", ".join(index_text(item) for item in e.items)
    if isinstance(e, A.Call) and len(e.args) == 2:  # `child(n, 0)`: C_0(n), the first of the children C(n)
        return f"C_{{{index_text(e.args[1].value)}}}({index_text(e.args[0].value)})"
    return "?"


def dim_latex(d, notation: Optional[dict] = None) -> str:
    """A dimension: `units`, `4\\,units`, `in + units`, each name by the notation rule."""
    return dimension(d, notation)[1] if isinstance(d, Dim) else str(d)


def dims_latex(shape, notation: Optional[dict] = None) -> str:
    """`[units, in]` as units \\times in; a sum among several dimensions gets parentheses."""
    parts = [dim_latex(d, notation) for d in shape]
    if len(parts) > 1:
        parts = [f"({p})" if (" + " in p or " - " in p) else p for p in parts]
    return " \\times ".join(parts)
