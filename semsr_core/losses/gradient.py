"""Gradient loss: L1 between Sobel gradient magnitudes of output and target.

It rewards edges in the right places and of the right strength while ignoring a
constant offset of intensity (SEM brightness drifts between acquisitions).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from semsr_core.losses.pixel import check_same_shape
from semsr_core.losses.roles import Loss, LossRole

_SOBEL_X = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])


def sobel_magnitude(x: Tensor, eps: float = 1e-12) -> Tensor:
    """Sobel gradient magnitude of each channel of an N×C×H×W batch (same size out).

    Borders are replicate-padded. ``eps`` inside the square root keeps the gradient
    finite where the image is flat.
    """
    channels = x.shape[1]
    kx = _SOBEL_X.to(device=x.device, dtype=x.dtype)
    kernels = torch.stack([kx, kx.t()]).unsqueeze(1).repeat(channels, 1, 1, 1)
    padded = F.pad(x, (1, 1, 1, 1), mode="replicate")
    grads = F.conv2d(padded, kernels, groups=channels)  # N×2C×H×W: (gx, gy) per channel
    gx, gy = grads[:, 0::2], grads[:, 1::2]
    return torch.sqrt(gx * gx + gy * gy + eps)


class GradientLoss(Loss):
    """``mean |sobel(sr) − sobel(hr)|``: zero for identical images and constant offsets."""

    role = LossRole.PIXEL

    def forward(self, sr: Tensor, hr: Tensor) -> Tensor:
        check_same_shape(sr, hr, "gradient")
        return F.l1_loss(sobel_magnitude(sr), sobel_magnitude(hr))
