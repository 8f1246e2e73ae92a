"""Defect masks: finding, reading and carrying them through an alignment.

A mask marks the annotated (or simulated) defects of an HR image at its size, nonzero =
defect; a dataset keeps it as ``masks/<stem>.*`` next to ``hr/`` (:data:`MASKS_FOLDER`).
This module is the one place that finds (:func:`find_mask`), reads (:func:`read_mask`,
:func:`read_mask_stack`) and moves masks onto an aligned crop (:func:`carry_mask`: the
geometry of :func:`semsr_core.data.align.geometry.resample_hr`, bilinear then
thresholded at one half — the interpolation the augmentations use for masks too,
:func:`semsr_core.data.augment.warp_mask`). ``semsr align``, the wizard, training and
evaluation all go through it.
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from semsr_core.data.pairs import IMAGE_SUFFIXES
from semsr_core.errors import InputError

#: The folder next to ``hr/`` that holds a pair's annotated defects, ``masks/<stem>.tif``.
MASKS_FOLDER = "masks"


def find_mask(folder: str | PathLike | None, stem: str) -> Path | None:
    """The defect mask of the pair ``stem`` in ``folder`` (any image ending), or None."""
    if folder is None:
        return None
    candidates = (Path(folder) / f"{stem}{suffix}" for suffix in IMAGE_SUFFIXES)
    return next((path for path in candidates if path.is_file()), None)


def _size(shape: tuple[int, ...]) -> str:
    return "×".join(map(str, shape))


def read_mask(path: str | PathLike, hr_shape: tuple[int, int], *, slack: int = 0
              ) -> np.ndarray:
    """The defect mask in ``path`` (first slice, nonzero = defect) as a boolean array of
    ``hr_shape``. A mask up to ``slack`` pixels larger (HR cropped to a multiple of the
    scale) is cropped the same way.

    Raises:
        InputError: naming ``path``, when the mask is of another size.
    """
    from semsr_core.io import read_stack

    with read_stack(path) as stack:
        mask = np.asarray(stack[0])
    extra = np.subtract(mask.shape, hr_shape)
    if extra.min() < 0 or extra.max() > slack:
        raise InputError(f"the defect mask is {_size(mask.shape)} but its HR "
                         f"image is {hr_shape[0]}×{hr_shape[1]}", path=path,
                         hint="A mask marks the defects of the HR image at its size "
                              "(nonzero = defect); fix it or remove it from the masks folder.")
    return mask[: hr_shape[0], : hr_shape[1]] != 0


def read_mask_stack(path: str | PathLike, slices: int, hr_shape: tuple[int, int]
                    ) -> list[np.ndarray]:
    """Every slice of the mask file ``path``: one per HR slice (``slices`` of them), each
    of ``hr_shape`` (values as stored; nonzero = defect).

    Raises:
        InputError: naming ``path``, when the slice count or the size differs.
    """
    from semsr_core.io import read_stack

    with read_stack(path) as stack:
        masks = [np.asarray(stack[z]) for z in range(len(stack))]
    if len(masks) != slices or any(m.shape != tuple(hr_shape) for m in masks):
        raise InputError(f"the mask file holds {len(masks)} slice(s) of "
                         f"{_size(masks[0].shape)} but the HR file "
                         f"{slices} of {hr_shape[0]}×{hr_shape[1]}", path=path,
                         hint="Give one mask slice per HR slice, at the HR size.")
    return masks


def carry_mask(mask: np.ndarray, result: Any, path: str | PathLike | None = None
               ) -> np.ndarray:
    """``mask``, drawn on the HR image that ``result`` (an
    :class:`~semsr_core.data.align.AlignmentResult`) aligned, moved through the same crop
    and geometry as ``result.hr``: a boolean array of its shape.

    ``result`` must not be a failed alignment (which has no crop):
    :meth:`~semsr_core.data.align.AlignmentResult.carry_hr_mask` checks that first.

    Raises:
        InputError: the mask is not the size of the HR image (naming ``path``).
    """
    from semsr_core.data.align.geometry import resample_hr

    mask = np.asarray(mask)
    if mask.shape != tuple(result.hr_shape):
        raise InputError(f"the mask is {_size(mask.shape)} but its HR image "
                         f"is {result.hr_shape[0]}×{result.hr_shape[1]}", path=path,
                         hint="A mask marks the HR image's pixels at its size.")
    carried = resample_hr((mask != 0).astype(np.float32), result.lr_box, result.scale,
                          result.shift, result.rotation, result.scale_factor, result.centre,
                          order=1)
    return carried >= 0.5
