"""heads: which values of a cell with heads hold one value per head, and the shape rules applied per head.

A cell that says `heads reads` has `reads` heads (the read heads of a DNC). A parameter or a
state whose declared shape begins with `reads` holds one value per head: `param W_k: [reads,
width, units]` is one `[width, units]` matrix per head. An operation with an operand that has
heads computes once per head, its operands without heads shared by every head, and gives a
value with heads: with `h: [units]`, `W_k @ h` is `[reads, width]`, head i's `W_k[i] @ h`.
The shape rules (rnndsl.lang.shape_rules) see the shapes of one head; the head axis is put
back in front of what they give. `stack_heads(x)` is the one function that reads the heads
together: the values of x's heads as one value without heads, `[reads, ...]`, which the
ordinary functions then reduce (`prod(..., axis=0)`) or flatten.

A value without a declared shape has heads when its equation does; a state with heads (a value
read at an earlier step) must be declared (`state r: [reads, width]`): an undeclared state has none.
"""

from __future__ import annotations

from .dims import Dim
from .errors import ShapeError
from .shape_rules import Operand, RuleContext
from .unify import Defer, Fail, ShapeVar, show_shape

GATHER = "stack_heads"  # the function that reads every head of a value


class HeadTyping:
    """The head flags of a cell's nodes while inference runs: declared ones at the start (parameters and
    states whose declared shape begins with the head count), an operation's once its rule has run, a value's
    its equation's. `apply` runs an operation's rule per head."""

    def __init__(self, G, count: str, shapes: dict):
        self.G = G
        self.count = count
        self.dim = Dim.sym(count)
        self.flags: dict = {}
        # A state without a declaration has no heads: its flag is needed before its equation is typed (a
        # recurrence reads it), so it cannot wait for it; `mismatches` holds the equation to it.
        self.undeclared_states = [n for n in G.header.states if G.node(n).declared is None]
        for node, rec in G.records():
            if rec.kind in ("input", "hparam", "const") or node in self.undeclared_states:
                self.flags[node] = False
            elif rec.kind == "param" or (rec.kind == "value" and rec.declared is not None):
                shape = shapes[node]
                self.flags[node] = isinstance(shape, tuple) and len(shape) > 0 and shape[0] == self.dim

    def of(self, node) -> bool:
        """Whether `node` has heads; Defer while that is not known yet (an operation not typed yet)."""
        if node in self.flags:
            return self.flags[node]
        rec = self.G.node(node)
        if rec.kind == "value":
            return self.of(self.G.definition(node)[0])
        raise Defer

    def apply(self, cx: RuleContext, rule, operands: list, attrs) -> tuple:
        """The shape the op `cx.node` gives: its rule per head where an operand has heads."""
        flags = [self.of(o.node) for o in operands]
        if cx.rec.op == GATHER:
            return self._gather(cx, operands[0], flags[0])
        if not any(flags):
            self.flags[cx.node] = False
            return rule(cx, operands, attrs)
        per_head = [self._one_head(o) if flag else o for o, flag in zip(operands, flags)]
        result = rule(cx, per_head, attrs)
        if not isinstance(result, tuple):
            raise Defer
        self.flags[cx.node] = True
        return (self.dim,) + result

    def _one_head(self, o: Operand) -> Operand:
        if not isinstance(o.shape, tuple) or not o.shape or o.shape[0] != self.dim:
            raise Defer
        return Operand(o.node, o.shape[1:], o.span, False)

    def _gather(self, cx: RuleContext, o: Operand, flag: bool) -> tuple:
        if not flag:
            cx.fail(f"`{GATHER}` reads a value with heads, and this one is the same for every head", o.span,
                    label=f"no heads: {show_shape(o.shape)}",
                    notes=[f"a value has heads when it is computed from a parameter or state whose shape begins "
                           f"with `{self.count}`"], code="E0301")
        self.flags[cx.node] = False
        if isinstance(o.shape, ShapeVar):
            raise Defer
        return o.shape

    def mismatches(self) -> list:
        """A declared state whose heads its equation does not give (or gives where it was declared without)."""
        errors = []
        for node, rec in self.G.records():
            if rec.kind != "value" or (rec.declared is None and node not in self.undeclared_states):
                continue
            source, use = self.G.definition(node)
            try:
                computed = self.of(source)
            except Defer:
                continue
            if node in self.undeclared_states and computed:
                errors.append(ShapeError(
                    f"`{node}` is a state with heads: a state with heads must be declared", use.span,
                    label="one value per head",
                    notes=[f"declare it: `state {node}: [{self.count}, ...]`: its earlier steps are read "
                           f"before its equation says it has heads"], code="E0302"))
            elif computed != self.flags[node]:
                said = f"with heads ([{self.count}, ...])" if self.flags[node] else "without heads"
                gives = "one value per head" if computed else "one value for all heads"
                errors.append(ShapeError(
                    f"`{node}` is declared {said}, but its equation gives {gives}", use.span,
                    label=gives, notes=[f"`{node}` is declared at {rec.declared_at}"], code="E0302"))
        return errors


def no_heads_rule(cx: RuleContext, ops: list, attrs: dict):
    """`stack_heads` in a cell without heads."""
    raise Fail(ShapeError(f"`{GATHER}` in a cell without heads", cx.span, label="no `heads` statement",
                          notes=["a cell's heads are counted by `heads NAME`, NAME an int hyperparameter"],
                          code="E0301"))
