"""The syntax tree of a `.rnn` file, as `rnndsl.lang.parse` builds it.

Every node is a frozen dataclass (`@node`) whose last field is its `span`. Spans are left out of equality
(`compare=False`), so two trees that differ only in layout compare equal: this
is what `fmt`'s round-trip test relies on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Union


@dataclass(frozen=True)
class Span:
    """A region of a source file; lines and columns count from 1, `end_column` is exclusive."""

    file: str
    line: int
    column: int
    end_line: int
    end_column: int
    # The whole text of `file`, from which a diagnostic quotes the lines the span points
    # at (None for a span of no text). Each span carries its text, so that two texts of
    # one name (two specs given as strings) never borrow each other's lines.
    text: Optional[str] = field(default=None, compare=False, repr=False)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"

    def source(self) -> str:
        """The text the span covers, its lines joined by single spaces ("…" for a span of no text)."""
        lines = (self.text or "").split("\n")[self.line - 1:self.end_line]
        if not lines or self.text is None:
            return "…"
        if len(lines) == 1:
            return lines[0][self.column - 1:self.end_column - 1]
        lines[0], lines[-1] = lines[0][self.column - 1:], lines[-1][:self.end_column - 1]
        return " ".join(line.strip() for line in lines)

    def to(self, other: "Span") -> "Span":
        """The span from the start of `self` to the end of `other`."""
        return Span(self.file, self.line, self.column, other.end_line, other.end_column, self.text)


NO_SPAN = Span("<builtin>", 0, 0, 0, 0)


def node(cls):
    """A syntax-tree node: a frozen dataclass whose last field is its `span`, which equality ignores."""
    cls.__annotations__ = {**cls.__dict__.get("__annotations__", {}), "span": "Span"}
    cls.span = field(default=NO_SPAN, compare=False, repr=False)
    return dataclass(frozen=True)(cls)


# ---------------------------------------------------------------- expressions


@node
class Number:
    value: Union[int, float]
    text: str = field(compare=False, default="")


@node
class String:
    value: str


@node
class Name:
    id: str


@node
class Indexed:
    """`h[t-1]`: a value read at a time step (or tree node); `h[i-1, j]`: at a grid position (a Position)."""

    name: Name
    index: "Expr"


@node
class Position:
    """`i-1, j` inside `h[i-1, j]`: a grid position, one index expression for each dimension."""

    items: tuple


@node
class Arg:
    """A call argument; `name` is set for keyword arguments (`axis=0`)."""

    value: "Expr"
    name: Optional[Name] = None


@node
class Generator:
    """`h[k] for k in children(n)`: the single argument of a reduction over tree children."""

    body: "Expr"
    var: Name
    source: Name  # the function iterated over: `children`
    node: Name  # its argument: `n`


@node
class Call:
    """`f(args)`; `func` is a Name, or a Call for a layer applied to inputs: `Dense(10)(x)`."""

    func: "Expr"
    args: tuple = ()
    generator: Optional[Generator] = None


@node
class BinOp:
    """`left op right` with op one of + - * / @ ** >> and the comparisons."""

    op: str
    left: "Expr"
    right: "Expr"


@node
class UnaryOp:
    op: str  # "-" or "+"
    operand: "Expr"


@node
class Vector:
    """`[0, 1, 0]`: a vector literal; its entries are numbers or numeric hyperparameters."""

    items: tuple

    def written(self) -> str:
        """The literal as written (entries: numbers, negated numbers and names; anything else is `?`)."""
        def entry(item) -> str:
            if isinstance(item, UnaryOp) and isinstance(item.operand, Number):
                return item.op + entry(item.operand)
            if isinstance(item, Name):
                return item.id
            return (item.text or str(item.value)) if isinstance(item, Number) else "?"

        return "[" + ", ".join(entry(item) for item in self.items) + "]"


Expr = Union[Number, String, Name, Indexed, Call, BinOp, UnaryOp, Vector, Position]


# ---------------------------------------------------------------- declarations


@node
class HyperParam:
    """`units: int = 128` in a cell's or network's header."""

    name: Name
    type: Name
    default: Optional[Expr] = None


@node
class Shape:
    """`[units, in]`: each dimension is an expression over integers and int names."""

    dims: tuple = ()


@node
class NamedCall:
    """`name` or `name(args...)`: an initializer, a fit, a constraint or a solver, chosen by name.

    The four kinds share fields and differ in class: an `Init` never equals a `Fit` of the same name."""

    name: Name
    args: tuple = ()


class Init(NamedCall):
    """`~ glorot_uniform` / `~ normal(std=0.1)`: an initializer by name."""

@node
class ConstInit:
    """`= 0`: a constant initial value."""

    value: Expr


class Fit(NamedCall):
    """`fit hebbian` / `fit ridge(1e-6)`: the parameter is computed from data in closed form."""

class Constraint(NamedCall):
    """`constrain positive` / `constrain max_norm(3)`."""

@node
class InputDecl:
    names: tuple
    shape: Shape


@node
class ParamDecl:
    names: tuple
    shape: Optional[Shape] = None
    init: Union[Init, ConstInit, None] = None
    fixed: bool = False
    constraints: tuple = ()
    fit: Optional[Fit] = None


@node
class StateDecl:
    """`state c: [units] = 0`: a state's shape and initial value, both optional."""

    name: Name
    shape: Optional[Shape] = None
    init: Optional[Expr] = None


