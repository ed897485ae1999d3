"""ir: the typed IR, one NetworkX graph per cell and per network with a frozen record on every node and edge.

A cell is a `CellIR`: a `MultiDiGraph` of one step whose nodes each hold one record
(`InputNode`, `ParamNode`, `HparamNode`, `ConstNode`, `OpNode`, `ValueNode`) and whose
edges each hold a `Use` (an operand read by its user), under a `CellHeader` (name,
index, states and their delays, outputs, hyperparameters; after inference the
`CellSignature`). A network is a `NetworkIR`: nodes `NetInputNode`, `LayerNode`,
`StateNode`, `OutputNode`, edges `Flow`, under a `NetworkHeader`.

Records are frozen: a pass that changes one makes a new graph (`copy()`) and puts a new
record there (`replace_node`), so the graph it was given stays as it was. The graph is
NetworkX so that its algorithms apply (`nx.topological_sort(ir)`); what a node *is*
comes only from `ir.node(n)`, what an edge is from `ir.operands(n)` / `ir.uses()`.

    ir.header.states          # ("h", "c")
    ir.node("W").shape        # (units, in), after infer
    for src, use in ir.operands("%3"): use.arg, use.delay

Shapes are tuples of `Dim`, None before inference (or where it failed). In a cell with heads
(`heads reads`), a node whose `heads` is true holds one value per head: its shape begins with
the head axis, and the operation computes per head (rnndsl.lang.heads).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from functools import lru_cache
from types import MappingProxyType
from typing import ClassVar, Iterator, Mapping, Optional

import networkx as nx

from . import ast as A

_RECORD = "ir"  # the one attribute a node or an edge of the graph holds

EMPTY: Mapping = MappingProxyType({})


def frozen_map(items=()) -> Mapping:
    """A read-only mapping, for a record's tables."""
    return MappingProxyType(dict(items))


def _empty():
    return field(default_factory=lambda: EMPTY)


# ---------------------------------------------------------------- cell records


@dataclass(frozen=True, kw_only=True)
class Node:
    """What every node has: where it is written, its label, and after inference its shape and dtype."""

    kind: ClassVar[str] = ""
    span: A.Span
    label: str
    shape: Optional[tuple] = None  # of Dim; None before inference
    dtype: Optional[str] = None  # "float", "bool" or "str"; None before inference
    heads: bool = False  # after inference: one value per head, the heads the first axis of `shape`


@dataclass(frozen=True, kw_only=True)
class InputNode(Node):
    """`input x: [in]`: one step's input; `declared` is its shape as written."""

    kind: ClassVar[str] = "input"
    declared: Optional[A.Shape] = None


@dataclass(frozen=True, kw_only=True)
class ParamNode(Node):
    """`param W: [units, in] ~ orthogonal`: a trained (or fixed, or fitted) parameter."""

    kind: ClassVar[str] = "param"
    declared: Optional[A.Shape] = None
    init: object = None  # A.Init (`~ name(args)`), A.ConstInit (`= 0`) or None (the default)
    constraints: tuple = ()  # of A.Constraint, applied after each update
    fixed: bool = False
    implicit: bool = False  # used in an equation without a `param` declaration
    fit: Optional[A.Fit] = None  # computed from data in closed form, not trained


@dataclass(frozen=True, kw_only=True)
class HparamNode(Node):
    """A hyperparameter read as a number in an equation; `type` is "int", "float", "bool" or "str"."""

    kind: ClassVar[str] = "hparam"
    type: str = "float"


@dataclass(frozen=True, kw_only=True)
class ConstNode(Node):
    """A literal: a number, `true` or `false`; or a vector literal, a tuple of numbers and names of numeric
    hyperparameters."""

    kind: ClassVar[str] = "const"
    value: object = 0


@dataclass(frozen=True, kw_only=True)
class OpNode(Node):
    """An operation: an operator ("add", "matmul", "lt", ...), a registered function, or
    `children.<reduction>` over a tree node's children; `attrs` its constant arguments
    ({"axis": -1}); `per_child` for an operation computed once per child inside such a reduction."""

    kind: ClassVar[str] = "op"
    op: str
    attrs: Mapping = _empty()
    per_child: bool = False


@dataclass(frozen=True, kw_only=True)
class ValueNode(Node):
    """A value defined by an equation or an ODE. A state is read at an earlier step (`delay`, the largest
    read) or integrated (`ode`); `init` is its initial value: 0, a number, a name, or an expression."""

    kind: ClassVar[str] = "value"
    declared: Optional[A.Shape] = None  # from a `state` declaration
    declared_at: Optional[A.Span] = None  # where that declaration is
    ode: bool = False
    state: bool = False
    delay: int = 0
    init: object = 0


