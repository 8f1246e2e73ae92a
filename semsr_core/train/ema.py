"""Exponential moving average of generator weights (used for validation and export)."""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """Keeps ``shadow = decay·shadow + (1−decay)·weights`` after every generator step.

    Buffers (e.g. BatchNorm statistics) are copied, not averaged. ``decay = 0``
    makes the shadow a plain copy of the latest weights.
    """

    def __init__(self, model: nn.Module, decay: float):
        self.decay = decay
        self.shadow = copy.deepcopy(_unwrap(model)).eval()
        for p in self.shadow.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        source = _unwrap(model)
        for s, p in zip(self.shadow.parameters(), source.parameters(), strict=True):
            s.lerp_(p.detach().to(s.dtype), 1.0 - self.decay)
        for s, b in zip(self.shadow.buffers(), source.buffers(), strict=True):
            s.copy_(b)

    def state_dict(self) -> dict:
        return self.shadow.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.shadow.load_state_dict(state)


def _unwrap(model: nn.Module) -> nn.Module:
    """The plain module inside a DistributedDataParallel wrapper."""
    return getattr(model, "module", model)
