"""masked_conv: a two-dimensional convolution that sees only the pixels before the one it computes.

PixelCNN's and PixelRNN's masked convolutions (van den Oord et al. 2016): with the pixels in raster
order (row by row, left to right), the output at (i, j) of a k x k convolution (k odd, "same" padding)
reads the rows above the centre and the pixels to the left of it in its own row; mask "A" leaves the
centre out (the first layer, on the image itself: a pixel must not see its own value), mask "B" keeps it
(later layers, whose input at (i, j) already depends only on earlier pixels). The mask is over positions
alone: every input channel is seen or not as its pixel is (the per-colour masks of RGB images are not
made here).
"""

from __future__ import annotations

import keras
import numpy as np

from . import PACKAGE

MASKS = ("A", "B")


def raster_mask(kernel: int, mask: str) -> np.ndarray:
    """`(kernel, kernel)` of 0 and 1: 1 where a kernel tap reads a pixel before the centre (and the centre
    itself for mask "B")."""
    centre = kernel // 2
    m = np.zeros((kernel, kernel), dtype="float32")
    m[:centre, :] = 1
    m[centre, :centre] = 1
    if mask == "B":
        m[centre, centre] = 1
    return m


@keras.saving.register_keras_serializable(package=PACKAGE)
class MaskedConv2D(keras.layers.Conv2D):
    """A "same"-padded k x k convolution of `(batch, H, W, channels)` -> `(batch, H, W, filters)` whose
    kernel is multiplied by the raster mask of `mask` ("A" or "B") before every use, so that the masked
    taps neither read nor learn (their gradient is 0)."""

    def __init__(self, filters: int, kernel_size: int, mask: str = "B", **kwargs):
        if mask not in MASKS:
            raise ValueError(f"a masked convolution's mask is A or B, not {mask!r}")
        if int(kernel_size) < 1 or int(kernel_size) % 2 == 0:
            raise ValueError(f"a masked convolution's kernel is an odd number of pixels, not {kernel_size}")
        kwargs.pop("padding", None)
        super().__init__(filters, int(kernel_size), padding="same", **kwargs)
        self.mask = mask
        self._taps = raster_mask(int(kernel_size), mask)[:, :, None, None]

    def convolution_op(self, inputs, kernel):
        return super().convolution_op(inputs, kernel * keras.ops.cast(self._taps, kernel.dtype))

    def get_config(self):
        config = super().get_config()
        config["mask"] = self.mask
        config["kernel_size"] = config["kernel_size"][0]
        config.pop("padding", None)  # always "same"
        return config
