"""Alignment of unaligned LR/HR scan pairs: :func:`align_pair` and :func:`align_folder`.

LR and HR scans of the same place are taken one after the other, so the HR scan is
shifted (and sometimes slightly rotated or scaled) against the LR one, and the two
often differ in contrast. Training needs them registered, with HR exactly ``s`` times
LR in size and showing the same field of view ([S0] §4.1.1, "normalized correlation
maximization"; SPEC §3.2).

How a pair is aligned (:func:`align_pair`):

1. LR is upscaled to the HR grid (cubic spline, pixel centres aligned as in
   :func:`skimage.transform.resize`). HR is blurred to the LR band, so that detail only
   HR has does not count against the match. Both are normalised to zero mean and unit
   variance: these are the *alignment features*.
2. Candidate translations come from phase correlation on the LR grid (HR averaged to
   LR size; :func:`skimage.registration.phase_cross_correlation` for the sub-pixel
   peak). Each candidate is scored by the match score below; the best one is refined
   by maximising the score over sub-pixel shifts (and rotation/scale when asked).
3. Both images are cropped to the common field of view. The LR crop is a slice of the
   LR pixel grid (LR pixels are never resampled); HR is resampled once (cubic spline)
   to remove the sub-pixel residual, rotation and scale, so that the HR crop is exactly
   ``s`` times the LR crop in size.

The match score ("NCC" in reports) is the normalised cross-correlation after the best
grey-level mapping between the scans: :func:`contrast_correlation`, the square root of
the R² of a cubic polynomial fit of HR features on LR features. With ``contrast_degree=1``
it is ``|NCC|``; with the default 3 a gamma or contrast ("style") difference between
LR and HR, or inverted contrast, neither lowers it nor biases the sub-pixel shift.

Conventions. ``shift = (dy, dx)`` is in HR pixels and says where the LR content lies
in the HR scan: what is at position ``q`` of the upscaled LR appears at ``q + shift``
in HR (``scipy.ndimage.shift(lr_up, shift)`` looks like ``hr``). ``rotation``
(degrees) and ``scale_factor`` extend this to ``p = c + scale_factor · R(rotation) ·
(q − c) + shift`` with ``c`` the centre of the upscaled LR; a positive rotation means
the HR content is turned anticlockwise as displayed (the sense of
:func:`skimage.transform.rotate`).

Verdicts: ``failed`` when the score after alignment is below ``fail_threshold``, or
below ``threshold`` with no distinct best match; ``suspicious`` below ``threshold``,
or when a different shift matches nearly as well (periodic patterns: the shift may be
off by one period), the result sits at the edge of the search range, or the common
field of view is under half the LR image; ``aligned`` otherwise.
"""

from __future__ import annotations

import csv
import io as _text_io
import json
import math
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage, optimize

from semsr_core.errors import ConfigError, InputError, OutputError
from semsr_core.events import CancelToken, EventCallback, EventKind, check_cancel, emit

ALIGNED = "aligned"
SUSPICIOUS = "suspicious"
FAILED = "failed"
UNPAIRED = "unpaired"

#: Default match score below which a pair is only "suspicious".
DEFAULT_THRESHOLD = 0.6
#: Default match score below which a pair is "failed" (excluded from training).
DEFAULT_FAIL_THRESHOLD = 0.35
#: A clearly different shift must leave this many times the mismatch, else suspicious.
DEFAULT_MIN_PEAK_RATIO = 1.5
#: A common field of view below this fraction of the LR image makes a pair suspicious.
MIN_OVERLAP_FRACTION = 0.5
#: A common field of view narrower than this (LR pixels) makes a pair failed.
MIN_CROP_LR = 8
#: Smallest LR image side that can be aligned.
MIN_IMAGE_LR = 16
#: Number of cross-correlation peaks scored as candidate translations.
CANDIDATES = 5
#: Shifts closer than this (LR pixels) count as the same match.
EXCLUDE_LR = 3.0


@dataclass
class AlignmentResult:
    """The outcome of aligning one LR/HR pair.

    ``lr`` and ``hr`` are the cropped images in the input dtypes, with
    ``hr.shape == scale * lr.shape``; ``lr_box`` is the LR crop ``(row0, row1, col0,
    col1)`` on the LR pixel grid. ``peak_ratio`` is the mismatch (1 − score) left by the
    best clearly different shift divided by the mismatch of the chosen one: near 1 the
    match is ambiguous (periodic pattern, or unrelated images). See the module docstring
    for ``shift``, ``rotation``, ``scale_factor`` and the scores.
    """

    scale: int
    shift: tuple[float, float]
    rotation: float
    scale_factor: float
    ncc_before: float
    ncc_after: float
    peak_ratio: float
    verdict: str
    reason: str
    lr_box: tuple[int, int, int, int]
    lr: np.ndarray = field(repr=False)
    hr: np.ndarray = field(repr=False)
    centre: tuple[float, float] = (0.0, 0.0)  # of the geometry, HR pixels
    hr_shape: tuple[int, int] = (0, 0)  # of the HR image that was aligned

    def carry_hr_mask(self, mask: np.ndarray, path: str | PathLike | None = None
                      ) -> np.ndarray:
        """A mask drawn on the input HR image (nonzero = set; e.g. annotated defects)
        through the same crop and geometry as :attr:`hr`: a boolean array of its shape.

        Raises:
            InputError: the mask is not the size of the HR image (naming ``path``).
            ValueError: the alignment failed (there is no crop).
        """
        if self.verdict == FAILED:
            raise ValueError("a failed alignment has no crop to carry a mask through")
        mask = np.asarray(mask)
        if mask.shape != tuple(self.hr_shape):
            raise InputError(f"the mask is {'×'.join(map(str, mask.shape))} but its HR image "
                             f"is {self.hr_shape[0]}×{self.hr_shape[1]}", path=path,
                             hint="A mask marks the HR image's pixels at its size.")
        carried = _resample_hr((mask != 0).astype(np.float32), self.lr_box, self.scale,
                               self.shift, self.rotation, self.scale_factor, self.centre,
                               order=1)
        return carried >= 0.5

    def summary(self) -> dict[str, Any]:
        """The per-pair numbers for a report (no arrays)."""
        return {
            "verdict": self.verdict,
            "reason": self.reason,
            "scale": self.scale,
            "shift_y": _rounded(self.shift[0], 3),
            "shift_x": _rounded(self.shift[1], 3),
            "rotation_deg": _rounded(self.rotation, 4),
            "scale_factor": _rounded(self.scale_factor, 5),
            "ncc_before": _rounded(self.ncc_before, 4),
            "ncc_after": _rounded(self.ncc_after, 4),
            "peak_ratio": _rounded(self.peak_ratio, 3),
            "lr_crop": " ".join(str(v) for v in self.lr_box),
            "lr_size": f"{self.lr.shape[0]}x{self.lr.shape[1]}",
            "hr_size": f"{self.hr.shape[0]}x{self.hr.shape[1]}",
        }


