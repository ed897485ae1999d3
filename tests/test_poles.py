"""poles: the double-pole cart's physics, checked against an independent computation and known properties.

The closed-form accelerations (Wieland's) equal the solution of the Euler-Lagrange equations of a cart
with two uniform rods written as a 3 x 3 linear system and solved by NumPy; without friction or force the
energy is conserved over 2 s of Runge-Kutta steps, with friction it falls; the cart mirrored is the cart
mirrored; upright and at rest it stays; the TensorFlow and NumPy steps agree; a run of P controllers in
one XLA loop gives each one's steps of a NumPy loop stepping the Keras cell; Gruau's fitness by hand.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from rnndsl.lang.errors import UsageError  # noqa: E402
from rnndsl.train import poles  # noqa: E402

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def random_states(count, seed):
    rng = np.random.default_rng(seed)
    return rng.normal(scale=[1.0, 1.0, 0.3, 2.0, 0.3, 5.0], size=(count, 6)), rng.uniform(-10, 10, size=count)


def lagrange(state, force):
    """x'', th1'', th2'' from the linear system A q'' = b of the Euler-Lagrange equations (g = -9.8 upward)."""
    x_dot = state[1]
    A, b = np.zeros((3, 3)), np.zeros(3)
    A[0, 0] = poles.CART_MASS + sum(poles.POLE_MASSES)
    b[0] = force - poles.CART_FRICTION * np.sign(x_dot)
    for i, (m, half) in enumerate(zip(poles.POLE_MASSES, poles.HALF_LENGTHS), start=1):
        th, th_dot = state[2 * i], state[2 * i + 1]
        # total horizontal momentum: (M + sum m) x'' + sum m l (th'' cos th - th'^2 sin th) = F - mu_c sgn x'
        A[0, i] = m * half * math.cos(th)
        b[0] += m * half * th_dot ** 2 * math.sin(th)
        # rod i about its hinge: 4/3 l th'' + x'' cos th + g sin th + mu_p th' / (m l) = 0
        A[i, 0], A[i, i] = math.cos(th), 4.0 / 3.0 * half
        b[i] = -poles.GRAVITY * math.sin(th) - poles.POLE_FRICTION * th_dot / (m * half)
    return np.linalg.solve(A, b)


def energy(state):
    """Kinetic plus potential energy of the cart and two uniform rods (rod's own inertia m (2l)^2 / 12)."""
    x_dot = state[..., 1]
    total = 0.5 * (poles.CART_MASS + sum(poles.POLE_MASSES)) * x_dot ** 2
    for i, (m, half) in enumerate(zip(poles.POLE_MASSES, poles.HALF_LENGTHS)):
        th, th_dot = state[..., 2 + 2 * i], state[..., 3 + 2 * i]
        total = total + m * half * x_dot * th_dot * np.cos(th) + 2.0 / 3.0 * m * half ** 2 * th_dot ** 2
        total = total - poles.GRAVITY * m * half * np.cos(th)
    return total


def test_the_closed_form_equals_the_euler_lagrange_system_solved():
    states, forces = random_states(50, 1)
    got = poles.derivatives(states, forces)
    for state, force, d in zip(states, forces, got):
        np.testing.assert_allclose(d[[0, 2, 4]], state[[1, 3, 5]])
        np.testing.assert_allclose(d[[1, 3, 5]], lagrange(state, force), rtol=1e-10, atol=1e-10)


def test_energy_is_conserved_without_friction_and_lost_with_it(monkeypatch):
    states, _ = random_states(8, 2)
    states[:, 1] = 0.3 + np.abs(states[:, 1])  # the cart moving one way (its friction a constant force)
    with monkeypatch.context() as m:
        m.setattr(poles, "CART_FRICTION", 0.0)
        m.setattr(poles, "POLE_FRICTION", 0.0)
        s = states.copy()
        for _ in range(100):  # 2 s
            s = poles.advance(s, np.zeros(8))
        np.testing.assert_allclose(energy(s), energy(states), rtol=1e-6)
    s = states.copy()
    for _ in range(5):
        s = poles.advance(s, np.zeros(8))
    assert (energy(s) < energy(states) - 1e-7).all()


def test_symmetry_rest_and_falling():
    states, forces = random_states(20, 3)
    np.testing.assert_allclose(poles.derivatives(-states, -forces), -poles.derivatives(states, forces), atol=1e-12)
    rest = poles.advance(np.zeros((1, 6)), np.zeros(1))
    np.testing.assert_array_equal(rest, np.zeros((1, 6)))
    # unpushed, the long pole falls the way it leans and the run fails (the short pole first) within a second
    s, steps = poles.start(1), 0
    while not poles.failed(s)[0]:
        s, steps = poles.advance(s, np.zeros(1)), steps + 1
    assert s[0, 2] > 2 * poles.START_ANGLE and 10 < steps < 50
    assert poles.observe(s).shape == (1, 3) and poles.observe(s, velocities=True).shape == (1, 6)


def test_tensorflow_steps_equal_numpy_steps():
    tf = pytest.importorskip("tensorflow")
    states, forces = random_states(30, 4)
    got = poles.advance(tf.constant(states), tf.constant(forces), tf).numpy()
    np.testing.assert_allclose(got, poles.advance(states, forces), rtol=1e-12, atol=1e-12)


def test_a_batched_run_equals_each_controller_stepped_alone_and_gruau():
    tf = pytest.importorskip("tensorflow")
    import rnndsl
    from rnndsl.keras.cell import GeneratedRNN, cell_rnn

    layer = cell_rnn(rnndsl.load(EXAMPLES / "poles.rnn"), "PoleRNN", input_dim=3, units=3)
    layer.build((None, None, 3))
    pole = poles.DoublePole(layer)
    flat = np.random.default_rng(5).normal(scale=0.4, size=(6, pole.dimension))
    episode = pole.run(flat, 1000)
    # the reference: the same cell as a Keras layer over one-step sequences, its states carried by hand
    one_step = GeneratedRNN(layer.cell, return_sequences=False, return_state=True)
    for i in range(6):
        pole.controller.assign(flat[i])
        s, states, steps = poles.start(1), None, 0
        while steps < 1000:
            out, *states = one_step(tf.constant(poles.observe(s)[:, None, :], dtype=tf.float32), initial_state=states)
            s = poles.advance(s, poles.FORCE * float(out[0, 0]))
            if poles.failed(s)[0]:
                break
            steps += 1
        assert episode.steps[i] == steps
    assert len(set(episode.steps.tolist())) > 1
    np.testing.assert_allclose(poles.gruau([50, 100, 1000, 2000], [1.0, 2.0, 3.0, 3.0]),
                               [0.005, 0.01 + 0.9 * 0.375, 0.1 + 0.9 * 0.25, 0.1 + 0.9 * 0.25])
    with pytest.raises(UsageError) as caught:
        poles.DoublePole(layer, velocities=True)
    assert str(caught.value) == ("error: a double-pole controller reads 6 inputs and gives one output (the force), "
                                 "but `PoleRNN` reads 3 and gives 1")
