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
"""

from __future__ import annotations

import logging
import math
import operator
import os
import struct
import threading
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from semsr_core.errors import InputError
from semsr_core.io.metadata import CANONICAL_UNIT, ImageMetadata, read_tiff_metadata
from semsr_core.io.tiff_pages import page_layout, series_miss_pages

NATIVE_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.float32))
"""Pixel types kept as they are; other numeric types are read as float32."""

# errors raised by tifffile / imagecodecs / imageio when bytes in a file are bad
_DECODE_ERRORS: tuple[type[BaseException], ...] = (
    ValueError, RuntimeError, OSError, EOFError, struct.error, zlib.error, IndexError,
)
# packages whose code reads the bytes of a file: whatever they raise on damaged tags
# (ZeroDivisionError, TypeError, KeyError, ...) is a damaged file, not a bug in semsr
_DECODER_PACKAGES = frozenset({"tifffile", "imagecodecs", "imageio", "PIL"})


def _is_decode_error(exc: BaseException) -> bool:
    """Whether ``exc`` comes from bad bytes in a file: a decoder error type, or any
    error raised inside a decoder package's code (not in semsr's own code)."""
    if isinstance(exc, _DECODE_ERRORS):
        return True
    if isinstance(exc, MemoryError) or not isinstance(exc, Exception):
        return False
    frame = exc.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    if frame is None:
        return False
    return not _DECODER_PACKAGES.isdisjoint(Path(frame.tb_frame.f_code.co_filename).parts)

_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_JPEG_MAGIC = b"\xff\xd8\xff"

# what tifffile logs (instead of raising) when a file's structure is cut short or damaged;
# other warnings (odd vendor tags, non-ASCII text) do not make the pixels unreadable
_CORRUPTION_SIGNS = (
    "invalid page offset", "invalid offset to", "invalid next page", "invalid value offset",
    "corrupted tag list", "circular reference", "corrupted file", "failed to read",
    "invalid tiffdata",
)
# logged when a file's shaped-series metadata does not match its pages; tifffile then
# groups the pages itself and every page is read (see semsr_core.io.tiff_pages)
_SERIES_FALLBACK = "invalid shaped series metadata"

_MINISWHITE, _PALETTE = 0, 3  # TIFF PhotometricInterpretation values

_REEXPORT = "Re-export or copy the file again from the acquisition software"


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
        return _open_tiff(file)
    if head.startswith(_PNG_MAGIC) or head.startswith(_JPEG_MAGIC):
        return _open_png_or_jpeg(file, "PNG" if head.startswith(_PNG_MAGIC) else "JPEG")
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


class _TiffLog(logging.Handler):
    """Collects what tifffile logs while a file is opened (it logs, not raises, on
    invalid page offsets and tag values, which is how truncated files show up)."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _open_tiff(file: Path) -> Stack:
    import tifffile

    log = _TiffLog()
    logger = logging.getLogger("tifffile")
    logger.addHandler(log)
    tif = None
    try:
        try:
            tif = tifffile.TiffFile(file)
            all_series = tif.series
            stack = _tiff_stack(file, tif, all_series, log)
        except InputError:
            raise
        except Exception as exc:
            if not _is_decode_error(exc):
                raise
            raise InputError(
                f"{{path}} is a damaged TIFF file and cannot be read ({exc})", path=file,
                hint=f"It may be truncated (an interrupted copy or download). {_REEXPORT}"
            ) from exc
    except BaseException:
        if tif is not None:
            tif.close()
        raise
    finally:
        logger.removeHandler(log)
    return stack


