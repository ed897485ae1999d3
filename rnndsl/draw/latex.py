"""latex: a cell's equations, or a network's data flow, as the LaTeX a paper prints.

    checked program --cell_latex / network_latex--> align block + `where` sentence --document--> .tex

Equations are written from the spec's own syntax tree, so they read as the spec
does, in the notation papers use: bold vectors and matrices, `\\sigma` for the
logistic sigmoid, `\\odot` for element-wise products, juxtaposition for matrix
products, `t` and `t-1` as subscripts, `\\frac{d}{dt}` for continuous time and
`\\sum_{k \\in C(n)}` over a tree node's children. Names follow rnndsl.draw.notation's
rule, or the spec's `notation` statements. The output needs amsmath, amssymb and
bm; `document` wraps it in a compilable article.
"""

from __future__ import annotations

import re
from typing import Optional

from .. import __version__
from ..lang import ast as A
from ..lang.builtins import FUNCTIONS
from ..lang.dims import Dim
from ..lang.graph import OP_SYMBOLS
from .notation import BIG_OPERATORS, OPERATION_SYMBOLS, dimension, function_latex, number_latex, tex_escape
from .notation import latex as name_latex

PREAMBLE = "\\usepackage{amsmath,amssymb,bm}"

# How tightly each form binds, loosest first: an operand looser than its place needs parentheses.
# \odot binds looser than juxtaposition: (M * U) @ h is (M \odot U) h, which M \odot U h would not say.
# _POWER is for what ends in a superscript (x^{2}, W^{\top}, 10^{-3}, \frac): a base must be an _ATOM.
_COMPARE, _SUM, _HADAMARD, _PRODUCT, _UNARY, _POWER, _ATOM = range(7)
# The comparisons, by their operators in a spec (`<`, as rnndsl.lang.graph's OP_SYMBOLS writes `lt`).
_COMPARISONS = {OP_SYMBOLS[name]: OPERATION_SYMBOLS[name][1] for name in ("lt", "le", "gt", "ge", "eq", "ne")}

# Built-in functions that papers write in a notation of their own rather than as f(x): name -> (how many
# operands, the form: (LaTeX, precedence) of the call from the writer `w` and the operands).
_FORMS = {
    "circular_conv": (2, lambda w, a, b: (f"{w.expr(a, _PRODUCT)} \\circledast {w.expr(b, _PRODUCT)}", _HADAMARD)),
    "outer": (2, lambda w, a, b: (f"{w.expr(a, _PRODUCT)} {w.base(b)}^{{\\top}}", _PRODUCT)),
    "dot": (2, lambda w, a, b: (f"{w.base(a)}^{{\\top}} {w.operand(b, _UNARY)}", _PRODUCT)),
    "pow": (2, lambda w, a, b: (f"{w.base(a)}^{{{w.expr(b)}}}", _POWER)),
    "square": (1, lambda w, x: (f"{w.base(x)}^{{2}}", _POWER)),
    "transpose": (1, lambda w, x: (f"{w.base(x)}^{{\\top}}", _POWER)),
    "abs": (1, lambda w, x: (f"\\left|{w.expr(x)}\\right|", _ATOM)),
    "norm": (1, lambda w, x: (f"\\left\\lVert {w.expr(x)} \\right\\rVert", _ATOM)),
    "sqrt": (1, lambda w, x: (f"\\sqrt{{{w.expr(x)}}}", _ATOM)),
}


def _span_key(span: A.Span) -> tuple:
    return (span.line, span.column, span.end_line, span.end_column)


def number(n: A.Number) -> tuple:
    """(LaTeX, precedence) of a number: `1e-6` is 10^{-6}, `2.5e-3` is 2.5 \\times 10^{-3}."""
    text = number_latex(n.text or repr(n.value))
    return text, _PRODUCT if "\\times" in text else _POWER if "^" in text else _ATOM


def _keyword(name: str, value: str) -> str:
    return f"\\mathrm{{{tex_escape(name)}}}{{=}}{value}"


