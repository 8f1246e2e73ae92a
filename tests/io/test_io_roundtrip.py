"""Stacks written by semsr come back with the same pixels, type, range and pixel size."""

from __future__ import annotations

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile
from skimage import data as skdata

from semsr_core.errors import ConfigError, InputError, OutputError
from semsr_core.io import read_stack, write_stack


def _uint16_stack(rng, depth=5):
    stack = rng.integers(0, 65536, size=(depth, 48, 64), dtype=np.uint16)
    stack[0, 0, 0], stack[-1, -1, -1] = 0, 65535  # full range, must survive exactly
    return stack


def test_uint16_stack_keeps_pixels_range_and_pixel_size(tmp_path, rng):
    original = _uint16_stack(rng)
    path = write_stack(tmp_path / "s.ome.tif", original, pixel_size=1.37, unit="nm")
    with read_stack(path) as stack:
        assert stack.shape == original.shape
        assert stack.dtype == np.uint16
        assert stack.pixel_size == 1.37 and stack.unit == "nm"
        back = stack[:]
    assert back.min() == 0 and back.max() == 65535
    np.testing.assert_array_equal(back, original)


def test_float32_stack_keeps_values_and_pixel_size_given_in_micrometres(tmp_path, rng):
    original = rng.normal(0, 1e3, size=(3, 40, 50)).astype(np.float32)
    original[1, 2, 3] = np.finfo(np.float32).max
    original[2, 0, 0] = -1e-30
    path = write_stack(tmp_path / "f.ome.tif", original, pixel_size=0.0123, unit="µm")
    with read_stack(path) as stack:
        assert stack.dtype == np.float32
        assert stack.pixel_size == 12.3 and stack.unit == "nm"  # exact decimal conversion
        back = stack.asarray()
    assert back.min() == original.min() and back.max() == original.max()
    np.testing.assert_array_equal(back, original)


def test_uint8_single_image_reads_as_one_slice(tmp_path):
    image = skdata.camera()  # uint8, 512×512
    path = write_stack(tmp_path / "camera.ome.tif", image)
    with read_stack(path) as stack:
        assert len(stack) == 1 and stack.shape == (1, 512, 512)
        assert stack.dtype == np.uint8
        assert stack.pixel_size is None and stack.unit is None
        np.testing.assert_array_equal(stack[0], image)
        np.testing.assert_array_equal(stack[-1], image)


def test_slices_indexing_and_iteration_follow_stack_order(tmp_path, rng):
    original = _uint16_stack(rng, depth=6)
    tifffile.imwrite(tmp_path / "plain.tif", original, photometric="minisblack")
    with read_stack(tmp_path / "plain.tif") as stack:
        assert len(stack) == 6
        np.testing.assert_array_equal(stack[-2], original[4])
        np.testing.assert_array_equal(stack[1:5:2], original[1:5:2])
        np.testing.assert_array_equal(stack[2, 10:20, 5:9], original[2, 10:20, 5:9])
        slices = list(stack)
    assert len(slices) == 6 and all(s.ndim == 2 for s in slices)
    np.testing.assert_array_equal(np.stack(slices), original)


def test_streamed_generator_of_unknown_length_is_written_as_bigtiff(tmp_path, rng):
    original = _uint16_stack(rng, depth=4)
    path = write_stack(tmp_path / "g.ome.tif", (s for s in original), pixel_size=2.0)
    with tifffile.TiffFile(path) as tif:
        assert tif.is_ome and tif.is_bigtiff
    with read_stack(path) as stack:
        np.testing.assert_array_equal(stack[:], original)
        assert stack.pixel_size == 2.0


def test_small_array_is_written_as_classic_tiff(tmp_path, rng):
    path = write_stack(tmp_path / "c.ome.tif", _uint16_stack(rng, depth=2))
    with tifffile.TiffFile(path) as tif:
        assert tif.is_ome and not tif.is_bigtiff


def test_provenance_dictionary_round_trips(tmp_path, rng):
    provenance = {
        "model": "en1_defects@2026-01",
        "scale": 4,
        "settings": {"tile": 256, "overlap": 16, "device": "cpu"},
        "note": "Probe ü <&> \"quoted\"",
        "inputs": ["a.tif", "b.tif"],
        "clipped": None,
    }
    path = write_stack(tmp_path / "p.ome.tif", _uint16_stack(rng, 2), metadata=provenance)
    with read_stack(path) as stack:
        assert stack.metadata["provenance"] == provenance
        assert stack.metadata["source"] == str(path)


def test_stack_is_written_back_slice_by_slice_with_its_own_dtype(tmp_path, rng):
    original = _uint16_stack(rng, depth=3)
    tifffile.imwrite(tmp_path / "in.tif", original, photometric="minisblack")
    with read_stack(tmp_path / "in.tif") as stack:
        out = write_stack(tmp_path / "out.ome.tif", stack, compression="zlib")
    with read_stack(out) as copy:
        assert copy.dtype == np.uint16
        np.testing.assert_array_equal(copy[:], original)


def test_float_output_is_converted_to_requested_dtype_with_rounding(tmp_path):
    values = np.array([[0.0, 1.4, 1.6, 65535.0]], dtype=np.float64)
    path = write_stack(tmp_path / "r.ome.tif", values, dtype="uint16")
    with read_stack(path) as stack:
        np.testing.assert_array_equal(stack[0], [[0, 1, 2, 65535]])


