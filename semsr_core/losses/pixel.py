"""Pixel losses: mean absolute and mean squared error between output and target."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from semsr_core.errors import ConfigError


def check_same_shape(sr: Tensor, hr: Tensor, loss_name: str) -> None:
    """Refuse an output and a target of different shapes, naming the loss."""
    if sr.shape != hr.shape:
        raise ConfigError(
            f"{loss_name}: output has shape {tuple(sr.shape)} but the target has "
            f"{tuple(hr.shape)}",
            hint="check the scale factor and the HR patch size of the recipe",
        )


class L1Loss(nn.Module):
    """Mean absolute error, ``mean |sr − hr|`` over all elements."""

    def forward(self, sr: Tensor, hr: Tensor) -> Tensor:
        check_same_shape(sr, hr, "l1")
        return F.l1_loss(sr, hr)


class L2Loss(nn.Module):
    """Mean squared error, ``mean (sr − hr)²`` over all elements."""

    def forward(self, sr: Tensor, hr: Tensor) -> Tensor:
        check_same_shape(sr, hr, "l2")
        return F.mse_loss(sr, hr)
