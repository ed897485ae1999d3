"""fmt: the canonical layout of a `.rnn` file, with its comments kept.

`format_text(text)` parses the file, prints its AST in one fixed style and puts
the comments back; `check(text)` says whether a file is already in that style.
Formatting is idempotent, and the formatted text parses to an AST equal to the
original's (spans aside).

The style:

- 4 spaces of indentation; one statement a line; long lines are not wrapped;
- one space around binary operators (`W @ x[t] + b`), except inside an index
  and in shape and type dimensions, which are written tight: `h[t-1]`,
  `[2*units, in]`, `seq[2*units]`; `, ` after commas; `axis=0` in calls; a
  hyperparameter's default with spaces: `(units: int, forget_bias: float = 1.0)`;
- the fewest parentheses that keep the tree: `a - (b - c)`, `a - b - c`,
  `(-x) ** 2`, `-x ** 2`; a sign in front of a sign is parenthesised, `-(-x)`;
  and an element-wise product inside a matrix product, or the other way round,
  keeps its parentheses, `(M * U) @ h`, `(W @ x) * g`, though they bind equally;
- numbers as written; strings re-quoted with `"` (escaping `\\`, `"`, tab and
  newline); a docstring with several lines is printed between `\"\"\"`;
- empty parentheses are left out: `cell A {`, `~ orthogonal`;
- blank lines: at most one where the source had one or more, none after `{` or
  before `}`; exactly one between top-level items and after the file's
  docstring (between two imports, as in the source); the file ends with one
  newline.

Comments: an own-line comment is printed, at the indentation of its block,
before the statement or item that follows it (one inside a statement that
spans several lines goes before that statement; one after the last statement
of a block stays at the end of the block, before `}`; one after the last item
stays at the end of the file). A trailing comment stays at the end of the line
of the statement, header, docstring or `}` it was on; several trailing comments
of one multi-line statement are joined on its single line.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from typing import Optional

from . import ast as A
from .errors import SpecErrors
from .parse import parse_file
from .tokens import lex  # the tokens of `{`, `}` and docstrings, which have no node

__all__ = ["format_text", "check", "format_expr", "format_stmt"]

INDENT = "    "


def format_text(text: str, file: str = "<string>") -> str:
    """The canonical text of the `.rnn` source `text` (named `file` in diagnostics).

    Raises `SpecErrors` with every syntax error when `text` does not parse.
    An empty file (no items, no comments) gives "".
    """
    parsed = parse_file(text, file)
    if parsed.errors:
        raise SpecErrors(parsed.errors)
    tokens = [t for t in lex(text, file)[0] if t.type != "_NL"]
    return _Printer(parsed.module, parsed.comments, tokens).run()


def check(text: str, file: str = "<string>") -> bool:
    """True when `text` is already formatted (`format_text(text) == text`).

    Raises `SpecErrors` when `text` does not parse.
    """
    return format_text(text, file) == text


# ---------------------------------------------------------------- expressions

# Precedence levels, loosest first (the grammar's `chain` ... `atom`).
_CHAIN, _COMPARE, _SUM, _PRODUCT, _UNARY, _POWER, _POSTFIX, _ATOM = range(1, 9)
_COMPARISONS = frozenset({"<", "<=", ">", ">=", "==", "!="})
_LEVEL_OF_OP = {">>": _CHAIN, "+": _SUM, "-": _SUM, "*": _PRODUCT, "/": _PRODUCT, "@": _PRODUCT,
                "**": _POWER, **{op: _COMPARE for op in _COMPARISONS}}
# For each binary level: the loosest level its left and right operands may have
# without parentheses. `a < b < c` does not parse: comparisons do not chain.
_OPERANDS = {
    _CHAIN: (_CHAIN, _COMPARE),
    _COMPARE: (_SUM, _SUM),
    _SUM: (_SUM, _PRODUCT),
    _PRODUCT: (_PRODUCT, _UNARY),
    _POWER: (_POSTFIX, _UNARY),
}


def _level(e) -> int:
    if isinstance(e, A.BinOp):
        try:
            return _LEVEL_OF_OP[e.op]
        except KeyError:
            raise ValueError(f"fmt: unknown binary operator {e.op!r}") from None
    if isinstance(e, A.UnaryOp):
        return _UNARY
    if isinstance(e, (A.Call, A.Indexed)):
        return _POSTFIX
    return _ATOM


def format_expr(e, tight: bool = False) -> str:
    """The text of expression `e`: spaces around binary operators, or none when `tight`."""
    if isinstance(e, A.Number):
        return e.text or repr(e.value)
    if isinstance(e, A.String):
        return _quote(e.value)
    if isinstance(e, A.Name):
        return e.id
    if isinstance(e, A.Indexed):
        return f"{e.name.id}[{format_expr(e.index, tight=True)}]"
    if isinstance(e, A.Position):
        return ", ".join(format_expr(item, tight) for item in e.items)
    if isinstance(e, A.Call):
        func = _operand(e.func, _POSTFIX, tight)
        if e.generator is not None:
            g = e.generator
            return (f"{func}({format_expr(g.body, tight)} for {g.var.id} "
                    f"in {g.source.id}({g.node.id}))")
        return f"{func}({_args(e.args, tight)})"
    if isinstance(e, A.UnaryOp):
        operand = format_expr(e.operand, tight)
        if _level(e.operand) < _UNARY or isinstance(e.operand, A.UnaryOp):
            operand = f"({operand})"
        return f"{e.op}{operand}"
    if isinstance(e, A.BinOp):
        level = _level(e)
        left_min, right_min = _OPERANDS[level]
        left = _operand(e.left, left_min, tight)
        if _mixes_products(e.op, e.left):
            left = f"({left})"
        right = _operand(e.right, right_min, tight)
        if tight and not _makes_ddt(left, e.op, right):
            return f"{left}{e.op}{right}"
        return f"{left} {e.op} {right}"
    if isinstance(e, A.Vector):
        return "[" + ", ".join(format_expr(item, tight) for item in e.items) + "]"
    raise TypeError(f"fmt: not an expression: {type(e).__name__}")


def _mixes_products(op: str, left) -> bool:
    """Whether a product's left operand is a product of the other kind: `(M * U) @ h`, `(W @ x) * g`.

    `*`, `/` and `@` bind equally, left first, so the parentheses are not needed; they are kept
    because a reader takes `M * U @ h` for `M * (U @ h)`."""
    return (isinstance(left, A.BinOp) and _LEVEL_OF_OP.get(op) == _PRODUCT
            and _LEVEL_OF_OP.get(left.op) == _PRODUCT and (op == "@") != (left.op == "@"))


def _makes_ddt(left: str, op: str, right: str) -> bool:
    """Whether `left/right` written tight would lex as the token `d/dt` (as in `d/dt y`)."""
    return (op == "/" and right.startswith("dt") and left.endswith("d")
            and (len(left) == 1 or not (left[-2].isalnum() or left[-2] == "_")))


def _operand(e, min_level: int, tight: bool) -> str:
    text = format_expr(e, tight)
    return f"({text})" if _level(e) < min_level else text


def _args(args, tight: bool = False) -> str:
    return ", ".join(_arg(a, tight) for a in args)


def _arg(a: A.Arg, tight: bool = False) -> str:
    value = format_expr(a.value, tight)
    return f"{a.name.id}={value}" if a.name is not None else value


def named_call(item) -> str:
    """`name(args)` for a solver, initializer, fit or constraint; `name` alone when it has no arguments."""
    return item.name.id + (f"({_args(item.args)})" if item.args else "")


def _quote(value: str, doc: bool = False) -> str:
    """A string literal whose value is `value`; a docstring of several lines in triple quotes.

    Backslash and tab are always escaped; `"` is escaped in a plain string, and
    in a triple-quoted one only where it would end the string early (before two
    more quotes). A docstring with trailing blanks on a line is written on one
    line with `\\n` escapes, so that the output has no trailing whitespace.
    """
    lines = value.split("\n")
    if doc and len(lines) > 1 and not any(line != line.rstrip() for line in lines[:-1]):
        pieces = []
        after = '"""'  # the text that follows, right to left: whether a `"` needs `\\`
        for ch in reversed(value):
            if ch == '"':
                piece = '\\"' if after.startswith('""') else '"'
            else:
                piece = ch if ch == "\n" else _ESCAPES.get(ch, ch)
            pieces.append(piece)
            after = (piece + after)[:2]
        return '"""' + "".join(reversed(pieces)) + '"""'
    return '"' + "".join(_ESCAPES.get(ch, ch) for ch in value) + '"'


