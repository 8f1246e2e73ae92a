"""Opening the files a :class:`~semsr_core.io.stack.Stack` reads: TIFF, PNG and JPEG.

:func:`open_tiff` and :func:`open_png_or_jpeg` look at a file once and return an
:class:`OpenedFile`: the stack's shape, its pixel type, a function reading one slice's
pixels as stored, the metadata (vendor, pixel size, notes) and how to close the file.
They refuse what semsr cannot use — damaged or truncated files, no pixels, more than
three dimensions, 1-bit or true-colour palettes — with an
:class:`~semsr_core.errors.InputError` naming the file; turning slices into gray
images of the stack's pixel type is the Stack's (:mod:`semsr_core.io.stack`).
:func:`_is_decode_error` tells a damaged file from a bug in semsr.
"""

from __future__ import annotations

import logging
import math
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from semsr_core.errors import InputError
from semsr_core.io.metadata import ImageMetadata, read_tiff_metadata
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


@dataclass
class OpenedFile:
    """A file looked at once: what a :class:`~semsr_core.io.stack.Stack` of it needs.
    ``check_first``: read slice 0 at once (to refuse true colour when the file is opened,
    not at the first slice read)."""

    shape: tuple[int, int, int]
    dtype: np.dtype
    read_raw: Callable[[int], np.ndarray]
    metadata: dict[str, Any]
    pixel_size: float | None = None
    close: Callable[[], None] | None = None
    check_first: bool = False

class _TiffLog(logging.Handler):
    """Collects what tifffile logs while a file is opened (it logs, not raises, on
    invalid page offsets and tag values, which is how truncated files show up)."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def open_tiff(file: Path) -> OpenedFile:
    """Look at a TIFF file: its first series as a (Z, Y, X) stack of gray slices."""
    import tifffile

    log = _TiffLog()
    logger = logging.getLogger("tifffile")
    logger.addHandler(log)
    tif = None
    try:
        try:
            tif = tifffile.TiffFile(file)
            all_series = tif.series
            opened = _tiff_stack(file, tif, all_series, log)
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
    return opened


def _tiff_stack(file: Path, tif: Any, all_series: list, log: _TiffLog) -> OpenedFile:
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
    # samples > 1: gray vs true colour is decided when the file is opened
    return OpenedFile((depth, height, width), dtype, read_raw, metadata,
                      pixel_size=info.pixel_size, close=tif.close, check_first=samples > 1)


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



def open_png_or_jpeg(file: Path, kind: str) -> OpenedFile:
    """Look at a PNG or JPEG file (``kind``): one image, a stack of one slice."""
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
    return OpenedFile((1, image.shape[0], image.shape[1]), dtype, lambda _index: image,
                      metadata, check_first=True)  # refuse true colour now