@dataclass(frozen=True, kw_only=True)
class Use:
    """An edge: `arg`-th operand of its user, read `delay` steps back (`h[t-1]`: 1) or from a child;
    the edge into a value is its definition (`role="def"`, `index`: which piece of a `split`)."""

    arg: int
    span: A.Span
    delay: int = 0
    child: bool = False
    role: Optional[str] = None
    index: Optional[int] = None
    slot: Optional[int] = None  # a child read by position, `h[child(n, 1)]`: 1 (`child` is True)
    offset: Optional[tuple] = None  # a grid cell's read at an earlier position, `h[i-1, j]`: (-1, 0); delay 1

    @property
    def defines(self) -> bool:
        return self.role == "def"


@dataclass(frozen=True)
class CellSignature:
    """A typed cell's interface: name -> shape for its inputs, parameters, states and outputs, in order."""

    inputs: Mapping
    params: Mapping
    states: Mapping
    outputs: Mapping

    def as_dict(self) -> dict:
        """{"inputs": {name: shape}, "params": ..., "states": ..., "outputs": ...}, as the Python API shows it."""
        return {part: dict(getattr(self, part)) for part in ("inputs", "params", "states", "outputs")}


@dataclass(frozen=True, kw_only=True)
class Header:
    """What a cell or a network is beside its graph."""

    kind: ClassVar[str] = ""
    name: str
    file: str
    span: A.Span
    doc: Optional[str] = None
    hparams: Mapping = _empty()  # name -> bound.Hyper
    outputs: tuple = ()  # the output values (a cell) or output nodes (a network), in order
    notation: Mapping = _empty()  # name -> LaTeX, from `notation` statements
    written: object = None  # the A.Cell or A.Network as written, for the back ends that typeset it so (LaTeX)


@dataclass(frozen=True, kw_only=True)
class CellHeader(Header):
    kind: ClassVar[str] = "cell"
    over: str = "time"  # "time" or "tree"
    index: str = "t"  # "t" or "n"
    solver: Optional[str] = None  # for continuous states
    step: object = None  # the solver's step: a number or a hyperparameter's name
    free_dims: tuple = ()  # dimension names bound when the cell is applied (`in`)
    arity: Optional[int] = None  # `over tree(K)`: K child slots per node; None: any number of children
    states: tuple = ()  # in the spec's order
    delays: Mapping = _empty()  # name -> the largest delay it is read at
    heads: Optional[str] = None  # `heads reads`: the int hyperparameter that counts the heads
    signature: Optional[CellSignature] = None  # after inference, None where it failed


# ---------------------------------------------------------------- network records


@dataclass(frozen=True, kw_only=True)
class NetNode:
    """What every network node has; `type` (a `layers.NetType`) after inference."""

    kind: ClassVar[str] = ""
    span: A.Span
    label: str
    type: object = None


@dataclass(frozen=True, kw_only=True)
class NetInputNode(NetNode):
    """A network input; `info` its declared kind, dtype and dims."""

    kind: ClassVar[str] = "input"
    info: object  # bound.NetInputInfo


@dataclass(frozen=True, kw_only=True)
class LayerNode(NetNode):
    """A layer applied; after inference `instances`: each cell it applies, as `(cell, {symbol: Dim})`."""

    kind: ClassVar[str] = "layer"
    app: object  # bound.Application
    instances: tuple = ()


@dataclass(frozen=True, kw_only=True)
class StateNode(NetNode):
    """The final value of state `state` of the cell applied by `app` (`returns=states`)."""

    kind: ClassVar[str] = "state"
    app: object
    state: str


@dataclass(frozen=True, kw_only=True)
class OutputNode(NetNode):
    kind: ClassVar[str] = "output"


@dataclass(frozen=True, kw_only=True)
class Flow:
    """A network edge: into a layer as its `arg`-th input or as initial `state`, or a final state out of it."""

    span: A.Span
    arg: Optional[int] = None
    state: Optional[str] = None
    type: object = None  # the value's NetType, after inference


@dataclass(frozen=True, kw_only=True)
class NetworkHeader(Header):
    kind: ClassVar[str] = "network"
    values: Mapping = _empty()  # bound name -> the node that gives it
    train: Optional[A.Train] = None  # the train block, evaluated with values when a run starts


# ---------------------------------------------------------------- the graphs


