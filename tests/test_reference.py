"""Every standard-library cell, lowered to Keras, against an independent NumPy reference.

Correctness is shown against a reference: for each cell in
`specs/std/` (tree cells excepted: they are not lowered yet) the lowered layer's
output sequence and its gradients are compared with a float64 NumPy
implementation of the paper's equations, written here from the papers and the
specs' docstrings, not from `rnndsl/keras/`.

- forward: the Keras layer's output sequence (float32) against the reference
  (float64, on the same float32-rounded weights);
- gradient: d/d(input, every trainable weight) of `sum(output * R)`, R a fixed
  random tensor, from `tf.GradientTape`, against central finite differences of
  the float64 reference.

Each runs over 1, 3 and 7 steps, from the spec's initial state and from a
random initial state passed in the spec's state order (whose gradient is checked
too). The NTM needs the second: from its spec start every slot is alike, and
stays so, so shifting, interpolation and sharpening are only exercised from a
state that tells the slots apart (see `_ntm_state`).

Sizes are small (batch 2, input 3, units 4; NTM: controller 5, 6 slots of
width 3, 3 shifts) and every random draw is seeded.

Four cases are cells written here, not in `specs/`: constant subexpressions (`1 - a`,
`2 * 3`, `1e-6 * tb`) in the work that lowering does before the time loop, which
once failed at the first call (they are lowered with that work always hoisted).

The binary associative memories (Hopfield 1982, BAM) step by sign functions and
have their own tests at the end: exact states, the `energy` value and
`rnndsl.train.recall.recall`'s energies against the formula, and the one gradient
they have. The continuous Hopfield network is a case, and its energy is
checked against Hopfield's (1984) with the integral taken numerically.
(Hebbian storage and the ridge readout's closed form are checked in
tests/test_fit.py.)
"""

from __future__ import annotations

import functools
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from helpers import central_differences
import rnndsl

STD = Path(__file__).resolve().parent.parent / "specs" / "std"

BATCH = 2
INPUT_DIM = 3
LENGTHS = (1, 3, 7)
FD_EPS = 1e-6


# ------------------------------------------------------------- NumPy references
#
# Each reference maps (params: {name: float64 array in the spec's shape},
# x: [batch, T, in]) to the output sequence [batch, T, out]. A matrix-vector
# product `W @ v` of the paper is `v @ W.T` on a batch of row vectors.


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def softplus(z):
    return np.logaddexp(0.0, z)


def softmax(z, axis=-1):
    z = z - z.max(axis=axis, keepdims=True)
    ez = np.exp(z)
    return ez / ez.sum(axis=axis, keepdims=True)


def elman(p, x, state0, **hp):
    """Elman (1990): h[t] = tanh(W x[t] + U h[t-1] + b). States: [h]."""
    (h,) = state0
    ys = []
    for t in range(x.shape[1]):
        h = np.tanh(x[:, t] @ p["W"].T + h @ p["U"].T + p["b"])
        ys.append(h)
    return np.stack(ys, axis=1)


def jordan(p, x, state0, **hp):
    """Jordan (1986): h[t] = tanh(W x[t] + U y[t-1] + b), y[t] = sigmoid(V h[t] + c). States: [y]."""
    (y,) = state0
    ys = []
    for t in range(x.shape[1]):
        h = np.tanh(x[:, t] @ p["W"].T + y @ p["U"].T + p["b"])
        y = sigmoid(h @ p["V"].T + p["c"])
        ys.append(y)
    return np.stack(ys, axis=1)


def lstm(p, x, state0, **hp):
    """LSTM with a forget gate (Hochreiter & Schmidhuber 1997; Gers et al. 2000). States: [c, h]."""
    c, h = state0
    ys = []
    for t in range(x.shape[1]):
        xt = x[:, t]

        def gate(k):
            return xt @ p["W_" + k].T + h @ p["U_" + k].T + p["b_" + k]

        i, f, o = sigmoid(gate("i")), sigmoid(gate("f")), sigmoid(gate("o"))
        g = np.tanh(gate("c"))
        c = f * c + i * g
        h = o * np.tanh(c)
        ys.append(h)
    return np.stack(ys, axis=1)


def gru(p, x, state0, **hp):
    """GRU (Cho et al. 2014), reset-after (Keras reset_after=True, cuDNN, PyTorch). States: [h]."""
    (h,) = state0
    ys = []
    for t in range(x.shape[1]):
        xt = x[:, t]
        z = sigmoid(xt @ p["W_z"].T + p["bx_z"] + h @ p["U_z"].T + p["bh_z"])
        r = sigmoid(xt @ p["W_r"].T + p["bx_r"] + h @ p["U_r"].T + p["bh_r"])
        hh = np.tanh(xt @ p["W_h"].T + p["bx_h"] + r * (h @ p["U_h"].T + p["bh_h"]))
        h = z * h + (1.0 - z) * hh
        ys.append(h)
    return np.stack(ys, axis=1)


def peephole_lstm(p, x, state0, **hp):
    """LSTM with peepholes (Gers & Schmidhuber 2000), the vanilla LSTM of Greff et al. (2017). States: [c, h].

    Greff et al.'s vanilla LSTM: block input z = g(W_z x + R_z y[t-1] + b_z); the input and forget
    gates see c[t-1] through the diagonal peepholes p_i, p_f, the output gate sees c[t]
    through p_o; y = o * h(c). Here z is g, R is U and y is h."""
    c, h = state0
    ys = []
    for t in range(x.shape[1]):
        xt = x[:, t]

        def pre(k):
            return xt @ p["W_" + k].T + h @ p["U_" + k].T + p["b_" + k]

        g = np.tanh(pre("c"))
        i = sigmoid(pre("i") + p["p_i"] * c)
        f = sigmoid(pre("f") + p["p_f"] * c)
        c = g * i + c * f
        o = sigmoid(pre("o") + p["p_o"] * c)
        h = o * np.tanh(c)
        ys.append(h)
    return np.stack(ys, axis=1)


def coupled_lstm(p, x, state0, **hp):
    """CIFG (Greff et al. 2017): the vanilla LSTM with f = 1 - i; peepholes on i (c[t-1]), o (c[t]). States: [c, h]."""
    c, h = state0
    ys = []
    for t in range(x.shape[1]):
        xt = x[:, t]

        def pre(k):
            return xt @ p["W_" + k].T + h @ p["U_" + k].T + p["b_" + k]

        g = np.tanh(pre("c"))
        i = sigmoid(pre("i") + p["p_i"] * c)
        f = 1.0 - i
        c = g * i + c * f
        o = sigmoid(pre("o") + p["p_o"] * c)
        h = o * np.tanh(c)
        ys.append(h)
    return np.stack(ys, axis=1)


def gru_reset_before(p, x, state0, **hp):
    """GRU as Cho et al. (2014) define it: r * h[t-1] enters U_h; h = z h[t-1] + (1 - z) hh. States: [h]."""
    (h,) = state0
    ys = []
    for t in range(x.shape[1]):
        xt = x[:, t]
        r = sigmoid(xt @ p["W_r"].T + h @ p["U_r"].T + p["b_r"])
        z = sigmoid(xt @ p["W_z"].T + h @ p["U_z"].T + p["b_z"])
        hh = np.tanh(xt @ p["W_h"].T + (r * h) @ p["U_h"].T + p["b_h"])
        h = z * h + (1.0 - z) * hh
        ys.append(h)
    return np.stack(ys, axis=1)


