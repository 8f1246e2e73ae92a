"""Geometric augmentation: rot90/flip, rotations, stretch/shear on aligned LR/HR pairs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage as ndi

from semsr_core.data.augment import (
    DIHEDRAL_COUNT,
    context_margin,
    dihedral,
    pair_windows,
    rotation,
    rotation_angles,
    stretch_shear,
    undo_dihedral,
    warp_tile,
    warp_windows,
    window_around,
)


def _smooth_scene(shape, scale, offset=0.0):
    """An analytic smooth image sampled on an HR grid (scale 1) or on the LR grid whose
    pixel i covers HR pixels [s·i, s·i+s) (centre at HR coordinate s·i + (s-1)/2)."""
    rows = np.arange(shape[0]) * scale + (scale - 1) / 2.0
    cols = np.arange(shape[1]) * scale + (scale - 1) / 2.0
    y, x = np.meshgrid(rows, cols, indexing="ij")
    value = (0.5 + 0.2 * np.sin(x / 23.0 + 0.3) * np.cos(y / 31.0)
             + 0.15 * np.sin((x + 2 * y) / 41.0 + offset))
    return value.astype(np.float32)


def test_the_eight_rot90_flip_variants_are_distinct_and_invertible(rng):
    image = rng.random((12, 12)).astype(np.float32)
    variants = [dihedral(image, k) for k in range(DIHEDRAL_COUNT)]
    assert len({v.tobytes() for v in variants}) == DIHEDRAL_COUNT
    for k, v in enumerate(variants):
        np.testing.assert_array_equal(undo_dihedral(v, k), image)
    np.testing.assert_array_equal(variants[0], image)
    np.testing.assert_array_equal(variants[1], np.rot90(image))  # counter-clockwise
    np.testing.assert_array_equal(variants[4], image[:, ::-1])


def test_rot90_flip_keeps_lr_and_hr_aligned(rng):
    hr = rng.random((16, 16)).astype(np.float32)
    lr = hr.reshape(4, 4, 4, 4).mean(axis=(1, 3))
    for k in range(DIHEDRAL_COUNT):
        hr_k = dihedral(hr, k)
        np.testing.assert_allclose(dihedral(lr, k), hr_k.reshape(4, 4, 4, 4).mean(axis=(1, 3)),
                                   atol=1e-6)


def test_dihedral_refuses_a_ninth_variant():
    with pytest.raises(ValueError):
        dihedral(np.zeros((4, 4)), 8)


def test_sixteen_rotation_angles_step_by_a_sixteenth_turn():
    angles = rotation_angles(16)
    assert len(angles) == 16
    np.testing.assert_allclose(np.diff(angles), 2 * math.pi / 16)
    assert angles[0] == 0.0


@pytest.mark.parametrize("angle", [0.3, 1.0, -2.2])
def test_rotation_turns_the_same_way_as_scipy_about_the_centre(angle):
    from skimage.data import camera

    image = camera().astype(np.float32) / 255.0
    ours = warp_tile(image, rotation(angle), image.shape, order=1)
    ref = ndi.rotate(image, math.degrees(angle), reshape=False, order=1, mode="reflect")
    centre = slice(150, 362)  # away from the corners, where the two fill differently
    np.testing.assert_allclose(ours[centre, centre], ref[centre, centre], atol=1e-4)


def test_quarter_turns_are_exact_rot90(rng):
    tile = rng.random((8, 8)).astype(np.float32)
    np.testing.assert_array_equal(warp_tile(tile, rotation(math.pi / 2), (8, 8)),
                                  np.rot90(tile))
    np.testing.assert_array_equal(warp_tile(tile, rotation(0.0), (8, 8)), tile)


def test_rotated_tile_corners_show_the_real_surroundings():
    """A tile turned by 45° gets its corners from the image around it, not a fill."""
    scene = _smooth_scene((200, 200), 1)
    top = left = 68
    size = 64
    matrix = rotation(math.pi / 4)
    margin = context_margin(size, matrix, order=1)
    window = window_around(scene, top, left, size, size, margin)
    tile = warp_tile(window, matrix, (size, size), order=1)
    # the same rotation of the whole image about the tile's centre, then cropped
    whole = ndi.rotate(scene, 45.0, reshape=False, order=1, mode="reflect")
    np.testing.assert_allclose(tile, whole[top:top + size, left:left + size], atol=1e-4)


@pytest.mark.parametrize("matrix", [rotation(0.7), stretch_shear(1.2, 0.85, 0.15),
                                    rotation(2.0) @ stretch_shear(0.9, 1.1, -0.2)])
def test_warped_lr_and_hr_tiles_stay_aligned(matrix):
    """After rotation/stretch/shear each LR pixel still sits on its s×s HR block: the HR
    tile sampled at the LR pixel centres equals the LR tile (smooth scene)."""
    scale, size, top, left = 4, 32, 40, 50
    lr = _smooth_scene((120, 120), scale)
    hr = _smooth_scene((480, 480), 1)
    margin = context_margin(size, matrix)
    lr_win, hr_win = pair_windows(lr, hr, scale, top, left, size, margin)
    lr_t, hr_t, _ = warp_windows(lr_win, hr_win, None, matrix, size, scale)
    assert lr_t.shape == (size, size) and hr_t.shape == (size * scale, size * scale)
    centres = np.arange(size) * scale + (scale - 1) / 2.0
    yy, xx = np.meshgrid(centres, centres, indexing="ij")
    hr_at_lr = ndi.map_coordinates(hr_t, [yy, xx], order=3)
    np.testing.assert_allclose(hr_at_lr, lr_t, atol=1e-3)
    # and a misplacement by half an HR pixel would have been caught:
    shifted = ndi.map_coordinates(hr_t, [yy + 0.5, xx], order=3)
    assert np.abs(shifted - lr_t).max() > 3e-3


def test_stretch_makes_structures_taller():
    bar = np.zeros((64, 64), dtype=np.float32)
    bar[28:36, :] = 1.0  # 8 rows tall
    out = warp_tile(bar, stretch_shear(1.5, 1.0), (64, 64), order=1)
    assert (out[:, 32] > 0.5).sum() == pytest.approx(12, abs=1)


def test_window_is_mirrored_where_it_leaves_the_image(rng):
    image = rng.random((10, 10)).astype(np.float32)
    window = window_around(image, 0, 0, 4, 4, 3)
    np.testing.assert_array_equal(window, np.pad(image, 3, mode="symmetric")[:10, :10])
