"""notation: how a spec's names are written in papers, as LaTeX and as Graphviz labels.

One rule serves `rnndsl latex` (rnndsl.draw.latex) and the paper style of `rnndsl render`,
so that the equations and the figure of a cell name things alike. How the operations
and built-in functions are shown (symbols, big operators, function names, operand marks) is
here too, one table per kind of label keyed by the operation's name. docs/language.md
("Notation") is the reference of the rule for names:

- the name splits at `_`: the first part is the symbol, the others its subscript,
  joined by commas (`W_i` -> W_i, `W_in` -> W_in with "in" upright, `W_x_h` -> W_{x,h});
- a Greek letter's name is the letter (`beta` -> \\beta, `Gamma` -> \\Gamma), as a symbol
  or a subscript; `dt` is \\Delta t;
- the parts `tilde`, `hat`, `bar`, `dot`, `check`, `breve` and `vec` put that accent
  on the symbol (`h_tilde` -> \\tilde{h}, `y_hat_t` -> \\hat{y}_t);
- digits at the end of the symbol are a subscript (`W1` -> W_1, `h2_f` -> h_{2,f});
- one letter is italic, several are upright (`mem` -> \\mathrm{mem});
- vectors and matrices are bold (\\mathbf, or \\bm for Greek letters), scalars are not;
- `notation NAME = "LaTeX"` in a cell or network replaces all of this for that name.
"""

from __future__ import annotations

import html as _html
import re
from dataclasses import dataclass
from typing import Optional

from ..lang.dims import term_order
from ..lang.ops import OPERATIONS

GREEK = {
    name: "\\" + name for name in (
        "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu",
        "nu", "xi", "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi", "omega",
        "Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Upsilon", "Phi", "Psi", "Omega")
}
# The Unicode letters of the same names, for diagram labels (Graphviz has no math mode).
GREEK_UNICODE = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "zeta": "ζ", "eta": "η",
    "theta": "θ", "iota": "ι", "kappa": "κ", "lambda": "λ", "mu": "μ", "nu": "ν", "xi": "ξ", "pi": "π",
    "rho": "ρ", "sigma": "σ", "tau": "τ", "upsilon": "υ", "phi": "φ", "chi": "χ", "psi": "ψ", "omega": "ω",
    "Gamma": "Γ", "Delta": "Δ", "Theta": "Θ", "Lambda": "Λ", "Xi": "Ξ", "Pi": "Π", "Sigma": "Σ",
    "Upsilon": "Υ", "Phi": "Φ", "Psi": "Ψ", "Omega": "Ω",
}
ACCENTS = {"tilde": "\\tilde", "hat": "\\hat", "bar": "\\bar", "dot": "\\dot", "check": "\\check",
           "breve": "\\breve", "vec": "\\vec"}
# Combining marks that draw the same accents on a diagram's letter.
ACCENT_UNICODE = {"tilde": "\u0303", "hat": "\u0302", "bar": "\u0304", "dot": "\u0307", "check": "\u030c",
                  "breve": "\u0306", "vec": "\u20d7"}
SPECIAL = {"dt": ("\\Delta t", "Δ<I>t</I>")}  # names papers write otherwise: LaTeX, Graphviz label

_TRAILING_DIGITS = re.compile(r"^(.*?[A-Za-z])([0-9]+)$")


@dataclass(frozen=True)
class Symbol:
    """A name as papers write it: `h_tilde_f` is base "h", accent "tilde", subscript ("f",)."""

    base: str
    accent: Optional[str]
    subscript: tuple

    @property
    def greek(self) -> bool:
        return self.base in GREEK


def symbol(name: str) -> Symbol:
    """Split `name` by the rule of this module's docstring."""
    parts = [p for p in name.split("_") if p] or [name]
    base, rest = parts[0], parts[1:]
    subscript = []
    m = _TRAILING_DIGITS.match(base)
    if m:
        base, digits = m.group(1), m.group(2)
        subscript.append(digits)
    accent = None
    for part in rest:
        if part in ACCENTS and accent is None:
            accent = part
        else:
            subscript.append(part)
    return Symbol(base, accent, tuple(subscript))


def _latex_part(part: str) -> str:
    """A subscript part: a Greek letter, a digit string, one italic letter, or an upright word."""
    if part in GREEK:
        return GREEK[part]
    if len(part) == 1 or part.isdigit():
        return part
    return f"\\mathrm{{{part}}}"


