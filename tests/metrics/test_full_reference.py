"""PSNR, SSIM and MSE against known values, and the masked (defect / background) versions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage
from skimage import data as skdata
from skimage.metrics import structural_similarity
from skimage.transform import resize

from semsr_core.metrics.full_reference import (
    SSIM_MASK_DILATION,
    SSIM_WINDOW,
    mse,
    psnr,
    region_metrics,
    ssim,
)


@pytest.fixture(scope="module")
def camera() -> np.ndarray:
    """scikit-image's camera man at 128×128, float in [0, 1]."""
    return resize(skdata.camera() / 255.0, (128, 128), anti_aliasing=True)


def test_identical_images_have_infinite_psnr_zero_mse_and_ssim_one(camera):
    assert psnr(camera, camera) == math.inf
    assert mse(camera, camera) == 0.0
    assert ssim(camera, camera) == pytest.approx(1.0)


def test_psnr_of_a_known_mse_is_ten_log10_of_one_over_mse():
    reference = np.full((32, 32), 0.25)
    image = reference + 0.1  # every pixel off by 0.1: MSE = 0.01
    assert mse(reference, image) == pytest.approx(0.01)
    assert psnr(reference, image) == pytest.approx(20.0)
    # in 8-bit units the same error is 25.5 grey levels: PSNR unchanged with data_range 255
    assert psnr(reference * 255, image * 255, data_range=255) == pytest.approx(20.0)


@pytest.mark.parametrize("sigma", [0.01, 0.05])
def test_psnr_of_gaussian_noise_matches_the_analytic_value(sigma):
    rng = np.random.default_rng(7)
    reference = np.full((256, 256), 0.5)
    noisy = reference + rng.normal(0.0, sigma, reference.shape)
    assert psnr(reference, noisy) == pytest.approx(20 * math.log10(1 / sigma), abs=0.05)


def test_a_larger_shift_lowers_ssim_and_psnr_more(camera):
    half = ndimage.shift(camera, (0.5, 0.0), order=3, mode="nearest")
    two = ndimage.shift(camera, (2.0, 1.0), order=3, mode="nearest")
    s_same, s_half, s_two = ssim(camera, camera), ssim(camera, half), ssim(camera, two)
    assert s_same > s_half > s_two
    assert s_two < 0.9
    assert psnr(camera, half) > psnr(camera, two)


def test_ssim_uses_the_normalisation_data_range(camera):
    noisy = np.clip(camera + np.random.default_rng(3).normal(0, 0.05, camera.shape), 0, 1)
    expected = structural_similarity(camera, noisy, data_range=1.0)
    assert ssim(camera, noisy) == pytest.approx(expected)
    # the same images in 16-bit units need data_range 65535 to give the same value
    assert ssim(camera * 65535, noisy * 65535, data_range=65535) == pytest.approx(expected)


def _square_mask(shape, top, left, side):
    mask = np.zeros(shape, dtype=np.uint8)
    mask[top:top + side, left:left + side] = 3  # a label value, not just 1
    return mask


def test_masked_mse_and_psnr_ignore_changes_outside_the_mask(camera):
    mask = _square_mask(camera.shape, 40, 40, 20)
    damaged = camera.copy()
    damaged[mask > 0] += 0.05
    inside = psnr(camera, damaged, mask=mask)
    elsewhere = damaged.copy()
    elsewhere[:10] = 0.0  # wreck a band outside the mask
    assert psnr(camera, elsewhere, mask=mask) == inside
    assert mse(camera, elsewhere, mask=mask) == pytest.approx(0.05 ** 2)
    assert psnr(camera, elsewhere) < psnr(camera, damaged)


def test_masked_ssim_ignores_changes_farther_than_window_and_dilation(camera):
    mask = _square_mask(camera.shape, 50, 50, 16)
    rng = np.random.default_rng(5)
    image = np.clip(camera + rng.normal(0, 0.03, camera.shape), 0, 1)
    inside = ssim(camera, image, mask=mask)
    reach = SSIM_MASK_DILATION + SSIM_WINDOW // 2
    far = image.copy()
    far[: 50 - reach - 1] = 1.0  # rows above the mask's reach
    assert ssim(camera, far, mask=mask) == pytest.approx(inside, abs=1e-12)
    near = image.copy()
    near[50 - 2:50] = 1.0  # two rows just above the mask: they are in its reach
    assert ssim(camera, near, mask=mask) < inside


def test_ssim_over_an_all_true_mask_is_the_whole_image_ssim(camera):
    shifted = ndimage.shift(camera, (1.0, 0.0), order=1, mode="nearest")
    everywhere = np.ones(camera.shape, dtype=bool)
    assert ssim(camera, shifted, mask=everywhere) == pytest.approx(ssim(camera, shifted))


def test_region_metrics_separate_a_damaged_defect_from_an_intact_background(camera):
    mask = _square_mask(camera.shape, 60, 30, 12)
    erased = camera.copy()
    erased[mask > 0] = 1.0  # the dark defect area is painted over in white
    values = region_metrics(camera, erased, mask)
    assert values["background_psnr"] == math.inf
    assert values["background_mse"] == 0.0
    assert values["defect_psnr"] < 15
    assert values["defect_ssim"] < values["background_ssim"] == pytest.approx(1.0)
    assert values["psnr"] == pytest.approx(psnr(camera, erased))


def test_region_metrics_without_defects_report_none_for_the_defect_region(camera):
    values = region_metrics(camera, camera * 0.9, np.zeros(camera.shape, dtype=np.uint8))
    assert values["defect_psnr"] is None and values["defect_ssim"] is None
    assert values["background_psnr"] == pytest.approx(values["psnr"])
    assert set(region_metrics(camera, camera)) == {"psnr", "ssim", "mse"}
