"""SRResNet, the SRGAN generator ([S2]), and N2's instance-norm variant ([S0] §1.3).

Both share one frame — 9×9 head, a residual body, conv + norm with a long skip,
×2 upsampling steps, 9×9 tail — which :mod:`semsr_core.archs.rir` reuses with a
residual-in-residual body.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from semsr_core.archs.arguments import doublings, require_at_least

Norm = Callable[[int], nn.Module]


def batch_norm(features: int) -> nn.Module:
    """BatchNorm2d, the normalisation of SRGAN."""
    return nn.BatchNorm2d(features)


def instance_norm(features: int) -> nn.Module:
    """InstanceNorm2d with learnable scale and shift (N2 of [S0])."""
    return nn.InstanceNorm2d(features, affine=True)


class ResidualBlock(nn.Module):
    """SRGAN residual block: conv3×3, norm, PReLU, conv3×3, norm, plus the input."""

    def __init__(self, features: int, norm: Norm = batch_norm):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(features, features, 3, 1, 1),
            norm(features),
            nn.PReLU(features),
            nn.Conv2d(features, features, 3, 1, 1),
            norm(features),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def pixel_shuffle_upsampler(features: int, steps: int) -> nn.Sequential:
    """``steps`` × [conv3×3 to 4·features, PixelShuffle(2), PReLU] (SRGAN)."""
    layers: list[nn.Module] = []
    for _ in range(steps):
        layers += [
            nn.Conv2d(features, 4 * features, 3, 1, 1),
            nn.PixelShuffle(2),
            nn.PReLU(features),
        ]
    return nn.Sequential(*layers)


def bilinear_upsampler(features: int, steps: int) -> nn.Sequential:
    """``steps`` × [bilinear ×2, conv3×3, PReLU] (N2: cheaper than PixelShuffle)."""
    layers: list[nn.Module] = []
    for _ in range(steps):
        layers += [
            nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
            nn.Conv2d(features, features, 3, 1, 1),
            nn.PReLU(features),
        ]
    return nn.Sequential(*layers)


class SRResNetFrame(nn.Module):
    """The SRGAN generator frame around any residual ``body`` of ``features`` channels.

    head conv9×9 + PReLU → body → conv3×3 + norm → + head (long skip) →
    ``upsampler`` (``upsampling_steps`` × 2) → conv9×9 to ``out_channels``. No output
    activation: images in [0, 1].
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        scale: int,
        upsampling_steps: int,
        features: int,
        body: nn.Module,
        norm: Norm,
        upsampler: Callable[[int, int], nn.Module],
    ):
        super().__init__()
        self.scale = scale
        self.head = nn.Sequential(nn.Conv2d(in_channels, features, 9, 1, 4), nn.PReLU(features))
        self.body = body
        self.body_end = nn.Sequential(nn.Conv2d(features, features, 3, 1, 1), norm(features))
        self.upsample = upsampler(features, upsampling_steps)
        self.tail = nn.Conv2d(features, out_channels, 9, 1, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.head(x)
        feat = feat + self.body_end(self.body(feat))
        return self.tail(self.upsample(feat))


def checked_steps(arch: str, in_channels: int, out_channels: int, scale: int, **sizes: int) -> int:
    """Validate the common arguments; return the number of ×2 upsampling steps."""
    steps = doublings(arch, "scale", scale, (2, 4, 8))
    require_at_least(arch, "in_channels", in_channels, 1)
    require_at_least(arch, "out_channels", out_channels, 1)
    for key, value in sizes.items():
        require_at_least(arch, key, value, 1)
    return steps


class SRResNet(SRResNetFrame):
    """SRGAN's generator ([S2]): B residual blocks with BatchNorm and PReLU, PixelShuffle.

    Args:
        in_channels: channels of the LR input (1 for grayscale).
        out_channels: channels of the SR output.
        scale: magnification, 2, 4 or 8.
        features: channels of the trunk (SRGAN: 64; the upsampling convs use 4×).
        blocks: number of residual blocks (SRGAN: 16).
    """

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 1,
        scale: int = 4,
        features: int = 64,
        blocks: int = 16,
    ):
        steps = checked_steps(
            "srresnet", in_channels, out_channels, scale, features=features, blocks=blocks
        )
        body = nn.Sequential(*(ResidualBlock(features, batch_norm) for _ in range(blocks)))
        super().__init__(
            in_channels, out_channels, scale, steps, features, body, batch_norm,
            pixel_shuffle_upsampler,
        )


class SRResNetIN(SRResNetFrame):
    """N2's generator ([S0] §1.3): SRResNet with InstanceNorm and bilinear upsampling.

    Args:
        in_channels: channels of the LR input (1 for grayscale).
        out_channels: channels of the SR output.
        scale: magnification, 2, 4 or 8.
        features: channels of the trunk (N2: 16).
        blocks: number of residual blocks (N2: 8).
    """

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 1,
        scale: int = 4,
        features: int = 16,
        blocks: int = 8,
    ):
        steps = checked_steps(
            "srresnet_in", in_channels, out_channels, scale, features=features, blocks=blocks
        )
        body = nn.Sequential(*(ResidualBlock(features, instance_norm) for _ in range(blocks)))
        super().__init__(
            in_channels, out_channels, scale, steps, features, body, instance_norm,
            bilinear_upsampler,
        )
