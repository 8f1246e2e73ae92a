"""What the Compare panel computes, free of Qt so it runs in a worker thread.

The panel compares LR, SR and (optionally) HR of one slice:

- :func:`guess_roles` picks LR, SR and HR among the viewer's layer names
  (``"<x> [SR ×s]"`` is the SR of ``"<x>"``; HR is a layer with "HR" or "ground truth"
  in its name);
- :func:`compare_slices` makes, for the slice on screen, LR↑ (nearest or bicubic, on
  the SR's pixel grid), the gradient-magnitude maps of LR↑, SR and HR, and the
  metrics that apply (:func:`comparison_metrics`);
- :func:`profile_points` and :func:`sample_profile` give the intensity along a line
  drawn in world (physical) coordinates, sampled in nanometres on every layer's own
  pixel grid.

Intensities are compared in network units by the engine's one intensity policy
(:mod:`semsr_core.io.intensity`: integers that use their range by the dtype, floats and
narrow integers by robust percentiles). LR, SR and HR of one pixel type share one
mapping (HR's when there is one), so an SR written in LR's units compares with HR as
training and evaluation compare them. Images that cannot be mapped (NaN…) keep their
values, and the panel says that their numbers are not comparable.

Which metrics apply ([S1]: an HR image is often only a similar image of the sample,
not an aligned one):

- HR has exactly SR's shape, covers the same physical area in the same units, and the
  user did not say otherwise → *aligned*: PSNR and SSIM of SR and of bicubic LR↑
  against HR, plus gradient statistics;
- HR is another size, covers another physical area or is in other units (a file opened
  without its pixel size, e.g. by napari's builtin reader: :func:`extent_mismatch`),
  or the user ticked "reference HR" → *reference HR*: no pixel metrics; gradient
  statistics (edge strength p95, sharpness ratio to HR's) and the relative spectrum
  score ([S3] eq. 5.1) only;
- no HR → gradient statistics of LR↑ and SR only.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from semsr_app.layers import SR_NAME_PATTERN

ALIGNED = "aligned"
REFERENCE_HR = "reference HR"
NO_HR = "no HR"

NEAREST = "nearest"
BICUBIC = "bicubic"
LR_MODES = (NEAREST, BICUBIC)

#: Most samples along one profile line (a longer line is sampled more coarsely).
MAX_PROFILE_SAMPLES = 20_000

_HR_WORDS = re.compile(r"((?<![a-z])HR(?![a-z])|ground[ _-]?truth|high[ _-]?res)",
                       re.IGNORECASE)
_LR_WORDS = re.compile(r"((?<![a-z])LR(?![a-z])|low[ _-]?res)", re.IGNORECASE)


def guess_roles(names: Sequence[str]) -> dict[str, str | None]:
    """Guess which layers are LR, SR and HR from their names (None where nothing fits).

    The SR is the last ``"<x> [SR ×s]"`` layer whose source ``<x>`` is also a layer (else
    the last SR layer); LR is that source (else a name with "LR" in it); HR is a layer
    named with "HR", "ground truth" or "high res" that is neither of them.
    """
    names = list(names)
    srs = [(n, m.group("source")) for n in names if (m := SR_NAME_PATTERN.match(n))]
    with_source = [(n, source) for n, source in srs if source in names]
    sr, lr = (with_source or srs or [(None, None)])[-1]
    lr = lr if lr in names else None
    others = [n for n in names if not SR_NAME_PATTERN.match(n) and n != lr]
    if lr is None:
        lr = next((n for n in others if _LR_WORDS.search(n)), None)
    hr = next((n for n in others if _HR_WORDS.search(n) and n != lr), None)
    return {"LR": lr, "SR": sr, "HR": hr}


def upscale_factor(lr_pixel: float, sr_pixel: float, lr_width: int, sr_width: int) -> int:
    """The integer enlargement from LR to SR: from the pixel sizes, else from the widths."""
    if sr_pixel > 0 and lr_pixel > 0:
        ratio = lr_pixel / sr_pixel
        if ratio >= 1 and abs(ratio - round(ratio)) < 1e-3:
            return round(ratio)
    if lr_width > 0 and sr_width % lr_width == 0:
        return sr_width // lr_width
    return max(1, round(sr_width / max(lr_width, 1)))


def unit_intensity(image: Any, units: Any = None) -> tuple[np.ndarray, bool]:
    """``image`` in network units by the engine's intensity policy (or by ``units``, an
    :class:`~semsr_core.io.intensity.IntensityMapping` it shares with another image),
    and whether that mapping applied (``False``: NaN, complex… kept as float32 values)."""
    from semsr_core.errors import InputError
    from semsr_core.io.intensity import check_pixels, choose_mapping

    array = np.asarray(image)
    try:
        units = units if units is not None else choose_mapping(array)
        return units.to_unit(check_pixels(array)), True
    except InputError:
        return array.astype(np.float32), False


def intensity_units(image: Any) -> Any:
    """The engine's intensity mapping of ``image``, or ``None`` where it has none (NaN…)."""
    from semsr_core.errors import InputError
    from semsr_core.io.intensity import choose_mapping

    try:
        return choose_mapping(np.asarray(image))
    except InputError:
        return None