def latex(name: str, bold: bool = False, index: Optional[str] = None, notation: Optional[dict] = None) -> str:
    """The LaTeX of `name`, bold when it is a vector or a matrix, with `index` (LaTeX, "t-1") as a subscript.

    `notation` holds the spec's `notation` statements: name -> LaTeX, used as given.
    """
    if notation and name in notation:
        given = notation[name]
        return given if index is None else f"{{{given}}}_{{{index}}}"
    if name in SPECIAL:
        text = SPECIAL[name][0]
        return text if index is None else f"({text})_{{{index}}}"
    sym = symbol(name)
    if sym.greek:
        base = GREEK[sym.base]
        base = f"\\bm{{{base}}}" if bold else base
    elif len(sym.base) == 1 and sym.base.isalpha():
        base = f"\\mathbf{{{sym.base}}}" if bold else sym.base
    else:  # a word; `_` alone is a name too, and is escaped
        word = tex_escape(sym.base)
        base = f"\\mathbf{{{word}}}" if bold else f"\\mathrm{{{word}}}"
    if sym.accent:
        base = f"{ACCENTS[sym.accent]}{{{base}}}"
    sub = [_latex_part(p) for p in sym.subscript] + ([index] if index is not None else [])
    if not sub:
        return base
    joined = ",".join(sub)
    return f"{base}_{joined}" if len(joined) == 1 else f"{base}_{{{joined}}}"


# ---------------------------------------------------------------- diagram labels


def _html_part(part: str) -> str:
    if part in GREEK_UNICODE:
        return GREEK_UNICODE[part]
    if len(part) == 1 and part.isalpha():
        return f"<I>{part}</I>"
    return _html.escape(part)


def html(name: str, bold: bool = False, index: Optional[str] = None, notation: Optional[dict] = None) -> str:
    """The Graphviz HTML-like label text of `name` (no enclosing `<>`): italic letters, Greek as Unicode,
    `<SUB>` subscripts, `<B>` for vectors and matrices. `index` is the spec's index ("t-1"), its letters set
    in italics and its minus a minus sign."""
    if index is not None:
        index = index_html(index)
    if notation and name in notation:
        text = latex_to_html(notation[name])
    elif name in SPECIAL:
        text = SPECIAL[name][1]
    else:
        sym = symbol(name)
        if sym.greek:
            text = GREEK_UNICODE[sym.base]
        elif len(sym.base) == 1 and not bold:  # \mathbf is bold upright: no italics under <B>
            text = f"<I>{sym.base}</I>"
        else:
            text = _html.escape(sym.base)
        if sym.accent:
            text = _accented(text, ACCENT_UNICODE[sym.accent])
        if bold:
            text = f"<B>{text}</B>"
        sub = [_html_part(p) for p in sym.subscript]
        sub += [index] if index is not None else []
        return text + (f"<SUB>{','.join(sub)}</SUB>" if sub else "")
    if index is not None:
        text += f"<SUB>{index}</SUB>"
    return text


def index_html(index: str) -> str:
    """A step or node index as a diagram writes it: `t−1`, its letters in italics, its minus a minus sign."""
    return "".join(f"<I>{c}</I>" if c.isalpha() else "−" if c == "-" else _html.escape(c)
                   for c in index.replace(" ", "")).replace("</I><I>", "")


_CLOSING_TAGS = re.compile(r"(?:</[A-Z]+>)+$")


def _accented(text: str, mark: str) -> str:
    """`text` with a combining `mark` after its last letter, inside its closing tags: Graphviz then keeps
    the two in one run of text, and the accent sits on the letter."""
    m = _CLOSING_TAGS.search(text)
    return text[: m.start()] + mark + m.group(0) if m else text + mark


_COMMAND = re.compile(r"\\([A-Za-z]+)")