class _IR(nx.MultiDiGraph):
    """A graph whose nodes and edges each hold one record; its header in `header`."""

    @property
    def header(self):
        return self.graph["header"]

    @property
    def kind(self) -> str:
        return self.header.kind

    @property
    def name(self) -> str:
        return self.header.name

    def node(self, n):
        """The record of node `n`."""
        return self._node[n][_RECORD]  # NetworkX's own table: `self.nodes[n]` builds a view each call

    def records(self) -> Iterator:
        """(node, record) for every node, in the order they were added."""
        return ((n, d[_RECORD]) for n, d in self.nodes(data=True))

    def of_kind(self, kind: str) -> list:
        return [n for n, rec in self.records() if rec.kind == kind]

    def uses(self) -> Iterator:
        """(source, user, edge record) for every edge."""
        return ((u, v, d[_RECORD]) for u, v, d in self.edges(data=True))

    def use(self, u, v, key=0):
        """The record of edge `key` from `u` to `v`."""
        return self.edges[u, v, key][_RECORD]

    def operands(self, n) -> list:
        """[(operand node, edge record)] of `n`, in argument order."""
        # NetworkX's own tables (`_pred`, `_succ`), not its views: the type checker asks for
        # the operands of every op, and a view costs more than the lookup.
        edges = [(u, d[_RECORD]) for u, keyed in self._pred[n].items() for d in keyed.values()]
        if len(edges) > 1:
            edges.sort(key=_arg_order)
        return edges

    def users(self, n) -> list:
        """[(user node, edge record)] of `n`."""
        return [(v, d[_RECORD]) for v, keyed in self._succ[n].items() for d in keyed.values()]

    # ---- building (the graph pass, and a pass making its new graph)

    def add(self, n, record) -> None:
        self.add_node(n, **{_RECORD: record})

    def connect(self, u, v, record) -> None:
        self.add_edge(u, v, **{_RECORD: record})

    def replace_node(self, n, **changes) -> None:
        """Put a changed copy of `n`'s record in its place (on a graph this pass made)."""
        self._node[n][_RECORD] = changed(self.node(n), changes)

    def replace_edges(self, changed) -> None:
        """`changed(u, v, record)` -> a new record, or None to keep the edge's."""
        for u, v, d in self.edges(data=True):
            new = changed(u, v, d[_RECORD])
            if new is not None:
                d[_RECORD] = new

    def set_header(self, header) -> None:
        self.graph["header"] = header

    def with_header(self, **changes) -> None:
        self.graph["header"] = replace(self.header, **changes)


def changed(record, changes: dict):
    """`dataclasses.replace(record, **changes)` for the IR's records, which have no `__post_init__`, without
    running `__init__` again: inference replaces every node's record, and this is the cost of typing a cell."""
    unknown = changes.keys() - _field_names(type(record))
    if unknown:
        raise TypeError(f"{type(record).__name__} has no field {sorted(unknown)[0]!r}")
    new = object.__new__(type(record))
    new.__dict__.update(record.__dict__)
    new.__dict__.update(changes)
    return new


@lru_cache(maxsize=None)
def _field_names(cls) -> frozenset:
    return frozenset(f.name for f in fields(cls))


def _arg_order(edge) -> tuple:
    """Positional operands first, by position; then initial states into a layer, by name."""
    use = edge[1]
    arg = getattr(use, "arg", None)
    return (arg is None, arg if arg is not None else 0, getattr(use, "state", None) or "")


class CellIR(_IR):
    """One step of a cell (see the module's docstring)."""

    def definition(self, value) -> tuple:
        """(source node, Use) of the edge that defines `value`."""
        return next((u, use) for u, use in self.operands(value) if use.defines)

    def shape(self, n) -> Optional[tuple]:
        return self.node(n).shape

    def integrated(self, n) -> bool:
        """Whether `n` is a continuous state (`d/dt y = ...`): read at any step, the solver's to advance."""
        rec = self.node(n)
        return rec.kind == "value" and rec.ode

    @property
    def signature(self) -> Optional[CellSignature]:
        return self.header.signature


class NetworkIR(_IR):
    """A network of layer applications (see the module's docstring)."""

    def layers(self) -> list:
        """(node, LayerNode) of every layer application, in the order they are applied."""
        return [(n, rec) for n, rec in self.records() if rec.kind == "layer"]


__all__ = [
    "CellHeader", "Header", "CellIR", "CellSignature", "ConstNode", "EMPTY", "Flow", "HparamNode", "InputNode",
    "LayerNode", "NetInputNode", "NetNode", "NetworkHeader", "NetworkIR", "Node", "OpNode", "OutputNode",
    "ParamNode", "StateNode", "Use", "ValueNode", "frozen_map",
]
