"""Pixel losses: mean absolute and mean squared error between output and target.

Both can weight the pixels of a defect mask more (``mask_weight``): a training sample's
``"mask"`` marks pasted synthetic defects and, where the data folder has ``masks/``,
the lab's (or the simulator's) annotated defects. With weight k, a masked pixel counts
k times a background pixel and the loss is the weighted mean, so its scale stays that
of the plain loss: rare structure is not averaged away by the background it sits in.
"""

from __future__ import annotations

import torch
from torch import Tensor

from semsr_core.errors import ConfigError
from semsr_core.losses.roles import Loss, LossRole


def check_same_shape(sr: Tensor, hr: Tensor, loss_name: str) -> None:
    """Refuse an output and a target of different shapes, naming the loss."""
    if sr.shape != hr.shape:
        raise ConfigError(
            f"{loss_name}: output has shape {tuple(sr.shape)} but the target has "
            f"{tuple(hr.shape)}",
            hint="check the scale factor and the HR patch size of the recipe",
        )


class _PixelLoss(Loss):
    role = LossRole.PIXEL
    uses_mask = True  # weighted by the mask when mask_weight > 1
    name = ""

    def __init__(self, mask_weight: float = 1.0):
        super().__init__()
        if not isinstance(mask_weight, int | float) or isinstance(mask_weight, bool) \
                or mask_weight < 1:
            raise ConfigError(f"{self.name}: mask_weight must be a number ≥ 1, not "
                              f"{mask_weight!r}",
                              hint="1 weights defect pixels like the background; 4 counts "
                                   "each defect pixel four times.")
        self.mask_weight = float(mask_weight)

    @property
    def weights_mask(self) -> bool:
        """Whether the sample's defect mask changes this loss (the engine passes it then)."""
        return self.mask_weight != 1.0

    def error(self, sr: Tensor, hr: Tensor) -> Tensor:
        raise NotImplementedError

    def forward(self, sr: Tensor, hr: Tensor, mask: Tensor | None = None) -> Tensor:
        check_same_shape(sr, hr, self.name)
        error = self.error(sr, hr)
        if mask is None or not self.weights_mask:
            return error.mean()
        if mask.shape != hr.shape:
            raise ConfigError(f"{self.name}: the defect mask has shape {tuple(mask.shape)} "
                              f"but the target has {tuple(hr.shape)}")
        weight = 1.0 + (self.mask_weight - 1.0) * mask.to(error.dtype)
        return (weight * error).sum() / weight.sum()


class L1Loss(_PixelLoss):
    """Mean absolute error, ``mean |sr − hr|``; with a mask and ``mask_weight`` k the
    weighted mean ``Σ w·|sr − hr| / Σ w``, w = 1 + (k − 1)·mask."""

    name = "l1"

    def error(self, sr: Tensor, hr: Tensor) -> Tensor:
        return torch.abs(sr - hr)


class L2Loss(_PixelLoss):
    """Mean squared error, ``mean (sr − hr)²``; weighted by the mask as :class:`L1Loss`."""

    name = "l2"

    def error(self, sr: Tensor, hr: Tensor) -> Tensor:
        return (sr - hr) ** 2
