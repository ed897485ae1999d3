"""backend: what a run asks of Keras's back end, TensorFlow imported only where it is the back end."""

from __future__ import annotations

import random

import numpy as np

__all__ = ["is_tensorflow", "sample_loss", "set_seed"]


def is_tensorflow() -> bool:
    """Whether Keras runs on TensorFlow (KERAS_BACKEND, chosen once when Keras is imported)."""
    import keras

    return keras.backend.backend() == "tensorflow"


def set_seed(seed: int) -> None:
    """Python's, NumPy's, Keras's and the back end's random seeds, as `keras.utils.set_random_seed` sets them.

    That function also seeds TensorFlow wherever TensorFlow is installed, and so imports it under every back
    end; under JAX and PyTorch the same is done here without it (Keras 3.15's global seed, read by its random
    ops that are given no seed, and PyTorch's)."""
    import keras

    if is_tensorflow():
        keras.utils.set_random_seed(seed)
        return
    from keras.src.backend.common import global_state
    from keras.src.random import seed_generator
    from keras.src.utils import rng_utils

    global_state.set_global_attribute(rng_utils.GLOBAL_RANDOM_SEED, seed)
    global_state.set_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR, None)  # remade from the seed
    random.seed(seed)
    np.random.seed(seed)
    if keras.backend.backend() == "torch":
        import torch

        torch.manual_seed(seed)


def sample_loss(name: str):
    """Keras's loss function of a train block's loss `name` (not CTC), unreduced: `(targets, predictions)` ->
    one loss a sample, the last axis reduced (a step of a sequence: `(batch, T)`)."""
    import keras

    return {"mse": keras.losses.mean_squared_error, "mae": keras.losses.mean_absolute_error,
            "cross_entropy": keras.losses.sparse_categorical_crossentropy,
            "binary_cross_entropy": keras.losses.binary_crossentropy}[name]
