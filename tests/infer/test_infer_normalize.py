"""Intensities: what goes in comes out in the same units, as the model card says."""

from __future__ import annotations

import numpy as np
import pytest

from semsr_core.errors import ConfigError, InputError
from semsr_core.infer.normalize import (
    check_normalization,
    from_network_range,
    mapping_for,
    to_network_range,
)


def test_uint16_round_trip_keeps_the_full_range():
    image = np.array([[0, 1, 32768, 65535]], np.uint16)
    mapping = mapping_for(image, {"mode": "auto"})
    unit = mapping.to_unit(image)
    assert mapping.mode == "dtype"
    assert unit.dtype == np.float32 and unit.min() == 0.0 and unit.max() == 1.0
    back, clipped = mapping.from_unit(unit)
    assert back.dtype == np.uint16
    np.testing.assert_array_equal(back, image)
    assert clipped.total == 0


def test_out_of_range_output_is_clipped_and_counted():
    mapping = mapping_for(np.array([[0, 255]], np.uint8), None)
    out, clipped = mapping.from_unit(np.array([[-0.1, 0.5], [1.2, 1.3]], np.float32))
    np.testing.assert_array_equal(out, [[0, 128], [255, 255]])
    assert (clipped.low, clipped.high) == (1, 2)
    assert "1 pixel(s) below 0" in clipped.note() and "2 above 255" in clipped.note()


def test_float32_on_request_is_in_input_units_unclipped():
    mapping = mapping_for(np.array([[0, 65535]], np.uint16), {"mode": "dtype"})
    out, clipped = mapping.from_unit(np.array([[-0.5, 1.5]], np.float32), "float32")
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[-0.5 * 65535, 1.5 * 65535]])
    assert clipped.total == 0


def test_percentile_mode_maps_the_percentiles_to_zero_and_one(rng):
    image = rng.integers(0, 65535, size=(64, 64)).astype(np.uint16)
    mapping = mapping_for(image, {"mode": "percentile", "low": 1, "high": 99})
    unit = mapping.to_unit(image)
    lo, hi = np.percentile(image, [1, 99])
    assert mapping.mode == "percentile"  # even though this image uses its dtype's range
    assert mapping.offset == pytest.approx(lo) and mapping.span == pytest.approx(hi - lo)
    assert np.mean(unit < 0) == pytest.approx(0.01, abs=0.005)
    assert np.mean(unit > 1) == pytest.approx(0.01, abs=0.005)
    back, clipped = mapping.from_unit(unit)
    np.testing.assert_array_equal(back, image)
    assert clipped.total == 0


def test_a_constant_image_does_not_divide_by_zero():
    image = np.full((8, 8), 700, np.uint16)
    mapping = mapping_for(image, {"mode": "percentile", "low": 1, "high": 99})
    unit = mapping.to_unit(image)
    assert np.isfinite(unit).all()
    back, _ = mapping.from_unit(unit)
    np.testing.assert_array_equal(back, image)


def test_tanh_networks_get_minus_one_to_one():
    unit = np.array([0.0, 0.5, 1.0], np.float32)
    net = to_network_range(unit, (-1.0, 1.0))
    np.testing.assert_allclose(net, [-1.0, 0.0, 1.0])
    np.testing.assert_allclose(from_network_range(net, (-1.0, 1.0)), unit)


def test_older_dtype_cards_read_as_the_policy():
    assert check_normalization({"mode": "dtype"})["mode"] == "auto"
    counts = np.linspace(339, 1343, 64, dtype=np.float32).reshape(8, 8)
    assert mapping_for(counts, {"mode": "dtype"}).mode == "percentile"


def test_bad_inputs_and_cards_are_named():
    with pytest.raises(InputError, match="NaN"):
        mapping_for(np.array([[np.nan, 1.0]], np.float32), {"mode": "auto"}, path="a.tif")
    with pytest.raises(InputError, match="complex"):
        mapping_for(np.zeros((2, 2), np.complex64), None, path="a.tif")
    with pytest.raises(ConfigError, match=r"normalization\.mode"):
        mapping_for(np.zeros((2, 2), np.uint8), {"mode": "zscore"})
    with pytest.raises(ConfigError, match=r"normalization\.low"):
        mapping_for(np.zeros((2, 2), np.uint8), {"mode": "percentile", "low": 99, "high": 1})
