"""Pixel losses and the Sobel gradient loss."""

from __future__ import annotations

import pytest
import torch

from semsr_core.errors import ConfigError
from semsr_core.losses.gradient import GradientLoss, sobel_magnitude
from semsr_core.losses.pixel import L1Loss, L2Loss


def test_l1_and_l2_against_hand_values():
    sr = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    hr = torch.tensor([[[[1.0, 0.0], [4.0, 4.0]]]])
    assert L1Loss()(sr, hr).item() == pytest.approx((0 + 2 + 1 + 0) / 4)
    assert L2Loss()(sr, hr).item() == pytest.approx((0 + 4 + 1 + 0) / 4)


def test_mask_weight_counts_defect_pixels_k_times_in_a_weighted_mean():
    sr = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    hr = torch.tensor([[[[1.0, 0.0], [4.0, 4.0]]]])
    mask = torch.tensor([[[[0.0, 1.0], [0.0, 0.0]]]])  # the pixel with error 2 is a defect
    # weights 1, 3, 1, 1: (0 + 3·2 + 1 + 0) / 6 and (0 + 3·4 + 1 + 0) / 6
    assert L1Loss(mask_weight=3)(sr, hr, mask).item() == pytest.approx(7 / 6)
    assert L2Loss(mask_weight=3)(sr, hr, mask).item() == pytest.approx(13 / 6)
    # weight 1, or no mask: the plain mean
    assert L1Loss(mask_weight=1)(sr, hr, mask).item() == pytest.approx(3 / 4)
    assert L1Loss(mask_weight=3)(sr, hr).item() == pytest.approx(3 / 4)


def test_mask_weight_below_one_or_a_mask_of_another_shape_is_refused():
    with pytest.raises(ConfigError, match="mask_weight"):
        L1Loss(mask_weight=0.5)
    with pytest.raises(ConfigError, match="mask"):
        L1Loss(mask_weight=2)(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 4, 4),
                              torch.zeros(1, 1, 2, 2))


def test_pixel_loss_refuses_output_of_another_size_with_a_hint():
    with pytest.raises(ConfigError, match="scale factor"):
        L1Loss()(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 16, 16))


def test_sobel_magnitude_of_a_vertical_step_edge():
    step = torch.zeros(1, 1, 6, 6)
    step[..., 3:] = 1.0
    magnitude = sobel_magnitude(step)[0, 0]
    # The columns either side of the edge see 1 + 2 + 1 = 4; flat columns see nothing.
    assert torch.allclose(magnitude[:, 2], torch.full((6,), 4.0), atol=1e-5)
    assert torch.allclose(magnitude[:, 3], torch.full((6,), 4.0), atol=1e-5)
    assert magnitude[:, 0].max().item() < 1e-5 and magnitude[:, 5].max().item() < 1e-5


def test_gradient_loss_is_zero_for_identical_images_and_for_a_constant_offset():
    image = torch.rand(2, 1, 16, 16, generator=torch.Generator().manual_seed(1))
    assert GradientLoss()(image, image).item() == 0.0
    assert GradientLoss()(image + 0.2, image).item() == pytest.approx(0.0, abs=1e-6)


def test_gradient_loss_sees_a_blurred_edge():
    sharp = torch.zeros(1, 1, 8, 8)
    sharp[..., 4:] = 1.0
    blurred = sharp.clone()
    blurred[..., 3] = 0.5  # a softer, wider edge
    assert GradientLoss()(blurred, sharp).item() > 0.1


def test_gradient_loss_has_finite_gradients_on_flat_images():
    flat = torch.zeros(1, 1, 8, 8, requires_grad=True)
    GradientLoss()(flat, torch.rand(1, 1, 8, 8)).backward()
    assert torch.isfinite(flat.grad).all()
