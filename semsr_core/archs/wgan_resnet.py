"""The WGAN-GP super-resolution generator for EM images ([S3] §4.1.1, table 1).

conv5×5(64) + PReLU; N residual blocks [conv3×3, PReLU, conv3×3, + skip] with a long
skip over all of them; log2(s) × [conv3×3(256), PixelShuffle(2), PReLU];
conv5×5 to the output channels; tanh. With N = 15 and s = 4 it has about 1.4 M
parameters, the figure of [S3] table 1. Images are in [-1, 1].
"""

from __future__ import annotations

import torch
from torch import nn

from semsr_core.archs.arguments import doublings, require_at_least
from semsr_core.archs.initialisation import scaled_kaiming_init
from semsr_core.archs.srresnet import pixel_shuffle_upsampler


class PReLUResidualBlock(nn.Module):
    """conv3×3, PReLU, conv3×3, plus the input (no normalisation)."""

    def __init__(self, features: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(features, features, 3, 1, 1),
            nn.PReLU(features),
            nn.Conv2d(features, features, 3, 1, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class WGANResNet(nn.Module):
    """Residual PReLU generator of [S3] with PixelShuffle upsampling and a tanh head.

    Args:
        in_channels: channels of the LR input (1 for grayscale).
        out_channels: channels of the SR output.
        scale: magnification, 2, 4 or 8.
        features: channels of the trunk ([S3]: 64; upsampling convs use 4×).
        blocks: number of residual blocks N ([S3]: 15).
    """

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 1,
        scale: int = 4,
        features: int = 64,
        blocks: int = 15,
    ):
        super().__init__()
        steps = doublings("wgan_resnet", "scale", scale, (2, 4, 8))
        for key, value in (
            ("in_channels", in_channels),
            ("out_channels", out_channels),
            ("features", features),
        ):
            require_at_least("wgan_resnet", key, value, 1)
        require_at_least("wgan_resnet", "blocks", blocks, 0)
        self.scale = scale
        self.head = nn.Sequential(nn.Conv2d(in_channels, features, 5, 1, 2), nn.PReLU(features))
        self.body = nn.Sequential(*(PReLUResidualBlock(features) for _ in range(blocks)))
        self.upsample = pixel_shuffle_upsampler(features, steps)
        self.tail = nn.Conv2d(features, out_channels, 5, 1, 2)
        # Without normalisation, 15 residual blocks at full init scale blow up the
        # trunk's activations; start the residual branches small instead.
        scaled_kaiming_init(self.body, 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.head(x)
        feat = feat + self.body(feat)
        return torch.tanh(self.tail(self.upsample(feat)))
