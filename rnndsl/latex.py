"""latex: a cell's equations, or a network's data flow, as the LaTeX a paper prints.

    checked program --cell_latex / network_latex--> align block + `where` sentence --document--> .tex

Equations are written from the spec's own syntax tree, so they read as the spec
does, in the notation papers use: bold vectors and matrices, `\\sigma` for the
logistic sigmoid, `\\odot` for element-wise products, juxtaposition for matrix
products, `t` and `t-1` as subscripts, `\\frac{d}{dt}` for continuous time and
`\\sum_{k \\in C(n)}` over a tree node's children. Names follow rnndsl.notation's
rule, or the spec's `notation` statements. The output needs amsmath, amssymb and
bm; `document` wraps it in a compilable article.
"""

from __future__ import annotations

import re
from typing import Optional

from . import __version__
from . import ast as A
from .dims import Dim, _term_order
from .notation import latex as name_latex

PREAMBLE = "\\usepackage{amsmath,amssymb,bm}"

# Built-in functions as papers write them; the others are \operatorname{name}.
_FUNCTIONS = {
    "sigmoid": "\\sigma", "tanh": "\\tanh", "exp": "\\exp", "log": "\\log", "sin": "\\sin", "cos": "\\cos",
    "max": "\\max", "min": "\\min", "maximum": "\\max", "minimum": "\\min", "relu": "\\operatorname{ReLU}",
    "elu": "\\operatorname{ELU}", "selu": "\\operatorname{SELU}", "gelu": "\\operatorname{GELU}",
    "silu": "\\operatorname{SiLU}", "hard_sigmoid": "\\sigma_{\\mathrm{hard}}", "sign": "\\operatorname{sgn}",
    "step": "H", "log_softmax": "\\log\\operatorname{softmax}",
}
# Precedence of the spec's operators, loosest first: what needs parentheses where.
_COMPARE, _SUM, _PRODUCT, _UNARY, _POWER, _ATOM = range(6)
_PRECEDENCE = {"+": _SUM, "-": _SUM, "*": _PRODUCT, "/": _PRODUCT, "@": _PRODUCT, "**": _POWER}
_COMPARISONS = {"<": "<", ">": ">", "<=": "\\leq", ">=": "\\geq", "==": "=", "!=": "\\neq"}
_RELATION = {"<": "less than", ">": "greater than"}


def _span_key(span: A.Span) -> tuple:
    return (span.line, span.column, span.end_line, span.end_column)


