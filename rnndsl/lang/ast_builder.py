"""ast_builder: Lark's parse tree -> `rnndsl.lang.ast` nodes, each with its span.

One method per grammar rule (grammar/rnndsl.lark), named after it; strings are
unquoted here, with their escapes (`\\n`, `\\t`, `\\"`, `\\\\`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from lark import Token, Transformer, v_args

from . import ast as A
from .lark_grammar import Origin


@v_args(meta=True)
class ASTBuilder(Transformer):
    """Builds `rnndsl.lang.ast` nodes from Lark's parse tree, with spans."""

    def __init__(self, origin: Origin):
        super().__init__()
        self.origin = origin

    def _s(self, meta) -> A.Span:
        return self.origin.node_span(meta) if not meta.empty else A.NO_SPAN

    def _name(self, tok: Token) -> A.Name:
        return A.Name(str(tok), self.origin.token_span(tok))

    # ---- module

    def start(self, meta, children):
        doc, items = self._body(children)
        return A.Module(items, doc, self._s(meta))

    def docstring(self, meta, children):
        return _Doc(_unquote(str(children[0])))

    def import_stmt(self, meta, children):
        tok = children[0]
        return A.Import(A.String(_unquote(str(tok)), self.origin.token_span(tok)), self._s(meta))

    def _body(self, children):
        """Split the optional docstring (`[docstring]`, None when absent) off a block; a schedule block's
        equations (a tuple) stand in the body one by one."""
        first, *body = children
        flat = [s for stmt in body for s in (stmt if isinstance(stmt, tuple) else (stmt,))]
        return (first.text if first is not None else None), tuple(flat)

    def cell(self, meta, children):
        name, hparams, over, solver, *rest = children
        doc, body = self._body(rest)
        return A.Cell(self._name(name), hparams or (), over, solver, doc, body, self._s(meta))

    def network(self, meta, children):
        name, hparams, *rest = children
        doc, body = self._body(rest)
        return A.Network(self._name(name), hparams or (), doc, body, self._s(meta))

    def hparams(self, meta, children):
        return tuple(c for c in children if c is not None)

    def hparam(self, meta, children):
        name, typ, default = children
        return A.HyperParam(self._name(name), self._name(typ), default, self._s(meta))

    def _named_call(self, kind, meta, children) -> A.NamedCall:
        """`name` or `name(args)`: a Domain, Solver, Fit, Init or Constraint."""
        name, args = children
        return kind(self._name(name), args or (), self._s(meta))

    def cell_over(self, meta, children):
        return self._named_call(A.Domain, meta, children)

    def cell_solver(self, meta, children):
        return self._named_call(A.Solver, meta, children)

    # ---- cell statements

    def names(self, meta, children):
        return tuple(self._name(t) for t in children)

    def shape(self, meta, children):
        return A.Shape(tuple(c for c in children if c is not None), self._s(meta))

    def input_decl(self, meta, children):
        names, shape = children
        return A.InputDecl(names, shape, self._s(meta))

    def param_decl(self, meta, children):
        names, shape, init, fixed, fit, constraints = children
        return A.ParamDecl(names, shape, init, fixed is not None, constraints or (), fit, self._s(meta))

    def fit(self, meta, children):
        return self._named_call(A.Fit, meta, children)

    def init_dist(self, meta, children):
        return self._named_call(A.Init, meta, children)

    def init_const(self, meta, children):
        return A.ConstInit(children[0], self._s(meta))

    def constraints(self, meta, children):
        return tuple(children)

    def constraint(self, meta, children):
        return self._named_call(A.Constraint, meta, children)

    def state_decl(self, meta, children):
        name, shape, init = children
        return A.StateDecl(self._name(name), shape, init, self._s(meta))

    def output_decl(self, meta, children):
        return A.OutputDecl(children[0], self._s(meta))

    def equation(self, meta, children):
        *targets, value, schedule = children
        return A.Equation(tuple(targets), value, schedule, span=self._s(meta))

    def schedule_block(self, meta, children):
        """`every 4 { ... }`: its equations, each on the block's schedule (where it has none of its own,
        which resolve refuses)."""
        schedule, *equations = children
        return tuple(replace(e, schedule=e.schedule or schedule, block=schedule) for e in equations)

    def schedule(self, meta, children):
        word, value = children
        return A.Schedule(str(word), value, self._s(meta))

    def index(self, meta, children):
        """One index expression, or a grid Position of several."""
        return children[0] if len(children) == 1 else A.Position(tuple(children), self._s(meta))

    def target(self, meta, children):
        name, index = children
        return A.Target(self._name(name), index, self._s(meta))

    def ode(self, meta, children):
        _, name, value = children
        return A.ODE(self._name(name), value, self._s(meta))

    def notation_decl(self, meta, children):
        word, name, latex = children
        return A.Notation(self._name(name), A.String(_unquote(str(latex)), self.origin.token_span(latex)),
                          self._name(word), self._s(meta))

    def heads_decl(self, meta, children):
        word, name = children
        return A.Heads(self._name(name), self._name(word), self._s(meta))

    # ---- network statements

    def net_input(self, meta, children):
        names, typ = children
        return A.NetInput(names, typ, self._s(meta))

    def type(self, meta, children):
        kind, *items = children
        return A.TypeExpr(self._name(kind), tuple(i for i in items if i is not None), self._s(meta))

    def net_bind(self, meta, children):
        names, value = children
        return A.Bind(names, value, self._s(meta))

    def net_output(self, meta, children):
        return A.NetOutput(tuple(children), self._s(meta))

    def train_block(self, meta, children):
        word, *settings = children
        return A.Train(tuple(settings), self._name(word), self._s(meta))

    def train_setting(self, meta, children):
        name, *values = children
        return A.TrainSetting(self._name(name), tuple(values), self._s(meta))

    # ---- expressions

    def chain(self, meta, children):
        left, right = children
        return A.BinOp(">>", left, right, self._s(meta))

    def compare(self, meta, children):
        left, op, right = children
        return A.BinOp(str(op), left, right, self._s(meta))

    def binop(self, meta, children):
        left, op, right = children
        return A.BinOp(str(op), left, right, self._s(meta))

    def power(self, meta, children):
        left, right = children
        return A.BinOp("**", left, right, self._s(meta))

    def unary(self, meta, children):
        op, operand = children
        return A.UnaryOp(str(op), operand, self._s(meta))

    def indexed(self, meta, children):
        name, index = children
        return A.Indexed(self._name(name), index, self._s(meta))

    def call(self, meta, children):
        func, args = children
        if isinstance(args, A.Generator):
            return A.Call(func, (), args, self._s(meta))
        return A.Call(func, args, None, self._s(meta))

    def call_args(self, meta, children):
        return tuple(c for c in children if c is not None)

    def generator_args(self, meta, children):
        body, var, _in, source, node = children
        return A.Generator(body, self._name(var), self._name(source), self._name(node), self._s(meta))

    def pos_arg(self, meta, children):
        return A.Arg(children[0], None, self._s(meta))

    def kw_arg(self, meta, children):
        name, value = children
        return A.Arg(value, self._name(name), self._s(meta))

    def number(self, meta, children):
        tok = children[0]
        text = str(tok)
        # A number out of range is an error already (E0121, from the lexer); the tree is still
        # built, for `fmt` and for the errors further on, with a value that does not crash.
        value = int(text) if text.isdigit() and len(text) <= 19 else float(text)
        return A.Number(value, text, self.origin.token_span(tok))

    def vector(self, meta, children):
        return A.Vector(tuple(children), self._s(meta))

    def name(self, meta, children):
        return self._name(children[0])

    def in_name(self, meta, children):
        return self._name(children[0])

    def string(self, meta, children):
        tok = children[0]
        return A.String(_unquote(str(tok)), self.origin.token_span(tok))


@dataclass(frozen=True)
class _Doc:
    text: str


def _unquote(s: str) -> str:
    body = s[3:-3] if s.startswith('"""') else s[1:-1]
    out, i = [], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            out.append({"n": "\n", "t": "\t", '"': '"', "\\": "\\"}.get(nxt, "\\" + nxt))
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)
