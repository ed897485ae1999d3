"""`rnndsl export`: a model as a TensorFlow SavedModel, or as TFLite with a static batch and time, each giving
the outputs of the Keras model."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import rnndsl  # noqa: E402
from rnndsl.cli import main  # noqa: E402
from rnndsl.keras.export import run_tflite  # noqa: E402

SPEC = """
import "std/lstm.rnn"
import "std/indrnn.rnn"
network N(units: int = 6) {
    input x: seq[3]
    output Dense(2)(IndRNN(units)(LSTM(units)(x)))
}
"""


@pytest.fixture(scope="module", params=[True, False], ids=["fused", "generated"])
def saved(request, tmp_path_factory):
    """A built model saved (its LSTM on the fused path, or generated), an input and the model's outputs."""
    folder = tmp_path_factory.mktemp("export")
    model = rnndsl.load(SPEC).build("N", fused=request.param)
    x = np.random.default_rng(0).normal(size=(2, 5, 3)).astype("float32")
    model.save(folder / "model.keras")
    return folder, x, np.asarray(model(x))


def test_tflite_gives_the_keras_outputs(saved, capsys):
    folder, x, want = saved
    out = folder / "n.tflite"
    assert main(["export", str(folder / "model.keras"), "--format", "tflite", "--batch", "2", "--steps", "5",
                 "-o", str(out)]) == 0
    assert capsys.readouterr().out == f"wrote {out}\n"
    (got,) = run_tflite(out, [x])
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_a_saved_model_gives_the_keras_outputs(saved):
    import tensorflow as tf

    folder, x, want = saved
    out = folder / "saved"
    assert main(["export", str(folder), "--format", "saved_model", "-o", str(out)]) == 0  # a folder: model.keras
    loaded = tf.saved_model.load(str(out))
    np.testing.assert_allclose(np.asarray(loaded.serve(x)), want, atol=1e-6)


def test_export_errors(saved, tmp_path, capsys):
    folder, _, _ = saved
    model = str(folder / "model.keras")
    cases = [
        (["--format", "tflite", "-o", str(tmp_path / "a.tflite")],
         "error: a TFLite model runs a fixed number of steps: give --steps T (and --batch B, default 1)"),
        (["--format", "tflite", "--steps", "0", "-o", str(tmp_path / "a.tflite")],
         "error: --steps takes a number from 1 to 1048576, not 0"),
        (["--format", "saved_model", "-o", str(folder)],
         f"error: {folder} exists: export writes a new folder"),
        (["--format", "tflite", "--steps", "5", "-o", str(tmp_path / "no" / "a.tflite")],
         f"error: cannot write {tmp_path / 'no' / 'a.tflite'}: there is no folder {tmp_path / 'no'}"),
    ]
    for args, message in cases:
        assert main(["export", model] + args) == 2
        assert capsys.readouterr().err == message + "\n"
    assert main(["export", str(tmp_path / "none.keras"), "--format", "tflite", "-o", str(tmp_path / "b")]) == 2
    assert capsys.readouterr().err == f"error: cannot load the model {tmp_path / 'none.keras'}: no such file\n"


def test_export_refuses_what_it_cannot_write(tmp_path):
    """From Python: an unknown format, an input of more than three axes, and a model TFLite cannot convert (a
    NumPy function inside it), each a one-line UsageError."""
    import keras
    import tensorflow as tf

    from rnndsl.keras.export import export

    image = keras.Input((2, 3, 4))
    with pytest.raises(rnndsl.UsageError, match=r"^error: --format is one of saved_model, tflite, not 'onnx'$"):
        export(keras.Model(image, image), tmp_path / "a", "onnx")
    with pytest.raises(rnndsl.UsageError, match=r"^error: input `.*` has shape \(None, 2, 3, 4\): export takes "
                                                r"sequences \(batch, steps, features\) and vectors \(batch, features\)$"):
        export(keras.Model(image, image), tmp_path / "a.tflite", "tflite")

    class Opaque(keras.layers.Layer):
        def call(self, x):
            y = tf.numpy_function(lambda a: a * 2, [x], tf.float32)
            return tf.reshape(y, tf.shape(x))

    x = keras.Input((3,))
    with pytest.raises(rnndsl.UsageError, match=r"^error: TFLite cannot convert this model: \w+: .+"):
        export(keras.Model(x, Opaque()(x)), tmp_path / "b.tflite", "tflite")
    assert not (tmp_path / "b.tflite").exists()