def from_unit_intensity(image: np.ndarray, units: Any) -> np.ndarray:
    """Network units back in the input's dtype and units (inverse of :func:`unit_intensity`)."""
    return units.from_unit(image)[0]


def lr_upscaled(lr_unit: np.ndarray, factor: int, method: str, in_unit_range: bool = True
                ) -> np.ndarray:
    """LR enlarged ×``factor`` onto the SR grid with ``method`` ("nearest" or "bicubic").

    Bicubic is :func:`semsr_core.data.resample.upscale` (the baseline everywhere in
    semsr), clipped to [0, 1] when the input is in that range.
    """
    from semsr_core.data.resample import upscale

    if method not in LR_MODES:
        raise ValueError(f"LR mode must be one of {LR_MODES}, not {method!r}")
    return upscale(lr_unit, factor, method=method, clip=in_unit_range)


# ------------------------------------------------------------------ profiles


@dataclass(frozen=True)
class PlaneGeometry:
    """Where a 2-D image lies in the world: the centre of pixel (i, j) is at
    ``translate + (i, j) · scale`` (napari's convention), in nm or pixels."""

    scale: tuple[float, float]
    translate: tuple[float, float] = (0.0, 0.0)

    @classmethod
    def of(cls, scale: Sequence[float], translate: Sequence[float]) -> PlaneGeometry:
        """The Y/X geometry of a layer from its (…, Y, X) ``scale`` and ``translate``."""
        return cls((float(scale[-2]), float(scale[-1])),
                   (float(translate[-2]), float(translate[-1])))

    def to_data(self, points: np.ndarray) -> np.ndarray:
        """World (y, x) points, shape (N, 2) → fractional pixel indices, shape (N, 2)."""
        return (np.asarray(points, np.float64) - np.asarray(self.translate)) / np.asarray(
            self.scale)


@dataclass(frozen=True)
class PlaneExtent:
    """The physical size of a layer's Y/X plane: ``shape`` × ``scale`` in ``unit``."""

    shape: tuple[int, int]
    scale: tuple[float, float]
    unit: str

    @classmethod
    def of(cls, shape: Sequence[int], scale: Sequence[float], units: Sequence[Any] = ()
           ) -> PlaneExtent:
        """From a layer's (…, Y, X) data shape, ``scale`` and ``units``."""
        unit = str(units[-1]) if len(units) else "pixel"
        return cls((int(shape[-2]), int(shape[-1])), (float(scale[-2]), float(scale[-1])), unit)

    @property
    def size(self) -> tuple[float, float]:
        return (self.shape[0] * self.scale[0], self.shape[1] * self.scale[1])

    def text(self) -> str:
        unit = {"nanometer": "nm", "micrometer": "µm", "pixel": "pixel"}.get(self.unit,
                                                                          self.unit)
        return f"{self.size[0]:g} × {self.size[1]:g} {unit}"


def extent_mismatch(sr: PlaneExtent, hr: PlaneExtent) -> str:
    """Why HR does not cover SR's physical area (empty when it does, to one pixel).

    The same pixels at another scale or in other units are not an aligned pair: most
    often HR was opened without its pixel size (napari's builtin reader gives 1 pixel
    per pixel), so the layers only look aligned by their pixel counts."""
    remedy = ("open HR (and LR) with semsr's reader to keep their pixel size (File ▸ Open, "
              "reader 'SEM super-resolution: semsr'), or tick 'Reference HR'")
    if sr.unit != hr.unit:
        return (f"HR is in {hr.unit} units, SR in {sr.unit}: their physical sizes "
                f"({hr.text()}, {sr.text()}) cannot be compared; {remedy}")
    pixel = max(*sr.scale, *hr.scale)
    if any(abs(a - b) > pixel for a, b in zip(sr.size, hr.size, strict=True)):
        return f"HR covers {hr.text()} but SR {sr.text()}: not aligned; {remedy}"
    return ""


