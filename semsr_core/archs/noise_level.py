"""How noisy an image is: a robust estimate of its noise σ.

The one owner of the estimate. The measurement-consistency guard uses it on a slice
(:func:`semsr_core.infer.consistency.noise_sigma`), a noise-gated adversarial term on
each training sample, and a network with a noise-level input
(:class:`semsr_core.archs.rrdbnet.RRDBNet` ``noise_input``) on what it is given — the
same numbers in training and at inference, with no label needed.

Two estimates, each blind where the other sees, and the smaller is taken:

- :func:`haar_sigma`, from the image's flattest parts. The diagonal Haar detail of each
  2×2 cell is mostly noise; structure adds to it only along edges and in texture. Its
  median absolute value over 0.6745 (Donoho) is taken per ``block``×``block`` group of
  cells, and the noise is the lower quartile of those: a clean image with flat parts
  reads near zero, a noisy one reads its noise. An image that is texture everywhere — a
  lattice, a grating — has no flat part and reads its texture as noise.
- :func:`pca_sigma`, from the image's patches (Chen, Zhu & Heng, ICCV 2015): the
  covariance of its 7×7 patches has the noise variance in every direction, structure
  only in some. The largest set of smallest eigenvalues whose mean is at most its median
  holds noise alone; that mean is σ². A lattice lies in a few directions and reads
  near zero; a natural image spreads structure over all of them and reads high, which is
  where the Haar estimate is right.

Both read spatially correlated noise (blurred after it was added, line offsets) low.
Quantiles interpolate linearly, as numpy's do.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

MAD_TO_SIGMA = 0.6745
PATCH = 7
"""Side of the patches of :func:`pca_sigma`."""
MAX_PATCHES = 16384
"""At most this many patches enter the covariance (a regular grid of them)."""
MIN_PATCHES = 4 * PATCH * PATCH
"""Fewer patches than this give no covariance worth reading: :func:`pca_sigma` is inf."""


def _quantile(values: torch.Tensor, q: float) -> torch.Tensor:
    """The ``q`` quantile along the last dimension (numpy's linear interpolation), by
    sorting: unlike ``torch.quantile`` it has no size limit."""
    ordered = values.sort(dim=-1).values
    position = q * (ordered.shape[-1] - 1)
    low = int(position)
    high = min(low + 1, ordered.shape[-1] - 1)
    return ordered[..., low] + (ordered[..., high] - ordered[..., low]) * (position - low)


def noise_sigma(image: torch.Tensor, block: int = 8) -> torch.Tensor:
    """σ of the noise of each image in ``image`` (…, H, W): a tensor of shape (…), the
    smaller of :func:`haar_sigma` and :func:`pca_sigma`."""
    return torch.minimum(haar_sigma(image, block), pca_sigma(image).to(image.dtype))


def haar_sigma(image: torch.Tensor, block: int = 8) -> torch.Tensor:
    """σ from the flattest parts' diagonal Haar detail, per image of ``image`` (…, H, W)."""
    h, w = (image.shape[-2] // 2) * 2, (image.shape[-1] // 2) * 2
    lead = image.shape[:-2]
    if h < 2 or w < 2:
        return image.new_zeros(lead)
    x = image[..., :h, :w]
    detail = (x[..., 0::2, 0::2] - x[..., 0::2, 1::2] - x[..., 1::2, 0::2]
              + x[..., 1::2, 1::2]).abs() / 2.0
    bh, bw = detail.shape[-2] // block, detail.shape[-1] // block
    if bh * bw < 4:
        return _quantile(detail.reshape(*lead, -1), 0.5) / MAD_TO_SIGMA
    cells = detail[..., : bh * block, : bw * block].reshape(*lead, bh, block, bw, block)
    cells = cells.movedim(-3, -2).reshape(*lead, bh * bw, block * block)
    local = _quantile(cells, 0.5) / MAD_TO_SIGMA
    return _quantile(local, 0.25)


def pca_sigma(image: torch.Tensor) -> torch.Tensor:
    """σ from the smallest eigenvalues of the covariance of each image's 7×7 patches
    (…, H, W → …), computed in float64 (on the CPU for a device without it); inf for an
    image with fewer than :data:`MIN_PATCHES` patches or a value that is not finite
    (NaN, inf: the smaller estimate is then the Haar one)."""
    lead, (h, w) = image.shape[:-2], image.shape[-2:]
    count = max(h - PATCH + 1, 0) * max(w - PATCH + 1, 0)
    if count < MIN_PATCHES:
        return torch.full(lead, math.inf, dtype=torch.float64, device=image.device)
    stride = max(1, math.ceil(math.sqrt(count / MAX_PATCHES)))
    flat = image.detach().reshape(-1, 1, h, w)
    if flat.device.type == "mps":  # no float64 there
        flat = flat.cpu()
    cols = F.unfold(flat.to(torch.float64), PATCH, stride=stride)  # (N, 49, patches)
    cols = cols - cols.mean(dim=-1, keepdim=True)
    covariance = cols @ cols.transpose(1, 2) / cols.shape[-1]
    finite = covariance.isfinite().all(dim=-1).all(dim=-1)
    eye = torch.eye(covariance.shape[-1], dtype=covariance.dtype, device=covariance.device)
    covariance = torch.where(finite[:, None, None], covariance, eye)  # eigh would fail
    values = torch.linalg.eigvalsh(covariance).clamp_min(0.0)  # ascending
    n = values.shape[-1]
    m = torch.arange(1, n + 1, device=values.device)  # the m smallest, m = 1 … n
    means = values.cumsum(dim=-1) / m
    medians = (values[:, (m - 1) // 2] + values[:, m // 2]) / 2  # numpy's median
    ok = means <= medians * (1 + 1e-9) + 1e-18  # always true for m = 1
    largest = n - 1 - ok.flip(-1).long().argmax(dim=-1)
    sigma = means.gather(-1, largest[:, None])[:, 0].sqrt()
    sigma = torch.where(finite, sigma, torch.full_like(sigma, math.inf))
    return sigma.reshape(lead).to(image.device)
