"""N2's fully convolutional critic ``n2_d`` ([S0] §1.3).

[S0] says only: "a fully convolutional network with expanding and shrinking feature
maps blocks. Both the blocks have 2 convolutional layers each." semsr's reading
(SPEC §15): the expanding block raises the channels with two stride-2 conv3×3
(in → f → 2f) so that the critic sees a 23-px neighbourhood; the shrinking block
lowers them with two stride-1 conv3×3 (2f → f → 1). LeakyReLU 0.2 between layers and
no normalisation, because N2 trains it with WGAN-GP, whose gradient penalty is
per-sample and is distorted by batch statistics.
"""

from __future__ import annotations

import torch
from torch import nn

from semsr_core.archs.arguments import require_at_least


class N2Discriminator(nn.Module):
    """Expanding then shrinking conv blocks; an N×1×⌈H/4⌉×⌈W/4⌉ map of scores.

    Args:
        in_channels: channels of the HR / SR image.
        features: channels f after the first convolution (64); the widest layer has 2f.
    """

    def __init__(self, in_channels: int = 1, features: int = 64):
        super().__init__()
        require_at_least("n2_d", "in_channels", in_channels, 1)
        require_at_least("n2_d", "features", features, 1)
        f = features
        self.expanding = nn.Sequential(
            nn.Conv2d(in_channels, f, 3, 2, 1),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(f, 2 * f, 3, 2, 1),
            nn.LeakyReLU(0.2, True),
        )
        self.shrinking = nn.Sequential(
            nn.Conv2d(2 * f, f, 3, 1, 1),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(f, 1, 3, 1, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shrinking(self.expanding(x))
