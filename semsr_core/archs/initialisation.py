"""Weight initialisation shared by the architecture files."""

from __future__ import annotations

import torch
from torch import nn


@torch.no_grad()
def scaled_kaiming_init(modules: nn.Module | list[nn.Module], scale: float = 1.0) -> None:
    """Kaiming-normal weights multiplied by ``scale``, zero biases (BasicSR's
    ``default_init_weights``).

    A small ``scale`` (0.1 in ESRGAN) makes deep residual bodies start close to the
    identity, which keeps the first training steps stable.
    """
    if isinstance(modules, nn.Module):
        modules = [modules]
    for module in modules:
        for layer in module.modules():
            if isinstance(layer, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(layer.weight)
                layer.weight.mul_(scale)
                if layer.bias is not None:
                    layer.bias.zero_()
