"""The layers that change the rate of a sequence (rnndsl.keras.rate): `Subsample`, `AveragePooling1D`,
`MaxPooling1D`, `UpSampling1D` and `Gather`. Their diagnostics (full text), their outputs, masks and gradients
against NumPy references, masks reaching the recurrent layer after them, a model with unknown lengths, saving and
reloading, drawing, and the same numbers on Keras's JAX and PyTorch back ends."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

import rnndsl
from helpers import backend_env, central_differences, diagnostics
from rnndsl.keras.rate import AveragePooling1D, Gather, MaxPooling1D, Subsample, UpSampling1D

ROOT = Path(__file__).resolve().parents[1]

# ---------------------------------------------------------------- diagnostics

ONE = "network N {\n    input x: seq[3]\n    output %s\n}\n"
LAYERS = ("Activation, Add, AveragePooling1D, Concatenate, Dense, Dropout, Embedding, Gather, LayerNormalization, "
          "MaskedConv2D, Masking, MaxPooling1D, Mispredicted, Scatter, Subsample, UpSampling1D")

DIAGNOSTICS = {
    "stride_zero": (ONE % "Subsample(0)(x)", """\
error[E0209]: `stride` of `Subsample` is a number of steps, from 1 to 10000, not 0
  --> spec.rnn:3:12
   |
 3 |     output Subsample(0)(x)
   |            ^^^^^^^^^^^^^^^"""),
    "offset_past_the_stride": (
        "network N(first: int = 4) {\n    input x: seq[3]\n    output Subsample(4, offset=first)(x)\n}\n", """\
error[E0209]: `offset` of `Subsample` is the first step kept, from 0 to stride - 1 = 3, not 4
  --> spec.rnn:3:12
   |
 3 |     output Subsample(4, offset=first)(x)
   |            ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
   = note: `first` = 4 is the default at spec.rnn:1:11"""),
    "stride_not_an_int": (ONE % "Subsample(1.5)(x)", """\
error[E0209]: argument `stride` of `Subsample` must be an int
  --> spec.rnn:3:22
   |
 3 |     output Subsample(1.5)(x)
   |                      ^^^ expected an integer, an int hyperparameter, or arithmetic of those
   = note: a dimension must be an integer"""),
    "pool_size_zero": (ONE % "AveragePooling1D(0)(x)", """\
error[E0209]: `pool_size` of `AveragePooling1D` is a number of steps, from 1 to 10000, not 0
  --> spec.rnn:3:12
   |
 3 |     output AveragePooling1D(0)(x)
   |            ^^^^^^^^^^^^^^^^^^^^^^"""),
    "strides_negative": (ONE % "MaxPooling1D(2, strides=-1)(x)", """\
error[E0209]: `strides` of `MaxPooling1D` is a number of steps, from 1 to 10000, not -1
  --> spec.rnn:3:12
   |
 3 |     output MaxPooling1D(2, strides=-1)(x)
   |            ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^"""),
    "padding_unknown": (ONE % "AveragePooling1D(2, padding=full)(x)", """\
error[E0209]: argument `padding` of `AveragePooling1D` must be one of valid, same
  --> spec.rnn:3:40
   |
 3 |     output AveragePooling1D(2, padding=full)(x)
   |                                        ^^^^ not one of those"""),
    "upsampling_too_many": (ONE % "UpSampling1D(10001)(x)", """\
error[E0209]: `size` of `UpSampling1D` is a number of repeats, from 1 to 10000, not 10001
  --> spec.rnn:3:12
   |
 3 |     output UpSampling1D(10001)(x)
   |            ^^^^^^^^^^^^^^^^^^^^^^"""),
    "subsample_of_a_grid": ("network N {\n    input g: grid[4, 4, 1]\n    output Subsample(2)(g)\n}\n", """\
error[E0305]: `Subsample` takes a sequence, seq[...], found grid[4, 4, 1]
  --> spec.rnn:3:12
   |
 3 |     output Subsample(2)(g)
   |            ^^^^^^^^^^^^^^^ applied to grid[4, 4, 1]"""),
    "upsampling_of_a_tree": ("network N {\n    input n: tree[4]\n    output UpSampling1D(2)(n)\n}\n", """\
error[E0305]: `UpSampling1D` takes a sequence, seq[...], found tree[4]
  --> spec.rnn:3:12
   |
 3 |     output UpSampling1D(2)(n)
   |            ^^^^^^^^^^^^^^^^^^ applied to tree[4]"""),
    "pooling_of_a_vec": ("network N {\n    input v: vec[4]\n    output AveragePooling1D(2)(v)\n}\n", """\