def profile_points(start: Sequence[float], end: Sequence[float], step: float
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Evenly spaced points at most ``step`` (world units) apart from ``start`` to ``end``.

    Returns ``(distance, points)``: the distance of each point from ``start`` and the
    (N, 2) (y, x) points themselves, from ``start`` to ``end`` inclusive (a 200 nm line
    sampled every 2 nm has 101 points), at most :data:`MAX_PROFILE_SAMPLES`.
    """
    a, b = np.asarray(start, np.float64)[-2:], np.asarray(end, np.float64)[-2:]
    length = float(np.hypot(*(b - a)))
    if not step > 0:
        raise ValueError(f"the profile step must be positive, not {step}")
    count = min(math.ceil(length / step - 1e-9) + 1, MAX_PROFILE_SAMPLES)
    count = max(count, 2)
    distance = np.linspace(0.0, length, count)
    fraction = distance / length if length > 0 else np.zeros(count)
    return distance, a + fraction[:, None] * (b - a)


def sample_profile(image: np.ndarray, geometry: PlaneGeometry, points: np.ndarray,
                   order: int = 1) -> np.ndarray:
    """Values of ``image`` at world ``points`` (``order`` 0: nearest pixel, 1: linear).

    Points outside the image give NaN (the plot leaves a gap there).
    """
    from scipy.ndimage import map_coordinates

    array = np.asarray(image, np.float64)
    height, width = array.shape
    coords = geometry.to_data(points).T
    outside = ((coords[0] < -0.5) | (coords[0] > height - 0.5)
               | (coords[1] < -0.5) | (coords[1] > width - 0.5))
    if order == 0:  # the pixel whose square contains the point
        rows = np.clip(np.rint(coords[0]), 0, height - 1).astype(np.intp)
        cols = np.clip(np.rint(coords[1]), 0, width - 1).astype(np.intp)
        values = array[rows, cols]
    else:  # within half a pixel of the border the edge pixel's value continues
        values = map_coordinates(array, coords, order=order, mode="nearest")
    values[outside] = np.nan
    return values


# ------------------------------------------------------------------ metrics


@dataclass
class ComparisonMetrics:
    """The figures for one slice.

    ``mode`` is "aligned", "reference HR" or "no HR"; ``reason`` says why pixel metrics
    are not shown. ``full_reference`` maps "SR" and "bicubic" to their ``psnr`` (dB)
    and ``ssim`` against HR (aligned only). ``gradient`` maps "LR↑ bicubic", "SR" and
    "HR" to :func:`~semsr_core.metrics.no_reference.gradient_stats` (sharpness ratio
    against HR's). ``spectrum_score`` is SR's relative spectrum score (None without HR).
    """

    mode: str
    reason: str = ""
    full_reference: dict[str, dict[str, float]] = field(default_factory=dict)
    gradient: dict[str, dict[str, float | None]] = field(default_factory=dict)
    spectrum_score: float | None = None
    comparable: bool = True


def comparison_metrics(bicubic: np.ndarray, sr: np.ndarray, hr: np.ndarray | None, *,
                       reference_hr: bool = False, comparable: bool = True,
                       mismatch: str = "") -> ComparisonMetrics:
    """The metrics that apply to bicubic LR↑, SR and HR (2-D, in [0, 1]); see the module
    text. ``mismatch`` is :func:`extent_mismatch` of the SR and HR layers."""
    from semsr_core.metrics.full_reference import psnr, ssim
    from semsr_core.metrics.no_reference import gradient_stats
    from semsr_core.metrics.spectrum import spectrum_score

    if hr is None:
        result = ComparisonMetrics(NO_HR, "no HR layer chosen: no reference to compare with")
    elif reference_hr:
        result = ComparisonMetrics(REFERENCE_HR, "HR is marked as a similar image, not "
                                   "aligned: no pixel metrics")
    elif np.shape(hr) != np.shape(sr):
        result = ComparisonMetrics(REFERENCE_HR, f"HR is {_size(hr)} pixels, SR {_size(sr)}: "
                                   "not aligned, so no pixel metrics (align the pair first "
                                   "with `semsr align`)")
    elif mismatch:
        result = ComparisonMetrics(REFERENCE_HR, mismatch)
    else:
        result = ComparisonMetrics(ALIGNED)
    result.comparable = comparable
    if result.mode == ALIGNED:
        for name, image in (("SR", sr), ("bicubic", bicubic)):
            if np.shape(image) != np.shape(hr):  # an SR cropped or padded after enlarging
                continue
            entry = {"psnr": psnr(hr, image)}
            if min(np.shape(hr)) >= 7:
                entry["ssim"] = ssim(hr, image)
            result.full_reference[name] = entry
    for name, image in (("bicubic", bicubic), ("SR", sr), ("HR", hr)):
        if image is not None:
            result.gradient[name] = gradient_stats(image, reference=hr)
    if hr is not None and min(np.shape(hr)) >= 4 and min(np.shape(sr)) >= 4:
        score = spectrum_score(hr, sr, bicubic)
        result.spectrum_score = None if math.isnan(score) else score
    return result


def _size(image: np.ndarray) -> str:
    return " × ".join(str(n) for n in np.shape(image))


# ------------------------------------------------------------------ one slice


@dataclass
class SliceInputs:
    """The slices on screen (array-likes, read in the worker) and the panel's choices."""

    lr: Any
    sr: Any
    hr: Any | None
    factor: int
    lr_mode: str = NEAREST
    gradients: bool = False
    reference_hr: bool = False
    mismatch: str = ""  # extent_mismatch() of the SR and HR layers


@dataclass
class SliceViews:
    """What :func:`compare_slices` made: images in [0, 1] (``lr``, ``lr_up`` in the chosen
    mode, ``bicubic``, ``sr``, ``hr``), LR↑ in LR's dtype for display (``lr_up_display``),
    gradient maps of ``lr_up``, ``sr`` and ``hr`` (when asked for) and the metrics."""

    unit: dict[str, np.ndarray]
    lr_up_display: np.ndarray
    gradients: dict[str, np.ndarray]
    metrics: ComparisonMetrics


def compare_slices(inputs: SliceInputs) -> SliceViews:
    """LR↑, gradient maps and metrics for one slice of LR, SR and HR (see the module text)."""
    from semsr_core.metrics.no_reference import gradient_map

    lr_raw = np.asarray(inputs.lr)
    # SR is written in LR's units; an HR of LR's pixel type sets the units all share
    same_type = inputs.hr is not None and np.asarray(inputs.hr).dtype == lr_raw.dtype
    units = intensity_units(inputs.hr if same_type else lr_raw)
    lr, lr_ok = unit_intensity(lr_raw, units)
    sr, sr_ok = unit_intensity(inputs.sr, units)
    hr, hr_ok = (None, True) if inputs.hr is None else unit_intensity(
        inputs.hr, units if same_type else None)
    in_range = lr_ok and units is not None and (units.mode == "dtype" or units.unit_input)
    bicubic = lr_upscaled(lr, inputs.factor, BICUBIC, in_range)
    lr_up = bicubic if inputs.lr_mode == BICUBIC else lr_upscaled(lr, inputs.factor, NEAREST)
    unit = {"lr": lr, "lr_up": lr_up, "bicubic": bicubic, "sr": sr}
    if hr is not None:
        unit["hr"] = hr
    display = from_unit_intensity(lr_up, units) if lr_ok and units is not None else lr_up
    gradients = {}
    if inputs.gradients:
        gradients = {key: gradient_map(unit[key]) for key in ("lr_up", "sr", "hr")
                     if key in unit}
    metrics = comparison_metrics(bicubic, sr, hr, reference_hr=inputs.reference_hr,
                                 comparable=lr_ok and sr_ok and hr_ok,
                                 mismatch=inputs.mismatch)
    return SliceViews(unit=unit, lr_up_display=display, gradients=gradients, metrics=metrics)


def metrics_html(metrics: ComparisonMetrics) -> str:
    """The metrics as compact HTML for the panel: one table, a note on what applies."""
    if metrics.mode == ALIGNED:
        head = "<b>HR aligned with SR</b>: PSNR and SSIM against HR."
    else:
        mode = metrics.mode[:1].upper() + metrics.mode[1:]
        head = f"<b>{mode}</b>: {metrics.reason}; no-reference figures only."
    columns = ["", "edge p95", "sharpness ÷ HR"]
    if metrics.mode == ALIGNED:
        columns[1:1] = ["PSNR (dB)", "SSIM"]
    rows = ["<tr>" + "".join(f"<th align='right'>{c}</th>" for c in columns) + "</tr>"]
    for name, label in (("bicubic", "bicubic ↑"), ("SR", "SR"), ("HR", "HR")):
        stats = metrics.gradient.get(name)
        if stats is None:
            continue
        cells = [label]
        if metrics.mode == ALIGNED:
            entry = metrics.full_reference.get(name, {})
            cells += [_fmt(entry.get("psnr"), 2), _fmt(entry.get("ssim"), 3)]
        cells += [_fmt(stats["grad_p95"], 4), _fmt(stats["sharpness_ratio"], 2)]
        rows.append("<tr>" + "".join(f"<td align='right'>{c}</td>" for c in cells) + "</tr>")
    parts = [head, "<table cellspacing='0' cellpadding='3'>" + "".join(rows) + "</table>"]
    if metrics.spectrum_score is not None:
        parts.append(f"Spectrum score of SR: {metrics.spectrum_score:.3f} "
                     "(1: HR's spectrum; 0: no closer than bicubic).")
    if not metrics.comparable:
        parts.append("<i>Some layers are not unsigned integers or floats in [0, 1]: their "
                     "values are used as they are, so the numbers are not comparable.</i>")
    return "".join(f"<p style='margin:2px 0'>{p}</p>" if not p.startswith("<table") else p
                   for p in parts)


def _fmt(value: float | None, digits: int) -> str:
    if value is None:
        return "–"
    if math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "∞"
    return f"{value:.{digits}f}"
