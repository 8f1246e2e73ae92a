"""Writing stacks as OME-TIFF (or PNG/JPEG by name), atomically: :func:`write_stack`.

The file is written under a hidden temporary name in the destination folder, flushed
to disk (fsync) and only then renamed to its final name (``os.replace``), so a file
under the final name is always complete: an exception, Ctrl-C, a full disk or a
cancelled task removes the temporary file and leaves nothing behind.

Layout of the files written:

- one OME-TIFF image of shape (Z, Y, X) (or (Y, X) for one slice), one TIFF page per
  slice, uncompressed unless asked; BigTIFF when the pixels exceed ~4 GB or when the
  number of slices is not known in advance (a generator);
- ``Pixels/@PhysicalSizeX``/``Y`` with ``PhysicalSizeXUnit``/``YUnit`` in the OME-XML
  (and the same size as TIFF resolution tags in pixels per centimetre, for software
  that ignores OME);
- the provenance dictionary (``metadata=``, e.g. model id and settings) as JSON in an
  OME ``CommentAnnotation`` with ``Namespace`` =
  :data:`~semsr_core.io.metadata.PROVENANCE_NAMESPACE`; :func:`~semsr_core.io.read_stack`
  returns it as ``stack.metadata["provenance"]``.

This module checks the request (destination, inputs never overwritten, pixel type,
slices) and moves the finished file into place; the pieces are
:mod:`semsr_core.io.atomic` (temporary files, renames, write errors, disk space),
:mod:`semsr_core.io.ome` (the OME-XML and the checks of what goes into it),
:mod:`semsr_core.io.tiff_writer` (pages, conversion, progress) and
:mod:`semsr_core.io.picture` (PNG/JPEG). The atomic writers (:func:`atomic_destination`,
:func:`write_bytes_atomic`, :func:`make_folder`, :func:`check_output_folder`,
:func:`write_failure`) are importable from here as before.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Sized
from pathlib import Path
from typing import Any

import numpy as np

from semsr_core.errors import ConfigError, OutputError
from semsr_core.events import CancelToken, EventCallback
from semsr_core.io.atomic import (  # noqa: F401 - the atomic writers' public home until now
    _create_temporary,
    _disk_errors,
    _fsync_folder,
    atomic_destination,
    check_output_folder,
    file_above,
    make_folder,
    write_bytes_atomic,
    write_failure,
)
from semsr_core.io.ome import _check_metadata, _check_pixel_size, _nm_per
from semsr_core.io.picture import check_format_name, check_picture, picture_format, write_picture
from semsr_core.io.stack import Stack
from semsr_core.io.tiff_writer import (  # noqa: F401 - io.picture's converters
    CLASSIC_TIFF_LIMIT,
    WRITABLE_DTYPES,
    _converted,
    _estimated_bytes,
    _first_guess_bigtiff,
    _output_dtype,
    _write_ome_tiff,
)


def write_stack(
    path: str | os.PathLike,
    data: np.ndarray | Iterable[np.ndarray] | Stack,
    *,
    pixel_size: float | None = None,
    unit: str = "nm",
    metadata: dict[str, Any] | None = None,
    dtype: Any = None,
    protect: Iterable[str | os.PathLike] | str | os.PathLike = (),
    overwrite: bool = False,
    compression: str | None = None,
    on_event: EventCallback | None = None,
    cancel: CancelToken | None = None,
) -> Path:
    """Write a 2-D image, a (Z, Y, X) array or an iterable of 2-D slices as OME-TIFF.

    Slices from an iterable (a generator, a :class:`Stack`) are written one page at a
    time and never held together. ``pixel_size`` is in ``unit`` (any of
    :func:`~semsr_core.io.metadata.length_units`); ``metadata`` is a JSON-serialisable
    provenance dictionary, stored when the file is complete (what is added to it while
    the slices are made is kept); ``dtype`` (uint8, uint16 or float32) converts the slices
    without ever clipping: values outside its range are an error. ``protect`` names the
    input file(s): writing onto one of them is refused even with ``overwrite=True``
    (the path of a :class:`Stack` given as ``data`` is protected automatically). An
    existing file is replaced only with ``overwrite=True``. ``compression`` is a
    tifffile codec name such as "zlib" (None: uncompressed). A name ending in ``.png``,
    ``.jpg`` or ``.jpeg`` writes that format instead (one 2-D image that the format can
    hold, else an :class:`OutputError`; see :mod:`semsr_core.io.picture`), and a name of
    another image format is refused rather than given TIFF bytes. Emits PROGRESS events
    (stage "writing") and honours ``cancel`` between slices.

    Returns the path written. Raises :class:`OutputError` (destination problems, disk
    full) or :class:`ConfigError` (invalid ``unit``, ``dtype``, ``pixel_size`` or
    ``metadata``); nothing exists under ``path`` after a failure that was not there
    before.
    """
    destination = Path(path)
    folder = destination.parent
    check_format_name(destination)
    _check_destination(destination, folder, _protected(protect, data), overwrite)
    out_dtype = _check_dtype(dtype)
    unit_symbol = _check_pixel_size(pixel_size, unit)
    # checked now; written when the file is complete, so that what the slices add to
    # ``metadata`` while they are made (e.g. a summary of every slice) is kept
    _check_metadata(metadata)
    slices, count = _slices(destination, data)
    if picture_format(destination) is not None:  # the name asks for PNG or JPEG
        if count is not None:
            check_picture(destination, count, out_dtype)
        size_nm = None if pixel_size is None else float(pixel_size) * _nm_per(unit_symbol)
        written = write_picture(destination, slices, out_dtype, pixel_size_nm=size_nm,
                                provenance=lambda: _check_metadata(metadata))
        _fsync_folder(folder)
        return written
    bigtiff = count is None or _first_guess_bigtiff(data, count, out_dtype)
    needed = _estimated_bytes(data, count, out_dtype)

    temporary = _create_temporary(destination)
    try:
        _write_ome_tiff(
            temporary, destination, slices, count, bigtiff=bigtiff, out_dtype=out_dtype,
            pixel_size=pixel_size, unit=unit_symbol,
            provenance=lambda: _check_metadata(metadata),
            compression=compression, on_event=on_event, cancel=cancel, needed=needed)
        with _disk_errors(destination, needed=needed, temporary=temporary):
            with open(temporary, "rb+") as written:
                os.fsync(written.fileno())
            os.replace(temporary, destination)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise
    _fsync_folder(folder)
    return destination


# ---------------------------------------------------------------------- checks


def _protected(protect: Any, data: Any) -> list[Path]:
    if isinstance(protect, (str, os.PathLike)):
        paths = [Path(protect)]
    else:
        paths = [Path(p) for p in protect]
    if isinstance(data, Stack):
        paths.append(Path(data.path))
    return paths


def _same_file(a: Path, b: Path) -> bool:
    if a.exists() and b.exists():
        return os.path.samefile(a, b)
    return os.path.normcase(a.resolve()) == os.path.normcase(b.resolve())


def _check_destination(destination: Path, folder: Path, protected: list[Path],
                       overwrite: bool) -> None:
    for source in protected:
        if _same_file(destination, source):
            raise OutputError(
                f"refusing to write {{path}}: it is the input file {source}",
                path=destination,
                hint="Inputs are never overwritten; choose another output name")
    check_output_folder(destination)
    if not folder.is_dir():
        raise OutputError(f"cannot write {{path}}: the folder {folder} does not exist",
                          path=destination, hint="Create the folder or choose another one")
    if destination.is_dir():
        raise OutputError("cannot write {path}: it is a folder", path=destination,
                          hint="Give a file name such as result.ome.tif")
    if destination.exists() and not overwrite:
        raise OutputError(
            "{path} already exists", path=destination,
            hint="Choose another name, or allow replacing it (overwrite=True, --overwrite)")


def _check_dtype(dtype: Any) -> np.dtype | None:
    if dtype is None:
        return None
    try:
        chosen = np.dtype(dtype)
    except TypeError as exc:
        raise ConfigError(f"dtype {dtype!r} is not a pixel type",
                          hint="Use uint8, uint16 or float32") from exc
    if chosen not in WRITABLE_DTYPES:
        raise ConfigError(f"dtype {chosen} cannot be written",
                          hint="Use uint8, uint16 or float32")
    return chosen



def _slices(destination: Path, data: Any) -> tuple[Iterator[Any], int | None]:
    """An iterator over the 2-D slices of ``data`` and their number (None if unknown)."""
    if isinstance(data, np.ndarray):
        if data.ndim == 2:
            return iter([data]), 1
        if data.ndim == 3:
            return iter(data), data.shape[0]
        raise OutputError(
            f"cannot write a {data.ndim}-D array to {{path}}", path=destination,
            hint="write_stack takes a 2-D image or a 3-D (Z, Y, X) stack")
    if isinstance(data, Iterable):
        return iter(data), len(data) if isinstance(data, Sized) else None
    raise OutputError(f"cannot write a {type(data).__name__} to {{path}}",
                      path=destination, hint="Give an array or an iterable of 2-D arrays")
