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
