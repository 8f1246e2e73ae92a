"""Learning-rate schedules as pure functions of training progress.

The engine sets each optimiser's learning rate from :func:`learning_rate` before
every step. Because the rate depends only on (epoch, step) and the config — never on
hidden scheduler state — a resumed run continues exactly the same schedule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from semsr_core.train.config import ScheduleConfig


@dataclass(frozen=True)
class Progress:
    """Where training stands, for a schedule.

    ``epoch``/``step`` count from the start of the run (or of the phase, for
    ``per_phase`` schedules); ``total_steps`` is the length of that span.
    """

    epoch: int
    step: int
    total_steps: int


def learning_rate(base_lr: float, schedule: ScheduleConfig, progress: Progress) -> float:
    kind = schedule.type
    if kind == "constant":
        return base_lr
    if kind == "step":
        return base_lr * schedule.gamma ** (progress.epoch // schedule.every_epochs)
    if kind == "multistep":
        passed = sum(1 for m in schedule.milestones if progress.epoch >= m)
        return base_lr * schedule.gamma ** passed
    frac = min(progress.step / max(progress.total_steps, 1), 1.0)
    if kind == "cosine":
        return _cos_interp(base_lr, schedule.eta_min, frac)
    if kind == "onecycle":
        # As torch.optim.lr_scheduler.OneCycleLR (cosine, div_factor 25, final 1e4).
        peak = schedule.max_lr if schedule.max_lr is not None else base_lr
        start, end = peak / 25.0, peak / 25.0 / 1e4
        up_end = max(schedule.pct_start * progress.total_steps - 1, 1e-9)
        last = max(progress.total_steps - 1, up_end + 1e-9)
        if progress.step <= up_end:
            return _cos_interp(start, peak, progress.step / up_end)
        return _cos_interp(peak, end, min((progress.step - up_end) / (last - up_end), 1.0))
    raise ValueError(f"unknown schedule type {kind!r}")  # the config validator prevents this


def _cos_interp(a: float, b: float, t: float) -> float:
    return b + (a - b) * 0.5 * (1 + math.cos(math.pi * t))


def early_stop_factor(epoch: int, early_stop_epochs: int | None) -> float:
    """N1's discriminator early stop ([S0] §1.2): its rate falls linearly to zero
    over ``early_stop_epochs`` epochs, much faster than the generator's."""
    if early_stop_epochs is None:
        return 1.0
    return max(0.0, 1.0 - epoch / early_stop_epochs)
