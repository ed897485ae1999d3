"""schedules: the step's number `t` as a value, and equations computed on a schedule (`every k`, `when c`).

**`t`.** A cell over time that reads a bare `t` (`mod(t, 4) == 0`, `0.5 ** t`) carries the count as a
scalar state named `t`, as if it had been written

    state t: [] = 0
    t[t] = t[t-1] + 1

so the first step has t = 1 (the initial states are the values at t = 0), and the count goes on across the
chunks of truncated BPTT and through a stateful layer, as any state does. It comes after the cell's own
states, a number in the cell's precision: exact up to 2^24 steps in float32 (lowering refuses float16 and
bfloat16, rnndsl.keras.cell). Drawings and LaTeX show `t` as
a name; the counter's own equation is not the user's and is not typeset.

**Schedules.** `h[t] = e every k` is computed at the steps where `mod(t, k) == 0` (t = k, 2k, ...), and
`h[t] = e when c` where the condition `c` holds (a scalar, or element by element with `h`'s shape); at the
other steps `h` holds its value, so `h` is a state, which starts at its initial value. The graph is that of
`where(cond, e, h[t-1])` (rnndsl.lang.graph), the schedule an attribute of its `where` that drawings note.
"""

from __future__ import annotations

from . import ast as A
from .bound import ValueInfo

__all__ = ["STEP", "add_step_count", "check_schedule", "schedule_condition", "schedule_label"]

STEP = "t"


def add_step_count(resolver) -> None:
    """Give `resolver` (a CellResolver whose equations read `t` at `resolver.step_reads`) the counter's
    value, its state declaration and its delay; or an error where the cell has no steps to count."""
    first = resolver.step_reads[0]
    ode = _ode(resolver.cell)
    if ode is not None:
        resolver.error("`t` is the number of a step, and this cell runs in continuous time", first,
                       label="a cell with `d/dt` has no steps of its own",
                       notes=[f"its solver's steps are not the sequence's: `d/dt {ode.name.id}` is integrated "
                              "between the inputs"], code="E0219")
        return
    name = A.Name(STEP, first)
    previous = A.Indexed(name, A.BinOp("-", name, A.Number(1, "1", first), first), first)
    equation = A.Equation((A.Target(name, name, first),), A.BinOp("+", previous, A.Number(1, "1", first), first),
                          span=first)
    resolver.values[STEP] = ValueInfo(STEP, equation, 0, first)
    resolver.state_decls[STEP] = A.StateDecl(name, A.Shape((), first), A.Number(0, "0", first), first)
    resolver.delays[STEP] = 1


def check_schedule(resolver, equations, stmt: A.Equation, checked: dict) -> None:
    """Check the schedule of `stmt` in the cell `resolver` reads (its EquationResolver: `equations`), bind
    the names of a `when` condition, and record what it reads: its own value a step back, and `t`.

    `checked` maps each schedule checked so far (by `id`) to whether it is valid: a block's schedule is
    checked once for all its equations, so that its errors are reported once."""
    schedule = stmt.schedule
    if stmt.block is not None and schedule is not stmt.block:
        resolver.error(f"an equation in {'an' if stmt.block.kind == 'every' else 'a'} `{stmt.block.kind}` block is computed "
                       "on the block's schedule",
                       schedule.span, label="a schedule of its own",
                       notes=[f"write the equation after the block's `}}`, with its `{schedule.kind}`"], code="E0235")
        return
    if id(schedule) not in checked:
        checked[id(schedule)] = _check_steps(resolver, equations, schedule, stmt.targets[0].name.id)
    if not checked[id(schedule)]:
        return
    if len(stmt.targets) > 1:
        resolver.error(f"`{schedule.kind}` holds one value, and this equation defines {len(stmt.targets)}",
                       schedule.span if stmt.block is None else stmt.span, label="a schedule on `split`",
                       notes=["schedule the equations that read the pieces" if stmt.block is None else
                              "write the `split` before the block: the equations in it that read the pieces are "
                              "computed on its schedule"], code="E0235")
        return
    target = stmt.targets[0].name.id
    resolver.delays[target] = max(resolver.delays.get(target, 0), 1)  # held: read a step back


def _check_steps(resolver, equations, schedule: A.Schedule, target: str) -> bool:
    """Whether `schedule` may stand in this cell and names a number of steps or a condition (errors where
    not); binds the condition's names, and notes where it reads `t`."""
    kind, value = schedule.kind, schedule.value
    if resolver.over != "time":
        resolver.error(f"`{kind}` schedules the steps of a cell over time", schedule.span,
                       label=f"a cell over {resolver.over} computes every value at every "
                             f"{'node' if resolver.over == 'tree' else 'position'}", code="E0235")
        return False
    if _ode(resolver.cell) is not None:
        resolver.error(f"`{kind}` schedules the steps of a cell, and this cell runs in continuous time",
                       schedule.span, label="a cell with `d/dt` integrates between the inputs", code="E0235")
        return False
    if kind == "every":
        if not _whole_steps(resolver, value):
            resolver.error("`every` takes a number of steps", value.span,
                           label="a positive integer, or an int hyperparameter",
                           notes=[f"`{target}[t] = ... every 4` is computed at t = 4, 8, 12, ...; "
                                  f"`when` takes a condition: `{target}[t] = ... when c[t] > 0`"], code="E0235")
            return False
        resolver.step_reads.append(schedule.span)
    else:
        equations.expr(value, generator=None)
    return True


def _whole_steps(resolver, value) -> bool:
    if isinstance(value, A.Number):
        return isinstance(value.value, int) and value.value >= 1
    return isinstance(value, A.Name) and value.id in resolver.hparams and resolver.hparams[value.id].type == "int"


def schedule_condition(schedule: A.Schedule):
    """The condition of a schedule, as an expression: `mod(t, k) == 0` for `every k`, `c` for `when c`."""
    if schedule.kind == "when":
        return schedule.value
    span = schedule.span
    step = A.Call(A.Name("mod", span), (A.Arg(A.Name(STEP, span), None, span), A.Arg(schedule.value, None, span)),
                  None, span)
    return A.BinOp("==", step, A.Number(0, "0", span), span)


def schedule_label(schedule: A.Schedule) -> str:
    """How a diagram notes the `where` of a schedule: `every 4`, `when`."""
    if schedule.kind == "every":
        value = schedule.value
        return f"every {value.value if isinstance(value, A.Number) else value.id}"
    return "when"


def _ode(cell):
    return next((s for s in cell.body if isinstance(s, A.ODE)), None)
