"""The fused CPU forward of RRDBNet (semsr_core.infer.fastpath) computes what the plain
module computes, for every RRDBNet shape semsr runs, and is used only where it was
checked; everything else runs the plain module. Speed: benchmarks/speed.py."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from semsr_core.archs.rrdbnet import RRDBNet
from semsr_core.infer import fastpath, network, super_resolve
from semsr_core.models import Model


def _net(**kwargs) -> RRDBNet:
    torch.manual_seed(3)
    arch = {"features": 16, "blocks": 2, "growth": 8, **kwargs}
    return RRDBNet(**arch).eval().requires_grad_(False).to(memory_format=torch.channels_last)


@pytest.mark.parametrize("kwargs", [
    {"scale": 4},
    {"scale": 2},
    {"scale": 8},
    {"scale": 1},
    {"scale": 2, "unshuffle": 2, "in_channels": 3, "out_channels": 3},
    {"scale": 4, "skip": "bicubic"},
    {"scale": 4, "blocks": 0},
    {"scale": 4, "noise_input": True},
    {"scale": 2, "unshuffle": 2, "noise_input": True, "tone": True},
])
def test_the_fused_forward_equals_the_module(kwargs):
    net = _net(**kwargs)
    fast = fastpath.fast_module(net)
    assert fast is not None
    channels = kwargs.get("in_channels", 1)
    x = torch.rand(1, channels, 19, 26).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        plain, fused = net(x), fast(x)
    assert fused.shape == plain.shape
    assert fused.dtype == torch.float32
    torch.testing.assert_close(fused, plain, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("skip", ["none", "bicubic"])
def test_under_bf16_autocast_the_fused_forward_stays_as_close_to_fp32_as_the_module(skip):
    net = _net(scale=4, skip=skip)
    fast = fastpath.fast_module(net)
    x = torch.rand(1, 1, 32, 32).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        reference = net(x).numpy()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            plain = net(x).float().numpy()
            fused = fast(x).float().numpy()
    peak = float(reference.max() - reference.min())
    assert network.psnr_db(fused, reference, peak) >= 45.0
    assert network.psnr_db(fused, reference, peak) >= network.psnr_db(plain, reference,
                                                                       peak) - 6.0
    if skip == "bicubic":  # conv_last starts at zero: exactly bicubic, kept in float32
        np.testing.assert_array_equal(fused, plain)


def test_only_an_rrdbnet_in_evaluation_mode_gets_a_fused_forward():
    net = _net()
    assert fastpath.fast_module(net.train()) is None

    class Changed(RRDBNet):  # a subclass may compute something else
        pass

    assert fastpath.fast_module(Changed(features=8, blocks=1, growth=4).eval()) is None
    assert fastpath.fast_module(torch.nn.Conv2d(1, 1, 3).eval()) is None


def _model(seed: int = 5) -> Model:
    torch.manual_seed(seed)
    return Model.create("rrdbnet", scale=4, blocks=1, features=16, growth=8,
                        skip="bicubic", name="fast")


def test_inference_uses_the_checked_fused_forward_and_keeps_the_weights(monkeypatch):
    model = _model()
    keys = list(model.generator.state_dict())
    net = network.prepare_network(model.generator, device=torch.device("cpu"),
                                  dtype=torch.float32, scale=4, in_channels=1,
                                  out_channels=1)
    assert isinstance(net.fast, fastpath.FastRRDBNet)
    assert list(net.module.state_dict()) == keys == list(model.generator.state_dict())
    image = np.random.default_rng(0).integers(0, 65535, (40, 52)).astype(np.uint16)
    fused = super_resolve(image, model, device="cpu", tile=32, overlap=8, batch=1,
                          precision="fp32", output_dtype="float32")
    monkeypatch.setenv("SEMSR_CPU_FAST_PATH", "0")
    off = network.prepare_network(model.generator, device=torch.device("cpu"),
                                  dtype=torch.float32, scale=4, in_channels=1,
                                  out_channels=1)
    assert off.fast is None
    plain = super_resolve(image, model, device="cpu", tile=32, overlap=8, batch=1,
                          precision="fp32", output_dtype="float32")
    assert network.psnr_db(fused, plain, peak=65535.0) > 80.0


def test_without_the_onednn_ops_the_plain_module_runs(monkeypatch):
    monkeypatch.setattr(fastpath, "_mkldnn_ready", lambda: False)
    model = _model()
    net = network.prepare_network(model.generator, device=torch.device("cpu"),
                                  dtype=torch.float32, scale=4, in_channels=1,
                                  out_channels=1)
    assert net.fast is None


def test_a_fused_forward_that_disagrees_with_the_module_is_not_used(monkeypatch):
    """The check before use: a fused forward of other weights is refused."""
    model, other = _model(5), _model(6)
    torch.nn.init.normal_(other.generator.conv_last.weight, std=0.1)
    monkeypatch.setattr(fastpath, "fast_module",
                        lambda _module: fastpath.FastRRDBNet(other.generator.eval()))
    net = network.prepare_network(model.generator, device=torch.device("cpu"),
                                  dtype=torch.float32, scale=4, in_channels=1,
                                  out_channels=1)
    assert net.fast is None
