"""The search for the geometry that best maps upscaled LR onto HR.

Scores: :func:`contrast_correlation` (NCC after the best grey-level mapping) of the
*alignment features* (:func:`features`: upscaled LR and HR, both blurred to the LR band
and standardised). Candidates: phase-correlation and normalised cross-correlation peaks
on the LR grid (:func:`translation_candidates`). Refinement: :func:`refine` maximises
the score over sub-pixel shift (and rotation/scale when searched). Distinctness:
:func:`distinctness` compares the chosen geometry with a rival where the two would
predict HR differently. The geometry convention is
:mod:`semsr_core.data.align.geometry`'s.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage, optimize

from semsr_core.data.align.geometry import rotation_matrix

#: Number of cross-correlation peaks scored as candidate translations.
CANDIDATES = 5
#: Shifts closer than this (LR pixels) count as the same match.
EXCLUDE_LR = 3.0


def contrast_correlation(values: np.ndarray, target: np.ndarray, degree: int = 3) -> float:
    """How well ``target`` is a grey-level mapping of ``values``, from 0 to 1.

    The square root of the R² of the least-squares fit ``target ≈ a_0 + Σ a_k ·
    values^k`` (k ≤ ``degree``). For ``degree=1`` this is ``|NCC|``; with higher
    degrees a gamma or contrast difference, or inverted contrast, does not lower it.
    """
    design, coeffs, y = _grey_fit(values, target, degree)
    total = float(y @ y)
    if total == 0.0 or not coeffs.any():
        return 0.0
    explained = float((design @ y) @ coeffs) / total
    return math.sqrt(min(max(explained, 0.0), 1.0))


def grey_residual(values: np.ndarray, target: np.ndarray, degree: int = 3) -> np.ndarray:
    """``target`` less ``values`` through their least-squares grey-level mapping (as
    :func:`contrast_correlation` fits it), per point."""
    design, coeffs, y = _grey_fit(values, target, degree)
    return y - coeffs @ design


def _grey_fit(values: np.ndarray, target: np.ndarray, degree: int):
    """The least-squares fit ``target ≈ a_0 + Σ a_k · values^k``: the centred powers of
    the standardised values (``degree`` rows), their coefficients (zeros for constant
    values) and the centred target."""
    v = standardise(np.asarray(values, dtype=np.float64).ravel())
    y = np.asarray(target, dtype=np.float64).ravel()
    y = y - y.mean()
    design = np.empty((degree, v.size))
    design[0] = v
    for k in range(1, degree):
        design[k] = design[k - 1] * v
    design -= design.mean(axis=1, keepdims=True)
    if not v.any():
        return design, np.zeros(degree), y
    gram = design @ design.T
    gram[np.diag_indices(degree)] *= 1 + 1e-9
    return design, np.linalg.solve(gram, design @ y), y


def standardise(x: np.ndarray) -> np.ndarray:
    x = x - x.mean()
    sd = x.std()
    return x / sd if sd > 0 else x


def features(lr_up: np.ndarray, hr: np.ndarray, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """The images the match is scored on: upscaled LR and HR blurred to the LR band."""
    hr_band = ndimage.gaussian_filter(hr, sigma=0.5 * scale, mode="nearest")
    lr_band = ndimage.gaussian_filter(lr_up, sigma=0.25 * scale, mode="nearest")
    return standardise(lr_band), standardise(hr_band)


def downscale(hr: np.ndarray, scale: int) -> np.ndarray:
    from skimage.transform import downscale_local_mean

    h, w = (hr.shape[0] // scale) * scale, (hr.shape[1] // scale) * scale
    return downscale_local_mean(hr[:h, :w], (scale, scale))


DISTINCT_SHARE = 0.2
"""The share of the common field of view where two candidate geometries predict the
HR features most differently, on which :func:`distinctness` compares them."""


def distinctness(scorer: Scorer, best, other) -> float:
    """How much worse ``other`` explains the HR features than ``best`` where the two
    differ: the ratio of their mean squared residuals over the :data:`DISTINCT_SHARE`
    of the common field of view where their predictions differ most (each candidate
    ``(score, shift, rotation, factor)``).

    A pattern that repeats exactly predicts the same from both (ratio near 1); a defect,
    an edge of the pattern or any non-periodic part tells them apart, however small.
    Without a common field of view, the ratio of their mismatches (1 − score)."""
    a, b = scorer.region(best[1], 2.0), scorer.region(other[1], 2.0)
    common = None if a is None or b is None else (max(a[0], b[0]), min(a[1], b[1]),
                                                  max(a[2], b[2]), min(a[3], b[3]))
    if common is None or common[1] - common[0] < 8 or common[3] - common[2] < 8:
        return (1.0 - other[0]) / max(1.0 - best[0], 1e-6)
    values, target = scorer.samples(common)
    left_best = grey_residual(values(*best[1:]), target, scorer.degree)
    left_other = grey_residual(values(*other[1:]), target, scorer.degree)
    differ = np.abs(left_best - left_other)  # = how differently the two predict HR
    where = differ >= np.quantile(differ, 1.0 - DISTINCT_SHARE)
    worse = float(np.mean(left_other[where] ** 2))
    return worse / max(float(np.mean(left_best[where] ** 2)), 1e-12)


class Scorer:
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

    def samples(self, region: tuple[int, int, int, int]):
        """``(values, target)`` over ``region`` (at most about 12,000 points): the HR
        features there, and a function ``(shift, rotation, scale_factor) -> `` the LR
        features mapped onto those points."""
        r0, r1, c0, c1 = region
        step = max(1, round(math.sqrt((r1 - r0) * (c1 - c0) / 12000)))
        yy, xx = np.mgrid[r0:r1:step, c0:c1:step]
        points = np.stack([yy.ravel(), xx.ravel()]).astype(np.float64)

        def values(shift, rotation: float = 0.0, scale_factor: float = 1.0) -> np.ndarray:
            inv = rotation_matrix(-rotation) / scale_factor
            q = self.centre + inv @ (points - np.asarray(shift, dtype=np.float64)[:, None]
                                     - self.centre)
            return ndimage.map_coordinates(self.coeffs, q, order=3, mode="nearest",
                                           prefilter=False)

        return values, self.hr_feat[yy, xx].ravel()

    def at(self, region: tuple[int, int, int, int]):
        """A function ``(shift, rotation, scale_factor) -> score`` over ``region``."""
        values, target = self.samples(region)

        def score(shift, rotation: float = 0.0, scale_factor: float = 1.0) -> float:
            return contrast_correlation(values(shift, rotation, scale_factor), target,
                                        self.degree)

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


def translation_candidates(lr_small: np.ndarray, hr_small: np.ndarray, scale: int,
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


def refine(scorer: Scorer, start, scale: int, hr_shape, max_rotation: float,
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


