"""Small configs of every network, so forward passes in tests stay fast."""

from __future__ import annotations

import pytest

SMALL = {
    "srresnet": {"features": 8, "blocks": 1},
    "srresnet_in": {"features": 4, "blocks": 1},
    "rrdbnet": {"features": 8, "blocks": 1, "growth": 4},
    "wgan_resnet": {"features": 8, "blocks": 1},
    "rir": {"features": 8, "rir_blocks": 2, "residual_blocks": 1},
    "zssr": {"features": 8, "depth": 2},
    "unet": {"features": 2, "downsamplings": 5},
    "unet64": {"features": 4},
    "unet128": {"features": 2},
    "unet256": {"features": 2},
    "resnet_gen": {"features": 4, "blocks": 1},
    "lir": {"features": 4, "blocks": 1, "noise_channels": 2},
    "srgan_d": {"features": 4},
    "srgan_d_reduced": {"features": 4},
    "dcgan_d": {"features": 2},
    "patchgan34": {"features": 4},
    "patchgan70": {"features": 4},
    "patchgan9": {"features": 4},
    "wgan_critic": {"features": 4},
    "n2_d": {"features": 4},
}


@pytest.fixture
def small_config():
    """``small_config(name)`` → a cheap config of that network with its default depth."""
    return lambda name: dict(SMALL[name])
