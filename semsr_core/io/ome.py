"""The OME metadata of the TIFF files semsr writes, and the checks of what goes into it.

:func:`_ome_xml` builds the OME-XML of a written stack: its size and pixel type, the
physical pixel size (``Pixels/@PhysicalSizeX``/``Y`` with their units) and the
provenance dictionary as JSON in a ``CommentAnnotation`` whose ``Namespace`` is
:data:`~semsr_core.io.metadata.PROVENANCE_NAMESPACE` (which
:func:`~semsr_core.io.read_stack` gives back as ``stack.metadata["provenance"]``).
:func:`_check_pixel_size` and :func:`_check_metadata` refuse, before anything is
written, a pixel size, unit or provenance that could not be stored.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from semsr_core.errors import ConfigError
from semsr_core.io.metadata import (
    PROVENANCE_NAMESPACE,
    canonical_unit,
    length_units,
    to_nanometres,
)

_OME_UNIT = {"inch": "in"}  # OME UnitsLength symbols that differ from semsr's


def _check_pixel_size(pixel_size: float | None, unit: str) -> str:
    symbol = canonical_unit(unit)
    if symbol is None:
        raise ConfigError(f"unit {unit!r} is not a length unit",
                          hint=f"Use one of {', '.join(length_units())}")
    if pixel_size is not None:
        try:
            valid = math.isfinite(float(pixel_size)) and float(pixel_size) > 0
        except (TypeError, ValueError):
            valid = False
        if not valid:
            raise ConfigError(f"pixel_size {pixel_size!r} is not a positive number",
                              hint="Give the pixel width in the given unit, or None")
    return symbol


def _check_metadata(metadata: dict[str, Any] | None) -> str | None:
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        raise ConfigError(f"metadata must be a dict, not {type(metadata).__name__}")
    try:
        return json.dumps(metadata, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"metadata cannot be stored as JSON ({exc})",
                          hint="Use only str, numbers, bools, None, lists and dicts") from exc



def _nm_per(unit: str) -> float:
    """Nanometres in one ``unit`` (already validated by :func:`canonical_unit`)."""
    return float(to_nanometres(1, unit) or "nan")


def _ome_xml(count: int, shape: tuple[int, int], dtype: np.dtype, pixel_size: float | None,
             unit: str, provenance: str | None, version: str) -> bytes:
    import tifffile

    extra: dict[str, Any] = {}
    if pixel_size is not None:
        ome_unit = _OME_UNIT.get(unit, unit)
        extra.update(PhysicalSizeX=float(pixel_size), PhysicalSizeXUnit=ome_unit,
                     PhysicalSizeY=float(pixel_size), PhysicalSizeYUnit=ome_unit)
    if provenance is not None:
        extra["CommentAnnotation"] = {"Namespace": PROVENANCE_NAMESPACE, "Value": provenance}
    ome = tifffile.OmeXml(Creator=f"semsr {version}")
    height, width = shape
    ome.addimage(
        dtype, (count, height, width) if count > 1 else (height, width),
        (count, 1, 1, height, width, 1), axes="ZYX" if count > 1 else "YX", **extra)
    return ome.tostring(declaration=True).encode("utf-8")