def test_values_outside_requested_dtype_are_refused_not_clipped(tmp_path):
    values = np.array([[0.0, 70000.0]], dtype=np.float32)
    with pytest.raises(OutputError, match="outside the uint16 range"):
        write_stack(tmp_path / "x.ome.tif", values, dtype=np.uint16)
    assert list(tmp_path.iterdir()) == []


def test_unknown_unit_is_a_config_error_naming_it(tmp_path, rng):
    with pytest.raises(ConfigError, match="furlong"):
        write_stack(tmp_path / "u.ome.tif", _uint16_stack(rng, 1), pixel_size=1, unit="furlong")


def test_gray_png_reads_with_its_16_bit_range(tmp_path):
    image = (skdata.camera().astype(np.uint16) * 257)
    iio.imwrite(tmp_path / "camera16.png", image)
    with read_stack(tmp_path / "camera16.png") as stack:
        assert stack.shape == (1, 512, 512) and stack.dtype == np.uint16
        np.testing.assert_array_equal(stack[0], image)


def test_rgb_with_three_equal_channels_becomes_grayscale(tmp_path):
    gray = skdata.camera()
    rgb = np.repeat(gray[..., None], 3, axis=-1)
    rgba = np.concatenate([rgb, np.full_like(gray, 255)[..., None]], axis=-1)
    iio.imwrite(tmp_path / "gray_as_rgb.png", rgb)
    tifffile.imwrite(tmp_path / "gray_as_rgba.tif", np.stack([rgba, rgba]), photometric="rgb")
    tifffile.imwrite(tmp_path / "planar.tif", np.moveaxis(rgb, -1, 0), photometric="rgb",
                     planarconfig="separate")
    for name, depth in [("gray_as_rgb.png", 1), ("gray_as_rgba.tif", 2), ("planar.tif", 1)]:
        with read_stack(tmp_path / name) as stack:
            assert stack.shape == (depth, 512, 512), name
            np.testing.assert_array_equal(stack[-1], gray)


def test_true_colour_image_is_refused_with_advice(tmp_path):
    iio.imwrite(tmp_path / "astronaut.png", skdata.astronaut())
    tifffile.imwrite(tmp_path / "astronaut.tif", skdata.astronaut(), photometric="rgb")
    for name in ("astronaut.png", "astronaut.tif"):
        with pytest.raises(InputError, match="true-colour") as caught:
            read_stack(tmp_path / name)
        assert name in str(caught.value) and "grayscale" in str(caught.value)


def test_other_pixel_types_are_read_as_float32_with_a_note(tmp_path):
    values = np.array([[[-300, 0, 300]]], dtype=np.int16)
    tifffile.imwrite(tmp_path / "i16.tif", values, photometric="minisblack")
    with read_stack(tmp_path / "i16.tif") as stack:
        assert stack.dtype == np.float32
        np.testing.assert_array_equal(stack[0], [[-300.0, 0.0, 300.0]])
        assert any("int16" in note for note in stack.metadata["notes"])


def test_indexed_gray_tiff_reads_as_its_gray_values(tmp_path):
    gray = skdata.camera()
    ramp = (np.arange(256, dtype=np.uint16) * 257)[::-1]  # inverted gray ramp
    tifffile.imwrite(tmp_path / "indexed.tif", 255 - gray, photometric="palette",
                     colormap=np.tile(ramp, (3, 1)))
    with read_stack(tmp_path / "indexed.tif") as stack:
        assert stack.dtype == np.uint8
        np.testing.assert_array_equal(stack[0], gray)


def test_indexed_colour_tiff_is_refused(tmp_path):
    colormap = np.zeros((3, 256), np.uint16)
    colormap[0] = np.arange(256) * 257  # a red ramp
    tifffile.imwrite(tmp_path / "red.tif", skdata.camera(), photometric="palette",
                     colormap=colormap)
    with pytest.raises(InputError, match="true-colour"):
        read_stack(tmp_path / "red.tif")


def test_white_is_zero_tiff_is_inverted_so_bright_is_high(tmp_path):
    gray = skdata.camera()
    tifffile.imwrite(tmp_path / "miniswhite.tif", 255 - gray, photometric="miniswhite")
    with read_stack(tmp_path / "miniswhite.tif") as stack:
        np.testing.assert_array_equal(stack[0], gray)


def test_big_endian_tiff_reads_the_same_values(tmp_path, rng):
    original = _uint16_stack(rng, depth=3)
    tifffile.imwrite(tmp_path / "motorola.tif", original, byteorder=">",
                     photometric="minisblack")
    with read_stack(tmp_path / "motorola.tif") as stack:
        assert stack.dtype == np.uint16
        np.testing.assert_array_equal(stack[:], original)


def test_boolean_mask_is_written_as_uint8_zeros_and_ones(tmp_path):
    mask = np.zeros((8, 8), bool)
    mask[2:4, 3:6] = True
    with read_stack(write_stack(tmp_path / "mask.ome.tif", mask)) as stack:
        assert stack.dtype == np.uint8
        np.testing.assert_array_equal(stack[0], mask.astype(np.uint8))