error[E0305]: `AveragePooling1D` takes a sequence, seq[...], found vec[4]
  --> spec.rnn:3:12
   |
 3 |     output AveragePooling1D(2)(v)
   |            ^^^^^^^^^^^^^^^^^^^^^^ applied to vec[4]"""),
    "pooling_of_tokens": ("network N {\n    input w: seq[int]\n    output MaxPooling1D(2)(w)\n}\n", """\
error[E0305]: `MaxPooling1D` takes float features, found seq[int]
  --> spec.rnn:3:12
   |
 3 |     output MaxPooling1D(2)(w)
   |            ^^^^^^^^^^^^^^^^^^ applied to seq[int]"""),
    "gather_flags_of_several_features": (
        "network N {\n    input x: seq[3]\n    input f: seq[2]\n    output Gather()(x, f)\n}\n", """\
error[E0305]: the second input of `Gather` is its flags, one number a step (seq[int], seq[1]), found seq[2]
  --> spec.rnn:4:12
   |
 4 |     output Gather()(x, f)
   |            ^^^^^^^^^^^^^^ applied to seq[3], seq[2]"""),
    "gather_flags_not_a_sequence": (
        "network N {\n    input x: seq[3]\n    input f: vec[1]\n    output Gather()(x, f)\n}\n", """\
error[E0305]: the second input of `Gather` is its flags, one number a step (seq[int], seq[1]), found vec[1]
  --> spec.rnn:4:12
   |
 4 |     output Gather()(x, f)
   |            ^^^^^^^^^^^^^^ applied to seq[3], vec[1]"""),
    "gather_of_a_vec": ("network N {\n    input v: vec[3]\n    input f: seq[int]\n    output Gather()(v, f)\n}\n", """\
error[E0305]: `Gather` takes a sequence, seq[...], found vec[3]
  --> spec.rnn:4:12
   |
 4 |     output Gather()(v, f)
   |            ^^^^^^^^^^^^^^ applied to vec[3], seq[int]"""),
    "gather_times_of_tokens": ("network N {\n    input w: seq[int]\n    output Gather(times=true)(w, w)\n}\n", """\
error[E0305]: `Gather` with `times` adds a feature to each step: it takes float feature vectors, seq[d], found \
seq[int]
  --> spec.rnn:3:12
   |
 3 |     output Gather(times=true)(w, w)
   |            ^^^^^^^^^^^^^^^^^^^^^^^^ applied to seq[int], seq[int]"""),
    "gather_times_by_a_hyperparameter": (
        "network N(t: bool = true) {\n    input x: seq[3]\n    input f: seq[int]\n"
        "    output Gather(times=t)(x, f)\n}\n",
        """\
error[E0305]: `times` of `Gather` changes its type: write true or false, not `t`
  --> spec.rnn:4:12
   |
 4 |     output Gather(times=t)(x, f)
   |            ^^^^^^^^^^^^^^^^^^^^^ applied to seq[3], seq[int]"""),
    "gather_one_input": (ONE % "x >> Gather()", """\
error[E0231]: `Gather` takes 2 inputs, given 1
  --> spec.rnn:3:12
   |
 3 |     output x >> Gather()
   |            ^^^^^^^^^^^^^"""),
    # an int argument given by a hyperparameter is checked at its default (this crashed for MaskedConv2D)
    "kernel_by_a_hyperparameter": (
        "network N(k: int = 4) {\n    input g: grid[4, 4, 1]\n    output MaskedConv2D(2, kernel=k)(g)\n}\n", """\
error[E0209]: the kernel of `MaskedConv2D` is an odd number of pixels from 1 to 31, not 4
  --> spec.rnn:3:12
   |
 3 |     output MaskedConv2D(2, kernel=k)(g)
   |            ^^^^^^^^^^^^^^^^^^^^^^^^^^^^
   = note: `k` = 4 is the default at spec.rnn:1:11"""),
    "unknown_layer_many_cells_in_scope": (
        "".join(f"cell C{i}(units: int) {{\n    input x: [in]\n    h[t] = x[t] + h[t-1]\n    output h\n}}\n"
                for i in range(14)) + ONE % "Pooling1D(2)(x)", f"""\