_ESCAPES = {"\\": "\\\\", '"': '\\"', "\t": "\\t", "\n": "\\n"}


def _dims(items) -> str:
    return ", ".join(format_expr(d, tight=True) for d in items)


def _names(names) -> str:
    return ", ".join(n.id for n in names)


# ---------------------------------------------------------------- statements


def _param(s: A.ParamDecl) -> str:
    text = f"param {_names(s.names)}"
    if s.shape is not None:
        text += f": [{_dims(s.shape.dims)}]"
    if isinstance(s.init, A.Init):
        text += f" ~ {named_call(s.init)}"
    elif isinstance(s.init, A.ConstInit):
        text += f" = {format_expr(s.init.value)}"
    if s.fixed:
        text += " fixed"
    if s.fit is not None:
        text += f" fit {named_call(s.fit)}"
    if s.constraints:
        text += " constrain " + ", ".join(named_call(c) for c in s.constraints)
    return text


def _equation(s: A.Equation) -> str:
    targets = ", ".join(f"{t.name.id}[{format_expr(t.index, tight=True)}]" for t in s.targets)
    own = s.schedule is not None and s.schedule is not s.block  # a block's is written on the block
    schedule = f" {s.schedule.kind} {format_expr(s.schedule.value)}" if own else ""
    return f"{targets} = {format_expr(s.value)}{schedule}"


