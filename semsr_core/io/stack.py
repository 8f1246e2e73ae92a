"""Reading SEM images and stacks lazily: :func:`read_stack` and :class:`Stack`.

A :class:`Stack` is always a (Z, Y, X) sequence of grayscale slices (a single image is
Z = 1). Slices are read from the file only when asked for (``stack[k]``, iteration), one
TIFF page at a time, so a stack larger than memory can be processed slice by slice.

Supported: TIFF (single page, multi-page, OME-TIFF, ImageJ, BigTIFF, any compression
tifffile/imagecodecs decode) and, for convenience, PNG and JPEG single images. Every
page of a multi-page TIFF is a slice, also when its pages were written one by one or
have no common metadata; a page of another size or pixel type is an error naming its
index, never dropped (:mod:`semsr_core.io.tiff_pages`). Whatever a decoder raises on
damaged bytes becomes an :class:`~semsr_core.errors.InputError` naming the file.
Pixel types uint8, uint16 and float32 are kept as they are; other integer and float
types are converted to float32 (recorded in ``metadata["notes"]``); 1-bit and complex
images are refused. RGB(A) images whose three colour channels are equal (a grayscale
scan saved as colour) become one channel; true colour is refused, because the models
are grayscale. Indexed TIFFs with a gray colour map become their gray values, and
"white is zero" (MINISWHITE) TIFFs are inverted. Physical pixel sizes are in nanometres (see
:mod:`semsr_core.io.metadata`).

Opening a file (its layout, pixel type and metadata) is :mod:`semsr_core.io.stack_files`;
this module reads the slices.
"""

from __future__ import annotations

import operator
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from semsr_core.errors import InputError
from semsr_core.io.metadata import CANONICAL_UNIT
from semsr_core.io.stack_files import (  # noqa: F401 - NATIVE_DTYPES, shape_text: importable here
    _REEXPORT,
    NATIVE_DTYPES,
    OpenedFile,
    _is_decode_error,
    open_png_or_jpeg,
    open_tiff,
    shape_text,
)

_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_JPEG_MAGIC = b"\xff\xd8\xff"


class Stack:
    """A lazily-read grayscale image stack of shape (Z, Y, X).

    ``stack[k]`` is slice k as a 2-D array (negative k counts from the end),
    ``stack[i:j]`` a 3-D array, ``for image in stack`` yields slices one by one.
    ``pixel_size`` is the physical pixel width in ``unit`` (always "nm"), or None when
    the file does not say; ``metadata`` holds the vendor, the source path, where the
    pixel size came from, the original vendor metadata, semsr provenance and notes.
    Use it as a context manager (or call :meth:`close`) to release the file.
    """

    def __init__(
        self,
        path: Path,
        shape: tuple[int, int, int],
        dtype: np.dtype,
        read_raw: Callable[[int], np.ndarray],
        *,
        metadata: dict[str, Any],
        pixel_size: float | None,
        close: Callable[[], None] | None = None,
    ):
        self.path = path
        self.shape = shape
        self.dtype = dtype
        self.pixel_size = pixel_size
        self.unit = CANONICAL_UNIT if pixel_size is not None else None
        self.metadata = metadata
        self._read_raw = read_raw
        self._close = close
        self._lock = threading.Lock()
        self._closed = False

    @property
    def ndim(self) -> int:
        """Always 3: (Z, Y, X)."""
        return 3

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        """Pickled as its path: a copy in another process (Dask, multiprocessing) reopens
        the file instead of sharing a file handle."""
        return read_stack, (str(self.path),)

    # ------------------------------------------------------------------ sequence
    def __len__(self) -> int:
        return self.shape[0]

    def __iter__(self) -> Iterator[np.ndarray]:
        for index in range(len(self)):
            yield self.read_slice(index)

    def __getitem__(self, key: Any) -> np.ndarray:
        rest: tuple[Any, ...] = ()
        if isinstance(key, tuple):
            if not key:
                raise TypeError("empty index")
            key, rest = key[0], key[1:]
        if isinstance(key, slice):
            indices = range(*key.indices(len(self)))
            out = np.empty((len(indices), *self.shape[1:]), dtype=self.dtype)
            for position, index in enumerate(indices):
                out[position] = self.read_slice(index)
            return out[(slice(None), *rest)] if rest else out
        image = self.read_slice(operator.index(key))
        return image[rest] if rest else image

    def read_slice(self, index: int) -> np.ndarray:
        """Slice ``index`` (negative counts from the end) as a 2-D array of ``dtype``."""
        count = len(self)
        if not -count <= index < count:
            raise IndexError(f"slice {index} is out of range for a stack of {count} slice(s)")
        index %= count
        if self._closed:
            raise ValueError(f"{self.path} was closed; open it again with read_stack")
        with self._lock:
            try:
                raw = self._read_raw(index)
            except InputError:
                raise
            except Exception as exc:
                if not _is_decode_error(exc):
                    raise
                raise InputError(
                    f"slice {index} of {{path}} cannot be read, the file is corrupt "
                    f"({type(exc).__name__}: {exc})", path=self.path,
                    hint=f"{_REEXPORT}; the other slices may still be readable") from exc
        return self._to_gray(raw, index)

    def asarray(self) -> np.ndarray:
        """The whole stack in memory as a (Z, Y, X) array (only for stacks that fit)."""
        return self[:]

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        """Release the file handle; reading afterwards raises."""
        if not self._closed:
            self._closed = True
            if self._close is not None:
                self._close()

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        size = "unknown pixel size" if self.pixel_size is None else (
            f"pixel size {self.pixel_size:g} {self.unit}")
        return f"<Stack {self.path.name!r} {self.shape} {self.dtype}, {size}>"

    # ------------------------------------------------------------------ conversion
    def _to_gray(self, raw: np.ndarray, index: int) -> np.ndarray:
        image = np.asarray(raw)
        if image.ndim == 3:
            image = _reduce_channels(image, self.path, index)
        if image.shape != self.shape[1:]:
            raise InputError(
                f"slice {index} of {{path}} has shape {image.shape}, expected "
                f"{self.shape[1:]}", path=self.path,
                hint="All slices of a stack must have the same size; save them as one stack")
        if image.dtype != self.dtype:
            image = image.astype(self.dtype)
        return image


