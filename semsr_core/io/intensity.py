"""The one intensity policy: how pixel values become the [0, 1] a network sees, and back.

Every reader of pixels (super-resolve, train, align, evaluate, the demo, the app) maps
an image or a stack with :func:`choose_mapping` and :meth:`IntensityMapping.to_unit`,
and maps results back with :meth:`IntensityMapping.from_unit`. The rule:

* **Integers that use their range** (any width, signed or unsigned) are scaled by the
  dtype's range: ``unit = (value − min) / (max − min)`` (uint8 ÷ 255, uint16 ÷ 65535).
* **Floats in [0, 1] that use it** are taken as they are: [0, 1] is the float
  convention, so a scan saved as float/65535 maps as its uint16 original does. Values
  up to :data:`UNIT_OVERSHOOT` outside [0, 1] (a resampled or registered [0, 1] scan
  overshoots at sharp edges) do not change that: one pixel at −0.002 must not make
  one image of a training set be stretched by its percentiles while its twins are not.
* **Other floats (counts, signed values), and integers or [0, 1] floats that use only
  a small part of their range** (a 12-bit detector in uint16, a 16-bit scan from
  1,000 to 3,000: a robust range under :data:`NARROW_FRACTION` of the dtype's) are
  scaled by robust percentiles as in CSBDeep: the :data:`PERCENTILES` (0.1 %, 99.9 %)
  map to 0 and 1, unclipped.
* A stack is mapped as a whole, never slice by slice, so slices stay comparable and the
  mapping does not depend on the tile size or on how many slices are processed. Stacks
  of more than :data:`SAMPLE_PIXELS` pixels get their statistics from a bounded,
  deterministic sample: at most :data:`SAMPLE_SLICES` evenly spaced slices, each read
  with an even pixel stride (the percentiles are then estimates, typically within a
  fraction of a percent of the range; the mapping records that it was sampled).
* Results go back to the input's units and dtype: integers are rounded and clipped to
  the dtype (clipped pixels are counted), floats are clipped to [0, 1] only when the
  input lay in [0, 1], and are otherwise left as they are.

A model card's ``normalization`` records the policy a model was trained with; an
output file's metadata records the mapping used (:meth:`IntensityMapping.to_dict`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from os import PathLike
from typing import Any

import numpy as np

from semsr_core.errors import InputError

PERCENTILES = (0.1, 99.9)
"""Low and high percentiles that map to 0 and 1 (CSBDeep's robust normalisation)."""

NARROW_FRACTION = 0.25
"""An integer image whose robust range is under this share of its dtype's range is
scaled by percentiles instead (e.g. 12-bit data stored as uint16 uses 6 %)."""

UNIT_OVERSHOOT = 0.02
"""How far outside [0, 1] a float image may reach and still follow the [0, 1]
convention (outputs are clipped to [0, 1] only for an input that lies in it)."""

SAMPLE_PIXELS = 1 << 22
"""Stacks with more pixels than this (4 Mpx) are mapped from a bounded sample."""

SAMPLE_SLICES = 64
"""At most this many evenly spaced slices are read for a sampled stack's statistics."""

MODES = ("auto", "percentile")


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


@dataclass(frozen=True)
class IntensityMapping:
    """How one image or stack maps to the network's [0, 1]: ``unit = (value − offset) / span``.

    mode: ``"dtype"`` (scaled by the dtype's range), ``"percentile"``, or
        ``"identity"`` (already in network units, see :meth:`identity`).
    dtype: the input's dtype name; outputs go back to it.
    low, high: the percentiles used (percentile mode), in percent.
    unit_input: the input lay in [0, 1] (floats only): outputs are clipped to it.
    sampled: pixels the statistics came from when the stack was sampled, else None.
    """

    mode: str
    dtype: str
    offset: float
    span: float
    low: float | None = None
    high: float | None = None
    unit_input: bool = False
    sampled: int | None = None

    @classmethod
    def identity(cls) -> IntensityMapping:
        """For arrays already in network units (validation inside training, pipeline
        stages): nothing is rescaled and nothing is clipped."""
        return cls("identity", "float32", 0.0, 1.0)

    def to_unit(self, image: np.ndarray) -> np.ndarray:
        """``image`` as float32 in the network's units (not clipped)."""
        values = np.asarray(image).astype(np.float32)
        return (values - np.float32(self.offset)) / np.float32(self.span)

    def from_unit(self, unit: np.ndarray, output_dtype: str = "input"
                  ) -> tuple[np.ndarray, ClipCount]:
        """Network units back to the input's: ``"input"`` dtype (integers rounded and
        clipped to their range; floats clipped to [0, 1] only for a [0, 1] input), or
        ``"float32"`` in the input's units, neither rounded nor clipped."""
        if output_dtype not in ("input", "float32"):
            raise ValueError(f"output_dtype must be 'input' or 'float32', not {output_dtype!r}")
        # float32 arithmetic (what the network gives) unless the units need more digits
        wide = np.float64 if max(abs(self.offset), abs(self.span)) > 2**24 else np.float32
        values = np.asarray(unit, dtype=wide) * wide(self.span) + wide(self.offset)
        if output_dtype == "float32":
            return values.astype(np.float32), ClipCount()
        dtype = np.dtype(self.dtype)
        if dtype.kind in "iu":
            info = np.iinfo(dtype)
            minimum, maximum = float(info.min), float(info.max)
            values = np.rint(values)
        elif self.unit_input:
            minimum, maximum = 0.0, 1.0
        else:
            return values.astype(dtype), ClipCount()
        low = int(np.count_nonzero(values < minimum))
        high = int(np.count_nonzero(values > maximum))
        if low or high:
            values = np.clip(values, minimum, maximum)
        return values.astype(dtype), ClipCount(low, high, minimum, maximum)

    def to_dict(self) -> dict[str, Any]:
        """For metadata and model cards (JSON-ready)."""
        return {key: value for key, value in asdict(self).items() if value is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IntensityMapping:
        return cls(**{key: data[key] for key in cls.__dataclass_fields__ if key in data})

    def describe(self) -> str:
        """One line for people, e.g. ``uint16 by percentiles 0.1–99.9 % (1282 … 2709)``."""
        lo, hi = self.offset, self.offset + self.span
        if self.mode == "identity":
            return "already in network units (not rescaled)"
        if self.mode == "dtype":
            return f"{self.dtype} by its range ({lo:g} … {hi:g})"
        sampled = f", from a sample of {self.sampled} pixels" if self.sampled else ""
        return (f"{self.dtype} by percentiles {self.low:g}–{self.high:g} % "
                f"({lo:.6g} … {hi:.6g}{sampled})")


def policy() -> dict[str, Any]:
    """The policy as a model card records it (its ``normalization``)."""
    return {"mode": "auto", "low": PERCENTILES[0], "high": PERCENTILES[1],
            "narrow_fraction": NARROW_FRACTION}


def check_pixels(image: np.ndarray, path: str | PathLike | None = None) -> np.ndarray:
    """``image`` if its pixels can be mapped (real numbers, all finite), else an InputError."""
    array = np.asarray(image)
    kind = array.dtype.kind
    if kind == "b":
        raise InputError("is a binary (true/false) image, not an intensity image", path=path,
                         hint="Save it as uint8 (0/255) if it really is a scan.")
    if kind == "c":
        raise InputError(f"has complex pixel values ({array.dtype})", path=path,
                         hint="Save the magnitude (or the real part) as float32.")
    if kind not in "iuf":
        raise InputError(f"has pixel type {array.dtype}, which is not a number", path=path,
                         hint="Save it as an 8/16-bit integer or float32 grayscale image.")
    if kind == "f" and not np.isfinite(array).all():
        bad = int(np.count_nonzero(~np.isfinite(array)))
        raise InputError(f"contains {bad} NaN or infinite pixel value(s)", path=path,
                         hint="Replace them (e.g. with the image median) and save it again.")
    return array


def _sample(values: np.ndarray | Sequence[np.ndarray]) -> tuple[np.ndarray, int | None, str]:
    """The pixels the statistics come from (flat), the sample size if sampled, the dtype."""
    if isinstance(values, np.ndarray) and values.size <= SAMPLE_PIXELS:
        return values.reshape(-1), None, values.dtype.name
    shape = tuple(getattr(values, "shape", ()))
    if len(shape) == 2:  # one huge image: an even stride over it
        stride = int(np.ceil(np.sqrt(shape[0] * shape[1] / SAMPLE_PIXELS)))
        flat = np.asarray(values[::stride, ::stride]).reshape(-1)
        return flat, int(flat.size), flat.dtype.name
    if len(shape) != 3:
        raise InputError(f"has shape {shape}, not a 2-D image or a (Z, Y, X) stack",
                         hint="Give one grayscale image or a stack of them.")
    z, h, w = shape
    if z * h * w <= SAMPLE_PIXELS:
        parts = [np.asarray(values[i]) for i in range(z)]
        flat = np.concatenate([p.reshape(-1) for p in parts])
        return flat, None, flat.dtype.name
    picks = np.unique(np.linspace(0, z - 1, min(z, SAMPLE_SLICES)).round().astype(int))
    stride = max(1, int(np.ceil(np.sqrt(len(picks) * h * w / SAMPLE_PIXELS))))
    parts = [np.asarray(values[int(i)])[::stride, ::stride].reshape(-1) for i in picks]
    flat = np.concatenate(parts)
    return flat, int(flat.size), flat.dtype.name


def choose_mapping(values: np.ndarray | Sequence[np.ndarray], *,
                   path: str | PathLike | None = None, mode: str = "auto",
                   percentiles: tuple[float, float] = PERCENTILES) -> IntensityMapping:
    """The mapping of an image, a (Z, Y, X) array or a lazily read stack, by the policy.

    ``mode="auto"`` is the policy above; ``"percentile"`` uses percentiles for every
    dtype. Errors (NaN/Inf, complex, non-numbers) name ``path``.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    flat, sampled, dtype_name = _sample(values)
    flat = check_pixels(flat, path)
    if flat.size == 0:
        raise InputError("has no pixels", path=path, hint="Give a non-empty image.")
    dtype = np.dtype(dtype_name)
    low, high = (float(p) for p in percentiles)
    p_lo, p_hi = (float(v) for v in np.percentile(flat, [low, high]))
    lo, hi = float(flat.min()), float(flat.max())
    if dtype.kind in "iu" and mode == "auto":
        info = np.iinfo(dtype)
        full = float(info.max) - float(info.min)
        if p_hi - p_lo >= NARROW_FRACTION * full:
            return IntensityMapping("dtype", dtype.name, float(info.min), full, sampled=sampled)
    unit_input = dtype.kind == "f" and lo >= 0.0 and hi <= 1.0
    near_unit = dtype.kind == "f" and lo >= -UNIT_OVERSHOOT and hi <= 1.0 + UNIT_OVERSHOOT
    if near_unit and mode == "auto" and p_hi - p_lo >= NARROW_FRACTION:
        # a float image in [0, 1] (up to an interpolation's overshoot) that uses it: the
        # float convention of that range, as a uint16 image that uses its range (the
        # same scan saved either way agrees)
        return IntensityMapping("dtype", dtype.name, 0.0, 1.0, unit_input=unit_input,
                                sampled=sampled)
    span = p_hi - p_lo
    if span <= 0:  # (nearly) constant at the percentiles: use the full extent, or keep it flat
        p_lo, span = (lo, hi - lo) if hi > lo else (lo, 1.0)
    return IntensityMapping("percentile", dtype.name, p_lo, span, low, high,
                            unit_input, sampled)


def to_unit_range(image: np.ndarray, path: str | PathLike | None = None) -> np.ndarray:
    """A 2-D image as float32 in network units by the policy; errors name ``path``."""
    array = np.asarray(image)
    if array.ndim != 2:
        raise InputError(f"has shape {array.shape}, not a 2-D image", path=path,
                         hint="Use single grayscale images (the first slice of a stack).")
    return choose_mapping(array, path=path).to_unit(array)