# Each statement's form, by its AST class; `notation` and `heads` keep the word written (resolve rejects
# another word, and fmt never changes what a spec says).
_STATEMENTS = {
    A.InputDecl: lambda s: f"input {_names(s.names)}: [{_dims(s.shape.dims)}]",
    A.ParamDecl: _param,
    A.StateDecl: lambda s: _present(f"state {s.name.id}", s.shape and f": [{_dims(s.shape.dims)}]",
                                    s.init is not None and f" = {format_expr(s.init)}"),
    A.OutputDecl: lambda s: f"output {_names(s.names)}",
    A.Equation: _equation,
    A.ODE: lambda s: f"d/dt {s.name.id} = {format_expr(s.value)}",
    A.Notation: lambda s: f"{s.word.id if s.word else 'notation'} {s.name.id} = {format_expr(s.latex)}",
    A.Heads: lambda s: f"{s.word.id if s.word else 'heads'} {s.name.id}",
    A.NetInput: lambda s: f"input {_names(s.names)}: {s.type.kind.id}[{_dims(s.type.items)}]",
    A.Bind: lambda s: f"{_names(s.names)} = {format_expr(s.value)}",
    A.NetOutput: lambda s: "output " + ", ".join(format_expr(v) for v in s.values),
}


def format_stmt(s) -> str:
    """One statement of a cell or network body, on one line, without indentation."""
    form = _STATEMENTS.get(type(s))
    if form is None:
        raise TypeError(f"fmt: not a statement: {type(s).__name__}")
    return form(s)


def _hparams(hparams) -> str:
    if not hparams:
        return ""
    parts = []
    for h in hparams:
        part = f"{h.name.id}: {h.type.id}"
        if h.default is not None:
            part += f" = {format_expr(h.default)}"
        parts.append(part)
    return "(" + ", ".join(parts) + ")"


def _header(item) -> str:
    if isinstance(item, A.Cell):
        return _present(f"cell {item.name.id}{_hparams(item.hparams)}", item.over and f" over {named_call(item.over)}",
                        item.solver and f" solver {named_call(item.solver)}", " {")
    return f"network {item.name.id}{_hparams(item.hparams)} {{"


def _present(*parts) -> str:
    """The parts given (a part left out is None or False), one after another."""
    return "".join(p for p in parts if p)


# ---------------------------------------------------------------- layout and comments