class _CellWriter:
    """Writes one checked cell's expressions. `G` is its typed graph: shapes decide boldness and `\\odot`."""

    def __init__(self, G):
        self.G = G
        self.notation = G.graph.get("notation", {})
        self.index = G.graph["index"]  # "t", or "n" over trees
        self.continuous = G.graph.get("solver") is not None
        # the shape of every operation, by the span of the expression it came from
        self.op_shapes = {_span_key(d["span"]): d.get("shape") for _, d in G.nodes(data=True)
                          if d.get("kind") == "op" and d.get("span") is not None}

    # ---- names and shapes

    def shape_of_name(self, name: str) -> Optional[tuple]:
        if name in self.G.nodes and self.G.nodes[name].get("kind") in ("input", "param", "value"):
            return self.G.nodes[name].get("shape")
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
        return name_latex(name, bold=bool(shape), index=index, notation=self.notation)

    def read(self, name: str, index: str) -> str:
        """A value read at `index`: a subscript, or `(t)` in continuous time."""
        if self.continuous and index == "t":
            return f"{self.name(name)}(t)"
        return self.name(name, index)

    # ---- expressions

    def expr(self, e, outer: int = _COMPARE) -> str:
        """`e` as LaTeX, in parentheses when it binds looser than `outer`, the place it stands in."""
        text, prec = self._expr(e)
        return f"\\left({text}\\right)" if prec < outer else text

    def base(self, e) -> str:
        """`e` as the base of a superscript: an atom, braced when a `notation` gave it one already."""
        text = self.expr(e, _ATOM)
        return f"{{{text}}}" if "^" in text and not text.startswith("\\left(") else text

    def operand(self, e, outer: int) -> str:
        """`e` as the right operand of a product: a negative one in parentheses (a \\odot (-b))."""
        text = self.expr(e, outer)
        return f"\\left({text}\\right)" if text.startswith("-") else text

    def _expr(self, e) -> tuple:
        if isinstance(e, A.BinOp) and e.op in "+-":
            return " ".join(self.terms(e)), _SUM
        if isinstance(e, A.Number):
            return number(e)
        if isinstance(e, A.String):
            return f"\\text{{{tex_escape(e.value)}}}", _ATOM
        if isinstance(e, A.Name):
            if self.continuous and e.id in self.G.nodes and self.G.nodes[e.id].get("kind") == "value":
                return f"{self.name(e.id)}(t)", _ATOM
            return self.name(e.id), _ATOM
        if isinstance(e, A.Indexed):
            return self.read(e.name.id, index_text(e.index)), _ATOM
        if isinstance(e, A.UnaryOp):
            return f"{e.op}{self.expr(e.operand, _UNARY)}", _UNARY
        if isinstance(e, A.BinOp):
            return self._binop(e)
        if isinstance(e, A.Call):
            return self._call(e)
        raise TypeError(f"latex: not an expression: {type(e).__name__}")

    def _binop(self, e: A.BinOp) -> tuple:
        op = e.op
        if op in _COMPARISONS:
            return f"{self.expr(e.left, _SUM)} {_COMPARISONS[op]} {self.expr(e.right, _SUM)}", _COMPARE
        if op == "/":
            return f"\\frac{{{self.expr(e.left)}}}{{{self.expr(e.right)}}}", _POWER
        if op == "**":
            return f"{self.base(e.left)}^{{{self.expr(e.right)}}}", _POWER
        if op == "*" and not self.scalar(e.left) and not self.scalar(e.right):
            return f"{self.expr(e.left, _HADAMARD)} \\odot {self.operand(e.right, _PRODUCT)}", _HADAMARD
        left = self.expr(e.left, _PRODUCT)
        right = self.operand(e.right, _UNARY if op == "@" else _PRODUCT)
        if right[:1].isdigit() or right.startswith("."):
            return f"{left} \\cdot {right}", _PRODUCT
        return f"{left} {right}", _PRODUCT  # a matrix product, or a number times anything

    def terms(self, e) -> list:
        """The right side as its top-level terms, `["a", "+ b", "- c"]`: where a long equation may break."""
        if isinstance(e, A.BinOp) and e.op in "+-":
            right = self.expr(e.right, _HADAMARD if e.op == "-" else _SUM)
            if right.startswith("-"):
                right = f"\\left({right}\\right)"
            return self.terms(e.left) + [f"{e.op} {right}"]
        return [self.expr(e)]

    # ---- calls

    def _call(self, call: A.Call) -> tuple:
        """(LaTeX, precedence) of a built-in function's call."""
        func = call.func.id if isinstance(call.func, A.Name) else None
        if call.generator is not None:
            return self._reduction(func, call.generator), _SUM
        if func in _FORMS:
            count, form = _FORMS[func]
            operands = self._operands(func, call, count)
            if operands is not None:  # `norm(h[t])`; `norm(h[t], axis=0)` is written as a call
                return form(self, *operands)
        if func == "concat" and call.args and all(a.name is None for a in call.args):
            return "\\left[" + "; ".join(self.expr(a.value) for a in call.args) + "\\right]", _ATOM
        args = ", ".join(self.expr(a.value) if a.name is None else _keyword(a.name.id, self.expr(a.value))
                         for a in call.args)
        head = function_latex(func or "?")
        big = "\\frac" in args or "\\sum" in args
        return (f"{head}\\left({args}\\right)" if big else f"{head}({args})"), _ATOM

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
            return f"{BIG_OPERATORS[func][1]}_{{{over}}} {self.expr(gen.body, _HADAMARD)}"
        return f"{function_latex(func or '?')}_{{{over}}}\\left({self.expr(gen.body)}\\right)"

    # ---- statements

    def equation(self, stmt) -> tuple:
        """(left side, the right side's terms) of one equation or ODE."""
        if isinstance(stmt, A.ODE):
            return f"\\frac{{d}}{{dt}} {self.name(stmt.name.id)}(t)", self.terms(stmt.value)
        targets = ", ".join(self.read(t.name.id, self.index) for t in stmt.targets)
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


