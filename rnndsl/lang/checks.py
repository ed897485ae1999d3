"""checks: what resolving cells, networks and train blocks shares.

Literal values, hyperparameter declarations, dimension expressions, and the
match of a call's arguments to a signature (`rnndsl.lang.builtins.Param`s).
Every check appends its diagnostics to an `errors` list and goes on.
"""

from __future__ import annotations

from typing import Optional

from . import ast as A
from .bound import Hyper
from .builtins import CONSTANT_NAMES, HYPER_TYPES, REQUIRED
from .dims import Dim
from .errors import ResolveError, did_you_mean


class Reporter:
    """A pass that collects its diagnostics in `errors` and goes on."""

    def __init__(self, errors: list):
        self.errors = errors

    def error(self, message, span, label="", notes=(), code="E0201"):
        self.errors.append(ResolveError(message, span, label=label, notes=notes, code=code))


def literal(expr) -> object:
    """The Python value of a literal expression (number, -number, string, true/false), else a sentinel."""
    if isinstance(expr, A.Number):
        return expr.value
    if isinstance(expr, A.UnaryOp) and isinstance(expr.operand, A.Number):
        return -expr.operand.value if expr.op == "-" else expr.operand.value
    if isinstance(expr, A.String):
        return expr.value
    if isinstance(expr, A.Name) and expr.id in CONSTANT_NAMES:
        return CONSTANT_NAMES[expr.id]
    return NOT_LITERAL


NOT_LITERAL = object()


def with_article(noun: str) -> str:
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


def resolve_hparams(hparams: tuple, errors: list) -> dict:
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
            default = literal(hp.default)
            if default is NOT_LITERAL or not _type_ok(type_name, default):
                shown = "an expression" if default is NOT_LITERAL else with_article(type(default).__name__)
                errors.append(ResolveError(
                    f"the default of `{name}` is not {with_article(type_name)}", hp.default.span,
                    label=f"expected {with_article(type_name)} literal, found {shown}", code="E0203"))
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


def check_call_args(name: str, args: tuple, params: tuple, span: A.Span, errors: list,
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
