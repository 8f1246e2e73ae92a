"""Learning-rate schedules follow the sources and are pure functions of progress."""

from __future__ import annotations

import pytest
import torch

from semsr_core.train.config import ScheduleConfig
from semsr_core.train.schedules import Progress, early_stop_factor, learning_rate


def test_step_decay_085_every_10_epochs_as_en1():
    s = ScheduleConfig(type="step", every_epochs=10, gamma=0.85)
    assert learning_rate(2e-4, s, Progress(9, 0, 1)) == pytest.approx(2e-4)
    assert learning_rate(2e-4, s, Progress(10, 0, 1)) == pytest.approx(2e-4 * 0.85)
    assert learning_rate(2e-4, s, Progress(25, 0, 1)) == pytest.approx(2e-4 * 0.85 ** 2)


@pytest.mark.parametrize("kind", ["onecycle", "cosine"])
def test_step_schedules_equal_torch_schedulers(kind):
    total = 50
    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)
    if kind == "onecycle":
        ref = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-3, total_steps=total)
    else:
        ref = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total)
    cfg = ScheduleConfig(type=kind)
    for step in range(total):
        ours = learning_rate(1e-3, cfg, Progress(0, step, total))
        assert ours == pytest.approx(opt.param_groups[0]["lr"], rel=1e-9)
        opt.step()
        ref.step()


def test_multistep_and_n1_early_stop():
    s = ScheduleConfig(type="multistep", milestones=[5, 8], gamma=0.1)
    assert [learning_rate(1.0, s, Progress(e, 0, 1)) for e in (4, 5, 8)] == pytest.approx(
        [1.0, 0.1, 0.01])
    assert early_stop_factor(0, 5) == 1.0
    assert early_stop_factor(5, 5) == 0.0 and early_stop_factor(7, 5) == 0.0
    assert early_stop_factor(100, None) == 1.0
