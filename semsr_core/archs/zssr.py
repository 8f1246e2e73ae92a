"""ZSSR, the zero-shot per-image network ([S1] §3.1).

The input is bicubic-upsampled to the output size inside the network; a plain stack
of 3×3 convolutions with ReLU predicts the residual that is added to it. ZSSR trains
one such small network per image at inference time.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from semsr_core.archs.arguments import require_at_least
from semsr_core.errors import ConfigError


class ZSSRNet(nn.Module):
    """Bicubic upsampling plus a learned residual: depth × [conv3×3, ReLU], conv3×3.

    Args:
        in_channels: channels of the LR input (1 for grayscale).
        out_channels: channels of the output; must equal ``in_channels`` because the
            upsampled input is added to the residual.
        scale: magnification, any whole number ≥ 1 (the upsampling is bicubic).
        features: channels of the hidden convolutions (ZSSR: 64).
        depth: number of hidden conv + ReLU layers (ZSSR: 8); one more conv maps
            back to ``out_channels``.
    """

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 1,
        scale: int = 4,
        features: int = 64,
        depth: int = 8,
    ):
        super().__init__()
        for key, value in (
            ("in_channels", in_channels),
            ("scale", scale),
            ("features", features),
            ("depth", depth),
        ):
            require_at_least("zssr", key, value, 1)
        if out_channels != in_channels:
            raise ConfigError(
                f"zssr: 'out_channels' = {out_channels} differs from 'in_channels' = "
                f"{in_channels}",
                hint="ZSSR adds the upsampled input to its output; use the same number.",
            )
        self.scale = scale
        layers: list[nn.Module] = [nn.Conv2d(in_channels, features, 3, 1, 1), nn.ReLU(True)]
        for _ in range(depth - 1):
            layers += [nn.Conv2d(features, features, 3, 1, 1), nn.ReLU(True)]
        layers.append(nn.Conv2d(features, out_channels, 3, 1, 1))
        self.residual = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.scale > 1:
            x = F.interpolate(x, scale_factor=self.scale, mode="bicubic", align_corners=False)
        return x + self.residual(x)
