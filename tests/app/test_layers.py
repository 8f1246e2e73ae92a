"""Layer placement: super-resolved layers overlay their source in physical units."""

from __future__ import annotations

import numpy as np
import pytest

from semsr_app.layers import contrast_limits, pixel_size_nm, sr_layer_name, sr_scale_translate

pytestmark = pytest.mark.gui


@pytest.mark.parametrize("factor", [2, 3, 4])
def test_sr_pixel_centres_and_edges_align_with_the_source_pixels(factor):
    sigma, origin = 7.5, 12.25  # LR pixel size (nm) and translate
    (z_scale, scale, _), (z_shift, shift, _) = sr_scale_translate(
        (3.0, sigma, sigma), (4.0, origin, origin), factor)
    assert (z_scale, z_shift) == (3.0, 4.0)  # slices are not enlarged
    assert scale == pytest.approx(sigma / factor)
    lr = np.arange(10)
    lr_centres = origin + lr * sigma
    sr_centres = shift + np.arange(10 * factor) * scale
    # the s sub-pixels of LR pixel i average to its centre ...
    assert sr_centres.reshape(10, factor).mean(axis=1) == pytest.approx(lr_centres)
    # ... and tile it exactly: first lower edge and last upper edge are the LR edges
    sub = sr_centres.reshape(10, factor)
    assert sub[:, 0] - scale / 2 == pytest.approx(lr_centres - sigma / 2)
    assert sub[:, -1] + scale / 2 == pytest.approx(lr_centres + sigma / 2)


def test_sr_layer_name_says_source_and_factor():
    assert sr_layer_name("scan 3", 4) == "scan 3 [SR ×4]"


def test_contrast_limits_of_16_bit_data_follow_the_data_not_the_type_range(rng):
    image = rng.normal(20000, 1000, size=(3, 64, 64)).clip(0, 65535).astype(np.uint16)
    image[0, 0, 0] = 65535  # a hot pixel does not stretch the limits
    low, high = contrast_limits(image)
    assert 15000 < low < 18000 and 22000 < high < 25000


def test_contrast_limits_of_a_constant_image_are_not_empty():
    low, high = contrast_limits(np.full((8, 8), 7, np.uint16))
    assert low < 7 < high


def test_pixel_size_in_nm_from_string_and_pint_units():
    import pint

    ureg = pint.UnitRegistry()
    assert pixel_size_nm((1.0, 2.5, 2.5), ("pixel", "nm", "nm")) == 2.5
    assert pixel_size_nm((0.004,), (ureg.micrometer,)) == pytest.approx(4.0)
    assert pixel_size_nm((1.0, 1.0), ("pixel", "pixel")) is None
