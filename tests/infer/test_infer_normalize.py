"""Intensities: what goes in comes out in the same units, as the model card says."""

from __future__ import annotations

import numpy as np
import pytest

from semsr_core.errors import ConfigError, InputError
from semsr_core.infer.normalize import (
    denormalize,
    from_network_range,
    normalize,
    to_network_range,
)


def test_uint16_round_trip_keeps_the_full_range():
    image = np.array([[0, 1, 32768, 65535]], np.uint16)
    unit, intensity = normalize(image, {"mode": "dtype"})
    assert unit.dtype == np.float32 and unit.min() == 0.0 and unit.max() == 1.0
    back, clipped = denormalize(unit, intensity)
    assert back.dtype == np.uint16
    np.testing.assert_array_equal(back, image)
    assert clipped.total == 0


def test_out_of_range_output_is_clipped_and_counted():
    _, intensity = normalize(np.zeros((2, 2), np.uint8), {"mode": "dtype"})
    out, clipped = denormalize(np.array([[-0.1, 0.5], [1.2, 1.3]], np.float32), intensity)
    np.testing.assert_array_equal(out, [[0, 128], [255, 255]])
    assert (clipped.low, clipped.high) == (1, 2)
    assert "1 pixel(s) below 0" in clipped.note() and "2 above 255" in clipped.note()


def test_float32_on_request_is_in_input_units_unclipped():
    _, intensity = normalize(np.zeros((2, 2), np.uint16), {"mode": "dtype"})
    out, clipped = denormalize(np.array([[-0.5, 1.5]], np.float32), intensity, "float32")
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[-0.5 * 65535, 1.5 * 65535]])
    assert clipped.total == 0


def test_percentile_mode_maps_the_percentiles_to_zero_and_one(rng):
    image = rng.integers(1000, 3000, size=(64, 64)).astype(np.uint16)
    unit, intensity = normalize(image, {"mode": "percentile", "low": 1, "high": 99})
    lo, hi = np.percentile(image, [1, 99])
    assert intensity.offset == pytest.approx(lo) and intensity.span == pytest.approx(hi - lo)
    assert np.mean(unit < 0) == pytest.approx(0.01, abs=0.005)
    assert np.mean(unit > 1) == pytest.approx(0.01, abs=0.005)
    back, clipped = denormalize(unit, intensity)
    np.testing.assert_array_equal(back, image)
    assert clipped.total == 0


def test_a_constant_image_does_not_divide_by_zero():
    image = np.full((8, 8), 700, np.uint16)
    unit, intensity = normalize(image, {"mode": "percentile", "low": 1, "high": 99})
    assert np.isfinite(unit).all()
    back, _ = denormalize(unit, intensity)
    np.testing.assert_array_equal(back, image)


def test_tanh_networks_get_minus_one_to_one():
    unit = np.array([0.0, 0.5, 1.0], np.float32)
    net = to_network_range(unit, (-1.0, 1.0))
    np.testing.assert_allclose(net, [-1.0, 0.0, 1.0])
    np.testing.assert_allclose(from_network_range(net, (-1.0, 1.0)), unit)


def test_bad_inputs_and_cards_are_named():
    with pytest.raises(InputError, match="NaN"):
        normalize(np.array([[np.nan, 1.0]], np.float32), {"mode": "dtype"})
    with pytest.raises(InputError, match="int16"):
        normalize(np.zeros((2, 2), np.int16), {"mode": "dtype"})
    with pytest.raises(ConfigError, match=r"normalization\.mode"):
        normalize(np.zeros((2, 2), np.uint8), {"mode": "zscore"})
    with pytest.raises(ConfigError, match=r"normalization\.low"):
        normalize(np.zeros((2, 2), np.uint8), {"mode": "percentile", "low": 99, "high": 1})
