"""Synthetic defects: the defect source F, random shapes, and exact LR/HR pasting."""

from __future__ import annotations

import re

import numpy as np
import pytest

from semsr_core.data.defects import (
    DEFAULT_SOURCE_IMAGES,
    DefectSource,
    LabDegradation,
    add_defects,
    area_reduce,
    cut_patch,
    paste_crops,
    random_shape_mask,
)
from semsr_core.errors import ConfigError, InputError


def _area(hr: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
    s = 4
    h, w = hr.shape
    return hr.reshape(h // s, s, w // s, s).mean(axis=(1, 3))


def _bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return rows[0], rows[-1] + 1, cols[0], cols[-1] + 1


@pytest.mark.parametrize("shape", ["polygon", "blob", "random"])
def test_a_constant_patch_lands_in_hr_at_exactly_scale_times_its_lr_place(shape):
    """LR gets the patch with the opacity of the HR mask area-reduced; HR gets it in the
    mask. With known content (1.0 on a zero tile) that is exact."""
    scale = 4
    source = DefectSource.from_images([np.ones((300, 300), dtype=np.float32)])
    make_lr = LabDegradation("bicubic", scale)  # bicubic of a constant is that constant
    for seed in range(5):
        lr = np.zeros((32, 32), dtype=np.float32)
        hr = np.zeros((128, 128), dtype=np.float32)
        mask = np.zeros(hr.shape, dtype=bool)
        add_defects(lr, hr, mask, source, np.random.default_rng(seed), scale, make_lr,
                    size_range=(6, 14), shape=shape)
        assert mask.any()
        np.testing.assert_array_equal(hr, mask.astype(np.float32))  # HR = patch in mask
        np.testing.assert_allclose(lr, area_reduce(mask, scale), atol=1e-6)
        y0, y1, x0, x1 = _bbox(lr > 0)
        hy0, hy1, hx0, hx1 = _bbox(mask)
        assert (y0, x0) == (hy0 // scale, hx0 // scale)
        assert (y1, x1) == (-(-hy1 // scale), -(-hx1 // scale))


def test_hr_patch_is_the_scale_times_larger_crop_of_the_lr_patch():
    """Content check with a ramp (every source pixel unique) and the area degradation:
    the LR patch is exactly the area-reduced HR patch, at 1/scale of its position."""
    scale = 4
    ramp = (np.arange(512 * 512, dtype=np.float64).reshape(512, 512) / (512 * 512)).astype(
        np.float32)
    source = DefectSource.from_images([ramp])
    lr = np.zeros((40, 40), dtype=np.float32)
    hr = np.zeros((160, 160), dtype=np.float32)
    mask = np.zeros(hr.shape, dtype=bool)
    add_defects(lr, hr, mask, source, np.random.default_rng(3), scale, _area,
                size_range=(10, 10), shape="rect")
    y0, y1, x0, x1 = _bbox(mask)
    assert (y1 - y0, x1 - x0) == (40, 40)
    assert y0 % scale == 0 and x0 % scale == 0
    hr_patch = hr[y0:y1, x0:x1]
    # the HR patch is a contiguous crop of the source
    row0, col0 = np.unravel_index(np.argmin(np.abs(ramp - hr_patch[0, 0])), ramp.shape)
    np.testing.assert_array_equal(hr_patch, ramp[row0:row0 + 40, col0:col0 + 40])
    lr_patch = lr[y0 // scale:y1 // scale, x0 // scale:x1 // scale]
    np.testing.assert_allclose(lr_patch, _area(hr_patch), atol=1e-6)
    assert (lr != 0).sum() == 100  # nothing else in LR changed


@pytest.mark.parametrize("shape", ["polygon", "blob"])
def test_random_shapes_are_not_rectangles(shape):
    fills = []
    for seed in range(20):
        mask = random_shape_mask(np.random.default_rng(seed), 48, 40, shape)
        assert mask.shape == (48, 40) and mask.any()
        y0, y1, x0, x1 = _bbox(mask)
        fills.append(mask.sum() / ((y1 - y0) * (x1 - x0)))
    assert max(fills) < 0.97  # never a full rectangle
    assert len({round(f, 3) for f in fills}) > 10  # and they vary


def test_unknown_shape_is_a_config_error():
    with pytest.raises(ConfigError, match="zigzag"):
        random_shape_mask(np.random.default_rng(0), 8, 8, "zigzag")


def test_default_source_is_grayscale_natural_images_from_scikit_image():
    source = DefectSource.default()
    assert len(source) == len(DEFAULT_SOURCE_IMAGES) >= 10
    for i in range(len(source)):
        img = source.image(i)
        assert img.ndim == 2 and img.dtype == np.float32
        assert 0.0 <= img.min() and img.max() <= 1.0 and img.std() > 0.02


def test_folder_source_reads_colour_and_gray_images_as_gray(tmp_path, rng):
    import imageio.v3 as iio
    import tifffile

    iio.imwrite(tmp_path / "a.png", (rng.random((40, 50, 3)) * 255).astype(np.uint8))
    tifffile.imwrite(tmp_path / "b.tif", (rng.random((60, 30)) * 65535).astype(np.uint16))
    (tmp_path / "notes.txt").write_text("not an image")
    source = DefectSource.from_folder(tmp_path)
    assert len(source) == 2
    assert source.image(0).shape == (40, 50) and source.image(1).shape == (60, 30)
    crop = source.crop(np.random.default_rng(0), 20, 20)
    assert crop.shape == (20, 20) and crop.dtype == np.float32


def test_folder_source_errors_name_the_folder_or_file(tmp_path):
    with pytest.raises(InputError, match="missing"):
        DefectSource.from_folder(tmp_path / "missing")
    with pytest.raises(InputError, match=re.escape(str(tmp_path))):
        DefectSource.from_folder(tmp_path)  # empty
    (tmp_path / "broken.png").write_bytes(b"not a png at all")
    source = DefectSource.from_folder(tmp_path)
    with pytest.raises(InputError, match=re.escape("broken.png")):
        source.image(0)


def test_zssr_pasting_takes_all_n1_crops_from_one_image():
    scale = 2
    source = DefectSource.from_images([np.full((100, 100), v, dtype=np.float32)
                                       for v in (0.2, 0.4, 0.6, 0.8)])
    seen = set()
    for seed in range(8):
        lr = np.zeros((50, 50), dtype=np.float32)
        hr = np.zeros((100, 100), dtype=np.float32)
        mask = np.zeros(hr.shape, dtype=bool)
        paste_crops(lr, hr, mask, source, np.random.default_rng(seed), scale,
                    LabDegradation("area", scale), n1=5, sizes=(3, 6))
        values = np.unique(hr[mask])
        assert len(values) == 1  # one source image per call
        seen.add(round(float(values[0]), 3))
        np.testing.assert_allclose(lr, area_reduce(mask, scale) * values[0], atol=1e-6)
        assert mask.sum() >= 9 * scale * scale  # rectangles of at least 3×3 LR pixels
    assert len(seen) > 1  # but a different one from call to call


def test_a_degradation_of_the_wrong_size_is_refused():
    source = DefectSource.from_images([np.ones((64, 64), dtype=np.float32)])

    def wrong(hr, rng):
        return hr[::2, ::2]  # scale 2, but the data is at scale 4

    with pytest.raises(ConfigError, match="HR size / scale"):
        cut_patch(source, np.random.default_rng(0), 5, 5, 4, wrong)


def test_lr_patches_use_the_labs_degradation():
    """With the crappify degradation the LR patch is blurred like the lab's LR."""
    ramp = np.zeros((200, 200), dtype=np.float32)
    ramp[:, 100:] = 1.0  # a sharp edge
    source = DefectSource.from_images([ramp])
    sharp = cut_patch(source, np.random.default_rng(1), 20, 20, 4, LabDegradation("area", 4),
                      shape="rect")
    soft = cut_patch(source, np.random.default_rng(1), 20, 20, 4,
                     LabDegradation("crappify", 4), shape="rect")
    np.testing.assert_array_equal(sharp.hr, soft.hr)  # same crop
    assert np.abs(np.diff(soft.lr, axis=1)).max() < np.abs(np.diff(sharp.lr, axis=1)).max()
