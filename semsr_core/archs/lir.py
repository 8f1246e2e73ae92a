"""LIR: disentangled encoders and domain generators for unsupervised restoration (``lir``).

After Du et al. 2020, "Learning Invariant Representation for Unsupervised Image
Restoration" ([S1] §2.2 eq. 2.4–2.17, §3.4). Domain X is the degraded look (here the
bicubic-upscaled LR), domain Y the clean look (HR); the two need not correspond.

- ``enc_x`` / ``enc_y``: content encoders E_X, E_Y, one per domain with their own
  weights ("the shared weight encoder is removed"): c7s1-f, two stride-2 4×4 convs
  (UNIT's layout, the authors' base), ``blocks`` residual blocks; codes of 4f channels
  at a quarter of the side. The codes are drawn to one distribution by the
  representation discriminator (in :mod:`semsr_core.losses.lir`), not by sharing.
- ``enc_n``: the degradation (noise) encoder E_X^N of domain X, the same layout ending
  in a 1×1 conv to ``noise_channels``: the mean μ of the code z^N ~ N(μ, I) (UNIT's
  and the authors' fixed-variance form, regularised by the KL term).
- ``gen_x``: G_X(z ⊕ z^N), content and degradation codes concatenated along channels
  (eq. 2.7), back to a degraded image; ``gen_y``: G_Y(z), a clean image. Each: a 1×1
  conv to 4f (G_X only), ``blocks`` residual blocks, two ×2 nearest upsamplings with a
  5×5 conv, c7s1-out, tanh. Images are in [−1, 1].

``forward(x)`` is the restoration G_Y(E_X(x)) (eq. 2.6), what inference and the
exported model run; the other parts are used by the LIR loss in training only.
Simplifications for a CPU, all sizes being arguments: InstanceNorm throughout (UNIT
uses LayerNorm in its decoders), a fixed-size degradation code of
``noise_channels`` = 8 channels, 4 residual blocks by default as the authors' config.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from semsr_core.archs.arguments import require_at_least
from semsr_core.archs.resnet_gen import ReflectResidualBlock


def _conv_block(source: int, target: int, kernel: int, stride: int = 1) -> list[nn.Module]:
    pad = (kernel - stride + 1) // 2 if stride > 1 else kernel // 2
    return [nn.ReflectionPad2d(pad), nn.Conv2d(source, target, kernel, stride),
            nn.InstanceNorm2d(target), nn.ReLU(True)]


class _Encoder(nn.Sequential):
    """c7s1-f, two stride-2 4×4 convs (f → 2f → 4f), ``blocks`` residual blocks, and a
    1×1 conv to ``out_channels`` when given (the degradation encoder's μ)."""

    def __init__(self, in_channels: int, features: int, blocks: int,
                 out_channels: int | None = None):
        f = features
        layers = _conv_block(in_channels, f, 7)
        layers += _conv_block(f, 2 * f, 4, 2) + _conv_block(2 * f, 4 * f, 4, 2)
        layers += [ReflectResidualBlock(4 * f) for _ in range(blocks)]
        if out_channels is not None:
            layers.append(nn.Conv2d(4 * f, out_channels, 1))
        super().__init__(*layers)


class _Decoder(nn.Sequential):
    """(1×1 conv to 4f), ``blocks`` residual blocks, two (×2 nearest, 5×5 conv) stages,
    c7s1-out, tanh."""

    def __init__(self, in_channels: int, features: int, blocks: int, out_channels: int):
        f = features
        layers: list[nn.Module] = []
        if in_channels != 4 * f:
            layers += [nn.Conv2d(in_channels, 4 * f, 1), nn.InstanceNorm2d(4 * f),
                       nn.ReLU(True)]
        layers += [ReflectResidualBlock(4 * f) for _ in range(blocks)]
        for mult in (4, 2):
            layers += [nn.Upsample(scale_factor=2, mode="nearest"),
                       *_conv_block(f * mult, f * mult // 2, 5)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(f, out_channels, 7), nn.Tanh()]
        super().__init__(*layers)


class LIRNet(nn.Module):
    """LIR's encoders E_X, E_Y, E_X^N and generators G_X, G_Y; ``forward`` restores.

    Args:
        in_channels: image channels (both domains).
        features: channels f after the first convolution (64, the authors'); codes
            have 4f channels at 1/4 of the side.
        blocks: residual blocks in each encoder and generator (4, the authors').
        noise_channels: channels of the degradation code z^N.

    The input (the LR image upscaled to the output size) must have sides that are
    multiples of 4.
    """

    def __init__(self, in_channels: int = 1, features: int = 64, blocks: int = 4,
                 noise_channels: int = 8):
        super().__init__()
        for key, value in (("in_channels", in_channels), ("features", features),
                           ("noise_channels", noise_channels)):
            require_at_least("lir", key, value, 1)
        require_at_least("lir", "blocks", blocks, 0)
        self.content_channels = 4 * features
        self.noise_channels = noise_channels
        self.enc_x = _Encoder(in_channels, features, blocks)
        self.enc_y = _Encoder(in_channels, features, blocks)
        self.enc_n = _Encoder(in_channels, features, blocks, noise_channels)
        self.gen_x = _Decoder(4 * features + noise_channels, features, blocks, in_channels)
        self.gen_y = _Decoder(4 * features, features, blocks, in_channels)

    def forward(self, x: Tensor) -> Tensor:
        """The restoration G_Y(E_X(x)) of a degraded-domain image."""
        return self.gen_y(self.enc_x(x))

    def degrade(self, content: Tensor, noise: Tensor) -> Tensor:
        """G_X(z ⊕ z^N): an image of the degraded domain from a content code and a
        degradation code."""
        return self.gen_x(torch.cat([content, noise], dim=1))
