"""A model card's intensity settings: its ``normalization`` and its network value range.

The mapping of pixel values to [0, 1] itself is :mod:`semsr_core.io.intensity`'s (the one
policy); this module reads what a card asks of it. ``normalization`` is
``{"mode": "auto"}`` (the policy: integers that use their range by the dtype, floats and
narrow integers by robust percentiles) or ``{"mode": "percentile", "low": 0.1,
"high": 99.9}`` (percentiles for every dtype). Cards written before the policy say
``{"mode": "dtype"}``; that reads as ``auto``, which maps such models' integer inputs
exactly as before. Networks with a tanh head work in [−1, 1] (the card's ``value_range``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from semsr_core.errors import ConfigError
from semsr_core.io.intensity import PERCENTILES, IntensityMapping, choose_mapping

OUTPUT_DTYPES = ("input", "float32")


def check_normalization(normalization: dict[str, Any] | None) -> dict[str, Any]:
    """The card's normalisation with defaults filled in; errors name the key."""
    norm = dict(normalization or {"mode": "auto"})
    mode = norm.get("mode", "auto")
    if mode not in ("auto", "dtype", "percentile"):
        raise ConfigError(f"normalization.mode '{mode}' is not known",
                          hint="Use 'auto' or 'percentile' in the model card.")
    low = float(norm.get("low", PERCENTILES[0]))
    high = float(norm.get("high", PERCENTILES[1]))
    if not 0.0 <= low < high <= 100.0:
        raise ConfigError(f"normalization.low={low} / normalization.high={high} are not "
                          "percentiles with 0 ≤ low < high ≤ 100",
                          hint="Fix the model card's normalization.")
    return {"mode": "percentile" if mode == "percentile" else "auto", "low": low, "high": high}


def mapping_for(values: Any, normalization: dict[str, Any] | None, *,
                path: Any = None) -> IntensityMapping:
    """The intensity mapping of an image or stack under a card's ``normalization``."""
    norm = check_normalization(normalization)
    return choose_mapping(values, path=path, mode=norm["mode"],
                          percentiles=(norm["low"], norm["high"]))


def check_output_dtype(output_dtype: str) -> str:
    if output_dtype not in OUTPUT_DTYPES:
        raise ConfigError(f"output dtype '{output_dtype}' is not known",
                          hint="Use 'input' (the input's dtype) or 'float32'.")
    return output_dtype


def to_network_range(unit: np.ndarray, value_range: tuple[float, float]) -> np.ndarray:
    """[0, 1] → the generator's input range (e.g. [−1, 1] for tanh heads)."""
    lo, hi = (float(v) for v in value_range)
    if (lo, hi) == (0.0, 1.0):
        return unit
    return unit * np.float32(hi - lo) + np.float32(lo)


def from_network_range(values: np.ndarray, value_range: tuple[float, float]) -> np.ndarray:
    """The generator's output range → [0, 1] (not clipped)."""
    lo, hi = (float(v) for v in value_range)
    if (lo, hi) == (0.0, 1.0):
        return values
    return (values - np.float32(lo)) / np.float32(hi - lo)
