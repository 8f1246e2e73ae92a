"""The WGAN-GP critic for EM super-resolution ([S3] §4.1.2, table 1).

[S3] describes a VGG-like stack of 3×3 convolutions with stride 2 and increasing
filters, InstanceNorm after each convolution, LeakyReLU, a last convolution with one
filter, and a spatial mean instead of dense layers; table 1 gives 1.6 M parameters.
semsr's reading is SRGAN's discriminator without its stride-1 intermediate layers:
conv3×3 s1 (64), then conv3×3 s2 with 64, 128, 256, 512 filters, then conv3×3 (1);
1,593,409 parameters for one input channel.
"""

from __future__ import annotations

import torch
from torch import nn

from semsr_core.archs.arguments import require_at_least


class WGANCritic(nn.Module):
    """Critic returning one unbounded score per image, shape (N, 1).

    Args:
        in_channels: channels of the HR / SR image.
        features: filters of the first two convolutions (64); the stride-2 stack then
            doubles them 3 times.
        stages: number of stride-2 convolutions (4).
    """

    def __init__(self, in_channels: int = 1, features: int = 64, stages: int = 4):
        super().__init__()
        for key, value in (("in_channels", in_channels), ("features", features),
                           ("stages", stages)):
            require_at_least("wgan_critic", key, value, 1)
        widths = [features] + [features * 2**i for i in range(stages)]
        strides = [1] + [2] * stages
        layers: list[nn.Module] = []
        source = in_channels
        for width, stride in zip(widths, strides, strict=True):
            layers += [
                nn.Conv2d(source, width, 3, stride, 1),
                nn.InstanceNorm2d(width, affine=True),
                nn.LeakyReLU(0.2, True),
            ]
            source = width
        layers.append(nn.Conv2d(source, 1, 3, 1, 1))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x).mean(dim=(2, 3))
