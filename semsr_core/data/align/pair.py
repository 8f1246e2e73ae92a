"""Aligning one LR/HR pair: :func:`align_pair`, with its checks of images and settings.

How a pair is aligned:

1. LR is upscaled to the HR grid (:func:`upscale`). HR is blurred to the LR band, so
   that detail only HR has does not count against the match. Both are normalised to
   zero mean and unit variance: these are the *alignment features*.
2. Candidate translations come from phase correlation on the LR grid (HR averaged to
   LR size). Each candidate is scored by the match score; the best one is refined by
   maximising the score over sub-pixel shifts (and rotation/scale when asked). Its
   distinctness is judged where a clearly different candidate would predict HR
   differently: a periodic pattern's next period is no evidence either way, its
   defects and edges are.
3. Both images are cropped to the common field of view. The LR crop is a slice of the
   LR pixel grid (LR pixels are never resampled); HR is resampled once (cubic spline)
   to remove the sub-pixel residual, rotation and scale, so that the HR crop is exactly
   ``s`` times the LR crop in size.
"""

from __future__ import annotations

import math

import numpy as np

from semsr_core.data.align.geometry import lr_box, resample_hr, warp
from semsr_core.data.align.result import (
    DEFAULT_FAIL_THRESHOLD,
    DEFAULT_MIN_PEAK_RATIO,
    DEFAULT_THRESHOLD,
    FAILED,
    MIN_CROP_LR,
    MIN_IMAGE_LR,
    AlignmentResult,
    verdict_of,
)
from semsr_core.data.align.search import (
    CANDIDATES,
    EXCLUDE_LR,
    Scorer,
    contrast_correlation,
    distinctness,
    downscale,
    features,
    refine,
    standardise,
    translation_candidates,
)
from semsr_core.errors import ConfigError, InputError


def upscale(lr: np.ndarray, scale: int) -> np.ndarray:
    """LR upscaled ``scale`` times on the HR grid, as float64: the engine's one bicubic
    (:func:`semsr_core.data.resample.upscale`, half-pixel centres), unclipped so that any
    intensity range is kept.

    LR pixel ``i`` covers HR pixels ``scale*i … scale*i + scale − 1``, so cropping LR on
    its grid and cropping the upscaled image by ``scale`` times as much agree (away from
    the crop's edges).
    """
    from semsr_core.data import resample

    values = np.asarray(lr, dtype=np.float64)
    offset = float(values.mean()) if values.size else 0.0  # float32 keeps the detail
    return resample.upscale(values - offset, scale, clip=False).astype(np.float64) + offset


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



def _to_dtype(values: np.ndarray, dtype: np.dtype, source: np.ndarray) -> np.ndarray:
    """The resampled HR in the source's dtype and within the source's own range: an
    interpolation's overshoot at sharp edges is not measured intensity, and a [0, 1]
    float scan must stay in [0, 1] (as its uint16 twin does), so that the intensity
    policy reads it the same way."""
    values = np.clip(values, float(source.min()), float(source.max()))
    if np.issubdtype(dtype, np.integer):
        return np.rint(values).astype(dtype)
    return values.astype(dtype)



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
        min_peak_ratio: every clearly different shift (more than 3 LR pixels away)
            must explain HR at least this many times worse (mean squared residual)
            than the chosen one where the two predict it differently, else the result
            is "suspicious" (or "failed" when also below ``threshold``); 1 accepts
            ambiguous matches such as periodic patterns without a defect or an edge.
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

    check_settings(threshold, fail_threshold, min_peak_ratio, contrast_degree, max_shift,
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
    lr_feat, hr_feat = features(lr_up, hr_f, scale)
    centre = ((lr_up.shape[0] - 1) / 2, (lr_up.shape[1] - 1) / 2)
    scorer = Scorer(lr_feat, hr_feat, centre, contrast_degree)
    common = scorer.region((0.0, 0.0), 0.0)
    ncc_before = scorer.at(common)((0.0, 0.0)) if common is not None else 0.0

    # 1. candidates: phase-correlation peaks for each rotation/scale, scored by the match
    lr_small, hr_small = standardise(lr_f), standardise(downscale(hr_f, scale))
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
            moving = lr_small if (rot, fac) == (0.0, 1.0) else warp(lr_small, rot, fac)
            for shift in translation_candidates(moving, hr_small, scale, max_shift):
                region = scorer.region(shift, 2.0)
                if region is not None:
                    scored.append((scorer.at(region)(shift, rot, fac), shift, rot, fac))
    if not scored:
        return _unaligned(lr, hr, scale, ncc_before,
                          "no overlap between the LR and HR fields of view was found")
    scored.sort(key=lambda item: -item[0])

    # 2. refine the plausible candidates by maximising the match score; keep the best
    plausible = [c for c in scored[:CANDIDATES] if c[0] >= 0.75 * scored[0][0]]
    refined = [refine(scorer, c[1:], scale, hr_f.shape, max_rotation, scale_search, 0.05)
               for c in plausible]
    best = max(refined, key=lambda item: item[0])
    best = max(best, refine(scorer, best[1:], scale, hr_f.shape, max_rotation,
                             scale_search, 0.01), key=lambda item: item[0])
    _, shift, rotation, factor = best
    # distinctness: how much worse the clearly different shifts explain HR where they
    # differ from the chosen one (a pattern's period is no evidence either way); only
    # the closest rivals over the whole field are compared
    others = sorted((c for c in refined + scored[len(plausible):]
                     if math.hypot(c[1][0] - shift[0], c[1][1] - shift[1]) > EXCLUDE_LR * scale),
                    key=lambda c: -c[0])[:CANDIDATES]
    peak_ratio = min((distinctness(scorer, best, c) for c in others), default=float("inf"))

    # 3. crop both to the common field of view
    box = lr_box(lr_f.shape, hr_f.shape, scale, shift, rotation, factor, centre)
    r0, r1, c0, c1 = box
    if r1 - r0 < MIN_CROP_LR or c1 - c0 < MIN_CROP_LR:
        return _unaligned(lr, hr, scale, ncc_before,
                          f"the common field of view is only {r1 - r0}×{c1 - c0} LR pixels",
                          shift=shift, peak_ratio=peak_ratio)
    hr_crop = resample_hr(hr_f, box, scale, shift, rotation, factor, centre)
    crop_feat, hr_crop_feat = features(upscale(lr_f[r0:r1, c0:c1], scale), hr_crop, scale)
    ncc_after = contrast_correlation(crop_feat, hr_crop_feat, contrast_degree)
    overlap = (r1 - r0) * (c1 - c0) / (lr_f.shape[0] * lr_f.shape[1])
    verdict, reason = verdict_of(
        ncc_after, peak_ratio, overlap, shift, rotation, factor, threshold=threshold,
        fail_threshold=fail_threshold, min_peak_ratio=min_peak_ratio, max_shift=max_shift,
        max_rotation=max_rotation, scale_search=scale_search)
    return AlignmentResult(
        scale=scale, shift=shift, rotation=rotation, scale_factor=factor,
        ncc_before=ncc_before, ncc_after=ncc_after, peak_ratio=float(peak_ratio),
        verdict=verdict, reason=reason, lr_box=box,
        lr=np.asarray(lr)[r0:r1, c0:c1].copy(), hr=_to_dtype(hr_crop, hr_dtype, hr_f),
        centre=(float(centre[0]), float(centre[1])), hr_shape=tuple(hr_f.shape))


def check_settings(threshold, fail_threshold, min_peak_ratio, contrast_degree, max_shift,
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