@dataclass
class _Anchor:
    """A printed unit that comments attach to: a statement, a header, a docstring, a `}`.

    `start` and `end` are its source positions (line, column), `end` exclusive;
    `last_line` is its last source line. `lines` are its printed lines: the
    first is indented, the rest (inside a docstring) are printed as they are.
    """

    start: tuple
    end: tuple
    last_line: int
    lines: list
    indent: str
    # How the first printed line (first leading comment, or the anchor itself)
    # is separated from what comes before: "none", "keep" (a blank line where
    # the source has one) or "one".
    policy: str
    kind: str = "stmt"  # "stmt", "import", "item", "doc", "close", "eof"
    # The policy of the first leading comment, where it differs from `policy`
    # (a `}`: its comments end the block, the `}` itself never has a blank before it).
    comment_policy: Optional[str] = None
    # The indentation of its leading comments, where it differs from `indent` (a `}`: its block's).
    comment_indent: Optional[str] = None
    leading: list = field(default_factory=list)
    trailing: list = field(default_factory=list)


def _pos_of(tok) -> tuple:
    return (tok.line, tok.column)


def _end_of(tok) -> tuple:
    return (tok.end_line, tok.end_column)


def _last_line(span: A.Span) -> int:
    """The last source line with text of a span that may end with its newline."""
    if span.end_column == 1 and span.end_line > span.line:
        return span.end_line - 1
    return span.end_line


