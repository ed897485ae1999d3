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
from importlib.metadata import version
from typing import Optional

from ..lang import ast as A
from ..lang.dims import Dim
from .latex_expr import ATOM, PRODUCT, SUM, UNARY, ExpressionWriter, dims_latex, keyword, number
from .notation import tex_escape
from .notation import latex as name_latex

PREAMBLE = "\\usepackage{amsmath,amssymb,bm}"

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


def cell_equations(G, env: str = "align", w: Optional[ExpressionWriter] = None) -> str:
    """The `align` block (or `aligned`, for notebooks) of the cell whose typed graph is `G`: its equations
    as written (`G.header.written`)."""
    w = w or ExpressionWriter(G)
    rows = [w.equation(s) for s in G.header.written.body if isinstance(s, (A.Equation, A.ODE))]
    return _align(rows, env)


def cell_where(G, w: Optional[ExpressionWriter] = None) -> str:
    """The sentence under the equations: inputs, then parameters grouped by shape, with their sets."""
    w = w or ExpressionWriter(G)
    sig = G.signature
    index = G.header.index

    def member(names: list, shape, at: Optional[str] = None) -> str:
        written = ",\\allowbreak ".join((w.read(n, at) if at else w.name(n)) for n in names)
        space = f"\\mathbb{{R}}^{{{w.dims(shape)}}}" if shape else "\\mathbb{R}"
        return f"${written} \\in {space}$"

    inputs = [member([n], s, index) for n, s in sig.inputs.items()]
    groups: dict = {}
    for n in sig.params:
        groups.setdefault(tuple(w.shape_of_name(n)), []).append(n)  # one head's shape, where it has heads
    params = [member(names, list(shape)) for shape, names in groups.items()]
    parts = []
    if inputs:
        noun = "is the input" if len(inputs) == 1 else "are the inputs"
        parts.append(f"{_names_sentence(inputs)} {noun}")
    if params:
        parts.append(f"the parameters are {_names_sentence(params)}")
    fixed = [w.name(n) for n in sig.params if G.node(n).fixed]
    fitted = [w.name(n) for n in sig.params if G.node(n).fit is not None]
    notes = []
    if fixed:
        notes.append(f"${', '.join(fixed)}$ {'is' if len(fixed) == 1 else 'are'} fixed")
    if G.header.heads:
        notes.append(f"$i = 1, \\dots, {w.dims([Dim.sym(G.header.heads)])}$ counts the heads")
    if fitted:
        notes.append(f"${', '.join(fitted)}$ {'is' if len(fitted) == 1 else 'are'} computed in closed form")
    text = "where " + "; ".join(parts) if parts else ""
    if notes:
        text += ("; " if text else "where ") + " and ".join(notes)
    return f"\\noindent {text}." if text else ""


def cell_latex(G) -> str:
    """The cell as a paper prints it: its equations in an `align`, and the `where` sentence."""
    w = ExpressionWriter(G)
    where = cell_where(G, w)
    return cell_equations(G, w=w) + ("\n" + where if where else "") + "\n"


# ---------------------------------------------------------------- networks


class _NetworkWriter:
    """Writes a network's bindings: layers as operators applied to values, chains as nested applications."""

    def __init__(self, G):
        self.G = G
        self.notation = G.header.notation
        self.inputs = {n: G.node(n).info for n in G.of_kind("input")}
        self.known = {*G.header.values, *self.inputs, *G.header.hparams}  # names of values and hyperparameters

    def name(self, name: str) -> str:
        """A value is bold (a tensor), a hyperparameter is not."""
        return name_latex(name, bold=name not in self.G.header.hparams, notation=self.notation)

    def layer(self, call: A.Call) -> str:
        """`LSTM(64, returns=sequences)`: the layer's name, upright, and its arguments."""
        head = call.func.id if isinstance(call.func, A.Name) else "?"
        args = [self.value(a.value) if a.name is None else keyword(a.name.id, self.value(a.value))
                for a in call.args]
        return f"\\operatorname{{{tex_escape(head)}}}" + (f"({', '.join(args)})" if args else "")

    def value(self, e) -> str:
        return self._value(e)[0]

    def _value(self, e) -> tuple:
        """(LaTeX, precedence) of a layer's argument or a value flowing into a layer."""
        if isinstance(e, A.Number):
            return number(e)
        if isinstance(e, A.String):
            return f"\\text{{{tex_escape(e.value)}}}", ATOM
        if isinstance(e, A.Name):
            if e.id in self.known:
                return self.name(e.id), ATOM
            return f"\\mathrm{{{tex_escape(e.id)}}}", ATOM  # a keyword value: `sequences`, `bahdanau`
        if isinstance(e, A.BinOp) and e.op == ">>":
            return self.apply(e.right, self.value(e.left)), ATOM
        if isinstance(e, A.BinOp) and e.op in "+-*/":  # arithmetic on hyperparameters: 2 * (units + 1)
            prec = SUM if e.op in "+-" else PRODUCT
            left, right = self._value(e.left), self._value(e.right)
            left_text = left[0] if left[1] >= prec else f"({left[0]})"
            # a - (b - c) and a / (b * c) keep their parentheses
            right_text = right[0] if right[1] > prec or (right[1] == prec and e.op in "+*") else f"({right[0]})"
            op = {"*": " \\cdot ", "/": " / "}.get(e.op, f" {e.op} ")
            return f"{left_text}{op}{right_text}", prec
        if isinstance(e, A.UnaryOp):
            operand, prec = self._value(e.operand)
            return f"{e.op}{operand if prec >= UNARY else f'({operand})'}", UNARY
        if isinstance(e, A.Call) and isinstance(e.func, A.Call):  # a layer applied: Dense(10)(x)
            inputs = ", ".join(self.value(a.value) if a.name is None  # an initial state by name: s=probe
                               else f"{self.name(a.name.id)}{{=}}{self.value(a.value)}" for a in e.args)
            return self.apply(e.func, inputs), ATOM
        if isinstance(e, A.Call):
            return self.layer(e), ATOM
        return "?", ATOM

    def apply(self, layer, inputs: str) -> str:
        head = self.layer(layer) if isinstance(layer, A.Call) else self.value(layer)
        return f"{head}\\bigl({inputs}\\bigr)"

    def rows(self) -> tuple:
        """The align's rows, one a binding and one an output computed in the `output` line, and the
        outputs' LaTeX."""
        body = self.G.header.written.body
        rows = [(", ".join(self.name(n.id) for n in stmt.names), self.value(stmt.value))
                for stmt in body if isinstance(stmt, A.Bind)]
        exprs = [v for stmt in body if isinstance(stmt, A.NetOutput) for v in stmt.values]
        header = self.G.header
        taken = {self.name(n) for n in [*header.values, *self.inputs, *header.hparams]}
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


def network_equations(G, env: str = "align") -> str:
    """The `align` (or `aligned`) block of a network's bindings and computed outputs; empty when none."""
    rows, _ = _NetworkWriter(G).rows()
    return _align(rows, env) if rows else ""


def network_latex(G) -> str:
    """A network's data flow as an `align` of its bindings, its inputs' sets and its outputs."""
    w = _NetworkWriter(G)
    rows, outputs = w.rows()
    inputs = [f"${w.name(n)} \\in {_type_space(info, w.notation)}$" for n, info in w.inputs.items()]
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
    return (f"% The {kind} {name} of {file}, written by rnndsl {version('rnndsl')} (`rnndsl latex`).\n"
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
