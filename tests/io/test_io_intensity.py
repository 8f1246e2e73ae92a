"""The one intensity policy: integers by their range when they use it, floats and narrow
integers by robust percentiles, per stack, and back to the input's units and dtype."""

from __future__ import annotations

import numpy as np
import pytest

from semsr_core.errors import InputError
from semsr_core.io import intensity
from semsr_core.io.intensity import choose_mapping, to_unit_range


def _scene(rng, shape=(64, 64)):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return 0.5 + 0.4 * np.sin(xx / 5.0) * np.cos(yy / 7.0) + 0.02 * rng.standard_normal(shape)


def test_integer_images_that_use_their_range_map_by_the_dtype():
    assert to_unit_range(np.array([[0, 65535]], np.uint16)).tolist() == [[0.0, 1.0]]
    assert to_unit_range(np.array([[0, 255]], np.uint8)).tolist() == [[0.0, 1.0]]
    signed = np.array([[-32768, 32767]], np.int16)
    assert choose_mapping(signed).mode == "dtype"
    assert to_unit_range(signed).tolist() == [[0.0, 1.0]]


@pytest.mark.parametrize("dtype, low, high", [
    (np.uint16, 0, 4095),          # a 12-bit detector stored as uint16
    (np.uint16, 1282, 2709),       # a narrow 16-bit scan
    (np.int16, 100, 3000),
    (np.uint32, 0, 70000),
    (np.float32, 339.0, 1343.0),   # detector counts as float
    (np.float32, -1.0, 1.0),       # signed float
    (np.float32, 0.2, 0.3),        # a float in [0, 1] that uses a tenth of it
])
def test_floats_and_narrow_integers_map_by_percentiles_and_back(rng, dtype, low, high):
    scene = _scene(rng)
    image = (low + (high - low) * np.clip(scene, 0, 1)).astype(dtype)
    mapping = choose_mapping(image, path="scan.tif")
    assert mapping.mode == "percentile"
    unit = mapping.to_unit(image)
    assert np.percentile(unit, 0.1) == pytest.approx(0.0, abs=1e-4)
    assert np.percentile(unit, 99.9) == pytest.approx(1.0, abs=1e-4)
    back, clipped = mapping.from_unit(unit)
    assert back.dtype == np.dtype(dtype) and clipped.total == 0
    np.testing.assert_allclose(back.astype(np.float64), image.astype(np.float64),
                               atol=1e-3 * (high - low) + 1e-6)


def test_floats_in_unit_range_that_use_it_map_as_their_uint16_original(rng):
    scene = np.clip(_scene(rng), 0, 1)
    as_uint16 = np.round(scene * 65535).astype(np.uint16)
    as_float = (as_uint16 / 65535).astype(np.float32)
    mapping = choose_mapping(as_float)
    assert mapping.mode == "dtype" and (mapping.offset, mapping.span) == (0.0, 1.0)
    np.testing.assert_allclose(mapping.to_unit(as_float), to_unit_range(as_uint16),
                               atol=1e-6)


def test_a_unit_range_float_with_interpolation_overshoot_keeps_the_unit_convention(rng):
    """A registered [0, 1] scan with one pixel at −0.002 maps as its clean twin does (it
    used to be stretched by its own percentiles: a training target with its own
    contrast); far outside [0, 1] it is another kind of data, mapped by percentiles."""
    scene = (np.clip(_scene(rng), 0, 1) * 0.7 + 0.02).astype(np.float32)
    overshoot = scene.copy()
    overshoot[3, 4] = -0.002
    mapping = choose_mapping(overshoot)
    assert mapping.mode == "dtype" and (mapping.offset, mapping.span) == (0.0, 1.0)
    np.testing.assert_array_equal(mapping.to_unit(scene), choose_mapping(scene).to_unit(scene))
    assert not mapping.unit_input  # its outputs are not clipped to [0, 1]
    overshoot[3, 4] = -0.1
    assert choose_mapping(overshoot).mode == "percentile"


def test_float_outputs_are_clipped_to_unit_range_only_for_unit_range_inputs():
    unit_input = choose_mapping(np.array([[0.0, 0.5, 1.0]] * 8, np.float32))
    counts = choose_mapping(np.array([[339.0, 800.0, 1343.0]] * 8, np.float32))
    over = np.array([[-0.5, 1.5]], np.float32)
    out, clipped = unit_input.from_unit(over)
    assert out.min() >= 0.0 and out.max() <= 1.0 and clipped.total == 2
    out, clipped = counts.from_unit(over)
    assert out.min() < 339.0 and out.max() > 1343.0 and clipped.total == 0


def test_a_stack_is_mapped_as_a_whole_not_slice_by_slice(rng):
    dim = (100 + 800 * np.clip(_scene(rng), 0, 1)).astype(np.float32)
    stack = np.stack([dim, dim * 3.0])
    mapping = choose_mapping(stack)
    first = mapping.to_unit(stack[0])
    second = mapping.to_unit(stack[1])
    assert second.mean() > 2.0 * first.mean()  # the slices keep their relation
    assert choose_mapping(stack[:1]).to_unit(stack[0]).mean() > first.mean()


def test_large_stacks_are_sampled_deterministically(rng, monkeypatch):
    monkeypatch.setattr(intensity, "SAMPLE_PIXELS", 5000)
    stack = (1000 + 2000 * rng.random((40, 64, 64))).astype(np.float32)
    first, again = choose_mapping(stack), choose_mapping(stack)
    assert first == again and first.sampled is not None and first.sampled <= 5000 * 1.1
    exact = np.percentile(stack, [0.1, 99.9])
    assert first.offset == pytest.approx(exact[0], rel=0.01)
    assert first.offset + first.span == pytest.approx(exact[1], rel=0.01)


def test_pixels_that_cannot_be_mapped_are_named():
    with pytest.raises(InputError, match=r"scan\.tif.*NaN"):
        to_unit_range(np.array([[np.nan, 1.0]], np.float32), "scan.tif")
    with pytest.raises(InputError, match=r"scan\.tif.*complex"):
        to_unit_range(np.zeros((2, 2), np.complex64), "scan.tif")
    with pytest.raises(InputError, match=r"scan\.tif.*binary"):
        to_unit_range(np.zeros((2, 2), bool), "scan.tif")


def test_the_mapping_is_recorded_readably():
    mapping = choose_mapping(np.array([[1282, 2709]] * 4, np.uint16))
    record = mapping.to_dict()
    assert record["mode"] == "percentile" and record["dtype"] == "uint16"
    assert intensity.IntensityMapping.from_dict(record) == mapping
    assert "percentiles" in mapping.describe()
