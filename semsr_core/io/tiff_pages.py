"""Multi-page TIFFs read page by page, so that every page of the file is a slice.

tifffile groups the pages of a file into *series*: a stack written in one call is one
series, but pages written by separate ``TiffWriter.write()`` calls are one series each,
and a page of another size or pixel type starts a series of its own. Reading only the
first series would drop pages silently and shift the slice numbers, so when a file's
series do not cover all of its pages, :func:`page_layout` makes every page of the main
page chain a slice, in file order. A page that does not fit the stack (another size,
pixel type or number of samples) is an :class:`~semsr_core.errors.InputError` naming
the file and the page index; it is never dropped. Reduced-resolution pages (previews
and thumbnails, TIFF ``NewSubfileType`` bit 0) are not image data and are skipped with
a note. Pages are decoded only when their slice is read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from semsr_core.errors import InputError

_REEXPORT = "Re-export or copy the file again from the acquisition software"
_SPLIT = ("Save pages of another size or pixel type as separate files (e.g. Fiji: "
          "Image > Stacks > Stack to Images), or remove the page")


@dataclass
class PageLayout:
    """How to read a file page by page: the slices' size and a reader of slice k."""

    depth: int
    height: int
    width: int
    samples: int
    dtype: np.dtype
    keyframe: Any
    read: Callable[[int], np.ndarray]
    notes: list[str] = field(default_factory=list)


def series_miss_pages(tif: Any, all_series: list) -> bool:
    """Whether reading ``all_series[0]`` alone would leave pages of the file unread."""
    if len(all_series) > 1:
        return True
    series = all_series[0]
    series_pages = len(series.pages)
    if series_pages == 0:
        return False
    total = len(tif.pages)
    if total <= series_pages:
        return False
    # the extra pages may all be previews (reduced-resolution pages), which are no slices
    return _data_page_count(tif) > series_pages


def _data_page_count(tif: Any) -> int:
    return sum(1 for index in range(len(tif.pages)) if not _is_reduced(tif.pages.get(index)))


def _is_reduced(page: Any) -> bool:
    return bool(int(getattr(page, "subfiletype", 0) or 0) & 1)


def page_layout(file: Path, tif: Any, file_size: int) -> PageLayout:
    """Every full-resolution page of ``tif`` as one slice, checked against the first."""
    pages = []
    skipped = []
    for index in range(len(tif.pages)):
        page = tif.pages.get(index)
        if _is_reduced(page):
            skipped.append(index)
            continue
        pages.append((index, page))
    if not pages:
        raise InputError("{path} holds only reduced-resolution preview pages, no image",
                         path=file, hint=_REEXPORT)
    first_index, first = pages[0]
    height, width, samples, planar = _page_geometry(file, first_index, first)
    dtype = np.dtype(first.dtype)
    for index, page in pages:
        _check_fits(file, index, page, first_index, (height, width, samples, planar), dtype)
        _check_not_truncated(file, index, page, file_size)
    page_list = [page for _index, page in pages]

    def read(slice_index: int) -> np.ndarray:
        image = page_list[slice_index].asarray()
        if planar:
            image = np.moveaxis(image, 0, -1)  # (S, Y, X) → (Y, X, S)
        return image

    notes = []
    if skipped:
        notes.append(f"{len(skipped)} reduced-resolution preview page(s) (page "
                     f"{', '.join(str(i) for i in skipped[:5])}) are not slices")
    return PageLayout(len(page_list), height, width, samples, dtype, first, read, notes)


def _page_geometry(file: Path, index: int, page: Any) -> tuple[int, int, int, bool]:
    """(height, width, samples, planar) of one page, or an error for pages that are not
    2-D images (tiled volumes)."""
    axes = str(page.axes)
    shape = tuple(int(n) for n in page.shape)
    if set(axes) - set("YXS") or "Y" not in axes or "X" not in axes:
        raise InputError(
            f"page {index} of {{path}} has axes {axes} (shape {shape}); semsr reads pages "
            "that are 2-D images", path=file, hint=_REEXPORT)
    sizes = dict(zip(axes, shape, strict=True))
    if 0 in shape:
        raise InputError(f"page {index} of {{path}} has no pixels", path=file, hint=_REEXPORT)
    return sizes["Y"], sizes["X"], sizes.get("S", 1), axes.startswith("S")


def _check_fits(file: Path, index: int, page: Any, first_index: int,
                geometry: tuple[int, int, int, bool], dtype: np.dtype) -> None:
    height, width, samples, planar = _page_geometry(file, index, page)
    page_dtype = np.dtype(page.dtype)
    if (height, width, samples, planar) == geometry and page_dtype == dtype:
        return
    def describe(h: int, w: int, s: int, t: np.dtype) -> str:
        channels = "" if s == 1 else f" with {s} samples per pixel"
        return f"{h}×{w} {t}{channels}"

    raise InputError(
        f"page {index} of {{path}} is {describe(height, width, samples, page_dtype)}, but "
        f"page {first_index} is {describe(geometry[0], geometry[1], geometry[2], dtype)}; "
        "every page of a stack must have the same size and pixel type", path=file,
        hint=_SPLIT)


def _check_not_truncated(file: Path, index: int, page: Any, file_size: int) -> None:
    ends = [o + n for o, n in zip(page.dataoffsets, page.databytecounts, strict=True)]
    if ends and max(ends) > file_size:
        raise InputError(
            f"{{path}} is truncated: page {index} ends at byte {max(ends)} but the file has "
            f"only {file_size} bytes", path=file,
            hint=f"The copy or export was interrupted. {_REEXPORT}")
