"""resolve: names, declarations, hyperparameters, imports. Diagnostics are matched on their full text."""

from pathlib import Path

import pytest

from helpers import checked, diagnostics
from rnndsl.program import check_file
from rnndsl.lang.specfiles import display_path, stdlib_root

CASES = {
    "unknown_hyper_type": (
        """
cell A(units: int, rate: flot = 0.5) {
    input x: [units]
    h[t] = tanh(x[t] + h[t-1])
    output h
}
""",
        """\
error[E0202]: unknown hyperparameter type `flot`
  --> spec.rnn:1:26
   |
 1 | cell A(units: int, rate: flot = 0.5) {
   |                          ^^^^ not a type
   = note: did you mean `float`?
   = note: types are int, float, bool and str
""",
    ),
    "bad_default": (
        """
cell A(units: int = 2.5) {
    input x: [units]
    h[t] = tanh(x[t] + h[t-1])
    output h
}
""",
        """\
error[E0203]: the default of `units` is not an int
  --> spec.rnn:1:21
   |
 1 | cell A(units: int = 2.5) {
   |                     ^^^ expected an int literal, found a float
""",
    ),
    "declared_twice": (
        """
cell A(units: int) {
    input x: [units]
    param x: [units]
    h[t] = tanh(x[t] + h[t-1])
    output h
}
""",
        """\
error[E0204]: `x` is declared twice
  --> spec.rnn:3:11
   |
 3 |     param x: [units]
   |           ^ already an input
   = note: the input `x` is declared at spec.rnn:2:5
""",
    ),
    "unknown_dimension": (
        """
cell A(units: int) {
    input x: [in]
    param W: [unit, in]
    h[t] = tanh(W @ x[t] + h[t-1])
    output h
}
""",
        """\
error[E0201]: unknown dimension `unit` in the shape of `W`
  --> spec.rnn:3:15
   |
 3 |     param W: [unit, in]
   |               ^^^^ not declared
   = note: did you mean `units`?
   = note: a dimension is an int hyperparameter, an integer, or a name from an `input` shape
""",
    ),
    "float_dimension": (
        """
cell A(units: int, dt: float = 0.1) {
    input x: [dt]
    h[t] = x[t]
    output h
}
""",
        """\
error[E0207]: `dt` is a float hyperparameter; a dimension must be an int
  --> spec.rnn:2:15
   |
 2 |     input x: [dt]
   |               ^^ not an int
   = note: `dt` is declared at spec.rnn:1:20
""",
    ),
    "undeclared_param": (
        """
cell A(units: int) {
    input x: [units]
    param W_x: [units, units]
    h[t] = tanh(W_x @ x[t] + W_h @ h[t-1])
    output h
}
""",
        """\
error[E0201]: unknown name `W_h`
  --> spec.rnn:4:30
   |
 4 |     h[t] = tanh(W_x @ x[t] + W_h @ h[t-1])
   |                              ^^^ not declared in this cell
   = note: did you mean `W_x`?
   = note: declare a parameter with `param W_h`
""",
    ),
    "unknown_function": (
        """
cell A(units: int) {
    input x: [units]
    h[t] = sigmod(x[t] + h[t-1])
    output h
}
""",
        """\
error[E0203]: unknown function `sigmod`
  --> spec.rnn:3:12
   |
 3 |     h[t] = sigmod(x[t] + h[t-1])
   |            ^^^^^^ not a built-in function
   = note: did you mean `sigmoid`?
""",
    ),
    "value_called": (
        """
cell A(units: int) {
    input x: [units]
    h[t] = tanh(x(t) + h[t-1])
    output h
}
""",
        """\
error[E0223]: `x` is a value, not a function
  --> spec.rnn:3:17
   |
 3 |     h[t] = tanh(x(t) + h[t-1])
   |                 ^^^^ index it with brackets: `x[t]`
""",
    ),
    "future": (
        """
cell A(units: int) {
    input x: [units]
    h[t] = tanh(x[t+1] + h[t-1])
    output h
}
""",
        """\
error[E0220]: `x[t+1]` reads the future
  --> spec.rnn:3:19
   |
 3 |     h[t] = tanh(x[t+1] + h[t-1])
   |                   ^^^ a cell only sees the present and the past
   = note: for a backward pass over time, wrap the cell in `Bidirectional(...)` in a network
""",
    ),
    "bad_time_index": (
        """
cell A(units: int) {
    input x: [units]
    h[t] = tanh(x[t] + h[-1])
    output h
}
""",
        """\
error[E0105]: a time index must be `t` or `t-k`
  --> spec.rnn:3:26
   |
 3 |     h[t] = tanh(x[t] + h[-1])
   |                          ^^ write `h[t]` or `h[t-1]`
   = note: k is a positive integer: `h[t-2]` is the value two steps back
""",
    ),
    "param_indexed": (
        """
cell A(units: int) {
    input x: [units]
    param b: [units]
    h[t] = tanh(x[t] + b[t] + h[t-1])
    output h
}
""",
        """\
error[E0221]: `b` is a parameter; it has no time index
  --> spec.rnn:4:24
   |
 4 |     h[t] = tanh(x[t] + b[t] + h[t-1])
   |                        ^^^^ write `b`
""",
    ),
    "target_delayed": (
        """
cell A(units: int) {
    input x: [units]
    h[t-1] = tanh(x[t])
    output h
}
""",
        """\
error[E0212]: an equation defines `h` at `t`
  --> spec.rnn:3:7
   |
 3 |     h[t-1] = tanh(x[t])
   |       ^^^ write `h[t]`
   = note: read earlier values on the right: `h[t-1]`
""",
    ),
    "multi_target_without_split": (
        """
cell A(units: int) {
    input x: [units]
    a[t], b[t] = tanh(x[t])
    output a
}
""",
        """\
error[E0214]: several values are defined at once only by `split`
  --> spec.rnn:3:11
   |
 3 |     a[t], b[t] = tanh(x[t])
   |           ^^^^ a second target
   = note: write `a[t], b[t] = split(z[t], 2)`
""",
    ),
    "state_without_equation": (
        """
cell A(units: int) {
    input x: [units]
    state c: [units] = 0
    h[t] = tanh(x[t] + h[t-1])
    output h
}
""",
        """\
error[E0211]: state `c` has no equation
  --> spec.rnn:3:11
   |
 3 |     state c: [units] = 0
   |           ^ no `c[t] = ...` in this cell
""",
    ),
    "state_never_delayed": (
        """
cell A(units: int) {
    input x: [units]
    state h: [units] = 0
    h[t] = tanh(x[t])
    output h
}
""",
        """\
error[E0211]: `h` is declared a state but never read at an earlier step
  --> spec.rnn:3:11
   |
 3 |     state h: [units] = 0
   |           ^ not a state
   = note: a value becomes state when it is read as `h[t-1]`
""",
    ),
    "ode_without_solver": (
        """
cell A(units: int) {
    input x: [units]
    d/dt y = -y + x[t]
    output y
}
""",
        """\
error[E0215]: a continuous-time equation needs a solver
  --> spec.rnn:3:5
   |
 3 |     d/dt y = -y + x[t]
   |     ^^^^^^^^^^^^^^^^^^ `d/dt y` with no solver
   = note: write `cell A(...) solver rk4` (or euler)
""",
    ),
    "unknown_solver": (
        """
cell A(units: int, dt: float = 0.1) solver rk5 {
    input x: [units]
    d/dt y = -y + x[t]
    output y
}
""",
        """\
error[E0213]: unknown solver `rk5`
  --> spec.rnn:1:44
   |
 1 | cell A(units: int, dt: float = 0.1) solver rk5 {
   |                                            ^^^ not a solver
   = note: did you mean `rk4`?
   = note: solvers are euler and rk4
""",
    ),
    "solver_without_ode": (
        """
cell A(units: int, dt: float = 0.1) solver euler {
    input x: [units]
    h[t] = tanh(x[t] + h[t-1])
    output h
}
""",
        """\
error[E0215]: solver `euler` but no `d/dt` equation
  --> spec.rnn:1:37
   |
 1 | cell A(units: int, dt: float = 0.1) solver euler {
   |                                     ^^^^^^^^^^^^ nothing to integrate
""",
    ),
    "no_step_size": (
        """
cell A(units: int) solver rk4 {
    input x: [units]
    d/dt y = -y + x[t]
    output y
}
""",
        """\
error[E0216]: solver `rk4` has no step size
  --> spec.rnn:1:20
   |
 1 | cell A(units: int) solver rk4 {
   |                    ^^^^^^^^^^ no `step=` and no `dt` hyperparameter
   = note: write `solver rk4(step=0.1)`, or add `dt: float = 0.1` to the cell's hyperparameters
""",
    ),
    "no_output": (
        """
cell A(units: int) {
    input x: [units]
    h[t] = tanh(x[t] + h[t-1])
}
""",
        """\
error[E0218]: cell `A` has no output
  --> spec.rnn:1:6
   |
 1 | cell A(units: int) {
   |      ^ add `output NAME`
""",
    ),
    "unknown_output": (
        """
cell A(units: int) {
    input x: [units]
    h[t] = tanh(x[t] + h[t-1])
    output hh
}
""",
        """\
error[E0217]: output `hh` is not defined by an equation
  --> spec.rnn:4:12
   |
 4 |     output hh
   |            ^^ no equation
   = note: did you mean `h`?
""",
    ),
    "children_in_time_cell": (
        """
cell A(units: int) {
    input x: [units]
    h[t] = tanh(x[t] + sum(h[k] for k in children(n)))
    output h
}
""",
        """\
error[E0222]: `children(n)` needs a tree cell
  --> spec.rnn:3:42
   |
 3 |     h[t] = tanh(x[t] + sum(h[k] for k in children(n)))
   |                                          ^^^^^^^^ this cell runs over time
   = note: write `cell A(...) over tree`
""",
    ),
    "tree_time_index": (
        """
cell A(units: int) over tree {
    input x: [units]
    h[n] = tanh(x[n] + h[t-1])
    output h
}
""",
        """\
error[E0105]: a tree cell indexes by node
  --> spec.rnn:3:26
   |
 3 |     h[n] = tanh(x[n] + h[t-1])
   |                          ^^^ a node has children, not a previous node
   = note: read the children's values in a reduction: `sum(h[k] for k in children(n))`
""",
    ),
    "tree_previous_node": (
        """
cell A(units: int) over tree {
    input x: [units]
    h[n] = tanh(x[n] + h[n-1] + x[t])
    output h
}
""",
        """\
error[E0105]: a tree cell indexes by node
  --> spec.rnn:3:26
   |
 3 |     h[n] = tanh(x[n] + h[n-1] + x[t])
   |                          ^^^ a node has children, not a previous node
   = note: read the children's values in a reduction: `sum(h[k] for k in children(n))`

error[E0105]: a tree cell indexes by node
  --> spec.rnn:3:35
   |
 3 |     h[n] = tanh(x[n] + h[n-1] + x[t])
   |                                   ^ write `x[n]`
   = note: read children in a reduction: `sum(x[k] for k in children(n))`
""",
    ),
    "misspelt_layer_and_activation": (
        """
network N {
    input x: seq[3]
    h = PeepholeLTSM(4)(x)
    y = h >> Dense(3, activation=sigmod)
    output y
}
""",
        """\
error[E0226]: unknown layer `PeepholeLTSM`
  --> spec.rnn:3:9
   |
 3 |     h = PeepholeLTSM(4)(x)
   |         ^^^^^^^^^^^^ not a cell or a known layer
   = note: did you mean `PeepholeLSTM`, a cell of the standard library? `import "std/lstm_variants.rnn"`
   = note: the layers: Activation, Add, AveragePooling1D, Concatenate, Dense, Dropout, Embedding, Gather, LayerNormalization, MaskedConv2D, Masking, MaxPooling1D, Mispredicted, Scatter, Subsample, UpSampling1D
   = note: the configurations of a cell: Bidirectional, EncoderDecoder, Stack
   = note: no cells in scope: define one, or import a file of them, such as `import "std/cells.rnn"`

error[E0209]: argument `activation` of `Dense` must be an activation function
  --> spec.rnn:4:34
   |
 4 |     y = h >> Dense(3, activation=sigmod)
   |                                  ^^^^^^ not an activation
   = note: did you mean `sigmoid`?
   = note: activations are linear, none, sigmoid, tanh, relu, elu, selu, gelu, silu, softplus, softsign, \
hard_sigmoid, exp, log, sqrt, abs, square, sign, sin, cos, step, softmax, log_softmax
""",
    ),
    "unknown_domain": (
        """
cell A(units: int) over graph {
    input x: [units]
    h[n] = tanh(x[n])
    output h
}
""",
        """\
error[E0205]: unknown recurrence domain `graph`
  --> spec.rnn:1:25
   |
 1 | cell A(units: int) over graph {
   |                         ^^^^^ expected `tree` or `grid`
   = note: a cell runs over time unless it says `over tree` or `over grid`
""",
    ),
    "unknown_initializer": (
        """
cell A(units: int) {
    input x: [units]
    param U: [units, units] ~ orthogonl
    h[t] = tanh(x[t] + U @ h[t-1])
    output h
}
""",
        """\
error[E0208]: unknown initializer `orthogonl`
  --> spec.rnn:3:31
   |
 3 |     param U: [units, units] ~ orthogonl
   |                               ^^^^^^^^^ not an initializer
   = note: did you mean `orthogonal`?
""",
    ),
    "initializer_keyword": (
        """
cell A(units: int) {
    input x: [units]
    param U: [units, units] ~ normal(sd=0.1)
    h[t] = tanh(x[t] + U @ h[t-1])
    output h
}
""",
        """\
error[E0209]: initializer `normal` has no argument `sd`
  --> spec.rnn:3:38
   |
 3 |     param U: [units, units] ~ normal(sd=0.1)
   |                                      ^^ unknown keyword
   = note: did you mean `std`?
   = note: its arguments are mean, std
""",
    ),
    "unknown_constraint": (
        """
cell A(units: int) {
    input x: [units]
    param tau: [units] = 1 constrain postive
    h[t] = tanh(x[t] + h[t-1] / tau)
    output h
}
""",
        """\
error[E0210]: unknown constraint `postive`
  --> spec.rnn:3:38
   |
 3 |     param tau: [units] = 1 constrain postive
   |                                      ^^^^^^^ not a constraint
   = note: did you mean `positive`?
   = note: constraints are positive, nonneg, unit_norm, max_norm, max_abs, clip
""",
    ),
    "function_arguments": (
        """
cell A(units: int) {
    input x: [units]
    a[t] = softmax(x[t], dim=0)
    b[t] = tanh(x[t], a[t])
    c[t] = outer(x[t])
    output a
}
""",
        """\
error[E0209]: function `softmax` has no argument `dim`
  --> spec.rnn:3:26
   |
 3 |     a[t] = softmax(x[t], dim=0)
   |                          ^^^ unknown keyword
   = note: its arguments are x, axis

error[E0209]: function `tanh` takes 1 argument, given 2
  --> spec.rnn:4:23
   |
 4 |     b[t] = tanh(x[t], a[t])
   |                       ^^^^ extra argument

error[E0209]: function `outer` needs its argument `b`
  --> spec.rnn:5:12
   |
 5 |     c[t] = outer(x[t])
   |            ^^^^^^^^^^^ `b` is missing
""",
    ),
    "chain_in_cell": (
        """
cell A(units: int) {
    input x: [units]
    h[t] = x[t] >> h[t-1]
    output h
}
""",
        """\
error[E0224]: `>>` chains layers in a network; a cell's equations cannot use it
  --> spec.rnn:3:12
   |
 3 |     h[t] = x[t] >> h[t-1]
   |            ^^^^^^^^^^^^^^
""",
    ),
    "string_in_cell": (
        """
cell A(units: int) {
    input x: [units]
    h[t] = tanh(x[t] + "bias")
    output h
}
""",
        """\
error[E0225]: a string is only an argument of `einsum`
  --> spec.rnn:3:24
   |
 3 |     h[t] = tanh(x[t] + "bias")
   |                        ^^^^^^ not a value
""",
    ),
    "net_unknown_layer": (
        """
cell R(units: int) {
    input x: [in]
    param W: [units, in]
    h[t] = tanh(W @ x[t] + h[t-1])
    output h
}

network N(units: int = 8) {
    input w: seq[int]
    e = Embeding(100, 16)(w)
    f = w >> RR(units)
    output f
}
""",
        """\
error[E0226]: unknown layer `Embeding`
   --> spec.rnn:10:9
    |
 10 |     e = Embeding(100, 16)(w)
    |         ^^^^^^^^ not a cell or a known layer
    = note: did you mean `Embedding`?
    = note: the layers: Activation, Add, AveragePooling1D, Concatenate, Dense, Dropout, Embedding, Gather, LayerNormalization, MaskedConv2D, Masking, MaxPooling1D, Mispredicted, Scatter, Subsample, UpSampling1D
    = note: the configurations of a cell: Bidirectional, EncoderDecoder, Stack
    = note: the cells in scope: R

error[E0226]: unknown layer `RR`
   --> spec.rnn:11:14
    |
 11 |     f = w >> RR(units)
    |              ^^ not a cell or a known layer
    = note: did you mean `R`?
    = note: the layers: Activation, Add, AveragePooling1D, Concatenate, Dense, Dropout, Embedding, Gather, LayerNormalization, MaskedConv2D, Masking, MaxPooling1D, Mispredicted, Scatter, Subsample, UpSampling1D
    = note: the configurations of a cell: Bidirectional, EncoderDecoder, Stack
    = note: the cells in scope: R
""",
    ),
    "net_cell_of_the_standard_library_not_imported": (
        """
import "std/elman.rnn"
network N(units: int = 8) {
    input x: seq[4]
    h = LSTM(units)(x)
    output h >> AvgPooling1D(2)
}
""",
        """\
error[E0226]: unknown layer `LSTM`
  --> spec.rnn:4:9
   |
 4 |     h = LSTM(units)(x)
   |         ^^^^ not a cell or a known layer
   = note: `LSTM` is a cell of the standard library: `import "std/lstm.rnn"`
   = note: the layers: Activation, Add, AveragePooling1D, Concatenate, Dense, Dropout, Embedding, Gather, LayerNormalization, MaskedConv2D, Masking, MaxPooling1D, Mispredicted, Scatter, Subsample, UpSampling1D
   = note: the configurations of a cell: Bidirectional, EncoderDecoder, Stack
   = note: the cells in scope: Elman

error[E0226]: unknown layer `AvgPooling1D`
  --> spec.rnn:5:17
   |
 5 |     output h >> AvgPooling1D(2)
   |                 ^^^^^^^^^^^^ not a cell or a known layer
   = note: did you mean `AveragePooling1D`?
   = note: the layers: Activation, Add, AveragePooling1D, Concatenate, Dense, Dropout, Embedding, Gather, LayerNormalization, MaskedConv2D, Masking, MaxPooling1D, Mispredicted, Scatter, Subsample, UpSampling1D
   = note: the configurations of a cell: Bidirectional, EncoderDecoder, Stack
   = note: the cells in scope: Elman
""",
    ),
    "net_applies_a_network": (
        """
network M {
    input x: seq[4]
    output Dense(2)(x)
}
network N {
    input x: seq[4]
    output M(x)
}
""",
        """\
error[E0226]: `M` is a network, not a layer: a network is not applied in another
  --> spec.rnn:7:12
   |
 7 |     output M(x)
   |            ^ a network
   = note: apply the cells or layers it applies; where a cell has this name too, only the first definition \
counts (E0204)
""",
    ),
    "wrapper_of_a_wrapper": (
        """
import "std/elman.rnn"
network N(units: int = 8) {
    input x: seq[4]
    output Stack(Bidirectional(Elman(units)), depth=2)(x)
}
""",
        """\
error[E0209]: `Stack` wraps a cell
  --> spec.rnn:4:18
   |
 4 |     output Stack(Bidirectional(Elman(units)), depth=2)(x)
   |                  ^^^^^^^^^^^^^^^^^^^^^^^^^^^ expected a cell such as `LSTM(units)`
   = note: a `Stack` of `Bidirectional` layers is written as a chain of them, one per layer: \
`x >> Bidirectional(Elman(units)) >> Bidirectional(Elman(units))`
""",
    ),
    "net_layer_not_applied": (
        """
network N(units: int = 8) {
    input x: seq[4]
    y = Dense(units)
    output x + x
}
""",
        """\
error[E0227]: `Dense(...)` is a layer; apply it to a value
  --> spec.rnn:3:9
   |
 3 |     y = Dense(units)
   |         ^^^^^^^^^^^^ write `Dense(...)(x)` or `x >> Dense(...)`

error[E0228]: a network combines values with layers
  --> spec.rnn:4:12
   |
 4 |     output x + x
   |            ^^^^^ not a layer application
   = note: apply layers: `Dense(10)(x)`, `x >> LSTM(64)`; combine values with `Add()(a, b)` or `Concatenate()(a, b)`
""",
    ),
    "net_arguments": (
        """
cell R(units: int) {
    input x: [in]
    param W: [units, in]
    h[t] = tanh(W @ x[t] + h[t-1])
    output h
}

network N(units: int = 8) {
    input x: seq[4]
    a = Bidirectional(R(units), merge=add)(x)
    b = R()(x)
    c = Dense(units, activation=sigmod)(x)
    d = R(units)(x, x)
    output a
}
""",
        """\
error[E0209]: argument `merge` of `Bidirectional` must be one of concat, sum, mul, ave
   --> spec.rnn:10:39
    |
 10 |     a = Bidirectional(R(units), merge=add)(x)
    |                                       ^^^ not one of those

error[E0209]: cell `R` needs its argument `units`
   --> spec.rnn:11:9
    |
 11 |     b = R()(x)
    |         ^^^ `units` is missing

error[E0209]: argument `activation` of `Dense` must be an activation function
   --> spec.rnn:12:33
    |
 12 |     c = Dense(units, activation=sigmod)(x)
    |                                 ^^^^^^ not an activation
    = note: did you mean `sigmoid`?
    = note: activations are linear, none, sigmoid, tanh, relu, elu, selu, gelu, silu, softplus, softsign, hard_sigmoid, exp, log, sqrt, abs, square, sign, sin, cos, step, softmax, log_softmax

error[E0231]: cell `R` takes 1 input, given 2
   --> spec.rnn:13:9
    |
 13 |     d = R(units)(x, x)
    |         ^^^^^^^^^^^^^^
""",
    ),
    "net_types": (
        """
network N(units: int = 8) {
    input x: sequence[4]
    input y: seq[]
    input z: grid[3]
    output Dense(2)(x)
}
""",
        """\
error[E0230]: unknown type `sequence`
  --> spec.rnn:2:14
   |
 2 |     input x: sequence[4]
   |              ^^^^^^^^ not a kind of value
   = note: kinds are seq, vec, tree and grid

error[E0230]: `seq[]` has no features
  --> spec.rnn:3:14
   |
 3 |     input y: seq[]
   |              ^^^^^ write `seq[32]`, or `seq[int]` for tokens

error[E0230]: a grid has at least two dimensions: `grid[H, W, ...]`
  --> spec.rnn:4:14
   |
 4 |     input z: grid[3]
   |              ^^^^^^^
""",
    ),
    "net_defined_twice": (
        """
network N(units: int = 8) {
    input x: seq[4]
    x = Dense(units)(x)
    output x
}
""",
        """\
error[E0204]: `x` is defined twice
  --> spec.rnn:3:5
   |
 3 |     x = Dense(units)(x)
   |     ^ second definition
""",
    ),
    "states_in_and_out": (
        """
import "std/cells.rnn"

network Bad(units: int = 16) {
    input source: seq[8]
    input target: seq[5]
    enc_c, enc_h = LSTM(units, returns=states)(source)
    a = LSTM(units)(target, c=enc_c, hh=enc_h)
    b = LSTM(units)(target, c=enc_c)
    e = Stack(GRU(units))(target, h=enc_c)
    f = Dense(3)(target, h=enc_c)
    x, y, z = LSTM(units, returns=states)(source)
    output LSTM(units, returns=states)(source)
    output Bidirectional(LSTM(units, returns=states))(source)
}
""",
        """\
error[E0209]: cell `LSTM` has no state `hh` (its states: c, h)
  --> spec.rnn:7:38
   |
 7 |     a = LSTM(units)(target, c=enc_c, hh=enc_h)
   |                                      ^^ not a state
   = note: did you mean `h`?

error[E0209]: give every initial state of `LSTM` or none: `h` missing
  --> spec.rnn:8:9
   |
 8 |     b = LSTM(units)(target, c=enc_c)
   |         ^^^^^^^^^^^^^^^^^^^^^^^^^^^^

error[E0209]: `Stack` takes its inputs by position
  --> spec.rnn:9:35
   |
 9 |     e = Stack(GRU(units))(target, h=enc_c)
   |                                   ^ a keyword input
   = note: initial states by keyword are given to a cell applied on its own

error[E0209]: `Dense` takes its inputs by position
   --> spec.rnn:10:26
    |
 10 |     f = Dense(3)(target, h=enc_c)
    |                          ^ a keyword input
    = note: initial states by keyword are given to cells

error[E0214]: `LSTM` has 2 states (c, h): bind 2 names, given 3
   --> spec.rnn:11:5
    |
 11 |     x, y, z = LSTM(units, returns=states)(source)
    |     ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^

error[E0214]: the states of `LSTM` are several values: bind them to names
   --> spec.rnn:12:12
    |
 12 |     output LSTM(units, returns=states)(source)
    |            ^^^^^^^^^^^^^^^^^^^^^^^^^^^ returns=states
    = note: write `c, h = LSTM(..., returns=states)(...)`

error[E0209]: `Bidirectional` does not give its cell's states
   --> spec.rnn:13:26
    |
 13 |     output Bidirectional(LSTM(units, returns=states))(source)
    |                          ^^^^^^^^^^^^^^^^^^^^^^^^^^^ returns=states
    = note: apply the cell on its own to take its states
""",
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_diagnostic_text(name):
    spec, expected = CASES[name]
    assert diagnostics(spec) + "\n" == expected


# ---------------------------------------------------------------- imports


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


ELMAN = """cell E(units: int) {
    input x: [in]
    param W: [units, in]
    param U: [units, units]
    h[t] = tanh(W @ x[t] + U @ h[t-1])
    output h
}
"""


def test_import_relative_then_standard_library(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "lib" / "e.rnn", ELMAN)
    main = _write(tmp_path / "main.rnn", 'import "lib/e.rnn"\nimport "std/lstm.rnn"\n\n'
                  "network N {\n    input x: seq[3]\n    output x >> E(4) >> LSTM(8)\n}\n")
    program, errors = check_file(main)
    assert not errors
    assert {"E", "LSTM"} <= set(program.cells) and set(program.networks) == {"N"}
    assert program.main == ["N"]
    assert program.bound.files == ["main.rnn", "lib/e.rnn", program.bound.files[2]]
    assert program.bound.files[2].endswith("specs/std/lstm.rnn")


def test_the_same_file_imported_twice_is_read_once(tmp_path):
    _write(tmp_path / "e.rnn", ELMAN)
    _write(tmp_path / "f.rnn", 'import "e.rnn"\n')
    main = _write(tmp_path / "main.rnn", 'import "e.rnn"\nimport "f.rnn"\n')
    program, errors = check_file(main)
    assert not errors and list(program.cells) == ["E"]


def test_import_errors(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "a.rnn", 'import "b.rnn"\n')
    _write(tmp_path / "b.rnn", 'import "a.rnn"\n')
    (tmp_path / "bin.rnn").write_bytes(b"\xff\xfe cell")
    _write(tmp_path / "twice.rnn", ELMAN)
    main = _write(tmp_path / "main.rnn",
                  'import "a.rnn"\nimport "nowhere.rnn"\nimport "bin.rnn"\nimport "twice.rnn"\n\n' + ELMAN)
    _, errors = check_file(main)
    assert sorted(e.code for e in errors) == ["E0204", "E0501", "E0502", "E0503"]
    by_code = {e.code: e.render() for e in errors}
    assert by_code["E0502"] == """\
error[E0502]: import cycle: main.rnn -> a.rnn -> b.rnn -> a.rnn
  --> b.rnn:1:8
   |
 1 | import "a.rnn"
   |        ^^^^^^^ imports a file that imports this one"""
    assert by_code["E0501"] == f"""\
error[E0501]: cannot find `nowhere.rnn`
  --> main.rnn:2:8
   |
 2 | import "nowhere.rnn"
   |        ^^^^^^^^^^^^^ no such spec file
   = note: looked in . and the standard library ({display_path(stdlib_root())})
   = note: give other folders to search with --path DIR or RNNDSL_PATH"""
    assert by_code["E0503"] == """\
error[E0503]: bin.rnn is not UTF-8 text (byte 0 is 0xff)
  --> main.rnn:3:8
   |
 3 | import "bin.rnn"
   |        ^^^^^^^^^ cannot read this import"""
    assert by_code["E0204"] == """\
error[E0204]: `E` is defined twice
  --> twice.rnn:1:6
   |
 1 | cell E(units: int) {
   |      ^ second definition
   = note: first defined at main.rnn:6:6"""


def test_syntax_errors_in_an_imported_file_are_reported(tmp_path):
    _write(tmp_path / "bad.rnn", "cell B {\n    h[t]: x[t]\n}\n")
    main = _write(tmp_path / "main.rnn", 'import "bad.rnn"\n')
    _, errors = check_file(main)
    assert [e.code for e in errors] == ["E0104"]
    assert errors[0].span.file.endswith("bad.rnn")


# ---------------------------------------------------------------- what resolve binds


def test_states_are_the_values_read_at_a_delay_in_equation_order():
    program = checked("""
        cell S(units: int) solver euler(step=0.5) {
            input x: [units]
            a[t] = x[t] + b[t-2]
            b[t] = tanh(a[t])
            d/dt y = -y + b[t]
            c[t] = a[t] + x[t-1]
            output c
        }
    """)
    g = program.graph("S")
    assert g.header.states == ("b", "y", "x")
    assert g.header.delays == {"x": 1, "b": 2, "a": 0, "y": 0}
    assert (g.header.solver, g.header.step) == ("euler", 0.5)


def test_hyperparameter_defaults_are_typed():
    program = checked("""
        cell H(units: int = 8, rate: float = 1, on: bool = true, mode: str = "a") {
            input x: [units]
            h[t] = tanh(x[t] * rate + h[t-1])
            output h
        }
    """)
    hp = program.graph("H").header.hparams
    assert [(h.name, h.type, h.default) for h in hp.values()] == [
        ("units", "int", 8), ("rate", "float", 1.0), ("on", "bool", True), ("mode", "str", "a")]


def test_a_delay_is_at_most_ten_thousand_steps():
    checked("cell A(n: int = 2) {\n    input x: [n]\n    h[t] = x[t] + h[t-10000]\n    output h\n}\n")
    assert diagnostics("cell A(n: int = 2) {\n    input x: [n]\n    h[t] = x[t] + h[t-100000000]\n"
                       "    output h\n}\n") == """\
error[E0105]: `h[t-100000000]` reads too far back
  --> spec.rnn:3:21
   |
 3 |     h[t] = x[t] + h[t-100000000]
   |                     ^^^^^^^^^^^ a delay is at most 10000 steps
   = note: the cell would carry h's last 100000000 values in its state"""