class _CellWriter:
    """Writes one checked cell's expressions. `G` is its typed graph: shapes decide boldness and `\\odot`."""

    def __init__(self, G):
        self.G = G
        self.notation = G.graph.get("notation", {})
        self.index = G.graph["index"]  # "t", or "n" over trees
        self.continuous = G.graph.get("solver") is not None
        self.hparams = G.graph.get("hparams", {})
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
        text, prec = self._expr(e)
        return f"\\left({text}\\right)" if prec < outer else text

    def _expr(self, e) -> tuple:
        if isinstance(e, A.BinOp) and e.op in "+-":
            return " ".join(self.terms(e)), _SUM
        if isinstance(e, A.Number):
            return number(e), _ATOM
        if isinstance(e, A.String):
            return f"\\text{{{_escape_text(e.value)}}}", _ATOM
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
        prec = _PRECEDENCE[op]
        if op == "/":
            return f"\\frac{{{self.expr(e.left)}}}{{{self.expr(e.right)}}}", _ATOM
        if op == "**":
            return f"{self.expr(e.left, _ATOM)}^{{{self.expr(e.right)}}}", _POWER
        left = self.expr(e.left, _PRODUCT)
        right = self.expr(e.right, _UNARY if op == "@" else _PRODUCT)
        if op == "*" and not self.scalar(e.left) and not self.scalar(e.right):
            return f"{left} \\odot {right}", _PRODUCT
        if right[:1].isdigit() or right.startswith("-") or right.startswith("."):
            return f"{left} \\cdot {right}", _PRODUCT
        return f"{left} {right}", _PRODUCT  # a matrix product, or a number times anything

    def _args(self, call: A.Call) -> list:
        out = []
        for a in call.args:
            value = self.expr(a.value)
            out.append(f"\\mathrm{{{_escape_text(a.name.id)}}}{{=}}{value}" if a.name is not None else value)
        return out

    def _call(self, call: A.Call) -> tuple:
        """(LaTeX, precedence) of a built-in function's call."""
        func = call.func.id if isinstance(call.func, A.Name) else None
        if call.generator is not None:
            return self._reduction(func, call.generator), _PRODUCT
        positional = [self.expr(a.value, _ATOM) for a in call.args if a.name is None]
        if func == "circular_conv" and len(positional) == 2:
            return f"{self.expr(call.args[0].value, _UNARY)} \\circledast {self.expr(call.args[1].value, _UNARY)}", \
                _PRODUCT
        if func == "outer" and len(positional) == 2:
            return f"{positional[0]} {positional[1]}^{{\\top}}", _PRODUCT
        if func == "dot" and len(positional) == 2:
            return f"{positional[0]}^{{\\top}} {positional[1]}", _PRODUCT
        return self._function(func, call, positional), _ATOM

    def _function(self, func: Optional[str], call: A.Call, positional: list) -> str:
        args = self._args(call)
        if func == "abs" and len(args) == 1:
            return f"\\left|{args[0]}\\right|"
        if func == "norm" and len(args) == 1:
            return f"\\left\\lVert {args[0]} \\right\\rVert"
        if func == "sqrt" and len(args) == 1:
            return f"\\sqrt{{{args[0]}}}"
        if func == "square" and len(args) == 1:
            return f"{positional[0]}^{{2}}"
        if func == "pow" and len(positional) == 2:
            return f"{positional[0]}^{{{self.expr(call.args[1].value)}}}"
        if func == "transpose" and len(args) == 1:
            return f"{positional[0]}^{{\\top}}"
        if func == "concat" and call.args and all(a.name is None for a in call.args):
            return "\\left[" + "; ".join(args) + "\\right]"
        head = _FUNCTIONS.get(func) or f"\\operatorname{{{_escape_text(func or '?')}}}"
        inner = ", ".join(args)
        big = "\\frac" in inner or "\\sum" in inner
        return f"{head}\\left({inner}\\right)" if big else f"{head}({inner})"

    def _reduction(self, func: Optional[str], gen: A.Generator) -> str:
        """`sum(h[k] for k in children(n))`: \\sum_{k \\in C(n)} h_k."""
        over = f"{gen.var.id} \\in C({gen.node.id})"
        body = self.expr(gen.body, _PRODUCT)
        big = {"sum": "\\sum", "prod": "\\prod", "max": "\\max", "min": "\\min"}.get(func or "")
        if big is None:
            return f"\\operatorname{{{_escape_text(func or '?')}}}_{{{over}}}\\left({self.expr(gen.body)}\\right)"
        return f"{big}_{{{over}}} {body}"

    # ---- statements

    def equation(self, stmt) -> tuple:
        """(left side, right side) of one equation or ODE."""
        if isinstance(stmt, A.ODE):
            return f"\\frac{{d}}{{dt}} {self.name(stmt.name.id)}(t)", self.expr(stmt.value)
        index = self.index
        targets = ", ".join(self.name(t.name.id, index) if not self.continuous else f"{self.name(t.name.id)}(t)"
                            for t in stmt.targets)
        return targets, self.terms(stmt.value)

    def terms(self, e) -> list:
        """The right side as its top-level terms, `["a", "+ b", "- c"]`: where a long equation may break."""
        if isinstance(e, A.BinOp) and e.op in "+-":
            right = self.expr(e.right, _PRODUCT if e.op == "-" else _SUM)
            if right.startswith("-"):
                right = f"\\left({right}\\right)"
            return self.terms(e.left) + [f"{e.op} {right}"]
        return [self.expr(e)]

    def dims(self, shape) -> str:
        return dims_latex(shape, self.notation)


