"""interpret: one step of a cell's typed graph, evaluated with `keras.ops` (no generated source, no `eval`).

`StepPlan(G, env, hoist, fuse, outputs)` decides once, when a cell is made,
how its step runs: common subexpressions merged, what runs before the time
loop for every step at once (`precompute`) and what runs in it (`step`), and
which sibling matmuls run as one, and which matmuls of a transposed value of the
step read the value itself (see optimize). `evaluate` walks the
operations in that order, each one Keras op. A value is a tensor
`(batch,) + shape`, or `shape` alone where it reads no input and no state (a
parameter, a constant, `1 - a` of them): whether it has the batch axis in
front is its *batched* flag, and each operation lines its operands up by
their flags (`Operands`). All of this runs while Keras traces the step
function: the plan adds no op to it.

The cells run on any Keras back end: on TensorFlow's the hot matmuls call
`tf.linalg.matmul` directly for its transpose flags, and a flat value is cut
by one `tf.split`; on the others (JAX, PyTorch) the same by `keras.ops`
(`matmul`, `split`), so that their autodiff sees every operation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping, Optional

import keras
import numpy as np
from keras import ops

from ..lang.dims import int_bindings
from ..lang.heads import GATHER
from ..lang.ir import CellIR, OpNode
from ..lang.ops import OPERATIONS
from . import memory_plan, optimize
from .heads import matmul_subscripts, run_per_head
from .initializers import constant_value, real
from .step_matmuls import LoopMatmuls, matmul, split_last

def flat_size(shape) -> int:
    """The number of entries of a value of `shape` (a scalar, `()`, has one)."""
    return int(math.prod(shape)) if shape else 1


def accelerator() -> bool:
    """Whether the Keras back end sees a GPU or a TPU (where hoisting work out of the loop pays; see optimize)."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("TPU"))
    if backend == "jax":
        import jax

        return any(d.platform != "cpu" for d in jax.devices())
    if backend == "torch":
        import torch

        return torch.cuda.is_available()
    return False


