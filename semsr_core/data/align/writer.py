"""The one writer of aligned training pairs: ``lr/<stem>.tif``, ``hr/<stem>.tif`` and
``masks/<stem>.tif``, used by ``semsr align`` (:func:`~semsr_core.data.align.align_folder`)
and by the training wizard."""

from __future__ import annotations

from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from semsr_core.data.masks import MASKS_FOLDER


def writable(image: np.ndarray) -> np.ndarray:
    """The image in a dtype OME-TIFF output supports (uint8, uint16 or float32)."""
    if image.dtype in (np.uint8, np.uint16, np.float32):
        return image
    return image.astype(np.float32)


def aligned_pixel_sizes(result: Any, lr_pixel_size: float | None,
                        hr_pixel_size: float | None) -> tuple[float | None, float | None]:
    """The pixel sizes of the aligned LR and HR crops: LR keeps its own, HR gets LR's
    divided by the scale (or, without an LR size, its own times the found scale factor)."""
    if lr_pixel_size is not None:
        return lr_pixel_size, lr_pixel_size / result.scale
    return None, None if hr_pixel_size is None else hr_pixel_size * result.scale_factor


def write_aligned_pair(out: str | PathLike, stem: str, result: Any, *, lr_source: Path,
                       hr_source: Path, lr_pixel_size: float | None = None,
                       hr_pixel_size: float | None = None, mask: np.ndarray | None = None,
                       mask_source: Path | None = None, overwrite: bool = False) -> None:
    """Write the crops of ``result`` (an ``AlignmentResult``) as ``out/lr/<stem>.tif`` and
    ``out/hr/<stem>.tif`` (OME-TIFF, input dtype, the alignment's numbers and the source
    file in the metadata) and, given the HR image's ``mask``, that mask carried through
    the same crop and geometry as ``out/masks/<stem>.tif`` (0/1 uint8).

    The sources are never overwritten. Raises :class:`~semsr_core.errors.OutputError`
    naming the file on a write error, or when a file exists and not ``overwrite``.
    """
    from semsr_core.io import write_stack

    out = Path(out)
    lr_px, hr_px = aligned_pixel_sizes(result, lr_pixel_size, hr_pixel_size)
    provenance = {"semsr": "align", "stem": stem, **result.summary()}
    protect = [lr_source, hr_source]
    for folder, image, px, source in (("lr", result.lr, lr_px, lr_source),
                                      ("hr", result.hr, hr_px, hr_source)):
        (out / folder).mkdir(parents=True, exist_ok=True)
        write_stack(out / folder / f"{stem}.tif", writable(image), pixel_size=px,
                    metadata={**provenance, "source": str(source)}, protect=protect,
                    overwrite=overwrite)
    if mask is not None:
        carried = result.carry_hr_mask(mask, mask_source).astype(np.uint8)
        (out / MASKS_FOLDER).mkdir(parents=True, exist_ok=True)
        write_stack(out / MASKS_FOLDER / f"{stem}.tif", carried, pixel_size=hr_px,
                    metadata={**provenance, "source": str(mask_source)},
                    protect=[*protect, *([mask_source] if mask_source else [])],
                    overwrite=overwrite)
