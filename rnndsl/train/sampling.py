"""sampling: images drawn pixel by pixel from a trained model of images (`rnndsl predict RUN --sample N`).

The model reads a grid `(batch, H, W, 1)` and gives, at every pixel, the distribution of that pixel given the
ones before it in raster order (a network whose output at a pixel reads only the pixels before it: masked
convolutions and grid cells, docs/language.md "Grid cells"): a probability of 1, `(batch, H, W, 1)` (a
Bernoulli, for binary images), or probabilities over K levels, `(batch, H, W, K)` (a softmax; level k is the
intensity k / (K - 1)). Sampling starts from a blank canvas and, for each pixel in raster order, runs the
model and draws that pixel: H x W runs for N images at once.
"""

from __future__ import annotations

import math

import numpy as np

from ..lang.errors import UsageError

MAX_SAMPLES = 1024


def sample_images(model, count: int, seed: int = 0) -> np.ndarray:
    """`count` images `(count, H, W)`, intensities in [0, 1], drawn pixel by pixel from `model`."""
    if not 1 <= count <= MAX_SAMPLES:
        raise UsageError(f"--sample draws 1 to {MAX_SAMPLES} images, not {count}")
    inputs = model.inputs
    shape = tuple(inputs[0].shape[1:]) if len(inputs) == 1 else None
    if shape is None or len(shape) != 3 or None in shape or shape[2] != 1:
        raise UsageError("--sample draws images from a model of one grid input of one channel, grid[H, W, 1]; "
                         f"this model's inputs are {', '.join(str(tuple(t.shape[1:])) for t in inputs)}")
    height, width, _ = shape
    out = tuple(model.outputs[0].shape[1:]) if len(model.outputs) == 1 else None
    if out is None or len(out) != 3 or out[:2] != (height, width):
        raise UsageError(f"--sample needs the model's output at every pixel, ({height}, {width}, K); this model "
                         f"gives {', '.join(str(tuple(t.shape[1:])) for t in model.outputs)}")
    levels = out[2]
    rng = np.random.default_rng(seed)
    canvas = np.zeros((count, height, width, 1), "float32")
    for i in range(height):
        for j in range(width):
            found = np.asarray(model(canvas, training=False))[:, i, j]
            if levels == 1:  # a Bernoulli: the probability of a 1
                canvas[:, i, j, 0] = (rng.uniform(size=count) < found[:, 0]).astype("float32")
            else:  # a distribution over the levels
                p = np.clip(found.astype("float64"), 0, None)
                p /= p.sum(axis=1, keepdims=True)
                drawn = np.array([rng.choice(levels, p=row) for row in p])
                canvas[:, i, j, 0] = drawn / (levels - 1)
    return canvas[..., 0]


def write_sheet(images: np.ndarray, path: str) -> None:
    """The images `(N, H, W)` side by side in rows (the square root of N a row, a pixel of gap), as a PNG in
    gray, each pixel drawn as a 4 x 4 square."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n, height, width = images.shape
    columns = math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    sheet = np.ones((rows * (height + 1) + 1, columns * (width + 1) + 1))
    for k, image in enumerate(images):
        r, c = divmod(k, columns)
        sheet[1 + r * (height + 1):1 + r * (height + 1) + height, 1 + c * (width + 1):1 + c * (width + 1) + width] \
            = 1 - image  # ink dark on white
    big = np.kron(sheet, np.ones((4, 4)))
    try:
        plt.imsave(path, big, cmap="gray", vmin=0, vmax=1)
    except OSError as e:
        raise UsageError(f"cannot write {path}: {e.strerror}") from None
