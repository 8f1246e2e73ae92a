"""PatchGAN discriminators: each output logit judges one square patch of the input.

- ``patchgan34`` — EN1's defect stylizer ([S0] §3.3), receptive field 34 px.
- ``patchgan70`` — pix2pix's 70×70 PatchGAN (``n_layers=3``, [S1] §2.2).
- ``patchgan9``  — 9×9 receptive field for the frequency-separation losses
  ([S0] App. B), a semsr design (the source gives only the field size).

All return an N×1×h×w map of logits (no sigmoid). Receptive fields are checked in
the tests by back-propagating from one output element.
"""

from __future__ import annotations

import torch
from torch import nn

from semsr_core.archs.arguments import require_at_least


def _check(arch: str, **positive: int) -> None:
    for key, value in positive.items():
        require_at_least(arch, key, value, 1)


class PatchGAN34(nn.Module):
    """[S0] §3.3, receptive field 34 px; all convolutions without bias, as listed there.

    conv4×4 s2 p1 (1→f), LeakyReLU 0.2; conv4×4 s2 p1 (f→2f), BN, LeakyReLU;
    conv4×4 s1 p1 (2f→4f), BN, LeakyReLU; conv4×4 s1 p1 (4f→1).
    For a side-H input the map is H/4 − 2 wide.

    Args:
        in_channels: channels of the image judged (1; 2 for an unusual conditional use).
        features: channels f of the first convolution (64).
    """

    def __init__(self, in_channels: int = 1, features: int = 64):
        super().__init__()
        _check("patchgan34", in_channels=in_channels, features=features)
        f = features
        self.model = nn.Sequential(
            nn.Conv2d(in_channels, f, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(f, 2 * f, 4, 2, 1, bias=False),
            nn.BatchNorm2d(2 * f),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(2 * f, 4 * f, 4, 1, 1, bias=False),
            nn.BatchNorm2d(4 * f),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(4 * f, 1, 4, 1, 1, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class PatchGAN70(nn.Module):
    """pix2pix's ``NLayerDiscriminator`` with ``n_layers=3``: receptive field 70 px.

    conv4×4 s2 (f) + LeakyReLU 0.2; conv4×4 s2 (2f), conv4×4 s2 (4f), conv4×4 s1 (8f),
    each + BN + LeakyReLU; conv4×4 s1 → 1. A 256-px input gives a 30×30 map.

    It is conditional in pix2pix: it judges the network input and the output (or the
    real HR) concatenated along channels, so ``in_channels`` is the sum of the two
    (2 for grayscale, the default). For unconditional use (``fsesim_unpaired``) set
    it to the image's channels.

    Args:
        in_channels: channels of what is judged (condition + target for cGAN).
        features: channels f of the first convolution (``ndf``, 64).
    """

    def __init__(self, in_channels: int = 2, features: int = 64):
        super().__init__()
        _check("patchgan70", in_channels=in_channels, features=features)
        f = features
        layers: list[nn.Module] = [nn.Conv2d(in_channels, f, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        for source, target, stride in ((f, 2 * f, 2), (2 * f, 4 * f, 2), (4 * f, 8 * f, 1)):
            layers += [
                nn.Conv2d(source, target, 4, stride, 1, bias=False),
                nn.BatchNorm2d(target),
                nn.LeakyReLU(0.2, True),
            ]
        layers.append(nn.Conv2d(8 * f, 1, 4, 1, 1))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class PatchGAN9(nn.Module):
    """Receptive field 9 px, for the texture and colour losses of [S0] App. B.

    semsr's design (the source names only the field): conv3×3 s1 (f) + LeakyReLU 0.2;
    conv3×3 s2 (2f) + BN + LeakyReLU; conv1×1 (4f) + BN + LeakyReLU; conv3×3 s1 → 1.
    Field, counted from the output back: 3 (last conv), still 3 through the 1×1,
    (3 − 1)·2 + 3 = 7 through the stride-2 conv, 7 + 2 = 9 through the first conv.
    All convs are padded, so a side-H input gives a ⌈H/2⌉ map.

    Args:
        in_channels: channels of the image judged.
        features: channels f of the first convolution (64).
    """

    def __init__(self, in_channels: int = 1, features: int = 64):
        super().__init__()
        _check("patchgan9", in_channels=in_channels, features=features)
        f = features
        self.model = nn.Sequential(
            nn.Conv2d(in_channels, f, 3, 1, 1),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(f, 2 * f, 3, 2, 1, bias=False),
            nn.BatchNorm2d(2 * f),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(2 * f, 4 * f, 1, bias=False),
            nn.BatchNorm2d(4 * f),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(4 * f, 1, 3, 1, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)