error[E0226]: unknown layer `Pooling1D`
   --> spec.rnn:73:12
    |
 73 |     output Pooling1D(2)(x)
    |            ^^^^^^^^^ not a cell or a known layer
    = note: did you mean `MaxPooling1D`?
    = note: the layers: {LAYERS}
    = note: the configurations of a cell: Bidirectional, EncoderDecoder, Stack
    = note: the cells in scope: C0, C1, C10, C11, C12, C13, C2, C3, C4, C5, C6, C7 and 2 more"""),
}


@pytest.mark.parametrize("name", sorted(DIAGNOSTICS))
def test_diagnostics(name):
    spec, want = DIAGNOSTICS[name]
    assert diagnostics(spec) == want


def test_an_argument_given_to_build_is_checked_there():
    program = rnndsl.load("network N(k: int = 2) {\n    input x: seq[3]\n    output Subsample(k)(x)\n}\n")
    with pytest.raises(rnndsl.SpecErrors) as caught:
        program.build("N", k=0)
    assert str(caught.value).splitlines()[0] == \
        "error[E0209]: `stride` of `Subsample` is a number of steps, from 1 to 10000, not 0 (k = 0)"
    assert [layer.stride for layer in program.build("N", k=3).layers[1:]] == [3]


# ---------------------------------------------------------------- NumPy references
# Each takes one sequence, `x (T, *item)` and its mask `(T,)` of bools, and gives (output, its mask).


def subsample(x, mask, stride, offset=0):
    return x[offset::stride], mask[offset::stride]


def upsample(x, mask, size=2):
    return np.repeat(x, size, axis=0), np.repeat(mask, size)


def windows(steps, pool, strides, padding):
    """The steps each window of a pooling reads, as Keras places them (the padding of "same": half before,
    the extra one after)."""
    if padding == "valid":
        return [range(j * strides, j * strides + pool) for j in range(max(0, (steps - pool) // strides + 1))]
    out = math.ceil(steps / strides)
    before = max((out - 1) * strides + pool - steps, 0) // 2
    return [range(max(0, j * strides - before), min(steps, j * strides - before + pool)) for j in range(out)]


def pool(x, mask, kind, pool_size=2, strides=None, padding="valid"):
    found, kept = [], []
    for steps in windows(len(x), pool_size, strides or pool_size, padding):
        real = [t for t in steps if mask[t]]
        found.append(np.zeros(x.shape[1:]) if not real else
                     x[real].mean(axis=0) if kind == "average" else x[real].max(axis=0))
        kept.append(bool(real))
    return np.array(found).reshape((len(found),) + x.shape[1:]), np.array(kept, bool)


def gather(x, mask, flags, times=False):
    """`flags (T,)`: the steps kept where not 0 (and not padding)."""
    kept = [t for t in range(len(x)) if flags[t] != 0 and mask[t]]
    rows = [np.append(x[t], t) if times else x[t] for t in kept]
    out = np.zeros((len(x),) + (np.shape(rows[0]) if rows else (x.shape[1] + 1,) if times else x.shape[1:]), x.dtype)
    out[:len(kept)] = rows if rows else out[:0]
    return out, np.arange(len(x)) < len(kept)


def reference(case: dict, x, mask, flags=None):
    """(outputs, masks) of the batch `x` by the reference of `case`, sequence by sequence."""
    kind, args = case["layer"], case["args"]
    one = {"Subsample": lambda s, m: subsample(s, m, *args), "UpSampling1D": lambda s, m: upsample(s, m, *args),
           "AveragePooling1D": lambda s, m: pool(s, m, "average", *args),
           "MaxPooling1D": lambda s, m: pool(s, m, "max", *args)}
    pairs = [gather(x[b], mask[b], flags[b], *args) if kind == "Gather" else one[kind](x[b], mask[b])
             for b in range(len(x))]
    return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])


# (layer, its arguments, the item shape): every layer, odd strides and windows, items of rank 0, 1 and 2
CASES = [
    {"layer": "Subsample", "args": [3, 1], "item": [2]},
    {"layer": "Subsample", "args": [2, 0], "item": []},
    {"layer": "UpSampling1D", "args": [3], "item": [2]},
    {"layer": "UpSampling1D", "args": [2], "item": [2, 2]},
    {"layer": "AveragePooling1D", "args": [3, 2, "valid"], "item": [2]},
    {"layer": "AveragePooling1D", "args": [4, 3, "same"], "item": [3]},
    {"layer": "AveragePooling1D", "args": [2, None, "same"], "item": [2, 3]},
    {"layer": "MaxPooling1D", "args": [2, None, "valid"], "item": [3]},
    {"layer": "MaxPooling1D", "args": [3, 1, "same"], "item": []},
    {"layer": "MaxPooling1D", "args": [5, 2, "same"], "item": [2]},
    {"layer": "Gather", "args": [False], "item": [3]},
    {"layer": "Gather", "args": [True], "item": [2]},
    {"layer": "Gather", "args": [False], "item": [2, 2]},
]
CLASSES = {"Subsample": Subsample, "UpSampling1D": UpSampling1D, "AveragePooling1D": AveragePooling1D,
           "MaxPooling1D": MaxPooling1D, "Gather": Gather}


def case_data(case: dict, seed: int = 0):
    """A batch of 3 sequences of 7 steps: x, its mask (the first ends in 2 steps of padding, the second has one
    in the middle, the last is all padding but its first step) and flags of 0 and 1 (none in the second)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(3, 7, *case["item"]))
    mask = np.ones((3, 7), bool)
    mask[0, 5:] = False
    mask[1, 2] = False
    mask[2, 1:] = False
    flags = (rng.random((3, 7)) < 0.5).astype("int32")
    flags[1] = 0
    flags[2, 0] = 1
    return x, mask, flags


