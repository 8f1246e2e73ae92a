"""Stacks are read slice by slice: a slice is decoded only when it is asked for."""

from __future__ import annotations

import os

import numpy as np
import pytest
import tifffile

from semsr_core.errors import InputError
from semsr_core.io import read_stack


def _stack(rng, depth=8):
    return rng.integers(0, 4096, size=(depth, 64, 64), dtype=np.uint16)


def test_reading_one_slice_does_not_touch_the_others(tmp_path, rng):
    """Every page but k is garbage: an eager reader would fail on open, ours reads slice k."""
    original = _stack(rng)
    path = tmp_path / "mostly_broken.tif"
    tifffile.imwrite(path, original, photometric="minisblack", compression="zlib")
    keep = 5
    with tifffile.TiffFile(path) as tif:
        regions = [(p.dataoffsets[0], p.databytecounts[0]) for p in tif.pages]
    with open(path, "r+b") as handle:
        for index, (offset, count) in enumerate(regions):
            if index != keep:
                handle.seek(offset)
                handle.write(b"\x00" * count)

    with read_stack(path) as stack:
        assert stack.shape == original.shape
        np.testing.assert_array_equal(stack[keep], original[keep])
        np.testing.assert_array_equal(stack[keep - len(stack)], original[keep])
        with pytest.raises(InputError, match="slice 2"):
            stack[2]


def test_iteration_is_a_generator_not_a_loaded_list(tmp_path, rng):
    original = _stack(rng, depth=3)
    path = tmp_path / "s.tif"
    tifffile.imwrite(path, original, photometric="minisblack")
    with read_stack(path) as stack:
        slices = iter(stack)
        first = next(slices)
        np.testing.assert_array_equal(first, original[0])
        assert first.base is None or first.base.size == first.size  # one slice, not the stack


def test_single_block_stack_is_read_slice_by_slice_through_a_memory_map(tmp_path, rng):
    """tifffile's 'truncate' layout has one IFD for the whole contiguous stack."""
    original = _stack(rng, depth=5)
    path = tmp_path / "one_ifd.tif"
    tifffile.imwrite(path, original, photometric="minisblack", truncate=True)
    with tifffile.TiffFile(path) as tif:
        assert len(tif.pages) == 1  # the layout this test is about
    with read_stack(path) as stack:
        assert stack.shape == original.shape
        np.testing.assert_array_equal(stack[3], original[3])
        np.testing.assert_array_equal(stack[:], original)


def test_single_block_stack_cut_short_is_refused(tmp_path, rng):
    path = tmp_path / "one_ifd_cut.tif"
    tifffile.imwrite(path, _stack(rng, depth=5), photometric="minisblack", truncate=True)
    with open(path, "r+b") as handle:
        handle.truncate(os.path.getsize(path) - 5000)
    with pytest.raises(InputError, match="truncated") as caught:
        read_stack(path)
    assert str(path) in str(caught.value)


def test_closed_stack_refuses_to_read(tmp_path, rng):
    path = tmp_path / "s.tif"
    tifffile.imwrite(path, _stack(rng, depth=2), photometric="minisblack")
    stack = read_stack(path)
    stack.close()
    with pytest.raises(ValueError, match="closed"):
        stack[0]


def test_pickled_stack_reopens_its_file_in_another_process(tmp_path, rng):
    """What Dask or multiprocessing workers get: the same slices, their own file handle."""
    import pickle

    original = _stack(rng, depth=3)
    path = tmp_path / "s.tif"
    tifffile.imwrite(path, original, photometric="minisblack")
    with read_stack(path) as stack:
        copy = pickle.loads(pickle.dumps(stack))
    with copy:  # the original is closed; the copy has its own handle
        assert copy.ndim == 3 and copy.shape == original.shape
        np.testing.assert_array_equal(copy[2], original[2])