def _tiff_stack(file: Path, tif: Any, all_series: list, log: _TiffLog) -> Stack:
    if not all_series:
        raise InputError("{path} contains no image", path=file, hint=_REEXPORT)
    series = all_series[0]
    series = series.levels[0] if getattr(series, "levels", None) else series
    shape = tuple(int(n) for n in series.shape)
    axes = series.axes
    if not shape or math.prod(shape) == 0:
        raise InputError(f"{{path}} has no pixels (image size {shape_text(shape)})", path=file,
                         hint=f"The image is empty. {_REEXPORT}")

    samples_axis = axes.find("S")
    image_dims = [n for a, n in zip(axes, shape, strict=True) if a != "S"]
    if len(image_dims) < 2:
        raise InputError(
            f"{{path}} holds a 1-D array of {shape_text(shape)} values, not an image",
            path=file, hint="semsr reads 2-D images and 3-D stacks (Z, Y, X)")
    stack_dims = [n for n in image_dims[:-2] if n != 1]
    if len(stack_dims) > 1:
        raise InputError(
            f"{{path}} is a {len(shape)}-D array ({shape_text(shape)}, axes {axes}); semsr "
            "reads 2-D images and 3-D stacks (Z, Y, X)", path=file,
            hint="Save one stack per channel/time point, e.g. with Fiji's "
                 "Image > Stacks > Tools > Reduce Dimensionality")
    depth = math.prod(stack_dims)
    height, width = image_dims[-2:]
    samples = shape[samples_axis] if samples_axis >= 0 else 1

    source_dtype = np.dtype(series.dtype)
    keyframe = series.keyframe
    file_size = file.stat().st_size
    if series_miss_pages(tif, all_series):  # every page is a slice, none is dropped
        layout = page_layout(file, tif, file_size)
        depth, height, width, samples = layout.depth, layout.height, layout.width, \
            layout.samples
        source_dtype, keyframe, read_raw, notes = (layout.dtype, layout.keyframe,
                                                   layout.read, layout.notes)
    else:
        read_raw, notes = _tiff_reader(file, tif, series, depth, samples_axis >= 0,
                                       file_size)
    read_raw, source_dtype = _as_gray_values(file, keyframe, read_raw, source_dtype, notes)
    dtype = _target_dtype(file, source_dtype)

    bad = [m for m in log.messages if any(sign in m.lower() for sign in _CORRUPTION_SIGNS)
           and _SERIES_FALLBACK not in m.lower()]
    if bad:
        raise InputError(
            f"{{path}} is a damaged TIFF file (tifffile: {bad[0]})", path=file,
            hint=f"It may be truncated (an interrupted copy or download). {_REEXPORT}")

    info = read_tiff_metadata(tif)
    notes = info.notes + notes
    if dtype != source_dtype:
        notes.append(f"pixel type {source_dtype} was converted to {dtype}")
    metadata = _metadata_dict(
        file, info, notes=notes, source_dtype=source_dtype,
        file_format=_tiff_format(tif), axes=axes)
    stack = Stack(file, (depth, height, width), dtype, read_raw, metadata=metadata,
                  pixel_size=info.pixel_size, close=tif.close)
    if samples > 1:  # decide gray vs true colour now rather than at the first slice read
        stack.read_slice(0)
    return stack


def _tiff_reader(
    file: Path, tif: Any, series: Any, depth: int, has_samples: bool, file_size: int
) -> tuple[Callable[[int], np.ndarray], list[str]]:
    """A function reading slice k's pixels as stored, and notes about how it reads."""
    pages = list(series.pages)
    planar = has_samples and series.keyframe.axes.startswith("S")
    if len(pages) == depth and all(page is not None for page in pages):
        for index, page in enumerate(pages):
            ends = [o + n for o, n in zip(page.dataoffsets, page.databytecounts, strict=True)]
            if ends and max(ends) > file_size:
                raise InputError(
                    f"{{path}} is truncated: slice {index} ends at byte {max(ends)} but the "
                    f"file has only {file_size} bytes", path=file,
                    hint=f"The copy or export was interrupted. {_REEXPORT}")
        def read(index: int) -> np.ndarray:
            return pages[index].asarray()

        notes: list[str] = []
    elif series.dataoffset is not None:  # one uncompressed block (ImageJ > 4 GB, 'truncate')
        end = series.dataoffset + series.nbytes
        if end > file_size:
            raise InputError(
                f"{{path}} is truncated: its pixels end at byte {end} but the file has only "
                f"{file_size} bytes", path=file,
                hint=f"The copy or export was interrupted. {_REEXPORT}")
        page_shape = tuple(series.shape[-3:] if has_samples else series.shape[-2:])
        data = np.memmap(file, dtype=np.dtype(series.dtype).newbyteorder(tif.byteorder),
                         mode="r", offset=series.dataoffset, shape=(depth, *page_shape))
        def read(index: int) -> np.ndarray:
            return np.array(data[index])  # a copy, not a view of the mapped file

        notes = []
    else:
        whole = series.asarray().reshape(depth, *series.keyframe.shape)

        def read(index: int) -> np.ndarray:
            return whole[index]

        notes = ["the stack is not stored page by page and was read into memory at once"]
    if not planar:
        return read, notes

    def read_planar(index: int) -> np.ndarray:
        return np.moveaxis(read(index), 0, -1)  # (S, Y, X) → (Y, X, S)

    return read_planar, notes


