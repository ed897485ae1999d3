"""bound: what resolve gives, the bound program.

Per cell and per network, tables of what each name is (hyperparameter, input,
parameter, value; layer application), with shapes still as AST expressions:
inference comes later (rnndsl.lang.infer).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Union

from . import ast as A

# a cell's domain (`over`) -> its index, as its equations write it: `h[t]`, `h[n]`, `h[i, j]`
INDEX = {"time": "t", "tree": "n", "grid": "i, j"}


@dataclass
class Hyper:
    """A hyperparameter: its type, its default (a Python value, or None), where declared."""

    name: str
    type: str
    default: object
    span: A.Span


@dataclass
class ParamInfo:
    name: str
    shape: Optional[A.Shape]
    init: Union[A.Init, A.ConstInit, None]
    fixed: bool
    constraints: tuple
    span: A.Span
    implicit: bool = False  # used in an equation without a `param` declaration
    fit: Optional[A.Fit] = None  # computed from data in closed form, not trained


@dataclass
class ValueInfo:
    """A value defined by an equation (`h[t] = ...`) or a continuous state (`d/dt y = ...`)."""

    name: str
    stmt: Union[A.Equation, A.ODE]
    position: int  # which target of a multi-target equation
    span: A.Span

    @property
    def ode(self) -> bool:
        return isinstance(self.stmt, A.ODE)


@dataclass(kw_only=True)
class Bound:
    """What a bound cell and a bound network share: the AST, names, the file, the doc comment, the
    hyperparameters (name -> Hyper) and the notation (name -> LaTeX, from `notation` statements)."""

    ast: object  # A.Cell or A.Network
    name: str
    file: str
    doc: Optional[str]
    hparams: dict
    notation: dict = field(default_factory=dict)

    @property
    def span(self) -> A.Span:
        return self.ast.name.span


@dataclass(kw_only=True)
class BoundCell(Bound):
    over: str  # "time", "tree" or "grid"
    index: str  # "t" or "n"
    inputs: dict  # name -> A.InputDecl
    params: dict  # name -> ParamInfo
    values: dict  # name -> ValueInfo, in equation order
    state_decls: dict  # name -> A.StateDecl
    outputs: list  # of A.Name
    free_dims: list  # dimension names bound when the cell is applied
    solver: Optional[str] = None
    step: object = None  # float, or the name of the hyperparameter giving it
    delays: dict = field(default_factory=dict)  # name -> largest delay it is read at
    arity: Optional[int] = None  # `over tree(K)`: every node has K child slots; None: any number of children
    heads: Optional[str] = None  # `heads reads`: the int hyperparameter that counts the heads

    @property
    def states(self) -> list:
        """The cell's states in the spec's order: values read at an earlier step or defined by an ODE, then
        inputs read at an earlier step."""
        states = [n for n, v in self.values.items() if v.ode or self.delays.get(n, 0) >= 1]
        return states + [n for n in self.inputs if self.delays.get(n, 0) >= 1]


@dataclass
class CellRef:
    """A cell with hyperparameter values, as a network applies it: `LSTM(units)`."""

    cell: str
    args: dict  # hyperparameter name -> Dim | float | bool | str
    returns: str
    span: A.Span


@dataclass
class Application:
    """One layer applied to values; `id` is its node in the network graph."""

    id: str
    kind: str  # "keras", "cell" or a wrapper ("Stack", "Bidirectional")
    layer: str  # Keras layer name, or the cell's name
    args: dict
    inputs: list  # value ids
    span: A.Span
    cell: Optional[CellRef] = None
    names: tuple = ()  # the names it is bound to
    initial: dict = field(default_factory=dict)  # a cell's initial states: state name -> value id
    ports: dict = field(default_factory=dict)  # with `returns=states`: state name -> value id of its final value


@dataclass
class NetInputInfo:
    name: str
    kind: str
    dtype: str
    dims: tuple  # of Dim
    span: A.Span


@dataclass(kw_only=True)
class BoundNetwork(Bound):
    inputs: dict  # name -> NetInputInfo
    apps: list  # of Application, in order
    values: dict  # bound name -> value id
    outputs: list  # of (value id, span)


@dataclass
class BoundProgram:
    file: str
    doc: Optional[str]
    cells: dict
    networks: dict
    files: list  # every file read, the main one first
    main_names: list  # names defined in the main file, in order