def mgu(p, x, state0, **hp):
    """Minimal gated unit (Zhou et al. 2016): f = sigma(W_f [h[t-1], x] + b_f) resets and updates. States: [h].

    hh = tanh(W_h [f * h[t-1], x] + b_h), h = (1 - f) h[t-1] + f hh; the paper's one matrix
    over the concatenation [h, x] is the spec's U and W side by side."""
    (h,) = state0
    ys = []
    for t in range(x.shape[1]):
        xt = x[:, t]
        f = sigmoid(np.concatenate([h, xt], -1) @ np.concatenate([p["U_f"], p["W_f"]], 1).T + p["b_f"])
        hh = np.tanh(np.concatenate([f * h, xt], -1) @ np.concatenate([p["U_h"], p["W_h"]], 1).T + p["b_h"])
        h = (1.0 - f) * h + f * hh
        ys.append(h)
    return np.stack(ys, axis=1)


def _dey_salem(p, x, state0, gates):
    """The GRU of Dey & Salem (2017) with the gates (z, r) = gates(h[t-1]) of one variant. States: [h].

    hh = tanh(W_h x + U_h (r * h[t-1]) + b_h), h = (1 - z) h[t-1] + z hh."""
    (h,) = state0
    ys = []
    for t in range(x.shape[1]):
        z, r = gates(h)
        hh = np.tanh(x[:, t] @ p["W_h"].T + (r * h) @ p["U_h"].T + p["b_h"])
        h = (1.0 - z) * h + z * hh
        ys.append(h)
    return np.stack(ys, axis=1)


def gru1(p, x, state0, **hp):
    """Dey & Salem (2017) variant 1: z = sigma(U_z h[t-1] + b_z), r = sigma(U_r h[t-1] + b_r)."""
    return _dey_salem(p, x, state0, lambda h: (sigmoid(h @ p["U_z"].T + p["b_z"]), sigmoid(h @ p["U_r"].T + p["b_r"])))


def gru2(p, x, state0, **hp):
    """Dey & Salem (2017) variant 2: z = sigma(U_z h[t-1]), r = sigma(U_r h[t-1])."""
    return _dey_salem(p, x, state0, lambda h: (sigmoid(h @ p["U_z"].T), sigmoid(h @ p["U_r"].T)))


def gru3(p, x, state0, **hp):
    """Dey & Salem (2017) variant 3: z = sigma(b_z), r = sigma(b_r), one trained constant per unit."""
    return _dey_salem(p, x, state0, lambda h: (np.broadcast_to(sigmoid(p["b_z"]), h.shape),
                                                np.broadcast_to(sigmoid(p["b_r"]), h.shape)))


def indrnn(p, x, state0, **hp):
    """IndRNN (Li et al. 2018): h[t] = relu(W x[t] + u * h[t-1] + b), u element-wise. States: [h]."""
    (h,) = state0
    ys = []
    for t in range(x.shape[1]):
        h = np.maximum(x[:, t] @ p["W"].T + p["u"] * h + p["b"], 0.0)
        ys.append(h)
    return np.stack(ys, axis=1)