def _reduce_channels(image: np.ndarray, path: Path, index: int) -> np.ndarray:
    """A (Y, X, S) image with S = 2 (gray+alpha), 3 or 4 (RGB[A]) as its gray channel."""
    samples = image.shape[-1]
    if samples == 2:
        return image[..., 0]
    if samples in (3, 4):
        red, green, blue = image[..., 0], image[..., 1], image[..., 2]
        if np.array_equal(red, green) and np.array_equal(red, blue):
            return red
        where = "" if index == 0 else f" (slice {index})"
        raise InputError(
            f"{{path}} is a true-colour image{where}; semsr models work on grayscale SEM "
            "images", path=path,
            hint="Convert it to grayscale (e.g. in Fiji: Image > Type > 8-bit) or save the "
                 "one channel you want to super-resolve")
    raise InputError(
        f"{{path}} has {samples} channels per pixel; semsr reads grayscale images",
        path=path, hint="Save the one channel you want to super-resolve as its own file")


# ---------------------------------------------------------------------- opening


def read_stack(path: str | os.PathLike) -> Stack:
    """Open an SEM image or stack for lazy, slice-by-slice reading.

    Raises :class:`~semsr_core.errors.InputError` naming the file and what to do when
    it is missing, empty, not an image, truncated or corrupt, has no pixels, has an
    unsupported number of dimensions or pixel type, or is true colour.
    """
    file = Path(path)
    head = _check_file(file)
    if head.startswith(_TIFF_MAGIC):
        return _stack_of(file, open_tiff(file))
    if head.startswith(_PNG_MAGIC) or head.startswith(_JPEG_MAGIC):
        kind = "PNG" if head.startswith(_PNG_MAGIC) else "JPEG"
        return _stack_of(file, open_png_or_jpeg(file, kind))
    looks_like_text = all(32 <= b < 127 or b in b"\t\r\n" for b in head)
    what = "text, not an image" if looks_like_text else f"not an image (it starts with {head!r})"
    raise InputError(f"{{path}} is {what}", path=file,
                     hint="semsr reads TIFF (including OME-TIFF and BigTIFF), PNG and JPEG; "
                          "check that you picked the right file")


def special_file_kind(path: str | os.PathLike) -> str:
    """What an existing path that is neither a file nor a folder is, in words."""
    import stat

    try:
        mode = os.stat(path).st_mode
    except OSError:
        return "not a regular file"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def _check_file(file: Path) -> bytes:
    """The first bytes of ``file``, after checking it exists, is a file and is not empty."""
    if not file.exists():
        raise InputError("{path} does not exist", path=file,
                         hint="Check the path and the spelling of the file name")
    if file.is_dir():
        raise InputError("{path} is a folder, not an image file", path=file,
                         hint="Give the path of one TIFF, PNG or JPEG file")
    if not file.is_file():  # a FIFO would block the open below forever
        raise InputError("{path} is " + f"{special_file_kind(file)}, not an image file",
                         path=file, hint="Give the path of one TIFF, PNG or JPEG file")
    try:
        with open(file, "rb") as handle:
            head = handle.read(16)
    except PermissionError as exc:
        raise InputError("{path} cannot be read (permission denied)", path=file,
                         hint="Check the file's permissions or copy it somewhere you "
                              "can read it") from exc
    if not head:
        raise InputError("{path} is empty (0 bytes)", path=file,
                         hint=f"The file was not written completely. {_REEXPORT}")
    return head


def _stack_of(file: Path, opened: OpenedFile) -> Stack:
    """The :class:`Stack` reading ``opened``; its first slice read at once when asked."""
    stack = Stack(file, opened.shape, opened.dtype, opened.read_raw,
                  metadata=opened.metadata, pixel_size=opened.pixel_size, close=opened.close)
    if opened.check_first:
        try:
            stack.read_slice(0)
        except BaseException:
            stack.close()
            raise
    return stack
