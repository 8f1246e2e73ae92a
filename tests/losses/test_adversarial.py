"""GAN losses of both players against values computed by hand with plain math."""

from __future__ import annotations

import math

import pytest
import torch

from semsr_core.errors import ConfigError
from semsr_core.losses.adversarial import (
    ConditionalGAN,
    NonSaturatingGAN,
    RelativisticAverageGAN,
    RelativisticStandardGAN,
    concat_condition,
)

REAL = [2.0, -1.0]
FAKE = [0.5, -3.0]


def softplus(z: float) -> float:
    """log(1 + e^z) = −log σ(−z) = −log(1 − σ(z))."""
    return math.log1p(math.exp(z))


def mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)


def logits(values, shape=(-1, 1)) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64).reshape(shape)


def test_non_saturating_gan_matches_eq_2_1_and_2_6():
    loss = NonSaturatingGAN()
    # D: −log σ(r) − log(1 − σ(f));  G: −log σ(f)
    d_expected = mean(softplus(-r) for r in REAL) + mean(softplus(f) for f in FAKE)
    g_expected = mean(softplus(-f) for f in FAKE)
    assert loss.d_loss(logits(REAL), logits(FAKE)).item() == pytest.approx(d_expected, abs=1e-12)
    assert loss.g_loss(logits(REAL), logits(FAKE)).item() == pytest.approx(g_expected, abs=1e-12)


def test_non_saturating_generator_loss_ignores_real_logits():
    loss = NonSaturatingGAN()
    assert loss.g_loss(logits([9.0, 9.0]), logits(FAKE)).item() == pytest.approx(
        loss.g_loss(logits([-9.0, 0.0]), logits(FAKE)).item())


def test_ragan_both_players_match_eq_3_5_and_3_6():
    loss = RelativisticAverageGAN()
    mean_real, mean_fake = mean(REAL), mean(FAKE)  # 0.5 and −1.25
    # D: −E log σ(C(r) − C̄f) − E log(1 − σ(C(f) − C̄r))
    d_expected = (mean(softplus(-(r - mean_fake)) for r in REAL)
                  + mean(softplus(f - mean_real) for f in FAKE))
    # G: −E log σ(C(f) − C̄r) − E log(1 − σ(C(r) − C̄f))
    g_expected = (mean(softplus(-(f - mean_real)) for f in FAKE)
                  + mean(softplus(r - mean_fake) for r in REAL))
    assert loss.d_loss(logits(REAL), logits(FAKE)).item() == pytest.approx(d_expected, abs=1e-12)
    assert loss.g_loss(logits(REAL), logits(FAKE)).item() == pytest.approx(g_expected, abs=1e-12)
    # By hand: (sp(−3.25) + sp(−0.25))/2 + (sp(0) + sp(−3.5))/2 = 0.30697 + 0.36144
    assert d_expected == pytest.approx(0.6684, abs=1e-4)


def test_ragan_on_patch_maps_averages_over_batch_and_positions():
    real = [2.0, -1.0, 0.0, 3.0, 1.0, 1.5, -2.0, 0.5]
    fake = [0.5, -3.0, -1.0, 0.0, 2.0, -0.5, -1.5, 1.0]
    loss = RelativisticAverageGAN()
    mean_real, mean_fake = mean(real), mean(fake)
    d_expected = (mean(softplus(-(r - mean_fake)) for r in real)
                  + mean(softplus(f - mean_real) for f in fake))
    g_expected = (mean(softplus(-(f - mean_real)) for f in fake)
                  + mean(softplus(r - mean_fake) for r in real))
    shape = (2, 1, 2, 2)  # two PatchGAN logit maps of 2×2
    d = loss.d_loss(logits(real, shape), logits(fake, shape)).item()
    g = loss.g_loss(logits(real, shape), logits(fake, shape)).item()
    assert d == pytest.approx(d_expected, abs=1e-12)
    assert g == pytest.approx(g_expected, abs=1e-12)


def test_rsgan_pairs_real_and_fake_element_wise():
    loss = RelativisticStandardGAN()
    d_expected = mean(softplus(-(r - f)) for r, f in zip(REAL, FAKE, strict=True))
    g_expected = mean(softplus(-(f - r)) for r, f in zip(REAL, FAKE, strict=True))
    assert loss.d_loss(logits(REAL), logits(FAKE)).item() == pytest.approx(d_expected, abs=1e-12)
    assert loss.g_loss(logits(REAL), logits(FAKE)).item() == pytest.approx(g_expected, abs=1e-12)


@pytest.mark.parametrize("loss", [RelativisticAverageGAN(), RelativisticStandardGAN()])
def test_relativistic_losses_refuse_real_and_fake_batches_of_different_shapes(loss):
    with pytest.raises(ConfigError, match=r"\(2, 1\).*\(3, 1\)"):
        loss.d_loss(logits(REAL), logits([0.0, 1.0, 2.0]))


@pytest.mark.parametrize(
    "loss", [NonSaturatingGAN(), RelativisticAverageGAN(), RelativisticStandardGAN(),
             ConditionalGAN()])
def test_generator_loss_falls_when_the_discriminator_rates_fakes_higher(loss):
    fake = logits(FAKE).requires_grad_(True)
    loss.g_loss(logits(REAL), fake).backward()
    assert (fake.grad < 0).all()


def test_losses_stay_finite_for_huge_logits():
    huge_real, huge_fake = logits([80.0, 90.0]), logits([-90.0, -80.0])
    for loss in (NonSaturatingGAN(), RelativisticAverageGAN(), RelativisticStandardGAN()):
        assert torch.isfinite(loss.g_loss(huge_real, huge_fake))
        assert torch.isfinite(loss.d_loss(huge_real, huge_fake))
    # Generator loss for a hopeless fake: −log σ(−90) ≈ 90, computed without overflow.
    assert NonSaturatingGAN().g_loss(None, logits([-90.0])).item() == pytest.approx(90.0)


def test_cgan_halves_the_discriminator_loss_as_pix2pix():
    loss = ConditionalGAN()
    d_expected = 0.5 * (mean(softplus(-r) for r in REAL) + mean(softplus(f) for f in FAKE))
    g_expected = mean(softplus(-f) for f in FAKE)
    assert loss.d_loss(logits(REAL), logits(FAKE)).item() == pytest.approx(d_expected, abs=1e-12)
    assert loss.g_loss(logits(REAL), logits(FAKE)).item() == pytest.approx(g_expected, abs=1e-12)


def test_cgan_discriminator_sees_input_and_output_side_by_side():
    condition = torch.zeros(2, 1, 4, 4)
    image = torch.ones(2, 1, 4, 4)
    pair = ConditionalGAN().discriminator_input(image, condition)
    assert pair.shape == (2, 2, 4, 4)
    assert torch.equal(pair[:, :1], condition) and torch.equal(pair[:, 1:], image)


def test_cgan_without_condition_says_what_is_missing():
    with pytest.raises(ConfigError, match="condition"):
        ConditionalGAN().discriminator_input(torch.ones(1, 1, 4, 4))


def test_concat_condition_refuses_sizes_that_differ():
    with pytest.raises(ConfigError, match="upscale"):
        concat_condition(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 8, 8))


def test_unconditional_losses_feed_the_image_unchanged():
    image = torch.rand(1, 1, 4, 4)
    assert NonSaturatingGAN().discriminator_input(image, torch.zeros(1, 1, 4, 4)) is image
    assert NonSaturatingGAN().penalty(torch.nn.Identity(), image, image) is None
