"""What made an output: the provenance record written into every result's metadata,
and the output's physical pixel size."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from typing import Any

import numpy as np

from semsr_core.io.intensity import IntensityMapping


def output_pixel_size(pixel_size: float | None, scale: int) -> float | None:
    """Physical pixel size of the output: the input's divided by the scale factor."""
    return None if pixel_size is None else pixel_size / scale


def provenance(model: Any, settings: dict[str, Any], source: str | os.PathLike | None,
               output_dtype: str, input_dtype: np.dtype,
               mapping: IntensityMapping | None = None) -> dict[str, Any]:
    """What made an output: model, settings, semsr version, source file, and the
    intensity mapping used (:mod:`semsr_core.io.intensity`) with what it clips."""
    from semsr_core import __version__

    card = model.card
    intensity: dict[str, Any] = {"output_dtype": output_dtype}
    if mapping is not None:
        intensity["mapping"] = mapping.to_dict()
        intensity["description"] = mapping.describe()
    dtype = np.dtype(input_dtype)
    if output_dtype == "input" and dtype.kind in "iu":
        info = np.iinfo(dtype)
        intensity.update(rounding="nearest integer", clipped_to=[int(info.min), int(info.max)],
                         note=f"values outside [{info.min}, {info.max}] were clipped; the "
                              "count is reported in the run's log")
    elif output_dtype == "input" and mapping is not None and mapping.unit_input:
        intensity.update(clipped_to=[0.0, 1.0],
                         note="the input lay in [0, 1], so the output was clipped to [0, 1]; "
                              "the count is reported in the run's log")
    else:
        intensity["clipped_to"] = None
    return {
        "software": "semsr",
        "operation": "super-resolve",
        "semsr_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "source": None if source is None else str(source),
        "model": {"name": card.name, "arch": card.arch, "config": card.config,
                  "scale": card.scale, "recipe": card.recipe, "created": card.created,
                  "semsr_version": card.semsr_version, "source": card.source,
                  "normalization": card.normalization,
                  "value_range": list(card.value_range)},
        "settings": settings,
        "intensity": intensity,
    }
