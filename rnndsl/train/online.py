"""online: approximate real-time recurrent learning, UORO and SnAp-1, for any generated cell.

Exact RTRL (rnndsl.train.rtrl) carries, for each sequence, the sensitivities P[t] = d s[t] / d theta, `(n, p)`,
and pays n^2 p multiply-adds a step to carry them forward. The two learners here carry less and pay less, and
give the gradient of the same loss, sum_t mean_batch loss(y[:, t], prediction[t]), approximately:

UORO (Tallec & Ollivier 2018, unbiased online recurrent optimization) carries P[t] as a product of rank one,
s~[t] theta~[t]^T, a vector `(n,)` and a vector `(p,)` per sequence. Each step draws random signs nu `(n,)`
and sets

    s~[t]     = rho0 (J_s s~[t-1]) + rho1 nu                 J_s = d s[t] / d s[t-1]
    theta~[t] = theta~[t-1] / rho0 + (nu^T I[t]) / rho1      I[t] = d s[t] / d theta, immediate
    rho0 = sqrt((|theta~[t-1]| + eps) / (|J_s s~[t-1]| + eps)),   rho1 = sqrt((|nu^T I[t]| + eps) / (|nu| + eps))

whose expectation over nu is J_s P[t-1] + I[t] (the cross terms are odd in nu, the rho even), so that the
estimate of the gradient, (dL[t] / d s[t-1] . s~[t-1]) theta~[t-1] + dL[t] / d theta, is unbiased with the
weights held fixed: its mean over draws is RTRL's. J_s s~ is one forward-mode product (a Jacobian-vector
product, recorded as the step runs), nu^T I[t] one reverse-mode product a sequence (the step run again, one
sequence at a time under tf.vectorized_map: Stepper._projected_jacobian): memory n + p numbers a sequence,
time about three steps' worth. The variance is the price (one sequence's estimate may point far off).

SnAp-1 (Menick, Elsen, Evci, Osindero, Simonyan & Graves 2021, practical real time recurrent learning with a
sparse approximation) keeps of P only the entries that one step touches directly, those where I[t] may be
non-zero (the pattern M, the same at every step):

    P[t] = M * (J_s P[t-1] + I[t])

It is exact where the recurrence is diagonal (IndRNN: d s[t] / d s[t-1] keeps each state number to itself)
and biased elsewhere. M is found once, for any cell, from the non-zeros of I at 64 random states and inputs
(and of d s[0] / d theta, for a learned initial state), and stored compressed: the state numbers are coloured
so that no parameter touches two of one colour (state numbers that share a parameter, an LSTM's h_i and c_i
say, get different colours; an Elman cell needs one colour), and P is kept as `(C, p)` a sequence, for each
colour and parameter the one entry of P it may have (C the colours: 1 for Elman, IndRNN, GRU; 2 for an
LSTM; n for CTRNN, whose rk4 step mixes every state within a step, so that SnAp-1 is exact RTRL there).
I[t]'s entries come from C vector-Jacobian products a sequence (with the indicators of the colours: a
colour's sum over its state numbers is the one entry; Stepper._projected_jacobian), J_s P[t-1] from
gathering, for each parameter, the C x C entries of J_s between its state numbers. Memory C p + n^2
numbers a sequence (P, and J_s for the step), time the n vector-Jacobian products of J_s (as exact RTRL's)
and C^2 p multiply-adds, against RTRL's n^2 p.

Both are Steppers (rnndsl.train.rtrl.Stepper): `reset(batch)`, then `step(x_t, y_t)`, the weights read at
every step; rnndsl.train.rtrl.online_chunks and online_gradients run them over whole sequences.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from .rtrl import MAX_SENSITIVITIES, Stepper, online_gradients

__all__ = ["UORO", "SnAp1", "STEPPERS", "PATTERN_DRAWS", "uoro_gradients", "snap1_gradients"]

EPSILON = 1e-7  # UORO's guard of rho0 and rho1 against norms of zero (a state or a parameter no step reaches)
PATTERN_DRAWS = 64  # random states and inputs whose immediate Jacobians' non-zeros make SnAp-1's pattern


class UORO(Stepper):
    """UORO (see the module's docstring) through one GeneratedRNN layer and an optional readout.

    What is carried: `carry = (s~ (batch, n), theta~ (batch, p))`; each step draws its signs nu `(batch, n)`
    from numpy's generator seeded by `seed`, so that a run is repeatable. P[0] = d s[0] / d theta (non-zero
    for a learned initial state) starts as nu^T P[0] with s~[0] = nu, unbiased as the steps are."""

    title = "UORO"

    def __init__(self, layer, loss: Callable, readout=None, seed: int = 0):
        super().__init__(layer, loss, readout)
        # numpy's generator, whose seeds give independent streams: with tf.random.Generator.from_seed, seeds 0
        # and 1 gave nearly the same estimates over a batch of 128 (tests/test_online_rtrl.py averages seeds)
        self.random = np.random.default_rng(seed)

    def _draws(self, batch: int) -> tuple:
        import tensorflow as tf

        signs = self.random.integers(0, 2, size=(batch, int(sum(self.sizes))))
        return (tf.constant(2 * signs - 1, dtype=self.cell.compute_dtype),)

    def reset(self, batch: int) -> None:
        """Start `batch` sequences: the initial states, and s~[0] = nu, theta~[0] = nu^T d s[0] / d theta."""
        import tensorflow as tf

        nu, = self._draws(batch)
        start, tape = self._start(batch)
        with tape:
            projected = tf.reduce_sum(nu * start, axis=-1, keepdims=True)
        theta = self._flat_jacobian(tape, projected, batch)[:, 0]
        del tape
        self.states, self.carry = tf.identity(start), (nu, theta)

    def _advance(self, x_t, y_t, states, carry, nu):
        import tensorflow as tf

        s_tilde, theta_tilde = carry
        tape, loss, new, js = self._forward(x_t, y_t, states, tangent=s_tilde)
        by_state, direct, head = self._loss_gradients(tape, loss, states)
        # the estimate of P[t-1] is s~ theta~^T: the loss through s[t-1] gives one number a sequence
        flat = tf.einsum("b,bp->p", tf.einsum("bn,bn->b", by_state, s_tilde), theta_tilde) + direct
        del tape
        immediate = self._projected_jacobian(x_t, states, nu[:, None, :])[:, 0]  # nu^T I[t], (batch, p)
        eps = tf.constant(EPSILON, dtype=new.dtype)
        rho0 = tf.sqrt((tf.norm(theta_tilde, axis=-1) + eps) / (tf.norm(js, axis=-1) + eps))[:, None]
        rho1 = tf.sqrt((tf.norm(immediate, axis=-1) + eps) / (tf.norm(nu, axis=-1) + eps))[:, None]
        return loss, flat, head, new, (rho0 * js + rho1 * nu, theta_tilde / rho0 + immediate / rho1)


class SnAp1(Stepper):
    """SnAp-1 (see the module's docstring) through one GeneratedRNN layer and an optional readout, stored
    compressed (the pattern's entries only, gathered; not a dense masked P).

    `pattern`: M, `(n, p)` booleans; `colours`: C; `rows`: `(C, p)`, for each colour and parameter the state
    number of that colour the parameter touches (0 where none, `valid` False). What is carried:
    `carry`, P's entries `(batch, C, p)`: entry [b, c, j] is P[b, rows[c, j], j]."""

    title = "SnAp-1"

    def __init__(self, layer, loss: Callable, readout=None, seed: int = 0):
        super().__init__(layer, loss, readout)
        self.pattern = self._find_pattern(seed)
        colour = _colour(self.pattern)
        self.colours = max(int(colour.max(initial=-1)) + 1, 1)
        n, p = self.pattern.shape
        self.rows = np.zeros((self.colours, p), dtype=np.int32)
        self.valid = np.zeros((self.colours, p), dtype=bool)
        for c in range(self.colours):
            mine = self.pattern & (colour[:, None] == c)
            self.rows[c], self.valid[c] = mine.argmax(axis=0), mine.any(axis=0)
        self.indicators = (colour[:, None] == np.arange(self.colours)[None, :])  # (n, C)
        # the entries of J_s a parameter's column needs, J_s[rows[c, j], rows[c', j]], as flat indices (C, C, p)
        self.pairs = (self.rows[:, None, :] * n + self.rows[None, :, :]).astype(np.int32)

    def _find_pattern(self, seed: int):
        """M: where I[t] (at PATTERN_DRAWS random states and inputs, normal(0, 1)) or d s[0] / d theta is not
        zero, `(n, p)`. A zero by chance at every draw (a relu off at all of them) is what could be missed."""
        import tensorflow as tf

        dtype = self.cell.compute_dtype
        rng = np.random.default_rng(seed)
        n = int(sum(self.sizes))
        start, tape = self._start(1)
        found = np.asarray(self._flat_jacobian(tape, start, 1)[0]) != 0
        del tape
        # 16 draws at a time, fewer where their Jacobians (draws x n x p numbers) would pass RTRL's limit
        p = found.shape[1]
        draws = max(1, min(16, MAX_SENSITIVITIES // max(n * p, 1)))
        for _ in range(-(-PATTERN_DRAWS // draws)):
            states = tf.constant(rng.normal(size=(draws, n)), dtype=dtype)
            x_t = tf.constant(rng.normal(size=(draws, self.cell.input_dim)), dtype=dtype)
            with tf.GradientTape(persistent=True) as tape:
                _, new = self._cell_step(x_t, states)
            found |= (np.asarray(self._flat_jacobian(tape, new, draws)) != 0).any(axis=0)
            del tape
        return found

    def reset(self, batch: int) -> None:
        """Start `batch` sequences: the initial states, and P[0]'s entries on the pattern."""
        import tensorflow as tf

        start, tape = self._start(batch)
        self.carry = self._compressed(tape, start, batch)
        del tape
        self.states = tf.identity(start)

    def _compressed(self, tape, value, batch):
        """The entries of d value / d theta on the pattern, `(batch, C, p)`: C vector-Jacobian products a
        sequence, each with a colour's indicator (the colour's state numbers add up to the one entry)."""
        import tensorflow as tf

        with tape:
            by_colour = tf.einsum("bn,nc->bc", value, tf.constant(self.indicators, dtype=value.dtype))
        return self._flat_jacobian(tape, by_colour, batch) * tf.constant(self.valid, dtype=value.dtype)

    def _advance(self, x_t, y_t, states, P):
        import tensorflow as tf

        tape, loss, new, _ = self._forward(x_t, y_t, states)
        by_state, direct, head = self._loss_gradients(tape, loss, states)
        batch = tf.shape(new)[0]
        # the loss through s[t-1]: each parameter's entries of P against dL/ds at their state numbers
        flat = tf.einsum("bcp,bcp->p", tf.gather(by_state, self.rows, axis=1), P) + direct
        J_s = tape.batch_jacobian(new, states, unconnected_gradients=tf.UnconnectedGradients.ZERO)  # (batch, n, n)
        del tape
        # I[t]'s entries on the pattern: one vector-Jacobian product a colour, with the colour's indicator
        indicators = tf.broadcast_to(tf.constant(self.indicators.T, dtype=new.dtype)[None],
                                     (batch,) + self.indicators.T.shape)
        immediate = self._projected_jacobian(x_t, states, indicators) * tf.constant(self.valid, dtype=new.dtype)
        blocks = tf.gather(tf.reshape(J_s, (batch, -1)), self.pairs, axis=1)  # (batch, C, C, p)
        carried = tf.einsum("bckp,bkp->bcp", blocks, P) * tf.constant(self.valid, dtype=P.dtype)
        return loss, flat, head, new, carried + immediate


def _colour(pattern) -> np.ndarray:
    """A colour for each state number, `(n,)` ints, no two state numbers that one parameter touches (a column
    of `pattern`, `(n, p)`) of the same colour: greedy, in order, over the graph of state numbers sharing one."""
    n = pattern.shape[0]
    shared = (pattern.astype(np.int64) @ pattern.T.astype(np.int64)) > 0
    colour = np.full(n, -1, dtype=np.int64)
    for i in range(n):
        if not pattern[i].any():
            colour[i] = 0  # touched by no parameter: any colour does, its entries are never valid
            continue
        taken = set(colour[shared[i] & (colour >= 0)].tolist())
        colour[i] = next(c for c in range(n + 1) if c not in taken)
    return colour


STEPPERS = {"uoro": UORO, "snap1": SnAp1}


def uoro_gradients(layer, x, y, loss: Callable, readout=None, seed: int = 0) -> list:
    """UORO's estimate of dL/dtheta (see rnndsl.train.rtrl.rtrl_gradients for L) over the sequences `x`, with the
    weights held fixed: one tensor per weight of `layer.trainable_weights + readout.trainable_weights`."""
    return online_gradients(UORO(layer, loss, readout, seed), x, y)


def snap1_gradients(layer, x, y, loss: Callable, readout=None, seed: int = 0) -> list:
    """SnAp-1's approximation of dL/dtheta (as uoro_gradients)."""
    return online_gradients(SnAp1(layer, loss, readout, seed), x, y)
