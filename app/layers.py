"""How semsr images become napari layers: physical scale, units, contrast, names.

Everything here is plain numpy (no Qt, no torch) so the reader, the sample data, the
writer and the Super-resolve panel place layers the same way:

- an image with a pixel size gets ``scale`` in nanometres on its Y and X axes and
  ``units`` "nm", so LR and SR overlay in physical units;
- a super-resolved layer gets the source's scale ÷ the factor and a translate that keeps
  pixel centres aligned (:func:`sr_scale_translate`);
- integer data gets contrast limits from percentiles, so a 16-bit SEM scan that uses a
  tenth of its range is not displayed as a black square.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

UNIT_NM = "nm"
UNIT_PIXEL = "pixel"
CONTRAST_PERCENTILES = (0.1, 99.9)
CONTRAST_SAMPLE_SLICES = 3
SR_NAME_PATTERN = re.compile(r"^(?P<source>.*) \[SR ×(?P<factor>\d+)\]$")


def sr_layer_name(source: str, factor: int) -> str:
    """The name of a super-resolved layer: ``"<source> [SR ×4]"``."""
    return f"{source} [SR ×{int(factor)}]"


def sr_scale_translate(
    scale: Sequence[float], translate: Sequence[float], factor: int, spatial_axes: int = 2,
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Scale and translate of a layer enlarged ×``factor`` on its last ``spatial_axes`` axes.

    napari puts the centre of pixel ``i`` at ``translate + i·scale``. An LR pixel ``i``
    (size σ) covers ``[i − ½, i + ½)·σ``; its ``s`` sub-pixels ``k = 0..s−1`` (SR index
    ``j = i·s + k``, size σ/s) have centres at ``translate + σ·(i − ½ + (k + ½)/s)``.
    Setting that equal to ``translate' + j·σ/s`` gives
    ``translate' = translate − σ·(s − 1)/(2s)``: the SR grid starts half an LR pixel
    minus half an SR pixel before the LR grid. Leading (slice) axes are unchanged.
    """
    if factor < 1:
        raise ValueError(f"factor must be a positive integer, not {factor}")
    if len(scale) != len(translate):
        raise ValueError(f"scale {tuple(scale)} and translate {tuple(translate)} differ in length")
    lead = len(scale) - spatial_axes
    new_scale = [float(v) for v in scale]
    new_translate = [float(v) for v in translate]
    for axis in range(max(lead, 0), len(scale)):
        sigma = float(scale[axis])
        new_scale[axis] = sigma / factor
        new_translate[axis] = float(translate[axis]) - sigma * (factor - 1) / (2 * factor)
    return tuple(new_scale), tuple(new_translate)


def contrast_limits(data: Any, percentiles: tuple[float, float] = CONTRAST_PERCENTILES,
                    sample_slices: int = CONTRAST_SAMPLE_SLICES) -> tuple[float, float]:
    """Display limits from the ``percentiles`` of a few slices (first, middle, last).

    Works on 2-D arrays and on (Z, Y, X) arrays or lazy stacks without reading every
    slice. The limits are always a non-empty interval (a constant image gets ±½).
    """
    if data.ndim == 2:
        sample = np.asarray(data)
    else:
        count = data.shape[0]
        picks = sorted({round(i * (count - 1) / max(sample_slices - 1, 1))
                        for i in range(min(sample_slices, count))})
        sample = np.stack([np.asarray(data[i]) for i in picks])
    values = sample[np.isfinite(sample)] if sample.dtype.kind == "f" else sample
    if values.size == 0:
        return 0.0, 1.0
    low, high = (float(v) for v in np.percentile(values, percentiles))
    if not high > low:
        low, high = low - 0.5, high + 0.5
    return low, high


def image_layer_kwargs(shape: Sequence[int], pixel_size: float | None, *,
                       name: str, metadata: dict[str, Any],
                       limits: tuple[float, float] | None) -> dict[str, Any]:
    """napari ``add_image`` arguments for a (Y, X) image or (Z, Y, X) stack.

    With a pixel size (nm) the Y/X axes get it as scale and "nm" as unit; without one
    they stay in pixels. Slices are numbered in pixels (no Z spacing is known).
    """
    ndim = len(shape)
    size = 1.0 if pixel_size is None else float(pixel_size)
    unit = UNIT_PIXEL if pixel_size is None else UNIT_NM
    scale = (1.0,) * (ndim - 2) + (size, size)
    units = (UNIT_PIXEL,) * (ndim - 2) + (unit, unit)
    labels = ("z", "y", "x")[-ndim:] if ndim <= 3 else tuple(f"axis {i}" for i in range(ndim))
    kwargs: dict[str, Any] = {
        "name": name,
        "scale": scale,
        "units": units,
        "axis_labels": labels,
        "metadata": metadata,
    }
    if limits is not None:
        kwargs["contrast_limits"] = list(limits)
    return kwargs


def pixel_size_nm(scale: Sequence[float], units: Sequence[Any] | None) -> float | None:
    """The X pixel size in nanometres of a layer, or None if its X axis is not physical.

    ``units`` may hold strings or pint units (napari ≥ 0.5 stores pint units).
    """
    from semsr_core.io import to_nanometres

    if units is None or len(units) == 0:
        return None
    return to_nanometres(float(scale[-1]), _unit_text(units[-1]))


def _unit_text(unit: Any) -> str:
    """A unit as a short symbol: pint units and strings alike ("nanometer" → "nm")."""
    if unit is None:
        return ""
    if hasattr(unit, "dimensionality"):  # pint.Unit
        return f"{unit:~}"
    return str(unit)
