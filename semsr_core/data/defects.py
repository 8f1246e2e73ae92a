"""Synthetic defects: random-shaped patches of foreign images pasted into LR/HR pairs.

[S0] §3.1.2 showed that a network trained on a few repetitive SEM images "repairs"
real defects into background. Pasting patches of unrelated images (the defect-source
set F) into the training pairs teaches it to carry anything that is not background
through super-resolution unchanged. This module holds the pieces:

* :class:`DefectSource` — the set F: scikit-image's bundled natural images by default
  (grayscale, [0, 1]), or any folder of images (for instance the output of the
  ``defect_stylizer`` recipe).
* :func:`random_shape_mask` — random polygon or smooth blob masks (not rectangles).
* :func:`cut_patch` — an HR patch from F, its LR version made with the lab's own
  degradation (:class:`LabDegradation`), and its mask.
* :func:`paste_patch`, :func:`add_defects` ([S0] Algorithm 1, "add defect") and
  :func:`paste_crops` ([S1] §3.2.1, ZSSR-style pasting of n1 rectangular crops).

Geometry is exact: a patch of ``h × w`` LR pixels at LR position (y, x) occupies the
``scale·h × scale·w`` HR box at (scale·y, scale·x). The mask is drawn at HR
resolution; the LR tile receives the patch with an opacity equal to the fraction of
each LR pixel the HR mask covers (the mask "area-reduced"), so LR and HR agree on
where the defect is, to the HR pixel.
"""

from __future__ import annotations

import functools
import math
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage as ndi

from semsr_core.errors import ConfigError, InputError
from semsr_core.io.intensity import check_pixels, to_unit_range

LrMaker = Callable[[np.ndarray, np.random.Generator], np.ndarray]
"""Makes the LR version of an HR array: ``make_lr(hr, rng) -> lr`` of exactly HR/scale."""

SHAPES = ("polygon", "blob", "random", "rect")

DEFAULT_SOURCE_IMAGES = (
    "astronaut", "camera", "coffee", "chelsea", "rocket", "motorcycle", "brick", "grass",
    "gravel", "coins", "moon", "hubble_deep_field", "immunohistochemistry", "page",
)
"""The scikit-image bundled images that make the default defect source."""

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")


# ----------------------------------------------------------------- the lab's degradation


