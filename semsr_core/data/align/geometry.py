"""The geometry convention of alignment, and the resampling that applies it.

``shift = (dy, dx)`` is in HR pixels and says where the LR content lies in the HR scan:
what is at position ``q`` of the upscaled LR appears at ``q + shift`` in HR. ``rotation``
(degrees) and ``scale_factor`` extend this to ``p = c + scale_factor · R(rotation) ·
(q − c) + shift`` with ``c`` the centre of the upscaled LR; a positive rotation turns
the HR content anticlockwise as displayed (the sense of :func:`skimage.transform.rotate`).

Every array moved from the HR grid onto the aligned crop (the HR image itself, a defect
mask) goes through :func:`resample_hr`, so they stay in register.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage


def rotation_matrix(rotation_deg: float) -> np.ndarray:
    """The 2×2 rotation by ``rotation_deg`` degrees in (row, column) coordinates."""
    t = math.radians(rotation_deg)
    return np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])


def warp(image: np.ndarray, rotation: float, scale_factor: float) -> np.ndarray:
    """``image`` rotated/scaled about its centre by the convention above (bilinear)."""
    inv = rotation_matrix(-rotation) / scale_factor
    c = (np.asarray(image.shape, dtype=np.float64) - 1) / 2
    return ndimage.affine_transform(image, inv, offset=c - inv @ c, order=1, mode="constant")


def lr_box(lr_shape, hr_shape, scale, shift, rotation, scale_factor, centre
           ) -> tuple[int, int, int, int]:
    """The largest LR-grid box whose HR footprint (under the geometry) lies inside HR.

    Starts from the whole LR image and moves the edge at fault inwards, one LR pixel at
    a time, until the four corners of the box's upscaled footprint fall inside HR.
    """
    s = scale
    r0, r1, c0, c1 = 0, lr_shape[0], 0, lr_shape[1]
    lim_y, lim_x = hr_shape[0] - 1, hr_shape[1] - 1
    mat = rotation_matrix(rotation) * scale_factor
    c = np.asarray(centre, dtype=np.float64)[:, None]
    t = np.asarray(shift, dtype=np.float64)[:, None]
    while r1 > r0 and c1 > c0:
        q = np.array([[s * r0, s * r0, s * r1 - 1, s * r1 - 1],
                      [s * c0, s * c1 - 1, s * c0, s * c1 - 1]], dtype=np.float64)
        py, px = c + mat @ (q - c) + t
        if py.min() < 0:
            r0 += 1
        elif py.max() > lim_y:
            r1 -= 1
        elif px.min() < 0:
            c0 += 1
        elif px.max() > lim_x:
            c1 -= 1
        else:
            return r0, r1, c0, c1
    return r0, r0, c0, c0


def resample_hr(hr: np.ndarray, box, scale, shift, rotation, scale_factor, centre,
                order: int = 3) -> np.ndarray:
    """HR sampled on the upscaled grid of the LR crop ``box`` under the found geometry
    (spline of ``order``; outside HR the edge value)."""
    r0, r1, c0, c1 = box
    mat = rotation_matrix(rotation) * scale_factor
    c = np.asarray(centre, dtype=np.float64)
    origin = np.array([scale * r0, scale * c0], dtype=np.float64)
    offset = c + mat @ (origin - c) + np.asarray(shift, dtype=np.float64)
    shape = (scale * (r1 - r0), scale * (c1 - c0))
    return ndimage.affine_transform(hr, mat, offset=offset, output_shape=shape, order=order,
                                    mode="nearest")