class _Printer:
    def __init__(self, module: A.Module, comments, tokens):
        self.module = module
        self.comments = comments
        self.tokens = tokens
        self.positions = [_pos_of(t) for t in tokens]
        self.out: list[str] = []
        self.prev_line: Optional[int] = None

    # ---- finding tokens the AST has no node for: `{`, `}`, docstrings

    def _index(self, pos: tuple) -> int:
        return bisect_left(self.positions, pos)

    def _next(self, i: int, kind: str) -> int:
        while self.tokens[i].type != kind:
            i += 1
        return i

    def _token_anchor(self, tok, lines, indent, policy, kind) -> _Anchor:
        return _Anchor(_pos_of(tok), _end_of(tok), tok.end_line, lines, indent, policy, kind)

    # ---- anchors in source order

    def _anchors(self) -> list:
        anchors: list[_Anchor] = []
        m = self.module
        if m.doc is not None:
            anchors.append(self._token_anchor(self.tokens[0], _quote(m.doc, doc=True).split("\n"),
                                              "", "top", "doc"))
        for item in m.items:
            s = item.span
            if isinstance(item, A.Import):
                anchors.append(_Anchor((s.line, s.column), (s.end_line, s.end_column), _last_line(s),
                                       [f"import {_quote(item.path.value)}"], "", "top", "import"))
                continue
            i = self._next(self._index((s.line, s.column)), "LBRACE")
            brace = self.tokens[i]
            anchors.append(_Anchor((s.line, s.column), _end_of(brace), brace.line,
                                   [_header(item)], "", "top", "item"))
            policy = "none"
            if item.doc is not None:
                doc = self.tokens[i + 1]
                anchors.append(self._token_anchor(doc, _quote(item.doc, doc=True).split("\n"),
                                                  INDENT, policy, "doc"))
                policy = "keep"
            block = None  # the schedule block whose equations are being written
            for stmt in item.body:
                if isinstance(stmt, A.Train):
                    anchors += self._train_anchors(stmt, policy)
                    policy = "keep"
                    continue
                inner = getattr(stmt, "block", None)
                if block is not None and inner is not block:
                    anchors.append(self._close_anchor(anchors[-1], INDENT))
                if inner is not None and inner is not block:
                    anchors.append(self._block_anchor(inner, policy))
                    policy = "none"
                block = inner
                if block is not None:
                    b = stmt.span
                    anchors.append(_Anchor((b.line, b.column), (b.end_line, b.end_column), _last_line(b),
                                           [format_stmt(stmt)], INDENT * 2, policy))
                    policy = "keep"
                    continue
                b = stmt.span
                anchors.append(_Anchor((b.line, b.column), (b.end_line, b.end_column), _last_line(b),
                                       [format_stmt(stmt)], INDENT, policy))
                policy = "keep"
            if block is not None:
                anchors.append(self._close_anchor(anchors[-1], INDENT))
            last = anchors[-1]  # after a train block's `}`, the network's is the next one
            close = self.tokens[self._next(self._index(last.end if last.kind == "close" else last.start), "RBRACE")]
            anchor = self._token_anchor(close, ["}"], "", "none", "close")
            anchor.comment_policy = policy  # end-of-block comments follow the block's last line
            anchors.append(anchor)
        return anchors

    def _block_anchor(self, schedule: A.Schedule, policy: str) -> _Anchor:
        """`every k {` of a schedule block, one level in."""
        s = schedule.span
        brace = self.tokens[self._next(self._index((s.end_line, s.end_column)), "LBRACE")]
        return _Anchor((s.line, s.column), _end_of(brace), brace.line,
                       [f"{schedule.kind} {format_expr(schedule.value)} {{"], INDENT, policy)

    def _close_anchor(self, last: _Anchor, indent: str) -> _Anchor:
        """The `}` after the anchor `last`, at `indent`; comments before it stay one level further in."""
        close = self.tokens[self._next(self._index(last.end), "RBRACE")]
        anchor = self._token_anchor(close, ["}"], indent, "none", "close")
        anchor.comment_policy = "keep"
        anchor.comment_indent = indent + INDENT
        return anchor

    def _train_anchors(self, block: A.Train, policy: str) -> list:
        """`train {`, its settings one level in, and its `}`."""
        s = block.span
        i = self._next(self._index((s.line, s.column)), "LBRACE")
        brace = self.tokens[i]
        anchors = [_Anchor((s.line, s.column), _end_of(brace), brace.line, ["train {"], INDENT, policy)]
        policy = "none"
        for setting in block.settings:
            b = setting.span
            text = f"{setting.name.id} = " + ", ".join(format_expr(v) for v in setting.values)
            anchors.append(_Anchor((b.line, b.column), (b.end_line, b.end_column), _last_line(b), [text],
                                   INDENT * 2, policy))
            policy = "keep"
        close = self.tokens[self._next(self._index(anchors[-1].end), "RBRACE")]
        anchor = self._token_anchor(close, ["}"], INDENT, "none", "close")
        anchor.comment_policy = policy
        anchor.comment_indent = INDENT * 2
        anchors.append(anchor)
        return anchors

    def _attach(self, anchors: list) -> _Anchor:
        """Give each comment to an anchor; return the end-of-file anchor."""
        eof = _Anchor((float("inf"), 0), (float("inf"), 0), 0, [], "", "keep", "eof")
        starts = [a.start for a in anchors]
        for c in self.comments:
            pos = (c.line, c.column)
            if not c.own_line:
                i = bisect_left(starts, pos) - 1
                if i >= 0:
                    anchors[i].trailing.append(c)
                    continue
            # The statement it is inside of, or else the next one.
            owner = next((a for a in anchors if a.end > pos), eof)
            owner.leading.append(c)
        return eof

    # ---- output

    def _put(self, line: str, first: int, last: int, policy: str) -> None:
        if self.out and policy != "none":
            if policy == "one" or (self.prev_line is not None and first - self.prev_line >= 2):
                self.out.append("")
        self.out.append(line)
        self.prev_line = last

    def run(self) -> str:
        anchors = self._anchors()
        eof = self._attach(anchors)
        previous_kind = None  # of the last top-level anchor: "doc", "import" or "item"
        for a in anchors + [eof]:
            policy = a.policy
            if policy == "top":
                both_imports = previous_kind == "import" and a.kind == "import"
                policy = "keep" if both_imports else "one"
                previous_kind = a.kind
            comment_indent = a.comment_indent or (INDENT if a.kind == "close" else a.indent)
            comment_policy = a.comment_policy or policy
            for c in a.leading:
                # A comment from inside a multi-line statement counts as on its first line.
                line = min(c.line, a.start[0])
                self._put(comment_indent + c.text.rstrip(), line, line, comment_policy)
                comment_policy = "keep"
            if not a.lines:
                continue
            own_policy = "none" if a.kind == "close" else ("keep" if a.leading else policy)
            lines = list(a.lines)
            if a.trailing:
                lines[-1] += "  " + "  ".join(c.text.rstrip() for c in a.trailing)
            self._put(a.indent + lines[0], a.start[0], a.start[0] if len(lines) > 1 else a.last_line,
                      own_policy)
            for line in lines[1:]:
                self.out.append(line)
            self.prev_line = a.last_line
        return "\n".join(self.out) + "\n" if self.out else ""
