"""OME-Zarr output of a batch: one (Z, Y, X) array at level "0", OME-NGFF 0.4.

The store is written as a hidden ``.<name>.<random>.partial`` folder beside the final
name and renamed onto it when complete, so no half-written store carries the final
name. The multiscales metadata has one level whose ``scale`` is the physical pixel
size (Z gets 1: slices are not a physical distance semsr knows); the provenance is
under the ``semsr`` attribute.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from semsr_core.errors import OutputError

NGFF_UNITS = {
    "pm": "picometer",
    "nm": "nanometer",
    "µm": "micrometer",
    "um": "micrometer",
    "mm": "millimeter",
    "cm": "centimeter",
    "m": "meter",
    "Å": "angstrom",
    "inch": "inch",
}
"""semsr's length units → OME-NGFF's (UDUNITS-2) names."""


def ngff_attributes(name: str, pixel_size: float | None, unit: str) -> dict[str, Any]:
    """The ``multiscales`` attribute of a one-level image."""
    axes: list[dict[str, Any]] = [{"name": "z", "type": "space"}]
    for axis in ("y", "x"):
        entry: dict[str, Any] = {"name": axis, "type": "space"}
        if pixel_size is not None:
            entry["unit"] = NGFF_UNITS.get(unit, unit)
        axes.append(entry)
    size = 1.0 if pixel_size is None else float(pixel_size)
    return {
        "multiscales": [
            {
                "version": "0.4",
                "name": name,
                "axes": axes,
                "datasets": [
                    {
                        "path": "0",
                        "coordinateTransformations": [
                            {"type": "scale", "scale": [1.0, size, size]}
                        ],
                    }
                ],
            }
        ]
    }


def write_ome_zarr(
    path: str | os.PathLike,
    slices: Iterable[np.ndarray],
    count: int,
    *,
    pixel_size: float | None,
    unit: str = "nm",
    metadata: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write ``count`` 2-D slices as an OME-Zarr image at ``path`` (a folder); atomic."""
    import zarr

    destination = Path(path)
    if destination.exists() and not overwrite:
        raise OutputError(
            "{path} already exists",
            path=destination,
            hint="Choose another name, or allow replacing it (--overwrite)",
        )
    temporary = destination.with_name(f".{destination.name}.{secrets.token_hex(4)}.partial")
    try:
        group = zarr.open_group(str(temporary), mode="w", zarr_format=2)
        array = None
        for index, image in enumerate(slices):
            if array is None:
                array = group.create_array(
                    "0",
                    shape=(count, *image.shape),
                    dtype=image.dtype,
                    chunks=(1, *image.shape),
                )
            array[index] = image
        group.attrs.update(
            {**ngff_attributes(destination.name, pixel_size, unit), "semsr": metadata or {}}
        )
        if destination.exists():
            shutil.rmtree(destination) if destination.is_dir() else destination.unlink()
        os.replace(temporary, destination)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return destination
