"""Intensities in and out of the network, as the model card says.

A model is trained on images mapped to [0, 1] in one of two ways (the card's
``normalization``): ``{"mode": "dtype"}`` divides by the dtype's maximum (uint8: 255,
uint16: 65535; float images are taken as already in [0, 1]); ``{"mode": "percentile",
"low": 0.1, "high": 99.9}`` maps each image's low/high percentiles to 0/1 (CSBDeep).
Networks with a tanh head work in [−1, 1] (the card's ``value_range``). The output is
mapped back the same way into the input's dtype — rounded, and clipped to the dtype's
range with the number of clipped pixels counted so that the caller can note it — or
into float32 in the input's intensity units, unrounded and unclipped, on request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from semsr_core.errors import ConfigError, InputError

OUTPUT_DTYPES = ("input", "float32")


@dataclass(frozen=True)
class Intensity:
    """How one image was mapped to [0, 1]: ``unit = (value − offset) / span``."""

    dtype: np.dtype
    offset: float
    span: float


@dataclass
class ClipCount:
    """Output pixels clipped to the output dtype's range (below its minimum / above its maximum)."""

    low: int = 0
    high: int = 0
    minimum: float = 0.0
    maximum: float = 0.0

    def add(self, other: ClipCount) -> None:
        self.low += other.low
        self.high += other.high
        self.minimum, self.maximum = other.minimum, other.maximum

    @property
    def total(self) -> int:
        return self.low + self.high

    def note(self) -> str:
        """One sentence for logs and metadata, e.g. for a uint16 output."""
        return (f"{self.low} pixel(s) below {self.minimum:g} and {self.high} above "
                f"{self.maximum:g} were clipped to the output range")


def check_normalization(normalization: dict[str, Any] | None) -> dict[str, Any]:
    """The card's normalisation with defaults filled in; errors name the key."""
    norm = dict(normalization or {"mode": "dtype"})
    mode = norm.get("mode", "dtype")
    if mode == "dtype":
        return {"mode": "dtype"}
    if mode == "percentile":
        low = float(norm.get("low", 0.1))
        high = float(norm.get("high", 99.9))
        if not 0.0 <= low < high <= 100.0:
            raise ConfigError(f"normalization.low={low} / normalization.high={high} are not "
                              "percentiles with 0 ≤ low < high ≤ 100",
                              hint="Fix the model card's normalization.")
        return {"mode": "percentile", "low": low, "high": high}
    raise ConfigError(f"normalization.mode '{mode}' is not known",
                      hint="Use 'dtype' or 'percentile' in the model card.")


def check_output_dtype(output_dtype: str) -> str:
    if output_dtype not in OUTPUT_DTYPES:
        raise ConfigError(f"output dtype '{output_dtype}' is not known",
                          hint="Use 'input' (the input's dtype) or 'float32'.")
    return output_dtype


def normalize(image: np.ndarray, normalization: dict[str, Any]) -> tuple[np.ndarray, Intensity]:
    """Map a 2-D image to float32 [0, 1] as the model was trained; returns it and the mapping."""
    dtype = image.dtype
    if dtype.kind not in "uf":
        raise InputError(f"images of type {dtype} cannot be super-resolved",
                         hint="Convert the image to uint8, uint16 or float32.")
    if dtype.kind == "f" and not np.isfinite(image).all():
        raise InputError("the image contains NaN or infinite values",
                         hint="Replace them (e.g. with 0) before super-resolving.")
    norm = check_normalization(normalization)
    if norm["mode"] == "percentile":
        low, high = np.percentile(image, [norm["low"], norm["high"]])
        offset, span = float(low), float(high - low)
        if span <= 0:  # a constant image: keep it constant instead of dividing by zero
            span = 1.0
    elif dtype.kind == "u":
        offset, span = 0.0, float(np.iinfo(dtype).max)
    else:
        offset, span = 0.0, 1.0
    unit = (image.astype(np.float32) - np.float32(offset)) / np.float32(span)
    return unit, Intensity(dtype, offset, span)


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


def denormalize(unit: np.ndarray, intensity: Intensity,
                output_dtype: str = "input") -> tuple[np.ndarray, ClipCount]:
    """Map the network's [0, 1] output back to the input's intensities.

    ``output_dtype="input"``: the input's dtype; integer outputs are rounded and clipped
    to the dtype's range, float outputs to [0, 1] when the input was taken as [0, 1].
    ``"float32"``: float32 in the input's units, neither rounded nor clipped.
    The :class:`ClipCount` says how many pixels were clipped.
    """
    check_output_dtype(output_dtype)
    values = unit * np.float32(intensity.span) + np.float32(intensity.offset)
    if output_dtype == "float32":
        return values.astype(np.float32, copy=False), ClipCount()
    dtype = intensity.dtype
    if dtype.kind == "u":
        minimum, maximum = 0.0, float(np.iinfo(dtype).max)
        values = np.rint(values)
    else:
        minimum, maximum = (0.0, 1.0) if intensity.span == 1.0 and intensity.offset == 0.0 \
            else (-np.inf, np.inf)
    low = int(np.count_nonzero(values < minimum))
    high = int(np.count_nonzero(values > maximum))
    if low or high:
        values = np.clip(values, minimum, maximum)
    return values.astype(dtype, copy=False), ClipCount(low, high, minimum, maximum)