def gather(x, index, axis: int):
    """`x`'s entries at `index` (non-negative, a NumPy array) along `axis`. keras.ops.take wraps negative
    indices (three more ops at each call); TensorFlow's gather is the op alone."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.gather(x, index, axis=axis)
    return ops.take(x, index, axis=axis)


class StepPlan:
    """How one step runs: what the loop computes, in which order, and what was hoisted out of it.

    `cell` in the methods is the GeneratedCell that runs the plan: its weights by spec name, its
    states' and outputs' shapes, its input size and its compute dtype."""

    def __init__(self, G: CellIR, env: dict, hoist: str = "auto", fuse: str = "auto", outputs=(),
                 dtype: str = "float32"):
        self.G = G = optimize.cse(G)
        self.dtype = dtype  # the cell's compute dtype, which a value made of constants alone takes
        self.env = env
        known = int_bindings(env)
        split = optimize.loop_split(G, outputs)
        # a cell with a memory trains under XLA (optimize.plans_for_xla): planned as for an accelerator
        fast_launches = accelerator() or optimize.plans_for_xla(G)
        if fast_launches and optimize.choose_fusion(fuse, accelerator=True):
            self.G = G = optimize.stacked_sums(G, split)  # fewer, larger matmuls in the loop
            split = optimize.loop_split(G, outputs)
        sizes = {n: flat_size([d.subst(known).value for d in G.shape(n)])
                 for n in set(split.frontier) | set(G.signature.inputs)}
        split = optimize.choose_split(G, split, sizes, hoist, accelerator=fast_launches)
        self.order, self.step_order, self.frontier = list(split.order), list(split.step_order), list(split.frontier)
        self.batched = split.batched
        self.hoisted_order = [n for n in self.order if n in split.hoisted]
        self.before = list(split.before)  # what precompute evaluates: the frontier and what it reads
        # sibling matmuls run as one (optimize.sibling_matmuls), each stage on its own, with their biases; the
        # loop's `P @ v` by a `Pᵀ` made before the loop
        fused = optimize.choose_fusion(fuse, accelerator=fast_launches)
        sizes = {n: tuple(d.subst(known).value for d in G.shape(n)) for n in G.of_kind("param")}
        self.matmuls = LoopMatmuls(G, self.hoisted_order if fused else (), self.step_order, self.batched, sizes,
                                   fused)
        self.hoisted_groups, self.step_groups = self.matmuls.hoisted_groups, self.matmuls.step_groups
        self.group_of = self.matmuls.group_of
        # on TensorFlow, a memory's write and the reads of the memory it makes as one op (keras.memory_write)
        tf_backend = keras.backend.backend() == "tensorflow"
        writes = memory_plan.memory_writes(G, self.step_order, self.batched) if tf_backend else []
        self.writes = {w.root: w for w in writes}
        self.in_writes = {n for w in writes for n in w.inner}  # computed by the write alone
        # the memories carried slots last, `(batch, width, slots)`, and the operations that read them so
        states = {n: tuple(d.subst(known).value for d in G.shape(n)) for n in G.header.states}
        self.slots_last_memories = memory_plan.slots_last(G, writes, states, outputs)
        self.slots_last, self.memory_reads = frozenset(), frozenset()  # until hold_slots_last
        # What the loop computes from weights and constants alone (`concat(W_r, W_h)` of a stacked sum)
        self.invariants = [n for n in self.step_order if not self.batched.get(n, True)
                           and G.node(n).kind in ("op", "value")]
        # While a GeneratedRNN runs the loop: the weights read once before it (a read inside the loop is
        # one per step, and the backward pass keeps each step's copy) with the invariants computed from
        # them, and the step groups' stacked matrices.
        self.loop_weights = None
        self.loop_stacks = None
        self.operands = {n: G.operands(n) for n in G}
        # `transpose(L[t]) @ w`: the matmul reads L, its indices swapped; a transpose read so alone is not made
        alone = [n for n in self.step_order if n not in self.group_of]
        self.folded = optimize.folded_transposes(G, alone, self.batched)
        self.unread = optimize.unread_transposes(G, self.folded)
        for n, flags in self.folded.items():
            self.operands[n] = [G.operands(u)[0] if f else (u, use) for (u, use), f in zip(G.operands(n), flags)]
        self.states = G.header.states
        self.odes = [n for n in self.states if G.integrated(n)]
        self.solver = G.header.solver
        step = G.header.step
        self.dt = float(env[step]) if isinstance(step, str) else (float(step) if step is not None else None)
        self.constants = {n: real(env[n]) if rec.kind == "hparam" else constant_value(rec.value, env, dtype)
                          for n, rec in G.records() if rec.kind in ("hparam", "const")}
        self.frontier_shapes = [tuple(d.subst(known).value for d in G.shape(n)) for n in self.frontier]

    def precompute(self, cell, sequences):
        """The frontier's values for every step at once: (batch, T, inputs' size) -> (batch, T, frontier size)."""
        if self.frontier == list(self.G.signature.inputs):  # the loop reads the inputs as they are
            return sequences
        batch, steps = ops.shape(sequences)[0], ops.shape(sequences)[1]
        flat = ops.reshape(sequences, (-1, cell.input_dim))
        vals = self._unpack(flat, list(self.G.signature.inputs), cell.input_shapes)
        vals.update(self.weights(cell))
        env = self.evaluate(vals, {}, {}, self.before)
        parts = [ops.reshape(env[n], (batch, steps, flat_size(s))) for n, s in zip(self.frontier, self.frontier_shapes)]
        if not parts:  # the loop reads nothing of the inputs (what it computes is invariant)
            return sequences[..., :0]
        return parts[0] if len(parts) == 1 else ops.concatenate(parts, axis=-1)

    def _unpack(self, flat, names, shapes) -> dict:
        """`flat` (batch, sum of sizes) cut into the named values; one split op (each op costs per step)."""
        if not names:  # a cell without inputs (a BAM recalling from its initial state) reads an empty step
            return {}
        parts = [flat] if len(names) == 1 else split_last(flat, [flat_size(s) for s in shapes])
        return {name: part if len(shape) == 1 else ops.reshape(part, (-1,) + shape)
                for name, shape, part in zip(names, shapes, parts)}

    def loop_values(self, cell) -> dict:
        """What the loop reads that is the same at every step: the weights, read once, and the invariants
        computed from them once; and the matrices of the loop's `P @ v` transposed, under `(P, "T")`. (`v @ Pᵀ`
        is one GEMM either way, but XLA on a CPU runs it 5% to 20% faster with `Pᵀ` laid out in memory, measured
        on the matmuls of the NTM and the DNC of bench/memory.py; the transpose is made once, not a step.)"""
        weights = self.weights(cell)
        found = self.evaluate(weights, {}, {}, self.invariants) if self.invariants else {}
        values = {**weights, **{n: found[n] for n in self.invariants}}
        return {**values, **self.matmuls.transposes(values)}

    @staticmethod
    def weights(cell) -> dict:
        """The cell's weights by spec name, read, in its compute dtype."""
        return {name: w if w.dtype == cell.compute_dtype else ops.cast(w, cell.compute_dtype)
                for name, w in cell.weights_by_name.items()}

    def step(self, cell, inputs, states):
        """One step: the frontier's values (batch, frontier size) and the flat states -> (the outputs side by
        side, flat (batch, output size); the new flat states)."""
        batch = ops.shape(inputs)[0]
        # the loop's input: the frontier's values (see optimize.loop_split)
        vals = self._unpack(inputs, self.frontier, self.frontier_shapes)
        vals.update(self.loop_weights if self.loop_weights is not None else self.weights(cell))
        # delayed values: history[name][k-1] is the value k steps back
        history = {}
        for (name, (shape, depth)), s in zip(cell.state_shapes.items(), states):
            if depth == 1:
                history[name] = [s if len(shape) == 1 else ops.reshape(s, (-1,) + self.held_shape(name, shape))]
                continue
            s = ops.reshape(s, (-1, depth) + shape)
            history[name] = [s[:, k] for k in range(depth)]
        if self.odes:
            current = {n: history[n][0] for n in self.odes}
            derivs = self._derivatives(vals, history, current)
            new = self._integrate(vals, history, current, derivs)
            vals.update(self.evaluate(vals, history, new, self.step_order))
        else:
            vals.update(self.evaluate(vals, history, {}, self.step_order))
        new_states = []
        for name, (shape, depth) in cell.state_shapes.items():
            now = vals[name]
            if not self.batched.get(name, True):
                now = ops.broadcast_to(now, (batch,) + shape)
            if depth == 1:
                new_states.append(now if len(shape) == 1 else ops.reshape(now, (-1, flat_size(shape))))
                continue
            hist = [now] + history[name][: depth - 1]
            new_states.append(ops.reshape(ops.stack(hist, axis=1), (-1, flat_size(shape) * depth)))
        outs = [vals[n] if self.batched.get(n, True) else ops.broadcast_to(vals[n], (batch,) + shape)
                for n, shape in zip(cell.outputs, cell.output_shapes)]
        outs = [o if len(shape) == 1 else ops.reshape(o, (-1, flat_size(shape)))
                for o, shape in zip(outs, cell.output_shapes)]
        return (outs[0] if len(outs) == 1 else ops.concatenate(outs, axis=-1)), (new_states or states)

    # ---- continuous time

    def _derivatives(self, vals, history, current):
        env = self.evaluate(vals, history, current, self.step_order)
        return {n: env[self._def_source(n)] for n in self.odes}

    def _def_source(self, name):
        return next(u for u, use in self.operands[name] if use.defines)

    def _integrate(self, vals, history, y, k1):
        dt = self.dt
        if self.solver == "euler":
            return {n: y[n] + dt * k1[n] for n in self.odes}
        y2 = {n: y[n] + 0.5 * dt * k1[n] for n in self.odes}
        k2 = self._derivatives(vals, history, y2)
        y3 = {n: y[n] + 0.5 * dt * k2[n] for n in self.odes}
        k3 = self._derivatives(vals, history, y3)
        y4 = {n: y[n] + dt * k3[n] for n in self.odes}
        k4 = self._derivatives(vals, history, y4)
        return {n: y[n] + dt / 6.0 * (k1[n] + 2 * k2[n] + 2 * k3[n] + k4[n]) for n in self.odes}

    # ---- one evaluation of the graph

    def evaluate(self, vals, history, ode_values, nodes) -> dict:
        """Values of `nodes` (ops and values, in order) for one step; ODE states fixed at `ode_values`.

        `vals`: {name: value} of what the step is given (inputs or frontier, weights); `history[name][k-1]`
        the value of state `name` k steps back. Returns every value known after the step, by name."""
        G = self.G
        env = dict(vals)
        env.update(self.constants)
        env.update(ode_values)

        def read(u, delay: int):
            if delay > 0:
                return history[u][delay - 1]
            return env[u]

        computed = set()  # the sibling groups computed (with their first member)
        for n in nodes:
            if n in env:  # an invariant, computed before the loop
                continue
            rec = G.node(n)
            if n in self.in_writes or n in self.unread:  # computed by a write, or a transpose no one reads
                continue
            if n in self.writes:
                from .memory_write import lower_write

                env.update(lower_write(self.writes[n], env, read, self.slots_last))
                continue
            if n in self.memory_reads:  # `cosine(M, k)` or `w @ M` of a memory held slots last
                from .memory_write import held_read

                env[n] = held_read(rec.op, *[read(u, use.delay) for u, use in self.operands[n]])
                continue
            if n in self.group_of:
                group = self.group_of[n]
                if group not in computed:
                    computed.add(group)
                    u, delay = group.operand
                    env.update(self.matmuls.siblings(group, read(u, delay), env, self.loop_stacks))
                continue
            if rec.kind == "value":
                if rec.ode:
                    continue
                (u, use), = self.operands[n]
                v = read(u, use.delay)
                if use.index is not None:
                    v = v[use.index]
                env[n] = v
                continue
            transposed = self.matmuls.transposed.get(n)
            if (transposed, "T") in env:  # `v @ Pᵀ`, Pᵀ made before the loop
                (_, _), (v, use) = self.operands[n]
                env[n] = matmul(read(v, use.delay), env[(transposed, "T")])
                continue
            attrs = {**rec.attrs, "transposed": self.folded[n]} if n in self.folded else rec.attrs
            args = Operands([read(u, use.delay) for u, use in self.operands[n]],
                            [self.batched[u] if use.delay == 0 else True for u, use in self.operands[n]],
                            [G.shape(u) for u, _ in self.operands[n]], attrs, self.env, self.dtype)
            if rec.heads and rec.op != GATHER:
                env[n] = self._per_head(rec, args, [G.node(u).heads for u, _ in self.operands[n]])
            else:
                env[n] = apply_op(rec, args)
        return env


    def hold_slots_last(self) -> None:
        """Hold the memories that pay so (memory_plan.slots_last) slots last from now on: their states are
        `(batch, width, slots)` flattened, and the operations that read them are computed so."""
        self.slots_last = self.slots_last_memories
        computed = self.in_writes | {n for w in self.writes.values() for n in (w.root, *w.reads)}
        self.memory_reads = frozenset(v for m in self.slots_last for v, _ in self.G.users(m) if v not in computed)

    def held_shape(self, state: str, shape: tuple) -> tuple:
        """The shape in which the loop holds a state of `shape` (a row of the batch): a memory slots last
        (`slots_last`) as `(width, slots)`, else `shape`."""
        return tuple(reversed(shape)) if state in self.slots_last else shape

    def _per_head(self, rec: OpNode, args: "Operands", heads: list):
        """An operation of operands with heads (heads.run_per_head); a matmul by one einsum."""
        count = int(self.env[self.G.header.heads])
        if rec.op == "matmul":
            ranks = [len(s) - h for s, h in zip(args.shapes, heads)]
            transposed = args.attrs.get("transposed", (False, False))
            return ops.einsum(matmul_subscripts(ranks, args.batched, heads, transposed), *args.values)
        broadcasts = rec.op in OPERATIONS and OPERATIONS[rec.op].broadcasts_heads
        return run_per_head(lambda x: apply_op(rec, x), args, heads, count, broadcasts)


