"""The OME-TIFF writer: slices written one TIFF page at a time into a temporary file.

:func:`_write_ome_tiff` writes the slices of a stack (an array or any iterable of 2-D
arrays, never held together) as pages of one (BigTIFF when needed) TIFF file, with the
pixel size as TIFF resolution tags, converts them to the output pixel type without
ever clipping (:func:`_converted`), checks that every slice has the first one's size,
emits PROGRESS events and honours cancellation between slices, and writes the OME-XML
(:mod:`semsr_core.io.ome`) once the number of slices is known. Moving the finished
file into place is the caller's (:func:`semsr_core.io.write.write_stack`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from semsr_core.errors import ConfigError, OutputError
from semsr_core.events import CancelToken, EventCallback, Progress, check_cancel, emit
from semsr_core.io.atomic import _disk_errors
from semsr_core.io.ome import _nm_per, _ome_xml

WRITABLE_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.float32))
"""Pixel types semsr writes."""

CLASSIC_TIFF_LIMIT = 2**32 - 2**25
"""Pixel bytes above which a file must be BigTIFF (the limit tifffile itself uses)."""

_PLACEHOLDER = "semsr: OME-XML metadata is written when the stack is complete"


def _first_guess_bigtiff(data: Any, count: int, out_dtype: np.dtype | None) -> bool:
    """Whether ``count`` slices need BigTIFF, judged from the shape and type of the data."""
    shape = getattr(data, "shape", None)
    dtype = getattr(data, "dtype", None)
    if shape is None and isinstance(data, Sequence) and count:
        first = np.asarray(data[0])
        shape, dtype = first.shape, first.dtype
    if shape is None or len(shape) < 2 or dtype is None:
        return True  # size unknown: BigTIFF is always safe
    itemsize = out_dtype.itemsize if out_dtype is not None else min(np.dtype(dtype).itemsize, 4)
    return count * shape[-2] * shape[-1] * itemsize > CLASSIC_TIFF_LIMIT


def _estimated_bytes(data: Any, count: int | None, out_dtype: np.dtype | None) -> int | None:
    """The pixel bytes of the file to write, when the data's shape tells (else None)."""
    shape = getattr(data, "shape", None)
    dtype = getattr(data, "dtype", None)
    if shape is None or len(shape) < 2 or dtype is None or count is None:
        return None
    itemsize = out_dtype.itemsize if out_dtype is not None else min(np.dtype(dtype).itemsize, 4)
    return int(count * shape[-2] * shape[-1] * itemsize)


def _output_dtype(first: np.ndarray, destination: Path) -> np.dtype:
    if first.dtype in WRITABLE_DTYPES:
        return first.dtype
    if first.dtype.kind == "b":  # masks: 0/1, losslessly
        return np.dtype(np.uint8)
    if first.dtype.kind == "f":
        return np.dtype(np.float32)
    raise ConfigError(
        f"cannot choose a pixel type for {first.dtype} data written to {destination}",
        hint="Pass dtype='uint8', 'uint16' or 'float32'")


def _converted(image: np.ndarray, dtype: np.dtype, index: int, destination: Path) -> np.ndarray:
    """``image`` as ``dtype``; refuses (never clips) values the type cannot hold."""
    if image.dtype == dtype:
        return image
    if dtype.kind == "f":
        if image.dtype.kind == "f" and image.size and np.nanmax(np.abs(image)) > np.finfo(
                dtype).max:
            raise OutputError(f"slice {index} for {{path}} has values too large for "
                              f"{dtype}", path=destination, hint="Rescale the data first")
        return image.astype(dtype)
    info = np.iinfo(dtype)
    values = np.rint(image) if image.dtype.kind == "f" else image
    if image.dtype.kind == "f" and not np.isfinite(values).all():
        raise OutputError(f"slice {index} for {{path}} contains NaN or infinity, which "
                          f"{dtype} cannot hold", path=destination,
                          hint="Write float32, or replace the invalid values first")
    low, high = values.min(), values.max()
    if low < info.min or high > info.max:
        raise OutputError(
            f"slice {index} for {{path}} has values {low:g}..{high:g} outside the "
            f"{dtype} range {info.min}..{info.max}; semsr does not clip silently",
            path=destination, hint="Rescale the data or write float32")
    return values.astype(dtype)



def _write_ome_tiff(
    temporary: Path, destination: Path, slices: Iterator[Any], count: int | None, *,
    bigtiff: bool, out_dtype: np.dtype | None, pixel_size: float | None, unit: str,
    provenance: Callable[[], str | None], compression: str | None,
    on_event: EventCallback | None,
    cancel: CancelToken | None, needed: int | None = None,
) -> None:
    import tifffile

    from semsr_core import __version__

    resolution = None
    if pixel_size is not None:
        per_cm = 1e7 / (float(pixel_size) * _nm_per(unit))
        resolution = (per_cm, per_cm)
    written = 0
    shape: tuple[int, int] | None = None
    dtype = out_dtype
    with _disk_errors(destination, needed=needed, temporary=temporary):
        writer = tifffile.TiffWriter(temporary, bigtiff=bigtiff)
    emit(on_event, Progress(done=0, total=count, stage="writing", unit="slice"))
    try:
        for index, item in enumerate(slices):
            check_cancel(cancel)
            image = np.asarray(item)
            if image.ndim != 2 or 0 in image.shape:
                raise OutputError(
                    f"slice {index} for {{path}} has shape {image.shape}; each slice "
                    "must be a non-empty 2-D image", path=destination)
            if shape is None:
                shape = image.shape
                dtype = dtype or _output_dtype(image, destination)
            elif image.shape != shape:
                raise OutputError(
                    f"slice {index} for {{path}} has shape {image.shape}, the first "
                    f"had {shape}; all slices of a stack must have the same size",
                    path=destination)
            converted = _converted(image, dtype or image.dtype, index, destination)
            with _disk_errors(destination, needed=needed, temporary=temporary):
                writer.write(
                    np.ascontiguousarray(converted),
                    contiguous=compression is None, compression=compression,
                    description=_PLACEHOLDER if index == 0 else None, metadata=None,
                    photometric="minisblack", resolution=resolution,
                    resolutionunit="CENTIMETER" if resolution else None,
                    software=f"semsr {__version__}")
            written += 1
            emit(on_event, Progress(done=written, total=count, stage="writing", unit="slice"))
        check_cancel(cancel)
        if shape is None or dtype is None:
            raise OutputError("nothing to write to {path}: no slices were given",
                              path=destination)
        if count is not None and written != count:
            raise OutputError(f"{written} slices were given for {{path}}, {count} "
                              "were announced", path=destination)
        with _disk_errors(destination, needed=needed, temporary=temporary):
            writer.overwrite_description(
                _ome_xml(written, shape, dtype, pixel_size, unit, provenance(), __version__))
    except BaseException:
        # the first error is the one to report; the partial file is deleted by the caller
        with contextlib.suppress(OSError):
            writer.close()
        raise
    with _disk_errors(destination, needed=needed, temporary=temporary):
        writer.close()