def latex_to_html(latex_text: str, upright: bool = False) -> str:
    """A Graphviz label for a `notation` string: the common subset of LaTeX math drawn with HTML-like tags.

    Greek letters become Unicode, `_x`/`_{..}` and `^x`/`^{..}` become `<SUB>`/`<SUP>`, `\\mathbf{..}` and
    `\\bm{..}` `<B>`, `\\tilde{x}` and the other accents combining marks, `\\mathrm{..}` and `\\text{..}`
    plain text; single letters are italic (upright under \\mathbf, or with `upright`). Other commands are
    written by name, without the backslash.
    """
    out, i, n = [], 0, len(latex_text)

    def group(j):
        """The text of the group at j (`{...}` or one token) and the index after it."""
        while j < n and latex_text[j] == " ":
            j += 1
        if j < n and latex_text[j] == "{":
            depth, k = 1, j + 1
            while k < n and depth:
                depth += {"{": 1, "}": -1}.get(latex_text[k], 0)
                k += 1
            return latex_text[j + 1:k - 1], k
        m = _COMMAND.match(latex_text, j)
        if m:
            return m.group(0), m.end()
        return latex_text[j:j + 1], j + 1

    while i < n:
        c = latex_text[i]
        if c == "\\":
            m = _COMMAND.match(latex_text, i)
            if not m:  # `\,` `\{` and the like
                out.append(_html.escape(latex_text[i + 1:i + 2]) if latex_text[i + 1:i + 2] not in ",;! " else " ")
                i += 2
                continue
            cmd, i = m.group(1), m.end()
            if cmd in GREEK_UNICODE:
                out.append(GREEK_UNICODE[cmd])
            elif cmd in ("mathbf", "bm", "boldsymbol"):
                body, i = group(i)
                out.append(f"<B>{latex_to_html(body, upright=upright or cmd == 'mathbf')}</B>")
            elif cmd in ("mathrm", "text", "operatorname", "textrm", "mathsf"):
                body, i = group(i)
                out.append(_html.escape(body))
            elif cmd in ("mathcal", "mathscr", "mathfrak", "mathbb"):
                body, i = group(i)
                out.append(latex_to_html(body, upright))
            elif cmd in ("mathit", "textit"):
                body, i = group(i)
                out.append(f"<I>{_html.escape(body)}</I>")
            elif cmd.removeprefix("wide") in ACCENTS:
                body, i = group(i)
                out.append(_accented(latex_to_html(body, upright), ACCENT_UNICODE[cmd.removeprefix("wide")]))
            else:
                out.append(_html.escape(cmd))
        elif c in "_^":
            body, i = group(i + 1)
            tag = "SUB" if c == "_" else "SUP"
            out.append(f"<{tag}>{latex_to_html(body, upright)}</{tag}>")
        elif c in "{}":
            i += 1
        elif c.isalpha():
            out.append(c if upright else f"<I>{c}</I>")
            i += 1
        else:
            out.append(_html.escape(c))
            i += 1
    return "".join(out).replace("</I><I>", "")


# ---------------------------------------------------------------- LaTeX text

# Characters of diagram labels and how LaTeX text writes them.
_SPECIAL = {"\\": "\\textbackslash{}", "{": "\\{", "}": "\\}", "$": "\\$", "&": "\\&", "#": "\\#",
            "^": "\\^{}", "_": "\\_", "%": "\\%", "~": "\\~{}", "<": "\\textless{}", ">": "\\textgreater{}",
            "|": "\\textbar{}"}
_MATH = {"−": "-", "·": "\\cdot", "⊙": "\\odot", "×": "\\times", "÷": "\\div", "≤": "\\leq",
         "≥": "\\geq", "≠": "\\neq", "∈": "\\in", "∫": "\\int", "∑": "\\sum", "∏": "\\prod",
         "→": "\\to", "←": "\\leftarrow", "∞": "\\infty", "±": "\\pm", "√": "\\surd",
         **{ch: "\\" + name for name, ch in GREEK_UNICODE.items()}}
_TEXT = {"…": "\\ldots{}", "—": "---", "–": "--", "“": "``", "”": "''", "‘": "`", "’": "'", "\u00a0": "~"}
_SUPERSCRIPT = dict(zip("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺", "0123456789-+"))


def tex_escape(text: str) -> str:
    """`text` as LaTeX text: special characters escaped, the signs and Greek letters of diagram labels
    (`−`, `⊙`, `σ`, `z⁻¹`) in math. Other characters are kept as they are."""
    out: list = []  # (in math, LaTeX) pieces; neighbouring math pieces share one $...$
    i = 0
    while i < len(text):
        c = text[i]
        if c in _SUPERSCRIPT:
            j = i
            while j < len(text) and text[j] in _SUPERSCRIPT:
                j += 1
            out.append((True, "^{" + "".join(_SUPERSCRIPT[ch] for ch in text[i:j]) + "}"))
            i = j
            continue
        if c in _MATH:
            out.append((True, _MATH[c] + (" " if _MATH[c][-1].isalpha() else "")))
        else:
            out.append((False, _SPECIAL.get(c) or _TEXT.get(c) or c))
        i += 1
    result, k = [], 0
    while k < len(out):
        if not out[k][0]:
            result.append(out[k][1])
            k += 1
            continue
        run = []
        while k < len(out) and out[k][0]:
            run.append(out[k][1])
            k += 1
        result.append("$" + "".join(run).rstrip() + "$")
    return "".join(result)


# ---------------------------------------------------------------- operations and functions
#
# How the operations of a cell's graph are shown, one table per kind of label, each keyed by the
# operation's name: a built-in function's name in rnndsl.lang.builtins (`sigmoid`, `sum`), or an
# operator's as rnndsl.lang.graph names it (`add`, `matmul`, `lt`).

