"""Image intensities as float32 in [0, 1]: the one mapping training, evaluation and
the demo share (and that a model card's ``{"mode": "dtype"}`` normalisation names).

Unsigned integers are divided by their dtype's maximum (uint8 ÷ 255, uint16 ÷ 65535);
float images must already be in [0, 1] (within a small tolerance, then clipped).
"""

from __future__ import annotations

from os import PathLike

import numpy as np

from semsr_core.errors import InputError

FLOAT_TOLERANCE = 1e-3


def to_unit_range(image: np.ndarray, path: str | PathLike | None = None) -> np.ndarray:
    """``image`` (2-D) as float32 in [0, 1] by its dtype range; errors name ``path``."""
    array = np.asarray(image)
    if array.ndim != 2:
        raise InputError(f"has shape {array.shape}, not a 2-D image", path=path,
                         hint="Use single grayscale images (the first slice of a stack).")
    if array.dtype.kind == "u":
        return array.astype(np.float32) / np.float32(np.iinfo(array.dtype).max)
    if array.dtype.kind != "f":
        raise InputError(f"has pixel type {array.dtype}, which has no intensity range",
                         path=path, hint="Save it as uint8, uint16 or float32 in [0, 1].")
    if not np.isfinite(array).all():
        raise InputError("contains NaN or infinite values", path=path,
                         hint="Replace them (e.g. with 0) first.")
    lo, hi = float(array.min()), float(array.max())
    if lo < -FLOAT_TOLERANCE or hi > 1 + FLOAT_TOLERANCE:
        raise InputError(f"is a float image with values {lo:g} … {hi:g}, outside [0, 1]",
                         path=path, hint="Save it as uint8/uint16, or scale it to [0, 1].")
    return np.clip(array, 0, 1).astype(np.float32)
