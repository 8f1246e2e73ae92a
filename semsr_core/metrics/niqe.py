"""NIQE, the Natural Image Quality Evaluator (Mittal, Soundararajan & Bovik 2013), [S3].

A no-reference, "opinion-unaware" measure: how far an image's local statistics are
from those of pristine natural images. Lower is better (more natural).

1. The image is stretched so that its 0.1st–99.9th percentiles span 0..255 (the units
   NIQE's constant 1 below assumes; SEM intensities have arbitrary gain, and a
   constant scaling of the image must not change its naturalness), then turned into
   MSCN coefficients
   ``(I − μ) / (σ + 1)``, with μ and σ the local mean and standard deviation under a
   7×7 Gaussian window (σ = 7/6).
2. It is cut into 96×96 patches (the rest of the rows and columns is dropped). Each
   patch gives 18 features: an asymmetric generalized Gaussian (AGGD) fitted to its
   MSCN coefficients (shape, mean of the two scales), and an AGGD fitted to the
   products of neighbouring coefficients in 4 directions (horizontal, vertical, both
   diagonals: shape, mean, left and right scale each).
3. The same at half resolution (the image shrunk by 2 with an anti-aliased bicubic;
   patches of 48×48) gives 18 more: 36 per patch.
4. The patches' features are modelled by a multivariate Gaussian (mean ν₂, covariance
   Σ₂) and compared with the pristine model (ν₁, Σ₁):
   ``NIQE = sqrt((ν₁ − ν₂)ᵀ ((Σ₁ + Σ₂) / 2)⁺ (ν₁ − ν₂))``.

The pristine model is fitted by :func:`fit_pristine` on the sharpest patches of
natural images (those whose mean σ is at least 0.75 × the image's sharpest patch's),
as in the authors' code. The bundled model (``resources/metrics/niqe_pristine.npz``)
was fitted by ``benchmarks/fit_niqe.py`` on the natural photographs bundled with
scikit-image, not on the authors' 125 images: its values are comparable with each
other, not with published NIQE figures.

Images are 2-D arrays in [0, 1] (the metrics' convention); at least two 96×96 patches
(e.g. 96×192 pixels) are needed for the covariance of the image's features. With few
patches that covariance is poorly estimated and NIQE comes out high: the held-out
cameraman gives 12.4 at 192×192 (4 patches), 7.7 at 288×288, 5.7 from 384×384 (16
patches) up to its full 512×512; compare images of the same size, 384×384 or larger.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from scipy.ndimage import convolve
from scipy.special import gamma

from semsr_core.errors import InputError, ModelError

PATCH = 96
"""Side of the patches features are computed on (at full resolution)."""

SHARPNESS_THRESHOLD = 0.75
"""Pristine patches: mean local σ at least this share of the image's sharpest patch's."""

FEATURES = 36
PRISTINE_FILE = ("metrics", "niqe_pristine.npz")

_SHAPES = np.arange(0.2, 10.001, 0.001)
"""The AGGD shape parameters searched (as in the authors' code)."""
_RATIO = gamma(2 / _SHAPES) ** 2 / (gamma(1 / _SHAPES) * gamma(3 / _SHAPES))


def _gaussian_window(size: int = 7, sigma: float = 7 / 6) -> np.ndarray:
    offsets = np.arange(size) - (size - 1) / 2
    g = np.exp(-offsets**2 / (2 * sigma**2))
    window = np.outer(g, g)
    return window / window.sum()


_WINDOW = _gaussian_window()


def _aggd(values: np.ndarray) -> tuple[float, float, float]:
    """Shape α and left/right scales of an AGGD fitted by moment matching."""
    values = values.ravel()
    left, right = values[values < 0], values[values > 0]
    if left.size == 0 or right.size == 0:
        return math.nan, math.nan, math.nan
    left_std = math.sqrt(float(np.mean(left**2)))
    right_std = math.sqrt(float(np.mean(right**2)))
    g = left_std / right_std
    r = float(np.mean(np.abs(values))) ** 2 / float(np.mean(values**2))
    r_norm = r * (g**3 + 1) * (g + 1) / (g**2 + 1) ** 2
    alpha = float(_SHAPES[np.argmin((_RATIO - r_norm) ** 2)])
    factor = math.sqrt(gamma(1 / alpha) / gamma(3 / alpha))
    return alpha, left_std * factor, right_std * factor


def _patch_features(mscn: np.ndarray) -> list[float]:
    """The 18 features of one patch of MSCN coefficients."""
    alpha, left, right = _aggd(mscn)
    features = [alpha, (left + right) / 2]
    for shift in ((0, 1), (1, 0), (1, 1), (1, -1)):
        alpha, left, right = _aggd(mscn * np.roll(mscn, shift, axis=(0, 1)))
        mean = (right - left) * gamma(2 / alpha) / gamma(1 / alpha) if alpha == alpha \
            else math.nan
        features += [alpha, mean, left, right]
    return features


def _mscn(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """MSCN coefficients and the local σ of an image in 0..255 units."""
    mu = convolve(image, _WINDOW, mode="nearest")
    sigma = np.sqrt(np.abs(convolve(image * image, _WINDOW, mode="nearest") - mu * mu))
    return (image - mu) / (sigma + 1), sigma


def _half(image: np.ndarray) -> np.ndarray:
    """The image shrunk by 2: bicubic with anti-aliasing (as MATLAB's imresize)."""
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(np.ascontiguousarray(image))[None, None]
    out = F.interpolate(x, scale_factor=0.5, mode="bicubic", align_corners=False,
                        antialias=True)
    return out[0, 0].numpy()


def _check_image(image: Any, what: str = "the image") -> np.ndarray:
    array = np.asarray(image, dtype=np.float64)
    if array.ndim != 2:
        raise InputError(f"NIQE is computed on 2-D grayscale images; {what} has shape "
                         f"{array.shape}", hint="Give one grayscale slice.")
    rows, cols = array.shape[0] // PATCH, array.shape[1] // PATCH
    if rows * cols < 2:
        raise InputError(
            f"{what} is {array.shape[0]}×{array.shape[1]} pixels; NIQE needs at least two "
            f"{PATCH}×{PATCH} patches (e.g. {PATCH}×{2 * PATCH} pixels)",
            hint="Compute NIQE on larger images (the super-resolved or HR image).")
    if not np.isfinite(array).all():
        raise InputError(f"{what} has NaN or infinite pixels",
                         hint="Give an image of finite values in [0, 1].")
    return array


def patch_features(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The 36 NIQE features of each 96×96 patch of a [0, 1] image, and each patch's
    sharpness (mean local σ at full resolution): arrays (patches, 36) and (patches,)."""
    array = _check_image(image)
    low, high = np.percentile(array, [0.1, 99.9])
    if not high > low:
        raise InputError("NIQE is undefined for a flat image (its intensities span no range)",
                         hint="NIQE describes textured images; leave it out for this one.")
    array = (array - low) * (255.0 / (high - low))
    rows, cols = array.shape[0] // PATCH, array.shape[1] // PATCH
    array = array[:rows * PATCH, :cols * PATCH]
    features, sharpness = [], None
    for level in (1, 2):
        mscn, sigma = _mscn(array)
        side = PATCH // level
        blocks = [(r * side, c * side) for r in range(rows) for c in range(cols)]
        features.append([_patch_features(mscn[y:y + side, x:x + side]) for y, x in blocks])
        if level == 1:
            sharpness = np.array([sigma[y:y + side, x:x + side].mean() for y, x in blocks])
            array = _half(array)
    return np.concatenate([np.asarray(f) for f in features], axis=1), sharpness


@dataclass(frozen=True)
class PristineModel:
    """The multivariate Gaussian of pristine patches' features, and where it came from."""

    mean: np.ndarray  # (36,)
    cov: np.ndarray  # (36, 36)
    provenance: dict[str, Any]

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, mean=self.mean, cov=self.cov,
                 provenance=np.array(json.dumps(self.provenance, indent=1)))
        return path

    @classmethod
    def load(cls, path: str | Path) -> PristineModel:
        try:
            with np.load(path, allow_pickle=False) as data:
                mean, cov = data["mean"], data["cov"]
                provenance = json.loads(str(data["provenance"]))
        except (OSError, KeyError, ValueError) as exc:
            raise ModelError(f"cannot read the NIQE pristine model: {exc}", path=path,
                             hint="Refit it with `python benchmarks/fit_niqe.py`.") from exc
        if mean.shape != (FEATURES,) or cov.shape != (FEATURES, FEATURES):
            raise ModelError(f"the NIQE pristine model has shapes {mean.shape}, {cov.shape}, "
                             f"not ({FEATURES},), ({FEATURES}, {FEATURES})", path=path,
                             hint="Refit it with `python benchmarks/fit_niqe.py`.")
        return cls(mean, cov, provenance)


def fit_pristine(images: Iterable[tuple[str, np.ndarray]],
                 threshold: float = SHARPNESS_THRESHOLD) -> PristineModel:
    """Fit the pristine model to named [0, 1] grayscale images: the features of each
    image's patches whose sharpness is ≥ ``threshold`` × its sharpest patch's, pooled;
    their mean and covariance (patches with an undefined feature left out)."""
    pooled, used = [], []
    for name, image in images:
        features, sharpness = patch_features(image)
        keep = features[sharpness >= threshold * sharpness.max()]
        keep = keep[np.isfinite(keep).all(axis=1)]
        pooled.append(keep)
        used.append({"image": name, "shape": list(np.shape(image)),
                     "patches": len(sharpness), "kept": len(keep)})
    features = np.concatenate(pooled)
    if len(features) <= FEATURES:
        raise InputError(f"only {len(features)} pristine patches were found; the 36×36 "
                         "covariance needs more", hint="Fit on more or larger images.")
    provenance = {"method": "NIQE pristine model (Mittal et al. 2013)", "patch": PATCH,
                  "sharpness_threshold": threshold, "patches": len(features),
                  "images": used}
    return PristineModel(features.mean(axis=0), np.cov(features, rowvar=False), provenance)


@lru_cache(maxsize=1)
def bundled_model() -> PristineModel:
    """The pristine model shipped with semsr (see the module docstring)."""
    from semsr_core.resources import resource_path

    return PristineModel.load(resource_path(*PRISTINE_FILE))


def niqe(image: np.ndarray, model: PristineModel | None = None) -> float:
    """NIQE of a 2-D image in [0, 1] (lower: closer to pristine natural images).

    Raises :class:`InputError` for an image smaller than two 96×96 patches, or one so
    flat that fewer than two patches have defined features.
    """
    model = model or bundled_model()
    features, _ = patch_features(image)
    mean = np.nanmean(features, axis=0) if np.isfinite(features).any(axis=0).all() \
        else None
    valid = features[np.isfinite(features).all(axis=1)]
    if mean is None or len(valid) < 2:
        raise InputError("NIQE is undefined for this image: too few of its 96×96 patches "
                         "have texture (flat patches give no statistics)",
                         hint="NIQE describes textured images; leave it out for this one.")
    cov = np.cov(valid, rowvar=False)
    diff = model.mean - mean
    value = float(diff @ np.linalg.pinv((model.cov + cov) / 2) @ diff)
    return math.sqrt(max(value, 0.0))