def number(n: A.Number) -> str:
    """`1e-6` as 10^{-6}, `2.5e-3` as 2.5 \\times 10^{-3}; other numbers as written."""
    text = n.text or repr(n.value)
    if "e" in text.lower():
        mantissa, _, exponent = text.lower().partition("e")
        exponent = str(int(exponent))
        if float(mantissa) == 1:
            return f"10^{{{exponent}}}"
        return f"{mantissa} \\times 10^{{{exponent}}}"
    return text


def index_text(e) -> str:
    """A time or node index as LaTeX: `t`, `t-1`, `k`."""
    if isinstance(e, A.Name):
        return e.id
    if isinstance(e, A.Number):
        return number(e)
    if isinstance(e, A.BinOp) and e.op in "+-":
        return f"{index_text(e.left)}{e.op}{index_text(e.right)}"
    if isinstance(e, A.BinOp) and e.op == "*":
        return f"{index_text(e.left)}{index_text(e.right)}"
    return "?"


def dim_latex(d, notation: Optional[dict] = None) -> str:
    """A dimension: `units`, `4 units`, `in + units`, each name by the notation rule."""
    if not isinstance(d, Dim):
        return str(d)
    if not d.terms:
        return "0"
    parts = []
    for monomial, coef in sorted(d.terms.items(), key=_term_order):
        factors = []
        for sym in dict.fromkeys(monomial):
            power = monomial.count(sym)
            text = name_latex(sym, notation=notation)
            factors.append(text if power == 1 else f"{text}^{{{power}}}")
        body = "\\,".join(factors)
        mag = abs(coef)
        term = body if body and mag == 1 else (f"{mag}\\,{body}" if body else str(mag))
        parts.append(("- " if coef < 0 else "+ " if parts else "") + term)
    return " ".join(parts)


def dims_latex(shape, notation: Optional[dict] = None) -> str:
    """`[units, in]` as units \\times in; a sum among several dimensions gets parentheses."""
    parts = [dim_latex(d, notation) for d in shape]
    if len(parts) > 1:
        parts = [f"({p})" if (" + " in p or " - " in p) else p for p in parts]
    return " \\times ".join(parts)


def _escape_text(text: str) -> str:
    return "".join({"_": "\\_", "&": "\\&", "%": "\\%", "#": "\\#", "{": "\\{", "}": "\\}", "$": "\\$",
                    "\\": "\\textbackslash{}", "^": "\\^{}", "~": "\\~{}"}.get(c, c) for c in text)


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


def cell_equations(G, ast_cell: A.Cell, env: str = "align") -> str:
    """The `align` block (or `aligned`, for notebooks) of the cell `ast_cell`, whose typed graph is `G`."""
    w = _CellWriter(G)
    rows = [w.equation(s) for s in ast_cell.body if isinstance(s, (A.Equation, A.ODE))]
    return _align(rows, env)


def cell_where(G) -> str:
    """The sentence under the equations: inputs, then parameters grouped by shape, with their sets."""
    w = _CellWriter(G)
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
    where = cell_where(G)
    return cell_equations(G, ast_cell) + ("\n" + where if where else "") + "\n"


# ---------------------------------------------------------------- networks