def clockwork(p, x, state0, *, units, modules):
    """Clockwork RNN (Koutnik et al. 2014): module i (units / modules units each) has period 2 ** i and runs
    at the steps t (from 1) with t mod 2 ** i == 0, hearing its own module and the slower ones; the others hold.

    States: [h, the step count]; the count is a whole number, read as one."""
    h, count = state0
    period = 2.0 ** (np.arange(units) * modules // units)
    hears = period[None, :] >= period[:, None]  # [to, from]
    ys = []
    for step in range(x.shape[1]):
        t = np.rint(count[:, :1]) + step + 1  # (batch, 1)
        new = np.tanh(x[:, step] @ p["W"].T + h @ (p["U"] * hears).T + p["b"])
        h = np.where(t % period == 0, new, h)
        ys.append(h)
    return np.stack(ys, axis=1)


def hmlstm(p, x, state0, *, units, slope=1.0):
    """Hierarchical multiscale LSTM (Chung, Ahn & Bengio 2017), two layers, its cases written as the paper does.

    States: [z1, c1, h1, z2, c2, h2], z the 0/1 boundaries (one per sequence)."""
    z1, c1, h1, z2, c2, h2 = state0
    z1, z2 = z1[:, 0], z2[:, 0]

    def detect(a):
        return (np.clip((slope * a + 1) / 2, 0, 1) > 0.5).astype(float)

    ys = []
    for t in range(x.shape[1]):
        xt = x[:, t]
        # layer 1: z^0 = 1, so UPDATE or FLUSH
        s = h1 @ p["U1"].T + z1[:, None] * (h2 @ p["T1"].T) + xt @ p["W1"].T + p["b1"]
        f, i, o, g = sigmoid(s[:, :units]), sigmoid(s[:, units:2 * units]), sigmoid(s[:, 2 * units:3 * units]), \
            np.tanh(s[:, 3 * units:])
        new_z1 = detect(h1 @ p["u1"] + z1 * (h2 @ p["t1"]) + xt @ p["w1"] + p["bz1"])
        c1 = np.where(z1[:, None] == 1, i * g, f * c1 + i * g)
        h1 = o * np.tanh(c1)
        # layer 2: FLUSH where its own last step ended a segment, UPDATE where layer 1 just did, else COPY
        s = h2 @ p["U2"].T + new_z1[:, None] * (h1 @ p["W2"].T) + p["b2"]
        f, i, o, g = sigmoid(s[:, :units]), sigmoid(s[:, units:2 * units]), sigmoid(s[:, 2 * units:3 * units]), \
            np.tanh(s[:, 3 * units:])
        new_z2 = detect(h2 @ p["u2"] + new_z1 * (h1 @ p["w2"]) + p["bz2"])
        flush, update = (z2 == 1)[:, None], ((z2 == 0) & (new_z1 == 1))[:, None]
        c2_new = np.where(flush, i * g, np.where(update, f * c2 + i * g, c2))
        h2 = np.where(flush | update, o * np.tanh(c2_new), h2)
        c2, z1, z2 = c2_new, new_z1, new_z2
        ys.append(np.concatenate([h1, h2], axis=1))
    return np.stack(ys, axis=1)


def ctrnn(p, x, state0, *, dt, **hp):
    """Beer (1995): tau dy/dt = -y + W sigmoid(y - theta) + W_in I, one classical RK4 step of dt per step.

    States: [y]."""
    (y,) = state0
    ys = []
    for t in range(x.shape[1]):
        drive = x[:, t] @ p["W_in"].T  # the input is held constant over the step

        def f(v):
            return (-v + sigmoid(v - p["theta"]) @ p["W"].T + drive) / p["tau"]

        k1 = f(y)
        k2 = f(y + 0.5 * dt * k1)
        k3 = f(y + 0.5 * dt * k2)
        k4 = f(y + dt * k3)
        y = y + dt / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        ys.append(y)
    return np.stack(ys, axis=1)


def ctrnn_euler(p, x, state0, *, dt, **hp):
    """Beer (1995) by forward Euler: y <- y + dt / tau (-y + W sigmoid(y - theta) + W_in I). States: [y]."""
    (y,) = state0
    ys = []
    for t in range(x.shape[1]):
        y = y + dt * (-y + sigmoid(y - p["theta"]) @ p["W"].T + x[:, t] @ p["W_in"].T) / p["tau"]
        ys.append(y)
    return np.stack(ys, axis=1)


def esn(p, x, state0, *, leak, **hp):
    """Leaky echo state network (Jaeger 2001; Jaeger et al. 2007). States: [h]."""
    (h,) = state0
    ys = []
    for t in range(x.shape[1]):
        h = (1.0 - leak) * h + leak * np.tanh(x[:, t] @ p["W_in"].T + h @ p["W"].T)
        ys.append(h)
    return np.stack(ys, axis=1)


def esn_readout(p, x, state0, *, leak, **hp):
    """Jaeger (2001) with its linear readout: the leaky reservoir, then y[t] = W_out [x[t]; h[t]] + b_out.

    The readout sees the input and the state of the same step (Lukosevicius 2012). States: [h]."""
    h_seq = esn(p, x, state0, leak=leak)
    z = np.concatenate([x, h_seq], axis=-1)
    return z @ p["W_out"].T + p["b_out"]


def fully_recurrent(p, x, state0, **hp):
    """Williams & Zipser (1989): s_k = sum_l w_kl z_l over z = [x; y; 1], y_k <- f(s_k), f logistic. States: [h].

    One weight matrix over the input lines, the units and the constant line; a connection
    that the 0/1 mask M removes is a zero entry of the units' block."""
    (h,) = state0
    w = np.concatenate([p["W"], p["M"] * p["U"], p["b"][:, None]], axis=1)
    ones = np.ones((x.shape[0], 1))
    ys = []
    for t in range(x.shape[1]):
        z = np.concatenate([x[:, t], h, ones], axis=-1)
        h = sigmoid(z @ w.T)
        ys.append(h)
    return np.stack(ys, axis=1)


def jordan_self(p, x, state0, *, mu, **hp):
    """Jordan (1986) with self-connected state units: s[t] = mu s[t-1] + y[t-1]. States: [s, y]."""
    s, y = state0
    ys = []
    for t in range(x.shape[1]):
        s = mu * s + y  # the output arrives with weight 1, the state's own value with weight mu
        h = np.tanh(x[:, t] @ p["W"].T + s @ p["U"].T + p["b"])
        y = sigmoid(h @ p["V"].T + p["c"])
        ys.append(y)
    return np.stack(ys, axis=1)


def second_order(p, x, state0, **hp):
    """Giles et al. (1992): S_i[t] = g(sum_jk W_ijk S_j[t-1] I_k[t] + b_i), g logistic. States: [h].

    Written as the input choosing a transition matrix: A(x)_ij = sum_k W_ijk x_k, then A(x) h."""
    (h,) = state0
    ys = []
    for t in range(x.shape[1]):
        A = np.tensordot(x[:, t], p["W"], axes=([1], [2]))  # [batch, units, units]
        h = sigmoid(np.einsum("bij,bj->bi", A, h) + p["b"])
        ys.append(h)
    return np.stack(ys, axis=1)


def mtrnn(p, x, state0, *, tau_fast, tau_slow, **hp):
    """Yamashita & Tani (2008): u_i[t] = (1 - 1/tau_i) u_i[t-1] + 1/tau_i sum_j w_ij x_j[t]. States: [u_f, u_s].

    x_j[t] is the input for an input unit and y_j[t-1] = sigmoid(u_j[t-1] + b_j) for a context
    unit. One weight matrix w over [input; fast; slow], zero where the paper has no connection
    (input to slow), one time constant per unit."""
    u_f, u_s = state0
    nf, ns, d = u_f.shape[-1], u_s.shape[-1], x.shape[-1]
    w = np.block([[p["W_fx"], p["W_ff"], p["W_fs"]],
                  [np.zeros((ns, d)), p["W_sf"], p["W_ss"]]])
    tau = np.concatenate([np.full(nf, tau_fast), np.full(ns, tau_slow)])
    b = np.concatenate([p["b_f"], p["b_s"]])
    u = np.concatenate([u_f, u_s], axis=-1)
    ys = []
    for t in range(x.shape[1]):
        xs = np.concatenate([x[:, t], sigmoid(u + b)], axis=-1)  # the context units' previous activity
        u = (1.0 - 1.0 / tau) * u + (xs @ w.T) / tau
        ys.append(sigmoid(u + b)[:, :nf])  # the fast units
    return np.stack(ys, axis=1)


def rmlp(p, x, state0, **hp):
    """Recurrent multilayer perceptron (Puskorius & Feldkamp 1994): each hidden layer sees the layer below
    now and itself one step back; a linear output layer. States: [h1, h2]."""
    h1, h2 = state0
    ys = []
    for t in range(x.shape[1]):
        h1 = np.tanh(x[:, t] @ p["W_1"].T + h1 @ p["U_1"].T + p["b_1"])
        h2 = np.tanh(h1 @ p["W_2"].T + h2 @ p["U_2"].T + p["b_2"])
        ys.append(h2 @ p["V"].T + p["c"])
    return np.stack(ys, axis=1)


def _rk4(f, y, dt):
    k1 = f(y)
    k2 = f(y + 0.5 * dt * k1)
    k3 = f(y + 0.5 * dt * k2)
    k4 = f(y + dt * k3)
    return y + dt / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)


def memristive_rate(w, S, Omega, *, alpha, beta, xi, exact=False):
    """Caravelli, Traversa & Di Ventra (2017): dw/dt = alpha w - 1/beta (I + xi Omega W)^-1 Omega S, W = diag(w).

    w, S: [batch, n]. exact=False replaces the inverse by its first-order expansion in xi,
    I - xi Omega W, the form that specs/std/memristive.rnn writes."""
    n = w.shape[-1]
    out = np.empty_like(w)
    for i in range(w.shape[0]):
        M = np.eye(n) + xi * Omega @ np.diag(w[i])
        inv = np.linalg.inv(M) if exact else np.eye(n) - xi * Omega @ np.diag(w[i])
        out[i] = alpha * w[i] - inv @ (Omega @ S[i]) / beta
    return out


def memristive(p, x, state0, *, alpha, beta, xi, dt, exact=False, **hp):
    """The memristive network, one classical RK4 step of dt per sequence step, the sources S = W_in x held. States: [w]."""
    (w,) = state0
    ys = []
    for t in range(x.shape[1]):
        S = x[:, t] @ p["W_in"].T
        w = _rk4(lambda v: memristive_rate(v, S, p["Omega"], alpha=alpha, beta=beta, xi=xi, exact=exact), w, dt)
        ys.append(w)
    return np.stack(ys, axis=1)


def continuous_hopfield(p, x, state0, *, gain, dt, **hp):
    """Hopfield (1984), unit C and R: du/dt = -u + W V + I, V = tanh(gain u); one Euler step of dt a step.

    The input I[t] is held over the step; the output is V at the end of it. States: [u]."""
    (u,) = state0
    ys = []
    for t in range(x.shape[1]):
        u = u + dt * (-u + np.tanh(gain * u) @ p["W"].T + x[:, t])
        ys.append(np.tanh(gain * u))
    return np.stack(ys, axis=1)


def hopfield_1984_energy(W, V, I, *, gain):
    """Hopfield (1984) eq. 7 with R = 1: E = -1/2 V'WV - I'V + sum_i int_0^V_i g^-1(v) dv, g^-1(v) = atanh(v) / gain.

    The integral by 40-point Gauss-Legendre quadrature, not by its closed form. V, I: [..., n]."""
    nodes, weights = np.polynomial.legendre.leggauss(40)
    half = V[..., None] / 2.0  # [0, V] mapped from [-1, 1]
    integral = np.sum(half * weights * np.arctanh(half * (nodes + 1.0)), axis=-1) / gain
    return -0.5 * np.einsum("...i,ij,...j->...", V, W, V) - np.sum(I * V, axis=-1) + np.sum(integral, axis=-1)


