"""poles: the double-pole cart (Wieland 1991), P carts simulated together, each driven by its own controller.

Two poles of different lengths are hinged side by side on a cart that runs on a track of finite length;
the controller pushes the cart left or right and must keep both poles up and the cart on the track. Without
the velocities among its inputs (cart position and the two angles only) a controller must estimate them
from what it has seen: the task needs a recurrent network (Wieland 1991; Gomez & Miikkulainen 1999; Igel
2003, whose CMA-ES solved it in a few thousand evaluations).

The state is `(x, x', th1, th1', th2, th2')`, the angles from upright in radians. Wieland's equations, with
g = -9.8 (upward positive, so gravity pulls down), m~_i = m_i (1 - 3/4 cos^2 th_i), and for each pole i:

    F~_i = m_i l_i th_i'^2 sin th_i + 3/4 m_i cos th_i (mu_p th_i' / (m_i l_i) + g sin th_i)
    x''  = (F - mu_c sgn(x') + F~_1 + F~_2) / (M + m~_1 + m~_2)
    th_i'' = -3 / (4 l_i) (x'' cos th_i + g sin th_i + mu_p th_i' / (m_i l_i))

(l_i is a pole's half-length; these are the Euler-Lagrange equations of a cart carrying two uniform rods
with friction at the cart and at the hinges). The constants are those of Wieland (1991) as Gomez &
Miikkulainen (1999) and Igel (2003) use them: cart 1 kg, poles 0.1 kg and 0.01 kg of half-lengths 0.5 m
and 0.05 m, mu_c = 5e-4, mu_p = 2e-6, force +-10 N, track +-2.4 m, failure beyond 36 degrees, the long pole
starting at 4.5 degrees and everything else at rest. Integration: fourth-order Runge-Kutta with a step of
0.01 s, two steps per action (the controller acts every 0.02 s): the short pole's fast dynamics make
Euler at that step too inaccurate (swinging freely, without friction, Euler gains 11% of the energy in
2 s where Runge-Kutta changes it by 1e-7; docs/reproductions.md). A step below is one action.

The controller sees x / 4.8, th1 / 0.52, th2 / 0.52 (and, `velocities=True`, x' / 2, th1' / 2, th2' / 2, the
Markov variant), the scales of those benchmarks; its first output, in [-1, 1] (tanh), times 10 N is the force.

Fitness of the variant without velocities (Gruau et al. 1996, as Gomez & Miikkulainen and Igel use it):
F = 0.1 f1 + 0.9 f2, f1 = t / 1000 for t steps balanced of at most 1000, f2 = 0 for t < 100, else
0.75 / sum over the last 100 steps of (|x| + |x'| + |th1| + |th1'|): it rewards damping the oscillations
a controller could otherwise ride on. A controller has solved the task when it balances 100,000 steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..lang.errors import UsageError

__all__ = ["GRAVITY", "CART_MASS", "POLE_MASSES", "HALF_LENGTHS", "CART_FRICTION", "POLE_FRICTION", "FORCE",
           "DT", "SUBSTEPS", "TRACK", "FAILURE_ANGLE", "START_ANGLE", "derivatives", "advance", "start",
           "failed", "observe", "Episode", "DoublePole", "Balance", "evolve_controller", "gruau"]

GRAVITY = -9.8  # m/s^2, upward positive
CART_MASS = 1.0  # kg
POLE_MASSES = (0.1, 0.01)  # kg, long pole then short
HALF_LENGTHS = (0.5, 0.05)  # m
CART_FRICTION = 5e-4  # mu_c, of the cart on the track
POLE_FRICTION = 2e-6  # mu_p, of each pole at its hinge
FORCE = 10.0  # N, the largest push
DT = 0.01  # s, one Runge-Kutta step
SUBSTEPS = 2  # Runge-Kutta steps per action
TRACK = 2.4  # m, either side of the centre
FAILURE_ANGLE = math.radians(36.0)
START_ANGLE = math.radians(4.5)  # the long pole's, at the start
WIGGLE_STEPS = 100  # the window of Gruau's damping term


def derivatives(state, force, xp=np):
    """d state / dt: `state (..., 6)`, `force (...)` in newtons; `xp` NumPy or TensorFlow (sin, cos, sign,
    stack) -> `(..., 6)`."""
    x_dot = state[..., 1]
    cart = force - CART_FRICTION * xp.sign(x_dot)
    mass = CART_MASS
    poles = []
    for i, (m, half) in enumerate(zip(POLE_MASSES, HALF_LENGTHS)):
        th, th_dot = state[..., 2 + 2 * i], state[..., 3 + 2 * i]
        sin, cos = xp.sin(th), xp.cos(th)
        hinge = POLE_FRICTION * th_dot / (m * half)
        cart = cart + m * half * th_dot * th_dot * sin + 0.75 * m * cos * (hinge + GRAVITY * sin)
        mass = mass + m * (1.0 - 0.75 * cos * cos)
        poles.append((th_dot, sin, cos, hinge, half))
    x_acc = cart / mass
    parts = [x_dot, x_acc]
    for th_dot, sin, cos, hinge, half in poles:
        parts += [th_dot, -0.75 / half * (x_acc * cos + GRAVITY * sin + hinge)]
    return xp.stack(parts, axis=-1)


def advance(state, force, xp=np, dt: float = DT, substeps: int = SUBSTEPS):
    """One action: `substeps` fourth-order Runge-Kutta steps of `dt` under a constant `force` (...)."""
    for _ in range(substeps):
        k1 = derivatives(state, force, xp)
        k2 = derivatives(state + 0.5 * dt * k1, force, xp)
        k3 = derivatives(state + 0.5 * dt * k2, force, xp)
        k4 = derivatives(state + dt * k3, force, xp)
        state = state + dt / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    return state


def start(count: int = 1) -> np.ndarray:
    """The standard start `(count, 6)`: the long pole at 4.5 degrees, the rest at rest."""
    state = np.zeros((count, 6))
    state[:, 2] = START_ANGLE
    return state


def failed(state, xp=np):
    """Whether the cart left the track or a pole fell past 36 degrees: `(..., 6)` -> `(...)` bool."""
    return ((xp.abs(state[..., 0]) > TRACK) | (xp.abs(state[..., 2]) > FAILURE_ANGLE)
            | (xp.abs(state[..., 4]) > FAILURE_ANGLE))


def observe(state, velocities: bool = False, xp=np):
    """What the controller sees, scaled: `(..., 6)` -> `(..., 3)` (x, th1, th2), or `(..., 6)` with the
    velocities (x, x', th1, th1', th2, th2')."""
    if velocities:
        return xp.stack([state[..., 0] / 4.8, state[..., 1] / 2.0, state[..., 2] / 0.52, state[..., 3] / 2.0,
                         state[..., 4] / 0.52, state[..., 5] / 2.0], axis=-1)
    return xp.stack([state[..., 0] / 4.8, state[..., 2] / 0.52, state[..., 4] / 0.52], axis=-1)


@dataclass
class Episode:
    """What a run of P controllers gave: `steps (P,)` int, the actions before each failed (at most the
    run's length); `fitness (P,)` Gruau's F (0.1 f1 + 0.9 f2, f1 over 1000 steps); `wiggle (P,)` the sum
    over the last 100 steps that f2 divides."""

    steps: np.ndarray
    fitness: np.ndarray
    wiggle: np.ndarray


class DoublePole:
    """P double-pole carts, each balanced by one weight set of a generated cell, all stepped together.

    `layer`: a GeneratedRNN of a cell with one output (the force, in [-1, 1]) reading 3 inputs (6 with
    `velocities`). `run(flat, steps)`: flat `(P, p)` weight sets -> an Episode; the carts and the
    controllers run in one TensorFlow loop (the physics in float64, the controllers in the cell's dtype),
    each cart held where it failed, until every cart has failed or `steps` have passed."""

    def __init__(self, layer, velocities: bool = False):
        import tensorflow as tf

        from .population import Controller

        self.controller = Controller(layer)
        self.velocities = velocities
        inputs = 6 if velocities else 3
        cell = layer.cell
        if cell.input_dim != inputs or self.controller.output_size != 1:
            raise UsageError(f"a double-pole controller reads {inputs} inputs and gives one output (the force), "
                             f"but `{cell.cell_name}` reads {cell.input_dim} and gives {self.controller.output_size}")
        self.dimension = self.controller.dimension
        # XLA: the loop of small ops runs 15 to 80 times faster compiled (0.05 ms a step for 64 carts, 2 cores)
        self._run = tf.function(self._loop, reduce_retracing=True, autograph=False, jit_compile=True)

    def _loop(self, flat, steps):
        import tensorflow as tf

        controller, dtype = self.controller, self.controller.cell.compute_dtype
        weights = controller.split(flat)
        count = tf.shape(flat)[0]
        states = controller.initial_state(weights, 1)
        cart = tf.tile(tf.constant(start(1)), [count, 1])
        alive = tf.ones([count], tf.bool)
        balanced = tf.zeros([count], tf.int32)
        wiggle = tf.zeros([count, WIGGLE_STEPS], tf.float64)

        def body(t, cart, states, alive, balanced, wiggle):
            seen = tf.cast(observe(cart, self.velocities, tf), dtype)[:, None, :]
            out, new_states = controller.step(weights, seen, states)
            force = FORCE * tf.cast(out[:, 0, 0], tf.float64)
            moved = advance(cart, force, tf)
            now_alive = alive & ~failed(moved, tf)
            # a cart that failed stays where it failed (its state would run off and overflow)
            cart = tf.where(alive[:, None], moved, cart)
            states = [tf.where(alive[:, None, None], n, s) for n, s in zip(new_states, states)]
            jiggle = tf.reduce_sum(tf.abs(cart[:, :4]), axis=-1)
            wiggle = tf.where(now_alive[:, None], tf.concat([wiggle[:, 1:], jiggle[:, None]], axis=1), wiggle)
            balanced = balanced + tf.cast(now_alive, tf.int32)
            return t + 1, cart, states, now_alive, balanced, wiggle

        def cond(t, cart, states, alive, balanced, wiggle):
            return (t < steps) & tf.reduce_any(alive)

        _, _, _, _, balanced, wiggle = tf.while_loop(cond, body, (0, cart, states, alive, balanced, wiggle))
        return balanced, tf.reduce_sum(wiggle, axis=1)

    def run(self, flat, steps: int = 1000) -> Episode:
        """Run every weight set of `flat (P, p)` for at most `steps` actions from the standard start."""
        import tensorflow as tf

        flat = self.controller.check(flat)
        balanced, wiggle = self._run(flat, tf.constant(int(steps)))
        balanced, wiggle = balanced.numpy(), wiggle.numpy()
        return Episode(balanced, gruau(balanced, wiggle), wiggle)


def gruau(balanced, wiggle) -> np.ndarray:
    """Gruau et al.'s fitness from the steps balanced and the last 100 steps' sum of |x|+|x'|+|th1|+|th1'|."""
    balanced = np.asarray(balanced, dtype=np.float64)
    f1 = np.minimum(balanced, 1000.0) / 1000.0
    f2 = np.where(balanced >= WIGGLE_STEPS, 0.75 / np.maximum(np.asarray(wiggle, dtype=np.float64), 1e-12), 0.0)
    return 0.1 * f1 + 0.9 * f2


@dataclass
class Balance:
    """What `evolve_controller` found: `solved` whether a controller balanced `test_steps`; `evaluations`
    the 1000-step evaluations the search took until then (or its whole budget); `tests` how many
    generations had candidates that balanced 1000 steps and were tested; `steps` the most steps a tested
    candidate balanced; `longest` the most steps any evaluation balanced (of at most 1000); `weights`
    `(p,)` the controller that solved it (else the search's best); `search` the evolve.SearchResult."""

    solved: bool
    evaluations: int
    tests: int
    steps: int
    longest: int
    weights: np.ndarray
    search: object


def evolve_controller(layer, method: str = "cma_es", *, budget: int = 20000, population=None, seed: int = 0,
                      velocities: bool = False, test_steps: int = 100000, x0=None, **options) -> Balance:
    """Evolve the weights of `layer`'s cell as a double-pole controller until one balances `test_steps`.

    Each weight set is evaluated over 1000 actions by Gruau's fitness (`velocities=False`) or by the
    steps balanced alone (`velocities=True`, the Markov variant); after each generation its members that
    balanced 1000 actions run for `test_steps` from the same start, and the first that lasts them ends the
    search (the runs of `test_steps` are not counted as evaluations, as the benchmark counts them).
    `method`, `budget`, `population`, `seed` and `options` as rnndsl.train.evolve.minimize; `x0` the
    start, zeros when None (a network that pushes with no force)."""
    from .evolve import minimize

    pole = DoublePole(layer, velocities)
    last, found = {}, {"tests": 0, "steps": 0, "weights": None, "longest": 0}

    def objective(flat):
        episode = pole.run(flat, 1000)
        last["episode"] = episode
        found["longest"] = max(found["longest"], int(episode.steps.max()))
        return -(episode.steps / 1000.0 if velocities else episode.fitness)

    def stop(flat, losses):
        episode = last["episode"]
        candidates = flat[episode.steps >= 1000]
        if not len(candidates):
            return False
        found["tests"] += 1
        steps = pole.run(candidates, test_steps).steps
        found["steps"] = max(found["steps"], int(steps.max()))
        if steps.max() < test_steps:
            return False
        found["weights"] = candidates[int(np.argmax(steps))]
        return True

    start = np.zeros(pole.dimension) if x0 is None else np.asarray(x0, dtype=np.float64)
    result = minimize(objective, start, method, budget=budget, population=population, seed=seed, stop=stop,
                      **options)
    solved = found["weights"] is not None
    return Balance(solved, result.evaluations, found["tests"], found["steps"], found["longest"],
                   found["weights"] if solved else result.best, result)