def _name(case: dict) -> str:
    return f"{case['layer']}{case['args']}{case['item']}".replace(" ", "")


def run_layer(case: dict, x, mask, flags, dtype="float32"):
    """(outputs, mask) of the rnndsl layer of `case`, called eagerly with the mask."""
    layer = CLASSES[case["layer"]](*case["args"], dtype=dtype)
    x = keras.ops.convert_to_tensor(x, dtype)
    m = keras.ops.convert_to_tensor(mask)
    if case["layer"] == "Gather":
        inputs, masks = [x, keras.ops.convert_to_tensor(flags)], [m, None]
    else:
        inputs, masks = x, m
    return layer(inputs, mask=masks), layer.compute_mask(inputs, masks)


@pytest.mark.parametrize("case", CASES, ids=_name)
def test_each_layer_and_its_mask_against_the_reference(case):
    x, mask, flags = case_data(case)
    want, want_mask = reference(case, x, mask, flags)
    y, y_mask = run_layer(case, x, mask, flags)
    np.testing.assert_allclose(np.asarray(y), want, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(np.asarray(y_mask), want_mask)
    if case["layer"] != "Gather":  # without a mask: no mask out, and the output of every step as real
        layer = CLASSES[case["layer"]](*case["args"])
        y = layer(x.astype("float32"))
        assert layer.compute_mask(x.astype("float32"), None) is None
        np.testing.assert_allclose(np.asarray(y), reference(case, x, np.ones_like(mask))[0], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("case", CASES, ids=_name)
def test_each_layer_s_gradient_against_the_reference(case):
    """The gradient of sum(R * layer(x)) with respect to x, in float64, against central differences of the
    reference: the values of the steps a layer keeps get theirs, padding and dropped steps none."""
    x, mask, flags = case_data(case, seed=1)
    R = np.random.default_rng(2).normal(size=reference(case, x, mask, flags)[0].shape)
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        loss = tf.reduce_sum(run_layer(case, xt, mask, flags, "float64")[0] * R)
    got = tape.gradient(loss, xt).numpy()
    want = central_differences(lambda: float((reference(case, x, mask, flags)[0] * R).sum()), x, 1e-6)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


# ---------------------------------------------------------------- in networks

SPECS = {  # a layer applied in a network, between padding and a recurrent layer that reads its mask
    "Subsample": "Subsample(3, offset=1)(h)",
    "UpSampling1D": "UpSampling1D(3)(h)",
    "AveragePooling1D": "AveragePooling1D(4, strides=3, padding=same)(h)",
    "MaxPooling1D": "MaxPooling1D(3, strides=2)(h)",
    "Gather": "Gather(times=true)(h, flags)",
}
REFERENCES = {"Subsample": {"layer": "Subsample", "args": [3, 1]},
              "UpSampling1D": {"layer": "UpSampling1D", "args": [3]},
              "AveragePooling1D": {"layer": "AveragePooling1D", "args": [4, 3, "same"]},
              "MaxPooling1D": {"layer": "MaxPooling1D", "args": [3, 2, "valid"]},
              "Gather": {"layer": "Gather", "args": [True]}}


def network(layer: str) -> str:
    return f"""import "std/lstm.rnn"

network N(units: int = 4) {{
    input x: seq[3]
    input flags: seq[int]
    h = Masking()(x)
    r = {SPECS[layer]}
    output LSTM(units, returns=last)(r)
}}
"""


def padded_data(seed: int = 0):
    x, mask, flags = case_data({"item": [3]}, seed)
    return np.where(mask[:, :, None], x, 0.0).astype("float32"), mask, flags


@pytest.mark.parametrize("layer", sorted(SPECS))
def test_the_mask_at_the_new_rate_reaches_the_recurrent_layer(layer):
    """The network's LSTM gives what the same LSTM gives on the reference's outputs with the reference's mask:
    it skips the steps that are padding at the new rate, and only those."""
    model = rnndsl.load(network(layer)).build("N")
    x, mask, flags = padded_data()
    (lstm,) = [lay for lay in model.layers if isinstance(lay, keras.layers.LSTM)]
    rows, rows_mask = reference(REFERENCES[layer], x, mask, flags)
    want = lstm(rows.astype("float32"), mask=tf.constant(rows_mask))
    np.testing.assert_allclose(np.asarray(model([x, flags])), np.asarray(want), rtol=1e-5, atol=1e-6)


ALL = """network All {
    input x: seq[3]
    input flags: seq[1]
    a = Subsample(2)(x) >> UpSampling1D(2)
    b = AveragePooling1D(3, strides=2, padding=same)(x) >> MaxPooling1D(2, padding=same) >> UpSampling1D(4)
    g = Gather()(Dense(3)(x), flags)
    output Concatenate()(a, b, g) >> Dense(2)
}
"""


def test_unknown_lengths_training_saving_and_reloading(tmp_path):
    """A network of every rate layer runs in one graph for any length (a tf.function over unknown lengths, as
    `fit` traces one), trains, and saves and reloads with the same outputs."""
    model = rnndsl.load(ALL).build("All")
    rng = np.random.default_rng(3)
    x12, f12 = rng.normal(size=(2, 12, 3)).astype("float32"), (rng.random((2, 12, 1)) < 0.5).astype("float32")
    traced = tf.function(lambda x, f: model([x, f]), input_signature=[tf.TensorSpec((None, None, 3)),
                                                                    tf.TensorSpec((None, None, 1))])
    for steps in (12, 8):  # `a` and `b` agree in length where it is a multiple of 4
        np.testing.assert_allclose(np.asarray(traced(x12[:, :steps], f12[:, :steps])),
                                   np.asarray(model([x12[:, :steps], f12[:, :steps]])), rtol=1e-5, atol=1e-6)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    before = [np.array(w) for w in model.trainable_weights]
    losses = [float(model.train_on_batch([x12, f12], np.ones((2, 12, 2), "float32"))) for _ in range(3)]
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]
    assert all(not np.array_equal(b, np.array(w)) for b, w in zip(before, model.trainable_weights))
    model.save(tmp_path / "all.keras")
    again = keras.saving.load_model(tmp_path / "all.keras")
    assert {type(lay) for lay in again.layers} >= set(CLASSES.values())  # rnndsl's, not Keras's of those names
    np.testing.assert_array_equal(np.asarray(again([x12, f12])), np.asarray(model([x12, f12])))


def test_truncated_bptt_refuses_them():
    """Chunks of k steps would each start their subsampling, windows and gathering over: refused before training."""
    from rnndsl.lang.errors import UsageError
    from rnndsl.train.bptt import check_truncation

    model = rnndsl.load(network("Subsample")).build("N")
    with pytest.raises(UsageError) as caught:
        check_truncation(model, "N")
    assert str(caught.value) == ("error: truncated BPTT cuts sequences into chunks of steps, but `r` (Subsample) "
                                 "changes the rate of a sequence, and would start over at every chunk; use "
                                 "`bptt = full`")


def test_the_layers_draw_and_typeset(tmp_path):
    program = rnndsl.load(ALL)
    dot = program.render("All", format="dot")
    for label in ("Subsample(2)", "UpSampling1D()", "UpSampling1D(size=4)", "MaxPooling1D(padding=same)", "Gather()",
                  "AveragePooling1D(pool_size=3, strides=2, padding=same)"):
        assert label in dot, label
    assert program.render("All", tmp_path / "all.svg").exists()
    latex = program.latex("All")
    assert "Subsample" in latex and "Gather" in latex


# ---------------------------------------------------------------- JAX and PyTorch

CHILD = r"""
import json, sys
import numpy as np, keras
import rnndsl  # registers rnndsl's Keras classes
from rnndsl.keras.rate import AveragePooling1D, Gather, MaxPooling1D, Subsample, UpSampling1D
classes = {"Subsample": Subsample, "UpSampling1D": UpSampling1D, "AveragePooling1D": AveragePooling1D,
           "MaxPooling1D": MaxPooling1D, "Gather": Gather}
folder = sys.argv[1]
cases = json.loads(open(f"{folder}/cases.json").read())
data = np.load(f"{folder}/data.npz")
found = {}
for i, case in enumerate(cases):
    x, mask, flags = data[f"x{i}"].astype("float32"), data[f"mask{i}"], data[f"flags{i}"]
    layer = classes[case["layer"]](*case["args"])
    gather = case["layer"] == "Gather"
    inputs = [keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(flags)] if gather \
        else keras.ops.convert_to_tensor(x)
    masks = [keras.ops.convert_to_tensor(mask), None] if gather else keras.ops.convert_to_tensor(mask)
    found[f"y{i}"] = keras.ops.convert_to_numpy(layer(inputs, mask=masks))
    found[f"m{i}"] = keras.ops.convert_to_numpy(layer.compute_mask(inputs, masks))
model = keras.saving.load_model(f"{folder}/All.keras")
found["all"] = model.predict([data["x_all"], data["f_all"]], verbose=0)  # compiled: jit on JAX
for layer in classes:  # each between padding and an LSTM, which must skip the steps that are padding after it
    found[f"net {layer}"] = keras.saving.load_model(f"{folder}/{layer}.keras").predict(
        [data["x_net"], data["flags_net"]], verbose=0)
found["tensorflow imported"] = np.array("tensorflow" in sys.modules)
np.savez(f"{folder}/{keras.backend.backend()}.npz", **found)
from backend_checks import against_tensorflow
print(json.dumps(against_tensorflow(model, [data["x_all"], data["f_all"]], folder, "All")))
"""


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_the_layers_on_jax_and_pytorch(tmp_path, backend):
    """Each case's outputs and masks against the references, and a network of them saved under TensorFlow,
    reloaded and run compiled there, with TensorFlow's outputs and gradients, and saved and reloaded there."""
    data = {}
    for i, case in enumerate(CASES):
        data[f"x{i}"], data[f"mask{i}"], data[f"flags{i}"] = case_data(case, seed=i)
    model = rnndsl.load(ALL).build("All")
    rng = np.random.default_rng(4)
    data["x_all"] = rng.normal(size=(2, 12, 3)).astype("float32")
    data["f_all"] = (rng.random((2, 12, 1)) < 0.5).astype("float32")
    model.save(tmp_path / "All.keras")
    inputs = [data["x_all"], data["f_all"]]
    with tf.GradientTape() as tape:
        y = model(inputs)
        loss = keras.losses.MeanSquaredError()(tf.zeros_like(y), y)
    np.save(tmp_path / "All.y.npy", np.asarray(y))
    np.savez(tmp_path / "All.grads.npz", **{f"g{i}": np.asarray(g)
                                            for i, g in enumerate(tape.gradient(loss, model.trainable_weights))})
    data["x_net"], _, data["flags_net"] = padded_data(seed=5)
    nets = {}
    for layer in SPECS:
        net = rnndsl.load(network(layer)).build("N")
        net.save(tmp_path / f"{layer}.keras")
        nets[layer] = np.asarray(net([data["x_net"], data["flags_net"]]))
    np.savez(tmp_path / "data.npz", **data)
    (tmp_path / "cases.json").write_text(json.dumps(CASES))
    done = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path)], env=backend_env(backend, tmp_path),
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    found = np.load(tmp_path / f"{backend}.npz")
    assert not found["tensorflow imported"]
    for i, case in enumerate(CASES):
        want, want_mask = reference(case, data[f"x{i}"], data[f"mask{i}"], data[f"flags{i}"])
        np.testing.assert_allclose(found[f"y{i}"], want, rtol=1e-5, atol=1e-5, err_msg=_name(case))
        np.testing.assert_array_equal(found[f"m{i}"], want_mask, err_msg=_name(case))
    np.testing.assert_allclose(found["all"], np.asarray(y), rtol=1e-5, atol=1e-5)
    for layer, want in nets.items():
        np.testing.assert_allclose(found[f"net {layer}"], want, rtol=1e-5, atol=1e-5, err_msg=layer)
    checks = json.loads(done.stdout.strip().splitlines()[-1])  # one step of SGD, and saved and reloaded there
    assert checks["outputs"] < 1e-5 and checks["gradients"] < 1e-5 and checks["reloaded"] == 0, checks