@dataclass
class Operands:
    """The operands of one operation: `values`, tensors `(batch,) + shape` where `batched` (a value read
    at an earlier step always is) and `shape` elsewhere, or Python numbers for constants; `shapes`, each
    one's spec shape (its Dims), without the batch axis. With the operation's constant arguments
    (`attrs`) and the hyperparameters' values (`env`), this is the call a registry entry lowers
    (rnndsl.lang.ops.LoweringCall)."""

    values: list
    batched: list
    shapes: list
    attrs: Mapping = field(default_factory=dict)
    env: dict = field(default_factory=dict)
    dtype: str = "float32"  # the cell's compute dtype: what a tensor made of numbers alone is given
    ops = ops

    @property
    def args(self) -> list:
        return self.values

    @property
    def ranks(self) -> list:
        return [len(s) for s in self.shapes]

    def axis(self, name: str = "axis", default: Optional[int] = -1, batched: Optional[bool] = None):
        """The spec axis in attribute `name`, as the first operand's tensor counts it: past the batch axis
        where it has one (or where `batched` says). A negative axis counts from the end either way."""
        axis = self.attrs.get(name, default)
        if axis is None or axis < 0:
            return axis
        return axis + 1 if (self.batched[0] if batched is None else batched) else axis

    def axes(self):
        """The axes a reduction of the first operand runs over: its `axis`, or all but the batch axis."""
        if self.attrs.get("axis") is None:
            return tuple(range(1, self.ranks[0] + 1)) if self.batched[0] else None
        return self.axis()

    def size(self, i: int, axis: int) -> int:
        """The size of operand `i`'s spec dimension `axis`, the hyperparameters bound."""
        return int(self.shapes[i][axis].subst(int_bindings(self.env)).value)

    def int_attr(self, name: str) -> int:
        """An `int` attribute; a hyperparameter's name stands for its value."""
        value = self.attrs[name]
        return int(self.env[value] if isinstance(value, str) else value)

    def aligned(self) -> list:
        """Element-wise operands with a batch axis: a lower-rank one gets unit axes after its batch axis.

        (An operand without a batch axis broadcasts from the right as it is: `[n] * (b, n)`.)
        """
        top = max(self.ranks)
        out = []
        for a, b, r in zip(self.values, self.batched, self.ranks):
            for _ in range(top - r if b else 0):
                a = ops.expand_dims(a, 1)
            out.append(a)
        return out