def _names_sentence(items: list) -> str:
    """`a`, `a and b`, `a, b and c`."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


# How wide a row may grow, in characters of math (`_width`), before it breaks between terms: about
# the width of an 11pt A4 text block.
ROW_WIDTH = 62
_MARKUP = re.compile(r"\\(?:left|right|bigl|bigr|mathbf|mathrm|bm|operatorname|frac|text)\b|[{}_^ ]")


def _width(latex_text: str) -> int:
    """A rough width of typeset math: a command such as \\sigma is one character, markup none."""
    return len(re.sub(r"\\[A-Za-z]+", "x", _MARKUP.sub("", latex_text)))


def _lines(left: str, terms, numbered: bool) -> str:
    """One row of an align, broken before a `+` or `-` term wherever it would run past ROW_WIDTH."""
    if isinstance(terms, str):
        terms = [terms]
    lines, current = [], [terms[0]]
    used = _width(left) + 2 + _width(terms[0])
    for term in terms[1:]:
        if used + _width(term) > ROW_WIDTH:
            lines.append(" ".join(current))
            current, used = [term], _width(left) + 4 + _width(term)
        else:
            current.append(term)
            used += _width(term) + 1
    lines.append(" ".join(current))
    cont = " \\nonumber \\\\\n  &\\quad " if numbered else " \\\\\n  &\\quad "
    return f"  {left} &= " + cont.join(lines)


def _align(rows: list, env: str) -> str:
    body = " \\\\\n".join(_lines(left, right, numbered=env == "align") for left, right in rows)
    return f"\\begin{{{env}}}\n{body}\n\\end{{{env}}}"


# ---------------------------------------------------------------- cells


def cell_equations(G, ast_cell: A.Cell, env: str = "align", w: Optional[_CellWriter] = None) -> str:
    """The `align` block (or `aligned`, for notebooks) of the cell `ast_cell`, whose typed graph is `G`."""
    w = w or _CellWriter(G)
    rows = [w.equation(s) for s in ast_cell.body if isinstance(s, (A.Equation, A.ODE))]
    return _align(rows, env)


def cell_where(G, w: Optional[_CellWriter] = None) -> str:
    """The sentence under the equations: inputs, then parameters grouped by shape, with their sets."""
    w = w or _CellWriter(G)
    sig = G.graph["signature"]
    index = G.graph["index"]

    def member(names: list, shape, at: Optional[str] = None) -> str:
        written = ",\\allowbreak ".join((w.read(n, at) if at else w.name(n)) for n in names)
        space = f"\\mathbb{{R}}^{{{w.dims(shape)}}}" if shape else "\\mathbb{R}"
        return f"${written} \\in {space}$"

    inputs = [member([n], s, index) for n, s in sig["inputs"].items()]
    groups: dict = {}
    for n, s in sig["params"].items():
        groups.setdefault(tuple(s), []).append(n)
    params = [member(names, list(shape)) for shape, names in groups.items()]
    parts = []
    if inputs:
        noun = "is the input" if len(inputs) == 1 else "are the inputs"
        parts.append(f"{_names_sentence(inputs)} {noun}")
    if params:
        parts.append(f"the parameters are {_names_sentence(params)}")
    fixed = [w.name(n) for n in sig["params"] if G.nodes[n].get("fixed")]
    fitted = [w.name(n) for n in sig["params"] if G.nodes[n].get("fit") is not None]
    notes = []
    if fixed:
        notes.append(f"${', '.join(fixed)}$ {'is' if len(fixed) == 1 else 'are'} fixed")
    if fitted:
        notes.append(f"${', '.join(fitted)}$ {'is' if len(fitted) == 1 else 'are'} computed in closed form")
    text = "where " + "; ".join(parts) if parts else ""
    if notes:
        text += ("; " if text else "where ") + " and ".join(notes)
    return f"\\noindent {text}." if text else ""


def cell_latex(G, ast_cell: A.Cell) -> str:
    """The cell as a paper prints it: its equations in an `align`, and the `where` sentence."""
    w = _CellWriter(G)
    where = cell_where(G, w)
    return cell_equations(G, ast_cell, w=w) + ("\n" + where if where else "") + "\n"


# ---------------------------------------------------------------- networks


class _NetworkWriter:
    """Writes a network's bindings: layers as operators applied to values, chains as nested applications."""

    def __init__(self, G, bound):
        self.G = G
        self.bound = bound
        self.notation = G.graph.get("notation", {})

    def name(self, name: str) -> str:
        """A value is bold (a tensor), a hyperparameter is not."""
        return name_latex(name, bold=name not in self.bound.hparams, notation=self.notation)

    def layer(self, call: A.Call) -> str:
        """`LSTM(64, returns=sequences)`: the layer's name, upright, and its arguments."""
        head = call.func.id if isinstance(call.func, A.Name) else "?"
        args = [self.value(a.value) if a.name is None else _keyword(a.name.id, self.value(a.value))
                for a in call.args]
        return f"\\operatorname{{{tex_escape(head)}}}" + (f"({', '.join(args)})" if args else "")

    def value(self, e) -> str:
        return self._value(e)[0]

    def _value(self, e) -> tuple:
        """(LaTeX, precedence) of a layer's argument or a value flowing into a layer."""
        if isinstance(e, A.Number):
            return number(e)
        if isinstance(e, A.String):
            return f"\\text{{{tex_escape(e.value)}}}", _ATOM
        if isinstance(e, A.Name):
            if e.id in self.bound.values or e.id in self.bound.inputs or e.id in self.bound.hparams:
                return self.name(e.id), _ATOM
            return f"\\mathrm{{{tex_escape(e.id)}}}", _ATOM  # a keyword value: `sequences`, `bahdanau`
        if isinstance(e, A.BinOp) and e.op == ">>":
            return self.apply(e.right, self.value(e.left)), _ATOM
        if isinstance(e, A.BinOp) and e.op in "+-*/":  # arithmetic on hyperparameters: 2 * (units + 1)
            prec = _SUM if e.op in "+-" else _PRODUCT
            left, right = self._value(e.left), self._value(e.right)
            left_text = left[0] if left[1] >= prec else f"({left[0]})"
            # a - (b - c) and a / (b * c) keep their parentheses
            right_text = right[0] if right[1] > prec or (right[1] == prec and e.op in "+*") else f"({right[0]})"
            op = {"*": " \\cdot ", "/": " / "}.get(e.op, f" {e.op} ")
            return f"{left_text}{op}{right_text}", prec
        if isinstance(e, A.UnaryOp):
            operand, prec = self._value(e.operand)
            return f"{e.op}{operand if prec >= _UNARY else f'({operand})'}", _UNARY
        if isinstance(e, A.Call) and isinstance(e.func, A.Call):  # a layer applied: Dense(10)(x)
            inputs = ", ".join(self.value(a.value) if a.name is None  # an initial state by name: s=probe
                               else f"{self.name(a.name.id)}{{=}}{self.value(a.value)}" for a in e.args)
            return self.apply(e.func, inputs), _ATOM
        if isinstance(e, A.Call):
            return self.layer(e), _ATOM
        return "?", _ATOM

    def apply(self, layer, inputs: str) -> str:
        head = self.layer(layer) if isinstance(layer, A.Call) else self.value(layer)
        return f"{head}\\bigl({inputs}\\bigr)"

    def rows(self) -> tuple:
        """The align's rows, one a binding and one an output computed in the `output` line, and the
        outputs' LaTeX."""
        bound = self.bound
        rows = [(", ".join(self.name(n.id) for n in stmt.names), self.value(stmt.value))
                for stmt in bound.ast.body if isinstance(stmt, A.Bind)]
        exprs = [v for stmt in bound.ast.body if isinstance(stmt, A.NetOutput) for v in stmt.values]
        taken = {self.name(n) for n in [*bound.values, *bound.inputs, *bound.hparams]}
        computed = [i for i, e in enumerate(exprs) if not isinstance(e, A.Name)]
        names = self._output_names([str(i + 1) if len(exprs) > 1 else None for i in computed], taken)
        outputs = []
        for i, e in enumerate(exprs):
            if isinstance(e, A.Name):
                outputs.append(self.value(e))
                continue
            y = names[computed.index(i)]
            rows.append((y, self.value(e)))
            outputs.append(y)
        return rows, outputs

    @staticmethod
    def _output_names(indices: list, taken: set) -> list:
        """Names for the outputs computed in the `output` line, one letter for all, that no value of the
        network has: y, \\hat{y}, o, \\hat{o}, then y', y''..."""
        def names(base: str, primes: str = "") -> list:
            return [name_latex(base, bold=True, index=i) + primes for i in indices]

        for base in ("y", "y_hat", "o", "o_hat"):
            if not taken.intersection(names(base)):
                return names(base)
        primes = "'"
        while taken.intersection(names("y", primes)):
            primes += "'"
        return names("y", primes)