@dataclass(frozen=True)
class LabDegradation:
    """The lab's degradation as a picklable callable ``(hr, rng) -> lr``.

    Wraps :func:`semsr_core.data.degrade.degrade` (``bicubic``, ``crappify``, ``area``,
    ``sem-noise``) so LR versions of defect patches look like the lab's LR data.
    """

    name: str = "bicubic"
    scale: int = 4
    params: dict[str, Any] = field(default_factory=dict)

    def __call__(self, hr: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        from semsr_core.data.degrade import degrade

        return degrade(self.name, hr, self.scale, rng=rng, **self.params)


# ----------------------------------------------------------------- image conversion


def to_gray_float(image: np.ndarray, *, where: str = "image") -> np.ndarray:
    """A 2-D float32 array in [0, 1] from a gray, RGB or RGBA image of any common dtype.

    Colour is converted to luminance (``skimage.color.rgb2gray``) — a defect source
    may be in colour even though the models are grayscale.
    """
    from skimage.color import rgb2gray, rgba2rgb

    arr = np.asarray(image)
    if arr.dtype == bool:
        arr = arr.astype(np.uint8) * np.uint8(255)
    if arr.ndim == 3 and arr.shape[-1] == 4:
        arr = rgba2rgb(arr)
    if arr.ndim == 3 and arr.shape[-1] == 3:
        arr = rgb2gray(arr)
    if arr.ndim == 3 and arr.shape[0] > 1 and arr.shape[-1] not in (3, 4):
        arr = arr[0]  # first page of a stack
    if arr.ndim != 2:
        raise InputError(f"{where} has shape {arr.shape}; a defect-source image must be "
                         "a 2-D gray or an RGB(A) image", hint="Remove it from the folder.")
    if arr.dtype.kind == "f" and arr.size and 0.0 <= arr.min() and arr.max() <= 1.0:
        unit = check_pixels(arr, where)  # already [0, 1] gray (rgb2gray's output, too)
    else:  # the one intensity policy, then [0, 1]: pasted content is not a measurement
        unit = np.clip(to_unit_range(arr, where), 0.0, 1.0)
    return np.ascontiguousarray(unit, dtype=np.float32)


def _load_skimage_image(name: str) -> np.ndarray:
    import skimage.data

    if name == "motorcycle":
        return skimage.data.stereo_motorcycle()[0]
    return getattr(skimage.data, name)()


@functools.lru_cache(maxsize=1)
def _default_images() -> tuple[np.ndarray, ...]:
    images = []
    for name in DEFAULT_SOURCE_IMAGES:
        img = to_gray_float(_load_skimage_image(name), where=f"skimage.data.{name}")
        img.setflags(write=False)
        images.append(img)
    return tuple(images)


# ----------------------------------------------------------------- the source set F


class DefectSource:
    """The set F of images that defect patches are cut from.

    Build it with :meth:`default` (scikit-image's bundled natural images),
    :meth:`from_folder` (any folder of PNG/JPEG/TIFF images, read on demand and kept in
    a small in-memory cache) or :meth:`from_images` (arrays). Images are grayscale
    float32 in [0, 1]. Nothing is written to disk.
    """

    def __init__(self, images: Sequence[np.ndarray] = (), paths: Sequence[Path] = (),
                 *, name: str = "images", cache_size: int = 16):
        if bool(images) == bool(paths):
            raise ValueError("give either images or paths")
        self.name = name
        self._images = [to_gray_float(im, where=f"{name}[{i}]") for i, im in enumerate(images)]
        self._paths = [Path(p) for p in paths]
        self._cache_size = cache_size
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()

    @classmethod
    def default(cls) -> DefectSource:
        """F made of scikit-image's bundled natural images (:data:`DEFAULT_SOURCE_IMAGES`).

        The images are loaded once per process and shared (read-only) by every default
        source."""
        return cls(_default_images(), name="scikit-image natural images")

    @classmethod
    def from_images(cls, images: Sequence[np.ndarray], name: str = "images") -> DefectSource:
        """F made of the given arrays (gray, RGB or RGBA; any common dtype)."""
        if len(images) == 0:
            raise InputError("the defect source has no images",
                             hint="Give at least one image.")
        return cls(list(images), name=name)

    @classmethod
    def from_folder(cls, path: str | Path, cache_size: int = 16) -> DefectSource:
        """F made of every PNG/JPEG/TIFF/BMP image in ``path`` (not recursive).

        Images are read when first used; at most ``cache_size`` are kept in memory, so
        a large folder (e.g. DIV2K) costs little memory.
        """
        folder = Path(path)
        if not folder.is_dir():
            raise InputError("defect-source folder not found", path=folder,
                             hint="Give an existing folder of PNG, JPEG or TIFF images.")
        files = sorted(p for p in folder.iterdir()
                       if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise InputError("the defect-source folder holds no PNG, JPEG, TIFF or BMP "
                             "images", path=folder,
                             hint="Put natural images there, or use the default source.")
        return cls(paths=files, name=str(folder), cache_size=cache_size)

    def __len__(self) -> int:
        return len(self._images) or len(self._paths)

    def __repr__(self) -> str:
        return f"DefectSource({self.name!r}, {len(self)} images)"

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_cache"] = OrderedDict()  # workers start with an empty cache
        return state

    def image(self, index: int) -> np.ndarray:
        """Image ``index`` of F, grayscale float32 in [0, 1] (read-only view)."""
        if self._images:
            return self._images[index]
        if index in self._cache:
            self._cache.move_to_end(index)
            return self._cache[index]
        path = self._paths[index]
        try:
            from skimage.io import imread

            raw = imread(str(path))
        except Exception as exc:  # any decoder failure is the file's fault
            raise InputError(f"cannot read defect-source image ({exc})", path=path,
                             hint="Remove or replace the file.") from exc
        img = to_gray_float(raw, where=str(path))
        if min(img.shape) < 16:
            raise InputError(f"defect-source image is only {img.shape[0]}×{img.shape[1]} "
                             "pixels", path=path,
                             hint="Use images of at least 16×16 pixels.")
        img.setflags(write=False)
        self._cache[index] = img
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return img

    def crop(self, rng: np.random.Generator, height: int, width: int,
             index: int | None = None) -> np.ndarray:
        """A ``height × width`` crop at a random place of image ``index`` (random if
        ``None``); mirrored at the edges where the image is smaller than the crop."""
        if index is None:
            index = int(rng.integers(len(self)))
        img = self.image(index)
        h, w = img.shape
        top = int(rng.integers(0, max(h - height, 0) + 1))
        left = int(rng.integers(0, max(w - width, 0) + 1))
        out = img[top:top + height, left:left + width]
        if out.shape != (height, width):
            out = np.pad(out, ((0, height - out.shape[0]), (0, width - out.shape[1])),
                         mode="symmetric")
        return np.array(out, dtype=np.float32)


# ----------------------------------------------------------------- random shapes


def polygon_mask(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A random star-shaped polygon (3–9 vertices) filling much of a ``height × width``
    box (``skimage.draw.polygon``)."""
    from skimage.draw import polygon

    n = int(rng.integers(3, 10))
    angles = np.sort(rng.uniform(0, 2 * math.pi, n))
    radii = rng.uniform(0.45, 1.0, n)
    cy, cx = (height - 1) / 2.0, (width - 1) / 2.0
    rows = cy + radii * (height / 2.0) * np.sin(angles)
    cols = cx + radii * (width / 2.0) * np.cos(angles)
    mask = np.zeros((height, width), dtype=bool)
    rr, cc = polygon(rows, cols, shape=mask.shape)
    mask[rr, cc] = True
    if not mask.any():  # degenerate (collinear) draw: fall back to the centre pixel
        mask[int(cy), int(cx)] = True
    return mask


def blob_mask(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A smooth random blob: smoothed noise favouring the box centre, thresholded so
    30–65 % of the box is covered; the largest connected piece is kept."""
    noise = ndi.gaussian_filter(rng.standard_normal((height, width)),
                                sigma=max(1.0, min(height, width) / 6.0), mode="wrap")
    noise /= noise.std() + 1e-12
    yy, xx = np.mgrid[0:height, 0:width]
    r = np.hypot((yy - (height - 1) / 2) / (height / 2), (xx - (width - 1) / 2) / (width / 2))
    field = noise + 3.0 * (1.0 - r)
    coverage = rng.uniform(0.3, 0.65)
    mask = field > np.quantile(field, 1.0 - coverage)
    labels, count = ndi.label(mask)
    if count > 1:
        sizes = np.bincount(labels.ravel())[1:]
        mask = labels == (1 + int(np.argmax(sizes)))
    return mask


def random_shape_mask(rng: np.random.Generator, height: int, width: int,
                      shape: str = "random") -> np.ndarray:
    """A boolean mask of a random shape in a ``height × width`` box.

    ``shape``: ``"polygon"``, ``"blob"``, ``"random"`` (either, 50/50) or ``"rect"``
    (the whole box, as the crops of [S1]).
    """
    if shape not in SHAPES:
        raise ConfigError(f"defect shape {shape!r} is not one of {', '.join(SHAPES)}",
                          hint="Set augmentation.shape to one of them.")
    if shape == "random":
        shape = "polygon" if rng.random() < 0.5 else "blob"
    if shape == "polygon":
        return polygon_mask(rng, height, width)
    if shape == "blob":
        return blob_mask(rng, height, width)
    return np.ones((height, width), dtype=bool)


def area_reduce(mask: np.ndarray, scale: int) -> np.ndarray:
    """Fraction of each ``scale × scale`` block of ``mask`` that is set (float32)."""
    h, w = mask.shape
    if h % scale or w % scale:
        raise ValueError(f"mask {h}×{w} is not a multiple of scale {scale}")
    return mask.reshape(h // scale, scale, w // scale, scale).mean(axis=(1, 3),
                                                                    dtype=np.float32)


# ----------------------------------------------------------------- patches


@dataclass(frozen=True)
class DefectPatch:
    """A defect ready to paste: HR content and mask (``scale·h × scale·w``), LR content
    and LR opacity (``h × w``; the HR mask area-reduced)."""

    hr: np.ndarray
    lr: np.ndarray
    mask: np.ndarray
    alpha: np.ndarray

    @property
    def scale(self) -> int:
        return self.hr.shape[0] // self.lr.shape[0]


PATCH_MARGIN = 4
"""LR pixels of surroundings degraded with a patch and then cut away, so the patch's
LR version has no border effects from the degradation's blur."""


def cut_patch(source: DefectSource, rng: np.random.Generator, height: int, width: int,
              scale: int, make_lr: LrMaker | None, *, shape: str = "random",
              image_index: int | None = None) -> DefectPatch:
    """Cut a random-shaped ``height × width`` (LR pixels) patch from F.

    The HR crop is ``scale`` times larger; its LR version is ``make_lr`` applied to the
    crop plus :data:`PATCH_MARGIN` LR pixels of surroundings. ``make_lr`` may be
    ``None`` only at ``scale == 1`` (the same content goes into both images, as in
    [S1] where the input is already upscaled).
    """
    m = PATCH_MARGIN
    box = source.crop(rng, scale * (height + 2 * m), scale * (width + 2 * m),
                      index=image_index)
    hr = box[scale * m:scale * (m + height), scale * m:scale * (m + width)]
    if make_lr is None:
        if scale != 1:
            raise ConfigError("no degradation given for LR defect patches at scale "
                              f"{scale}", hint="Pass the lab's degradation (e.g. "
                              "LabDegradation('bicubic', scale)).")
        lr = hr
    else:
        lr_box = np.asarray(make_lr(box, rng), dtype=np.float32)
        expected = (height + 2 * m, width + 2 * m)
        if lr_box.shape != expected:
            raise ConfigError(f"the degradation returned {lr_box.shape} for an HR crop of "
                              f"{box.shape}; expected exactly {expected} at scale {scale}",
                              hint="Use a degradation whose output is HR size / scale.")
        lr = lr_box[m:m + height, m:m + width]
    mask = random_shape_mask(rng, scale * height, scale * width, shape)
    return DefectPatch(hr=np.ascontiguousarray(hr), lr=np.ascontiguousarray(lr), mask=mask,
                       alpha=area_reduce(mask, scale))


def paste_patch(lr: np.ndarray, hr: np.ndarray, hr_mask: np.ndarray, patch: DefectPatch,
                top: int, left: int) -> None:
    """Paste ``patch`` in place: LR at (top, left), HR at (scale·top, scale·left).

    HR pixels inside the patch mask take the patch's HR value; each LR pixel is blended
    with the patch's LR value by the fraction of it the HR mask covers. ``hr_mask`` (HR
    size) is set where the patch went.
    """
    h, w = patch.lr.shape
    s = patch.scale
    lr_view = lr[top:top + h, left:left + w]
    lr_view += patch.alpha * (patch.lr - lr_view)
    hr_view = hr[s * top:s * (top + h), s * left:s * (left + w)]
    np.copyto(hr_view, patch.hr, where=patch.mask)
    hr_mask[s * top:s * (top + h), s * left:s * (left + w)] |= patch.mask


def add_defects(lr: np.ndarray, hr: np.ndarray, hr_mask: np.ndarray, source: DefectSource,
                rng: np.random.Generator, scale: int, make_lr: LrMaker | None, *,
                count: int = 1, size_range: tuple[int, int] = (8, 24),
                shape: str = "random", region: tuple[int, int, int, int] | None = None
                ) -> None:
    """Paste ``count`` random-shaped patches from random images of F, in place.

    Each patch is ``h × w`` LR pixels with h, w drawn from ``size_range`` (inclusive,
    clamped to the region) and lies wholly inside ``region`` = (top, left, height,
    width) in LR pixels (the whole LR image by default). This is "add defect" of [S0]
    Algorithm 1.
    """
    top0, left0, reg_h, reg_w = region if region is not None else (0, 0, *lr.shape)
    lo, hi = size_range
    if not 1 <= lo <= hi:
        raise ConfigError(f"defect size range {size_range} is invalid",
                          hint="Give two LR sizes with 1 <= min <= max.")
    for _ in range(count):
        h = int(rng.integers(min(lo, reg_h), min(hi, reg_h) + 1))
        w = int(rng.integers(min(lo, reg_w), min(hi, reg_w) + 1))
        patch = cut_patch(source, rng, h, w, scale, make_lr, shape=shape)
        top = top0 + int(rng.integers(0, reg_h - h + 1))
        left = left0 + int(rng.integers(0, reg_w - w + 1))
        paste_patch(lr, hr, hr_mask, patch, top, left)


def paste_crops(lr: np.ndarray, hr: np.ndarray, hr_mask: np.ndarray, source: DefectSource,
                rng: np.random.Generator, scale: int, make_lr: LrMaker | None, *,
                n1: int = 10, sizes: Sequence[int] = (4, 8, 12, 16, 24)) -> None:
    """ZSSR-style pasting ([S1] §3.2.1), in place: ``n1`` rectangular crops from one
    random image of F, each square with a side (LR pixels) drawn from ``sizes``, at
    random places of the whole image."""
    image_index = int(rng.integers(len(source)))
    for _ in range(n1):
        side = min(int(rng.choice(np.asarray(sizes))), *lr.shape)
        patch = cut_patch(source, rng, side, side, scale, make_lr, shape="rect",
                          image_index=image_index)
        top = int(rng.integers(0, lr.shape[0] - side + 1))
        left = int(rng.integers(0, lr.shape[1] - side + 1))
        paste_patch(lr, hr, hr_mask, patch, top, left)
