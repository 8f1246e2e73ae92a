"""SRGAN's discriminator ``srgan_d`` ([S2]; N1 of [S0] with 32 features) and the
two-conv ``srgan_d_reduced`` of N1-reduced ([S0] App. A).

Both end in dense layers, so they are built for one patch size (``input_size``, the
HR patch side) and refuse any other. They return one logit per image, shape (N, 1).
"""

from __future__ import annotations

import torch
from torch import nn

from semsr_core.archs.arguments import require_at_least
from semsr_core.errors import ConfigError


def _conv_bn_lrelu(source: int, target: int, stride: int) -> list[nn.Module]:
    return [
        nn.Conv2d(source, target, 3, stride, 1, bias=False),
        nn.BatchNorm2d(target),
        nn.LeakyReLU(0.2, True),
    ]


def _check_sizes(arch: str, input_size: int, multiple: int, **positive: int) -> None:
    for key, value in positive.items():
        require_at_least(arch, key, value, 1)
    if input_size < multiple or input_size % multiple:
        raise ConfigError(
            f"{arch}: 'input_size' = {input_size} is not a multiple of {multiple}",
            hint=f"Set it to the HR patch side, a multiple of {multiple} (e.g. 96 or 128).",
        )


class _DenseHeadDiscriminator(nn.Module):
    """Convolutional features, flatten, dense, LeakyReLU, dense → (N, 1) logits."""

    arch = ""

    def __init__(self, features: nn.Module, flat: int, dense_features: int, input_size: int):
        super().__init__()
        self.input_size = input_size
        self.features = features
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(flat, dense_features),
            nn.LeakyReLU(0.2, True),
            nn.Linear(dense_features, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[-2:]) != (self.input_size, self.input_size):
            height, width = x.shape[-2:]
            raise ConfigError(
                f"{self.arch} was built for {self.input_size}×{self.input_size} patches "
                f"('input_size') but got {height}×{width}",
                hint="Set the discriminator's 'input_size' to the HR patch size.",
            )
        return self.classifier(self.features(x))


class SRGANDiscriminator(_DenseHeadDiscriminator):
    """SRGAN's VGG-style discriminator.

    conv3×3(f) + LeakyReLU 0.2; 7 × [conv3×3, BatchNorm, LeakyReLU] with channels
    f, 2f, 2f, 4f, 4f, 8f, 8f and strides 2, 1, 2, 1, 2, 1, 2; flatten; dense;
    LeakyReLU; dense 1 (logit, no sigmoid).

    Args:
        in_channels: channels of the HR / SR image.
        features: channels f of the first layer (SRGAN 64; N1 of [S0] 32).
        input_size: side of the square HR patches it judges (multiple of 16).
        dense_features: width of the hidden dense layer (SRGAN 1024).
    """

    arch = "srgan_d"

    def __init__(
        self,
        in_channels: int = 1,
        features: int = 64,
        input_size: int = 96,
        dense_features: int = 1024,
    ):
        _check_sizes(self.arch, input_size, 16, in_channels=in_channels, features=features,
                     dense_features=dense_features)
        f = features
        layers: list[nn.Module] = [nn.Conv2d(in_channels, f, 3, 1, 1), nn.LeakyReLU(0.2, True)]
        plan = [(f, 2), (2 * f, 1), (2 * f, 2), (4 * f, 1), (4 * f, 2), (8 * f, 1), (8 * f, 2)]
        source = f
        for target, stride in plan:
            layers += _conv_bn_lrelu(source, target, stride)
            source = target
        flat = 8 * f * (input_size // 16) ** 2
        super().__init__(nn.Sequential(*layers), flat, dense_features, input_size)


class SRGANDiscriminatorReduced(_DenseHeadDiscriminator):
    """N1-reduced's discriminator: two convolutions starting at 16 channels, dense head.

    [S0] App. A says only "a reduced SRGAN discriminator with only 2 convolutional
    layers and starting with 16 channels". semsr's reading: conv3×3 stride 2 (f) +
    LeakyReLU; conv3×3 stride 2 (2f) + BatchNorm + LeakyReLU; flatten; dense
    (``dense_features``, 100 as in ESRGAN's discriminator head); LeakyReLU; dense 1.
    Both convolutions stride so that the dense head stays small (about 1.85 M
    parameters at 96 px) — a reduced network should not outgrow the full one.

    Args:
        in_channels: channels of the HR / SR image.
        features: channels f of the first convolution (16).
        input_size: side of the square HR patches it judges (multiple of 4).
        dense_features: width of the hidden dense layer.
    """

    arch = "srgan_d_reduced"

    def __init__(
        self,
        in_channels: int = 1,
        features: int = 16,
        input_size: int = 96,
        dense_features: int = 100,
    ):
        _check_sizes(self.arch, input_size, 4, in_channels=in_channels, features=features,
                     dense_features=dense_features)
        f = features
        layers = [
            nn.Conv2d(in_channels, f, 3, 2, 1),
            nn.LeakyReLU(0.2, True),
            *_conv_bn_lrelu(f, 2 * f, 2),
        ]
        flat = 2 * f * (input_size // 4) ** 2
        super().__init__(nn.Sequential(*layers), flat, dense_features, input_size)