def _type_space(info, notation: dict) -> str:
    """A network input's set: seq[32] is (\\mathbb{R}^{32})^T, seq[int] is \\mathbb{Z}^T."""
    field = "\\mathbb{Z}" if info.dtype == "int" else "\\mathbb{R}"
    dims = dims_latex(info.dims, notation)
    item = f"{field}^{{{dims}}}" if dims else field
    if info.kind == "seq":
        return f"\\left({item}\\right)^{{T}}" if dims else f"{field}^{{T}}"
    if info.kind == "tree":
        return f"\\operatorname{{Tree}}\\left({item}\\right)"
    return item


def network_equations(G, bound, env: str = "align") -> str:
    """The `align` (or `aligned`) block of a network's bindings and computed outputs; empty when none."""
    rows, _ = _NetworkWriter(G, bound).rows()
    return _align(rows, env) if rows else ""


def network_latex(G, bound) -> str:
    """A network's data flow as an `align` of its bindings, its inputs' sets and its outputs."""
    w = _NetworkWriter(G, bound)
    rows, outputs = w.rows()
    inputs = [f"${w.name(n)} \\in {_type_space(info, w.notation)}$" for n, info in bound.inputs.items()]
    parts = []
    if inputs:
        parts.append(f"{_names_sentence(inputs)} {'is the input' if len(inputs) == 1 else 'are the inputs'}")
    if outputs:
        noun = "the output is" if len(outputs) == 1 else "the outputs are"
        parts.append(f"{noun} {_names_sentence([f'${v}$' for v in outputs])}")
    text = ("\\noindent where " + "; ".join(parts) + ".") if parts else ""
    block = _align(rows, "align") if rows else ""
    return "\n".join(p for p in (block, text) if p) + "\n"


# ---------------------------------------------------------------- documents


def header(kind: str, name: str, file: str) -> str:
    return (f"% The {kind} {name} of {file}, written by rnndsl {__version__} (`rnndsl latex`).\n"
            f"% It needs {PREAMBLE}.\n")


def document(body: str, title: Optional[str] = None) -> str:
    """A compilable article around `body`: no page number, the body's math in a narrow page."""
    heading = f"\\section*{{{tex_escape(title)}}}\n" if title else ""
    return ("\\documentclass[11pt,a4paper]{article}\n"
            f"{PREAMBLE}\n"
            "\\usepackage[margin=2.5cm]{geometry}\n"
            "\\pagestyle{empty}\n"
            "\\setlength{\\emergencystretch}{2em}\n"  # the `where` sentence's long formulas: no overfull lines
            "\\begin{document}\n"
            f"{heading}{body}"
            "\\end{document}\n")
