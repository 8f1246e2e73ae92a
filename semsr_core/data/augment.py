"""Geometric augmentation of aligned LR/HR pairs (SPEC §3.4).

Three families, all applied identically to the LR tile, its HR tile (``scale`` times
larger) and, where there is one, the HR mask of pasted content:

* the 8 rot90/flip variants (:func:`dihedral`, exact and invertible);
* rotation by any angle, e.g. ``k·2π/n`` with ``n = 16`` for the ``en1`` recipe
  ([S0] §4.2.1) or ``π·i/β`` for synthetic defects ([S0] Algorithm 1);
* stretch and shear ([S0] appendix A).

Arbitrary angles and stretches are sampled about the tile centre from a *window* that
holds the tile plus a margin of its surroundings in the full image
(:func:`context_margin`), so the tile keeps its size and its corners show the real
neighbouring structure instead of a fill colour; only where the window leaves the
image is it padded by mirror reflection (``numpy.pad(mode="symmetric")``, matching
``scipy.ndimage``'s ``"reflect"``). LR and HR use the same linear map about
corresponding centres, so an HR pixel stays at exactly ``scale`` times its LR position.

Matrices are 2×2 in (row, column) pixel coordinates and map the *input* image forward
onto the output; positive angles turn the image counter-clockwise as displayed, the
same way as ``numpy.rot90`` and ``scipy.ndimage.rotate``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage as ndi

DIHEDRAL_COUNT = 8
"""Number of rot90/flip variants of a square image."""


# ----------------------------------------------------------------- rot90 / flip


def dihedral(image: np.ndarray, k: int) -> np.ndarray:
    """Variant ``k`` (0–7) of the 8 rot90/flip variants of ``image`` (last two axes).

    ``k % 4`` quarter turns counter-clockwise, preceded by a left–right flip when
    ``k >= 4``. ``k = 0`` is the image itself. Exact (no interpolation); undo with
    :func:`undo_dihedral`.
    """
    k = _check_dihedral(k)
    out = image[..., ::-1] if k >= 4 else image
    return np.ascontiguousarray(np.rot90(out, k % 4, axes=(-2, -1)))


def undo_dihedral(image: np.ndarray, k: int) -> np.ndarray:
    """Inverse of :func:`dihedral`: ``undo_dihedral(dihedral(x, k), k) == x``."""
    k = _check_dihedral(k)
    out = np.rot90(image, -(k % 4), axes=(-2, -1))
    if k >= 4:
        out = out[..., ::-1]
    return np.ascontiguousarray(out)


def _check_dihedral(k: int) -> int:
    if not 0 <= int(k) < DIHEDRAL_COUNT:
        raise ValueError(f"dihedral variant must be 0..7, got {k}")
    return int(k)


# ----------------------------------------------------------------- linear maps


def rotation_angles(n: int = 16) -> np.ndarray:
    """The ``n`` angles ``k·2π/n`` (radians), k = 0..n-1 ([S0] §4.2.1 uses n = 16)."""
    return np.arange(n) * (2.0 * math.pi / n)


def rotation(angle: float) -> np.ndarray:
    """Forward 2×2 map that turns an image by ``angle`` radians counter-clockwise."""
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s], [s, c]])


def stretch_shear(stretch_rows: float = 1.0, stretch_cols: float = 1.0,
                  shear: float = 0.0) -> np.ndarray:
    """Forward 2×2 map: shear columns by ``shear`` × row, then stretch each axis.

    A ``stretch_rows`` of 1.2 makes structures 20 % taller; ``shear = 0.1`` slants
    vertical edges by about 6°.
    """
    return np.array([[stretch_rows, 0.0], [0.0, stretch_cols]]) @ np.array(
        [[1.0, 0.0], [shear, 1.0]])


def random_stretch_shear(rng: np.random.Generator, max_stretch: float = 0.2,
                         max_shear: float = 0.2) -> np.ndarray:
    """A random stretch/shear ([S0] appendix A): each axis scaled by a factor in
    ``[1/(1+max_stretch), 1+max_stretch]`` (log-uniform) and a shear in
    ``[-max_shear, max_shear]``."""
    log_max = math.log1p(max_stretch)
    sy, sx = np.exp(rng.uniform(-log_max, log_max, size=2))
    shear = rng.uniform(-max_shear, max_shear)
    return stretch_shear(float(sy), float(sx), float(shear))


def quarter_turns(matrix: np.ndarray) -> int | None:
    """``k`` if ``matrix`` is exactly a rotation by ``k·π/2`` (then :func:`warp_tile`
    uses ``numpy.rot90``, no interpolation), else ``None``."""
    for k in range(4):
        if np.allclose(matrix, rotation(k * math.pi / 2), atol=1e-12):
            return k
    return None


def context_margin(tile: int, matrix: np.ndarray, order: int = 3) -> int:
    """Pixels of surroundings needed on each side of a ``tile``-sized square so that
    warping it by ``matrix`` about its centre samples only real image content.

    Covers the interpolation support of spline ``order`` as well.
    """
    if quarter_turns(matrix) is not None:
        return 0
    half = tile / 2.0
    inverse = np.linalg.inv(matrix)
    reach = np.abs(inverse) @ np.array([half, half])
    return max(0, math.ceil(float(reach.max()) - half)) + order // 2 + 1


# ----------------------------------------------------------------- warping


_TORCH_MODES = {0: "nearest", 1: "bilinear"}


def warp_tile(window: np.ndarray, matrix: np.ndarray, out_shape: tuple[int, int],
              *, order: int = 3, clip: bool = True) -> np.ndarray:
    """The ``out_shape`` tile at the centre of ``window`` after applying ``matrix``.

    ``window`` is the tile plus equal margins (see :func:`context_margin`). The map is
    about the centre of the window, which is also the centre of the returned tile.
    ``order``: 0 nearest, 1 bilinear (both via ``torch.nn.functional.grid_sample``,
    fast), 3 cubic spline (``scipy.ndimage.affine_transform``: accurate, no sharpening,
    about 5× slower). Cubic values are clipped to the window's range when ``clip`` is
    set, so no overshoot is invented. Quarter turns and the identity are exact.
    """
    if order not in (0, 1, 3):
        raise ValueError(f"interpolation order must be 0, 1 or 3, got {order}")
    window = np.asarray(window)
    out_h, out_w = out_shape
    k = quarter_turns(matrix)
    if k is not None and (k % 2 == 0 or out_h == out_w):
        top = (window.shape[0] - out_h) // 2
        left = (window.shape[1] - out_w) // 2
        if k % 2 == 1 and window.shape[0] != window.shape[1]:
            raise ValueError("a quarter turn needs a square window")
        turned = np.rot90(window, k)
        return np.ascontiguousarray(turned[top:top + out_h, left:left + out_w],
                                    dtype=np.float32)
    sampling = np.linalg.inv(matrix)  # output → input (row, col) coordinates
    in_h, in_w = window.shape
    centre_in = (np.array([in_h, in_w], dtype=float) - 1.0) / 2.0
    centre_out = (np.array([out_h, out_w], dtype=float) - 1.0) / 2.0
    data = np.ascontiguousarray(window, dtype=np.float32)
    if order == 3:
        out = ndi.affine_transform(data, sampling, offset=centre_in - sampling @ centre_out,
                                   output_shape=out_shape, order=3, mode="reflect",
                                   output=np.float32)
        if clip:
            np.clip(out, float(data.min()), float(data.max()), out=out)
        return out
    import torch
    import torch.nn.functional as F

    rows, cols = np.meshgrid(np.arange(out_h) - centre_out[0], np.arange(out_w) - centre_out[1],
                             indexing="ij")
    src_r = sampling[0, 0] * rows + sampling[0, 1] * cols + centre_in[0]
    src_c = sampling[1, 0] * rows + sampling[1, 1] * cols + centre_in[1]
    # grid_sample wants (x, y) in [-1, 1] with -1/+1 at the centres of the edge pixels.
    grid = np.stack([2.0 * src_c / max(in_w - 1, 1) - 1.0,
                     2.0 * src_r / max(in_h - 1, 1) - 1.0], axis=-1).astype(np.float32)
    return F.grid_sample(torch.from_numpy(data)[None, None], torch.from_numpy(grid)[None],
                         mode=_TORCH_MODES[order], padding_mode="reflection",
                         align_corners=True)[0, 0].numpy()


def warp_mask(window: np.ndarray, matrix: np.ndarray, out_shape: tuple[int, int]) -> np.ndarray:
    """:func:`warp_tile` for a boolean mask: bilinear, then thresholded at one half."""
    warped = warp_tile(window.astype(np.float32), matrix, out_shape, order=1)
    return warped >= 0.5


def window_around(image: np.ndarray, top: int, left: int, size_h: int, size_w: int,
                  margin: int) -> np.ndarray:
    """A copy of the ``size_h × size_w`` region at (top, left) plus ``margin`` pixels on
    every side, mirrored (``numpy.pad`` "symmetric") where it leaves ``image``."""
    h, w = image.shape[:2]
    y0, y1 = top - margin, top + size_h + margin
    x0, x1 = left - margin, left + size_w + margin
    inner = image[max(y0, 0):min(y1, h), max(x0, 0):min(x1, w)]
    pad = ((max(0, -y0), max(0, y1 - h)), (max(0, -x0), max(0, x1 - w)))
    return np.pad(inner, pad, mode="symmetric")  # copies, also when pad is zero


def pair_windows(lr: np.ndarray, hr: np.ndarray, scale: int, top: int, left: int,
                 size: int, margin: int) -> tuple[np.ndarray, np.ndarray]:
    """Windows around the LR tile at (top, left) of side ``size`` and its HR tile.

    The LR window has ``margin`` pixels of surroundings on each side, the HR window
    ``scale × margin``, so HR window pixel (y, x) covers LR window pixel
    (y // scale, x // scale) exactly.
    """
    lr_win = window_around(lr, top, left, size, size, margin)
    hr_win = window_around(hr, top * scale, left * scale, size * scale, size * scale,
                           margin * scale)
    return lr_win, hr_win


def warp_windows(lr_win: np.ndarray, hr_win: np.ndarray, hr_mask_win: np.ndarray | None,
                 matrix: np.ndarray, size: int, scale: int, *, order: int = 3
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Warp LR and HR windows (and an HR mask) by ``matrix`` about their common centre
    and cut the tile: LR ``size²``, HR and mask ``(scale·size)²``."""
    hr_size = (size * scale, size * scale)
    lr_tile = warp_tile(lr_win, matrix, (size, size), order=order)
    hr_tile = warp_tile(hr_win, matrix, hr_size, order=order)
    mask = None if hr_mask_win is None else warp_mask(hr_mask_win, matrix, hr_size)
    return lr_tile, hr_tile, mask
