"""export: a trained or built model as a TensorFlow SavedModel or a TFLite flat buffer (`rnndsl export`).

TFLite converts a recurrent layer's loop only where every shape in it is static: Keras's own LSTM
fails too with a dynamic batch or time (`tf.TensorListReserve` needs a static element shape). So the
model is traced for one input shape, `(batch, steps, features)`, the batch and the steps given (`--batch`,
`--steps`), the features the model's own. An op that TFLite has no kernel of its own for is kept as a
TensorFlow op (`SELECT_TF_OPS`): the DNC's `cumprod` is one, and its flat buffer then runs only in an
interpreter with TensorFlow's ops linked (the Flex delegate), which the Python interpreter of the
TensorFlow wheel here lacks. A SavedModel keeps any shape unless given one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from ..lang.errors import UsageError

FORMATS = ("saved_model", "tflite")


def input_signature(model, batch: Optional[int], steps: Optional[int]) -> list:
    """A TensorSpec per model input: the model's own shape, with the batch and the steps (the axis after the
    batch of a sequence input) fixed where given; a UsageError where the model's inputs are not sequences or
    vectors, or where a size is out of bounds."""
    import tensorflow as tf

    for given, what in ((batch, "--batch"), (steps, "--steps")):
        if given is not None and not 1 <= given <= 1 << 20:
            raise UsageError(f"{what} takes a number from 1 to {1 << 20}, not {given}")
    specs = []
    for tensor in model.inputs:
        shape = list(tensor.shape)
        if len(shape) > 3:
            raise UsageError(f"input `{tensor.name}` has shape {tuple(shape)}: export takes sequences "
                             "(batch, steps, features) and vectors (batch, features)")
        shape[0] = batch
        if len(shape) == 3:
            shape[1] = steps if steps is not None else shape[1]
        specs.append(tf.TensorSpec(shape, tensor.dtype, name=tensor.name))
    return specs


def _function(model, signature: list):
    import tensorflow as tf

    if len(signature) == 1:
        return tf.function(lambda x: model(x, training=False), input_signature=signature)
    return tf.function(lambda *xs: model(list(xs), training=False), input_signature=signature)


def export(model, out: Path, fmt: str, batch: Optional[int] = None, steps: Optional[int] = None) -> Path:
    """Write `model` to `out` in format `fmt` ("saved_model": a folder; "tflite": a file), its inputs of the
    given batch and steps (a TFLite model needs both). Both formats are TensorFlow's: the model is traced by
    TensorFlow, so export runs on Keras's TensorFlow back end alone."""
    import keras

    if keras.backend.backend() != "tensorflow":
        raise UsageError(f"export writes TensorFlow's formats and runs on Keras's TensorFlow back end, not on "
                         f"{keras.backend.backend()}: run it with KERAS_BACKEND=tensorflow")
    import tensorflow as tf

    if fmt not in FORMATS:
        raise UsageError(f"--format is one of {', '.join(FORMATS)}, not {fmt!r}")
    if fmt == "tflite":
        batch = 1 if batch is None else batch
        if steps is None and any(len(t.shape) == 3 and t.shape[1] is None for t in model.inputs):
            raise UsageError("a TFLite model runs a fixed number of steps: give --steps T (and --batch B, "
                             "default 1)")
    signature = input_signature(model, batch, steps)
    if fmt == "saved_model":
        model.export(str(out), format="tf_saved_model", input_signature=signature, verbose=False)
        return out
    function = _function(model, signature)
    # without the model as the functions' owner the converter freezes its weights into constants (the loop of a
    # recurrent layer cannot read resource variables in TFLite)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([function.get_concrete_function()])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
    try:
        flat = converter.convert()
    except Exception as e:  # the converter's errors are pages of MLIR: the first line says what
        first = str(e).strip().split("\n", 1)[0]
        raise UsageError(f"TFLite cannot convert this model: {type(e).__name__}: {first[:240]}") from None
    out.write_bytes(flat)
    return out


def run_tflite(path: Path, inputs: list) -> list:
    """The outputs of the TFLite model at `path` for `inputs` (arrays, in the model's input order)."""
    import tensorflow as tf

    interpreter = tf.lite.Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    for detail, x in zip(interpreter.get_input_details(), inputs):
        interpreter.set_tensor(detail["index"], x)
    interpreter.invoke()
    return [interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()]
