"""pix2pix U-Net generators ``unet64``, ``unet128``, ``unet256`` ([S1] §3.2.2).

The input is the LR image already upscaled to the output size (bicubic or ZSSR);
the network maps it to the HR look at the same size. Each name fixes the number of
stride-2 downsamplings so that the bottleneck is 1×1 at the crop size the name
gives: 6 for 64-px, 7 for 128-px (pix2pix ``unet_128``) and 8 for 256-px crops
(pix2pix ``unet_256``). Input sides must be multiples of 2**downsamplings.
"""

from __future__ import annotations

import torch
from torch import nn

from semsr_core.archs.arguments import require_at_least, require_probability

DROPOUT_BLOCKS = 3
"""Up blocks, counted from the bottleneck, that apply dropout (pix2pix paper's decoder)."""


class UNet(nn.Module):
    """pix2pix U-Net: conv4×4 s2 downs, transposed-conv4×4 s2 ups, skip concatenation.

    Down block d: LeakyReLU 0.2 (not on the first), conv4×4 stride 2, BatchNorm (not on
    the first or the innermost). Up block d: ReLU, transposed conv4×4 stride 2,
    BatchNorm and, in the three innermost up blocks, dropout; the outermost ends in
    tanh, so images are in [-1, 1]. Channels are features·(1, 2, 4, 8, 8, …).
    The three dropout blocks follow the pix2pix paper ("dropout in the first three
    decoder layers"); the pix2pix code skips the innermost one instead.

    Args:
        in_channels: channels of the upscaled input.
        out_channels: channels of the output.
        downsamplings: number of stride-2 levels (at least 5).
        features: channels of the outermost level (pix2pix ``ngf``, 64).
        dropout: dropout probability in the innermost up blocks (0 disables).

    There is no ``scale`` argument: the network keeps the size; the upscaling of its
    input happens before it (see ``ArchSpec.input_at_output_size``).
    """

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 1,
        downsamplings: int = 7,
        features: int = 64,
        dropout: float = 0.5,
    ):
        super().__init__()
        for key, value in (
            ("in_channels", in_channels),
            ("out_channels", out_channels),
            ("features", features),
        ):
            require_at_least("unet", key, value, 1)
        require_at_least("unet", "downsamplings", downsamplings, 5)
        require_probability("unet", "dropout", dropout)
        depth = downsamplings
        widths = [features * min(2**d, 8) for d in range(depth)]

        self.downs = nn.ModuleList()
        for d in range(depth):
            outermost, innermost = d == 0, d == depth - 1
            layers: list[nn.Module] = [] if outermost else [nn.LeakyReLU(0.2, True)]
            source = in_channels if outermost else widths[d - 1]
            # pix2pix: no bias in any down conv (the BatchNorms carry the shifts)
            layers.append(nn.Conv2d(source, widths[d], 4, 2, 1, bias=False))
            if not (outermost or innermost):
                layers.append(nn.BatchNorm2d(widths[d]))
            self.downs.append(nn.Sequential(*layers))

        self.ups = nn.ModuleList()  # innermost first
        for d in reversed(range(depth)):
            outermost, innermost = d == 0, d == depth - 1
            source = widths[d] if innermost else 2 * widths[d]
            target = out_channels if outermost else widths[d - 1]
            layers = [nn.ReLU(True), nn.ConvTranspose2d(source, target, 4, 2, 1, bias=outermost)]
            if outermost:
                layers.append(nn.Tanh())
            else:
                layers.append(nn.BatchNorm2d(target))
                if depth - 1 - d < DROPOUT_BLOCKS and dropout > 0:
                    layers.append(nn.Dropout(dropout))
            self.ups.append(nn.Sequential(*layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for down in self.downs:
            x = down(x)
            skips.append(x)
        x = skips.pop()
        for up in self.ups:
            x = up(x)
            if skips:
                x = torch.cat((skips.pop(), x), 1)
        return x


class UNet64(UNet):
    """U-Net with 6 downsamplings, for 64-px crops (see :class:`UNet` for the arguments)."""

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 1,
        features: int = 64,
        dropout: float = 0.5,
    ):
        super().__init__(in_channels, out_channels, 6, features, dropout)


class UNet128(UNet):
    """U-Net with 7 downsamplings (pix2pix ``unet_128``; see :class:`UNet`)."""

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 1,
        features: int = 64,
        dropout: float = 0.5,
    ):
        super().__init__(in_channels, out_channels, 7, features, dropout)


class UNet256(UNet):
    """U-Net with 8 downsamplings (pix2pix ``unet_256``; see :class:`UNet`)."""

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 1,
        features: int = 64,
        dropout: float = 0.5,
    ):
        super().__init__(in_channels, out_channels, 8, features, dropout)