def hopfield(p, update, state0):
    """Hopfield (1982), binary units s in {-1, +1}, each updating where the schedule marks it (1):

    s_i <- +1 if sum_j W_ij s_j >= theta_i else -1 (the sign of 0 field over 0 threshold is +1),
    all marked units at once from the previous state; unmarked ones hold.
    Returns the states [batch, T, n] and the energy E = -1/2 s'Ws + theta's after each step [batch, T]."""
    (s,) = state0
    ss, es = [], []
    for t in range(update.shape[1]):
        flipped = np.where(s @ p["W"].T >= p["theta"], 1.0, -1.0)
        s = np.where(update[:, t] == 1.0, flipped, s)
        ss.append(s)
        es.append(-0.5 * np.einsum("bi,ij,bj->b", s, p["W"], s) + s @ p["theta"])
    return np.stack(ss, axis=1), np.stack(es, axis=1)


def bam(p, state0, T):
    """Kosko (1988): y[t] = sgn(W x[t-1]), x[t] = sgn(W' y[t]), sgn(0) = +1. Returns (x, y): [batch, T, size]."""
    (x,) = state0
    xs, ys = [], []
    for _ in range(T):
        y = np.where(x @ p["W"].T >= 0.0, 1.0, -1.0)  # W x, W: [m, n]
        x = np.where(y @ p["W"] >= 0.0, 1.0, -1.0)  # W' y
        xs.append(x)
        ys.append(y)
    return np.stack(xs, axis=1), np.stack(ys, axis=1)


# The denominator of cosine similarity is max(|a| |b|, COSINE_EPS); mirrors
# the epsilon that rnndsl's lowering uses so that the two agree where it bites
# (it does not in these tests: the memory starts at 1e-6, |M_i| |k| ~ 1e-7).
COSINE_EPS = 1e-8


def cosine_rows(M, k):
    """cosine(M, k) per row: M [batch, N, W], k [batch, W] -> [batch, N]."""
    num = np.einsum("bnw,bw->bn", M, k)
    den = np.linalg.norm(M, axis=-1) * np.linalg.norm(k, axis=-1)[:, None]
    return num / np.maximum(den, COSINE_EPS)


