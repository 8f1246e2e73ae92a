"""The fully convolutional DCGAN discriminator of EN1 ([S0] §3.2.2).

For 128×128 input, exactly as listed in [S0]: conv4×4 s2 p1 (no bias) 1→64,
LeakyReLU 0.2; 4 × [conv4×4 s2 p1 (no bias), BatchNorm, LeakyReLU 0.2] with
64→128→256→512→1024; conv4×4 s2 p1 (no bias) 1024→1 — a 2×2 map of logits.
"""

from __future__ import annotations

import torch
from torch import nn

from semsr_core.archs.arguments import require_at_least, require_choice


class DCGANDiscriminator(nn.Module):
    """DCGAN discriminator ([S0] after Jolicœur-Martineau 2018), logits without sigmoid.

    The depth follows ``input_size`` as in Jolicœur-Martineau's DCGAN code: stride-2
    blocks are added until the map is 4×4 at ``input_size``, and the last stride-2
    conv makes it 2×2 — at 128 this is exactly the [S0] network (11.2 M parameters).
    Blocks beyond the fourth keep 16·features (1024) channels instead of doubling
    again: for 256-px HR tiles (EN1's 64-px LR tiles ×4) that is 27.9 M parameters
    rather than 44.7 M. Any input side of at least ``input_size / 2`` works; the
    logit map is then about side·2/input_size wide.

    Args:
        in_channels: channels of the HR / SR image.
        features: channels of the first convolution (64); each block doubles them.
        input_size: the patch side the depth is designed for, a power of two ≥ 16
            (128 gives the [S0] network).
    """

    def __init__(self, in_channels: int = 1, features: int = 64, input_size: int = 128):
        super().__init__()
        require_at_least("dcgan_d", "in_channels", in_channels, 1)
        require_at_least("dcgan_d", "features", features, 1)
        require_choice("dcgan_d", "input_size", input_size, [2**k for k in range(4, 12)])
        blocks = input_size.bit_length() - 1 - 3  # 128 → 4
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, features, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, True),
        ]
        width = features
        for _ in range(blocks):
            wider = min(2 * width, 16 * features)
            layers += [
                nn.Conv2d(width, wider, 4, 2, 1, bias=False),
                nn.BatchNorm2d(wider),
                nn.LeakyReLU(0.2, True),
            ]
            width = wider
        layers.append(nn.Conv2d(width, 1, 4, 2, 1, bias=False))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)
