"""pix2pix / CycleGAN ResNet generator ``resnet_gen`` ([S1] §3.2.1).

c7s1-64, two stride-2 downsamplings, 9 residual blocks, two stride-2 transposed
convolutions, c7s1-out, tanh; InstanceNorm and reflection padding throughout. Like
the U-Net, its input is the LR image already upscaled to the output size, whose
sides must be multiples of 4; images are in [-1, 1].
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from semsr_core.archs.arguments import require_at_least
from semsr_core.errors import ConfigError


def _norm(features: int) -> nn.Module:
    return nn.InstanceNorm2d(features)


class ReflectResidualBlock(nn.Module):
    """[reflect-pad, conv3×3, InstanceNorm, ReLU, reflect-pad, conv3×3, InstanceNorm] + x."""

    def __init__(self, features: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(features, features, 3),
            _norm(features),
            nn.ReLU(True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(features, features, 3),
            _norm(features),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResNetGenerator(nn.Module):
    """CycleGAN's ResNet generator (Johnson et al. layout, ``resnet_9blocks``).

    Args:
        in_channels: channels of the upscaled input.
        out_channels: channels of the output.
        features: channels after the first convolution (``ngf``, 64); the residual
            blocks work at 4× that.
        blocks: residual blocks at the bottleneck (9).

    There is no ``scale`` argument: the network keeps the size; the upscaling of its
    input happens before it (see ``ArchSpec.input_at_output_size``).
    """

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 1,
        features: int = 64,
        blocks: int = 9,
    ):
        super().__init__()
        for key, value in (
            ("in_channels", in_channels),
            ("out_channels", out_channels),
            ("features", features),
        ):
            require_at_least("resnet_gen", key, value, 1)
        require_at_least("resnet_gen", "blocks", blocks, 0)
        f = features
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3), nn.Conv2d(in_channels, f, 7), _norm(f), nn.ReLU(True),
        ]
        for mult in (1, 2):
            layers += [nn.Conv2d(f * mult, f * mult * 2, 3, 2, 1), _norm(f * mult * 2),
                       nn.ReLU(True)]
        layers += [ReflectResidualBlock(4 * f) for _ in range(blocks)]
        for mult in (4, 2):
            layers += [
                nn.ConvTranspose2d(f * mult, f * mult // 2, 3, 2, 1, output_padding=1),
                _norm(f * mult // 2),
                nn.ReLU(True),
            ]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(f, out_channels, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

        self.encoder_length = 10 + blocks  # the head, two downsamplings and the blocks

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def encode(self, x: torch.Tensor, layers: Sequence[int]) -> list[torch.Tensor]:
        """Features after the given layers of the encoder, in the order asked.

        Layers are indices into ``self.model`` as in CUT ([S1] App. A; Park et al.
        2020): 0 is the reflection-padded input, 4 and 7 the stride-2 convolutions,
        10 … 9 + blocks the outputs of the residual blocks; CUT compares 0, 4, 8, 12,
        16 of the 9-block generator. The encoder is the part before the upsampling;
        asking for a layer past it is a ConfigError. The weights (and state-dict keys)
        are the generator's own.
        """
        wanted = [int(i) for i in layers]
        if not wanted or min(wanted) < 0 or max(wanted) >= self.encoder_length:
            raise ConfigError(
                f"resnet_gen: encoder layers {list(layers)} are outside 0…"
                f"{self.encoder_length - 1} (the layers before the upsampling of this "
                f"{self.encoder_length - 10}-block generator)",
                hint="choose layers below the first upsampling, or more generator.blocks")
        found: dict[int, torch.Tensor] = {}
        for index, layer in enumerate(self.model[: max(wanted) + 1]):
            x = layer(x)
            if index in wanted:
                found[index] = x
        return [found[i] for i in wanted]