def circular_conv(w, s):
    """Graves et al. (2014) eq. 8: out[i] = sum_j s[j] w[(i - (j - K//2)) mod N]; w [batch, N], s [batch, K]."""
    K = s.shape[-1]
    out = np.zeros_like(w)
    for j in range(K):
        out = out + s[:, j : j + 1] * np.roll(w, j - K // 2, axis=-1)  # roll by o: out[i] = w[i - o]
    return out


def ntm(p, x, state0, *, slots, width, **hp):
    """Neural Turing machine, one read-write head (Graves, Wayne & Danihelka 2014), as specs/std/ntm.rnn.

    States, in the order of their equations: [ctrl, w, M (flattened row-major), r]."""
    ctrl, w, M, r = state0
    M = M.reshape(M.shape[0], slots, width)
    ys = []
    for t in range(x.shape[1]):
        ctrl = np.tanh(x[:, t] @ p["W_x"].T + r @ p["W_r"].T + ctrl @ p["W_h"].T + p["b_ctrl"])
        k = np.tanh(ctrl @ p["W_k"].T + p["b_k"])
        beta = softplus(ctrl @ p["v_beta"] + p["b_beta"])[:, None]
        g = sigmoid(ctrl @ p["v_g"] + p["b_g"])[:, None]
        s = softmax(ctrl @ p["W_s"].T + p["b_s"])
        gamma = 1.0 + softplus(ctrl @ p["v_gamma"] + p["b_gamma"])[:, None]
        e = sigmoid(ctrl @ p["W_e"].T + p["b_e"])
        a = np.tanh(ctrl @ p["W_a"].T + p["b_a"])
        w_c = softmax(beta * cosine_rows(M, k))  # content, from the old memory
        w_g = g * w_c + (1.0 - g) * w  # interpolation with the old weighting
        w_s = circular_conv(w_g, s)  # rotation
        w = w_s**gamma / np.sum(w_s**gamma, axis=-1, keepdims=True)  # sharpening
        M = M * (1.0 - w[:, :, None] * e[:, None, :]) + w[:, :, None] * a[:, None, :]
        r = np.einsum("bn,bnw->bw", w, M)
        ys.append(np.concatenate([ctrl, r], axis=-1))
    return np.stack(ys, axis=1)


# ------------------------------------------------------------------ the cases


# Constant subexpressions in hoisted work: the equations of the cells in CONSTANT_SPECS.


def decayed_input(p, x, state0, *, a, **hp):
    """h[t] = tanh((W x[t]) (1 - a) + h[t-1]). States: [h]."""
    (h,) = state0
    ys = []
    for t in range(x.shape[1]):
        h = np.tanh((x[:, t] @ p["W"].T) * (1 - a) + h)
        ys.append(h)
    return np.stack(ys, axis=1)


def shrunk_input(p, x, state0, **hp):
    """h[t] = tanh(x[t] (1 - 1e-6) + h[t-1]). States: [h]."""
    (h,) = state0
    ys = []
    for t in range(x.shape[1]):
        h = np.tanh(x[:, t] * (1 - 1e-6) + h)
        ys.append(h)
    return np.stack(ys, axis=1)


def scaled(p, x, state0, **hp):
    """y[t] = 6 x[t]; no state."""
    return x * 6.0


def shifted(p, x, state0, *, tb, **hp):
    """y[t] = x[t] + 1e-6 tb; no state."""
    return x + 1e-6 * tb


CONSTANT_SPECS = """
cell DecayedInput(units: int, a: float) {
    input x: [in]
    param W: [units, in]
    h[t] = tanh((W @ x[t]) * (1 - a) + h[t-1])
    output h
}

cell ShrunkInput {
    input x: [in]
    h[t] = tanh(x[t] * (1 - 1e-6) + h[t-1])
    output h
}

cell Scaled {
    input x: [in]
    y[t] = x[t] * (2 * 3)
    output y
}

cell Shifted(tb: float) {
    input x: [in]
    y[t] = x[t] + 1e-6 * tb
    output y
}
"""


def _normal(rng, shape):
    return rng.normal(0.0, 0.3, size=shape)


@dataclass(frozen=True)
class Case:
    file: str  # in specs/std/, or a spec's text
    cell: str
    hparams: dict
    reference: Callable
    shapes: dict  # spec parameter name -> shape (with INPUT_DIM for `in`)
    states: tuple  # the state sizes, in the spec's order (a matrix state flattened)
    out_dim: int
    fixed: frozenset = frozenset()  # parameters not trained: marked `fixed`, or `fit` (computed in closed form)
    init: dict = field(default_factory=dict)  # name -> (rng, shape) -> array, else normal * 0.3
    initial: tuple = ()  # the spec's initial value of each state where it is not 0
    random_state: Callable = None  # rng -> a given initial state, else normal * 0.5 for each
    lowering: dict = field(default_factory=dict)  # for rnndsl.keras.cell.cell_rnn: hoist, fuse
    # a straight-through estimator's gradient is not the forward function's, which finite differences see:
    # such a cell's gradient is checked against one written by hand instead (tests/test_hmlstm.py)
    straight_through: bool = False

    def spec_state(self, params):
        """The spec's initial state; a parameter's name stands for a learned initial state."""
        return [np.tile(params[v].reshape(1, -1), (BATCH, 1)) if isinstance(v, str) else np.full((BATCH, n), v)
                for n, v in zip(self.states, self.initial or (0.0,) * len(self.states))]

    def given_state(self, rng):
        if self.random_state is not None:
            return [np.asarray(s, np.float64) for s in self.random_state(rng)]
        return [rng.normal(0.0, 0.5, size=(BATCH, n)) for n in self.states]


def _ntm_state(rng):
    """A random NTM state [ctrl, w, M, r]: w a distribution, M with distinct rows.

    The spec's own start (M all 1e-6, w = 0) is symmetric in the slots and stays so:
    every row of M is equal, so content addressing gives a uniform weighting, which a
    rotation and a sharpening leave uniform, which writes every row alike. From it,
    shifts and interpolation are never exercised; from this state they are."""
    return [
        np.tanh(rng.normal(0.0, 0.5, size=(BATCH, C))),
        softmax(rng.normal(0.0, 1.5, size=(BATCH, N))),
        rng.normal(0.0, 0.5, size=(BATCH, N * W)),
        rng.normal(0.0, 0.5, size=(BATCH, W)),
    ]


def _mask(rng, shape):
    """A random 0/1 connectivity mask with both values present."""
    m = rng.integers(0, 2, size=shape).astype(np.float64)
    m.flat[0], m.flat[-1] = 0.0, 1.0
    return m


def _projector(rng, shape, loops=2):
    """Omega = A'(A A')^-1 A, the orthogonal projector onto the row space of a random cycle matrix A: [loops, n]."""
    A = rng.normal(size=(loops, shape[0]))
    return A.T @ np.linalg.inv(A @ A.T) @ A


U, D = 4, INPUT_DIM
C, N, W, K = 5, 6, 3, 3  # NTM: controller, slots, width, shifts

CASES = {
    "elman": Case(
        "elman.rnn", "Elman", dict(units=U), elman,
        dict(W=(U, D), U=(U, U), b=(U,)), (U,), U,
    ),
    "jordan": Case(
        "jordan.rnn", "Jordan", dict(hidden=U, out=2), jordan,
        dict(W=(U, D), U=(U, 2), b=(U,), V=(2, U), c=(2,)), (2,), 2,
    ),
    "lstm": Case(
        "lstm.rnn", "LSTM", dict(units=U), lstm,
        {**{f"W_{k}": (U, D) for k in "ifco"}, **{f"U_{k}": (U, U) for k in "ifco"},
         **{f"b_{k}": (U,) for k in "ifco"}}, (U, U), U,
    ),
    "gru": Case(
        "gru.rnn", "GRU", dict(units=U), gru,
        {**{f"W_{k}": (U, D) for k in "zrh"}, **{f"U_{k}": (U, U) for k in "zrh"},
         **{f"bx_{k}": (U,) for k in "zrh"}, **{f"bh_{k}": (U,) for k in "zrh"}}, (U,), U,
    ),
    "peephole_lstm": Case(
        "lstm_variants.rnn", "PeepholeLSTM", dict(units=U), peephole_lstm,
        {**{f"W_{k}": (U, D) for k in "ifco"}, **{f"U_{k}": (U, U) for k in "ifco"},
         **{f"b_{k}": (U,) for k in "ifco"}, **{f"p_{k}": (U,) for k in "ifo"}}, (U, U), U,
    ),
    "coupled_lstm": Case(
        "lstm_variants.rnn", "CoupledLSTM", dict(units=U), coupled_lstm,
        {**{f"W_{k}": (U, D) for k in "ico"}, **{f"U_{k}": (U, U) for k in "ico"},
         **{f"b_{k}": (U,) for k in "ico"}, **{f"p_{k}": (U,) for k in "io"}}, (U, U), U,
    ),
    "gru_reset_before": Case(
        "gru_variants.rnn", "GRUResetBefore", dict(units=U), gru_reset_before,
        {**{f"W_{k}": (U, D) for k in "zrh"}, **{f"U_{k}": (U, U) for k in "zrh"},
         **{f"b_{k}": (U,) for k in "zrh"}}, (U,), U,
    ),
    "mgu": Case(
        "gru_variants.rnn", "MGU", dict(units=U), mgu,
        {**{f"W_{k}": (U, D) for k in "fh"}, **{f"U_{k}": (U, U) for k in "fh"},
         **{f"b_{k}": (U,) for k in "fh"}}, (U,), U,
    ),
    "gru1": Case(
        "gru_variants.rnn", "GRU1", dict(units=U), gru1,
        {"W_h": (U, D), **{f"U_{k}": (U, U) for k in "zrh"}, **{f"b_{k}": (U,) for k in "zrh"}}, (U,), U,
    ),
    "gru2": Case(
        "gru_variants.rnn", "GRU2", dict(units=U), gru2,
        {"W_h": (U, D), **{f"U_{k}": (U, U) for k in "zrh"}, "b_h": (U,)}, (U,), U,
    ),
    "gru3": Case(
        "gru_variants.rnn", "GRU3", dict(units=U), gru3,
        {"W_h": (U, D), "U_h": (U, U), **{f"b_{k}": (U,) for k in "zrh"}}, (U,), U,
    ),
    "indrnn": Case(
        "indrnn.rnn", "IndRNN", dict(units=U), indrnn,
        dict(W=(U, D), u=(U,), b=(U,)), (U,), U,
        # inside max_abs(1) and with both signs; biases positive enough that no unit is dead
        init=dict(u=lambda rng, s: rng.uniform(-0.9, 0.9, s), b=lambda rng, s: rng.uniform(0.1, 0.4, s)),
        random_state=lambda rng: [rng.uniform(0.0, 1.0, size=(BATCH, U))],  # relu: h >= 0
    ),
    "clockwork": Case(
        "clockwork.rnn", "Clockwork", dict(units=6, modules=3), clockwork,
        dict(W=(6, D), U=(6, 6), b=(6,)), (6, 1), 6,
        # the count carried on from step 5, as a stateful layer or a chunk of truncated BPTT carries it
        random_state=lambda rng: [rng.normal(0.0, 0.5, size=(BATCH, 6)), np.full((BATCH, 1), 5.0)],
    ),
    "hmlstm": Case(
        "hmlstm.rnn", "HMLSTM", dict(units=3, slope=1.5), hmlstm,
        dict(W1=(12, D), U1=(12, 3), T1=(12, 3), b1=(12,), w1=(D,), u1=(3,), t1=(3,), bz1=(),
             W2=(12, 3), U2=(12, 3), b2=(12,), w2=(3,), u2=(3,), bz2=()), (1, 3, 3, 1, 3, 3), 6,
        # the boundaries start at 0 or 1, as a detector leaves them
        random_state=lambda rng: [rng.integers(0, 2, (BATCH, 1)).astype(float), rng.normal(0, 0.5, (BATCH, 3)),
                                  rng.normal(0, 0.5, (BATCH, 3)), rng.integers(0, 2, (BATCH, 1)).astype(float),
                                  rng.normal(0, 0.5, (BATCH, 3)), rng.normal(0, 0.5, (BATCH, 3))],
        straight_through=True,
    ),
    "ctrnn": Case(
        "ctrnn.rnn", "CTRNN", dict(units=U, dt=0.25), ctrnn,
        dict(W_in=(U, D), W=(U, U), theta=(U,), tau=(U,)), (U,), U,
        init=dict(tau=lambda rng, s: rng.uniform(0.5, 1.5, s)),  # time constants stay positive
    ),
    "ctrnn_euler": Case(
        "ctrnn.rnn", "CTRNNEuler", dict(units=U, dt=0.25), ctrnn_euler,
        dict(W_in=(U, D), W=(U, U), theta=(U,), tau=(U,)), (U,), U,
        init=dict(tau=lambda rng, s: rng.uniform(0.5, 1.5, s)),  # time constants stay positive
    ),
    "esn": Case(
        "esn.rnn", "ESN", dict(units=U, leak=0.7), esn,
        dict(W_in=(U, D), W=(U, U)), (U,), U,
        fixed=frozenset({"W_in", "W"}),
    ),
    "esn_readout": Case(
        "esn.rnn", "ESNReadout", dict(units=U, out=2, leak=0.7), esn_readout,
        dict(W_in=(U, D), W=(U, U), W_out=(2, D + U), b_out=(2,)), (U,), 2,
        fixed=frozenset({"W_in", "W", "W_out", "b_out"}),  # W_out, b_out: `fit ridge`
    ),
    "fully_recurrent": Case(
        "fully_recurrent.rnn", "FullyRecurrent", dict(units=U), fully_recurrent,
        dict(W=(U, D), U=(U, U), M=(U, U), b=(U,)), (U,), U,
        fixed=frozenset({"M"}),
        init=dict(M=_mask),  # a topology other than all-to-all, so that the mask is exercised
    ),
    "jordan_self": Case(
        "jordan.rnn", "JordanSelf", dict(hidden=U, out=2, mu=0.6), jordan_self,
        dict(W=(U, D), U=(U, 2), b=(U,), V=(2, U), c=(2,)), (2, 2), 2,
    ),
    "second_order": Case(
        "second_order.rnn", "SecondOrder", dict(units=U), second_order,
        dict(W=(U, U, D), b=(U,)), (U,), U,
    ),
    "mtrnn": Case(
        "mtrnn.rnn", "MTRNN", dict(fast=U, slow=3, tau_fast=2.0, tau_slow=5.0), mtrnn,
        {"W_fx": (U, D), "W_ff": (U, U), "W_fs": (U, 3), "W_sf": (3, U), "W_ss": (3, 3),
         "b_f": (U,), "b_s": (3,)}, (U, 3), U,
    ),
    "rmlp": Case(
        "rmlp.rnn", "RMLP", dict(hidden1=U, hidden2=3, out=2), rmlp,
        {"W_1": (U, D), "U_1": (U, U), "b_1": (U,), "W_2": (3, U), "U_2": (3, 3), "b_2": (3,),
         "V": (2, 3), "c": (2,)}, (U, 3), 2,
    ),
    "memristive": Case(
        "memristive.rnn", "Memristive", dict(units=U, alpha=0.2, beta=0.5, xi=0.4, dt=0.25), memristive,
        dict(W_in=(U, D), Omega=(U, U)), (U,), U,
        fixed=frozenset({"Omega"}),
        init=dict(Omega=_projector),  # a circuit's loop projector, not the identity of the spec
    ),
    "continuous_hopfield": Case(
        # its input I drives each unit: units = the input's size
        "hopfield.rnn", "ContinuousHopfield", dict(units=D, gain=1.5, dt=0.2), continuous_hopfield,
        dict(W=(D, D)), (D,), D,
        fixed=frozenset({"W"}),  # `fit hebbian`; a random W, not symmetric, so that W and W' differ
    ),
    "ntm": Case(
        "ntm.rnn", "NTM", dict(controller=C, slots=N, width=W, shifts=K), ntm,
        {"W_x": (C, D), "W_r": (C, W), "W_h": (C, C), "b_ctrl": (C,),
         "W_k": (W, C), "W_e": (W, C), "W_a": (W, C), "W_s": (K, C),
         "b_k": (W,), "b_e": (W,), "b_a": (W,), "b_s": (K,),
         "v_beta": (C,), "v_g": (C,), "v_gamma": (C,),
         "b_beta": (), "b_g": (), "b_gamma": (), "w0": (N,)},
        (C, N, N * W, W), C + W,
        # sharper content addressing than normal * 0.3 gives, so that the weighting moves
        init=dict(v_beta=lambda rng, s: rng.normal(0.0, 1.0, s), b_beta=lambda rng, s: np.array(2.0),
                  w0=lambda rng, s: rng.uniform(0.05, 1.0, s)),  # a weighting: positive, as the spec draws it
        initial=(0.0, "w0", 1e-6, 0.0),
        random_state=_ntm_state,
    ),
    # a cell without state carries one unused number (rnndsl.keras.cell.GeneratedCell): states (1,)
    "decayed_input": Case(
        CONSTANT_SPECS, "DecayedInput", dict(units=U, a=0.25), decayed_input, dict(W=(U, D)), (U,), U,
        lowering=dict(hoist="always"),
    ),
    "shrunk_input": Case(CONSTANT_SPECS, "ShrunkInput", {}, shrunk_input, {}, (D,), D,
                         lowering=dict(hoist="always")),
    "scaled": Case(CONSTANT_SPECS, "Scaled", {}, scaled, {}, (1,), D, lowering=dict(hoist="always")),
    "shifted": Case(CONSTANT_SPECS, "Shifted", dict(tb=2.5e5), shifted, {}, (1,), D, lowering=dict(hoist="always")),
}

# start: "spec" runs from the spec's initial state (the layer's own); "given" passes a
# random initial state in the spec's state order (and checks its gradient too).
PARAMS = [
    pytest.param(name, T, start, id=f"{name}-T{T}-{start}")
    for name in CASES for T in LENGTHS for start in ("spec", "given")
]


def _seed(*parts) -> int:
    return zlib.crc32("/".join(map(str, parts)).encode())


@functools.lru_cache(maxsize=None)
def _program(file: str):
    return rnndsl.load(file if "{" in file else STD / file)


@functools.lru_cache(maxsize=None)
def _built(name: str, T: int):
    """The lowered layer, built on [BATCH, T, in], with seeded weights: (layer, {name: float64 weights})."""
    import keras

    from rnndsl.keras.cell import cell_rnn

    case = CASES[name]
    keras.utils.set_random_seed(_seed(name, T, "keras"))
    layer = cell_rnn(_program(case.file), case.cell, input_dim=INPUT_DIM, **case.lowering, **case.hparams)
    layer(np.zeros((BATCH, T, INPUT_DIM), np.float32))
    rng = np.random.default_rng(_seed(name, T, "weights"))
    params = {}
    for pname in sorted(layer.cell.weights_by_name):
        var = layer.cell.weights_by_name[pname]
        shape = tuple(case.shapes[pname])
        value = case.init.get(pname, _normal)(rng, shape).astype(np.float32)
        var.assign(value)
        params[pname] = value.astype(np.float64)  # the reference sees exactly the float32 weights
    return layer, params


def _f32(a):
    return np.asarray(a, np.float32).astype(np.float64)


def _inputs(name: str, T: int):
    """Seeded float32-exact float64 arrays: input [BATCH, T, in], loss weights R [BATCH, T, out], a given initial state."""
    case = CASES[name]
    rng = np.random.default_rng(_seed(name, T, "data"))
    x = _f32(rng.normal(0.0, 1.0, size=(BATCH, T, INPUT_DIM)))
    R = _f32(rng.normal(0.0, 1.0, size=(BATCH, T, case.out_dim)))
    state = [_f32(s) for s in case.given_state(rng)]
    return x, R, state


# ------------------------------------------------------------------- the tests


@pytest.mark.parametrize("name", list(CASES))
def test_weights_and_states_follow_the_spec(name):
    """One variable per spec parameter, in its shape; `fixed` ones not trained; the spec's states in order."""
    case = CASES[name]
    layer, _ = _built(name, 1)
    got = {k: tuple(v.shape) for k, v in layer.cell.weights_by_name.items()}
    assert got == {k: tuple(s) for k, s in case.shapes.items()}
    trainable = {id(v) for v in layer.trainable_weights}
    for pname, var in layer.cell.weights_by_name.items():
        assert (id(var) in trainable) == (pname not in case.fixed), pname
    sizes = layer.cell.state_size
    sizes = [sizes] if isinstance(sizes, int) else list(sizes)
    assert [int(s) for s in sizes] == list(case.states)


@pytest.mark.parametrize("name, T, start", PARAMS)
def test_forward_matches_reference(name, T, start):
    case = CASES[name]
    layer, params = _built(name, T)
    x, _, state = _inputs(name, T)
    if start == "spec":
        got = np.asarray(layer(x.astype(np.float32)))
        want = case.reference(params, x, case.spec_state(params), **case.hparams)
    else:
        got = np.asarray(layer(x.astype(np.float32), initial_state=[s.astype(np.float32) for s in state]))
        want = case.reference(params, x, state, **case.hparams)
    assert want.shape == (BATCH, T, case.out_dim)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def _finite_difference(f, value: np.ndarray) -> np.ndarray:
    return central_differences(f, value, FD_EPS)


@pytest.mark.parametrize("name, T, start", [p for p in PARAMS if not CASES[p.values[0]].straight_through])
def test_gradient_matches_finite_differences(name, T, start):
    """d sum(output * R) / d (input, every trainable weight[, the given initial state]) against the reference."""
    import tensorflow as tf

    case = CASES[name]
    layer, params = _built(name, T)
    x, R, state = _inputs(name, T)

    by_id = {id(v): k for k, v in layer.cell.weights_by_name.items()}
    trained = [(by_id[id(v)], v) for v in layer.trainable_weights]
    assert sorted(k for k, _ in trained) == sorted(set(case.shapes) - case.fixed)

    xt = tf.constant(x, tf.float32)
    st = [tf.constant(s, tf.float32) for s in state] if start == "given" else []
    with tf.GradientTape() as tape:
        tape.watch([xt] + st)
        out = layer(xt, initial_state=st) if st else layer(xt)
        loss = tf.reduce_sum(out * tf.constant(R, tf.float32))
    grads = tape.gradient(loss, [xt] + st + [v for _, v in trained])

    p = {k: v.copy() for k, v in params.items()}
    xr = x.copy()
    s0 = [s.copy() for s in state] if start == "given" else []

    def ref_loss():
        # from the spec's start, a learned initial state follows its parameter as it is perturbed
        return float(np.sum(case.reference(p, xr, s0 or case.spec_state(p), **case.hparams) * R))

    np.testing.assert_allclose(float(loss), ref_loss(), rtol=1e-5, atol=1e-5)

    at = [("input", xr)] + [(f"initial state {i}", s) for i, s in enumerate(s0[: len(st)])]
    at += [(k, p[k]) for k, _ in trained]
    assert len(at) == len(grads)
    for (what, value), got in zip(at, grads):
        want = _finite_difference(ref_loss, value)
        if got is None:
            # no path to the output: a learned initial state when the initial state is given, or a
            # weight that reaches the output only after more steps than T (MTRNN's slow-to-slow
            # and fast-to-slow weights at T = 1); the reference must not depend on it either
            np.testing.assert_array_equal(want, 0.0, err_msg=f"no gradient with respect to {what}")
            continue
        np.testing.assert_allclose(
            np.asarray(tf.convert_to_tensor(got)), want, rtol=1e-4, atol=1e-4,
            err_msg=f"d loss / d {what}",
        )


def test_memristive_is_the_ctdv_equation_to_first_order_in_xi():
    """specs/std/memristive.rnn writes (I + xi Omega W)^-1 as I - xi Omega W: the rates differ by O(xi^2)."""
    rng = np.random.default_rng(_seed("memristive", "order"))
    Omega = _projector(rng, (6, 6), loops=3)
    w = rng.uniform(0.0, 1.0, size=(BATCH, 6))
    S = rng.normal(size=(BATCH, 6))
    errors = []
    for xi in (0.2, 0.1, 0.05):
        rates = [memristive_rate(w, S, Omega, alpha=0.1, beta=1.0, xi=xi, exact=exact) for exact in (False, True)]
        errors.append(np.abs(rates[0] - rates[1]).max())
    assert errors[0] > 0
    np.testing.assert_allclose(np.array(errors[:-1]) / np.array(errors[1:]), 4.0, rtol=0.15)
    exact0 = memristive_rate(w, S, Omega, alpha=0.1, beta=1.0, xi=0.0, exact=True)
    np.testing.assert_allclose(memristive_rate(w, S, Omega, alpha=0.1, beta=1.0, xi=0.0), exact0, rtol=1e-12)


# ------------------------------------------------------- the associative memories
#
# Hopfield (1982) and BAM (Kosko 1988) step by sign functions: their outputs are
# +-1 (or a held value), piecewise constant in W, theta and the probe, so they are
# compared exactly, and there is no gradient to check with respect to the weights
# (zero almost everywhere; W is `fit hebbian` and theta `fixed`, neither trained).
# Hopfield's one differentiable path, a unit holding its state where the schedule
# does not mark it, is checked with respect to the initial state. A BAM has none:
# every x[t] is a sign.
#
# Sizes are powers of two so that a Hebbian W (multiples of 1/n) and its fields are
# exact in float32 and float64 alike: a field of exactly 0 against theta = 0 is a tie
# that both sides see, and the spec's convention (>= theta: +1) decides it. From the
# spec's start s = 0 every first field is such a tie.

HOP_N, HOP_T = 8, 16  # 8 units, two asynchronous sweeps
BAM_N, BAM_M, BAM_T = 8, 4, 5


def _bipolar(rng, shape):
    return rng.choice([-1.0, 1.0], size=shape)


def _hebbian(X, Y=None):
    """Hebb's rule in NumPy: 1/n sum_p y_p x_p' (n the size of x); auto-association (Y None): zero diagonal."""
    W = sum(np.outer(y, x) for x, y in zip(X, X if Y is None else Y)) / X.shape[1]
    if Y is None:
        np.fill_diagonal(W, 0.0)
    return W


@functools.lru_cache(maxsize=None)
def _memory(cell: str, input_dim: int, **hparams):
    """A lowered memory cell, built; each test assigns every weight it reads."""
    from rnndsl.keras.cell import cell_rnn

    layer = cell_rnn(_program("hopfield.rnn"), cell, input_dim=input_dim, **hparams)
    layer(np.zeros((BATCH, 1, input_dim), np.float32))
    assert layer.trainable_weights == []  # `fit hebbian` and `fixed` parameters are not trained
    return layer


def _assign(layer, params):
    assert set(params) == set(layer.cell.weights_by_name)
    for name, value in params.items():
        layer.cell.weights_by_name[name].assign(value.astype(np.float32))
    return {k: v.astype(np.float32).astype(np.float64) for k, v in params.items()}


def _schedule(rng, kind):
    """Hopfield's `update` input [BATCH, HOP_T, HOP_N]: every unit every step, one unit a step (each once a sweep,
    in a random order per row and sweep), or random marks."""
    if kind == "sync":
        return np.ones((BATCH, HOP_T, HOP_N))
    if kind == "async":
        marks = np.zeros((BATCH, HOP_T, HOP_N))
        for b in range(BATCH):
            order = np.concatenate([rng.permutation(HOP_N) for _ in range(HOP_T // HOP_N)])
            marks[b, np.arange(HOP_T), order] = 1.0
        return marks
    return rng.integers(0, 2, size=(BATCH, HOP_T, HOP_N)).astype(np.float64)


def _hopfield_weights(rng, kind):
    """hebbian: W stored from 2 bipolar patterns, theta = 0 (ties); random: W not symmetric, a diagonal, theta."""
    if kind == "hebbian":
        return {"W": _hebbian(_bipolar(rng, (2, HOP_N))), "theta": np.zeros(HOP_N)}
    return {"W": rng.normal(0.0, 0.3, (HOP_N, HOP_N)), "theta": rng.normal(0.0, 0.3, HOP_N)}


@pytest.mark.parametrize("start", ["spec", "given"])
@pytest.mark.parametrize("weights", ["hebbian", "random"])
@pytest.mark.parametrize("schedule", ["sync", "async", "random"])
def test_hopfield_is_the_1982_rule_with_its_energy(schedule, weights, start):
    """States exactly; the cell's `energy` value, observed at every step, against -1/2 s'Ws + theta's."""
    from rnndsl.keras.cell import observer

    layer = _memory("Hopfield", HOP_N, units=HOP_N)
    assert {k: tuple(v.shape) for k, v in layer.cell.weights_by_name.items()} == {"W": (HOP_N, HOP_N),
                                                                                  "theta": (HOP_N,)}
    rng = np.random.default_rng(_seed("hopfield", schedule, weights, start))
    p = _assign(layer, _hopfield_weights(rng, weights))
    update = _schedule(rng, schedule)
    s0 = np.zeros((BATCH, HOP_N)) if start == "spec" else _bipolar(rng, (BATCH, HOP_N))
    want, energy = hopfield(p, update, [s0])

    args = dict(initial_state=[s0.astype(np.float32)]) if start == "given" else {}
    np.testing.assert_array_equal(np.asarray(layer(update.astype(np.float32), **args)), want)
    seen = np.asarray(observer(layer, ["s", "energy"])(update.astype(np.float32), **args), np.float64)
    np.testing.assert_array_equal(seen[..., :HOP_N], want)
    np.testing.assert_allclose(seen[..., HOP_N], energy, rtol=1e-5, atol=1e-5)
    if start == "given":
        assert np.any(want[:, -1] != s0)  # the dynamics moved: not a probe that is already a fixed point


def test_hopfield_gradient_flows_only_through_held_units():
    """d sum(s * R) / d s[0]: 1 along a unit's steps until the schedule first marks it, 0 after (the sign is flat).

    Random W and theta, so that no field lies within the finite-difference step of its threshold."""
    import tensorflow as tf

    layer = _memory("Hopfield", HOP_N, units=HOP_N)
    rng = np.random.default_rng(_seed("hopfield", "gradient"))
    p = _assign(layer, _hopfield_weights(rng, "random"))
    update = _schedule(rng, "random")
    s0 = _bipolar(rng, (BATCH, HOP_N))
    R = _f32(rng.normal(0.0, 1.0, size=(BATCH, HOP_T, HOP_N)))

    st = tf.constant(s0, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(st)
        out = layer(tf.constant(update, tf.float32), initial_state=[st])
        loss = tf.reduce_sum(out * tf.constant(R, tf.float32))
    got = np.asarray(tape.gradient(loss, st))

    s = s0.copy()
    want = _finite_difference(lambda: float(np.sum(hopfield(p, update, [s])[0] * R)), s)
    assert np.any(want != 0) and np.any(want == 0)  # some units held at step 1, some marked
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_hopfield_recall_reports_the_energy_of_every_sweep():
    """memory.recall, synchronous, with a threshold: the states and E = -1/2 s'Ws + theta's after each sweep."""
    from rnndsl.train import recall as memory

    n = 16
    layer = _memory("Hopfield", n, units=n)
    rng = np.random.default_rng(_seed("hopfield", "recall"))
    X = _bipolar(rng, (3, n))
    p = _assign(layer, {"W": _hebbian(X), "theta": rng.normal(0.0, 0.1, n)})
    probe = X * np.where(rng.random(X.shape) < 0.25, -1.0, 1.0)
    result = memory.recall(layer, probe, schedule="sync", max_sweeps=10)

    s, energies = probe, []
    for sweep in range(1, 11):  # Little's synchronous rule, sweep after sweep, to a fixed point
        new = np.where(s @ p["W"].T >= p["theta"], 1.0, -1.0)
        energies.append(-0.5 * np.einsum("bi,ij,bj->b", new, p["W"], new) + new @ p["theta"])
        converged, s = np.all(new == s, axis=1), new
        if converged.all():
            break
    assert sweep > 2  # the probes are not fixed points already
    assert result.sweeps == sweep
    np.testing.assert_array_equal(result.state, s)
    np.testing.assert_array_equal(result.converged, converged)
    np.testing.assert_allclose(result.energy, np.stack(energies, axis=1), rtol=1e-5, atol=1e-5)


def test_continuous_hopfield_energy_is_hopfields_1984_energy():
    """The cell's `energy` value, observed at every step, against eq. 7 of Hopfield (1984) with the integral of g^-1
    taken numerically; the states are those of the `continuous_hopfield` case, checked above."""
    from rnndsl.keras.cell import observer

    case = CASES["continuous_hopfield"]
    layer, params = _built("continuous_hopfield", 7)
    x, _, state = _inputs("continuous_hopfield", 7)
    V = case.reference(params, x, state, **case.hparams)
    assert np.abs(V).max() > 0.5  # the integral term matters
    seen = np.asarray(observer(layer, ["V", "energy"])(x.astype(np.float32),
                                                       initial_state=[s.astype(np.float32) for s in state]))
    np.testing.assert_allclose(seen[..., :D], V, rtol=1e-5, atol=1e-5)
    want = hopfield_1984_energy(params["W"], V, x, gain=case.hparams["gain"])
    np.testing.assert_allclose(seen[..., D], want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("start", ["spec", "given"])
@pytest.mark.parametrize("weights", ["hebbian", "random"])
def test_bam_is_kosko_recall_through_w_and_its_transpose(weights, start):
    """x exactly, and y (observed) exactly; no gradient: every x[t] is a sign of y[t], itself a sign."""
    from rnndsl.keras.cell import observer

    layer = _memory("BAM", 0, n=BAM_N, m=BAM_M)
    assert {k: tuple(v.shape) for k, v in layer.cell.weights_by_name.items()} == {"W": (BAM_M, BAM_N)}
    rng = np.random.default_rng(_seed("bam", weights, start))
    if weights == "hebbian":  # two pairs (x_p, y_p): W = 1/n sum_p y_p x_p'
        # each y_p as many +1 as -1: from x = 0, y = sgn(0) = 1 and then W'y = 0, a tie on each side
        Y = np.stack([rng.permutation(np.repeat([1.0, -1.0], BAM_M // 2)) for _ in range(2)])
        W = _hebbian(_bipolar(rng, (2, BAM_N)), Y)
    else:
        W = rng.normal(0.0, 0.3, (BAM_M, BAM_N))
    p = _assign(layer, {"W": W})
    x0 = np.zeros((BATCH, BAM_N)) if start == "spec" else _bipolar(rng, (BATCH, BAM_N))
    want_x, want_y = bam(p, [x0], BAM_T)

    none = np.zeros((BATCH, BAM_T, 0), np.float32)  # the cell has no input
    args = dict(initial_state=[x0.astype(np.float32)]) if start == "given" else {}
    np.testing.assert_array_equal(np.asarray(layer(none, **args)), want_x)
    seen = np.asarray(observer(layer, ["x", "y"])(none, **args), np.float64)
    np.testing.assert_array_equal(seen[..., :BAM_N], want_x)
    np.testing.assert_array_equal(seen[..., BAM_N:], want_y)
