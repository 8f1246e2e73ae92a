"""How noisy an image is: a robust estimate of its noise σ, from its flattest parts.

The one owner of the estimate. The measurement-consistency guard uses it on a slice
(:func:`semsr_core.infer.consistency.noise_sigma`), a noise-gated adversarial term on
each training sample, and a network with a noise-level input
(:class:`semsr_core.archs.rrdbnet.RRDBNet` ``noise_input``) on what it is given — the
same numbers in training and at inference, with no label needed.

The diagonal Haar detail of each 2×2 cell is mostly noise; structure adds to it only
along edges and in texture. Its median absolute value over 0.6745 (Donoho) is taken per
``block``×``block`` group of cells, and the noise is the lower quartile of those: a clean
image with texture reads near zero, a noisy one reads its noise. Quantiles interpolate
linearly, as numpy's do.
"""

from __future__ import annotations

import torch

MAD_TO_SIGMA = 0.6745


def _quantile(values: torch.Tensor, q: float) -> torch.Tensor:
    """The ``q`` quantile along the last dimension (numpy's linear interpolation), by
    sorting: unlike ``torch.quantile`` it has no size limit."""
    ordered = values.sort(dim=-1).values
    position = q * (ordered.shape[-1] - 1)
    low = int(position)
    high = min(low + 1, ordered.shape[-1] - 1)
    return ordered[..., low] + (ordered[..., high] - ordered[..., low]) * (position - low)


def noise_sigma(image: torch.Tensor, block: int = 8) -> torch.Tensor:
    """σ of the noise of each image in ``image`` (…, H, W): a tensor of shape (…)."""
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
