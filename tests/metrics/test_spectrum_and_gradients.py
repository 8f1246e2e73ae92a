"""Power spectra, the [S3] eq. 5.1 spectrum score, and gradient-map statistics."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage

from semsr_core.data.resample import upscale
from semsr_core.metrics.no_reference import gradient_map, gradient_stats
from semsr_core.metrics.spectrum import radial_power_spectrum, spectrum_score


@pytest.mark.parametrize(("cycles", "axis"), [(8, 1), (20, 0)])
def test_spectrum_of_a_sinusoid_peaks_at_its_frequency(cycles, axis):
    yy, xx = np.mgrid[:128, :128]
    along = xx if axis == 1 else yy
    image = 0.5 + 0.3 * np.sin(2 * np.pi * cycles * along / 128)
    k, power = radial_power_spectrum(image)
    assert k[np.argmax(power)] == pytest.approx(cycles / 128)
    assert power.max() > 1000 * np.median(power)


def test_spectrum_of_white_noise_is_flat_at_its_variance():
    noise = np.random.default_rng(2).normal(0.0, 0.1, (256, 256))
    _, power = radial_power_spectrum(noise)
    # away from the lowest rings (few samples, window leakage) the mean power is σ²
    assert np.mean(power[10:]) == pytest.approx(0.01, rel=0.05)
    assert power[10:].std() / power[10:].mean() < 0.2


@pytest.fixture(scope="module")
def sem_like() -> tuple[np.ndarray, np.ndarray]:
    """An HR image with sharp edges and its ×4 bicubic LR↑."""
    rng = np.random.default_rng(0)
    hr = np.zeros((128, 128))
    for _ in range(25):
        r, c = rng.integers(0, 112, 2).tolist()
        s = int(rng.integers(6, 16))
        hr[r:r + s, c:c + s] = rng.uniform(0.4, 0.9)
    hr = np.clip(hr + rng.normal(0, 0.02, hr.shape), 0, 1)
    lr = hr.reshape(32, 4, 32, 4).mean(axis=(1, 3))
    return hr, upscale(lr, 4).astype(np.float64)


def test_spectrum_score_is_one_for_hr_and_zero_for_lr_up(sem_like):
    hr, lr_up = sem_like
    for log in (True, False):
        assert spectrum_score(hr, hr, lr_up, log=log) == pytest.approx(1.0)
        assert spectrum_score(hr, lr_up, lr_up, log=log) == pytest.approx(0.0)


def test_spectrum_score_ranks_a_sharper_result_above_a_blurrier_one(sem_like):
    hr, lr_up = sem_like
    between = 0.5 * hr + 0.5 * lr_up
    blurrier = ndimage.gaussian_filter(lr_up, 1.5)
    assert 0 < spectrum_score(hr, between, lr_up) < 1
    assert spectrum_score(hr, blurrier, lr_up) < 0


def test_spectrum_score_compares_images_of_different_sizes_by_their_common_centre(sem_like):
    hr, lr_up = sem_like
    inner = hr[4:124, 4:124]  # a 120×120 "HR" of the centre of the field of view
    assert spectrum_score(inner, hr, lr_up) == pytest.approx(1.0)


def test_gradient_map_of_a_step_edge_marks_the_two_columns_beside_it():
    step = np.zeros((32, 32))
    step[:, 16:] = 1.0
    grad = gradient_map(step)
    assert np.allclose(grad[:, 15:17], 1 / math.sqrt(2))
    assert np.allclose(np.delete(grad, [15, 16], axis=1), 0.0)
    stats = gradient_stats(step, reference=step)
    assert stats["grad_p95"] == pytest.approx(1 / math.sqrt(2))  # 2 of 32 columns > 5%
    assert stats["grad_mean"] == pytest.approx(2 / 32 / math.sqrt(2))
    assert stats["sharpness_ratio"] == pytest.approx(1.0)


def test_sharpness_ratio_is_below_one_for_a_blurred_edge_and_none_for_a_flat_reference():
    step = np.zeros((64, 64))
    step[:, 32:] = 1.0
    step[32:, :] = 1.0 - step[32:, :]  # edges along both axes
    blurred = ndimage.gaussian_filter(step, 2.0)
    assert gradient_stats(blurred, reference=step)["sharpness_ratio"] < 0.5
    assert gradient_stats(step, reference=np.full((64, 64), 0.3))["sharpness_ratio"] is None
    assert gradient_stats(step)["sharpness_ratio"] is None
