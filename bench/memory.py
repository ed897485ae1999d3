"""The memory benchmark of `make bench`: rnndsl's generated NTM and DNC cells against hand-written Keras cells.

The hand-written cells are what a typical user writes from the papers' equations: a `keras.layers.Layer`
with its weights made in `build` and one step in `call`, run by `keras.layers.RNN`. They compute the same
functions as specs/std/ntm.rnn and specs/std/dnc.rnn (same equations, parameters and initial states;
`sharpen` in log space and `cosine` guarded as rnndsl lowers them; the DNC's allocation by argsort and
gather where the spec multiplies by a permutation matrix, the same function), which `differences` checks
on one batch (loss, outputs, gradients) with the spec model's weights copied in.

Timed, in one process, the models taking turns, the median of a full training step (forward, backward,
Adam) after warm-up, each model compiled with and without XLA (`jit_compile`):
  NTM: the copy task of examples/memory.rnn (CopyNTM: controller 100, 64 slots of width 20, 9 inputs,
       Dense(8, sigmoid), binary cross-entropy), batch 16, 41 steps;
  DNC: a repeat-copy shape, units 64, 16 slots of width 16 (the spec's defaults), 2 read heads, 10 inputs,
       8 outputs (logits, binary cross-entropy), batch 16, 40 steps.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import rnndsl  # noqa: E402

tf.get_logger().setLevel("ERROR")

BATCH = 16
NTM = dict(controller=100, slots=64, width=20)
NTM_STEPS, NTM_INPUTS, NTM_OUTPUTS = 41, 9, 8
DNC = dict(units=64, slots=16, width=16, reads=2)
DNC_STEPS, DNC_INPUTS, DNC_OUTPUTS = 40, 10, 8
COSINE_EPS = 1e-8  # as rnndsl.lang.ops: `cosine` divides by max(|a| |b|, this)

NTM_SPEC = f'''import "std/ntm.rnn"
network CopyNTM {{
    input x: seq[{NTM_INPUTS}]
    output Dense({NTM_OUTPUTS}, activation=sigmoid)(NTM(controller={NTM["controller"]}, slots={NTM["slots"]}, \
width={NTM["width"]})(x))
}}
'''
DNC_SPEC = f'''import "std/dnc.rnn"
network RepeatCopyDNC {{
    input x: seq[{DNC_INPUTS}]
    output DNC(units={DNC["units"]}, out={DNC_OUTPUTS}, slots={DNC["slots"]}, width={DNC["width"]}, \
reads={DNC["reads"]})(x)
}}
'''


# ---------------------------------------------------------------- the hand-written cells

def _linear(x, W, b=None):
    """W @ x[t] + b for a batch of rows x (batch, in), W shaped as the spec shapes it, [out, in]."""
    y = tf.matmul(x, W, transpose_b=True)
    return y if b is None else y + b


def _dot(x, v, b):
    """dot(v, x[t]) + b, a scalar a row, kept as (batch, 1) to broadcast."""
    return tf.reduce_sum(x * v, axis=-1, keepdims=True) + b


def _cosine(M, k):
    """The cosine similarity of each memory row with the key: (batch, N, W), (batch, W) -> (batch, N)."""
    num = tf.reduce_sum(M * k[:, None, :], axis=-1)
    den = tf.sqrt(tf.reduce_sum(tf.square(M), -1)) * tf.sqrt(tf.reduce_sum(tf.square(k), -1, keepdims=True))
    return num / tf.maximum(den, COSINE_EPS)


def _outer(a, b):
    return a[:, :, None] * b[:, None, :]


class _MemoryCell(keras.layers.Layer):
    """What the two cells share: weights made from a table, and flat states."""

    def _add_weights(self, table: dict) -> None:
        """{names (comma-separated): (shape, initializer)}: one weight each, an attribute of that name."""
        for names, (shape, init) in table.items():
            for name in names.split(","):
                setattr(self, name, self.add_weight(name=name, shape=shape, initializer=init))


class HandNTMCell(_MemoryCell):
    """A neural Turing machine with one read-write head (specs/std/ntm.rnn) as a user writes it.

    Input (batch, in); states [ctrl (batch, controller), w (batch, slots), M (batch, slots * width) flat,
    r (batch, width)]; output [ctrl; r] (batch, controller + width)."""

    def __init__(self, controller: int = 100, slots: int = 128, width: int = 20, shifts: int = 3, **kwargs):
        super().__init__(**kwargs)
        self.controller, self.slots, self.width, self.shifts = controller, slots, width, shifts
        self.state_size = [controller, slots, slots * width, width]
        self.output_size = controller + width

    def build(self, input_shape):
        c, m, k, g = self.controller, self.width, self.shifts, "glorot_uniform"
        self._add_weights({
            "W_x": ((c, input_shape[-1]), g), "W_r": ((c, m), g), "W_h": ((c, c), "orthogonal"),
            "b_ctrl": ((c,), "zeros"), "W_k,W_e,W_a": ((m, c), g), "W_s": ((k, c), g),
            "b_k,b_e,b_a": ((m,), "zeros"), "b_s": ((k,), "zeros"), "v_beta,v_g,v_gamma": ((c,), g),
            "b_beta,b_g,b_gamma": ((), "zeros")})
        # the learned start weighting, a weighting: non-negative
        self.w0 = self.add_weight(name="w0", shape=(self.slots,), initializer=keras.initializers.RandomUniform(0, 1),
                                  constraint=keras.constraints.NonNeg())

    def get_initial_state(self, batch_size=None):
        n, m = self.slots, self.width
        return [tf.zeros((batch_size, self.controller)), tf.tile(self.w0[None], (batch_size, 1)),
                tf.fill((batch_size, n * m), 1e-6), tf.zeros((batch_size, m))]

    def call(self, x, states):
        ctrl, w, M, r = states
        M = tf.reshape(M, (-1, self.slots, self.width))
        ctrl = tf.tanh(_linear(x, self.W_x) + _linear(r, self.W_r) + _linear(ctrl, self.W_h) + self.b_ctrl)
        # the head's parameters
        k = tf.tanh(_linear(ctrl, self.W_k, self.b_k))
        beta = tf.nn.softplus(_dot(ctrl, self.v_beta, self.b_beta))
        g = tf.sigmoid(_dot(ctrl, self.v_g, self.b_g))
        s = tf.nn.softmax(_linear(ctrl, self.W_s, self.b_s))
        gamma = 1 + tf.nn.softplus(_dot(ctrl, self.v_gamma, self.b_gamma))
        e = tf.sigmoid(_linear(ctrl, self.W_e, self.b_e))
        a = tf.tanh(_linear(ctrl, self.W_a, self.b_a))
        # addressing: content, interpolation, rotation by the shifts -1, 0, +1, sharpening (in log space)
        w_c = tf.nn.softmax(beta * _cosine(M, k))
        w_g = g * w_c + (1 - g) * w
        half = self.shifts // 2
        w_s = sum(tf.roll(w_g, shift=j - half, axis=-1) * s[:, j:j + 1] for j in range(self.shifts))
        w = tf.nn.softmax(gamma * tf.math.log(tf.maximum(w_s, 1e-30)))
        # write (erase, then add), then read
        M = M * (1 - _outer(w, e)) + _outer(w, a)
        r = tf.einsum("bn,bnw->bw", w, M)
        return tf.concat([ctrl, r], -1), [ctrl, w, tf.reshape(M, (-1, self.slots * self.width)), r]


class HandDNCCell(_MemoryCell):
    """A differentiable neural computer with one write head and `reads` read heads (specs/std/dnc.rnn) as a
    user writes it: each read head's parameters a leading axis of its weights, the heads computed together
    by einsums; allocation by sorting the usage (argsort, exclusive cumprod, back to slot order).

    Input (batch, in); states [c, h (batch, units), use, w_w (batch, slots), M (batch, slots * width),
    L (batch, slots * slots), p (batch, slots), w_r (batch, reads * slots), r (batch, reads * width)];
    output y (batch, out)."""

    def __init__(self, units: int, out: int, slots: int = 16, width: int = 16, reads: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.units, self.out, self.slots, self.width, self.reads = units, out, slots, width, reads
        n = slots
        self.state_size = [units, units, n, n, n * width, n * n, n, reads * n, reads * width]
        self.output_size = out

    def build(self, input_shape):
        u, m, g, R = self.units, self.width, "glorot_uniform", self.reads
        self._add_weights({
            "W_x": ((4 * u, input_shape[-1]), g), "W_r": ((4 * u, R * m), g), "W_h": ((4 * u, u), "orthogonal"),
            "b_h": ((4 * u,), "zeros"), "W_kr": ((R, m, u), g), "b_kr": ((R, m), "zeros"),
            "W_kw,W_e,W_v": ((m, u), g), "b_kw,b_e,b_v": ((m,), "zeros"), "v_br,v_f": ((R, u), g),
            "b_br,b_f": ((R,), "zeros"), "v_bw,v_ga,v_gw": ((u,), g), "b_bw,b_ga,b_gw": ((), "zeros"),
            "W_pi": ((R, 3, u), g), "b_pi": ((R, 3), "zeros"), "W_y": ((self.out, u + R * m), g),
            "b_y": ((self.out,), "zeros")})

    def get_initial_state(self, batch_size=None):
        states = [tf.zeros((batch_size, size)) for size in self.state_size]
        states[4] = tf.fill((batch_size, self.slots * self.width), 1e-6)  # the memory
        return states

    def call(self, x, states):
        c, h, use, w_w, M, L, p, w_r, r = states
        n, R = self.slots, self.reads
        M, L, w_r = tf.reshape(M, (-1, n, self.width)), tf.reshape(L, (-1, n, n)), tf.reshape(w_r, (-1, R, n))
        # the LSTM controller, its input and the last read vectors
        z = _linear(x, self.W_x) + _linear(r, self.W_r) + _linear(h, self.W_h) + self.b_h
        z_i, z_f, z_g, z_o = tf.split(z, 4, axis=-1)
        c = tf.sigmoid(z_f) * c + tf.sigmoid(z_i) * tf.tanh(z_g)
        h = tf.sigmoid(z_o) * tf.tanh(c)
        # the interface: the read heads' (batch, reads, ...) and the write head's
        k_r = tf.tanh(tf.einsum("bu,rmu->brm", h, self.W_kr) + self.b_kr)
        beta_r = 1 + tf.nn.softplus(tf.einsum("bu,ru->br", h, self.v_br) + self.b_br)
        f = tf.sigmoid(tf.einsum("bu,ru->br", h, self.v_f) + self.b_f)
        pi = tf.nn.softmax(tf.einsum("bu,rku->brk", h, self.W_pi) + self.b_pi)
        k_w = tf.tanh(_linear(h, self.W_kw, self.b_kw))
        beta_w = 1 + tf.nn.softplus(_dot(h, self.v_bw, self.b_bw))
        e, v = tf.sigmoid(_linear(h, self.W_e, self.b_e)), _linear(h, self.W_v, self.b_v)
        g_a, g_w = tf.sigmoid(_dot(h, self.v_ga, self.b_ga)), tf.sigmoid(_dot(h, self.v_gw, self.b_gw))
        # usage, and the allocation: the least used slots first (a stable sort, ties in slot order)
        use = (use + w_w - use * w_w) * tf.reduce_prod(1 - f[:, :, None] * w_r, axis=1)
        order = tf.argsort(use, axis=-1, stable=True)
        ascending = tf.gather(use, order, batch_dims=1)
        allocation = tf.gather((1 - ascending) * tf.math.cumprod(ascending, axis=-1, exclusive=True),
                               tf.argsort(order, axis=-1), batch_dims=1)
        # write
        w_w = g_w * (g_a * allocation + (1 - g_a) * tf.nn.softmax(beta_w * _cosine(M, k_w)))
        M = M * (1 - _outer(w_w, e)) + _outer(w_w, v)
        L = ((1 - w_w[:, :, None] - w_w[:, None, :]) * L + _outer(w_w, p)) * (1 - tf.eye(n))
        p = (1 - tf.reduce_sum(w_w, -1, keepdims=True)) * p + w_w
        # read, every head: backward, content and forward modes
        fwd, bwd = tf.einsum("bij,brj->bri", L, w_r), tf.einsum("bji,brj->bri", L, w_r)
        num = tf.einsum("bnw,brw->brn", M, k_r)
        den = tf.norm(M, axis=-1)[:, None, :] * tf.norm(k_r, axis=-1)[:, :, None]
        content = tf.nn.softmax(beta_r[:, :, None] * (num / tf.maximum(den, COSINE_EPS)))
        w_r = pi[..., :1] * bwd + pi[..., 1:2] * content + pi[..., 2:] * fwd
        r = tf.reshape(tf.einsum("brn,bnw->brw", w_r, M), (-1, R * self.width))
        y = _linear(tf.concat([h, r], -1), self.W_y, self.b_y)
        return y, [c, h, use, w_w, tf.reshape(M, (-1, n * self.width)), tf.reshape(L, (-1, n * n)), p,
                   tf.reshape(w_r, (-1, R * n)), r]


# ---------------------------------------------------------------- models, data, the check

def _loss(kind: str) -> keras.losses.Loss:
    return keras.losses.BinaryCrossentropy(from_logits=kind == "dnc")  # the NTM's Dense has a sigmoid


def _compiled(model: keras.Model, kind: str, jit: bool) -> keras.Model:
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=_loss(kind), jit_compile=jit)
    return model


def spec_model(kind: str, jit: bool = False) -> keras.Model:
    """The spec network ("ntm": CopyNTM, "dnc": RepeatCopyDNC) built by rnndsl, compiled."""
    model = rnndsl.load(NTM_SPEC if kind == "ntm" else DNC_SPEC).build("CopyNTM" if kind == "ntm" else "RepeatCopyDNC")
    return _compiled(model, kind, jit)


def hand_model(kind: str, jit: bool = False) -> keras.Model:
    """The same network over the hand-written cell, compiled."""
    if kind == "ntm":
        x = keras.Input((None, NTM_INPUTS))
        h = keras.layers.RNN(HandNTMCell(**NTM), return_sequences=True)(x)
        y = keras.layers.Dense(NTM_OUTPUTS, activation="sigmoid")(h)
    else:
        x = keras.Input((None, DNC_INPUTS))
        y = keras.layers.RNN(HandDNCCell(out=DNC_OUTPUTS, **DNC), return_sequences=True)(x)
    return _compiled(keras.Model(x, y), kind, jit)


def batch(kind: str, seed: int = 0) -> tuple:
    """A batch of random bits: inputs (16, T, in) and targets (16, T, 8), float32."""
    rng = np.random.default_rng(seed)
    steps, inputs = (NTM_STEPS, NTM_INPUTS) if kind == "ntm" else (DNC_STEPS, DNC_INPUTS)
    x = rng.integers(0, 2, (BATCH, steps, inputs)).astype("float32")
    return x, rng.integers(0, 2, (BATCH, steps, NTM_OUTPUTS if kind == "ntm" else DNC_OUTPUTS)).astype("float32")


def weight_pairs(spec: keras.Model, hand: keras.Model) -> list:
    """(spec model's weight, hand-written model's weight) pairs: the cells' by the spec's parameter names
    (the spec's fixed ones, `one` and `I` of the DNC, are constants of the hand-written cell), other layers'
    in order."""
    pairs = []
    for a, b in zip([s for s in spec.layers if s.weights], [h for h in hand.layers if h.weights], strict=True):
        if isinstance(b, keras.layers.RNN):
            by_name = a.cell.weights_by_name
            assert {n for n, w in by_name.items() if w.trainable} == {w.name for w in b.cell.weights}
            pairs += [(by_name[w.name], w) for w in b.cell.weights]
        else:
            pairs += list(zip(a.weights, b.weights, strict=True))
    return pairs


def differences(kind: str) -> tuple:
    """(|loss difference|, largest |output difference|, largest |gradient difference|) of the spec model and
    the hand-written one holding its weights, on one batch."""
    spec, hand = spec_model(kind), hand_model(kind)
    x, y = batch(kind, seed=1)
    hand(x[:1])  # builds the cell's weights
    pairs = weight_pairs(spec, hand)
    for v, w in pairs:
        w.assign(v)
    found = []
    for model, weights in ((spec, [v for v, _ in pairs]), (hand, [w for _, w in pairs])):
        with tf.GradientTape() as tape:
            out = model(x)
            loss = _loss(kind)(y, out)
        found.append((out, float(loss), tape.gradient(loss, weights)))
    (out_a, loss_a, grads_a), (out_b, loss_b, grads_b) = found
    gradients = max(float(tf.reduce_max(tf.abs(a - b))) for a, b in zip(grads_a, grads_b))
    return abs(loss_a - loss_b), float(tf.reduce_max(tf.abs(out_a - out_b))), gradients


def same_loss(kind: str) -> float:
    """|loss of the spec model - loss of the hand-written one| on one batch, with the same weights ("ntm", "dnc")."""
    return differences(kind)[0]


# ---------------------------------------------------------------- timing

def turns(steps: dict, repeats: int, warmup: int = 3) -> dict:
    """Median time (s) of each step function, after warm-up, the functions taking turns."""
    for step in steps.values():
        for _ in range(warmup):
            step()
    found: dict = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            t0 = time.perf_counter()
            step()
            found[name].append(time.perf_counter() - t0)
    return {name: statistics.median(t) for name, t in found.items()}


def times(repeats: int) -> dict:
    """{"spec NTM, XLA off": ms, ...}: the median training step (train_on_batch on a fixed batch) of the spec and
    hand-written NTM and DNC, each compiled without and with XLA."""
    steps = {}
    for kind in ("ntm", "dnc"):
        x, y = batch(kind)
        for who, make in (("spec", spec_model), ("hand-written", hand_model)):
            for jit in (False, True):
                model = make(kind, jit)
                steps[f"{who} {kind.upper()}, XLA {'on' if jit else 'off'}"] = (
                    lambda model=model, x=x, y=y: model.train_on_batch(x, y))
    return {name: 1000 * t for name, t in turns(steps, repeats).items()}


def ratios(found: dict) -> dict:
    """spec / hand-written: at each one's best setting (the faster of XLA off and on), and at each setting."""
    out = {}
    for kind in ("NTM", "DNC"):
        best = {who: min(found[f"{who} {kind}, XLA {s}"] for s in ("off", "on")) for who in ("spec", "hand-written")}
        out[f"{kind}: spec / hand-written, each at its best"] = best["spec"] / best["hand-written"]
        for s in ("off", "on"):
            spec, hand = found[f"spec {kind}, XLA {s}"], found[f"hand-written {kind}, XLA {s}"]
            out[f"{kind}: spec / hand-written, XLA {s}"] = spec / hand
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    for kind in ("ntm", "dnc"):
        loss, outputs, gradients = differences(kind)
        print(f"{kind.upper()}, spec against hand-written, same weights, one batch: |loss difference| {loss:.1e}, "
              f"largest |output difference| {outputs:.1e}, largest |gradient difference| {gradients:.1e}")
    found = times(args.repeats)
    print(f"\nTraining step (forward, backward, Adam), batch {BATCH}; NTM {NTM}, {NTM_STEPS} steps; DNC {DNC}, "
          f"{DNC_STEPS} steps; median of {args.repeats} after 3 warm-up steps, the models taking turns.\n")
    print_tables(found, ratios(found))


def print_tables(found: dict, ratios: dict) -> None:
    """The times (ms, by model) and the ratios as Markdown tables."""
    print("| model | median step (ms) |\n| --- | --- |")
    for name, t in found.items():
        print(f"| {name} | {t:.1f} |")
    print("\n| ratio | value |\n| --- | --- |")
    for name, r in ratios.items():
        print(f"| {name} | {r:.3f} |")


if __name__ == "__main__":
    main()
