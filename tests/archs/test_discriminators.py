"""Discriminators and critics: output shapes, receptive fields measured, sizes."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from semsr_core import archs
from semsr_core.errors import ConfigError


@pytest.mark.parametrize(
    ("name", "config", "side", "shape"),
    [
        ("srgan_d", {"input_size": 96}, 96, (2, 1)),
        ("srgan_d", {"input_size": 128}, 128, (2, 1)),
        ("srgan_d_reduced", {"input_size": 96}, 96, (2, 1)),
        ("dcgan_d", {}, 128, (2, 1, 2, 2)),
        ("dcgan_d", {"input_size": 64}, 64, (2, 1, 2, 2)),
        ("dcgan_d", {"input_size": 256}, 256, (2, 1, 2, 2)),
        ("patchgan34", {}, 64, (2, 1, 14, 14)),
        ("patchgan70", {"in_channels": 2}, 256, (2, 1, 30, 30)),
        ("patchgan9", {}, 64, (2, 1, 32, 32)),
        ("wgan_critic", {}, 128, (2, 1)),
        ("n2_d", {}, 64, (2, 1, 16, 16)),
    ],
)
def test_output_shape_is_as_documented(name, config, side, shape, small_config):
    net = archs.build(name, **{**small_config(name), **config})
    cin = config.get("in_channels", 1)
    assert net(torch.rand(2, cin, side, side)).shape == shape


@pytest.mark.parametrize("name", archs.names("discriminator"))
def test_in_channels_is_configurable(name, small_config):
    side = 64
    config = small_config(name)
    if name in ("srgan_d", "srgan_d_reduced"):
        config["input_size"] = side
    net = archs.build(name, in_channels=3, **config)
    assert net(torch.rand(2, 3, side, side)).shape[0] == 2


def test_patchgan70_is_conditional_by_default():
    """pix2pix's D sees the input and the output concatenated: 1 + 1 channels."""
    net = archs.build("patchgan70", features=4)
    net(torch.rand(1, 2, 64, 64))
    with pytest.raises(RuntimeError):
        net(torch.rand(1, 1, 64, 64))


def test_dcgan_d_at_128_is_the_s0_network_layer_for_layer():
    net = archs.build("dcgan_d")
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [
        (1, 64), (64, 128), (128, 256), (256, 512), (512, 1024), (1024, 1)]
    assert all(c.kernel_size == (4, 4) and c.stride == (2, 2) and c.padding == (1, 1)
               and c.bias is None for c in convs)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in net.modules()) == 4


def test_dcgan_d_for_larger_tiles_adds_blocks_without_passing_1024_channels():
    convs = [m for m in archs.build("dcgan_d", input_size=256).modules()
             if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 128, 256, 512, 1024, 1024, 1]


def test_patchgan34_is_the_s0_network_layer_for_layer():
    convs = [m for m in archs.build("patchgan34").modules() if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.stride[0]) for c in convs] == [
        (1, 64, 2), (64, 128, 2), (128, 256, 1), (256, 1, 1)]
    assert all(c.kernel_size == (4, 4) and c.bias is None for c in convs)


def test_srgan_d_refuses_a_patch_size_it_was_not_built_for():
    net = archs.build("srgan_d", features=4, input_size=96)
    with pytest.raises(ConfigError, match="'input_size'"):
        net(torch.rand(1, 1, 128, 128))


def test_srgan_d_input_size_must_fit_its_strides():
    with pytest.raises(ConfigError, match="'input_size'"):
        archs.build("srgan_d", input_size=100)


def test_srgan_d_reduced_is_smaller_than_srgan_d():
    def count(name):
        return sum(p.numel() for p in archs.build(name, input_size=96).parameters())

    assert count("srgan_d_reduced") < count("srgan_d")


def test_wgan_critic_has_the_parameter_count_of_s3_table_1():
    """[S3] table 1: 1.6 M critic parameters."""
    n = sum(p.numel() for p in archs.build("wgan_critic").parameters())
    assert abs(n - 1.6e6) / 1.6e6 < 0.03


def test_wgan_critic_score_is_unbounded_and_per_sample():
    net = archs.build("wgan_critic", features=4)
    torch.manual_seed(0)
    scores = net(torch.rand(3, 1, 32, 32) * 100)
    assert scores.shape == (3, 1)
    assert not any(isinstance(m, (nn.Sigmoid, nn.Tanh)) for m in net.modules())


def _measured_receptive_field(net: nn.Module, in_channels: int, side: int) -> tuple[int, int]:
    """Height and width of the input region that reaches one central output element.

    All weights are positive and BatchNorm is an identity in eval mode, so every path
    from an input pixel inside the field carries a positive gradient: no zero is
    accidental, and pixels outside the field get exactly zero.
    """
    net = net.double().eval()
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                module.weight.fill_(1.0 / module.weight[0].numel())
                if module.bias is not None:
                    module.bias.zero_()
            elif isinstance(module, nn.BatchNorm2d):
                module.reset_parameters()
    x = torch.ones(1, in_channels, side, side, dtype=torch.float64, requires_grad=True)
    out = net(x)
    out[0, 0, out.shape[2] // 2, out.shape[3] // 2].backward()
    reached = x.grad[0].abs().sum(0) > 0
    rows = reached.any(1).nonzero().flatten()
    cols = reached.any(0).nonzero().flatten()
    # the field must lie inside the input, or the measurement is clipped
    assert rows.min() > 0 and cols.min() > 0
    assert rows.max() < side - 1 and cols.max() < side - 1
    return int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)


@pytest.mark.parametrize(
    ("name", "field", "in_channels"),
    [("patchgan34", 34, 1), ("patchgan70", 70, 2), ("patchgan9", 9, 1), ("n2_d", 23, 1)],
)
def test_patch_receptive_field_is_measured_exactly(name, field, in_channels):
    net = archs.build(name, in_channels=in_channels, features=4)
    assert _measured_receptive_field(net, in_channels, 128) == (field, field)
