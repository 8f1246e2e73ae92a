"""RRDBNet: public ESRGAN layout (community weights load), scales, Real-ESRGAN unshuffle."""

from __future__ import annotations

import pytest
import torch

from semsr_core import archs
from semsr_core.errors import ConfigError


def _count(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def test_esrgan_x4_rgb_has_the_published_parameter_count():
    net = archs.build(
        "rrdbnet", in_channels=3, out_channels=3, scale=4, blocks=23, features=64, growth=32
    )
    assert _count(net) == 16_697_987


def test_state_dict_keys_follow_the_public_esrgan_layout():
    keys = set(archs.build("rrdbnet", blocks=2, features=8, growth=4, scale=4).state_dict())
    expected = {"conv_first.weight", "conv_body.weight", "conv_up1.weight", "conv_up2.weight",
                "conv_hr.weight", "conv_last.weight"}
    expected |= {
        f"body.{i}.rdb{r}.conv{c}.{p}"
        for i in range(2) for r in (1, 2, 3) for c in range(1, 6) for p in ("weight", "bias")
    }
    assert expected <= keys
    assert not any(k.startswith("conv_up3") for k in keys)


def test_x8_adds_a_third_upsampling_conv():
    keys = archs.build("rrdbnet", blocks=1, features=8, growth=4, scale=8).state_dict()
    assert "conv_up3.weight" in keys


@pytest.mark.parametrize("scale", [1, 2, 4, 8])
def test_output_is_scale_times_the_input(scale):
    net = archs.build("rrdbnet", blocks=1, features=8, growth=4, scale=scale)
    out = net(torch.rand(2, 1, 6, 5))
    assert out.shape == (2, 1, 6 * scale, 5 * scale)


def test_real_esrgan_x2_unshuffles_then_upsamples_twice():
    net = archs.build(
        "rrdbnet", in_channels=3, out_channels=3, scale=2, unshuffle=2,
        blocks=1, features=8, growth=4,
    )
    assert net.conv_first.in_channels == 12
    assert hasattr(net, "conv_up2") and not hasattr(net, "conv_up3")
    # odd sides are padded for the unshuffle and cropped back
    assert net(torch.rand(1, 3, 7, 9)).shape == (1, 3, 14, 18)


def test_real_esrgan_x2_weights_load_by_key():
    """A state dict saved by the Real-ESRGAN ×2 layout loads into the unshuffle=2 net."""
    config = dict(in_channels=3, out_channels=3, scale=2, unshuffle=2, blocks=2, features=8,
                  growth=4)
    donor = archs.build("rrdbnet", **config).state_dict()
    net = archs.build("rrdbnet", **config)
    result = net.load_state_dict(donor, strict=True)
    assert not result.missing_keys and not result.unexpected_keys


def test_scale_one_keeps_the_size_for_image_to_image_use():
    net = archs.build("rrdbnet", scale=1, blocks=1, features=8, growth=4)
    assert not hasattr(net, "conv_up1")
    assert net(torch.rand(1, 1, 10, 12)).shape == (1, 1, 10, 12)


def test_unsupported_scale_names_the_key():
    with pytest.raises(ConfigError, match="'scale'"):
        archs.build("rrdbnet", scale=3)


def test_dense_blocks_start_near_identity():
    """ESRGAN's ×0.1 initialisation: a fresh dense block barely changes its input."""
    torch.manual_seed(0)
    net = archs.build("rrdbnet", blocks=1, features=32, growth=16)
    feat = torch.randn(1, 32, 16, 16)
    with torch.no_grad():
        change = (net.body[0].rdb1(feat) - feat).abs().mean() / feat.abs().mean()
    assert change < 0.05  # kaiming init without the ×0.1 gives about 0.26