# Operations drawn as a symbol in a circle: (the symbol as text, escaped where a label is HTML-like;
# as LaTeX math). `pow` is a circled ^ on the screen only: a paper names it as a function, and
# `rnndsl latex` raises the exponent.
OPERATION_SYMBOLS = {
    "add": ("+", "+"), "sub": ("−", "-"), "mul": ("⊙", "\\odot"), "div": ("÷", "\\div"),
    "matmul": ("·", "\\cdot"), "pow": ("^", None), "neg": ("−", "-"), "pos": ("+", "+"),
    "lt": ("<", "<"), "le": ("≤", "\\leq"), "gt": (">", ">"), "ge": ("≥", "\\geq"), "eq": ("=", "="),
    "ne": ("≠", "\\neq"), "copy": ("=", "="), "sigmoid": ("σ", "\\sigma"),
}

# Operations whose operand order matters: the marks on their operands' edges, by position
# (`−` on a subtrahend); a built-in function's are its registry entry's (`where`: then, else).
OPERAND_MARKS = {"sub": {1: "−"}, "div": {1: "÷"},
                 **{c: {1: "rhs"} for c in ("lt", "le", "gt", "ge", "eq", "ne")},
                 **{name: dict(op.marks) for name, op in OPERATIONS.items() if op.marks}}

# Reductions over a tree node's children written as big operators: (diagram label, LaTeX),
# `\sum_{k \in C(n)}`. Any other is written by its function's name.
BIG_OPERATORS = {name: op.big for name, op in OPERATIONS.items() if op.big}


def function_latex(name: str) -> str:
    """The LaTeX of a built-in function's name (its registry entry's): `\\sigma`, `\\tanh`, or an upright
    name, `\\operatorname{softmax}`."""
    op = OPERATIONS.get(name)
    return op.latex if op is not None and op.latex else f"\\operatorname{{{tex_escape(name)}}}"


def function_html(name: str) -> str:
    """The diagram label of a built-in function's name (its registry entry's): `σ`, `tanh`, `softmax`."""
    op = OPERATIONS.get(name)
    return op.label if op is not None and op.label else _html.escape(name)


# ---------------------------------------------------------------- numbers and dimensions

_NUMBER = re.compile(r"([-+]?)([0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE]([-+]?[0-9]+))?")


def number(text: str) -> Optional[tuple]:
    """(diagram label, LaTeX) of a number as papers print it: `1e-6` is 10⁻⁶ and 10^{-6}, `2.5e-3` is
    2.5 × 10⁻³ and 2.5 \\times 10^{-3}, others as written; None for text that is not a number."""
    m = _NUMBER.fullmatch(text)
    if not m:
        return None
    sign, mantissa, exponent = m.groups()
    label_sign = "−" if sign == "-" else sign
    if exponent is None:
        return label_sign + mantissa, sign + mantissa
    exponent = str(int(exponent))
    label_power = "10<SUP>" + exponent.replace("-", "−") + "</SUP>"
    if float(mantissa) == 1:
        return label_sign + label_power, f"{sign}10^{{{exponent}}}"
    return label_sign + f"{mantissa} × {label_power}", f"{sign}{mantissa} \\times 10^{{{exponent}}}"


def number_latex(text: str) -> str:
    """The LaTeX of `number(text)`; text that is not a number as it is."""
    written = number(text)
    return written[1] if written else text


def dimension(d, names: Optional[dict] = None) -> tuple:
    """(diagram label, LaTeX) of a dimension (rnndsl.lang.dims.Dim): `units`, `2 units`, `in + units`, each
    name by the rule, with a thin space between factors."""
    if not d.terms:
        return "0", "0"
    label_parts, tex_parts = [], []
    for monomial, coef in sorted(d.terms.items(), key=term_order):
        label_factors, tex_factors = [], []
        for sym in dict.fromkeys(monomial):
            power = monomial.count(sym)
            label, tex = html(sym, False, None, names), latex(sym, False, None, names)
            label_factors.append(label if power == 1 else f"{label}<SUP>{power}</SUP>")
            tex_factors.append(tex if power == 1 else f"{tex}^{{{power}}}")
        mag = abs(coef)
        if not monomial:
            label_term, tex_term = str(mag), str(mag)
        else:
            label_term = ("" if mag == 1 else f"{mag}\u2009") + "\u2009".join(label_factors)
            tex_term = ("" if mag == 1 else f"{mag}\\,") + "\\,".join(tex_factors)
        first = not label_parts
        label_parts.append(("−" if coef < 0 else "") + label_term if first
                           else ("− " if coef < 0 else "+ ") + label_term)
        tex_parts.append(("-" if coef < 0 else "") + tex_term if first
                         else ("- " if coef < 0 else "+ ") + tex_term)
    return " ".join(label_parts), " ".join(tex_parts)