def apply_op(rec: OpNode, x: Operands):
    """The value of the operation node `rec` (its `op`) of operands `x`: an operator's here, a built-in
    function's by its entry in the registry (rnndsl.lang.ops)."""
    op = rec.op
    if op in _CONSTANT_ARITHMETIC and all(isinstance(a, (int, float)) for a in x.values):
        # Two constants (`1 / tau` of a hyperparameter): float64, as `constant` computes, so that
        # `1 / 0` is an infinity in the model rather than Python's ZeroDivisionError.
        with np.errstate(all="ignore"):
            return float(_CONSTANT_ARITHMETIC[op](np.float64(x.values[0]), np.float64(x.values[1])))
    if op in OPERATIONS:
        return OPERATIONS[op].lower(x)
    if op in _BINARY:
        return _BINARY[op](*x.aligned())
    if op in _UNARY_OPERATORS:
        return _UNARY_OPERATORS[op](x.values[0])
    if op == "matmul":
        return _matmul(x)
    raise AssertionError(f"no lowering for op {op}")


def activation(name: str):
    """The element-wise function `name` of the registry as a function of one tensor (a layer's activation)."""
    lower = OPERATIONS[name].lower
    return lambda x: lower(Operands([x], [True], [()]))


def _matmul(x: Operands):
    a, b = x.values
    ranks, batched = x.ranks, x.batched
    transposed = x.attrs.get("transposed", (False, False))  # a folded operand (StepPlan.folded): a batched one
    # The common cases of a cell, W @ x[t] and x @ W, as one GEMM with no transpose materialized.
    if ranks == [2, 1] and batched == [False, True]:
        return matmul(b, a, transpose_b=True)
    if ranks == [1, 2] and batched == [True, False]:
        return matmul(a, b)
    return ops.einsum(matmul_subscripts(ranks, batched, [False, False], transposed), a, b)


# The operators of the language (rnndsl.lang.graph's op names); the built-in functions are the registry's.
_BINARY = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b, "div": lambda a, b: a / b,
    "lt": ops.less, "le": ops.less_equal, "gt": ops.greater, "ge": ops.greater_equal,
    "eq": ops.equal, "ne": ops.not_equal,
}
_UNARY_OPERATORS = {"neg": lambda x: -x, "copy": lambda x: x}
_CONSTANT_ARITHMETIC = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide, "pow": np.power,
                        "maximum": np.maximum, "minimum": np.minimum}
