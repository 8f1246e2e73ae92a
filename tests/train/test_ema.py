"""The EMA generator that validation and export use follows the trained weights."""

from __future__ import annotations

import torch
from torch import nn

from semsr_core.train.ema import EMA


def net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))


def test_the_shadow_warms_up_then_averages_and_copies_buffers():
    model = net()
    ema = EMA(model, decay=0.999)
    start = ema.shadow[0].weight.clone()
    assert not any(p.requires_grad for p in ema.shadow.parameters())
    with torch.no_grad():
        model[0].weight.add_(1.0)
        model[1].running_mean.fill_(3.0)
    ema.update(model, step=0)  # warm-up decay (1 + 0) / (10 + 0) = 0.1
    torch.testing.assert_close(ema.shadow[0].weight, start + 0.9)
    torch.testing.assert_close(ema.shadow[1].running_mean, torch.full((2,), 3.0))
    ema.update(model, step=10_000)  # past the warm-up: the configured 0.999
    torch.testing.assert_close(ema.shadow[0].weight, start + 0.9 + 0.1 * 0.001)


def test_decay_zero_copies_the_latest_weights_and_state_round_trips():
    model = net()
    ema = EMA(model, decay=0.0)
    with torch.no_grad():
        model[0].weight.mul_(-2.0)
    ema.update(model, step=5)
    torch.testing.assert_close(ema.shadow[0].weight, model[0].weight)
    other = EMA(net(), decay=0.5)
    other.load_state_dict(ema.state_dict())
    torch.testing.assert_close(other.shadow[0].weight, model[0].weight)


def test_a_ddp_style_wrapper_is_unwrapped():
    model = net()
    wrapper = nn.Module()
    wrapper.module = model  # what DistributedDataParallel exposes
    ema = EMA(wrapper, decay=0.0)
    assert isinstance(ema.shadow, nn.Sequential)
    with torch.no_grad():
        model[0].bias.fill_(7.0)
    ema.update(wrapper, step=0)
    torch.testing.assert_close(ema.shadow[0].bias, torch.full((2,), 7.0))
