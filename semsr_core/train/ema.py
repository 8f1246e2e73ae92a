"""Exponential moving average of generator weights (used for validation and export)."""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """Keeps ``shadow = d·shadow + (1−d)·weights`` after every generator step.

    The decay warms up, ``d = min(decay, (1 + step) / (10 + step))``, so that in a
    short run the shadow follows the trained weights instead of staying near the
    random initialisation (0.999⁵⁰⁰ still weighs the start by 0.6). Buffers (e.g.
    BatchNorm statistics) are copied, not averaged. ``decay = 0`` makes the shadow a
    plain copy of the latest weights.
    """

    def __init__(self, model: nn.Module, decay: float):
        self.decay = decay
        self.shadow = copy.deepcopy(_unwrap(model)).eval()
        for p in self.shadow.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        """Fold in the weights after generator update number ``step`` (0-based)."""
        decay = min(self.decay, (1.0 + step) / (10.0 + step))
        source = _unwrap(model)
        for s, p in zip(self.shadow.parameters(), source.parameters(), strict=True):
            s.lerp_(p.detach().to(s.dtype), 1.0 - decay)
        for s, b in zip(self.shadow.buffers(), source.buffers(), strict=True):
            s.copy_(b)

    def state_dict(self) -> dict:
        return self.shadow.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.shadow.load_state_dict(state)


def _unwrap(model: nn.Module) -> nn.Module:
    """The plain module inside a DistributedDataParallel wrapper."""
    return getattr(model, "module", model)
