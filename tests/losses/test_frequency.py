"""Moving-average low/high-pass filters and the frequency-separation losses ([S0] App. B)."""

from __future__ import annotations

import pytest
import torch

from semsr_core.errors import ConfigError
from semsr_core.losses.adversarial import RelativisticAverageGAN
from semsr_core.losses.frequency import (
    ColorLoss,
    LowFrequencyContentLoss,
    TextureLoss,
    highpass,
    lowpass,
)


def impulse(size: int = 11) -> torch.Tensor:
    image = torch.zeros(1, 1, size, size)
    image[0, 0, size // 2, size // 2] = 1.0
    return image


@pytest.mark.parametrize("k", [5, 9])
def test_constant_image_passes_lowpass_unchanged_and_has_no_high_frequencies(k):
    constant = torch.full((2, 1, 12, 12), 0.3)
    assert torch.allclose(lowpass(constant, k), constant)
    assert torch.allclose(highpass(constant, k), torch.zeros_like(constant), atol=1e-6)


@pytest.mark.parametrize("k", [5, 9])
def test_impulse_spreads_evenly_over_a_k_by_k_square(k):
    low = lowpass(impulse(), k)[0, 0]
    centre, r = 11 // 2, k // 2
    expected = torch.zeros(11, 11)
    expected[centre - r:centre + r + 1, centre - r:centre + r + 1] = 1.0 / (k * k)
    assert torch.allclose(low, expected, atol=1e-7)
    high = highpass(impulse(), k)[0, 0]
    assert high[centre, centre].item() == pytest.approx(1.0 - 1.0 / (k * k))
    assert high[centre, centre + 1].item() == pytest.approx(-1.0 / (k * k))


def test_borders_are_reflect_padded():
    ramp = torch.arange(6.0).repeat(6, 1).reshape(1, 1, 6, 6)  # value = column index
    low = lowpass(ramp, 3)[0, 0]
    # Column 0 sees columns (1, 0, 1) after reflection: (1 + 0 + 1) / 3.
    assert low[2, 0].item() == pytest.approx(2.0 / 3.0)
    assert low[2, 3].item() == pytest.approx(3.0)  # interior of a ramp is unchanged


@pytest.mark.parametrize("k", [4, 0, -3])
def test_even_or_non_positive_kernel_is_refused_with_the_key(k):
    with pytest.raises(ConfigError, match="kernel_size"):
        lowpass(impulse(), k)
    with pytest.raises(ConfigError, match="kernel_size"):
        LowFrequencyContentLoss(kernel_size=k)


def test_kernel_larger_than_the_patch_is_refused():
    with pytest.raises(ConfigError, match="too large"):
        lowpass(torch.zeros(1, 1, 4, 4), 9)


def test_content_loss_is_l1_of_the_low_pass_images():
    hr = torch.rand(2, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    assert LowFrequencyContentLoss(5)(hr + 0.25, hr).item() == pytest.approx(0.25, abs=1e-6)
    # A single-pixel change of 1.0 moves the 5×5 average of 25 pixels by 1/25 each.
    spiked = hr.clone()
    spiked[0, 0, 8, 8] += 1.0
    expected = 25 * (1.0 / 25) / hr.numel()
    assert LowFrequencyContentLoss(5)(spiked, hr).item() == pytest.approx(expected, rel=1e-4)


def test_texture_discriminator_sees_only_high_frequencies():
    texture = TextureLoss(kernel_size=5)
    image = torch.rand(1, 1, 12, 12)
    assert torch.allclose(texture.discriminator_input(image + 0.5), highpass(image, 5),
                          atol=1e-6)


def test_color_discriminator_sees_only_low_frequencies():
    color = ColorLoss(kernel_size=9)
    assert torch.allclose(color.discriminator_input(impulse()), lowpass(impulse(), 9))


def test_texture_and_color_use_ragan_for_both_players():
    real, fake = torch.tensor([[2.0], [-1.0]]), torch.tensor([[0.5], [-3.0]])
    ragan = RelativisticAverageGAN()
    for loss in (TextureLoss(), ColorLoss()):
        assert loss.d_loss(real, fake).item() == pytest.approx(ragan.d_loss(real, fake).item())
        assert loss.g_loss(real, fake).item() == pytest.approx(ragan.g_loss(real, fake).item())