def _rounded(value: float, digits: int) -> float | None:
    return None if not math.isfinite(value) else round(float(value), digits)


# ------------------------------------------------------------------ image helpers


def upscale(lr: np.ndarray, scale: int) -> np.ndarray:
    """LR upscaled ``scale`` times with a cubic spline, pixel centres aligned.

    LR pixel ``i`` covers HR pixels ``scale*i … scale*i + scale − 1``, so cropping LR on
    its grid and cropping the upscaled image by ``scale`` times as much agree.
    """
    from skimage.transform import resize

    shape = (lr.shape[0] * scale, lr.shape[1] * scale)
    return resize(np.asarray(lr, dtype=np.float64), shape, order=3, mode="edge",
                  anti_aliasing=False, preserve_range=True)


def contrast_correlation(values: np.ndarray, target: np.ndarray, degree: int = 3) -> float:
    """How well ``target`` is a grey-level mapping of ``values``, from 0 to 1.

    The square root of the R² of the least-squares fit ``target ≈ a_0 + Σ a_k ·
    values^k`` (k ≤ ``degree``). For ``degree=1`` this is ``|NCC|``; with higher
    degrees a gamma or contrast difference, or inverted contrast, does not lower it.
    """
    v = _standardise(np.asarray(values, dtype=np.float64).ravel())
    y = np.asarray(target, dtype=np.float64).ravel()
    y = y - y.mean()
    total = float(y @ y)
    if total == 0.0 or not v.any():
        return 0.0
    design = np.empty((degree, v.size))
    design[0] = v
    for k in range(1, degree):
        design[k] = design[k - 1] * v
    design -= design.mean(axis=1, keepdims=True)
    gram = design @ design.T
    gram[np.diag_indices(degree)] *= 1 + 1e-9
    moments = design @ y
    explained = float(moments @ np.linalg.solve(gram, moments)) / total
    return math.sqrt(min(max(explained, 0.0), 1.0))


def _standardise(x: np.ndarray) -> np.ndarray:
    x = x - x.mean()
    sd = x.std()
    return x / sd if sd > 0 else x


def _features(lr_up: np.ndarray, hr: np.ndarray, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """The images the match is scored on: upscaled LR and HR blurred to the LR band."""
    hr_band = ndimage.gaussian_filter(hr, sigma=0.5 * scale, mode="nearest")
    lr_band = ndimage.gaussian_filter(lr_up, sigma=0.25 * scale, mode="nearest")
    return _standardise(lr_band), _standardise(hr_band)


def _downscale(hr: np.ndarray, scale: int) -> np.ndarray:
    from skimage.transform import downscale_local_mean

    h, w = (hr.shape[0] // scale) * scale, (hr.shape[1] // scale) * scale
    return downscale_local_mean(hr[:h, :w], (scale, scale))


def _check_image(name: str, image: np.ndarray) -> np.ndarray:
    array = np.asarray(image)
    if array.ndim != 2:
        raise InputError(f"the {name} image has {array.ndim} dimensions, not 2 (rows, columns)",
                         hint="align one grayscale slice at a time")
    if array.dtype.kind not in "uif":
        raise InputError(f"the {name} image has data type {array.dtype}, not a number type",
                         hint="convert it to 8/16-bit integers or floats")
    array = array.astype(np.float64)
    if not np.isfinite(array).all():
        raise InputError(f"the {name} image contains NaN or infinite values",
                         hint="replace them (e.g. with the image median) before aligning")
    if array.max() == array.min():
        raise InputError(f"the {name} image is constant: there is nothing to align",
                         hint="check that the right file was given")
    return array


def _rotation_matrix(rotation_deg: float) -> np.ndarray:
    t = math.radians(rotation_deg)
    return np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])