class _NetworkWriter:
    """Writes a network's bindings: layers as operators applied to values, chains as nested applications."""

    def __init__(self, G, bound):
        self.G = G
        self.bound = bound
        self.notation = G.graph.get("notation", {})

    def name(self, name: str) -> str:
        return name_latex(name, bold=name not in self.bound.hparams, notation=self.notation)

    def layer(self, call: A.Call) -> str:
        """`LSTM(64, returns=sequences)`: the layer's name, upright, and its arguments."""
        head = call.func.id if isinstance(call.func, A.Name) else "?"
        args = []
        for a in call.args:
            value = self.value(a.value)
            args.append(f"\\mathrm{{{_escape_text(a.name.id)}}}{{=}}{value}" if a.name is not None else value)
        return f"\\operatorname{{{_escape_text(head)}}}" + (f"({', '.join(args)})" if args else "")

    def value(self, e) -> str:
        if isinstance(e, A.Number):
            return number(e)
        if isinstance(e, A.String):
            return f"\\text{{{_escape_text(e.value)}}}"
        if isinstance(e, A.Name):
            if e.id in self.bound.values or e.id in self.bound.inputs or e.id in self.bound.hparams:
                return self.name(e.id)
            return f"\\mathrm{{{_escape_text(e.id)}}}"  # a keyword value: `sequences`, `bahdanau`
        if isinstance(e, A.BinOp) and e.op == ">>":
            return self.apply(e.right, self.value(e.left))
        if isinstance(e, A.BinOp):
            op = {"*": " \\cdot ", "+": " + ", "-": " - ", "/": " / "}.get(e.op, f" {e.op} ")
            return f"{self.value(e.left)}{op}{self.value(e.right)}"
        if isinstance(e, A.UnaryOp):
            return f"{e.op}{self.value(e.operand)}"
        if isinstance(e, A.Call) and isinstance(e.func, A.Call):  # a layer applied: Dense(10)(x)
            inputs = ", ".join(self.value(a.value) if a.name is None  # an initial state by name: s=probe
                               else f"{self.name(a.name.id)}{{=}}{self.value(a.value)}" for a in e.args)
            return self.apply(e.func, inputs)
        if isinstance(e, A.Call):
            return self.layer(e)
        return "?"

    def apply(self, layer, inputs: str) -> str:
        head = self.layer(layer) if isinstance(layer, A.Call) else self.value(layer)
        return f"{head}\\bigl({inputs}\\bigr)"


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


def _bindings(w: _NetworkWriter, bound) -> list:
    return [(", ".join(w.name(n.id) for n in stmt.names), w.value(stmt.value))
            for stmt in bound.ast.body if isinstance(stmt, A.Bind)]


def network_equations(G, bound, env: str = "align") -> str:
    """The `align` (or `aligned`) block of a network's bindings; empty when it binds no name."""
    rows = _bindings(_NetworkWriter(G, bound), bound)
    return _align(rows, env) if rows else ""


def network_latex(G, bound) -> str:
    """A network's data flow as an `align` of its bindings, its inputs' sets and its outputs."""
    w = _NetworkWriter(G, bound)
    rows = _bindings(w, bound)
    exprs = [v for stmt in bound.ast.body if isinstance(stmt, A.NetOutput) for v in stmt.values]
    out_values = []
    for i, e in enumerate(exprs):  # an output computed in the `output` line gets a row of its own
        if isinstance(e, A.Name):
            out_values.append(w.value(e))
            continue
        y = name_latex("y", bold=True, index=str(i + 1) if len(exprs) > 1 else None)
        rows.append((y, w.value(e)))
        out_values.append(y)
    inputs = [f"${w.name(n)} \\in {_type_space(info, w.notation)}$" for n, info in bound.inputs.items()]
    parts = []
    if inputs:
        parts.append(f"{_names_sentence(inputs)} {'is the input' if len(inputs) == 1 else 'are the inputs'}")
    if out_values:
        noun = "the output is" if len(out_values) == 1 else "the outputs are"
        parts.append(f"{noun} {_names_sentence([f'${v}$' for v in out_values])}")
    text = ("\\noindent where " + "; ".join(parts) + ".") if parts else ""
    block = _align(rows, "align") if rows else ""
    return "\n".join(p for p in (block, text) if p) + "\n"


# ---------------------------------------------------------------- documents


def header(kind: str, name: str, file: str) -> str:
    return (f"% The {kind} {name} of {file}, written by rnndsl {__version__} (`rnndsl latex`).\n"
            f"% It needs {PREAMBLE}.\n")


def document(body: str, title: Optional[str] = None) -> str:
    """A compilable article around `body`: no page number, the body's math in a narrow page."""
    heading = f"\\section*{{{_escape_text(title)}}}\n" if title else ""
    return ("\\documentclass[11pt,a4paper]{article}\n"
            f"{PREAMBLE}\n"
            "\\usepackage[margin=2.5cm]{geometry}\n"
            "\\pagestyle{empty}\n"
            "\\setlength{\\emergencystretch}{2em}\n"  # the `where` sentence's long formulas: no overfull lines
            "\\begin{document}\n"
            f"{heading}{body}"
            "\\end{document}\n")
