"""Writing one 2-D image as PNG or JPEG, when the output's name asks for it.

:func:`semsr_core.io.write_stack` writes OME-TIFF, unless the file name ends in
``.png``, ``.jpg`` or ``.jpeg``: then the image is written in that format here, so a
file is what its name says. PNG holds 8- and 16-bit gray images, JPEG 8-bit ones (and
is lossy); neither holds a stack or float values, and a result that does not fit is
refused with a message that says which name to use instead (``.ome.tif`` holds
everything). The provenance JSON goes into a PNG text chunk or the JPEG comment, under
:data:`PROVENANCE_KEY`, with the pixel size in nanometres. Writes are atomic, as for
TIFF.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from semsr_core.errors import OutputError

PICTURE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}
"""File name suffixes written as pictures, and their format."""

PICTURE_DTYPES = {"PNG": (np.dtype(np.uint8), np.dtype(np.uint16)),
                  "JPEG": (np.dtype(np.uint8),)}
"""The pixel types each format holds."""

OTHER_IMAGE_SUFFIXES = (".bmp", ".gif", ".webp", ".jp2", ".j2k", ".jxl", ".avif", ".heic",
                        ".ico", ".pgm", ".ppm", ".pnm", ".exr", ".hdr", ".svg", ".pdf")
"""Names of image formats semsr does not write: refused rather than given TIFF bytes."""

PROVENANCE_KEY = "semsr"
_INSTEAD = "Name the output .ome.tif, which holds stacks, 16-bit and float images"


def picture_format(path: str | os.PathLike) -> str | None:
    """"PNG" or "JPEG" when ``path``'s name asks for that format, else None (TIFF)."""
    return PICTURE_FORMATS.get(Path(path).suffix.lower())


def check_format_name(path: str | os.PathLike) -> None:
    """Refuse a name of an image format semsr does not write (it would get TIFF bytes)."""
    suffix = Path(path).suffix.lower()
    if suffix in OTHER_IMAGE_SUFFIXES:
        raise OutputError(f"semsr cannot write {suffix} files like {{path}}", path=path,
                          hint="Name the output .ome.tif (or .tif), .png or .jpg")


def check_picture(path: str | os.PathLike, slices: int, dtype: Any = None) -> None:
    """Refuse, before any work, a result that the format of ``path`` cannot hold
    (``slices`` images of pixel type ``dtype``; None: not known yet)."""
    fmt = picture_format(path)
    if fmt is None:
        return
    if slices != 1:
        raise OutputError(
            f"{{path}} is a {fmt} file name, but the result is a stack of {slices} slices "
            f"and {fmt} holds one image", path=path, hint=_INSTEAD)
    if dtype is None:
        return
    kind = np.dtype(dtype)
    if kind not in PICTURE_DTYPES[fmt]:
        holds = " and ".join(f"{np.iinfo(d).bits}-bit" for d in PICTURE_DTYPES[fmt])
        raise OutputError(
            f"{{path}} is a {fmt} file name, but the result is {kind} and {fmt} holds "
            f"{holds} gray images", path=path,
            hint=_INSTEAD + (", or PNG for 16-bit" if fmt == "JPEG" and kind == np.uint16
                             else ""))


def write_picture(destination: Path, slices: Iterator[Any], out_dtype: np.dtype | None, *,
                  pixel_size_nm: float | None,
                  provenance: Callable[[], str | None]) -> Path:
    """Write the one 2-D image ``slices`` yields to ``destination`` (PNG or JPEG)."""
    from semsr_core.io.atomic import _disk_errors, atomic_destination
    from semsr_core.io.tiff_writer import _converted, _output_dtype

    fmt = picture_format(destination)
    first = next(slices, None)
    if first is None:
        raise OutputError("nothing to write to {path}: no image was given", path=destination)
    if next(slices, None) is not None:
        raise OutputError(f"{{path}} is a {fmt} file name, but the result is a stack and "
                          f"{fmt} holds one image", path=destination, hint=_INSTEAD)
    image = np.asarray(first)
    if image.ndim != 2 or 0 in image.shape:
        raise OutputError(f"cannot write an image of shape {image.shape} to {{path}}",
                          path=destination, hint="Give one non-empty 2-D image")
    dtype = out_dtype or _output_dtype(image, destination)
    check_picture(destination, 1, dtype)
    pixels = np.ascontiguousarray(_converted(image, dtype, 0, destination))
    provenance = provenance()  # after the image was made: what it added is kept
    text = json.dumps({"provenance": json.loads(provenance) if provenance else None,
                       "pixel_size_nm": pixel_size_nm}, ensure_ascii=False)
    with atomic_destination(destination) as temporary, _disk_errors(destination):
        _save(temporary, pixels, fmt, text)
    return destination


def png_bytes(image: np.ndarray, text: dict[str, str] | None = None) -> bytes:
    """``image`` (2-D gray or H×W×3 RGB, uint8 or uint16 gray) encoded as PNG, with
    ``text`` as international text chunks: the one PNG encoder of semsr (results,
    previews, training samples, alignment overlays)."""
    import io

    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    for key, value in (text or {}).items():
        info.add_itxt(key, value)
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


def _save(temporary: Path, pixels: np.ndarray, fmt: str, text: str) -> None:
    from PIL import Image

    if fmt == "PNG":
        temporary.write_bytes(png_bytes(pixels, {PROVENANCE_KEY: text}))
    else:
        picture = Image.fromarray(pixels)
        picture.save(temporary, format="JPEG", quality=95, comment=text.encode("utf-8"))
    with open(temporary, "rb+") as written:
        os.fsync(written.fileno())