def _as_gray_values(
    file: Path, keyframe: Any, read: Callable[[int], np.ndarray], dtype: np.dtype,
    notes: list[str],
) -> tuple[Callable[[int], np.ndarray], np.dtype]:
    """The reader and pixel type after undoing palettes and 'white is zero' storage."""
    photometric = int(keyframe.photometric)
    if photometric == _PALETTE:
        lut = _gray_palette(file, keyframe)
        notes.append("indexed (palette) gray image converted to its gray values")

        def read_palette(index: int) -> np.ndarray:
            return lut[read(index)]

        return read_palette, lut.dtype
    if photometric == _MINISWHITE and dtype.kind == "u":
        top = np.iinfo(dtype).max
        notes.append("'white is zero' (MINISWHITE) image inverted so that bright is high")

        def read_inverted(index: int) -> np.ndarray:
            return top - read(index)

        return read_inverted, dtype
    return read, dtype


def _gray_palette(file: Path, keyframe: Any) -> np.ndarray:
    """The gray values of an indexed (palette) image's colour map; colour maps are refused."""
    colormap = keyframe.colormap
    if colormap is None or len(colormap) < 3:
        raise InputError("{path} is an indexed image without a colour map", path=file,
                         hint=_REEXPORT)
    red, green, blue = (np.asarray(row) for row in colormap[:3])
    if not (np.array_equal(red, green) and np.array_equal(red, blue)):
        raise InputError(
            "{path} is a true-colour (palette) image; semsr models work on grayscale SEM "
            "images", path=file,
            hint="Convert it to grayscale (e.g. in Fiji: Image > Type > 8-bit)")
    if red.max() <= 65535 and np.all(red % 257 == 0):  # 8-bit gray stored as v * 257
        return (red // 257).astype(np.uint8)
    return red.astype(np.uint16)


def _tiff_format(tif: Any) -> str:
    kind = "OME-TIFF" if tif.is_ome else "ImageJ TIFF" if tif.is_imagej else "TIFF"
    return f"{kind} (BigTIFF)" if tif.is_bigtiff else kind


def _target_dtype(file: Path, dtype: np.dtype) -> np.dtype:
    if dtype in NATIVE_DTYPES:
        return dtype
    if dtype.kind in "iuf" and dtype.itemsize <= 8:
        return np.dtype(np.float32)
    what = "1-bit (black and white)" if dtype.kind == "b" else f"{dtype}"
    raise InputError(f"{{path}} has {what} pixels, which semsr cannot use", path=file,
                     hint="Save it as 8- or 16-bit grayscale or 32-bit float")


def shape_text(shape: tuple[int, ...]) -> str:
    """A shape as "5×64×80"."""
    return "×".join(str(n) for n in shape) if shape else "0"


def _metadata_dict(
    file: Path, info: ImageMetadata, *, notes: list[str], source_dtype: np.dtype,
    file_format: str, axes: str,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "source": str(file),
        "format": file_format,
        "vendor": info.vendor,
        "pixel_size_source": info.source,
        "original_dtype": str(source_dtype),
        "axes": axes,
        "original": info.original,
        "provenance": info.provenance,
        "notes": notes,
    }
    if info.pixel_size_y is not None and info.pixel_size_y != info.pixel_size:
        metadata["pixel_size_y"] = info.pixel_size_y
    return metadata


def _open_png_or_jpeg(file: Path, kind: str) -> Stack:
    import imageio.v3 as iio

    try:
        image = np.asarray(iio.imread(file))
    except Exception as exc:
        if not _is_decode_error(exc):
            raise
        raise InputError(f"{{path}} is a damaged {kind} file and cannot be read ({exc})",
                         path=file, hint=_REEXPORT) from exc
    if image.size == 0 or image.ndim < 2:
        raise InputError("{path} has no pixels", path=file, hint=_REEXPORT)
    if image.ndim > 3:
        raise InputError(f"{{path}} holds {image.ndim}-D data ({shape_text(image.shape)})",
                         path=file, hint="semsr reads single PNG/JPEG images")
    source_dtype = image.dtype
    dtype = _target_dtype(file, source_dtype)
    notes = [] if dtype == source_dtype else [
        f"pixel type {source_dtype} was converted to {dtype}"]
    metadata = _metadata_dict(
        file, ImageMetadata(), notes=notes, source_dtype=source_dtype,
        file_format=kind, axes="YX" if image.ndim == 2 else "YXS")
    stack = Stack(file, (1, image.shape[0], image.shape[1]), dtype, lambda _index: image,
                  metadata=metadata, pixel_size=None)
    stack.read_slice(0)  # refuse true colour now
    return stack
