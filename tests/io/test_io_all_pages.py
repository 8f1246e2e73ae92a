"""Every page of a multi-page TIFF is a slice; a page that does not fit is an error."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from semsr_core.cli import main
from semsr_core.errors import InputError
from semsr_core.io import read_stack


def _slices(rng, depth=4, shape=(32, 40)):
    return rng.integers(0, 60000, size=(depth, *shape), dtype=np.uint16)


def _write_pages(path, pages, **kwargs):
    with tifffile.TiffWriter(path, **kwargs) as writer:
        for page in pages:
            writer.write(page, photometric="minisblack")


@pytest.mark.parametrize("bigtiff", [False, True])
def test_pages_written_by_separate_writes_are_all_slices(tmp_path, rng, bigtiff, capsys):
    """Each write() is its own tifffile series; reading only the first gave 1 of 4."""
    original = _slices(rng)
    path = tmp_path / "separate.tif"
    _write_pages(path, original, bigtiff=bigtiff)
    with tifffile.TiffFile(path) as tif:
        assert len(tif.series) == 4  # the layout this test is about
    with read_stack(path) as stack:
        assert stack.shape == (4, 32, 40)
        np.testing.assert_array_equal(stack[:], original)
        np.testing.assert_array_equal(stack[-1], original[3])
    assert main(["info", str(path)]) == 0
    assert "4 slice(s) of 32×40 uint16" in capsys.readouterr().out


def test_a_stack_with_a_page_appended_later_keeps_every_page_in_order(tmp_path, rng):
    original = _slices(rng, depth=5)
    path = tmp_path / "appended.tif"
    tifffile.imwrite(path, original[:3], photometric="minisblack")
    with tifffile.TiffWriter(path, append=True) as writer:
        writer.write(original[3], photometric="minisblack")
        writer.write(original[4], photometric="minisblack", metadata=None)
    with read_stack(path) as stack:
        assert len(stack) == 5
        for index in range(5):
            np.testing.assert_array_equal(stack[index], original[index])


@pytest.mark.parametrize("odd_page", [0, 2, 3])
def test_a_page_of_another_size_is_an_error_naming_its_index(tmp_path, rng, odd_page, capsys):
    pages = list(_slices(rng))
    pages[odd_page] = pages[odd_page][:16, :20].copy()
    path = tmp_path / "odd_page.tif"
    _write_pages(path, pages)
    with pytest.raises(InputError) as caught:
        read_stack(path)
    message = str(caught.value)
    assert str(path) in message
    # the first page is the reference, so an odd first page makes page 1 the misfit
    assert f"page {max(odd_page, 1)} " in message and "same size" in message
    assert main(["info", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and f"page {max(odd_page, 1)} " in err


def test_a_page_of_another_pixel_type_is_an_error_naming_its_index(tmp_path, rng):
    pages = list(_slices(rng, depth=3))
    pages[1] = pages[1].astype(np.float32)
    path = tmp_path / "odd_dtype.tif"
    _write_pages(path, pages)
    with pytest.raises(InputError, match=r"page 1 .*float32.*uint16"):
        read_stack(path)


def test_one_generic_file_with_a_misfit_page_in_the_middle_is_refused(tmp_path, rng):
    """Pages without tifffile metadata are grouped by shape, which would move page 3
    up to slice 2 and drop page 2; we refuse instead."""
    pages = list(_slices(rng))
    pages[2] = pages[2][:8, :8].copy()
    path = tmp_path / "generic.tif"
    with tifffile.TiffWriter(path) as writer:
        for page in pages:
            writer.write(page, photometric="minisblack", metadata=None)
    with pytest.raises(InputError, match="page 2 "):
        read_stack(path)


def test_a_reduced_resolution_preview_page_is_not_a_slice(tmp_path, rng):
    image = _slices(rng, depth=1)[0]
    path = tmp_path / "with_preview.tif"
    with tifffile.TiffWriter(path) as writer:
        writer.write(image, photometric="minisblack")
        writer.write(image[::4, ::4], photometric="minisblack", subfiletype=1)
    with read_stack(path) as stack:
        assert stack.shape == (1, 32, 40)
        np.testing.assert_array_equal(stack[0], image)


def test_separate_pages_are_still_read_lazily(tmp_path, rng):
    """A damaged page fails only when its slice is read, as for a one-series stack."""
    original = _slices(rng)
    path = tmp_path / "separate_zlib.tif"
    with tifffile.TiffWriter(path) as writer:
        for page in original:
            writer.write(page, photometric="minisblack", compression="zlib")
    with tifffile.TiffFile(path) as tif:
        offset, count = tif.pages[2].dataoffsets[0], tif.pages[2].databytecounts[0]
    with open(path, "r+b") as handle:
        handle.seek(offset)
        handle.write(b"\x00" * count)
    with read_stack(path) as stack:
        np.testing.assert_array_equal(stack[3], original[3])
        with pytest.raises(InputError, match="slice 2"):
            stack[2]


def test_separate_rgb_pages_of_a_gray_scan_become_gray_slices(tmp_path, rng):
    gray = _slices(rng, depth=2).astype(np.uint8)
    path = tmp_path / "rgb_pages.tif"
    with tifffile.TiffWriter(path) as writer:
        for page in gray:
            writer.write(np.stack([page] * 3, axis=-1), photometric="rgb")
    with read_stack(path) as stack:
        assert stack.shape == (2, 32, 40)
        np.testing.assert_array_equal(stack[1], gray[1])
