"""Optimisers of a run: built from a recipe's ``[optimizer]`` table, learning rate set by
the schedules. Used by the engine and by the contrastive terms' own networks."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from semsr_core.train.config import OptimizerConfig


def make_optimizer(params: Sequence[nn.Parameter], cfg: OptimizerConfig) -> torch.optim.Optimizer:
    """The optimiser ``cfg`` names (adam, sgd or rmsprop) over ``params``."""
    if cfg.type == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
    if cfg.type == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum,
                               weight_decay=cfg.weight_decay)
    return torch.optim.RMSprop(params, lr=cfg.lr, momentum=cfg.momentum,
                               weight_decay=cfg.weight_decay)


def set_lr(opt: torch.optim.Optimizer, lr: float) -> None:
    """Give every parameter group of ``opt`` the learning rate ``lr``."""
    for group in opt.param_groups:
        group["lr"] = lr
