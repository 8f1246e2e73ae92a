"""Every loss runs on a CUDA device without mixing devices (run with -m cuda)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from semsr_core import losses

pytestmark = pytest.mark.cuda


@pytest.fixture
def cuda():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    return torch.device("cuda")


@pytest.mark.parametrize("name", ["gan_ns", "gan_ragan", "gan_rsgan", "wgan_gp", "cgan",
                                  "texture", "color"])
def test_adversarial_losses_on_cuda(name, cuda):
    loss = losses.build(name).to(cuda)
    critic = nn.Conv2d(2 if name == "cgan" else 1, 1, 3, padding=1).to(cuda)
    real, fake = torch.rand(2, 1, 16, 16, device=cuda), torch.rand(2, 1, 16, 16, device=cuda)
    real_in = loss.discriminator_input(real, real)
    fake_in = loss.discriminator_input(fake, real)
    value = loss.d_loss(critic(real_in), critic(fake_in))
    penalty = loss.penalty(critic, real_in, fake_in)
    if penalty is not None:
        value = value + penalty
    value.backward()
    assert torch.isfinite(value)


def test_feature_losses_on_cuda(cuda, vgg19_file, vgg16_file):
    sr = torch.rand(1, 1, 32, 32, device=cuda, requires_grad=True)
    hr = torch.rand(1, 1, 32, 32, device=cuda)
    total = (losses.build("vgg", layers="22", weights=str(vgg19_file)).to(cuda)(sr, hr)
             + losses.build("fsesim", layers=["22"], weights=str(vgg16_file)).to(cuda)(hr, sr)
             + losses.build("gradient")(sr, hr) + losses.build("content_lf")(sr, hr))
    nce = losses.build("patchnce", num_layers=1, num_patches=16).to(cuda)
    total = total + nce([hr.expand(-1, 4, -1, -1)], [sr.expand(-1, 4, -1, -1)])
    total.backward()
    assert torch.isfinite(sr.grad).all()
