"""Small, real networks for inference tests (fixed weights, a few hundred parameters).

Imported by name (``from tiny_nets import ...``): tests/ has several conftest.py files,
so ``from conftest import`` would pick whichever was imported first.
"""

from __future__ import annotations

import torch
from torch import nn

from semsr_core.models import Model, ModelCard


class TinySR(nn.Module):
    """conv3×3 → ReLU → conv3×3 → PixelShuffle: a ×scale network with a 2-pixel receptive radius."""

    def __init__(self, scale: int = 2, features: int = 8, seed: int = 0):
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.head = nn.Conv2d(1, features, 3, padding=1)
        self.tail = nn.Conv2d(features, scale * scale, 3, padding=1)
        self.shuffle = nn.PixelShuffle(scale)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=generator) * 0.3)
            self.tail.bias.fill_(0.0)
            # keep the output close to the input brightness: add the input's mean path
            self.tail.weight[:, :, 1, 1] += 0.05

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        up = nn.functional.interpolate(x, scale_factor=self.shuffle.upscale_factor,
                                       mode="nearest")
        return up + 0.1 * self.shuffle(self.tail(torch.relu(self.head(x))))


def tiny_model(scale: int = 2, **card: object) -> Model:
    """A Model whose generator is :class:`TinySR` (architecture name outside the registry)."""
    return Model(TinySR(scale), ModelCard(arch="tiny_sr", scale=scale, name="tiny", **card))


def varied_rrdbnet(seed: int, name: str, scale: int = 2) -> Model:
    """A small registered RRDBNet (bicubic skip) whose weights are perturbed from their
    start, so that two seeds give visibly different outputs (its last layer starts at
    zero: an untrained one is bicubic)."""
    torch.manual_seed(seed)
    model = Model.create("rrdbnet", scale=scale, blocks=1, features=8, growth=4, name=name,
                         skip="bicubic")
    with torch.no_grad():
        for p in model.generator.parameters():
            p.add_(0.05 * torch.randn(p.shape))
    return model
