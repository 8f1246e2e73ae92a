"""Generators: output sizes at every supported scale, channel options, published sizes."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from semsr_core import archs
from semsr_core.errors import ConfigError

UPSAMPLING = ["srresnet", "srresnet_in", "rrdbnet", "wgan_resnet", "rir", "zssr"]
PIX2PIX = ["unet", "unet64", "unet128", "unet256", "resnet_gen"]


def _count(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


@pytest.mark.parametrize("scale", [2, 4, 8])
@pytest.mark.parametrize("name", UPSAMPLING)
def test_upsampling_generators_multiply_the_size_by_scale(name, scale, small_config):
    net = archs.build(name, scale=scale, **small_config(name))
    out = net(torch.rand(2, 1, 6, 5))
    assert out.shape == (2, 1, 6 * scale, 5 * scale)


@pytest.mark.parametrize("name", PIX2PIX)
def test_pix2pix_generators_keep_the_upscaled_size(name, small_config):
    side = 32 if name == "unet" else archs.spec(name).min_size  # small unet: 5 levels
    net = archs.build(name, **small_config(name))
    out = net(torch.rand(2, 1, side, 2 * side))
    assert out.shape == (2, 1, side, 2 * side)


@pytest.mark.parametrize("name", PIX2PIX)
def test_pix2pix_generators_take_no_scale(name):
    """Their input is upscaled before them; a scale key would wrongly suggest otherwise."""
    with pytest.raises(ConfigError, match="'scale'"):
        archs.build(name, scale=4)


CHANNELS = [
    (name, cin, cout)
    for name in UPSAMPLING + PIX2PIX
    for cin, cout in ((3, 3), (1, 3), (2, 1))
    if name != "zssr" or cin == cout  # zssr adds its input to the output (test below)
]


@pytest.mark.parametrize(("name", "cin", "cout"), CHANNELS)
def test_input_and_output_channels_are_configurable(name, cin, cout, small_config):
    side = 32 if name == "unet" else max(archs.spec(name).size_multiple, 8)
    net = archs.build(name, in_channels=cin, out_channels=cout, **small_config(name))
    assert net(torch.rand(1, cin, side, side)).shape[1] == cout


def test_zssr_refuses_different_input_and_output_channels():
    with pytest.raises(ConfigError, match="'out_channels'"):
        archs.build("zssr", in_channels=1, out_channels=3)


def test_zssr_output_is_the_bicubic_upsampling_plus_a_residual():
    net = archs.build("zssr", scale=2, features=8, depth=2)
    torch.nn.init.zeros_(net.residual[-1].weight)
    torch.nn.init.zeros_(net.residual[-1].bias)
    x = torch.rand(1, 1, 9, 7)
    expected = F.interpolate(x, scale_factor=2, mode="bicubic", align_corners=False)
    torch.testing.assert_close(net(x), expected)


def test_zssr_accepts_a_non_power_of_two_scale():
    assert archs.build("zssr", scale=3, features=4, depth=1)(torch.rand(1, 1, 5, 5)).shape == (
        1, 1, 15, 15)


@pytest.mark.parametrize("name", ["srresnet", "srresnet_in", "wgan_resnet", "rir"])
def test_pixel_upsamplers_refuse_other_scales(name):
    with pytest.raises(ConfigError, match="'scale'"):
        archs.build(name, scale=3)


def test_wgan_resnet_has_the_parameter_count_of_s3_table_1():
    """[S3] table 1: 15 residual blocks, 1.4 M generator parameters at ×4."""
    n = _count(archs.build("wgan_resnet", scale=4, blocks=15))
    assert abs(n - 1.4e6) / 1.4e6 < 0.03


def test_srresnet_defaults_are_srgan_sized():
    """SRGAN's generator (16 blocks, 64 features) has about 1.5 M parameters."""
    n = _count(archs.build("srresnet"))
    assert 1.45e6 < n < 1.6e6


@pytest.mark.parametrize(
    ("name", "millions"),
    [("unet256", 54.414), ("unet128", 41.829), ("resnet_gen", 11.378)],
)
def test_pix2pix_generators_match_pix2pix_parameter_counts(name, millions):
    """pix2pix prints these sizes for its RGB unet_256, unet_128 and resnet_9blocks."""
    n = _count(archs.build(name, in_channels=3, out_channels=3))
    assert round(n / 1e6, 3) == millions


def test_unet_drops_out_in_the_three_innermost_up_blocks():
    net = archs.build("unet128", features=2)
    with_dropout = [any(isinstance(m, torch.nn.Dropout) for m in up.modules()) for up in net.ups]
    assert with_dropout == [True, True, True, False, False, False, False]


def test_unet_depth_follows_its_name():
    for name, depth in (("unet64", 6), ("unet128", 7), ("unet256", 8)):
        assert len(archs.build(name, features=2).downs) == depth
