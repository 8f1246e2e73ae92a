"""Images for people to look at: an intensity stretch to [0, 1] and to 8 bits.

The one owner of "stretch an image for display" (previews, alignment overlays and
flicker views, the validation samples of a run): :func:`stretch` maps the values
between two limits to [0, 1], :func:`to_uint8` to 0…255 (rounded). The limits are
``limits`` when given (e.g. ``(0, 1)`` for images already in network units), else the
``percentiles`` of the image (``(0, 100)``: its minimum and maximum). A flat image
(limits equal) becomes 0 everywhere. Nothing here is for measurement: the scans'
mapping to network units is :mod:`semsr_core.io.intensity`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Percentiles that map to black and white by default: a few hot or dead pixels do
#: not take the contrast away.
DISPLAY_PERCENTILES = (1.0, 99.0)


def display_limits(image: Any, percentiles: tuple[float, float] = DISPLAY_PERCENTILES
                   ) -> tuple[float, float]:
    """The values of ``image`` at ``percentiles`` (low, high)."""
    low, high = np.percentile(np.asarray(image, dtype=np.float64), percentiles)
    return float(low), float(high)


def stretch(image: Any, percentiles: tuple[float, float] = DISPLAY_PERCENTILES, *,
            limits: tuple[float, float] | None = None) -> np.ndarray:
    """``image`` as float64 in [0, 1]: ``limits`` (or the values at ``percentiles``)
    map to 0 and 1, values outside are clipped."""
    values = np.asarray(image, dtype=np.float64)
    low, high = limits if limits is not None else display_limits(values, percentiles)
    span = high - low if high > low else 1.0
    return np.clip((values - low) / span, 0.0, 1.0)


def to_uint8(image: Any, percentiles: tuple[float, float] = DISPLAY_PERCENTILES, *,
             limits: tuple[float, float] | None = None) -> np.ndarray:
    """:func:`stretch` to 0…255, rounded to the nearest uint8."""
    return np.rint(stretch(image, percentiles, limits=limits) * 255.0).astype(np.uint8)


def to_uint8_rgb(image: Any, percentiles: tuple[float, float] = DISPLAY_PERCENTILES, *,
                 limits: tuple[float, float] | None = None) -> np.ndarray:
    """:func:`to_uint8` as gray RGB (``… × 3``), to draw colours on."""
    return np.repeat(to_uint8(image, percentiles, limits=limits)[..., None], 3, axis=-1)
