"""Full-reference metrics of an image against its aligned ground truth (SPEC §9).

All functions take 2-D float arrays of the same shape with intensities in [0, 1]
(``data_range=1``); give ``data_range`` for other units. The reference (HR) comes
first, as in :mod:`skimage.metrics`.

Everywhere a ``mask`` may be given (a boolean or label array of the image's shape,
nonzero = inside) the metric is computed on part of the image only:

* :func:`mse` and :func:`psnr` use exactly the pixels inside the mask: a change
  outside it does not change the value.
* :func:`ssim` is the mean of scikit-image's SSIM map (7×7 uniform window) over the
  mask *dilated* by ``dilation`` pixels (a square grown by default 3 pixels, half the
  window), so that the edges of a defect — where its structure is — count fully, and
  every window that sees a defect pixel counts as defect. Each SSIM map value
  depends on its 7×7 neighbourhood, so pixels up to ``dilation + 3`` pixels outside
  the mask influence the masked SSIM; anything farther away does not. Pixels within 3
  pixels of the image border are left out, as in scikit-image's mean SSIM, so an
  all-true mask gives exactly the whole-image SSIM.

The *defect fidelity* of SR on simulated data (:func:`region_metrics`) is these
metrics inside the defect masks and on the background, reported separately: do
defects survive super-resolution as well as the rest of the image?

PSNR of identical images (MSE 0) is ``inf``; reports write it as ``null``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import ndimage

#: Side of scikit-image's default SSIM window (uniform filter), in pixels.
SSIM_WINDOW = 7
#: Default dilation (pixels) of a mask before averaging the SSIM map inside it.
SSIM_MASK_DILATION = SSIM_WINDOW // 2


def _pair(reference: np.ndarray, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ref = np.asarray(reference, dtype=np.float64)
    img = np.asarray(image, dtype=np.float64)
    if ref.ndim != 2 or ref.shape != img.shape:
        raise ValueError(f"metrics compare two 2-D images of one shape, not {ref.shape} and "
                         f"{img.shape}")
    return ref, img


def _region(mask: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray | None:
    if mask is None:
        return None
    region = np.asarray(mask) != 0
    if region.shape != shape:
        raise ValueError(f"the mask has shape {region.shape}, the images {shape}")
    return region


def mse(reference: np.ndarray, image: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean squared error, over the pixels inside ``mask`` when given (``nan`` if empty)."""
    ref, img = _pair(reference, image)
    region = _region(mask, ref.shape)
    diff = (ref - img) ** 2
    if region is not None:
        if not region.any():
            return float("nan")
        diff = diff[region]
    return float(diff.mean())