def _to_dtype(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return np.clip(np.rint(values), info.min, info.max).astype(dtype)
    return values.astype(dtype)


# ------------------------------------------------------------- search machinery


class _Scorer:
    """Match score of the LR features under a geometry, over a region of the HR grid."""

    def __init__(self, lr_feat: np.ndarray, hr_feat: np.ndarray, centre, degree: int):
        self.coeffs = ndimage.spline_filter(lr_feat, order=3, mode="nearest")
        self.lr_shape = lr_feat.shape
        self.hr_feat = hr_feat
        self.centre = np.asarray(centre, dtype=np.float64)[:, None]
        self.degree = degree

    def region(self, shift, margin: float) -> tuple[int, int, int, int] | None:
        """HR-grid box covered by the shifted LR content, ``margin`` pixels inside."""
        r0 = max(0, math.ceil(shift[0] + margin))
        r1 = min(self.hr_feat.shape[0], math.floor(self.lr_shape[0] + shift[0] - margin))
        c0 = max(0, math.ceil(shift[1] + margin))
        c1 = min(self.hr_feat.shape[1], math.floor(self.lr_shape[1] + shift[1] - margin))
        if r1 - r0 < 8 or c1 - c0 < 8:
            return None
        return r0, r1, c0, c1

    def at(self, region: tuple[int, int, int, int]):
        """A function ``(shift, rotation, scale_factor) -> score`` over ``region``."""
        r0, r1, c0, c1 = region
        step = max(1, round(math.sqrt((r1 - r0) * (c1 - c0) / 12000)))
        yy, xx = np.mgrid[r0:r1:step, c0:c1:step]
        points = np.stack([yy.ravel(), xx.ravel()]).astype(np.float64)
        target = self.hr_feat[yy, xx].ravel()

        def score(shift, rotation: float = 0.0, scale_factor: float = 1.0) -> float:
            inv = _rotation_matrix(-rotation) / scale_factor
            q = self.centre + inv @ (points - np.asarray(shift, dtype=np.float64)[:, None]
                                     - self.centre)
            values = ndimage.map_coordinates(self.coeffs, q, order=3, mode="nearest",
                                             prefilter=False)
            return contrast_correlation(values, target, self.degree)

        return score


def _phase_surface(ref: np.ndarray, mov: np.ndarray) -> np.ndarray:
    """|phase correlation|; a peak at ``k`` means ``mov`` shifted by ``k`` looks like ``ref``."""
    cross = np.fft.fft2(ref) * np.conj(np.fft.fft2(mov))
    cross /= np.maximum(np.abs(cross), 1e-12 * np.abs(cross).max())
    return np.abs(np.fft.ifft2(cross))


def _masked_ncc_surface(ref: np.ndarray, mov: np.ndarray, min_overlap: float
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """|NCC| of ``ref`` and ``mov`` shifted by every integer ``k``, over their overlap.

    Returns the surface and the row/column shift of each of its entries; shifts whose
    overlap is under ``min_overlap`` pixels get 0. Computed with FFTs (the sums over the
    overlap of a, b, a², b² and ab for all shifts at once).
    """
    from scipy.fft import irfft2, next_fast_len, rfft2

    full = [next_fast_len(ref.shape[i] + mov.shape[i] - 1, real=True) for i in (0, 1)]

    def spectrum(x):
        return rfft2(x, full)

    def correlate(fa, fb):
        return irfft2(fa * np.conj(fb), full)

    one_r, one_m = spectrum(np.ones(ref.shape)), spectrum(np.ones(mov.shape))
    f_r, f_m = spectrum(ref), spectrum(mov)
    count = np.rint(correlate(one_r, one_m))
    sum_r, sum_m = correlate(f_r, one_m), correlate(one_r, f_m)
    safe = np.maximum(count, 1.0)
    var_r = correlate(spectrum(ref * ref), one_m) - sum_r**2 / safe
    var_m = correlate(one_r, spectrum(mov * mov)) - sum_m**2 / safe
    cov = correlate(f_r, f_m) - sum_r * sum_m / safe
    den = np.sqrt(np.maximum(var_r * var_m, 0.0))
    ok = (count >= min_overlap) & (den > 1e-9 * max(float(den.max()), 1e-300))
    surface = np.where(ok, np.abs(cov) / np.where(ok, den, 1.0), 0.0)
    ky = np.arange(full[0])
    kx = np.arange(full[1])
    ky = np.where(ky < ref.shape[0], ky, ky - full[0])
    kx = np.where(kx < ref.shape[1], kx, kx - full[1])
    return surface, ky, kx


def _top_peaks(surface: np.ndarray, ky: np.ndarray, kx: np.ndarray, limit: float,
               count: int, exclude: float) -> list[tuple[int, int]]:
    """The ``count`` highest peaks within ``±limit``, at least ``exclude`` apart."""
    dy, dx = ky[:, None], kx[None, :]
    masked = np.where((np.abs(dy) <= limit) & (np.abs(dx) <= limit), surface, -np.inf)
    peaks = []
    for _ in range(count):
        iy, ix = np.unravel_index(int(np.argmax(masked)), masked.shape)
        if not np.isfinite(masked[iy, ix]):
            break
        py, px = int(ky[iy]), int(kx[ix])
        peaks.append((py, px))
        masked[(dy - py) ** 2 + (dx - px) ** 2 <= exclude**2] = -np.inf
    return peaks


def _translation_candidates(lr_small: np.ndarray, hr_small: np.ndarray, scale: int,
                            max_shift: float) -> list[tuple[float, float]]:
    """Candidate translations in HR px, found on the LR grid.

    The first is the sub-pixel phase-correlation peak; the others are the highest
    peaks of the normalised cross-correlation over all shifts, so that every shift
    that matches well (e.g. one period away in a periodic pattern) gets scored.
    """
    from skimage.registration import phase_cross_correlation

    shape = (max(lr_small.shape[0], hr_small.shape[0]),
             max(lr_small.shape[1], hr_small.shape[1]))

    def windowed(x):
        out = np.zeros(shape)
        out[: x.shape[0], : x.shape[1]] = x * np.outer(np.hanning(x.shape[0]),
                                                       np.hanning(x.shape[1]))
        return out

    limit = max_shift / scale
    ref, mov = windowed(hr_small), windowed(lr_small)
    h, w = shape
    phase = _phase_surface(ref, mov)
    py, px = _top_peaks(phase, np.fft.fftfreq(h, 1.0 / h).astype(int),
                        np.fft.fftfreq(w, 1.0 / w).astype(int), limit, 1, 0.0)[0]
    sub, _, _ = phase_cross_correlation(ref, mov, upsample_factor=20, normalization="phase")
    first = ((float(sub[0]), float(sub[1])) if abs(sub[0] - py) <= 1 and abs(sub[1] - px) <= 1
             else (float(py), float(px)))
    min_overlap = 0.25 * min(lr_small.size, hr_small.size)
    surface, ky, kx = _masked_ncc_surface(hr_small, lr_small, min_overlap)
    candidates = [first]
    for peak in _top_peaks(surface, ky, kx, limit, CANDIDATES, EXCLUDE_LR):
        if all(math.hypot(peak[0] - c[0], peak[1] - c[1]) > 1.0 for c in candidates):
            candidates.append((float(peak[0]), float(peak[1])))
    return [(scale * cy, scale * cx) for cy, cx in candidates]


def _warp(image: np.ndarray, rotation: float, scale_factor: float) -> np.ndarray:
    """``image`` rotated/scaled about its centre by the module's geometry convention."""
    inv = _rotation_matrix(-rotation) / scale_factor
    c = (np.asarray(image.shape, dtype=np.float64) - 1) / 2
    return ndimage.affine_transform(image, inv, offset=c - inv @ c, order=1, mode="constant")


def _lr_box(lr_shape, hr_shape, scale, shift, rotation, scale_factor, centre):
    """The largest LR-grid box whose HR footprint (under the geometry) lies inside HR.

    Starts from the whole LR image and moves the edge at fault inwards, one LR pixel at
    a time, until the four corners of the box's upscaled footprint fall inside HR.
    """
    s = scale
    r0, r1, c0, c1 = 0, lr_shape[0], 0, lr_shape[1]
    lim_y, lim_x = hr_shape[0] - 1, hr_shape[1] - 1
    mat = _rotation_matrix(rotation) * scale_factor
    c = np.asarray(centre, dtype=np.float64)[:, None]
    t = np.asarray(shift, dtype=np.float64)[:, None]
    while r1 > r0 and c1 > c0:
        q = np.array([[s * r0, s * r0, s * r1 - 1, s * r1 - 1],
                      [s * c0, s * c1 - 1, s * c0, s * c1 - 1]], dtype=np.float64)
        py, px = c + mat @ (q - c) + t
        if py.min() < 0:
            r0 += 1
        elif py.max() > lim_y:
            r1 -= 1
        elif px.min() < 0:
            c0 += 1
        elif px.max() > lim_x:
            c1 -= 1
        else:
            return r0, r1, c0, c1
    return r0, r0, c0, c0


def _resample_hr(hr: np.ndarray, box, scale, shift, rotation, scale_factor, centre,
                 order: int = 3):
    """HR sampled on the upscaled grid of the LR crop ``box`` under the found geometry."""
    r0, r1, c0, c1 = box
    mat = _rotation_matrix(rotation) * scale_factor
    c = np.asarray(centre, dtype=np.float64)
    origin = np.array([scale * r0, scale * c0], dtype=np.float64)
    offset = c + mat @ (origin - c) + np.asarray(shift, dtype=np.float64)
    shape = (scale * (r1 - r0), scale * (c1 - c0))
    return ndimage.affine_transform(hr, mat, offset=offset, output_shape=shape, order=order,
                                    mode="nearest")


def _refine(scorer: _Scorer, start, scale: int, hr_shape, max_rotation: float,
            scale_search: float, tolerance: float):
    """Maximise the match score near ``start = (shift, rotation, factor)``.

    Returns ``(score, shift, rotation, factor)``. Shifts move at most about half an LR
    pixel; rotation and scale stay within their search ranges. Parameters are in units
    of about a pixel at the image edge (degrees; percent of scale) so that one
    ``tolerance`` (pixels) fits all.
    """
    shift, rotation, factor = start
    reach = 0.5 * scale + 1.0
    searching = max_rotation > 0 or scale_search > 0
    margin = reach + 1.0 + (0.02 * max(hr_shape) if searching else 0.0)
    region = scorer.region(shift, margin) or scorer.region(shift, 2.0)
    score = scorer.at(region)
    x0 = [shift[0], shift[1]]
    bounds = [(shift[0] - reach, shift[0] + reach), (shift[1] - reach, shift[1] + reach)]
    if max_rotation > 0:
        x0.append(rotation)
        bounds.append((-max_rotation, max_rotation))
    if scale_search > 0:
        x0.append(100.0 * (factor - 1.0))
        bounds.append((-100.0 * scale_search, 100.0 * scale_search))

    def geometry(x):
        rot = x[2] if max_rotation > 0 else 0.0
        fac = 1.0 + x[-1] / 100.0 if scale_search > 0 else 1.0
        return (float(x[0]), float(x[1])), float(rot), float(fac)

    x0 = [min(max(v, lo), hi) for v, (lo, hi) in zip(x0, bounds, strict=True)]
    found = optimize.minimize(lambda x: -score(*geometry(x)), x0, method="Powell",
                              bounds=bounds, options={"xtol": tolerance, "ftol": 1e-7})
    start_score = score(shift, rotation, factor)
    if -found.fun >= start_score:
        return (-float(found.fun), *geometry(found.x))
    return (start_score, shift, rotation, factor)


def _verdict(score, peak_ratio, overlap, shift, rotation, factor, *, threshold, fail_threshold,
             min_peak_ratio, max_shift, max_rotation, scale_search) -> tuple[str, str]:
    if score < fail_threshold:
        return FAILED, (f"NCC after alignment {score:.2f} is below the failure threshold "
                        f"{fail_threshold:.2f}: the scans may not show the same place")
    if score < threshold and peak_ratio < min_peak_ratio:
        return FAILED, (f"NCC after alignment {score:.2f} is below the threshold "
                        f"{threshold:.2f} and no shift matches distinctly better than others "
                        f"(ratio {peak_ratio:.2f}): the scans may not show the same place")
    notes = []
    if score < threshold:
        notes.append(f"NCC after alignment {score:.2f} is below the threshold {threshold:.2f}")
    if peak_ratio < min_peak_ratio:
        notes.append(f"another shift matches nearly as well (ratio {peak_ratio:.2f}; a "
                     "periodic pattern? the shift may be off by one period)")
    if max(abs(shift[0]), abs(shift[1])) >= max_shift - 1:
        notes.append(f"the shift is at the search limit of {max_shift:g} px")
    if max_rotation > 0 and abs(rotation) >= 0.98 * max_rotation:
        notes.append(f"the rotation is at the search limit of {max_rotation:g}°")
    if scale_search > 0 and abs(factor - 1) >= 0.98 * scale_search:
        notes.append(f"the scale factor is at the search limit 1 ± {scale_search:g}")
    if overlap < MIN_OVERLAP_FRACTION:
        notes.append(f"only {overlap:.0%} of the LR image lies in the common field of view")
    if notes:
        return SUSPICIOUS, "; ".join(notes)
    return ALIGNED, f"NCC {score:.2f} after alignment"


# ----------------------------------------------------------------------- public


def align_pair(
    lr: np.ndarray,
    hr: np.ndarray,
    scale: int | None = None,
    *,
    max_shift: float | None = None,
    max_rotation: float = 0.0,
    scale_search: float = 0.0,
    threshold: float = DEFAULT_THRESHOLD,
    fail_threshold: float = DEFAULT_FAIL_THRESHOLD,
    min_peak_ratio: float = DEFAULT_MIN_PEAK_RATIO,
    contrast_degree: int = 3,
) -> AlignmentResult:
    """Register an LR scan to its HR scan and crop both to the common field of view.

    Args:
        lr, hr: 2-D grayscale images (any number dtype).
        scale: the integer factor between LR and HR pixel sizes; inferred from the image
            sizes when ``None`` (:func:`semsr_core.data.pairs.infer_scale`).
        max_shift: largest translation searched, in HR pixels (default: a quarter of the
            smaller HR side).
        max_rotation: also search rotations within ± this many degrees (0: none).
        scale_search: also search relative scale factors within 1 ± this (0: none).
        threshold: match score ("NCC") below which the result is "suspicious".
        fail_threshold: match score below which the result is "failed".
        min_peak_ratio: the best clearly different shift (more than 3 LR pixels away)
            must leave at least this many times the mismatch (1 − score) of the chosen
            one, else the result is "suspicious" (or "failed" when also below
            ``threshold``); 1 accepts ambiguous matches such as periodic patterns.
        contrast_degree: degree of the grey-level mapping allowed between LR and HR when
            scoring (1: plain |NCC|; 3, the default: robust to gamma/style differences).

    Returns:
        An :class:`AlignmentResult` with the cropped ``lr`` (a slice of the input) and
        ``hr`` (resampled once, exactly ``scale`` times the LR crop in size).

    Raises:
        InputError: an image is not 2-D, not finite or constant, or the sizes give no
            integer scale.
        ConfigError: a setting is out of range.
    """
    from semsr_core.data.pairs import infer_scale

    _check_settings(threshold, fail_threshold, min_peak_ratio, contrast_degree, max_shift,
                    max_rotation, scale_search)
    hr_dtype = np.asarray(hr).dtype
    lr_f = _check_image("LR", lr)
    hr_f = _check_image("HR", hr)
    scale = infer_scale(lr_f.shape, hr_f.shape) if scale is None else int(scale)
    if scale < 1:
        raise InputError(f"the scale must be a positive integer, not {scale}",
                         hint="give the ratio of LR to HR pixel size, e.g. 4")
    if min(lr_f.shape) < MIN_IMAGE_LR or min(hr_f.shape) < MIN_IMAGE_LR * scale:
        raise InputError(f"the images ({lr_f.shape[0]}×{lr_f.shape[1]} LR, "
                         f"{hr_f.shape[0]}×{hr_f.shape[1]} HR) are too small to align",
                         hint=f"alignment needs at least {MIN_IMAGE_LR}×{MIN_IMAGE_LR} LR pixels")
    max_shift = min(hr_f.shape) / 4 if max_shift is None else float(max_shift)
    max_rotation, scale_search = abs(float(max_rotation)), abs(float(scale_search))

    lr_up = upscale(lr_f, scale)
    lr_feat, hr_feat = _features(lr_up, hr_f, scale)
    centre = ((lr_up.shape[0] - 1) / 2, (lr_up.shape[1] - 1) / 2)
    scorer = _Scorer(lr_feat, hr_feat, centre, contrast_degree)
    common = scorer.region((0.0, 0.0), 0.0)
    ncc_before = scorer.at(common)((0.0, 0.0)) if common is not None else 0.0

    # 1. candidates: phase-correlation peaks for each rotation/scale, scored by the match
    lr_small, hr_small = _standardise(lr_f), _standardise(_downscale(hr_f, scale))
    # coarse grid steps that move the LR image edge by about one LR pixel
    step = 1.0 / max(lr_f.shape)
    rotations = [0.0]
    if max_rotation > 0:
        n = math.ceil(max_rotation / math.degrees(step))
        rotations = [float(r) for r in np.linspace(-max_rotation, max_rotation, 2 * n + 1)]
    factors = [1.0]
    if scale_search > 0:
        n = math.ceil(scale_search / step)
        factors = [float(f) for f in np.linspace(1 - scale_search, 1 + scale_search, 2 * n + 1)]
    scored = []  # (score, shift, rotation, factor)
    for rot in rotations:
        for fac in factors:
            moving = lr_small if (rot, fac) == (0.0, 1.0) else _warp(lr_small, rot, fac)
            for shift in _translation_candidates(moving, hr_small, scale, max_shift):
                region = scorer.region(shift, 2.0)
                if region is not None:
                    scored.append((scorer.at(region)(shift, rot, fac), shift, rot, fac))
    if not scored:
        return _unaligned(lr, hr, scale, ncc_before,
                          "no overlap between the LR and HR fields of view was found")
    scored.sort(key=lambda item: -item[0])

    # 2. refine the plausible candidates by maximising the match score; keep the best
    plausible = [c for c in scored[:CANDIDATES] if c[0] >= 0.75 * scored[0][0]]
    refined = [_refine(scorer, c[1:], scale, hr_f.shape, max_rotation, scale_search, 0.05)
               for c in plausible]
    best = max(refined, key=lambda item: item[0])
    best = max(best, _refine(scorer, best[1:], scale, hr_f.shape, max_rotation,
                             scale_search, 0.01), key=lambda item: item[0])
    _, shift, rotation, factor = best
    # distinctness: how much more mismatch (1 − score) the best clearly different shift leaves
    others = [c[0] for c in refined + scored[len(plausible):]
              if math.hypot(c[1][0] - shift[0], c[1][1] - shift[1]) > EXCLUDE_LR * scale]
    peak_ratio = ((1.0 - max(others)) / max(1.0 - best[0], 1e-6) if others
                  else float("inf"))

    # 3. crop both to the common field of view
    box = _lr_box(lr_f.shape, hr_f.shape, scale, shift, rotation, factor, centre)
    r0, r1, c0, c1 = box
    if r1 - r0 < MIN_CROP_LR or c1 - c0 < MIN_CROP_LR:
        return _unaligned(lr, hr, scale, ncc_before,
                          f"the common field of view is only {r1 - r0}×{c1 - c0} LR pixels",
                          shift=shift, peak_ratio=peak_ratio)
    hr_crop = _resample_hr(hr_f, box, scale, shift, rotation, factor, centre)
    crop_feat, hr_crop_feat = _features(upscale(lr_f[r0:r1, c0:c1], scale), hr_crop, scale)
    ncc_after = contrast_correlation(crop_feat, hr_crop_feat, contrast_degree)
    overlap = (r1 - r0) * (c1 - c0) / (lr_f.shape[0] * lr_f.shape[1])
    verdict, reason = _verdict(
        ncc_after, peak_ratio, overlap, shift, rotation, factor, threshold=threshold,
        fail_threshold=fail_threshold, min_peak_ratio=min_peak_ratio, max_shift=max_shift,
        max_rotation=max_rotation, scale_search=scale_search)
    return AlignmentResult(
        scale=scale, shift=shift, rotation=rotation, scale_factor=factor,
        ncc_before=ncc_before, ncc_after=ncc_after, peak_ratio=float(peak_ratio),
        verdict=verdict, reason=reason, lr_box=box,
        lr=np.asarray(lr)[r0:r1, c0:c1].copy(), hr=_to_dtype(hr_crop, hr_dtype),
        centre=(float(centre[0]), float(centre[1])), hr_shape=tuple(hr_f.shape))


def _check_settings(threshold, fail_threshold, min_peak_ratio, contrast_degree, max_shift,
                    max_rotation, scale_search) -> None:
    """Refuse settings that make no sense, naming the setting."""
    if not 0 <= fail_threshold <= threshold <= 1:
        raise ConfigError(f"the thresholds must satisfy 0 ≤ fail threshold ({fail_threshold:g})"
                          f" ≤ threshold ({threshold:g}) ≤ 1", hint="change the thresholds")
    if not min_peak_ratio >= 1:
        raise ConfigError(f"min_peak_ratio must be at least 1, not {min_peak_ratio:g}",
                          hint="use 1 to accept ambiguous (periodic) matches")
    if contrast_degree not in (1, 2, 3, 4, 5):
        raise ConfigError(f"contrast_degree must be 1 … 5, not {contrast_degree!r}",
                          hint="use 1 for plain NCC or 3 for scans with a contrast gap")
    if max_shift is not None and not max_shift > 0:
        raise ConfigError(f"max_shift must be a positive number of HR pixels, not {max_shift:g}",
                          hint="leave it out to search a quarter of the image")
    if not 0 <= abs(max_rotation) <= 45:
        raise ConfigError(f"max_rotation must be within 45°, not {max_rotation:g}",
                          hint="rotation search is for small rotations, e.g. 2")
    if not 0 <= abs(scale_search) < 0.5:
        raise ConfigError(f"scale_search must be below 0.5, not {scale_search:g}",
                          hint="use e.g. 0.02 for ±2%")


def _unaligned(lr, hr, scale, ncc_before, reason, *, shift=(0.0, 0.0),
               peak_ratio=float("nan")) -> AlignmentResult:
    """A failed result without crops."""
    return AlignmentResult(
        scale=scale, shift=(float(shift[0]), float(shift[1])), rotation=0.0, scale_factor=1.0,
        ncc_before=ncc_before, ncc_after=float("nan"), peak_ratio=float(peak_ratio),
        verdict=FAILED, reason=reason, lr_box=(0, 0, 0, 0),
        lr=np.asarray(lr)[:0, :0], hr=np.asarray(hr)[:0, :0])


# ---------------------------------------------------------------------- folders


#: Columns of ``report.csv``, in order.
REPORT_COLUMNS = (
    "stem", "verdict", "reason", "written", "lr_file", "hr_file", "scale", "shift_y",
    "shift_x", "rotation_deg", "scale_factor", "ncc_before", "ncc_after", "peak_ratio",
    "lr_crop", "lr_size", "hr_size", "overlay", "mask",
)

#: Largest side of one panel of an overlay PNG, in pixels.
OVERLAY_PANEL = 384


def overlay_image(lr_up: np.ndarray, hr: np.ndarray, lr_up_after: np.ndarray | None,
                  hr_after: np.ndarray | None) -> np.ndarray:
    """An RGB picture for checking an alignment by eye: before | after.

    Each panel shows the upscaled LR in magenta and HR in green over their common area:
    where they agree the picture is grey, misplaced structure shows magenta/green
    fringes. The "after" panel is black when the pair could not be aligned.
    """
    from skimage.transform import resize

    def stretch(x):
        lo, hi = np.percentile(x, (1, 99))
        return np.clip((x - lo) / (hi - lo if hi > lo else 1.0), 0, 1)

    def panel(a, b):
        h, w = min(a.shape[0], b.shape[0]), min(a.shape[1], b.shape[1])
        a, b = stretch(a[:h, :w]), stretch(b[:h, :w])
        zoom = min(1.0, OVERLAY_PANEL / max(h, w))
        size = (max(1, round(h * zoom)), max(1, round(w * zoom)))
        rgb = np.stack([a, b, a], axis=-1)
        return resize(rgb, (*size, 3), order=1, anti_aliasing=zoom < 1)

    before = panel(np.asarray(lr_up, float), np.asarray(hr, float))
    if lr_up_after is not None and hr_after is not None and hr_after.size:
        after = panel(np.asarray(lr_up_after, float), np.asarray(hr_after, float))
    else:
        after = np.zeros_like(before)
    height = max(before.shape[0], after.shape[0])
    gap = np.ones((height, 4, 3))
    canvas = [np.pad(p, ((0, height - p.shape[0]), (0, 0), (0, 0))) for p in (before, after)]
    return np.rint(np.concatenate([canvas[0], gap, canvas[1]], axis=1) * 255).astype(np.uint8)


def _write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` under a temporary name beside ``path``, then rename it into place
    (a write error, a full disk included, is an OutputError naming ``path``)."""
    from semsr_core.io.write import write_bytes_atomic

    write_bytes_atomic(path, data)


def _check_out_dir(out_dir: Path, inputs: list[Path], overwrite: bool) -> None:
    resolved = out_dir.resolve()
    for folder in inputs:
        if resolved == folder.resolve():
            raise OutputError("the output folder is an input folder", path=out_dir,
                              hint="choose a new folder for the aligned pairs")
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError("the output path exists and is not a folder", path=out_dir,
                          hint="choose a folder name")
    if (out_dir / "report.json").exists() and not overwrite:
        raise OutputError("the output folder already holds an alignment report",
                          path=out_dir, hint="choose another folder or allow overwriting "
                                             "(--overwrite)")


def align_folder(
    lr_dir: str | PathLike,
    hr_dir: str | PathLike,
    out_dir: str | PathLike,
    *,
    rule: str | None = None,
    scale: int | None = None,
    max_shift: float | None = None,
    max_rotation: float = 0.0,
    scale_search: float = 0.0,
    threshold: float = DEFAULT_THRESHOLD,
    fail_threshold: float = DEFAULT_FAIL_THRESHOLD,
    min_peak_ratio: float = DEFAULT_MIN_PEAK_RATIO,
    contrast_degree: int = 3,
    keep_suspicious: bool = True,
    overwrite: bool = False,
    masks_dir: str | PathLike | None = None,
    on_event: EventCallback | None = None,
    cancel: CancelToken | None = None,
) -> dict[str, Any]:
    """Align every LR/HR pair of two folders and write the aligned pairs and a report.

    Pairs are matched by stem (or ``rule``, see :func:`semsr_core.data.pairs.find_pairs`);
    a file holding a stack of Z slices is aligned slice by slice with its partner
    (``<stem>_z0003``). The scale of each pair is inferred from the image sizes and
    checked against the pixel sizes in the files (and against ``scale`` when given).

    Writes into ``out_dir``:

    * ``lr/<stem>.tif`` and ``hr/<stem>.tif``: the cropped pairs (OME-TIFF, input dtype,
      LR pixel size kept, HR pixel size = LR pixel size / scale), for pairs whose verdict
      is "aligned", and "suspicious" too when ``keep_suspicious``;
    * ``masks/<stem>.tif``: a written pair's annotated defects (``masks_dir/<stem>.*``,
      drawn on HR; by default the ``masks`` folder next to ``hr_dir`` when there is one)
      carried through the same crop and geometry as HR, 0/1 uint8;
    * ``overlays/<stem>.png``: upscaled LR (magenta) over HR (green), before | after;
    * ``report.csv`` and ``report.json``: one row per pair (verdict, reason, shift,
      rotation, scale factor, NCC before/after, …), files without a partner as
      ``unpaired`` rows. Excluded pairs are listed with their reason, never dropped.

    The other arguments are those of :func:`align_pair`. Emits PROGRESS events (stage
    "aligning"), a warning MESSAGE per excluded pair, and FINISHED with the counts.
    Returns the report (the content of ``report.json``).

    Raises:
        ConfigError: a setting is out of range (before anything is written).
        InputError: a folder is missing or holds no pairs.
        OutputError: ``out_dir`` is an input folder or already holds a report (unless
            ``overwrite``).
        Cancelled: ``cancel`` was set; files already written stay, the report is not.
    """
    from semsr_core.data.pairs import MASKS_FOLDER, find_pairs

    _check_settings(threshold, fail_threshold, min_peak_ratio, contrast_degree, max_shift,
                    max_rotation, scale_search)
    out = Path(out_dir)
    if masks_dir is None and (Path(hr_dir).parent / MASKS_FOLDER).is_dir():
        masks_dir = Path(hr_dir).parent / MASKS_FOLDER
    if masks_dir is not None and not Path(masks_dir).is_dir():
        raise InputError("no such masks folder", path=masks_dir,
                         hint="Give the folder that holds <stem>.tif defect masks.")
    _check_out_dir(out, [Path(lr_dir), Path(hr_dir)], overwrite)
    pairing = find_pairs(lr_dir, hr_dir, rule=rule)
    for folder in ("lr", "hr", "overlays") + ((MASKS_FOLDER,) if masks_dir else ()):
        (out / folder).mkdir(parents=True, exist_ok=True)
    settings = {
        "lr_dir": str(lr_dir), "hr_dir": str(hr_dir), "rule": rule, "scale": scale,
        "masks_dir": None if masks_dir is None else str(masks_dir),
        "max_shift": max_shift, "max_rotation": max_rotation, "scale_search": scale_search,
        "threshold": threshold, "fail_threshold": fail_threshold,
        "min_peak_ratio": min_peak_ratio, "contrast_degree": contrast_degree,
        "keep_suspicious": keep_suspicious,
    }
    options = {k: settings[k] for k in ("max_shift", "max_rotation", "scale_search",
                                        "threshold", "fail_threshold", "min_peak_ratio",
                                        "contrast_degree")}
    rows: list[dict[str, Any]] = []
    total = len(pairing.pairs)
    emit(on_event, EventKind.PROGRESS, done=0, total=total, stage="aligning", unit="pair")
    for done, pair in enumerate(pairing.pairs, start=1):
        check_cancel(cancel)
        for row in _align_file_pair(pair, out, scale, options, keep_suspicious, overwrite,
                                    cancel, masks_dir):
            rows.append(row)
            if not row["written"]:
                emit(on_event, EventKind.MESSAGE, level="warning",
                     text=f"{row['stem']}: {row['verdict']}, not used: {row['reason']}")
        emit(on_event, EventKind.PROGRESS, done=done, total=total, stage="aligning",
             unit="pair")
    for item in pairing.unmatched:
        emit(on_event, EventKind.MESSAGE, level="warning",
             text=f"{item.path}: not paired: {item.reason}")
        rows.append({"stem": item.path.stem, "verdict": UNPAIRED, "reason": item.reason,
                     "written": False, "lr_file": "", "hr_file": "", "overlay": "",
                     "unpaired_file": str(item.path)})
    counts = {v: sum(r["verdict"] == v for r in rows)
              for v in (ALIGNED, SUSPICIOUS, FAILED, UNPAIRED)}
    counts["written"] = sum(bool(r["written"]) for r in rows)
    if masks_dir is not None:
        counts["masks"] = sum(bool(r.get("mask")) for r in rows)
    report = {"settings": settings, "counts": counts, "pairs": rows}
    _write_bytes_atomic(out / "report.json",
                        json.dumps(report, indent=2, allow_nan=False).encode())
    text = _text_io.StringIO()
    writer = csv.DictWriter(text, fieldnames=REPORT_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    _write_bytes_atomic(out / "report.csv", text.getvalue().encode())
    emit(on_event, EventKind.FINISHED, path=str(out / "report.csv"), **counts)
    return report


def _read_masks(masks_dir, stem: str, hr_stack) -> tuple[Path | None, list | None]:
    """The mask file of pair ``stem`` and its slices (one per slice of ``hr_stack``, of
    its size), or Nones when there is none."""
    from semsr_core.data.pairs import find_mask
    from semsr_core.io import read_stack

    path = find_mask(masks_dir, stem)
    if path is None:
        return None, None
    with read_stack(path) as stack:
        masks = [np.asarray(stack[z]) for z in range(len(stack))]
    hr_shape = tuple(hr_stack.shape[-2:])
    if len(masks) != len(hr_stack) or any(m.shape != hr_shape for m in masks):
        raise InputError(f"the mask file holds {len(masks)} slice(s) of "
                         f"{'×'.join(map(str, masks[0].shape))} but the HR file "
                         f"{len(hr_stack)} of {hr_shape[0]}×{hr_shape[1]}", path=path,
                         hint="Give one mask slice per HR slice, at the HR size.")
    return path, masks


def _align_file_pair(pair, out: Path, scale, options, keep_suspicious: bool,
                     overwrite: bool, cancel: CancelToken | None, masks_dir=None
                     ) -> list[dict[str, Any]]:
    """Align one pair of files (every slice of a stack); the report rows."""
    from semsr_core.data.pairs import MASKS_FOLDER, infer_scale
    from semsr_core.io import read_stack, write_stack

    base = {"lr_file": str(pair.lr_path), "hr_file": str(pair.hr_path), "written": False,
            "overlay": ""}
    try:
        lr_stack, hr_stack = read_stack(pair.lr_path), read_stack(pair.hr_path)
    except InputError as exc:  # an unreadable file excludes its pair, visibly
        return [{**base, "stem": pair.stem, "verdict": FAILED, "reason": str(exc)}]
    with lr_stack, hr_stack:
        if len(lr_stack) != len(hr_stack):
            return [{**base, "stem": pair.stem, "verdict": FAILED,
                     "reason": f"the LR file has {len(lr_stack)} slices but the HR file "
                               f"{len(hr_stack)}"}]
        try:
            mask_path, masks = _read_masks(masks_dir, pair.stem, hr_stack)
        except InputError as exc:  # a bad mask excludes its pair, visibly
            return [{**base, "stem": pair.stem, "verdict": FAILED, "reason": str(exc)}]
        rows = []
        for z in range(len(lr_stack)):
            check_cancel(cancel)
            stem = pair.stem if len(lr_stack) == 1 else f"{pair.stem}_z{z:04d}"
            row = {**base, "stem": stem}
            lr, hr = lr_stack[z], hr_stack[z]
            try:
                inferred = infer_scale(lr.shape, hr.shape, lr_stack.pixel_size,
                                       hr_stack.pixel_size, lr_path=pair.lr_path,
                                       hr_path=pair.hr_path)
                if scale is not None and inferred != scale:
                    raise InputError(f"the image sizes give a scale of {inferred}, not the "
                                     f"requested {scale}", path=pair.hr_path,
                                     hint="check the pair or the requested scale")
                result = align_pair(lr, hr, inferred, **options)
            except InputError as exc:  # this pair is excluded, with the reason in the report
                rows.append({**row, "verdict": FAILED, "reason": str(exc)})
                continue
            row.update(result.summary())
            overlay_path = out / "overlays" / f"{stem}.png"
            _write_overlay(overlay_path, lr, hr, result)
            row["overlay"] = str(overlay_path.relative_to(out))
            keep = result.verdict == ALIGNED or (result.verdict == SUSPICIOUS
                                                and keep_suspicious)
            lr_out, hr_out = out / "lr" / f"{stem}.tif", out / "hr" / f"{stem}.tif"
            if keep:
                lr_px = lr_stack.pixel_size
                hr_px = (lr_px / result.scale if lr_px is not None else
                         None if hr_stack.pixel_size is None else
                         hr_stack.pixel_size * result.scale_factor)
                provenance = {"semsr": "align", "stem": stem, **result.summary()}
                protect = [pair.lr_path, pair.hr_path]
                write_stack(lr_out, _writable(result.lr), pixel_size=lr_px,
                            metadata={**provenance, "source": str(pair.lr_path)},
                            protect=protect, overwrite=overwrite)
                write_stack(hr_out, _writable(result.hr), pixel_size=hr_px,
                            metadata={**provenance, "source": str(pair.hr_path)},
                            protect=protect, overwrite=overwrite)
                if masks is not None:
                    carried = result.carry_hr_mask(masks[z], mask_path).astype(np.uint8)
                    write_stack(out / MASKS_FOLDER / f"{stem}.tif", carried, pixel_size=hr_px,
                                metadata={**provenance, "source": str(mask_path)},
                                protect=[*protect, mask_path], overwrite=overwrite)
                    row["mask"] = str(mask_path)
                row["written"] = True
            else:
                for stale in (lr_out, hr_out, out / MASKS_FOLDER / f"{stem}.tif"):
                    stale.unlink(missing_ok=True)  # from an earlier run with other settings
            rows.append(row)
        return rows


def _writable(image: np.ndarray) -> np.ndarray:
    """The image in a dtype OME-TIFF output supports (uint8, uint16 or float32)."""
    if image.dtype in (np.uint8, np.uint16, np.float32):
        return image
    return image.astype(np.float32)


def _write_overlay(path: Path, lr: np.ndarray, hr: np.ndarray, result: AlignmentResult) -> None:
    import imagecodecs

    lr_up = upscale(np.asarray(lr, dtype=np.float64), result.scale)
    after = (upscale(np.asarray(result.lr, dtype=np.float64), result.scale)
             if result.lr.size else None)
    picture = overlay_image(lr_up, np.asarray(hr, dtype=np.float64), after,
                            np.asarray(result.hr, dtype=np.float64))
    _write_bytes_atomic(path, imagecodecs.png_encode(picture))
