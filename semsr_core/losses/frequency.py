"""Frequency-separation losses ([S0] App. B, after Fritsche et al. 2019).

The low-pass filter W is a k×k moving average (k = 5 in App. B.2, 9 in App. B.3)
with reflect padding, and the high-pass filter is H(I) = I − W(I). The content loss
matches only the low frequencies of output and target; the texture and colour
losses are relativistic average GANs whose discriminators see only H(·) or W(·) of
their images (each with its own discriminator).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from semsr_core.errors import ConfigError
from semsr_core.losses.adversarial import RelativisticAverageGAN
from semsr_core.losses.roles import Loss, LossRole


def _check_kernel(kernel_size: int) -> None:
    if not isinstance(kernel_size, int) or kernel_size < 1 or kernel_size % 2 == 0:
        raise ConfigError(
            f"kernel_size must be an odd positive integer (5 or 9 in [S0]), got {kernel_size!r}"
        )


def lowpass(x: Tensor, kernel_size: int = 5) -> Tensor:
    """W(x): k×k moving average of each channel of an N×C×H×W batch, same size out.

    Borders are reflect-padded, so a constant image stays constant.
    """
    _check_kernel(kernel_size)
    pad = kernel_size // 2
    if pad == 0:
        return x
    if x.shape[-1] <= pad or x.shape[-2] <= pad:
        raise ConfigError(
            f"kernel_size {kernel_size} is too large for images of {x.shape[-2]}×{x.shape[-1]} "
            "pixels",
            hint="use a smaller kernel_size or larger patches",
        )
    padded = F.pad(x, (pad, pad, pad, pad), mode="reflect")
    return F.avg_pool2d(padded, kernel_size=kernel_size, stride=1)


def highpass(x: Tensor, kernel_size: int = 5) -> Tensor:
    """H(x) = x − W(x): what the moving average removes."""
    return x - lowpass(x, kernel_size)


class LowFrequencyContentLoss(Loss):
    """L_cont = L1(W(sr), W(hr)) ([S0] eq. B.2): matches only low frequencies."""

    role = LossRole.PIXEL

    def __init__(self, kernel_size: int = 5):
        super().__init__()
        _check_kernel(kernel_size)
        self.kernel_size = kernel_size

    def forward(self, sr: Tensor, hr: Tensor) -> Tensor:
        return F.l1_loss(lowpass(sr, self.kernel_size), lowpass(hr, self.kernel_size))


class TextureLoss(RelativisticAverageGAN):
    """RaGAN on high-pass images H(·) ([S0] B.2.2); give it its own discriminator."""

    def __init__(self, kernel_size: int = 5):
        super().__init__()
        _check_kernel(kernel_size)
        self.kernel_size = kernel_size

    def transform(self, image: Tensor) -> Tensor:
        return highpass(image, self.kernel_size)


class ColorLoss(RelativisticAverageGAN):
    """RaGAN on low-pass images W(·) ([S0] B.2.3); give it its own discriminator."""

    def __init__(self, kernel_size: int = 5):
        super().__init__()
        _check_kernel(kernel_size)
        self.kernel_size = kernel_size

    def transform(self, image: Tensor) -> Tensor:
        return lowpass(image, self.kernel_size)
