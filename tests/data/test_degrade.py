"""Degradations: LR images made from HR ones have the promised size, content and noise."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data as skdata

from semsr_core.data.degrade import (
    DEGRADATIONS,
    area,
    bicubic,
    crappify,
    degrade,
    sem_noise,
)
from semsr_core.errors import ConfigError, InputError


@pytest.fixture(scope="module")
def camera() -> np.ndarray:
    return (skdata.camera()[:200, :240] / 255.0).astype(np.float32)


@pytest.mark.parametrize("name", sorted(DEGRADATIONS))
@pytest.mark.parametrize("s", [2, 4])
def test_output_is_exactly_hr_over_scale_float32_in_range(name, s, camera):
    hr = camera[:198, :239]  # sides not multiples of s: cropped, never padded
    lr = degrade(name, hr, s, rng=0)
    assert lr.shape == (198 // s, 239 // s)
    assert lr.dtype == np.float32
    assert lr.min() >= 0.0 and lr.max() <= 1.0


def test_area_is_the_mean_of_each_block():
    rng = np.random.default_rng(0)
    hr = rng.random((10, 13)).astype(np.float32)
    expected = np.array([[hr[2 * i:2 * i + 2, 2 * j:2 * j + 2].mean() for j in range(6)]
                         for i in range(5)])
    np.testing.assert_allclose(area(hr, 2), expected, rtol=1e-6)


@pytest.mark.parametrize("s", [2, 4])
def test_crappify_and_bicubic_keep_a_constant_image_constant(s):
    hr = np.full((64, 48), 0.37, dtype=np.float32)
    np.testing.assert_allclose(crappify(hr, s), 0.37, atol=1e-5)
    np.testing.assert_allclose(bicubic(hr, s), 0.37, atol=1e-5)


def test_crappify_blurs_with_sigma_3_at_hr_scale():
    # white noise keeps 1/sqrt(4*pi*sigma^2) ~ 0.094 of its std after a sigma=3 blur;
    # block averaging alone keeps 1/s = 0.5 of it
    noise = np.random.default_rng(0).random((256, 256)).astype(np.float32)
    kept = crappify(noise, 2).std() / noise.std()
    assert kept < 0.11
    assert area(noise, 2).std() / noise.std() == pytest.approx(0.5, rel=0.05)


def test_bicubic_is_a_faithful_downscale_of_a_natural_image(camera):
    lr = bicubic(camera, 4)
    ref = area(camera, 4)
    assert np.abs(lr - ref).mean() < 0.03
    assert np.corrcoef(lr.ravel(), ref.ravel())[0, 1] > 0.98


def test_sem_noise_variance_grows_as_the_dose_falls():
    hr = np.full((256, 256), 0.5, dtype=np.float32)
    variances = []
    for dose in (10.0, 100.0, 1000.0):
        lr = sem_noise(hr, 2, dose=dose, read_noise=0.0, line_offset=0.0, line_jitter=0.0,
                       rng=1)
        variances.append(float(lr.var()))
        # shot noise: Poisson counts at `dose` electrons per unit intensity
        assert lr.var() == pytest.approx(0.5 / dose, rel=0.15)
        assert lr.mean() == pytest.approx(0.5, abs=0.01)
    assert variances[0] > variances[1] > variances[2]


def test_sem_noise_line_offset_is_shared_along_each_scan_line():
    hr = np.full((256, 256), 0.5, dtype=np.float32)
    lr = sem_noise(hr, 2, dose=1e7, read_noise=0.0, line_offset=0.05, line_jitter=0.0, rng=3)
    assert lr.mean(axis=1).std() == pytest.approx(0.05, rel=0.25)
    assert lr.std(axis=1).max() < 0.005  # flat within a line


def test_sem_noise_line_jitter_shifts_whole_lines(camera):
    calm = sem_noise(camera, 2, dose=1e7, read_noise=0, line_offset=0, line_jitter=0, rng=4)
    jitter = sem_noise(camera, 2, dose=1e7, read_noise=0, line_offset=0, line_jitter=1.0,
                       rng=4)
    assert np.abs(jitter - calm).mean() > 0.01
    # a shift moves intensities along the line but keeps each line's content
    np.testing.assert_allclose(jitter.mean(axis=1), calm.mean(axis=1), atol=0.02)


def test_sem_noise_is_reproducible_from_a_seed(camera):
    a = degrade("sem-noise", camera, 4, rng=7, dose=20)
    b = degrade("sem-noise", camera, 4, rng=7, dose=20)
    c = degrade("sem-noise", camera, 4, rng=8, dose=20)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_degrade_by_name_matches_the_function(camera):
    assert np.array_equal(degrade("area", camera, 2), area(camera, 2))
    assert np.array_equal(degrade("crappify", camera, 4), crappify(camera, 4))


def test_unknown_degradation_or_option_is_refused_by_name(camera):
    with pytest.raises(ConfigError, match=r"'blur'.*bicubic"):
        degrade("blur", camera, 2)
    with pytest.raises(ConfigError, match="'dose'"):
        degrade("bicubic", camera, 2, dose=10)
    with pytest.raises(ConfigError, match="dose"):
        degrade("sem-noise", camera, 2, dose=0)


def test_a_stack_or_a_bad_scale_is_refused_with_a_remedy(camera):
    with pytest.raises(InputError, match="2-D"):
        area(np.stack([camera, camera]), 2)
    with pytest.raises(ConfigError, match="scale"):
        area(camera, 0)
    with pytest.raises(InputError, match="smaller than the scale"):
        area(camera[:3, :3], 4)