def psnr_from_mse(error: float, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB for a mean squared error: 10·log10(range² / MSE).

    ``inf`` for an MSE of 0, ``nan`` for ``nan``.
    """
    if math.isnan(error):
        return float("nan")
    if error == 0:
        return float("inf")
    return 10.0 * math.log10(data_range ** 2 / error)


PSNR_CEILING_DB = 60.0
"""Where a mean over images caps each image's PSNR: an image reproduced to within
8-bit quantization (59 dB) counts as reproduced. Without it one flat validation crop,
which bicubic gives back exactly (``inf``) and a network to 80 dB, decides the mean
and with it the verdict and the best checkpoint."""


def mean_psnr(values: Sequence[float]) -> float:
    """The mean of per-image PSNRs, each capped at :data:`PSNR_CEILING_DB`."""
    return float(np.mean(np.minimum(np.asarray(values, np.float64), PSNR_CEILING_DB)))


def psnr(reference: np.ndarray, image: np.ndarray, data_range: float = 1.0,
         mask: np.ndarray | None = None) -> float:
    """Peak signal-to-noise ratio in dB (``inf`` for identical images).

    Inside ``mask`` it is computed from the MSE over the masked pixels only.
    """
    return psnr_from_mse(mse(reference, image, mask), data_range)


def ssim_map(reference: np.ndarray, image: np.ndarray, data_range: float = 1.0) -> np.ndarray:
    """scikit-image's structural-similarity map (7×7 uniform window), one value per pixel."""
    from skimage.metrics import structural_similarity

    ref, img = _pair(reference, image)
    _, full = structural_similarity(ref, img, data_range=data_range, full=True)
    return full


def _valid_ssim_pixels(shape: tuple[int, ...]) -> np.ndarray:
    """Pixels whose SSIM window lies inside the image (those scikit-image averages)."""
    pad = (SSIM_WINDOW - 1) // 2
    valid = np.zeros(shape, dtype=bool)
    valid[pad:shape[0] - pad, pad:shape[1] - pad] = True
    return valid


def ssim_region(mask: np.ndarray, dilation: int = SSIM_MASK_DILATION) -> np.ndarray:
    """The pixels over which the SSIM map is averaged for ``mask``: dilated, border removed."""
    region = np.asarray(mask) != 0
    if dilation > 0 and region.any():
        square = np.ones((3, 3), dtype=bool)  # grow by whole windows' reach (Chebyshev)
        region = ndimage.binary_dilation(region, structure=square, iterations=int(dilation))
    return region & _valid_ssim_pixels(region.shape)


def ssim(reference: np.ndarray, image: np.ndarray, data_range: float = 1.0,
         mask: np.ndarray | None = None, dilation: int = SSIM_MASK_DILATION) -> float:
    """Structural similarity (1 for identical images).

    Without ``mask``: scikit-image's mean SSIM. With ``mask``: the mean of the SSIM map
    over :func:`ssim_region` (``nan`` when that region is empty); see the module text.
    """
    ref, img = _pair(reference, image)
    if min(ref.shape) < SSIM_WINDOW:
        raise ValueError(f"SSIM needs images of at least {SSIM_WINDOW}×{SSIM_WINDOW} pixels, "
                         f"not {ref.shape}")
    full = ssim_map(ref, img, data_range)
    region = _valid_ssim_pixels(ref.shape) if mask is None else ssim_region(
        _region(mask, ref.shape), dilation)
    if not region.any():
        return float("nan")
    return float(full[region].mean())


def region_metrics(reference: np.ndarray, image: np.ndarray, mask: np.ndarray | None = None,
                   data_range: float = 1.0) -> dict[str, float | None]:
    """PSNR, SSIM and MSE of ``image`` against ``reference``; with a defect ``mask`` also
    inside the defects (``defect_*``) and on the background (``background_*``).

    The background is the complement of the mask for MSE/PSNR; for SSIM it is the
    pixels outside the *dilated* mask, whose 7×7 windows do not touch a defect, so a
    change of the defects does not change the background SSIM.
    ``defect_*`` values are ``None`` when the mask is empty (no defect in this image).
    """
    ref, img = _pair(reference, image)
    out: dict[str, float | None] = {
        "psnr": psnr(ref, img, data_range),
        "ssim": ssim(ref, img, data_range),
        "mse": mse(ref, img),
    }
    if mask is None:
        return out
    region = _region(mask, ref.shape)
    full = ssim_map(ref, img, data_range)
    defect_ssim_px = ssim_region(region)
    background_ssim_px = ~ssim_region(region, SSIM_MASK_DILATION) & _valid_ssim_pixels(ref.shape)
    for name, pixels, ssim_px in (("defect", region, defect_ssim_px),
                                  ("background", ~region, background_ssim_px)):
        if not pixels.any():
            out.update({f"{name}_psnr": None, f"{name}_ssim": None, f"{name}_mse": None})
            continue
        error = mse(ref, img, pixels)
        out[f"{name}_psnr"] = psnr_from_mse(error, data_range)
        out[f"{name}_ssim"] = float(full[ssim_px].mean()) if ssim_px.any() else None
        out[f"{name}_mse"] = error
    return out
