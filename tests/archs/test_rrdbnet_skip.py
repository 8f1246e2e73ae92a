"""RRDBNet's bicubic skip: an untrained network is exactly bicubic, and the state-dict
keys stay ESRGAN's, so community weights load with or without it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from semsr_core import archs
from semsr_core.data.resample import upscale
from semsr_core.errors import ConfigError


@pytest.mark.parametrize("scale", [2, 4])
def test_an_untrained_skip_network_is_bicubic(scale):
    torch.manual_seed(0)
    net = archs.build("rrdbnet", scale=scale, blocks=1, features=8, growth=4, skip="bicubic")
    image = np.random.default_rng(0).random((20, 24)).astype(np.float32)
    with torch.no_grad():
        out = net(torch.from_numpy(image)[None, None])[0, 0].numpy()
    np.testing.assert_allclose(out, upscale(image, scale, clip=False), atol=1e-6)


def test_the_skip_adds_no_parameters():
    plain = archs.build("rrdbnet", blocks=1, features=8, growth=4)
    skip = archs.build("rrdbnet", blocks=1, features=8, growth=4, skip="bicubic")
    assert plain.state_dict().keys() == skip.state_dict().keys()
    skip.load_state_dict(plain.state_dict())


def test_a_skip_across_channel_counts_is_refused():
    with pytest.raises(ConfigError, match="skip"):
        archs.build("rrdbnet", in_channels=1, out_channels=3, skip="bicubic")
    with pytest.raises(ConfigError, match="skip"):
        archs.build("rrdbnet", skip="nearest")


def _changing(highpass: float, offset: float = 0.0) -> torch.nn.Module:
    """A skip network whose change is not zero: random last convolution, plus ``offset``."""
    torch.manual_seed(1)
    net = archs.build("rrdbnet", scale=4, blocks=1, features=8, growth=4, skip="bicubic",
                      highpass=highpass)
    torch.nn.init.normal_(net.conv_last.weight, std=0.05)
    torch.nn.init.constant_(net.conv_last.bias, offset)
    return net.eval()


def test_the_highpass_takes_away_a_change_of_brightness():
    image = np.random.default_rng(2).random((24, 28)).astype(np.float32)
    bicubic = upscale(image, 4, clip=False)
    with torch.no_grad():
        x = torch.from_numpy(image)[None, None]
        plain = _changing(0.0, offset=0.3)(x)[0, 0].numpy()
        held = _changing(1.5, offset=0.3)(x)[0, 0].numpy()
    assert plain.mean() - bicubic.mean() > 0.25  # the network brightens the image...
    assert abs(held.mean() - bicubic.mean()) < 0.005  # ...the highpass leaves the mean as it was
    assert np.abs(held - bicubic).max() > 0.01  # and fine detail is still the network's
    # the change left has no local mean: blurred over a few σ, it is (nearly) flat zero
    from scipy import ndimage

    change = ndimage.gaussian_filter(held - bicubic, 12, mode="nearest")
    assert np.abs(change[12:-12, 12:-12]).max() < 0.02


def test_the_fused_cpu_forward_keeps_the_highpass():
    from semsr_core.infer import fastpath

    net = _changing(1.5).to(memory_format=torch.channels_last)
    fast = fastpath.fast_module(net)
    assert fast is not None
    x = torch.rand(1, 1, 19, 26).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        torch.testing.assert_close(fast(x), net(x), rtol=1e-4, atol=1e-5)
        assert not torch.allclose(net(x), _changing(0.0)(x), atol=1e-3)


def test_a_highpass_needs_the_bicubic_skip_and_a_positive_sigma():
    with pytest.raises(ConfigError, match="highpass"):
        archs.build("rrdbnet", highpass=1.5)
    with pytest.raises(ConfigError, match="highpass"):
        archs.build("rrdbnet", skip="bicubic", highpass=-1.0)


def test_a_tone_curve_starts_as_the_identity_and_learns_a_contrast_gap():
    torch.manual_seed(0)
    plain = archs.build("rrdbnet", scale=2, blocks=1, features=8, growth=4, skip="bicubic")
    toned = archs.build("rrdbnet", scale=2, blocks=1, features=8, growth=4, skip="bicubic",
                        tone=True)
    missing, unexpected = toned.load_state_dict(plain.state_dict(), strict=False)
    assert missing and all(k.startswith("tone.") for k in missing) and not unexpected
    x = torch.rand(1, 1, 12, 14)
    with torch.no_grad():
        torch.testing.assert_close(toned(x), plain(x))
    # a lab's gap (gain, gamma, offset), learnt by the curve alone
    values = torch.linspace(0, 1, 256).view(1, 1, 16, 16)
    target = 0.1 + 0.7 * values ** 0.6
    optimiser = torch.optim.Adam(toned.tone.parameters(), lr=0.02)
    for _ in range(400):
        optimiser.zero_grad()
        loss = (toned.tone(values) - target).abs().mean()
        loss.backward()
        optimiser.step()
    assert (values - target).abs().mean() > 0.05
    assert loss.item() < 0.01


def test_the_fused_cpu_forward_keeps_the_tone_curve():
    from semsr_core.infer import fastpath

    net = _changing(1.5)
    toned = archs.build("rrdbnet", scale=4, blocks=1, features=8, growth=4, skip="bicubic",
                        highpass=1.5, tone=True)
    toned.load_state_dict(net.state_dict(), strict=False)
    torch.nn.init.normal_(toned.tone.outer.weight, std=0.3)
    toned = toned.eval().to(memory_format=torch.channels_last)
    fast = fastpath.fast_module(toned)
    x = torch.rand(1, 1, 19, 26).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        torch.testing.assert_close(fast(x), toned(x), rtol=1e-4, atol=1e-5)
        assert not torch.allclose(toned(x), net(x), atol=1e-3)
