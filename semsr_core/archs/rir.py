"""Residual-in-residual SRGAN generator (RIR-GAN, [S4] §3.2.2).

The SRGAN frame of :mod:`semsr_core.archs.srresnet` whose body is R RIR blocks,
each K SRGAN residual blocks wrapped in one more skip connection.
"""

from __future__ import annotations

import torch
from torch import nn

from semsr_core.archs.srresnet import (
    ResidualBlock,
    SRResNetFrame,
    batch_norm,
    checked_steps,
    pixel_shuffle_upsampler,
)


class RIRBlock(nn.Module):
    """K residual blocks [conv, BN, PReLU, conv, BN, +skip] with a skip around them all."""

    def __init__(self, features: int, residual_blocks: int):
        super().__init__()
        self.blocks = nn.Sequential(
            *(ResidualBlock(features, batch_norm) for _ in range(residual_blocks))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.blocks(x)


class RIRNet(SRResNetFrame):
    """SRGAN generator with a residual-in-residual body ([S4]: six RIR blocks of three).

    Args:
        in_channels: channels of the LR input (1 for grayscale).
        out_channels: channels of the SR output.
        scale: magnification, 2, 4 or 8 (SRGAN PixelShuffle upsampling).
        features: channels of the trunk.
        rir_blocks: number of RIR blocks R.
        residual_blocks: residual blocks K inside each RIR block.
    """

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 1,
        scale: int = 4,
        features: int = 64,
        rir_blocks: int = 6,
        residual_blocks: int = 3,
    ):
        steps = checked_steps(
            "rir", in_channels, out_channels, scale,
            features=features, rir_blocks=rir_blocks, residual_blocks=residual_blocks,
        )
        body = nn.Sequential(*(RIRBlock(features, residual_blocks) for _ in range(rir_blocks)))
        super().__init__(
            in_channels, out_channels, scale, steps, features, body, batch_norm,
            pixel_shuffle_upsampler,
        )