@node
class OutputDecl:
    names: tuple


@node
class Target:
    """The left side of an equation: `h[t]`."""

    name: Name
    index: Expr


@node
class Schedule:
    """`every 4` or `when c[t] > 0` after an equation: the steps at which its value is computed; it holds its
    last value at the others."""

    kind: str  # "every" or "when"
    value: Expr


@node
class Equation:
    """`h[t] = expr`, or `a[t], b[t] = split(...)` with several targets; `schedule`: `every k` or `when c`, its
    own or that of the block it stands in (`block`: `every 4 { ... }`, whose equations all take it)."""

    targets: tuple
    value: Expr
    schedule: Optional[Schedule] = None
    block: Optional[Schedule] = None


@node
class ODE:
    """`d/dt y = expr`: a continuous-time state, stepped by the cell's solver."""

    name: Name
    value: Expr


@node
class Notation:
    """`notation beta = "\\beta"`: the LaTeX a name is written as in equations and paper figures."""

    name: Name
    latex: String
    word: Optional[Name] = None  # the statement's first word (resolve wants `notation`)


@node
class Heads:
    """`heads reads`: the int hyperparameter that counts the cell's heads (docs/language.md, "Heads")."""

    name: Name
    word: Optional[Name] = None  # the statement's first word (resolve wants `heads`)


class Domain(NamedCall):
    """`over tree` / `over tree(2)` in a cell header: what the cell recurs over, and a tree's arity."""

class Solver(NamedCall):
    """`solver rk4` / `solver euler(step=0.05)` in a cell header."""

@node
class Cell:
    """One step of a recurrence: declarations and equations."""

    name: Name
    hparams: tuple = ()
    over: Optional[Domain] = None  # `over tree` for recursive cells; None is time
    solver: Optional[Solver] = None
    doc: Optional[str] = None
    body: tuple = ()


@node
class TypeExpr:
    """`seq[int]`, `vec[32]`, `grid[H, W, 3]`: a network value's type."""

    kind: Name
    items: tuple = ()


@node
class NetInput:
    names: tuple
    type: TypeExpr


@node
class Bind:
    """`ctx = Bidirectional(LSTM(units))(emb)`."""

    names: tuple
    value: Expr


@node
class NetOutput:
    values: tuple


@node
class TrainSetting:
    """`optimizer = adam(learning_rate=1e-3)`, `metrics = accuracy, mae`: one setting, one or more values."""

    name: Name
    values: tuple


@node
class Train:
    """`train { ... }`: how a network learns. `word` is the block's first word (resolve wants `train`)."""

    settings: tuple = ()
    word: Optional[Name] = None


@node
class Import:
    """`import "lib.rnn"`: a file whose cells and networks this one uses."""

    path: String


@node
class Network:
    """Data flow that wires layers and cells."""

    name: Name
    hparams: tuple = ()
    doc: Optional[str] = None
    body: tuple = ()


@node
class Module:
    """A whole file: its docstring, imports, cells and networks in source order."""

    items: tuple = ()
    doc: Optional[str] = None

    @property
    def imports(self) -> tuple:
        return tuple(i for i in self.items if isinstance(i, Import))

    @property
    def cells(self) -> tuple:
        return tuple(i for i in self.items if isinstance(i, Cell))

    @property
    def networks(self) -> tuple:
        return tuple(i for i in self.items if isinstance(i, Network))


def walk(node):
    """Yield `node` and every AST node below it, depth first, in source order."""
    yield node
    for f in getattr(node, "__dataclass_fields__", {}):
        if f == "span":
            continue
        value = getattr(node, f)
        children = value if isinstance(value, tuple) else (value,)
        for child in children:
            if hasattr(child, "__dataclass_fields__") and not isinstance(child, Span):
                yield from walk(child)
