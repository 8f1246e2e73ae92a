"""MASA-SR: shapes, size, and the match & extraction module finding the right places."""

from __future__ import annotations

import pytest
import torch

from semsr_core import archs
from semsr_core.archs.masa import MASANet
from semsr_core.errors import ConfigError, InputError


def _conv(cin, cout, k=3):
    return cin * cout * k * k + cout


def _expected_parameters(c=1, f=32, enc=2, dec=1, fusion=(4, 3, 2)):
    res = 2 * _conv(f, f)
    encoder = _conv(c, f) + 2 * _conv(f, f) + 3 * enc * res
    decoder = _conv(f, f) + dec * res + 2 * (_conv(2 * f, f) + dec * res)
    sam = _conv(2 * f, f) + 2 * _conv(f, f)
    dram = 4 * _conv(f, f) + _conv(2 * f, f)
    fuse = 3 * sam + _conv(2 * f, f) + 2 * dram + sum(fusion) * res + _conv(f, c)
    return encoder + decoder + fuse


def test_masa_is_registered_as_a_reference_generator_of_the_expected_size():
    spec = archs.spec("masa")
    assert spec.kind == "generator" and spec.reference_input and not spec.input_at_output_size
    net = archs.build("masa")
    assert sum(p.numel() for p in net.parameters()) == _expected_parameters() == 638465
    big = archs.build("masa", features=64, encoder_blocks=4, decoder_blocks=2,
                      fusion_blocks=[12, 8, 4])  # [S1]'s network
    assert sum(p.numel() for p in big.parameters()) == _expected_parameters(
        f=64, enc=4, dec=2, fusion=(12, 8, 4))


@pytest.mark.parametrize("lr_shape, ref_shape", [((2, 1, 16, 16), (2, 1, 64, 64)),
                                                 ((1, 1, 13, 21), (1, 1, 50, 90)),
                                                 ((3, 1, 16, 24), (1, 1, 64, 64))])
def test_output_is_four_times_the_input_for_any_sizes(lr_shape, ref_shape):
    torch.manual_seed(0)
    net = MASANet(features=8, encoder_blocks=1, fusion_blocks=(1, 1, 1))
    out = net(torch.rand(lr_shape), torch.rand(ref_shape))
    assert out.shape == (lr_shape[0], 1, 4 * lr_shape[2], 4 * lr_shape[3])
    assert torch.isfinite(out).all()


def test_the_reference_changes_the_output_and_gradients_reach_the_encoder():
    torch.manual_seed(0)
    net = MASANet(features=8, encoder_blocks=1, fusion_blocks=(1, 1, 1))
    for sam in net.sam:  # away from the zero start, so γ and β depend on the reference
        torch.nn.init.normal_(sam.gamma.weight, std=0.1)
    lr = torch.rand(1, 1, 16, 16)
    a, b = net(lr, torch.rand(1, 1, 64, 64)), net(lr, torch.rand(1, 1, 64, 64))
    assert (a - b).abs().max() > 1e-4
    a.mean().backward()
    assert net.encoder.convs[0].weight.grad.abs().sum() > 0


def test_matching_finds_an_exact_crop_of_the_reference_features():
    torch.manual_seed(0)
    net = MASANet(features=4, encoder_blocks=1, fusion_blocks=(1, 1, 1))
    ref_features = torch.randn(1, 4, 24, 24)
    lr_features = ref_features[:, :, 5:21, 3:19].clone()  # 2×2 blocks of 8, shifted
    up2 = torch.randn(1, 4, 48, 48)  # the ×2 scale: the crop at twice the offsets
    warped = net.match(lr_features, ref_features, [ref_features, up2, torch.randn(1, 4, 96, 96)])
    assert [tuple(w.shape) for w in warped] == [(1, 4, 16, 16), (1, 4, 32, 32), (1, 4, 64, 64)]
    inner = (slice(None), slice(None), slice(2, -2), slice(2, -2))
    assert torch.allclose(warped[0][inner], lr_features[inner], atol=1e-5)
    assert torch.allclose(warped[1][:, :, 4:-4, 4:-4], up2[:, :, 14:38, 10:34], atol=1e-5)


def test_bad_settings_and_inputs_are_refused():
    with pytest.raises(ConfigError, match="scale"):
        MASANet(scale=2)
    with pytest.raises(ConfigError, match="fusion_blocks"):
        MASANet(fusion_blocks=[1, 2])
    net = MASANet(features=4, encoder_blocks=1, fusion_blocks=(1, 1, 1))
    with pytest.raises(InputError, match="reference"):
        net(torch.rand(1, 1, 16, 16), torch.rand(1, 1, 16, 16))
