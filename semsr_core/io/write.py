"""Writing stacks as OME-TIFF, atomically: :func:`write_stack`.

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
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import secrets
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence, Sized
from pathlib import Path
from typing import Any

import numpy as np

from semsr_core.errors import ConfigError, OutputError, SemsrError
from semsr_core.events import CancelToken, EventCallback, EventKind, check_cancel, emit
from semsr_core.io.metadata import (
    PROVENANCE_NAMESPACE,
    canonical_unit,
    length_units,
    to_nanometres,
)
from semsr_core.io.picture import check_format_name, check_picture, picture_format, write_picture
from semsr_core.io.stack import Stack

WRITABLE_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.float32))
"""Pixel types semsr writes."""

CLASSIC_TIFF_LIMIT = 2**32 - 2**25
"""Pixel bytes above which a file must be BigTIFF (the limit tifffile itself uses)."""

_NO_SPACE = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_LOW_SPACE = 16 * 2**20  # bytes free below which a short write means the disk is full
_OME_UNIT = {"inch": "in"}  # OME UnitsLength symbols that differ from semsr's
_PLACEHOLDER = "semsr: OME-XML metadata is written when the stack is complete"


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


# ---------------------------------------------------------------------- writing


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
    emit(on_event, EventKind.PROGRESS, done=0, total=count, stage="writing", unit="slice")
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
            emit(on_event, EventKind.PROGRESS, done=written, total=count, stage="writing",
                 unit="slice")
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


@contextlib.contextmanager
def atomic_destination(destination: str | os.PathLike, *,
                       needed: int | None = None) -> Iterator[Path]:
    """Write a file through a hidden temporary path beside ``destination``.

    Yields the temporary path; when the block ends without error it replaces
    ``destination`` in one rename, otherwise it is deleted, so nothing half-written
    ever carries the final name. The file gets the permissions a normal new file gets
    (the umask applies), or those of the file it replaces.

    A write error inside the block (an ``OSError``, or a library's own wrapper of one:
    torch's "enforce fail at inline_container.cc", safetensors' ``SafetensorError``)
    becomes one :class:`OutputError` naming ``destination`` and, when the disk is full,
    the free space and the space ``needed`` (bytes, when the caller knows it).
    """
    destination = Path(destination)
    check_output_folder(destination)
    temporary = _create_temporary(destination)
    mode = temporary.stat().st_mode & 0o7777
    try:
        try:
            yield temporary
        except Exception as exc:
            translated = write_failure(exc, destination, needed=needed, temporary=temporary)
            if translated is None:
                raise
            raise translated from exc
        with _disk_errors(destination, needed=needed, temporary=temporary):
            os.chmod(temporary, mode)  # some writers (safetensors) recreate the file as 0600
            os.replace(temporary, destination)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


def write_bytes_atomic(destination: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``destination`` atomically (fsynced, then renamed into place).

    Raises :class:`OutputError` on any write error (disk full: with the space needed);
    nothing is left under ``destination`` or beside it after a failure.
    """
    destination = Path(destination)
    with atomic_destination(destination, needed=len(data)) as tmp, open(tmp, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    return destination


def file_above(path: str | os.PathLike) -> Path | None:
    """The nearest existing ancestor of ``path`` that is a file, not a folder, or None.

    ``out/a/b`` when ``out`` is a file can never be created: the message should say
    so, not "no such folder" or "Not a directory".
    """
    for parent in Path(path).parents:
        if parent.exists() or parent.is_symlink():
            return None if parent.is_dir() else parent
    return None


def check_output_folder(path: str | os.PathLike) -> None:
    """Refuse an output ``path`` that lies under an existing file (OutputError)."""
    blocker = file_above(path)
    if blocker is not None:
        raise OutputError("cannot write {path}: " + f"{blocker} is a file, not a folder",
                          path=path, hint="Choose an output path that is not inside a file")


def make_folder(folder: str | os.PathLike) -> Path:
    """Create ``folder`` (and its parents) or raise one OutputError that says why not:
    under a file, permission denied, disk full."""
    folder = Path(folder)
    check_output_folder(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputError("cannot use {path} as a folder: it is a file", path=folder,
                          hint="Choose a folder name that is not an existing file")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _output_error(exc, folder) from exc
    return folder


def _create_temporary(destination: Path) -> Path:
    """A new empty hidden file beside ``destination``, with the permissions a normal new
    file gets (the umask applies, unlike ``tempfile.mkstemp``'s private 0600), or the
    permissions of the file it will replace."""
    for _attempt in range(100):
        temporary = destination.with_name(
            f".{destination.name}.{secrets.token_hex(4)}.partial")
        try:
            with _disk_errors(destination):
                os.close(os.open(temporary, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        except OutputError as exc:
            if isinstance(exc.__cause__, FileExistsError):
                continue
            raise
        if destination.exists():
            with contextlib.suppress(OSError):
                shutil.copymode(destination, temporary)
        return temporary
    raise OutputError("cannot create a temporary file beside {path}",
                      path=destination, hint="Clean up the .partial files in that folder")


@contextlib.contextmanager
def _disk_errors(destination: Path, *, needed: int | None = None,
                 temporary: Path | None = None) -> Iterator[None]:
    """Turn an OSError while writing ``destination`` into an OutputError that says why."""
    try:
        yield
    except OSError as exc:
        raise _output_error(exc, destination, needed=needed, temporary=temporary) from exc


# Texts of libraries' write errors that wrap an OSError without being one: torch's
# PytorchStreamWriter ("[enforce fail at inline_container.cc:...] ... file write failed"),
# safetensors' SafetensorError ("IoError(Os { code: 28, kind: StorageFull, ... })").
_WRITE_FAILURE_MARKS = ("inline_container", "PytorchStreamWriter", "file write failed",
                        "IoError", "No space left", "StorageFull", "QuotaExceeded",
                        "Disk quota", "Input/output error", "Read-only file system")
_DISK_FULL_MARKS = ("No space left", "StorageFull", "code: 28", "os error 28",
                    "QuotaExceeded", "Disk quota", "code: 122")


def write_failure(exc: BaseException, destination: str | os.PathLike, *,
                  needed: int | None = None, temporary: Path | None = None
                  ) -> OutputError | None:
    """The :class:`OutputError` to show for ``exc`` raised while writing ``destination``,
    or None when ``exc`` is not a write error (a programming error stays itself)."""
    destination = Path(destination)
    if isinstance(exc, SemsrError):  # already says what to do
        return None
    if isinstance(exc, OSError):
        return _output_error(exc, destination, needed=needed, temporary=temporary)
    text = str(exc)
    if not any(mark in text for mark in _WRITE_FAILURE_MARKS):
        return None
    free = _free_bytes(destination.parent) + _size(temporary)
    if (any(mark in text for mark in _DISK_FULL_MARKS)
            or _free_bytes(destination.parent) < max(needed or 0, _LOW_SPACE)):
        return _disk_full(destination, needed, free)
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    first = first.split("] ", 1)[-1].strip(" .") or "the write failed"
    return OutputError("cannot write {path} " + f"({first})", path=destination,
                       hint=f"Check the disk and the folder {destination.parent}")


def _disk_full(destination: Path, needed: int | None, free: int, seen: str = ""
               ) -> OutputError:
    """One line: the file, the space it needs (when known) and the space free."""
    need = f"it needs about {_size_text(needed)}, " if needed else ""
    seen = f"; {seen}" if seen else ""  # a short write without an errno: what was seen
    return OutputError(
        "not enough disk space to write {path} " + f"({need}{_size_text(free)} free{seen})",
        path=destination, hint="Free some space or choose an output folder on another disk")


def _size_text(n: int | None) -> str:
    n = max(int(n or 0), 0)
    for unit, factor in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= factor:
            return f"{n / factor:.1f} {unit}"
    return f"{n} bytes"


def _size(path: Path | None) -> int:
    try:
        return 0 if path is None else path.stat().st_size
    except OSError:
        return 0


def _output_error(exc: OSError, destination: Path, *, needed: int | None = None,
                  temporary: Path | None = None) -> OutputError:
    folder = destination.parent
    detail = exc.strerror or str(exc)
    if exc.errno == errno.EFBIG:
        return OutputError(
            f"{destination.name} is too large for the file system or the file size limit "
            f"of {folder} ({detail})", path=destination,
            hint="Choose an output folder on another disk (e.g. not FAT32)")
    # numpy reports a short write ("N requested and M written") without an errno
    if exc.errno in _NO_SPACE or (exc.errno is None and _free_bytes(folder) < _LOW_SPACE):
        return _disk_full(destination, needed, _free_bytes(folder) + _size(temporary),
                          seen=detail if exc.errno is None else "")
    blocker = file_above(destination)
    if blocker is not None:  # ENOTDIR: "afile/out/lr: Not a directory"
        return OutputError("cannot write {path}: " + f"{blocker} is a file, not a folder",
                           path=destination,
                           hint="Choose an output path that is not inside a file")
    if isinstance(exc, PermissionError):
        return OutputError(f"cannot write {destination.name} in {folder} (permission denied)",
                           path=destination,
                           hint="Choose a folder you can write to or check its permissions")
    return OutputError("cannot write {path} " + f"({detail})", path=destination,
                       hint=f"Check the disk and the folder {folder}")


def _free_bytes(folder: Path) -> int:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return 0


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


def _fsync_folder(folder: Path) -> None:
    """Make the rename durable (POSIX); a no-op where folders cannot be opened."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
